//! What a replay run produces, as saved in its JSON: the effective settings, every raw
//! per-request sample (ITL gaps included), and the statistics derived from them — overall
//! and per context bucket. `asb report` and `asb compare` read this back, so everything a
//! report shows can be recomputed from the file.
//!
//! Times are milliseconds unless the name says otherwise; rates are tokens per second.
//! Each statistic's formula is in [`formulas`] and is printed next to it in every report.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use serde::ser::{Error as _, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::itl_histogram::ItlHistogram;
use super::sample_row::SampleRow;
use super::sample_store::{SharedSpill, Spilled, SpilledSessions};
use super::session_row::SessionRow;

use crate::stats::Distribution;

/// The format of the run JSON; a reader refuses a newer one with a clear message.
pub(crate) const RESULTS_VERSION: u32 = 1;

/// One replay run, as written to `run.json` and to stdout with `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunResults {
    pub results_version: u32,
    /// `asb X.Y.Z`.
    pub tool: String,
    /// `--label`: the run's name in reports and comparisons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// ISO-8601 UTC time the first request was sent.
    pub started_at: String,
    /// The endpoint as the user gave it (`builtin` for the embedded mock).
    pub endpoint: String,
    /// The URL requests were POSTed to.
    pub target_url: String,
    /// `openai` (Chat Completions) or `anthropic` (Messages).
    pub api: String,
    pub model: String,
    pub scenario: ScenarioInfo,
    pub settings: Settings,
    /// Metric name → formula, for every metric in `summary`, `buckets` and `requests`.
    pub formulas: BTreeMap<String, String>,
    pub summary: Summary,
    /// Context buckets in size order (fresh … xxl); only buckets that received requests.
    pub buckets: Vec<BucketStats>,
    /// The load delivered: model, think time, schedule lag, window, sessions.
    #[serde(default)]
    pub load: Option<super::load::LoadSummary>,
    /// `--slo`: attainment and goodput over the window.
    #[serde(default)]
    pub slo: Option<super::slo::SloReport>,
    /// The scenario's answer checks (`evaluate`), run on the endpoint's answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_checks: Option<super::answer_checks::AnswerChecks>,
    /// `--shard`: which part of a run this is, and what its other parts must share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::shard::ShardInfo>,
    /// A report merged from shards: which ones, and how their clocks lined up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<super::report::merge::MergeInfo>,
    /// Every request sent, in the order they were started (a big run's are streamed from
    /// its spill file when written). Written after everything else, with `sessions`, by
    /// [`super::run_json`] (the columns of [`super::run_columns`] just before them).
    #[serde(default, skip_serializing)]
    pub requests: Requests,
    /// Set when the ITL figures come from HDR histograms, not from every raw gap (a run
    /// past its raw-gap cap): the bound they carry. Absent: ITL figures are exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_bound: Option<String>,
    /// Every session as it ran (none for `--request-rate`).
    #[serde(default, skip_serializing)]
    pub sessions: SessionList,
    /// Why the run stopped early (`--max-consecutive-failures`, Ctrl+C), if it did.
    pub aborted: Option<String>,
    /// What the server saw: its `/metrics` scraped through the run (absent with
    /// `--no-server-metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_metrics: Option<super::server_metrics::ServerMetrics>,
    /// Cached prompt tokens as reported against what the cache mode should give, the
    /// cache reset, warm-start warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache: Option<super::server_metrics::prefix::PrefixCacheReport>,
    /// Our clock against the server's own timings (llama.cpp), when it sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_check: Option<super::server_metrics::timings::ClockCheck>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ScenarioInfo {
    pub name: String,
    /// Path, or `builtin:NAME`.
    pub source: String,
    pub description: String,
    pub tasks: Vec<TaskInfo>,
    /// Requests per pass over the scenario (after slicing), before repetitions.
    pub requests: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskInfo {
    pub id: String,
    pub name: String,
    /// Requests of this task replayed per execution (after slicing).
    pub requests: usize,
    /// Requests in the recording before slicing.
    pub recorded_requests: usize,
}

