//! `asb inspect FILE [--json]`: what a recording holds, at a glance.
//!
//! Calls by outcome, models, tokens (cache reads and writes apart), latency percentiles of
//! the completed calls, the tools the model called, every error, the agent threads, and the
//! wall-clock span. One [`Summary`] is built, then printed as a table or as JSON, so the two
//! always say the same thing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::display::{count, cut, duration_ms, plural};
use crate::recording::reader;

use super::arrival::{self, StartSource};
use super::facts::{CallFacts, FactsReader};
use crate::stats::Distribution;

#[derive(Debug, Clone, Args)]
pub(crate) struct InspectArgs {
    /// The recording (a JSONL file written by `asb record`, or one of AgenticSwarmBench's).
    pub file: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    pub file: String,
    /// Lines with `format_version` 1, and AgenticSwarmBench (the original asb)'s lines
    /// (without it).
    pub lines: LineKinds,
    pub calls: Calls,
    pub models: BTreeMap<String, u64>,
    pub tokens: Tokens,
    pub latency: Latency,
    pub tool_calls: BTreeMap<String, u64>,
    pub errors: Vec<ErrorEntry>,
    pub threads: Threads,
    pub span: Span,
}

#[derive(Debug, Serialize)]
pub(crate) struct LineKinds {
    pub v1: usize,
    pub asb: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct Calls {
    pub total: usize,
    pub completed: usize,
    pub failed: usize,
    pub by_outcome: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Tokens {
    /// All input tokens, cached included.
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
    pub reasoning: u64,
    /// Calls whose cache split is known (they have `usage`): cache figures cover only these.
    pub calls_with_usage: usize,
    /// Calls whose input (output) token count is not recorded: not counted in the totals.
    pub calls_without_input: usize,
    pub calls_without_output: usize,
}

/// Of the completed calls.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    pub total_time_s: Option<Distribution>,
    pub ttft_ms: Option<Distribution>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ErrorEntry {
    pub seq: u64,
    pub line: usize,
    pub outcome: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Threads {
    pub count: usize,
    /// In order of first arrival.
    pub calls: Vec<ThreadCalls>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ThreadCalls {
    pub thread_id: String,
    pub calls: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Span {
    /// First arrival → last end.
    pub seconds: f64,
    /// `start_offset_ms`, `timestamp` or `end_to_end`.
    pub from: &'static str,
    #[serde(skip)]
    pub source: StartSource,
    pub recorder_runs: usize,
    /// Of the call that arrived first (read again off its line: the facts do not keep it).
    pub first_timestamp: Option<String>,
    #[serde(skip)]
    pub first_line: Option<usize>,
}

/// `asb inspect`.
pub(crate) fn run(args: InspectArgs) -> Result<ExitCode> {
    let mut facts = FactsReader::default();
    let calls = super::load_with(&args.file, |_, c| facts.of(&c))?;
    let mut summary = summarize(&args.file.display().to_string(), &calls);
    if let Some(line) = summary.span.first_line {
        let first = reader::call_at_line(&args.file, line).map_err(|e| anyhow::anyhow!("{e}"))?;
        summary.span.first_timestamp = first.map(|c| c.timestamp).filter(|t| !t.is_empty());
    }
    let text = if args.json { serde_json::to_string_pretty(&summary)? + "\n" } else { render(&summary) };
    crate::output::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The summary of the calls; its `span.first_timestamp` is left for the caller, which
/// reads it off the first call's line (the facts do not keep the text).
fn summarize(file: &str, calls: &[CallFacts]) -> Summary {
    let schedule = arrival::schedule(calls);
    let arrival_order: Vec<&CallFacts> = schedule.calls.iter().map(|p| &calls[p.index]).collect();
    let v1 = calls.iter().filter(|c| c.v1).count();
    Summary {
        file: file.to_string(),
        lines: LineKinds { v1, asb: calls.len() - v1 },
        calls: count_calls(calls),
        models: tally(calls.iter().map(|c| &*c.model)),
        tokens: sum_tokens(calls),
        latency: latency(calls),
        tool_calls: tally(calls.iter().flat_map(|c| c.tool_calls.iter().map(|t| &**t))),
        errors: arrival_order
            .iter()
            .filter_map(|c| {
                Some(ErrorEntry {
                    seq: c.seq,
                    line: c.line,
                    outcome: c.outcome().into(),
                    error: c.error.as_deref()?.into(),
                })
            })
            .collect(),
        threads: threads(&arrival_order),
        span: Span {
            seconds: schedule.span_ms() / 1000.0,
            from: schedule.source.name(),
            source: schedule.source,
            recorder_runs: schedule.runs,
            first_timestamp: None,
            first_line: arrival_order.first().map(|c| c.line),
        },
    }
}

fn tally<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for item in items {
        match out.get_mut(item) {
            Some(n) => *n += 1,
            None => {
                out.insert(item.to_string(), 1);
            }
        }
    }
    out
}

fn count_calls(calls: &[CallFacts]) -> Calls {
    let by_outcome = tally(calls.iter().map(|c| c.outcome()));
    let completed = by_outcome.get("completed").copied().unwrap_or(0) as usize;
    Calls { total: calls.len(), completed, failed: calls.len() - completed, by_outcome }
}

fn sum_tokens(calls: &[CallFacts]) -> Tokens {
    let mut t = Tokens::default();
    for c in calls {
        let (input, output) = (c.input_tokens(), c.output_tokens());
        t.input += input.unwrap_or(0);
        t.output += output.unwrap_or(0);
        t.calls_without_input += usize::from(input.is_none());
        t.calls_without_output += usize::from(output.is_none());
        if let Some(u) = &c.usage {
            t.calls_with_usage += 1;
            t.cache_read += u.cache_read;
            t.cache_creation += u.cache_creation;
            t.reasoning += u.reasoning;
        }
    }
    t
}

fn latency(calls: &[CallFacts]) -> Latency {
    let completed = || calls.iter().filter(|c| !c.failed());
    Latency {
        total_time_s: Distribution::of(completed().filter_map(|c| c.total_time_s())),
        ttft_ms: Distribution::of(completed().filter_map(|c| c.ttft_ms())),
    }
}

fn threads(arrival_order: &[&CallFacts]) -> Threads {
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut calls: Vec<ThreadCalls> = Vec::new();
    for c in arrival_order {
        let Some(id) = &c.thread_id else { continue };
        match index.get(&**id) {
            Some(&i) => calls[i].calls += 1,
            None => {
                index.insert(id, calls.len());
                calls.push(ThreadCalls { thread_id: id.to_string(), calls: 1 });
            }
        }
    }
    Threads { count: calls.len(), calls }
}

// ---- the table ------------------------------------------------------------------------

/// The human-readable report.
pub(crate) fn render(s: &Summary) -> String {
    let mut out = String::new();
    let kinds = match (s.lines.v1, s.lines.asb) {
        (0, 0) => "none (empty recording)".to_string(),
        (0, asb) => format!("{} (AgenticSwarmBench's, no format_version)", plural(asb, "line")),
        (v1, 0) => format!("{}, format v1", plural(v1, "line")),
        (v1, asb) => {
            format!("{} format v1, {} AgenticSwarmBench's (no format_version)", plural(v1, "line"), plural(asb, "line"))
        }
    };
    let _ = writeln!(out, "recording   {}", s.file);
    let _ = writeln!(out, "lines       {kinds}");
    let _ = writeln!(out, "calls       {}", calls_line(&s.calls));
    let _ = writeln!(out, "models      {}", if s.models.is_empty() { "none".into() } else { list(&s.models) });
    let _ = writeln!(out, "tokens      {}", tokens_line(&s.tokens, s.calls.total));
    let _ = writeln!(out, "span        {}", span_line(&s.span));
    let _ = writeln!(out, "threads     {}", threads_line(&s.threads));
    let tools = match (s.tool_calls.is_empty(), s.lines.v1) {
        (false, _) => list(&s.tool_calls),
        (true, 0) => "unknown (asb lines keep no answer)".into(),
        (true, _) => "none".into(),
    };
    let _ = writeln!(out, "tool calls  {tools}");
    let _ = writeln!(out);
    out.push_str(&latency_table(&s.latency));
    let _ = writeln!(out);
    if s.errors.is_empty() {
        let _ = writeln!(out, "errors      none");
    } else {
        let _ = writeln!(out, "errors      {}", s.errors.len());
        for e in &s.errors {
            let _ = writeln!(out, "  #{} (line {}) {}: {}", e.seq, e.line, e.outcome, e.error);
        }
    }
    out
}

fn calls_line(c: &Calls) -> String {
    let mut line = format!("{} ({} completed, {} failed)", c.total, c.completed, c.failed);
    let failures: Vec<String> =
        c.by_outcome.iter().filter(|(o, _)| *o != "completed").map(|(o, n)| format!("{o} {n}")).collect();
    if !failures.is_empty() {
        let _ = write!(line, ": {}", failures.join(", "));
    }
    line
}

/// `a ×3, b ×1`, most frequent first.
fn list(counts: &BTreeMap<String, u64>) -> String {
    let mut items: Vec<(&String, &u64)> = counts.iter().collect();
    items.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    items
        .iter()
        .map(|(k, n)| format!("{} ×{n}", if k.is_empty() { "(none)" } else { k }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tokens_line(t: &Tokens, calls: usize) -> String {
    let total = |name: &str, n: u64, missing: usize| {
        if missing == calls && calls > 0 {
            format!("{name} unknown")
        } else {
            format!("{name} {}", count(n))
        }
    };
    let mut line = format!(
        "{}, {}",
        total("input", t.input, t.calls_without_input),
        total("output", t.output, t.calls_without_output)
    );
    if t.calls_with_usage > 0 {
        let _ = write!(line, ", cache read {}, cache creation {}", count(t.cache_read), count(t.cache_creation));
        if t.reasoning > 0 {
            let _ = write!(line, ", reasoning {}", count(t.reasoning));
        }
        if t.calls_with_usage < calls {
            let _ = write!(line, " (cache split known for {} of {calls} calls)", t.calls_with_usage);
        }
    } else {
        line.push_str(" (no usage objects: cache reads and writes unknown)");
    }
    let partly = |missing: usize| missing > 0 && missing < calls;
    match (partly(t.calls_without_input), partly(t.calls_without_output)) {
        (true, true) if t.calls_without_input == t.calls_without_output => {
            let _ = write!(line, "; no token counts on {}", plural(t.calls_without_input, "call"));
        }
        (input, output) => {
            if input {
                let _ = write!(line, "; input unknown on {}", plural(t.calls_without_input, "call"));
            }
            if output {
                let _ = write!(line, "; output unknown on {}", plural(t.calls_without_output, "call"));
            }
        }
    }
    line
}

fn span_line(s: &Span) -> String {
    let mut line = format!("{} wall clock, {}", duration_ms(s.seconds * 1000.0), s.source.describe());
    if s.recorder_runs > 1 {
        let _ = write!(line, "; {} recorder runs", s.recorder_runs);
    }
    if let Some(ts) = &s.first_timestamp {
        let _ = write!(line, "; first call {ts}");
    }
    line
}

fn threads_line(t: &Threads) -> String {
    if t.count == 0 {
        return "none recorded (asb lines have no thread_id)".into();
    }
    const SHOWN: usize = 8;
    let mut items: Vec<String> =
        t.calls.iter().take(SHOWN).map(|c| format!("{} ×{}", cut(&c.thread_id, 12), c.calls)).collect();
    if t.calls.len() > SHOWN {
        items.push(format!("… {} more", t.calls.len() - SHOWN));
    }
    format!("{}: {}", t.count, items.join(", "))
}

fn latency_table(l: &Latency) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20}{:>6}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "latency (completed)", "n", "total", "mean", "p50", "p90", "p99", "max"
    );
    let rows: [(&str, &Option<Distribution>, f64); 2] =
        [("total_time", &l.total_time_s, 1000.0), ("ttft", &l.ttft_ms, 1.0)];
    for (name, dist, to_ms) in rows {
        let Some(d) = dist else {
            let _ = writeln!(out, "{name:<20}{:>6}  (not recorded)", 0);
            continue;
        };
        let ms = |v: f64| duration_ms(v * to_ms);
        let _ = writeln!(
            out,
            "{name:<20}{:>6}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            d.count,
            ms(d.sum),
            ms(d.mean),
            ms(d.p50),
            ms(d.p90),
            ms(d.p99),
            ms(d.max)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::facts::facts;
    use crate::recording::line::{CallLine, CallResult, Outcome, Timing, ToolCall, Usage};
    use crate::recording::reader::NumberedCall;

    fn numbered(line: usize, call: CallLine) -> NumberedCall {
        NumberedCall { line, call }
    }

    fn v1_call(seq: u64, thread: &str, offset: f64) -> CallLine {
        CallLine {
            seq,
            model: "m".into(),
            format_version: Some(1),
            outcome: Some(Outcome::Completed),
            start_offset_ms: Some(offset),
            thread_id: Some(thread.into()),
            total_time_s: Some(0.1),
            ttft_ms: Some(10.0),
            usage: Some(Usage {
                input_tokens: 100,
                input_uncached: 40,
                cache_read: 50,
                cache_creation: 10,
                output_tokens: 5,
                source: "server".into(),
                ..Default::default()
            }),
            timing: Some(Timing { ttft_ms: Some(10.0), end_ms: 100.0, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn summary_counts_everything() {
        let mut tool = v1_call(1, "t1", 0.0);
        tool.result = Some(CallResult {
            tool_calls: vec![ToolCall { id: "1".into(), name: "Bash".into(), arguments: "{}".into() }],
            ..Default::default()
        });
        let mut failed = v1_call(3, "t2", 50.0);
        failed.outcome = Some(Outcome::UpstreamError);
        failed.error = Some("server_error: boom".into());
        failed.usage = None;
        failed.ttft_ms = None;
        let calls = vec![numbered(1, tool), numbered(2, v1_call(2, "t1", 20.0)), numbered(3, failed)];
        let s = summarize("f", &facts(&calls));
        assert_eq!((s.calls.total, s.calls.completed, s.calls.failed), (3, 2, 1));
        assert_eq!(s.calls.by_outcome["upstream_error"], 1);
        assert_eq!(s.models["m"], 3);
        assert_eq!((s.tokens.input, s.tokens.output, s.tokens.cache_read, s.tokens.cache_creation), (200, 10, 100, 20));
        assert_eq!(s.tool_calls["Bash"], 1);
        assert_eq!(s.errors.len(), 1);
        assert_eq!((s.errors[0].seq, s.errors[0].line, s.errors[0].outcome.as_str()), (3, 3, "upstream_error"));
        assert_eq!(s.threads.count, 2);
        assert_eq!((s.threads.calls[0].thread_id.as_str(), s.threads.calls[0].calls), ("t1", 2));
        assert_eq!(s.latency.total_time_s.as_ref().unwrap().count, 2, "failed calls are left out of latency");
        assert!((s.span.seconds - 0.15).abs() < 1e-9, "{}", s.span.seconds);
        let text = render(&s);
        assert!(text.contains("3 (2 completed, 1 failed): upstream_error 1"), "{text}");
        assert!(text.contains("#3 (line 3) upstream_error: server_error: boom"), "{text}");
    }

    #[test]
    fn asb_lines_show_what_they_know() {
        let asb = CallLine {
            seq: 1,
            model: "claude".into(),
            prompt_tokens: Some(42_883),
            completion_tokens: Some(296),
            total_time_s: Some(5.914),
            ttft_ms: Some(2656.36),
            ..Default::default()
        };
        let s = summarize("f", &facts(&[numbered(1, asb)]));
        assert_eq!((s.tokens.input, s.tokens.output, s.tokens.calls_with_usage), (42_883, 296, 0));
        assert_eq!(s.threads.count, 0);
        let text = render(&s);
        assert!(text.contains("input 42,883, output 296 (no usage objects"), "{text}");
        assert!(text.contains("cache reads and writes unknown"), "{text}");
        let no_input = CallLine { seq: 2, completion_tokens: Some(4), ..Default::default() };
        let s = summarize("f", &facts(&[numbered(1, no_input.clone()), numbered(2, no_input)]));
        assert!(render(&s).contains("input unknown, output 8"), "{}", render(&s));
        assert!(text.contains("none recorded"), "{text}");
    }
}
