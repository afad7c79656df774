//! The command line: one subcommand per capability. Parsing lives here; the work lives in
//! the capability's module.

use std::future::Future;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::inspect::diff::{self, DiffArgs};
use crate::inspect::summary::{self, InspectArgs};
use crate::inspect::timeline::{self, TimelineArgs};
use crate::inspect::validate::{self, ValidateArgs};
use crate::mock::{self, MockArgs};
use crate::record::{self, RecordArgs};
use crate::replay::capacity::CapacityArgs;
use crate::replay::catalog::{self, ScenariosArgs};
use crate::replay::report::{self, CompareArgs, ReportArgs};
use crate::replay::{self, ReplayArgs};
use crate::serve::{self, ServeArgs};

/// `asb --version`: the version, the commit it was built from and the build date.
const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ASB_COMMIT"), ", built ", env!("ASB_BUILD_DATE"), ")");

#[derive(Debug, Parser)]
#[command(name = "asb", version = VERSION, about = "Record, replay and serve coding-agent LLM traffic")]
pub(crate) struct Cli {
    /// A YAML file of settings, AgenticSwarmBench's `--config` (endpoint, model, api_key,
    /// api_key_header, timeout, extra_body, output, …): the command line and environment
    /// variables win over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Record an agent's LLM calls through a proxy in front of its endpoint.
    Record(RecordArgs),
    /// Replay a recording against an endpoint and measure TTFT, ITL, decode and prefill rates.
    Replay(Box<ReplayArgs>),
    /// Find how many concurrent agent sessions (or sessions/s) an endpoint holds within an SLO.
    Capacity(Box<CapacityArgs>),
    /// Render a saved replay run (run.json) as console text, markdown, HTML or JSON.
    Report(ReportArgs),
    /// Compare two saved replay runs bucket by bucket.
    Compare(CompareArgs),
    /// List the built-in scenarios (replay them with -w builtin:NAME).
    Scenarios(ScenariosArgs),
    /// Answer OpenAI and Anthropic calls from recordings, offline and deterministic.
    Serve(ServeArgs),
    /// Run a synthetic OpenAI + Anthropic endpoint with known timings (no GPU needed).
    Mock(MockArgs),
    /// Summarise a recording: calls, models, tokens, latency percentiles, tools, errors, threads.
    Inspect(InspectArgs),
    /// Draw a recording's calls as an ASCII waterfall at their real start offsets.
    Timeline(TimelineArgs),
    /// Check a recording: schema, format v1 consistency, leaked credentials (exit 1 on any).
    Validate(ValidateArgs),
    /// Compare two recordings call by call: prompts, responses, timing.
    Diff(DiffArgs),
    /// Print a shell completion script: `asb completions bash > /etc/bash_completion.d/asb`,
    /// `asb completions zsh > "${fpath[1]}/_asb"`, `asb completions fish > ~/.config/fish/completions/asb.fish`.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

pub fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            crate::errors::print("asb", format_args!("{e:#}"));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Mock(args) => {
            let workers = args.workers;
            on_runtime(workers, mock::run(args)).map(|()| ExitCode::SUCCESS)
        }
        Command::Record(args) => on_runtime(1, record::run(args)).map(|()| ExitCode::SUCCESS),
        Command::Replay(args) => on_runtime(0, replay::run(*args)),
        Command::Capacity(args) => on_runtime(0, replay::capacity::run(*args)),
        Command::Report(args) => report::run_report(args),
        Command::Compare(args) => report::run_compare(args),
        Command::Scenarios(args) => catalog::run(args),
        Command::Serve(args) => on_runtime(1, serve::run(args)).map(|()| ExitCode::SUCCESS),
        // Reading recordings is synchronous: no runtime.
        Command::Inspect(args) => summary::run(args),
        Command::Timeline(args) => timeline::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "asb", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        // Stopped by a signal (after the command's drain and report): the shell's code for it.
        Ok(code) => crate::signals::exit_code().unwrap_or(code),
        Err(e) => {
            crate::errors::print("asb", format_args!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// The command line, with `--config`'s file applied.
fn parse() -> anyhow::Result<Cli> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = crate::config_file::matches_with_config(Cli::command(), std::env::args_os().collect())?;
    Ok(Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()))
}

/// Runs a future on a tokio runtime with `workers` threads (1 = current thread, 0 = one per core).
fn on_runtime<T>(workers: usize, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let mut builder = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if workers > 1 {
        builder.worker_threads(workers);
    }
    let runtime = builder.enable_all().build().map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(work)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// A subcommand's flags as its help lists them: `-s --long =default $ENV`, in order.
    fn flags_of(name: &str) -> Vec<String> {
        let cli = Cli::command();
        let command = cli.find_subcommand(name).expect("a subcommand");
        command
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_long() != Some("help"))
            .map(|a| {
                let mut flag = a.get_short().map_or(String::new(), |s| format!("-{s} "));
                flag += &format!("--{}", a.get_long().unwrap_or_default());
                for d in a.get_default_values() {
                    flag += &format!(" ={}", d.to_string_lossy());
                }
                if let Some(env) = a.get_env() {
                    flag += &format!(" ${}", env.to_string_lossy());
                }
                flag
            })
            .collect()
    }

    fn sorted(mut flags: Vec<String>) -> Vec<String> {
        flags.sort();
        flags
    }