/// What was really sent and how: printed in the header, saved in the JSON, so a run can be
/// compared honestly with another tool's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Settings {
    /// `realistic`, `allwarm` or `allcold`.
    pub cache_mode: String,
    /// What the cache mode did, in words (e.g. the shared prefix kept warm).
    pub cache_detail: String,
    /// Characters of the shared prefix kept warm (realistic), 0 for allcold, null for allwarm.
    pub shared_prefix_chars: Option<usize>,
    /// `recorded` or `live`.
    pub history_mode: String,
    pub repetitions: u32,
    pub max_concurrent: usize,
    /// The load model, in words (`--sessions`, `--session-rate`, `--request-rate`).
    #[serde(default)]
    pub load: String,
    /// `--think-time` as run.
    #[serde(default)]
    pub think_time: String,
    /// `round_robin`, `sequential` or `random`.
    pub policy: String,
    /// The seed of the random policy (drawn and printed when not given).
    pub seed: Option<u64>,
    pub slice_tokens: Option<u64>,
    /// What max_tokens was sent, in words (`as recorded (64–32000)`).
    pub max_tokens: String,
    /// What temperature was sent, in words.
    pub temperature: String,
    pub timeout_s: f64,
    /// Retries allowed per request (connect errors, 429, 5xx before the first byte).
    pub max_retries: u32,
    pub max_consecutive_failures: Option<u32>,
    /// Total executions (tasks × repetitions) and requests scheduled.
    pub executions: usize,
    pub scheduled_requests: usize,
    /// `--model-context-length`, and how many of the scenario's requests it left out (per
    /// pass: each execution skips them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_context_length: Option<u64>,
    #[serde(default)]
    pub over_context: usize,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// `good`, `ok`, `poor` or `unknown` (AgenticSwarmBench (the original asb)'s
    /// thresholds, see `verdict_basis`).
    pub verdict: String,
    /// Which bucket and numbers the verdict was taken from.
    pub verdict_basis: String,
    pub requests: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Extra attempts made by retries, over all requests.
    pub retries: u64,
    /// First request sent → last byte received, seconds.
    pub duration_s: f64,
    pub request_throughput: f64,
    pub output_tok_per_s: f64,
    pub total_tok_per_s: f64,
    /// Mean requests in flight: Σ e2e / duration.
    pub concurrency: f64,
    pub input_tokens: u64,
    pub cached_tokens: u64,
    pub output_tokens: u64,
    /// cached_tokens / input_tokens over requests whose server reported both.
    pub cache_hit_rate: Option<f64>,
    /// Successful requests whose output count is the chars/4 estimate (no server usage).
    pub estimated_output_counts: usize,
    pub metrics: Metrics,
    /// Errors grouped by their message (first 200 chars), most frequent first.
    pub errors: Vec<ErrorCount>,
}

