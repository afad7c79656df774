//! `asb --config FILE.yml`: flag values from a YAML file, as AgenticSwarmBench (the
//! original asb) reads its `--config`, so its users' files keep working.
//!
//! Precedence, as there: the command line, then the environment (`ASB_ENDPOINT`, …), then
//! the file, then the defaults. It works on the command line itself: the file's values
//! become flags of the chosen subcommand where the user set neither the flag nor its
//! variable, and clap then parses and checks them like typed ones. So a value in the file
//! is refused with the same message as on the command line, and nothing downstream knows
//! where a value came from.
//!
//! Keys: those of AgenticSwarmBench's `BenchmarkConfig`. The ones with a flag here are
//! applied to every subcommand that has that flag; the ones of its `speed`, `eval` and
//! `agent` commands (which this tool does not have) are accepted and named in a note; an
//! unknown key is an error listing the valid ones (AgenticSwarmBench 3 raised a
//! TypeError). Differences: `api_key_header` and `timeout` from the file do apply here
//! (there, the flags' own defaults silently won), and so does `model_context_length`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The most bytes read of a config file: it holds a dozen settings.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The file's keys: AgenticSwarmBench's `BenchmarkConfig` fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    endpoint: Option<String>,
    model: Option<String>,
    api_key: Option<String>,
    api_key_header: Option<String>,
    upstream_api: Option<String>,
    output: Option<String>,
    timeout: Option<f64>,
    dry_run: Option<bool>,
    extra_body: Option<serde_json::Map<String, serde_json::Value>>,
    model_context_length: Option<u64>,
    verbose: Option<bool>,
    proxy_port: Option<u16>,
    // AgenticSwarmBench's speed, eval and agent settings, and replay knobs its replay read
    // only from flags: accepted, not used.
    task_range: Option<IgnoredAny>,
    tier: Option<IgnoredAny>,
    tags: Option<IgnoredAny>,
    context_profile: Option<IgnoredAny>,
    context_tokens: Option<IgnoredAny>,
    random_context: Option<IgnoredAny>,
    users: Option<IgnoredAny>,
    max_users: Option<IgnoredAny>,
    suite: Option<IgnoredAny>,
    max_output_tokens: Option<IgnoredAny>,
    repetitions: Option<IgnoredAny>,
    cache_mode: Option<IgnoredAny>,
    output_format: Option<IgnoredAny>,
    agent: Option<IgnoredAny>,
    validate: Option<IgnoredAny>,
}

/// A value the file gives a flag.
#[derive(Debug, Clone, PartialEq)]
enum FlagValue {
    Text(String),
    /// A switch such as `--dry-run`: given when true.
    Switch(bool),
}

