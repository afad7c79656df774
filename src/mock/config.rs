//! `asb mock` flags, and the validated configuration the server runs with.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::flags::{self, ListenFlags};
use crate::wire::server::ConnTimeouts;

/// Flags of `asb mock`. Every timing knob has a default that looks like a small GPU server;
/// `--zero-delay` turns the timing model off for throughput benchmarks.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("port", flags::port_default("19100")))]
pub(crate) struct MockArgs {
    #[command(flatten)]
    pub listen: ListenFlags,
    /// Runtime worker threads (1 = the whole server on one core).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub workers: usize,

    /// Fixed latency before prefill starts, in ms.
    #[arg(long, default_value_t = 20.0)]
    pub base_latency_ms: f64,
    /// Prefill rate for uncached prompt tokens, tokens/s (`inf` = instant).
    #[arg(long, default_value_t = 4000.0)]
    pub prefill_tps: f64,
    /// Decode rate of one stream while the batch is not full, tokens/s (`inf` = instant).
    #[arg(long, default_value_t = 60.0)]
    pub decode_tps: f64,
    /// Streams decoded at full speed; beyond this the decode rate is shared
    /// (each stream gets decode_tps × batch_size / active_streams).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Relative random spread of every delay, e.g. 0.05 = ±5 % (seeded).
    #[arg(long, default_value_t = 0.05)]
    pub jitter: f64,
    /// Shortcut for --base-latency-ms 0 --prefill-tps inf --decode-tps inf --jitter 0.
    #[arg(long)]
    pub zero_delay: bool,
    /// Seed for jitter, answer text, tool choice and faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Context window in tokens: prompt + max_tokens beyond it is the provider's error.
    #[arg(long, default_value_t = 131_072)]
    pub context_limit: usize,
    /// max_tokens used when an OpenAI request sets none.
    #[arg(long, default_value_t = 256)]
    pub default_max_tokens: usize,
    /// Stop on our own after this many output tokens (end_turn / stop) when max_tokens is
    /// larger. Default: always write max_tokens.
    #[arg(long)]
    pub answer_tokens: Option<usize>,
    /// Accept only these model names (comma separated); others get the provider's 404.
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,

    /// Prefix-cache block size in tokens.
    #[arg(long, default_value_t = 16)]
    pub cache_block_tokens: usize,
    /// Prefix-cache capacity in blocks (0 = no prefix cache).
    #[arg(long, default_value_t = 65_536)]
    pub cache_blocks: usize,

    /// Probability of answering with a tool call when the request offers tools
    /// (tool_choice "required"/"any"/a named tool forces one; "none" forbids it).
    #[arg(long, default_value_t = 0.0)]
    pub tool_call_rate: f64,
    /// Reasoning tokens to write first when the request asks for thinking
    /// (Anthropic `thinking`, OpenAI `reasoning_effort`).
    #[arg(long, default_value_t = 0)]
    pub thinking_tokens: usize,

    /// Probability of failing a request with --error-status instead of answering.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// HTTP status of injected errors: 429, 500, 503 or 529 (overloaded).
    #[arg(long, default_value_t = 500)]
    pub error_status: u16,
    /// Probability of cutting a stream (connection closed) half-way through its output.
    #[arg(long, default_value_t = 0.0)]
    pub cut_rate: f64,
    /// Probability of stalling before the first token for --stall-ms.
    #[arg(long, default_value_t = 0.0)]
    pub stall_rate: f64,
    /// Length of an injected stall, in ms.
    #[arg(long, default_value_t = 5000.0)]
    pub stall_ms: f64,

    /// Write one JSON line per request with its true timings and counts.
    #[arg(long)]
    pub truth_log: Option<PathBuf>,

    #[command(flatten)]
    pub timeouts: ConnTimeouts,
}