/// Distributions over the successful requests of a bucket or of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Metrics {
    pub ttft_ms: Option<Distribution>,
    /// Every gap between consecutive output-bearing events, all requests pooled.
    pub itl_ms: Option<Distribution>,
    pub tpot_ms: Option<Distribution>,
    pub e2e_ms: Option<Distribution>,
    /// TTFT and e2e measured from the intended send time.
    #[serde(default)]
    pub ttft_from_due_ms: Option<Distribution>,
    #[serde(default)]
    pub e2e_from_due_ms: Option<Distribution>,
    pub decode_tok_per_s: Option<Distribution>,
    pub asb_decode_tok_per_s: Option<Distribution>,
    pub prefill_tok_per_s: Option<Distribution>,
    pub prefill_total_tok_per_s: Option<Distribution>,
    pub prompt_tokens: Option<Distribution>,
    pub completion_tokens: Option<Distribution>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BucketStats {
    /// fresh, short, medium, long, full, xl, xxl.
    pub name: String,
    /// Prompt tokens covered: `lower ≤ n < upper` (upper null for the last bucket).
    pub lower: u64,
    pub upper: Option<u64>,
    pub requests: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Largest prompt in the bucket (server count, else estimate).
    pub max_prompt_tokens: u64,
    pub mean_prompt_tokens: f64,
    /// First request sent → last byte received among this bucket's requests, seconds.
    pub wall_time_s: f64,
    /// Σ output tokens of the bucket's successes / wall_time_s.
    pub aggregate_tok_per_s: f64,
    pub output_tokens: u64,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ErrorCount {
    pub error: String,
    pub count: usize,
}

/// One request as sent and measured: the raw samples every statistic is computed from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RequestSample {
    pub task_id: String,
    /// Repetition of the task, 0-based.
    pub execution: u32,
    /// Position of the request in its task, 0-based.
    pub turn: usize,
    /// The recording line's `seq`.
    pub seq: u64,
    /// The recording's thread id (main agent vs sub-agents), when it has one.
    pub thread: Option<String>,
    /// The session slot (concurrency slot) that sent it, 0-based.
    pub slot: usize,
    /// The session it belongs to, numbered in start order from 0.
    #[serde(default)]
    pub session: u64,
    /// Its intended send time, ms from the run's start: the session's start plus its
    /// offset, the end of what it waited for plus its think time, or its arrival.
    pub scheduled_ms: f64,
    /// When the first attempt was written, ms from the run's start.
    #[serde(default)]
    pub first_send_ms: Option<f64>,
    /// Schedule lag: first_send_ms − scheduled_ms.
    #[serde(default)]
    pub lag_ms: Option<f64>,
    /// When the last attempt was sent, ms from the run's start.
    pub start_ms: f64,
    pub attempts: u32,
    /// Time spent opening the worker's connection before this request (0 when reused);
    /// not part of TTFT.
    #[serde(default)]
    pub connect_ms: f64,
    /// Times the request went again on a new connection because the server had closed
    /// the reused one without answering (a keep-alive race, not a retry).
    #[serde(default)]
    pub resent: u32,
    /// Response body frames, and how many were timed by the kernel's receive timestamp
    /// (plain http on Linux) rather than when the worker read them.
    #[serde(default)]
    pub frames: u64,
    #[serde(default)]
    pub kernel_timed_frames: u64,
    pub status: Option<u16>,
    /// The server's request id header (`x-request-id`, `request-id`), for joining logs.
    pub request_id: Option<String>,
    pub ttft_ms: Option<f64>,
    /// Send → last output-bearing event.
    pub e2e_ms: Option<f64>,
    /// Intended send time → first output-bearing event (coordinated omission excluded).
    #[serde(default)]
    pub ttft_from_due_ms: Option<f64>,
    /// Intended send time → last output-bearing event.
    #[serde(default)]
    pub e2e_from_due_ms: Option<f64>,
    /// Inside the measurement window (`--warmup`/`--cooldown`): counted in the summary.
    #[serde(default = "yes")]
    pub in_window: bool,
    /// Send → end of the response (stream end marker or body end).
    pub total_ms: Option<f64>,
    /// Gaps between consecutive output-bearing events, in order.
    pub itl_ms: Vec<f64>,
    /// Output-bearing events (chunks), and all events.
    pub content_events: u64,
    pub events: u64,
    /// The server's prompt tokens (input + cache read + cache creation for Anthropic).
    pub prompt_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    /// What an ideal prefix cache would have held under the cache mode (see
    /// server_metrics::prefix); absent without server usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_cached_tokens: Option<u64>,
    /// The server's own timings of this answer (llama.cpp `timings`), when it sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_timings: Option<super::server_metrics::timings::ServerTimings>,
    pub completion_tokens: u64,
    /// `usage` (server) or `estimate` (chars/4 of the output text).
    pub completion_source: String,
    /// chars/4 of the text sent (messages, system, tools).
    pub context_tokens_estimate: u64,
    pub bucket: String,
    pub tpot_ms: Option<f64>,
    pub decode_tok_per_s: Option<f64>,
    pub asb_decode_tok_per_s: Option<f64>,
    pub prefill_tok_per_s: Option<f64>,
    pub prefill_total_tok_per_s: Option<f64>,
    pub stop_reason: Option<String>,
    pub error: Option<String>,
    /// No error and at least one output token.
    pub ok: bool,
    /// The answer's text, kept only for a task with answer checks (not saved).
    #[serde(skip)]
    pub answer_text: Option<String>,
}

fn yes() -> bool {
    true
}

/// A run's requests: held whole (a run read from its JSON, a small run), or a big run's
/// spill, or shards merged from their columns, with a few thousand samples drawn evenly
/// for plots (`shown`).
///
/// Derefs to the held samples, which are all of them unless [`Requests::rows`] says
/// otherwise; [`Requests::for_each`] and serialization always give every request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Requests {
    held: Vec<RequestSample>,
    beyond: Option<Beyond>,
}

/// Where the requests not held are.
#[derive(Debug, Clone)]
enum Beyond {
    Spilled(SharedSpill),
    Merged(std::sync::Arc<MergedRows>),
}

/// Shards merged from their columns: the rows every figure is computed from, and where
/// the full samples are read when written out (`-o merged.json`, `.csv`).
#[derive(Debug)]
pub(crate) struct MergedRows {
    pub rows: Vec<SampleRow>,
    pub itl: Vec<ItlHistogram>,
    pub gaps_dropped: bool,
    /// Shared with the merged run's sessions, which read theirs from it.
    pub source: std::sync::Arc<dyn SampleSource>,
}

