//! The plain-text summary printed when a replay ends (and by `asb report` without `-o`):
//! one line per context bucket as AgenticSwarmBench (the original asb) prints it, a table
//! of the bucket medians, the overall line, the verdict with its basis and the most
//! frequent errors. No colours; every line fits in 100 columns. Formulas are not repeated
//! here — the last line says where they are.

use std::fmt::Write as _;

use crate::display::{excerpt, wrap};
use crate::replay::results::{BucketStats, RunResults};

use crate::display::{duration_ms, itl, num, opt, percent, rate0, rate1, seconds, NONE};
use crate::replay::verdict::{self, Grade};
use crate::stats::p50;

/// Columns of the terminal the summary is laid out for.
const WIDTH: usize = 100;
/// Errors listed, most frequent first.
const TOP_ERRORS: usize = 5;

/// The end-of-run summary of `r`.
pub(crate) fn summary(r: &RunResults) -> String {
    let mut out = String::new();
    if r.requests.is_empty() && r.summary.requests == 0 {
        out.push_str("No requests were sent - all were skipped or filtered out.\n");
        return out;
    }

    for b in &r.buckets {
        bucket_line(&mut out, r, b);
    }
    out.push('\n');

    let label = r.label.as_deref().map_or_else(String::new, |l| format!(" [{l}]"));
    let _ = writeln!(out, "{}", excerpt(&format!("Replay: {} -> {}{label}", r.scenario.name, r.model), WIDTH));
    table(&mut out, &r.buckets);
    out.push('\n');

    overall(&mut out, r);
    load_lines(&mut out, r);
    slo_lines(&mut out, r);
    out.push_str(&super::server::console(r));
    if let Some(why) = &r.aborted {
        out.push_str(&indented(&format!("Stopped early: {why}"), "  ", "    "));
    }
    if let Some(bound) = &r.itl_bound {
        out.push_str(&indented(&format!("ITL: {bound}; every other figure exact"), "  ", "    "));
    }
    if let Some(m) = &r.merged {
        let line =
            format!("Merged from {} of {} shards: {}", m.present.len(), m.shards, super::document::merged_detail(m));
        out.push_str(&indented(&line, "  ", "    "));
    }
    if r.summary.estimated_output_counts > 0 {
        let n = r.summary.estimated_output_counts;
        out.push_str(&indented(
            &format!("{n} successful request(s) without server usage: output counts are chars/4 estimates"),
            "  ",
            "    ",
        ));
    }
    verdict_lines(&mut out, r);
    answer_check_lines(&mut out, r);
    errors(&mut out, r);
    out.push_str("  Formulas of every metric: see Metric definitions in the report\n");
    out.push_str("  (asb report -i RUN.json -o report.md, or report.html with plots).\n");
    out
}

/// The load delivered: model and think time, schedule lag and latency from the intended
/// send time, the window, and the sessions.
fn load_lines(out: &mut String, r: &RunResults) {
    let Some(load) = &r.load else { return };
    let dist = |d: &Option<crate::stats::Distribution>, unit: fn(f64) -> String| {
        d.as_ref().map_or(NONE.to_string(), |d| format!("p50 {} p99 {}", unit(d.p50), unit(d.p99)))
    };
    let mut line = format!("Load: {}", load.model);
    if !load.think_time.is_empty() && load.sessions.started > 0 {
        line.push_str(&format!(" | think time {}", load.think_time));
    }
    out.push_str(&indented(&line, "  ", "    "));
    let m = &r.summary.metrics;
    out.push_str(&indented(
        &format!(
            "schedule lag {} | TTFT from due {} | E2E from due {}",
            dist(&load.schedule_lag_ms, duration_ms),
            dist(&m.ttft_from_due_ms, duration_ms),
            dist(&m.e2e_from_due_ms, duration_ms)
        ),
        "    ",
        "      ",
    ));
    let w = &load.window;
    if w.requests_in < w.requests_total {
        out.push_str(&indented(
            &format!("window: {} of {} requests counted: {}", w.requests_in, w.requests_total, w.rule),
            "    ",
            "      ",
        ));
    }
    let s = &load.sessions;
    if s.started > 0 {
        out.push_str(&indented(
            &format!(
                "sessions: {} started, {} completed | duration {} | think time scheduled {}, measured {} | cache hit {}",
                s.started,
                s.completed,
                dist(&s.duration_s, seconds),
                dist(&s.think_scheduled_s, seconds),
                dist(&s.think_measured_s, seconds),
                dist(&s.cache_hit_rate, percent)
            ),
            "    ",
            "      ",
        ));
    }
    if let Some(behind) = &load.behind_schedule {
        out.push_str(&indented(&format!("BEHIND SCHEDULE: {behind}"), "  ", "    "));
    }
}

