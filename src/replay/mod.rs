//! `asb replay`: sends a recording's traffic to an endpoint and reports what the endpoint
//! really does with it — TTFT, ITL, TPOT, decode and prefill rates, throughput — grouped
//! by context size.
//!
//! Pipeline: [`scenario`] (what `-w` names, loaded into tasks) → [`plan`] (slice, build
//! each request with [`request`], poison by cache mode with [`poison`], order executions
//! with [`schedule`]) → [`run`] (J workers, one connection each; [`client`] timestamps
//! every frame) → [`measure`] (one request's numbers) → [`aggregate`] (per bucket and
//! overall, with asb's [`verdict`]) → [`results`] (the JSON) → [`report`] (console, markdown,
//! HTML, compare).
//!
//! `-e builtin` (or no `-e`) starts `asb mock` in this process, so a replay runs on a
//! laptop with no GPU and no network.

pub mod aggregate;
pub mod args;
pub mod builtin;
pub mod catalog;
pub mod client;
pub mod connection;
pub mod header;
pub mod history;
pub mod measure;
pub mod plan;
pub mod poison;
pub mod prompt_text;
pub mod python_random;
pub mod report;
pub mod request;
pub mod results;
pub mod run;
pub mod rx_clock;
pub mod scenario;
pub mod schedule;
pub mod slice;
pub mod target;
pub mod verdict;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub use args::ReplayArgs;
use plan::{Plan, PlanOptions};
use request::BuildOptions;
use results::{RunResults, ScenarioInfo, Settings, TaskInfo, RESULTS_VERSION};
use schedule::Policy;
use target::Target;

/// Flags the embedded mock starts with before the user's `--mock-args`: a fast single-GPU
/// server's rates (20,000 tok/s prefill, 100 tok/s decode), answers ending after 128
/// tokens so recordings asking for tens of thousands finish in seconds.
pub const BUILTIN_MOCK_FLAGS: &[&str] = &["--answer-tokens", "128", "--prefill-tps", "20000", "--decode-tps", "100"];

/// The embedded mock's flags: [`BUILTIN_MOCK_FLAGS`], less those the user's `--mock-args`
/// set themselves (also as `--flag=value`, or through `--zero-delay`), then the user's.
fn builtin_mock_flags(user: &str) -> Vec<String> {
    let user: Vec<String> = user.split_whitespace().map(str::to_string).collect();
    let given = |name: &str| {
        user.iter().any(|u| u == name || u.starts_with(&format!("{name}=")))
            || (user.iter().any(|u| u == "--zero-delay") && ["--prefill-tps", "--decode-tps"].contains(&name))
    };
    let mut flags: Vec<String> = BUILTIN_MOCK_FLAGS
        .chunks(2)
        .filter(|pair| !given(pair[0]))
        .flat_map(|pair| pair.iter().map(|s| s.to_string()))
        .collect();
    flags.extend(user);
    flags
}

