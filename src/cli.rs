//! The command line: one subcommand per capability. Parsing lives here; the work lives in
//! the capability's module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::mock::{self, MockArgs};
use crate::record::{self, RecordArgs};
use crate::serve::{self, ServeArgs};

#[derive(Debug, Parser)]
#[command(name = "asb", version, about = "Record, replay and serve coding-agent LLM traffic")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record an agent's LLM calls through a proxy in front of its endpoint.
    Record(RecordArgs),
    /// Answer OpenAI and Anthropic calls from recordings, offline and deterministic.
    Serve(ServeArgs),
    /// Run a synthetic OpenAI + Anthropic endpoint with known timings (no GPU needed).
    Mock(MockArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let workers = match &cli.command {
        Command::Mock(a) => a.workers,
        Command::Record(_) => 1,
        Command::Serve(_) => 0,
    };
    let mut builder = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if workers > 1 {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("asb: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Mock(args) => mock::run(args).await,
            Command::Record(args) => record::run(args).await,
            Command::Serve(args) => serve::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("asb: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