/// The full samples of a run whose rows alone are held: read in order, one at a time.
pub(crate) trait SampleSource: std::fmt::Debug + Send + Sync {
    /// Every request in start order.
    fn requests(&self, each: &mut dyn FnMut(&RequestSample) -> anyhow::Result<()>) -> anyhow::Result<()>;
    /// Every session in due order.
    fn sessions(&self, each: &mut dyn FnMut(&SessionSample) -> anyhow::Result<()>) -> anyhow::Result<()>;
}

/// The compact rows of a run whose samples are not all held (spilled, or merged).
pub(crate) struct Rows<'a> {
    /// Every request's row.
    pub rows: &'a [SampleRow],
    /// Per context bucket, the window's successful requests' gaps.
    pub itl: &'a [ItlHistogram],
    /// The rows hold no raw gaps: ITL figures come from `itl`.
    pub gaps_dropped: bool,
}

impl Requests {
    /// A spilled run's requests: its plot samples held, the rest on disk.
    pub(crate) fn from_spill(mut spilled: Box<Spilled>) -> Requests {
        let held = std::mem::take(&mut spilled.shown);
        Requests { held, beyond: Some(Beyond::Spilled(std::sync::Arc::from(spilled))) }
    }

    /// Shards merged from their columns: `shown` held for the plots, the rows for the figures.
    pub(crate) fn from_merged(shown: Vec<RequestSample>, merged: MergedRows) -> Requests {
        Requests { held: shown, beyond: Some(Beyond::Merged(std::sync::Arc::new(merged))) }
    }

    /// The rows, when the held samples are only a sample of the requests.
    pub(crate) fn rows(&self) -> Option<Rows<'_>> {
        match self.beyond.as_ref()? {
            Beyond::Spilled(s) => Some(Rows { rows: &s.rows, itl: &s.itl, gaps_dropped: s.gaps_dropped }),
            Beyond::Merged(m) => Some(Rows { rows: &m.rows, itl: &m.itl, gaps_dropped: m.gaps_dropped }),
        }
    }

    /// How many requests there are in all.
    pub(crate) fn total(&self) -> usize {
        self.rows().map_or(self.held.len(), |r| r.rows.len())
    }

    /// Every request in start order (read back from the spill file when spilled).
    pub(crate) fn for_each(&self, mut each: impl FnMut(&RequestSample) -> anyhow::Result<()>) -> anyhow::Result<()> {
        match &self.beyond {
            Some(Beyond::Spilled(s)) => s.for_each(each),
            Some(Beyond::Merged(m)) => m.source.requests(&mut each),
            None => self.held.iter().try_for_each(&mut each),
        }
    }
}

impl From<Vec<RequestSample>> for Requests {
    fn from(held: Vec<RequestSample>) -> Self {
        Requests { held, beyond: None }
    }
}

impl Deref for Requests {
    type Target = Vec<RequestSample>;
    fn deref(&self) -> &Vec<RequestSample> {
        &self.held
    }
}

impl DerefMut for Requests {
    fn deref_mut(&mut self) -> &mut Vec<RequestSample> {
        &mut self.held
    }
}

impl Serialize for Requests {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        if self.beyond.is_none() {
            return self.held.serialize(serializer);
        }
        serialize_read_back(serializer, self.total(), |each| self.for_each(each))
    }
}

/// A run's sessions: held whole, or a big run's spilled, or shards merged from their
/// columns (then none held; their rows serve the figures and plots, [`SessionList::rows`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionList {
    held: Vec<SessionSample>,
    beyond: Option<SessionsBeyond>,
}

#[derive(Debug, Clone)]
enum SessionsBeyond {
    Spilled(std::sync::Arc<SpilledSessions>),
    /// The merged sessions' rows, and where the full ones are read.
    Merged(std::sync::Arc<Vec<SessionRow>>, std::sync::Arc<dyn SampleSource>),
}

impl SessionList {
    pub(crate) fn from_spill(spilled: Box<SpilledSessions>) -> SessionList {
        SessionList { held: Vec::new(), beyond: Some(SessionsBeyond::Spilled(std::sync::Arc::from(spilled))) }
    }

    /// Merged sessions: their rows, the full ones read from `source`.
    pub(crate) fn from_merged(rows: Vec<SessionRow>, source: std::sync::Arc<dyn SampleSource>) -> SessionList {
        SessionList { held: Vec::new(), beyond: Some(SessionsBeyond::Merged(std::sync::Arc::new(rows), source)) }
    }