    const TIMEOUTS: [&str; 3] = ["--header-timeout =20", "--idle-timeout =90", "--body-timeout =30"];
    const ENDPOINT: [&str; 5] = [
        "-e --endpoint $ASB_ENDPOINT",
        "-m --model $ASB_MODEL",
        "-k --api-key $ASB_API_KEY",
        "--api-key-header",
        "--upstream-api",
    ];

    /// The flags, short names, defaults and environment variables of record, replay and
    /// serve, as they were before the shared groups (order aside), plus `ASB_ENDPOINT` and
    /// `ASB_MODEL` on serve's `-e`/`-m`, as record and replay read them.
    #[test]
    fn record_replay_and_serve_keep_their_flags() {
        let record: Vec<&str> = ENDPOINT
            .into_iter()
            .chain([
                "-o --output =recording.jsonl",
                "-P --port =19000",
                "--host =127.0.0.1",
                "--upstream-timeout =600",
                "--drain-timeout =30",
                "--fsync",
                "--max-request-mib =64",
                "--max-response-mib =64",
                "-q --quiet",
                "--redact",
                "--no-upstream-check",
            ])
            .chain(TIMEOUTS)
            .collect();
        let replay: Vec<&str> = ENDPOINT
            .into_iter()
            .chain([
                "-w --scenario",
                "-t --task",
                "-o --output",
                "--json",
                "--cache-mode =realistic",
                "--history-mode =recorded",
                "-r --repetitions =1",
                // Default 10, said in its help: without a default, --sessions and the
                // arrival rates can tell whether it was given.
                "--max-concurrent",
                "--policy =round_robin",
                "--seed",
                "--slice-tokens",
                "--dry-run",
                "--timeout =300",
                "--max-retries =3",
                "--max-consecutive-failures",
                "--max-tokens",
                "--extra-body",
                "--mock-args",
                // AgenticSwarmBench's flags added with their meaning.
                "--enable-thinking",
                "--model-context-length",
                "-V --verbose",
                "--verbose-text",
                // Sharded runs.
                "--shard",
                "--start-at",
                // The agentic load.
                "--sessions",
                "--think-time",
                "--session-rate",
                "--request-rate",
                "--arrival",
                "--burstiness",
                "--max-sessions",
                "--duration",
                "--warmup",
                "--cooldown",
                "--max-schedule-lag-ms =10",
                "--slo",
                "--label",
                // What the server saw.
                "--server-metrics",
                "--no-server-metrics",
                "--server-metrics-interval =250ms",
                "--reset-prefix-cache",
            ])
            .collect();
        let serve: Vec<&str> = [
            "-w --recording",
            "-P --port =19200",
            "--host =127.0.0.1",
            "--pacing =instant",
            "--allow-repeats =never",
            "--ignore",
            "--no-presets",
            "--idle-release =30",
            "--mode =none",
            "--redact",
        ]
        .into_iter()
        .chain(ENDPOINT)
        .chain(TIMEOUTS)
        .collect();
        for (name, expected) in [("record", record), ("replay", replay), ("serve", serve)] {
            let expected = sorted(expected.into_iter().map(String::from).collect());
            assert_eq!(sorted(flags_of(name)), expected, "asb {name}");
        }
        assert!(flags_of("mock").contains(&"-P --port =19100".to_string()));
    }

    /// The original tool's command lines are our public interface.
    #[test]
    fn the_original_command_lines_parse() {
        let parse = |line: &str| Cli::try_parse_from(line.split(' ')).map(|cli| cli.command);
        match parse("asb record -e http://gpu:8000 -m qwen -o r.jsonl") {
            Ok(Command::Record(args)) => {
                assert_eq!(args.upstream.endpoint.as_deref(), Some("http://gpu:8000"));
                assert_eq!(args.upstream.model.as_deref(), Some("qwen"));
                assert_eq!((args.listen.port, args.recording.upstream_timeout), (19000, 600));
            }
            other => panic!("{other:?}"),
        }
        match parse("asb replay -e http://gpu:8000 -m qwen -w r.jsonl") {
            Ok(Command::Replay(args)) => {
                assert_eq!(args.target.endpoint.as_deref(), Some("http://gpu:8000"));
                assert_eq!(args.target.model.as_deref(), Some("qwen"));
                assert_eq!(args.scenario.as_deref(), Some("r.jsonl"));
            }
            other => panic!("{other:?}"),
        }
        match parse("asb serve -w r.jsonl --mode new_episodes -e http://gpu:8000 -m qwen") {
            Ok(Command::Serve(args)) => {
                assert_eq!(args.upstream.endpoint.as_deref(), Some("http://gpu:8000"));
                assert_eq!((args.listen.port, args.mode), (19200, serve::Mode::NewEpisodes));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Serve's record modes record with `asb record`'s defaults, read from its flags.
    #[test]
    fn record_modes_use_records_defaults() {
        let Ok(Command::Record(args)) =
            Cli::try_parse_from(["asb", "record", "-e", "http://x", "-m", "m"]).map(|c| c.command)
        else {
            panic!("asb record -e URL -m MODEL parses")
        };
        let defaults = record::RecordingFlags::default();
        assert_eq!(format!("{defaults:?}"), format!("{:?}", args.recording));
    }
}
