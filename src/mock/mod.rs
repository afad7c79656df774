//! `asb mock`: a calibrated synthetic LLM endpoint speaking OpenAI Chat Completions and
//! Anthropic Messages, streaming included.
//!
//! Why it exists: every number `asb` reports must be checkable against a target whose true
//! timings are known, and a new user must be able to run a real benchmark on a laptop with
//! no GPU. The mock models what matters to a serving benchmark — prefill and decode rates,
//! a prefix cache, batching, faults — and can log the truth of every request it served.
//!
//! Pipeline of one request: [`request`] (validate into a neutral form) → [`answer`] (what to
//! say) → [`timing`] (when to say each token) → [`generation`] (drive it, log the truth) →
//! [`openai`] / [`anthropic`] (the bytes on the wire).
//!
//! From another command the mock is started by one function, [`start_from_flags`]: replay's
//! embedded mock (`-e builtin`).

pub(crate) mod answer;
pub(crate) mod anthropic;
pub(crate) mod config;
pub(crate) mod generation;
pub(crate) mod metrics;
pub(crate) mod openai;
pub(crate) mod prefix_cache;
pub(crate) mod reply;
pub(crate) mod request;
pub(crate) mod responses;
pub(crate) mod schema;
pub(crate) mod server;
pub(crate) mod timing;
pub(crate) mod tokenizer;
pub(crate) mod truth;

pub(crate) use config::MockArgs;
pub(crate) use server::MockServer;

use anyhow::{Context, Result};

use server::start;
use truth::TruthLog;

/// A mock configured by `asb mock` flags (as a user spells them) on an ephemeral loopback
/// port, serving in the background of the current runtime until dropped: replay's embedded
/// mock, whose flags come from its `--mock-args` (a bad flag is an error naming it).
pub(crate) async fn start_from_flags<S: AsRef<str>>(flags: &[S]) -> Result<MockServer> {
    let cfg = config::config_from_flags(flags).context("--mock-args")?;
    start(cfg, [127, 0, 0, 1].into(), 0, TruthLog::default()).await
}

/// `asb mock`: serve until Ctrl+C.
pub(crate) async fn run(args: MockArgs) -> Result<()> {
    let cfg = args.config()?;
    let truth = match &args.truth_log {
        Some(path) => TruthLog::open(path)?,
        None => TruthLog::default(),
    };
    let server = start(cfg, args.listen.host, args.listen.port, truth).await?;
    let url = server.url();
    println!("asb mock listening on {url}");
    println!("  OpenAI:    OPENAI_BASE_URL={url}/v1");
    println!("  Anthropic: ANTHROPIC_BASE_URL={url}");
    if let Some(path) = &args.truth_log {
        println!("  truth log: {}", path.display());
    }
    println!("Stop with Ctrl+C.");
    let signal = crate::signals::StopSignals::new()?.next().await;
    eprintln!("asb mock: {signal}: stopping");
    drop(server);
    Ok(())
}