    /// How many sessions there are in all.
    pub(crate) fn total(&self) -> usize {
        match &self.beyond {
            None => self.held.len(),
            Some(SessionsBeyond::Spilled(s)) => s.len(),
            Some(SessionsBeyond::Merged(rows, _)) => rows.len(),
        }
    }

    /// Each session's row, one pass, when the sessions are not held; a spill's read error
    /// ends the pass early, and [`SessionList::check`] returns it.
    pub(crate) fn rows(&self) -> Option<Box<dyn Iterator<Item = SessionRow> + '_>> {
        match self.beyond.as_ref()? {
            SessionsBeyond::Spilled(s) => Some(Box::new(s.rows())),
            SessionsBeyond::Merged(rows, _) => Some(Box::new(rows.iter().cloned())),
        }
    }

    /// The error that ended a pass of [`SessionList::rows`] early, if one did.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        match &self.beyond {
            Some(SessionsBeyond::Spilled(s)) => s.check(),
            _ => Ok(()),
        }
    }

    /// Every session in due order.
    fn for_each(&self, mut each: impl FnMut(&SessionSample) -> anyhow::Result<()>) -> anyhow::Result<()> {
        match &self.beyond {
            None => self.held.iter().try_for_each(&mut each),
            Some(SessionsBeyond::Spilled(s)) => s.for_each(each),
            Some(SessionsBeyond::Merged(_, source)) => source.sessions(&mut each),
        }
    }
}

impl From<Vec<SessionSample>> for SessionList {
    fn from(held: Vec<SessionSample>) -> Self {
        SessionList { held, beyond: None }
    }
}

impl Deref for SessionList {
    type Target = Vec<SessionSample>;
    fn deref(&self) -> &Vec<SessionSample> {
        &self.held
    }
}

impl DerefMut for SessionList {
    fn deref_mut(&mut self) -> &mut Vec<SessionSample> {
        &mut self.held
    }
}

impl Serialize for SessionList {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        if self.beyond.is_none() {
            return self.held.serialize(serializer);
        }
        serialize_read_back(serializer, self.total(), |each| self.for_each(each))
    }
}

/// A JSON array of what a spill file holds, read back one item at a time: a serializer's
/// error is returned as it came, a read error as the serializer's custom error.
fn serialize_read_back<T: Serialize, Ser: Serializer>(
    serializer: Ser,
    len: usize,
    read_each: impl FnOnce(&mut dyn FnMut(&T) -> anyhow::Result<()>) -> anyhow::Result<()>,
) -> Result<Ser::Ok, Ser::Error> {
    let mut seq = serializer.serialize_seq(Some(len))?;
    let mut failed = None;
    let read = read_each(&mut |item| {
        seq.serialize_element(item).map_err(|e| {
            let message = e.to_string();
            failed = Some(e);
            anyhow::anyhow!(message)
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    read.map_err(|e| Ser::Error::custom(format!("{e:#}")))?;
    seq.end()
}

impl<'de> Deserialize<'de> for SessionList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<SessionSample>::deserialize(deserializer).map(SessionList::from)
    }
}

impl<'de> Deserialize<'de> for Requests {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<RequestSample>::deserialize(deserializer).map(Requests::from)
    }
}

/// One session as it ran: the figures an agent's user sees across its calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SessionSample {
    pub session: u64,
    pub task_id: String,
    pub execution: u32,
    pub slot: usize,
    /// Intended start, ms from the run's start.
    pub due_ms: f64,
    /// First request written, and last answer ended, ms from the run's start.
    pub start_ms: Option<f64>,
    pub end_ms: Option<f64>,
    /// Calls in the task, calls sent, sent calls that failed.
    pub calls: usize,
    pub sent: usize,
    pub failed: usize,
    /// Every call was sent (the run did not stop it at `--duration` or an interrupt).
    pub completed: bool,
    /// Σ think time the schedule applied (recorded gaps after scale and cap), and Σ time
    /// actually passed between the end of what each call waited for and its send.
    pub think_scheduled_ms: f64,
    pub think_measured_ms: f64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    /// cached_tokens / prompt_tokens of the session's requests, from the server's usage.
    pub cache_hit_rate: Option<f64>,
}