/// `--slo`: met or not, attainment and goodput, and each limit's observed value.
fn slo_lines(out: &mut String, r: &RunResults) {
    let Some(slo) = &r.slo else { return };
    let attainment = slo.attainment.map_or(NONE.to_string(), percent);
    out.push_str(&indented(
        &format!(
            "SLO {}: {} | attainment {attainment} ({} of {} requests) | goodput {} req/s, {} tok/s, {} sessions/s",
            slo.slo,
            if slo.met { "met" } else { "NOT MET" },
            slo.requests_meeting,
            slo.requests,
            num(slo.request_goodput),
            rate1(slo.token_goodput),
            num(slo.session_goodput)
        ),
        "  ",
        "    ",
    ));
    let limits: Vec<String> = slo
        .limits
        .iter()
        .map(|l| {
            let observed = l.observed.map_or(NONE.to_string(), num);
            format!("{} observed {observed} {}", l.limit, if l.met { "ok" } else { "MISSED" })
        })
        .collect();
    out.push_str(&indented(&limits.join(" | "), "    ", "      "));
}

fn bucket_line(out: &mut String, r: &RunResults, b: &BucketStats) {
    if b.succeeded == 0 {
        let what = if b.requests == 1 {
            "the 1 request failed".to_string()
        } else {
            format!("all {} requests failed", b.requests)
        };
        let _ = writeln!(out, "  {}: {what}", b.name);
        if let Some(error) = most_common_error(r, &b.name) {
            let _ = writeln!(out, "    ↳ {}", excerpt(&error, WIDTH - 6));
        }
        return;
    }
    let m = &b.metrics;
    let line = format!(
        "  {}: {}/{} ok | decode: {} tok/s | prefill: {} tok/s | TTFT: {} p50 | Agg: {} tok/s",
        b.name,
        b.succeeded,
        b.requests,
        opt(p50(&m.decode_tok_per_s), rate1),
        opt(p50(&m.prefill_tok_per_s), rate0),
        opt(p50(&m.ttft_ms), duration_ms),
        rate0(b.aggregate_tok_per_s),
    );
    out.push_str(&indented(line.trim_start(), "  ", "    "));
}

/// The most frequent error among the bucket's requests.
fn most_common_error(r: &RunResults, bucket: &str) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for e in r.requests.iter().filter(|q| q.bucket == bucket).filter_map(|q| q.error.as_deref()) {
        match counts.iter_mut().find(|(text, _)| *text == e) {
            Some((_, n)) => *n += 1,
            None => counts.push((e, 1)),
        }
    }
    // The first of the most frequent: max_by_key keeps the last of equals, so search in reverse.
    counts.iter().rev().max_by_key(|(_, n)| *n).map(|(e, _)| e.to_string())
}

