//! `asb replay` flags: those of AgenticSwarmBench (the original asb), spelled as its users
//! type them, plus what honest measurement needs (timeout, retries, an explicit max_tokens
//! cap, the embedded mock).

use std::path::PathBuf;

use clap::Args;

use super::arrivals::Process;
use super::history::HistoryMode;
use super::plan::CacheMode;
use super::schedule::Policy;
use super::slo::Slo;
use super::think_time::ThinkTime;
use crate::flags::{self, EndpointFlags};

#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("endpoint", flags::reworded("Target endpoint URL; `builtin` (or none) starts `asb mock` in-process")),
    mut_arg("model", flags::reworded("Model to request; without it each request keeps its recorded model")),
    mut_arg("upstream_api", flags::reworded(UPSTREAM_API_HELP))
)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub target: EndpointFlags,
    /// A recording (.jsonl, ours or AgenticSwarmBench's), a scenario directory or manifest, or
    /// builtin:NAME (see `asb scenarios`). Default: the built-in scenario.
    #[arg(short = 'w', long = "scenario", visible_short_alias = 's')]
    pub scenario: Option<String>,
    /// Replay only this task of the scenario.
    #[arg(short = 't', long)]
    pub task: Option<String>,
    /// Report path: .md writes the markdown report and X.json beside it, .html the HTML
    /// report and X.json, .csv one row per request and X.json, anything else X.json.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// A name for the run, saved in its JSON and shown in reports and comparisons.
    #[arg(long)]
    pub label: Option<String>,
    /// Write the run's JSON to stdout (human output goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// realistic: shared prefix warm, each execution's unique context poisoned;
    /// allwarm: as recorded; allcold: poisoned from the first space; realistic-compat:
    /// AgenticSwarmBench 3.4.3's realistic, byte for byte.
    #[arg(long, value_enum, default_value = "realistic")]
    pub cache_mode: CacheMode,
    /// recorded: requests as recorded; live: earlier assistant turns replaced by the
    /// endpoint's own answers, per agent thread.
    #[arg(long, value_enum, default_value = "recorded")]
    pub history_mode: HistoryMode,
    /// Times each task is replayed.
    #[arg(short = 'r', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repetitions: u32,
    /// Workers, each with its own connection: the most requests in flight [default: 10].
    /// With --request-rate: the most requests in flight (default: unbounded, up to 10000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), conflicts_with_all = ["sessions", "session_rate"])]
    pub max_concurrent: Option<u64>,
    /// Agent sessions in flight at once; when one ends the next starts (closed loop). A
    /// session is one execution of a task and keeps its slot through its think time.
    /// Think time defaults to `recorded` with it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), conflicts_with_all = ["session_rate", "request_rate"])]
    pub sessions: Option<u64>,
    /// Between a session's calls: none (back to back), recorded (the recorded gap after
    /// what each call waited for), timestamps (open loop at the recorded offsets); with
    /// scale=X and cap=SECONDS, e.g. `recorded,cap=30`. Default: recorded with --sessions
    /// or --session-rate, none otherwise.
    #[arg(long)]
    pub think_time: Option<ThinkTime>,
    /// New sessions per second, open loop (see --arrival, --max-sessions).
    #[arg(long, value_parser = parse_rate, conflicts_with = "request_rate")]
    pub session_rate: Option<f64>,
    /// Requests per second, each on its own, open loop (as request-rate benchmarks do).
    #[arg(long, value_parser = parse_rate)]
    pub request_rate: Option<f64>,
    /// Arrival process of --session-rate / --request-rate [default: poisson].
    #[arg(long, value_enum)]
    pub arrival: Option<Process>,
    /// Gamma shape of --arrival gamma: 1 is Poisson, below 1 burstier [default: 1].
    #[arg(long, value_parser = parse_rate)]
    pub burstiness: Option<f64>,
    /// With --session-rate: the most sessions in flight; arrivals past it wait (and the
    /// wait is reported as schedule lag) [default: 10000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), requires = "session_rate")]
    pub max_sessions: Option<u64>,
    /// Run for this long (e.g. 90s, 5m), cycling through the scenario with fresh
    /// repetitions, then stop starting work and drain.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Leave requests intended to start in the first D out of the summary (ramp-up).
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<std::time::Duration>,
    /// Leave requests intended to start in the last D (of --duration, else of the run) out
    /// of the summary (drain).
    #[arg(long, value_parser = parse_duration)]
    pub cooldown: Option<std::time::Duration>,
    /// Service-level objectives, e.g. `ttft:p99<=2s,itl:p99<=150ms,decode_tps:p50>=20`
    /// (metrics ttft, itl, tpot, e2e, decode_tps; latencies from the intended send time):
    /// reports attainment and goodput; a run that misses one exits with status 1.
    #[arg(long)]
    pub slo: Option<Slo>,
    /// Schedule lag (ms) more than 1 % of the requests, and at least two, may exceed
    /// before the run is behind schedule (lag p99 past it): marked in the verdict, exit
    /// status 1.
    #[arg(long, default_value_t = 10.0, value_parser = parse_rate)]
    pub max_schedule_lag_ms: f64,
    /// Order of the executions (task × repetition).
    #[arg(long, value_enum, default_value = "round_robin")]
    pub policy: Policy,
    /// Seed of the random policy and of the arrival processes (drawn and printed when not
    /// given). A negative seed is its absolute value, as CPython's `random.seed` takes it
    /// (so AgenticSwarmBench's `--seed -7` gives the same order here).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// Per task, replay requests from the start until their cumulative prompt tokens
    /// would exceed N (the first request always runs).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub slice_tokens: Option<u64>,
    /// Print the plan and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds one request may take, headers to last byte (at least 0.1, at most a day).
    #[arg(long, default_value_t = 300.0, value_parser = parse_request_timeout)]
    pub timeout: f64,
    /// Retries per request for connect errors, 429 and 5xx before the first byte
    /// (backoff 0.5 s × 2^attempt, at most 16 s).
    #[arg(long, default_value_t = 3)]
    pub max_retries: u32,
    /// Stop the run when one worker fails this many requests in a row.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_consecutive_failures: Option<u32>,
    /// Cap every request's max_tokens at N (default: as recorded, no cap).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: Option<u64>,
    /// A JSON object merged last into every request body (can override anything).
    #[arg(long)]
    pub extra_body: Option<String>,
    /// Sets `chat_template_kwargs.enable_thinking` to true in every request body (merged
    /// with --extra-body): the switch the chat templates of reasoning models (Qwen 3,
    /// DeepSeek) read on vLLM, SGLang and llama.cpp.
    #[arg(long)]
    pub enable_thinking: bool,
    /// Skip requests whose estimated prompt (chars/4 of the text and tools sent) is over N
    /// tokens: they are not sent, and the header and report count them.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub model_context_length: Option<u64>,
    /// A line per request as it ends (task, execution, seq, TTFT, tokens, or its error),
    /// above the progress bar.
    #[arg(short = 'V', long, conflicts_with = "verbose_text")]
    pub verbose: bool,
    /// Plain lines only, one per event (execution started, request ended or skipped,
    /// execution ended), no progress bar: for programs and agents reading the output.
    #[arg(long, visible_alias = "VV")]
    pub verbose_text: bool,
    /// Run shard K of N (K from 0, as Kubernetes' JOB_COMPLETION_INDEX): every N-th
    /// execution from the K-th, 1/N of the sessions and of the arrival rates. N shards
    /// send what one run sends; merge their JSONs with `asb report -i 'shard-*.json'`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<super::shard::Shard>,
    /// Hold the first request until this wall-clock time (RFC 3339, or Unix seconds), so
    /// shards started apart begin together.
    #[arg(long, value_name = "TIME", value_parser = super::shard::parse_start_at)]
    pub start_at: Option<jiff::Timestamp>,
    /// Flags for the embedded mock (`-e builtin`), e.g. "--decode-tps 120 --answer-tokens 64".
    #[arg(long, allow_hyphen_values = true)]
    pub mock_args: Option<String>,
    /// Scrape the server's Prometheus metrics through the run (KV-cache use, requests
    /// running/waiting, preemptions, prefix-cache hits) from URL [default: the endpoint's
    /// /metrics, when it answers in Prometheus text format].
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub server_metrics: Option<String>,
    /// Do not scrape the server's metrics.
    #[arg(long, conflicts_with = "server_metrics")]
    pub no_server_metrics: bool,
    /// Time between two scrapes of --server-metrics (10ms to 60s).
    #[arg(long, default_value = "250ms", value_parser = parse_scrape_interval)]
    pub server_metrics_interval: std::time::Duration,
    /// Empty the server's prefix cache before the run (vLLM POST /reset_prefix_cache,
    /// SGLang POST /flush_cache, llama.cpp slot erase), and say what was done.
    #[arg(long)]
    pub reset_prefix_cache: bool,
    /// Removed in AgenticSwarmBench 3.1: N users sending identical payloads got a free
    /// cache ride.
    #[arg(short = 'u', long, hide = true)]
    pub users: Option<String>,
}