/// Fails before anything is sent when the report could not be written (a run's results
/// are not to be lost to a typo in `-o`): its folder is made, as `asb record -o` does, and
/// a file is created and removed in it.
fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("-o {}: is a directory; give a file name such as {}/report.md", path.display(), path.display());
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("-o {}: cannot create {}", path.display(), dir.display()))?;
    let probe = dir.join(format!(".asb-write-check-{}", std::process::id()));
    std::fs::File::create(&probe)
        .with_context(|| format!("-o {}: cannot write in {}", path.display(), dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    if args.users.is_some() {
        bail!(
            "--users was removed (asb 3.1): identical payloads from N users gave the server a free prefix-cache ride. \
             Use --repetitions N --max-concurrent N: each repetition is poisoned differently."
        );
    }
    if let Some(path) = &args.output {
        check_writable(path)?;
    }
    let spec = args.scenario.clone().unwrap_or_else(|| format!("builtin:{}", builtin::DEFAULT));
    let scenario = scenario::load(&spec, args.task.as_deref())?;
    let extra_body = match &args.extra_body {
        None => None,
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            Ok(_) => bail!("--extra-body must be a JSON object"),
            Err(e) => bail!("--extra-body is not valid JSON: {e}"),
        },
    };

    // The endpoint: the user's, or the embedded mock.
    let endpoint = args.target.endpoint.clone().filter(|e| !e.is_empty() && e != "builtin");
    let mut mock = None;
    let (endpoint_label, url) = match &endpoint {
        Some(e) => (e.clone(), e.clone()),
        None => {
            let flags = builtin_mock_flags(args.mock_args.as_deref().unwrap_or(""));
            let cfg = crate::mock::config::config_from_flags(&flags).context("--mock-args")?;
            let server = crate::mock::start(cfg, [127, 0, 0, 1].into(), 0, crate::mock::TruthLog::default()).await?;
            let url = server.url();
            mock = Some(server);
            (format!("builtin (asb mock in-process at {url}, flags: {})", flags.join(" ")), url)
        }
    };
    let target = Target::new(
        &url,
        args.target.upstream_api,
        args.target.api_key.as_deref(),
        args.target.api_key_header.as_deref(),
    )?;

    let seed = match (args.seed, args.policy) {
        (Some(s), _) => s,
        (None, Policy::Random) => schedule::random_seed(),
        (None, _) => 0,
    };
    let build = BuildOptions { model: args.target.model.clone(), max_tokens_cap: args.max_tokens };
    let plan = Plan::new(
        scenario,
        &PlanOptions {
            api: target.api,
            build,
            cache_mode: args.cache_mode,
            slice_tokens: args.slice_tokens,
            repetitions: args.repetitions,
            policy: args.policy,
            seed,
            extra_body,
        },
    )?;
    let settings = settings(&args, &plan, seed);
    let model = args.target.model.clone().unwrap_or_else(|| {
        let mut models: Vec<&str> =
            plan.requests.iter().flatten().filter_map(|r| r.built.body["model"].as_str()).collect();
        models.sort_unstable();
        models.dedup();
        format!("as recorded ({})", models.join(", "))
    });
    let human = |text: &str| {
        if args.json {
            eprint!("{text}");
        } else {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
    };
    human(&header::header(&plan, &settings, args.history_mode, &endpoint_label, &target.url, &model));
    if args.dry_run {
        human(&header::dry_run(&plan));
        if args.json {
            let plan_json = serde_json::json!({
                "dry_run": true, "endpoint": endpoint_label, "target_url": target.url, "model": model,
                "settings": settings, "scenario": scenario_info(&plan, &spec),
            });
            println!("{}", serde_json::to_string_pretty(&plan_json)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if plan.scheduled_requests() == 0 {
        bail!("nothing to send: the scenario has no replayable requests");
    }

    let info = scenario_info(&plan, &spec);
    let api = target.api;
    let target_url = target.url.clone();
    let opts = run::RunOptions {
        workers: args.max_concurrent.min(usize::MAX as u64) as usize,
        history: args.history_mode,
        timeout: Duration::try_from_secs_f64(args.timeout.clamp(0.1, 86_400.0)).unwrap_or(Duration::from_secs(300)),
        max_retries: args.max_retries,
        max_consecutive_failures: args.max_consecutive_failures,
        progress: true,
    };
    let outcome = run::execute(plan, target, opts).await?;
    if let Some(server) = mock {
        server.stop().await;
    }
    let buckets = aggregate::buckets(&outcome.samples);
    let summary = aggregate::summary(&outcome.samples, &buckets);
    let results = RunResults {
        results_version: RESULTS_VERSION,
        tool: format!("asb {}", env!("CARGO_PKG_VERSION")),
        started_at: outcome.started_at.to_string(),
        endpoint: endpoint_label,
        target_url,
        api: api.name().into(),
        model,
        scenario: info,
        settings,
        formulas: results::formulas(),
        summary,
        buckets,
        requests: outcome.samples,
        aborted: outcome.aborted,
    };
    human(&report::console::summary(&results));
    if let Some(path) = &args.output {
        for written in write_outputs(&results, path)? {
            human(&format!("Wrote {}\n", written.display()));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    let failed = results.summary.failed > 0 || results.aborted.is_some();
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn settings(args: &ReplayArgs, plan: &Plan, seed: u64) -> Settings {
    let bodies = || plan.queue.iter().flat_map(|e| plan.requests[e.task].iter().map(|r| &r.built.body));
    let unset_max = if plan.api == crate::wire::Api::Anthropic {
        format!("{} (Anthropic requires one)", request::ANTHROPIC_DEFAULT_MAX_TOKENS)
    } else {
        "none sent (server default)".into()
    };
    Settings {
        cache_mode: plan.cache_mode.name().into(),
        cache_detail: plan.cache_detail.clone(),
        shared_prefix_chars: plan.shared_prefix_chars,
        history_mode: args.history_mode.name().into(),
        repetitions: args.repetitions,
        max_concurrent: args.max_concurrent as usize,
        policy: args.policy.name().into(),
        seed: (args.policy == Policy::Random).then_some(seed),
        slice_tokens: args.slice_tokens,
        max_tokens: request::describe_values(
            bodies().map(|b| request::max_tokens(b).map(|n| n as f64)),
            args.max_tokens,
            &unset_max,
        ),
        temperature: request::describe_values(
            bodies().map(|b| b.get("temperature").and_then(serde_json::Value::as_f64)),
            None,
            "none sent (server default)",
        ),
        timeout_s: args.timeout,
        max_retries: args.max_retries,
        max_consecutive_failures: args.max_consecutive_failures,
        executions: plan.queue.len(),
        scheduled_requests: plan.scheduled_requests(),
    }
}

fn scenario_info(plan: &Plan, spec: &str) -> ScenarioInfo {
    let s = &plan.scenario;
    ScenarioInfo {
        name: s.name.clone(),
        source: if s.source.is_empty() { spec.to_string() } else { s.source.clone() },
        description: s.description.clone(),
        tasks: s
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| TaskInfo {
                id: t.id.clone(),
                name: t.name.clone(),
                requests: plan.requests[i].len(),
                recorded_requests: plan.recorded_requests[i],
            })
            .collect(),
        requests: plan.requests_per_pass(),
    }
}

/// `-o X.md` writes X.md and X.json; `X.html` writes X.html and X.json; `X.json` writes
/// X.json; anything else X.json (as asb). Returns the paths written.
pub fn write_outputs(results: &RunResults, path: &Path) -> Result<Vec<PathBuf>> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let json_path = path.with_extension("json");
    let mut written = Vec::new();
    let write = |p: &Path, text: &str| std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()));
    match ext.as_deref() {
        Some("md") => {
            write(path, &report::markdown::render(results, Some(&json_path.display().to_string())))?;
            written.push(path.to_path_buf());
        }
        Some("html" | "htm") => {
            write(path, &report::html::render(results))?;
            written.push(path.to_path_buf());
        }
        _ => {}
    }
    write(&json_path, &serde_json::to_string_pretty(results)?)?;
    written.push(json_path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_args_override_every_builtin_default() {
        let flags = builtin_mock_flags("--decode-tps 120 --answer-tokens=64");
        assert_eq!(flags, ["--prefill-tps", "20000", "--decode-tps", "120", "--answer-tokens=64"]);
        let cfg = crate::mock::config::config_from_flags(&flags).unwrap();
        assert_eq!(cfg.answer_tokens, Some(64));
        let flags = builtin_mock_flags("--zero-delay --prefill-tps 5");
        assert_eq!(flags, ["--answer-tokens", "128", "--zero-delay", "--prefill-tps", "5"]);
        assert!(crate::mock::config::config_from_flags(&flags).is_ok());
        assert_eq!(builtin_mock_flags(""), BUILTIN_MOCK_FLAGS);
    }
}