/// The formula of every metric, as printed in reports and saved in the JSON.
pub(crate) fn formulas() -> BTreeMap<String, String> {
    let f = [
        ("t0", "just before the request's first byte is written (the last attempt's send)"),
        ("frame time", "when the kernel received the frame (SO_TIMESTAMPNS, plain http on Linux; see kernel_timed_frames), else when the worker read it, before parsing"),
        ("output-bearing event", "an SSE event carrying text, reasoning/thinking or tool-call arguments (OpenAI delta.content / reasoning_content / reasoning / tool_calls; Anthropic text_delta / thinking_delta / input_json_delta)"),
        ("ttft_ms", "t_first_output − t0"),
        ("itl_ms", "gaps between consecutive output-bearing events (per chunk, not per token); a run past its raw-gap cap (4,000,000 gaps held) takes the ITL figures from HDR histograms of every gap: count, mean, min, max exact, percentiles within 0.1 % of the nearest-rank gap (see itl_bound)"),
        ("tpot_ms", "(t_last_output − t_first_output) / (completion_tokens − 1), completion_tokens > 1"),
        ("e2e_ms", "t_last_output − t0"),
        ("scheduled_ms", "the intended send time: the session's start + the call's recorded offset (timestamps), the end of what the call waited for + its think time (recorded), the previous call's end (none), or the arrival (--request-rate)"),
        ("lag_ms", "schedule lag: first attempt's t0 − scheduled_ms"),
        ("ttft_from_due_ms", "t_first_output − scheduled_ms (= ttft_ms + max(0, t0 − scheduled_ms)): latency from when the request was due, coordinated omission excluded"),
        ("e2e_from_due_ms", "t_last_output − scheduled_ms"),
        ("window", "the summary counts requests whose scheduled_ms lies in [--warmup, end − --cooldown]; all requests stay in the JSON with in_window"),
        ("slo attainment", "requests that succeeded and whose own values meet every --slo limit / requests (window)"),
        ("request goodput", "requests meeting every limit / duration_s"),
        ("token goodput", "Σ completion_tokens of the requests meeting every limit / duration_s"),
        ("session goodput", "completed sessions whose every request met every limit / duration_s"),
        ("slo met", "for every limit, its statistic over the window's requests (failed requests as the worst value) meets it"),
        ("session cache_hit_rate", "Σ cached_tokens / Σ prompt_tokens over a session's requests (server usage)"),
        ("total_ms", "t_end − t0 (end of stream: [DONE] / message_stop / body end)"),
        ("decode_tok_per_s", "(completion_tokens − 1) / (t_last_output − t_first_output)"),
        ("asb_decode_tok_per_s", "completion_tokens / (t_end − t_first_output)  (AgenticSwarmBench's decode formula)"),
        ("prefill_tok_per_s", "(prompt_tokens − cached_tokens) / ttft"),
        ("prefill_total_tok_per_s", "prompt_tokens / ttft  (AgenticSwarmBench's prefill formula; a lower bound: TTFT includes queueing and network)"),
        ("completion_tokens", "server usage; else Σ max(1, chars/4) per output-bearing event (labelled estimate)"),
        ("prompt_tokens", "server usage (OpenAI prompt_tokens; Anthropic input + cache_read + cache_creation)"),
        ("context_tokens_estimate", "chars/4 of the text sent (message contents, system, tool definitions)"),
        ("bucket", "by prompt_tokens (server), else context_tokens_estimate: fresh <10k, short <30k, medium <55k, long <85k, full <150k, xl <300k, xxl"),
        ("duration_s", "max(t_end) − min(t0) over the run (or the bucket: wall_time_s)"),
        ("output_tok_per_s", "Σ completion_tokens (successes) / duration_s"),
        ("aggregate_tok_per_s", "Σ completion_tokens of the bucket's successes / bucket wall_time_s"),
        ("total_tok_per_s", "Σ (prompt_tokens + completion_tokens) (successes) / duration_s"),
        ("request_throughput", "successful requests / duration_s"),
        ("concurrency", "Σ (t_end − t0) / duration_s"),
        ("cache_hit_rate", "Σ cached_tokens / Σ prompt_tokens"),
        ("percentiles", "linear interpolation between closest ranks (numpy default) over raw samples of successful requests"),
        ("verdict", "asb thresholds on the medium or long bucket (else the first): good if TTFT p50 ≤ 3000 ms and decode p50 ≥ 30 tok/s; ok if ≤ 10000 ms and ≥ 15 tok/s; else poor"),
    ];
    f.into_iter()
        .chain(super::server_metrics::summary::formulas())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