fn table(out: &mut String, buckets: &[BucketStats]) {
    let header =
        ["Context", "Requests", "TTFT p50", "TTFT p99", "ITL p50", "Decode tok/s", "Prefill tok/s", "Agg tok/s", "OK"];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for b in buckets {
        let m = &b.metrics;
        let ok = format!("{}/{}", b.succeeded, b.requests);
        let row = if b.succeeded == 0 {
            let mut row = vec![b.name.clone(), b.requests.to_string(), "FAIL".to_string()];
            row.extend(std::iter::repeat_n(NONE.to_string(), 5));
            row.push(ok);
            row
        } else {
            vec![
                b.name.clone(),
                b.requests.to_string(),
                opt(p50(&m.ttft_ms), duration_ms),
                opt(m.ttft_ms.as_ref().map(|d| d.p99), duration_ms),
                opt(p50(&m.itl_ms), itl),
                opt(p50(&m.decode_tok_per_s), rate1),
                opt(p50(&m.prefill_tok_per_s), rate0),
                rate0(b.aggregate_tok_per_s),
                ok,
            ]
        };
        rows.push(row);
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| if c == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
            .collect();
        let _ = writeln!(out, "{}", excerpt_keep(&format!("  {}", cells.join("  ")), WIDTH));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
            let _ = writeln!(out, "{}", excerpt_keep(&format!("  {}", rule.join("  ")), WIDTH));
        }
    }
}

fn overall(out: &mut String, r: &RunResults) {
    let s = &r.summary;
    let parts = [
        format!("Overall: {}/{} ok", s.succeeded, s.requests),
        seconds(s.duration_s),
        format!("{} req/s", num(s.request_throughput)),
        format!("{} out tok/s", rate1(s.output_tok_per_s)),
        format!("concurrency {}", num(s.concurrency)),
        format!("cache hit {}", opt(s.cache_hit_rate, percent)),
        format!("{} retr{}", s.retries, if s.retries == 1 { "y" } else { "ies" }),
    ];
    // Wrapped between parts, never inside one.
    let mut line = String::from("  ");
    for (i, part) in parts.iter().enumerate() {
        let sep = if i == 0 { "" } else { " | " };
        if i > 0 && line.chars().count() + sep.len() + part.chars().count() > WIDTH {
            let _ = writeln!(out, "{}", line.trim_end());
            line = String::from("    ");
        } else {
            line.push_str(sep);
        }
        line.push_str(part);
    }
    let _ = writeln!(out, "{}", excerpt_keep(&line, WIDTH));
}

fn verdict_lines(out: &mut String, r: &RunResults) {
    if r.summary.succeeded == 0 {
        out.push_str("  Verdict: no successful requests - check the endpoint configuration\n");
        return;
    }
    let grade = Grade::parse(&r.summary.verdict);
    let mut line = format!("Verdict: {}", grade.label());
    if let Some(b) = verdict::headline_bucket(&r.buckets) {
        let _ = write!(line, " at {} context", b.name);
        if let Some(e) = verdict::bucket_experience(b) {
            let _ = write!(line, " ({e})");
        }
    }
    out.push_str(&indented(&line, "  ", "    "));
    if !r.summary.verdict_basis.is_empty() {
        out.push_str(&indented(&format!("basis: {}", r.summary.verdict_basis), "    ", "      "));
    }
}

/// Characters of one kind of error the console shows (about four lines).
const ERROR_CHARS: usize = 320;

/// The answer checks: how many executions passed, and each failed one with why.
fn answer_check_lines(out: &mut String, r: &RunResults) {
    let Some(checks) = &r.answer_checks else { return };
    out.push_str(&indented(&super::document::answer_checks_line(checks), "  ", "    "));
    let failed: Vec<_> = checks.executions.iter().filter(|e| e.passed == Some(false)).collect();
    for e in failed.iter().take(TOP_ERRORS) {
        let why: Vec<String> =
            e.checks.iter().filter(|c| c.passed == Some(false)).map(|c| format!("{}: {}", c.check, c.detail)).collect();
        out.push_str(&indented(
            &format!("FAIL {} (execution {}): {}", e.task_id, e.execution, why.join("; ")),
            "    ",
            "      ",
        ));
    }
    if failed.len() > TOP_ERRORS {
        let _ = writeln!(out, "    … and {} more failed execution(s)", failed.len() - TOP_ERRORS);
    }
}