const UPSTREAM_API_HELP: &str =
    "API to speak: default anthropic for *.anthropic.com or a URL ending in /messages, responses for a URL \
     ending in /responses, openai otherwise";

/// `--timeout`: seconds, from 0.1 to a day (a longer wait is no timeout, and could not be
/// added to a clock).
fn parse_request_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if (0.1..=86_400.0).contains(&secs) => Ok(secs),
        _ => Err(format!("expected seconds from 0.1 to 86400 (a day), got {s:?}")),
    }
}

/// A positive, finite number (a rate, a shape, milliseconds).
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("expected a number above 0, got {s:?}")),
    }
}

/// A duration such as `90s`, `5m`, `1h30m`, `500ms` (humantime), or plain seconds.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return std::time::Duration::try_from_secs_f64(secs).map_err(|_| format!("expected a duration, got {s:?}"));
    }
    humantime::parse_duration(s).map_err(|e| format!("expected a duration such as 90s, 5m or 1h30m, got {s:?}: {e}"))
}

/// `--server-metrics-interval`: a duration from 10 ms to 60 s.
fn parse_scrape_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if (std::time::Duration::from_millis(10)..=std::time::Duration::from_secs(60)).contains(&d) {
        Ok(d)
    } else {
        Err(format!("expected an interval from 10ms to 60s, got {s:?}"))
    }
}

impl ReplayArgs {
    /// The scrape the flags ask for; `None` with --no-server-metrics.
    pub(crate) fn server_metrics_options(&self) -> Option<super::server_metrics::Options> {
        (!self.no_server_metrics).then(|| super::server_metrics::Options {
            url: self.server_metrics.clone().filter(|u| !u.is_empty()),
            interval: self.server_metrics_interval,
        })
    }
}

/// `--seed`: a whole number; negative ones count as their absolute value, as CPython's
/// `random.seed(n)` does for integers.
fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    digits
        .parse::<u64>()
        .map_err(|_| format!("expected a whole number from -{max} to {max}, got {s:?}", max = u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_seeds_are_their_absolute_value_as_in_cpython() {
        assert_eq!(parse_seed("7"), Ok(7));
        assert_eq!(parse_seed("-7"), Ok(7));
        assert_eq!(parse_seed("-18446744073709551615"), Ok(u64::MAX));
        for bad in ["--7", "1.5", "seven", "", "18446744073709551616"] {
            assert!(parse_seed(bad).unwrap_err().contains("expected a whole number"), "{bad}");
        }
    }
}