/// The validated settings the mock runs with (delays in seconds).
#[derive(Debug, Clone)]
pub(crate) struct MockConfig {
    pub base_latency_s: f64,
    pub prefill_tps: f64,
    pub decode_tps: f64,
    pub batch_size: usize,
    pub jitter: f64,
    pub seed: u64,
    pub context_limit: usize,
    pub default_max_tokens: usize,
    pub answer_tokens: Option<usize>,
    pub models: Vec<String>,
    pub cache_block_tokens: usize,
    pub cache_blocks: usize,
    pub tool_call_rate: f64,
    pub thinking_tokens: usize,
    pub error_rate: f64,
    pub error_status: u16,
    pub cut_rate: f64,
    pub stall_rate: f64,
    pub stall_s: f64,
    /// How long a connection may take over a request head, between requests, and over a body.
    pub timeouts: ConnTimeouts,
}

impl MockArgs {
    pub(crate) fn config(&self) -> Result<MockConfig> {
        let (base_ms, prefill, decode, jitter) = if self.zero_delay {
            (0.0, f64::INFINITY, f64::INFINITY, 0.0)
        } else {
            (self.base_latency_ms, self.prefill_tps, self.decode_tps, self.jitter)
        };
        for (name, p) in [
            ("--tool-call-rate", self.tool_call_rate),
            ("--error-rate", self.error_rate),
            ("--cut-rate", self.cut_rate),
            ("--stall-rate", self.stall_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                bail!("{name} must be a probability between 0 and 1, got {p}");
            }
        }
        if base_ms < 0.0 || self.stall_ms < 0.0 {
            bail!("latencies must not be negative");
        }
        if prefill.is_nan() || prefill <= 0.0 || decode.is_nan() || decode <= 0.0 {
            bail!("--prefill-tps and --decode-tps must be positive (use inf for instant)");
        }
        if !(0.0..1.0).contains(&jitter) {
            bail!("--jitter must be in [0, 1), got {jitter}");
        }
        if self.batch_size == 0 || self.cache_block_tokens == 0 {
            bail!("--batch-size and --cache-block-tokens must be at least 1");
        }
        if !matches!(self.error_status, 400..=599) {
            bail!("--error-status must be an HTTP error status (4xx or 5xx), got {}", self.error_status);
        }
        Ok(MockConfig {
            base_latency_s: base_ms / 1000.0,
            prefill_tps: prefill,
            decode_tps: decode,
            batch_size: self.batch_size,
            jitter,
            seed: self.seed,
            context_limit: self.context_limit,
            default_max_tokens: self.default_max_tokens,
            answer_tokens: self.answer_tokens,
            models: self.models.iter().filter(|m| !m.is_empty()).cloned().collect(),
            cache_block_tokens: self.cache_block_tokens,
            cache_blocks: self.cache_blocks,
            tool_call_rate: self.tool_call_rate,
            thinking_tokens: self.thinking_tokens,
            error_rate: self.error_rate,
            error_status: self.error_status,
            cut_rate: self.cut_rate,
            stall_rate: self.stall_rate,
            stall_s: self.stall_ms / 1000.0,
            timeouts: self.timeouts,
        })
    }
}

/// A config from `asb mock` flags, e.g. `config_from_flags(&["--zero-delay"])`: how
/// replay's embedded mock and the tests configure it with the user's own spelling.
pub(crate) fn config_from_flags<S: AsRef<str>>(flags: &[S]) -> Result<MockConfig> {
    use clap::Parser;
    #[derive(Parser)]
    #[command(name = "asb mock", no_binary_name = true)]
    struct Cli {
        #[command(flatten)]
        args: MockArgs,
    }
    let cli = Cli::try_parse_from(flags.iter().map(AsRef::as_ref)).map_err(|e| anyhow::anyhow!("{e}"))?;
    cli.args.config()
}

#[cfg(test)]
pub(crate) fn test_config(flags: &[&str]) -> MockConfig {
    config_from_flags(flags).expect("valid test flags")
}