fn errors(out: &mut String, r: &RunResults) {
    let errors = &r.summary.errors;
    if errors.is_empty() {
        return;
    }
    let kinds = errors.len();
    let _ =
        writeln!(out, "  Errors ({} failed, {} kind{}):", r.summary.failed, kinds, if kinds == 1 { "" } else { "s" });
    for e in errors.iter().take(TOP_ERRORS) {
        // Whole up to a few lines: the useful part of a server's message is often at its end.
        let text: String = e.error.chars().take(ERROR_CHARS).collect();
        let more = if text.len() < e.error.len() { "…" } else { "" };
        out.push_str(&indented(&format!("{}× {text}{more}", e.count), "    ", "      "));
    }
    if kinds > TOP_ERRORS {
        let _ = writeln!(out, "    … and {} more kind(s)", kinds - TOP_ERRORS);
    }
    if errors.iter().any(|e| says_prompt_too_long(&e.error)) {
        out.push_str(&indented(
            "hint: the server says a prompt is too long for it: leave such requests out with \
             --model-context-length N (its context, in tokens), or cut tasks short with --slice-tokens N",
            "  ",
            "    ",
        ));
    }
}

/// A server's way of saying a prompt is over its context (AgenticSwarmBench's patterns).
fn says_prompt_too_long(error: &str) -> bool {
    const PATTERNS: [&str; 10] = [
        "prompt is too long",
        "maximum context length",
        "context_length_exceeded",
        "token limit",
        "too many tokens",
        "exceeds the model's maximum",
        "input is too long",
        "max_prompt_length",
        "reduce your prompt",
        "maximum allowed",
    ];
    let error = error.to_lowercase();
    PATTERNS.iter().any(|p| error.contains(p))
}

/// `text` wrapped to [`WIDTH`]: the first line after `first`, the others after `rest`.
fn indented(text: &str, first: &str, rest: &str) -> String {
    let width = WIDTH.saturating_sub(rest.chars().count().max(first.chars().count())).max(20);
    let mut out = String::new();
    for (i, line) in wrap(text, width).lines().enumerate() {
        out.push_str(if i == 0 { first } else { rest });
        // A single word longer than the width is cut rather than overflowing.
        out.push_str(&excerpt_keep(line, width));
        out.push('\n');
    }
    out
}

/// `line` cut to `max` characters, keeping its spaces (table alignment).
fn excerpt_keep(line: &str, max: usize) -> String {
    crate::display::cut(line, max)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{failed_request, failed_run, ok_request, run_of, sample_run};
    use super::*;

    #[test]
    fn summary_of_a_run() {
        let text = summary(&sample_run());
        assert!(text.contains("  fresh: 2/2 ok | decode: "), "{text}");
        assert!(text.contains("| TTFT: 125ms p50 | Agg: 5.0 tok/s"), "{text}");
        assert!(text.contains("  medium: 2/3 ok"), "{text}");
        assert!(text.contains("Context  Requests  TTFT p50  TTFT p99  ITL p50  Decode tok/s"), "{text}");
        assert!(text.contains("<1ms"), "ITL below 1 ms: {text}");
        assert!(text.contains("Overall: 4/5 ok | 5.00s | 0.80 req/s"), "{text}");
        assert!(text.contains("cache hit 50.0%"), "{text}");
        assert!(text.contains("Verdict: GOOD for agentic swarm scenarios at medium context"), "{text}");
        assert!(text.contains("basis: medium bucket"), "{text}");
        assert!(text.contains("1× HTTP 500: upstream"), "{text}");
        assert!(text.contains("Metric definitions"), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "too wide: {line}");
        }
    }

    #[test]
    fn failed_buckets_and_long_errors() {
        let text = summary(&failed_run());
        assert!(text.contains("  fresh: all 2 requests failed\n    ↳ ConnectError"), "{text}");
        assert!(text.contains("FAIL"), "{text}");
        assert!(text.contains("no successful requests"), "{text}");

        let long = "x".repeat(500);
        let text = summary(&run_of(vec![
            ok_request("build-api", 0, "fresh", 100, 10.0, 0.1),
            failed_request("build-api", 1, "fresh", &long),
        ]));
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "too wide: {line}");
        }
    }

    #[test]
    fn nothing_sent() {
        let text = summary(&run_of(vec![]));
        assert_eq!(text, "No requests were sent - all were skipped or filtered out.\n");
    }
}