impl ConfigFile {
    fn read(path: &Path) -> Result<ConfigFile> {
        let file = std::fs::File::open(path).with_context(|| format!("--config {}: cannot open", path.display()))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1), &mut text)
            .with_context(|| format!("--config {}: cannot read it as UTF-8 text", path.display()))?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            bail!(
                "--config {}: larger than {} KiB; a config file holds a few settings",
                path.display(),
                MAX_CONFIG_BYTES >> 10
            );
        }
        ConfigFile::parse(&text).map_err(|e| anyhow!("--config {}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<ConfigFile, String> {
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    /// (clap argument id, flag, value) for each setting with a flag here.
    fn flags(&self) -> Result<Vec<(&'static str, &'static str, FlagValue)>> {
        let text = |v: &Option<String>| v.clone().map(FlagValue::Text);
        let mut out = Vec::new();
        let mut push = |id, flag, value: Option<FlagValue>| {
            if let Some(v) = value {
                out.push((id, flag, v));
            }
        };
        push("endpoint", "--endpoint", text(&self.endpoint));
        push("model", "--model", text(&self.model));
        push("api_key", "--api-key", text(&self.api_key));
        push("api_key_header", "--api-key-header", text(&self.api_key_header));
        push("upstream_api", "--upstream-api", text(&self.upstream_api));
        push("output", "--output", text(&self.output));
        push("timeout", "--timeout", self.timeout.map(|t| FlagValue::Text(t.to_string())));
        push("dry_run", "--dry-run", self.dry_run.map(FlagValue::Switch));
        let extra = match &self.extra_body {
            Some(map) => Some(FlagValue::Text(serde_json::to_string(map)?)),
            None => None,
        };
        push("extra_body", "--extra-body", extra);
        push(
            "model_context_length",
            "--model-context-length",
            self.model_context_length.map(|n| FlagValue::Text(n.to_string())),
        );
        push("verbose", "--verbose", self.verbose.map(FlagValue::Switch));
        push("port", "--port", self.proxy_port.map(|p| FlagValue::Text(p.to_string())));
        Ok(out)
    }

    /// The keys given that no command here uses.
    fn unused_keys(&self) -> Vec<&'static str> {
        [
            ("task_range", self.task_range.is_some()),
            ("tier", self.tier.is_some()),
            ("tags", self.tags.is_some()),
            ("context_profile", self.context_profile.is_some()),
            ("context_tokens", self.context_tokens.is_some()),
            ("random_context", self.random_context.is_some()),
            ("users", self.users.is_some()),
            ("max_users", self.max_users.is_some()),
            ("suite", self.suite.is_some()),
            ("max_output_tokens", self.max_output_tokens.is_some()),
            ("repetitions", self.repetitions.is_some()),
            ("cache_mode", self.cache_mode.is_some()),
            ("output_format", self.output_format.is_some()),
            ("agent", self.agent.is_some()),
            ("validate", self.validate.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }
}

/// Parses the command line with `--config`'s file applied (see the module doc). Help,
/// version and usage errors exit as clap's do; a file that cannot be used is an error.
pub(crate) fn matches_with_config(command: Command, argv: Vec<OsString>) -> Result<ArgMatches> {
    let parse = |argv: &[OsString]| command.clone().try_get_matches_from(argv).unwrap_or_else(|e| e.exit());
    let named = argv.iter().any(|a| a == "--config" || a.to_string_lossy().starts_with("--config="));
    if !named {
        return Ok(parse(&argv));
    }
    // A first reading that tolerates what the file is to supply (`asb record`'s required
    // -e and -m); the second, after the file, checks everything.
    let matches = command.clone().ignore_errors(true).try_get_matches_from(&argv).unwrap_or_else(|e| e.exit());
    let Some(path) = config_path(&matches) else {
        return Ok(parse(&argv));
    };
    let file = ConfigFile::read(&path)?;
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(parse(&argv));
    };
    let subcommand = command.find_subcommand(name).ok_or_else(|| anyhow!("no subcommand {name}"))?;
    let mut added: Vec<OsString> = Vec::new();
    let mut not_here = Vec::new();
    for (id, flag, value) in file.flags()? {
        if !subcommand.get_arguments().any(|a| a.get_id() == id) {
            not_here.push(flag);
            continue;
        }
        let given = match sub.value_source(id) {
            Some(ValueSource::CommandLine) => true,
            // An empty variable (`ASB_ENDPOINT=`) sets nothing.
            Some(ValueSource::EnvVariable) => sub.get_raw(id).is_some_and(|mut values| values.any(|v| !v.is_empty())),
            _ => false,
        };
        if given {
            continue;
        }
        match value {
            FlagValue::Text(v) => added.push(format!("{flag}={v}").into()),
            FlagValue::Switch(true) => added.push(flag.into()),
            FlagValue::Switch(false) => {}
        }
    }
    let unused = file.unused_keys();
    if !unused.is_empty() || !not_here.is_empty() {
        let mut why = Vec::new();
        if !unused.is_empty() {
            why.push(format!("{} (AgenticSwarmBench speed/eval/agent settings)", unused.join(", ")));
        }
        if !not_here.is_empty() {
            why.push(format!("the values of {} (no such flag on asb {name})", not_here.join(", ")));
        }
        crate::errors::note("asb", format_args!("--config {}: not used: {}", path.display(), why.join("; ")));
    }
    if added.is_empty() {
        return Ok(parse(&argv));
    }
    // After the subcommand's own arguments, before a `--` that ends them.
    let mut argv = argv;
    let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    argv.splice(at..at, added);
    Ok(parse(&argv))
}

/// `--config`, given before or after the subcommand.
fn config_path(matches: &ArgMatches) -> Option<PathBuf> {
    matches
        .get_one::<PathBuf>("config")
        .or_else(|| matches.subcommand().and_then(|(_, sub)| sub.get_one::<PathBuf>("config")))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_agenticswarmbench_keys_and_refuses_unknown_ones() {
        let file = ConfigFile::parse(
            "endpoint: http://gpu:8000\nmodel: qwen\ntimeout: 60\ndry_run: true\nextra_body:\n  top_k: 20\ntier: hard\nusers: 4\n",
        )
        .unwrap();
        let flags = file.flags().unwrap();
        assert!(flags.contains(&("endpoint", "--endpoint", FlagValue::Text("http://gpu:8000".into()))));
        assert!(flags.contains(&("timeout", "--timeout", FlagValue::Text("60".into()))));
        assert!(flags.contains(&("dry_run", "--dry-run", FlagValue::Switch(true))));
        assert!(flags.contains(&("extra_body", "--extra-body", FlagValue::Text(r#"{"top_k":20}"#.into()))));
        assert_eq!(file.unused_keys(), ["tier", "users"]);
        let e = ConfigFile::parse("endpoint: x\nscenario: y\n").unwrap_err();
        assert!(e.contains("scenario") && e.contains("endpoint"), "names the key and the valid ones: {e}");
        let e = ConfigFile::parse("timeout: soon\n").unwrap_err();
        assert!(e.contains("timeout") || e.contains("soon"), "{e}");
        assert!(ConfigFile::parse("").unwrap().flags().unwrap().is_empty());
    }
}
