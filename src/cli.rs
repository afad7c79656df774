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
use crate::replay::catalog::{self, ScenariosArgs};
use crate::replay::report::{self, CompareArgs, ReportArgs};
use crate::replay::{self, ReplayArgs};
use crate::serve::{self, ServeArgs};

/// `asb --version`: the version, the commit it was built from and the build date.
const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ASB_COMMIT"), ", built ", env!("ASB_BUILD_DATE"), ")");

#[derive(Debug, Parser)]
#[command(name = "asb", version = VERSION, about = "Record, replay and serve coding-agent LLM traffic")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record an agent's LLM calls through a proxy in front of its endpoint.
    Record(RecordArgs),
    /// Replay a recording against an endpoint and measure TTFT, ITL, decode and prefill rates.
    Replay(Box<ReplayArgs>),
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mock(args) => {
            let workers = args.workers;
            on_runtime(workers, mock::run(args)).map(|()| ExitCode::SUCCESS)
        }
        Command::Record(args) => on_runtime(1, record::run(args)).map(|()| ExitCode::SUCCESS),
        Command::Replay(args) => on_runtime(0, replay::run(*args)),
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
        Ok(code) => code,
        Err(e) => {
            eprintln!("asb: error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
