//! `asb compare BASELINE CANDIDATE`: two replay runs side by side, as Markdown or (with
//! `-o x.html`) as an HTML page with the two runs' distributions overlaid.
//!
//! Buckets present in both runs are compared metric by metric (candidate against baseline,
//! in percent, lower-is-better for times and higher-is-better for rates). A percentile's
//! change is called better or worse only when it exceeds the noise: the 95 % bootstrap
//! interval of the change, from the raw samples ([`super::bootstrap`]), must leave out zero;
//! with fewer than five samples on a side it is "too few samples". Numbers without samples
//! (aggregate rates, duration) keep the ±5 % rule. The winner is picked as
//! AgenticSwarmBench (the original asb) picks it: among the buckets where both runs had successes, who has the higher decode p50
//! more often. A run that failed everywhere does not tie; buckets with no success on one
//! side are left out of the count and said so. Settings that make the comparison unlike for
//! like are called out above everything else.

use std::fmt::Write as _;

use serde_json::Value;

use crate::replay::results::{BucketStats, RequestSample, RunResults};
use crate::replay::server_metrics::summary::ServerSummary;

use super::bootstrap::{self, Delta, Interval};
use super::markdown::{code, text};
use crate::display::{date, duration_ms, itl, num, opt, percent, rate0, rate1, seconds};
use crate::stats::p50;

/// Changes within this many percent are "the same", for numbers without raw samples.
pub(crate) const SAME_WITHIN_PCT: f64 = 5.0;

/// Settings whose difference makes two runs not like for like.
const LIKE_FOR_LIKE: &[&str] = &["cache_mode", "history_mode", "repetitions", "max_concurrent", "max_tokens"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Lower,
    Higher,
}

/// How a metric moved from baseline to candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Change {
    Better(f64),
    Worse(f64),
    Same(f64),
    /// Fewer than [`bootstrap::MIN_SAMPLES`] samples on a side: not judged.
    TooFew(f64),
    /// A side is missing or zero.
    NotApplicable,
}

impl Change {
    pub(crate) fn of(base: Option<f64>, cand: Option<f64>, better: Better) -> Change {
        let (Some(b), Some(c)) = (base, cand) else { return Change::NotApplicable };
        if !b.is_finite() || !c.is_finite() || b == 0.0 || c == 0.0 {
            return Change::NotApplicable;
        }
        let pct = (c - b) / b.abs() * 100.0;
        let improved = match better {
            Better::Lower => pct < 0.0,
            Better::Higher => pct > 0.0,
        };
        if pct.abs() <= SAME_WITHIN_PCT {
            Change::Same(pct)
        } else if improved {
            Change::Better(pct)
        } else {
            Change::Worse(pct)
        }
    }

    /// A percentile's change judged by its bootstrap interval: better or worse only when
    /// the interval leaves out zero.
    pub(crate) fn of_samples(delta: Option<&Delta>, base: Option<f64>, cand: Option<f64>, better: Better) -> Change {
        let Some(d) = delta else {
            return match Change::of(base, cand, better) {
                Change::NotApplicable => Change::NotApplicable,
                Change::Better(p) | Change::Worse(p) | Change::Same(p) | Change::TooFew(p) => Change::TooFew(p),
            };
        };
        if !d.significant() {
            return Change::Same(d.pct);
        }
        let improved = match better {
            Better::Lower => d.pct < 0.0,
            Better::Higher => d.pct > 0.0,
        };
        if improved {
            Change::Better(d.pct)
        } else {
            Change::Worse(d.pct)
        }
    }

    /// `-20.0%`, or `N/A`.
    pub(crate) fn delta(self) -> String {
        match self {
            Change::Better(p) | Change::Worse(p) | Change::Same(p) | Change::TooFew(p) => format!("{p:+.1}%"),
            Change::NotApplicable => "N/A".into(),
        }
    }

    pub(crate) fn marker(self) -> &'static str {
        match self {
            Change::Better(_) => "🟢 better",
            Change::Worse(_) => "🔴 worse",
            Change::Same(_) => "≈ same",
            Change::TooFew(_) => "too few samples",
            Change::NotApplicable => "",
        }
    }

    /// The CSS class of the change's badge, and its word.
    pub(crate) fn badge(self) -> Option<(&'static str, &'static str)> {
        match self {
            Change::Better(_) => Some(("better", "better")),
            Change::Worse(_) => Some(("worse", "worse")),
            Change::Same(_) => Some(("same", "≈ same")),
            Change::TooFew(_) => Some(("same", "too few samples")),
            Change::NotApplicable => None,
        }
    }
}

/// One compared metric: its label, formula key, direction, how to spell it and how to read it.
struct Compared {
    label: &'static str,
    key: &'static str,
    better: Better,
    spell: fn(f64) -> String,
    value: fn(&BucketStats) -> Option<f64>,
    /// The percentile and the raw samples it is taken from, when there are any.
    samples: Option<Sampled>,
}

/// A percentile and how to read its raw samples from a request.
type Sampled = (f64, fn(&RequestSample) -> Vec<f64>);

fn ttft_of(q: &RequestSample) -> Vec<f64> {
    q.ttft_ms.into_iter().collect()
}
fn itl_of(q: &RequestSample) -> Vec<f64> {
    q.itl_ms.clone()
}
fn decode_of(q: &RequestSample) -> Vec<f64> {
    q.decode_tok_per_s.into_iter().collect()
}
fn prefill_of(q: &RequestSample) -> Vec<f64> {
    q.prefill_tok_per_s.into_iter().collect()
}

const BUCKET_METRICS: &[Compared] = &[
    Compared {
        label: "TTFT p50",
        key: "ttft_ms",
        better: Better::Lower,
        spell: duration_ms,
        value: |b| p50(&b.metrics.ttft_ms),
        samples: Some((50.0, ttft_of)),
    },
    Compared {
        label: "TTFT p99",
        key: "ttft_ms",
        better: Better::Lower,
        spell: duration_ms,
        value: |b| b.metrics.ttft_ms.as_ref().map(|d| d.p99),
        samples: Some((99.0, ttft_of)),
    },
    Compared {
        label: "ITL p50",
        key: "itl_ms",
        better: Better::Lower,
        spell: itl,
        value: |b| p50(&b.metrics.itl_ms),
        samples: Some((50.0, itl_of)),
    },
    Compared {
        label: "Decode p50 (tok/s)",
        key: "decode_tok_per_s",
        better: Better::Higher,
        spell: rate1,
        value: |b| p50(&b.metrics.decode_tok_per_s),
        samples: Some((50.0, decode_of)),
    },
    Compared {
        label: "Prefill p50 (tok/s)",
        key: "prefill_tok_per_s",
        better: Better::Higher,
        spell: rate0,
        value: |b| p50(&b.metrics.prefill_tok_per_s),
        samples: Some((50.0, prefill_of)),
    },
    Compared {
        label: "Agg tok/s",
        key: "aggregate_tok_per_s",
        better: Better::Higher,
        spell: rate0,
        value: |b| (b.succeeded > 0).then_some(b.aggregate_tok_per_s),
        samples: None,
    },
];

/// One compared number: both sides spelled, the change, and its interval when the number
/// is a percentile of raw samples.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The bucket, or `None` for the whole run.
    pub bucket: Option<String>,
    pub label: String,
    pub base: String,
    pub cand: String,
    pub change: Change,
    pub delta: Option<Delta>,
    /// Whether the change has a direction to judge (a marker is shown).
    pub judged: bool,
}

impl Row {
    /// `[lo, hi]` of the change, or what stood in for it.
    pub(crate) fn interval(&self) -> String {
        match (&self.delta, self.change) {
            (Some(d), _) => format!("[{:+.1}%, {:+.1}%]", d.lo, d.hi),
            (None, Change::TooFew(_)) => format!("n < {}", bootstrap::MIN_SAMPLES),
            (None, Change::NotApplicable) => String::new(),
            (None, _) if self.judged => format!("±{SAME_WITHIN_PCT} % rule"),
            (None, _) => String::new(),
        }
    }
}

/// A value and, when it has one, its 95 % interval: `125ms [118ms–131ms]`.
fn spelled(v: Option<f64>, ci: Option<&Interval>, spell: fn(f64) -> String) -> String {
    match (v, ci) {
        (Some(v), Some(i)) => format!("{} [{}–{}]", spell(v), spell(i.lo), spell(i.hi)),
        _ => opt(v, spell),
    }
}

/// The requests a run's statistics are made of: its window (all, in runs saved without
/// one), successful.
fn counted(r: &RunResults) -> Vec<&RequestSample> {
    let windowed = r.requests.iter().any(|q| q.in_window);
    r.requests.iter().filter(|q| q.ok && (q.in_window || !windowed)).collect()
}

fn samples(r: &RunResults, bucket: Option<&str>, f: fn(&RequestSample) -> Vec<f64>) -> Vec<f64> {
    counted(r).into_iter().filter(|q| bucket.is_none_or(|b| q.bucket == b)).flat_map(f).collect()
}

/// A row for a percentile with raw samples, or a plain number.
#[allow(clippy::too_many_arguments)]
fn row(
    bucket: Option<&str>,
    label: &str,
    (base, cand): (&RunResults, &RunResults),
    (vb, vc): (Option<f64>, Option<f64>),
    better: Option<Better>,
    spell: fn(f64) -> String,
    samples_of: Option<Sampled>,
) -> Row {
    let delta = samples_of.and_then(|(p, f)| bootstrap::delta(&samples(base, bucket, f), &samples(cand, bucket, f), p));
    let change = match (better, samples_of) {
        (Some(better), Some(_)) => Change::of_samples(delta.as_ref(), vb, vc, better),
        (better, None) => Change::of(vb, vc, better.unwrap_or(Better::Higher)),
        (None, Some(_)) => Change::of(vb, vc, Better::Higher),
    };
    Row {
        bucket: bucket.map(str::to_string),
        label: label.to_string(),
        base: spelled(vb, delta.as_ref().map(|d| &d.base), spell),
        cand: spelled(vc, delta.as_ref().map(|d| &d.cand), spell),
        change,
        delta,
        judged: better.is_some(),
    }
}

/// Every compared metric of every shared bucket, in the baseline's bucket order.
pub(crate) fn bucket_rows(base: &RunResults, cand: &RunResults) -> Vec<Row> {
    let mut rows = Vec::new();
    for name in shared_buckets(base, cand) {
        let (Some(b), Some(c)) = (find(base, name), find(cand, name)) else { continue };
        rows.push(Row {
            bucket: Some(name.to_string()),
            label: "Completed".into(),
            base: format!("{}/{}", b.succeeded, b.requests),
            cand: format!("{}/{}", c.succeeded, c.requests),
            change: Change::NotApplicable,
            delta: None,
            judged: false,
        });
        for m in BUCKET_METRICS {
            rows.push(row(
                Some(name),
                m.label,
                (base, cand),
                ((m.value)(b), (m.value)(c)),
                Some(m.better),
                m.spell,
                m.samples,
            ));
        }
    }
    rows
}

/// The whole runs compared.
pub(crate) fn overall_rows(base: &RunResults, cand: &RunResults) -> Vec<Row> {
    let (b, c) = (&base.summary, &cand.summary);
    let plain = |label: &str, base: String, cand: String| Row {
        bucket: None,
        label: label.into(),
        base,
        cand,
        change: Change::NotApplicable,
        delta: None,
        judged: false,
    };
    let mut rows = vec![
        plain("Requests ok", format!("{}/{}", b.succeeded, b.requests), format!("{}/{}", c.succeeded, c.requests)),
        plain("Failed", b.failed.to_string(), c.failed.to_string()),
    ];
    type Spec = (&'static str, Option<f64>, Option<f64>, Option<Better>, fn(f64) -> String, Option<Sampled>);
    // No direction (concurrency): more is not better or worse in itself.
    let specs: [Spec; 8] = [
        ("Duration", Some(b.duration_s), Some(c.duration_s), Some(Better::Lower), seconds, None),
        (
            "Request throughput (req/s)",
            Some(b.request_throughput),
            Some(c.request_throughput),
            Some(Better::Higher),
            num,
            None,
        ),
        ("Output tok/s", Some(b.output_tok_per_s), Some(c.output_tok_per_s), Some(Better::Higher), rate1, None),
        ("Concurrency", Some(b.concurrency), Some(c.concurrency), None, num, None),
        ("Cache hit rate", b.cache_hit_rate, c.cache_hit_rate, Some(Better::Higher), percent, None),
        (
            "TTFT p50",
            p50(&b.metrics.ttft_ms),
            p50(&c.metrics.ttft_ms),
            Some(Better::Lower),
            duration_ms,
            Some((50.0, ttft_of)),
        ),
        ("ITL p50", p50(&b.metrics.itl_ms), p50(&c.metrics.itl_ms), Some(Better::Lower), itl, Some((50.0, itl_of))),
        (
            "Decode p50 (tok/s)",
            p50(&b.metrics.decode_tok_per_s),
            p50(&c.metrics.decode_tok_per_s),
            Some(Better::Higher),
            rate1,
            Some((50.0, decode_of)),
        ),
    ];
    for (label, vb, vc, better, spell, samples_of) in specs {
        rows.push(row(None, label, (base, cand), (vb, vc), better, spell, samples_of));
    }
    // What the servers saw, when both runs scraped them (±5 % rule: no raw samples).
    if let (Some(sb), Some(sc)) = (server_run(base), server_run(cand)) {
        type ServerSpec = (&'static str, fn(&ServerSummary) -> Option<f64>, Option<Better>, fn(f64) -> String);
        let server: [ServerSpec; 6] = [
            ("Server KV-cache use max", |s| s.kv_cache_usage.map(|g| g.max), None, percent),
            ("Server KV-cache use mean", |s| s.kv_cache_usage.map(|g| g.mean), None, percent),
            ("Server requests running mean", |s| s.requests_running.map(|g| g.mean), None, num),
            ("Server requests waiting max", |s| s.requests_waiting.map(|g| g.max), Some(Better::Lower), num),
            ("Server preemptions", |s| s.preemptions, Some(Better::Lower), num),
            ("Server prefix-cache hit rate", |s| s.prefix_cache_hit_rate, Some(Better::Higher), percent),
        ];
        for (label, value, better, spell) in server {
            let (vb, vc) = (value(sb), value(sc));
            if vb.is_some() || vc.is_some() {
                rows.push(row(None, label, (base, cand), (vb, vc), better, spell, None));
            }
        }
    }
    rows.push(plain("Verdict", b.verdict.clone(), c.verdict.clone()));
    rows
}

/// The server's summary over a run's window (else the whole run), when it was scraped.
fn server_run(r: &RunResults) -> Option<&ServerSummary> {
    let m = r.server_metrics.as_ref()?;
    m.window.as_ref().or(m.run.as_ref())
}

/// How a change is judged, for both renderings.
pub(crate) const JUDGEMENT: &str =
    "Delta = (candidate − baseline) / baseline. Lower is better for times (TTFT, ITL), higher \
     for rates. A percentile's change is marked better or worse only when it exceeds the noise: the 95 % bootstrap \
     interval of the change (1000 resamples of each run's raw samples, shown beside it; the values carry their own \
     95 % intervals) must leave out zero, else ≈ same; with fewer than 5 samples on a side it is not judged. \
     Numbers without raw samples (aggregate rates, duration) use ±5 %. N/A when a side has no value or zero.";

/// The comparison of `cand` against `base`, as Markdown.
pub(crate) fn render(base: &RunResults, cand: &RunResults) -> String {
    let mut out = String::from("# asb replay comparison\n\n");
    header(&mut out, base, cand);
    buckets(&mut out, base, cand);
    overall(&mut out, base, cand);
    out.push_str("## Winner\n\n");
    let _ = writeln!(out, "{}\n", winner(base, cand));
    definitions(&mut out, base, cand);
    out
}

fn header(out: &mut String, base: &RunResults, cand: &RunResults) {
    out.push_str("| | Baseline | Candidate |\n|---|---|---|\n");
    let rows: [(&str, &str, &str); 6] = [
        ("Model", &base.model, &cand.model),
        ("Endpoint", &base.endpoint, &cand.endpoint),
        ("API", &base.api, &cand.api),
        ("Scenario", &base.scenario.name, &cand.scenario.name),
        ("Scenario source", &base.scenario.source, &cand.scenario.source),
        ("Tool", &base.tool, &cand.tool),
    ];
    for (label, b, c) in rows {
        let _ = writeln!(out, "| {label} | {} | {} |", code(b, true), code(c, true));
    }
    if base.label.is_some() || cand.label.is_some() {
        let label = |r: &RunResults| r.label.as_deref().map_or_else(|| "-".to_string(), text);
        let _ = writeln!(out, "| Label | {} | {} |", label(base), label(cand));
    }
    let _ = writeln!(out, "| Started | {} | {} |", text(&date(&base.started_at)), text(&date(&cand.started_at)));
    let ok = |r: &RunResults| format!("{}/{}", r.summary.succeeded, r.summary.requests);
    let _ = writeln!(out, "| Requests ok | {} | {} |", ok(base), ok(cand));

    let differing = differing_settings(base, cand);
    for (key, b, c) in &differing {
        let _ = writeln!(out, "| Setting `{key}` | {} | {} |", code(b, true), code(c, true));
    }
    out.push('\n');
    if differing.is_empty() {
        out.push_str("Settings: the same in both runs.\n\n");
    }

    let mut unlike: Vec<String> = differing
        .iter()
        .filter(|(key, _, _)| LIKE_FOR_LIKE.contains(&key.as_str()))
        .map(|(key, b, c)| format!("{key} ({b} vs {c})"))
        .collect();
    if base.scenario.name != cand.scenario.name {
        unlike.insert(0, format!("scenario ({} vs {})", base.scenario.name, cand.scenario.name));
    }
    if !unlike.is_empty() {
        let _ = writeln!(
            out,
            "> ⚠️ **Not like for like:** {} differ{}. The numbers below compare different workloads.\n",
            text(&unlike.join(", ")),
            if unlike.len() == 1 { "s" } else { "" }
        );
    }
}

/// Every setting whose value differs: `(name, baseline, candidate)`, in the settings' order.
fn differing_settings(base: &RunResults, cand: &RunResults) -> Vec<(String, String, String)> {
    let as_map = |r: &RunResults| match serde_json::to_value(&r.settings) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (b, c) = (as_map(base), as_map(cand));
    let show = |v: Option<&Value>| match v {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let mut keys: Vec<&String> = b.keys().collect();
    keys.extend(c.keys().filter(|k| !b.contains_key(*k)));
    keys.into_iter().filter(|k| b.get(*k) != c.get(*k)).map(|k| (k.clone(), show(b.get(k)), show(c.get(k)))).collect()
}

fn find<'a>(r: &'a RunResults, name: &str) -> Option<&'a BucketStats> {
    r.buckets.iter().find(|b| b.name == name)
}

/// Bucket names in both runs, in the baseline's order.
fn shared_buckets<'a>(base: &'a RunResults, cand: &RunResults) -> Vec<&'a str> {
    base.buckets.iter().map(|b| b.name.as_str()).filter(|n| find(cand, n).is_some()).collect()
}

/// A compared row's cells after its bucket: `| label | base | cand | delta | interval | marker |`.
fn markdown_cells(r: &Row, delta: String) -> String {
    let marker = if r.judged { r.change.marker() } else { "" };
    format!("| {} | {} | {} | {delta} | {} | {marker} |", r.label, text(&r.base), text(&r.cand), r.interval())
}

fn buckets(out: &mut String, base: &RunResults, cand: &RunResults) {
    out.push_str("## Per context bucket\n\n");
    let _ = writeln!(out, "{JUDGEMENT}\n");
    let rows = bucket_rows(base, cand);
    if rows.is_empty() {
        out.push_str("No context bucket is in both runs.\n\n");
    } else {
        out.push_str(
            "| Context | Metric | Baseline | Candidate | Delta | 95% interval of delta | |\n|---|---|---|---|---|---|---|\n",
        );
        for r in &rows {
            let delta = if r.label == "Completed" { String::new() } else { r.change.delta() };
            let bucket = code(r.bucket.as_deref().unwrap_or(""), true);
            let _ = writeln!(out, "| {bucket} {}", markdown_cells(r, delta));
        }
        out.push('\n');
    }
    for (which, names) in only_in(base, cand) {
        let names: Vec<String> = names
            .iter()
            .map(|(b, n)| format!("{} ({n} request{})", code(b, false), if *n == 1 { "" } else { "s" }))
            .collect();
        let _ = writeln!(out, "Only in the {which}: {}.\n", names.join(", "));
    }
}

/// Buckets in one run only: `("baseline" | "candidate", [(name, requests)])`, non-empty.
fn only_in(base: &RunResults, cand: &RunResults) -> Vec<(&'static str, Vec<(String, usize)>)> {
    let only = |one: &RunResults, other: &RunResults| -> Vec<(String, usize)> {
        one.buckets.iter().filter(|b| find(other, &b.name).is_none()).map(|b| (b.name.clone(), b.requests)).collect()
    };
    [("baseline", only(base, cand)), ("candidate", only(cand, base))]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn overall(out: &mut String, base: &RunResults, cand: &RunResults) {
    out.push_str(
        "## Overall\n\n| Metric | Baseline | Candidate | Delta | 95% interval of delta | |\n|---|---|---|---|---|---|\n",
    );
    for r in overall_rows(base, cand) {
        let undirected = matches!(r.label.as_str(), "Concurrency") || r.label.starts_with("Server ");
        let delta = if r.judged || r.delta.is_some() || undirected { r.change.delta() } else { String::new() };
        let _ = writeln!(out, "{}", markdown_cells(&r, delta));
    }
    out.push('\n');
    out.push_str(
        "Concurrency and duration follow from the schedule as much as from the server: compare them only \
         between runs with the same settings.\n\n",
    );
}

/// AgenticSwarmBench's winner line: buckets where both runs had successes are compared by
/// decode p50.
fn winner(base: &RunResults, cand: &RunResults) -> String {
    let shared = shared_buckets(base, cand);
    if shared.is_empty() {
        return "No shared context buckets: the runs sent prompts of different sizes, so nothing can be compared. \
                Re-run both with the same scenario and slicing."
            .into();
    }
    let one_sided = base.buckets.len() + cand.buckets.len() - 2 * shared.len();
    let mut valid = 0;
    let (mut base_wins, mut cand_wins) = (0, 0);
    for name in &shared {
        let (Some(b), Some(c)) = (find(base, name), find(cand, name)) else { continue };
        if b.succeeded == 0 || c.succeeded == 0 {
            continue;
        }
        let (Some(db), Some(dc)) = (p50(&b.metrics.decode_tok_per_s), p50(&c.metrics.decode_tok_per_s)) else {
            continue;
        };
        valid += 1;
        if db > dc {
            base_wins += 1;
        } else if dc > db {
            cand_wins += 1;
        }
    }
    let excluded = shared.len() - valid;
    if valid == 0 {
        return format!(
            "No valid comparison buckets: all {} shared bucket(s) had zero completions (or no decode rate) on one or \
             both sides. No winner.",
            shared.len()
        );
    }
    let mut notes = Vec::new();
    if one_sided > 0 {
        notes.push(format!("{one_sided} bucket(s) only on one side"));
    }
    if excluded > 0 {
        notes.push(format!("{excluded} bucket(s) with zero completions on a side"));
    }
    let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
    let (who, model, wins) = match base_wins.cmp(&cand_wins) {
        std::cmp::Ordering::Greater => ("Baseline", &base.model, base_wins),
        std::cmp::Ordering::Less => ("Candidate", &cand.model, cand_wins),
        std::cmp::Ordering::Equal => {
            let of = if valid < shared.len() { format!("{valid}/{} valid", shared.len()) } else { valid.to_string() };
            return format!("**Tied** across {of} bucket(s) by decode p50{notes}.");
        }
    };
    format!("**{who}** ({}) wins **{wins}/{valid}** bucket(s) by decode p50{notes}.", code(model, false))
}

fn definitions(out: &mut String, base: &RunResults, cand: &RunResults) {
    out.push_str("## Metric definitions\n\n");
    let mut keys: Vec<&str> = BUCKET_METRICS.iter().map(|m| m.key).collect();
    keys.extend([
        "duration_s",
        "request_throughput",
        "output_tok_per_s",
        "concurrency",
        "cache_hit_rate",
        "percentiles",
        "verdict",
    ]);
    keys.dedup();
    out.push_str("| Metric | Formula |\n|---|---|\n");
    for key in keys {
        let formula = base.formulas.get(key).or_else(|| cand.formulas.get(key));
        let _ =
            writeln!(out, "| {} | {} |", code(key, true), formula.map_or_else(|| "-".to_string(), |f| code(f, true)));
    }
    out.push('\n');
    if base.formulas != cand.formulas {
        out.push_str(
            "> ⚠️ The two runs were measured with different formulas (different asb versions): \
             the baseline's are shown; compare with care.\n\n",
        );
    }
}

/// Not like for like: the settings (and scenario) that differ in a way that changes the
/// workload, as `name (baseline vs candidate)`.
fn unlike(base: &RunResults, cand: &RunResults) -> Vec<String> {
    let mut unlike: Vec<String> = differing_settings(base, cand)
        .iter()
        .filter(|(key, _, _)| LIKE_FOR_LIKE.contains(&key.as_str()))
        .map(|(key, b, c)| format!("{key} ({b} vs {c})"))
        .collect();
    if base.scenario.name != cand.scenario.name {
        unlike.insert(0, format!("scenario ({} vs {})", base.scenario.name, cand.scenario.name));
    }
    unlike
}

/// A run's name in the page: its label, else `baseline` / `candidate`.
fn name(r: &RunResults, role: &str) -> String {
    match &r.label {
        Some(l) => format!("{role}: {l}"),
        None => role.to_string(),
    }
}

/// The plots of the compare page: both runs' TTFT, ITL and decode-rate ECDFs and their
/// throughput over time, overlaid (baseline in the first colour, candidate in the second).
pub(crate) fn compare_plots(base: &RunResults, cand: &RunResults) -> Vec<super::html::Built> {
    use super::plots::colour;
    let (nb, nc) = (name(base, "baseline"), name(cand, "candidate"));
    let (cb, cc) = (colour(0), colour(1));
    let pooled = |r: &RunResults, f: fn(&RequestSample) -> Vec<f64>| {
        let mut v: Vec<f64> = samples(r, None, f).into_iter().filter(|v| v.is_finite() && *v > 0.0).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let mut plots = Vec::new();
    for (id, title, caption, axis, f) in [
        (
            "cmp-ttft-ecdf",
            "TTFT, both runs",
            "share of each run's successful requests whose <code>ttft_ms</code> is at most x (ECDF, log axis). \
             Left is faster.",
            "TTFT (ms, log scale)",
            ttft_of as fn(&RequestSample) -> Vec<f64>,
        ),
        (
            "cmp-itl-ecdf",
            "ITL, both runs",
            "every inter-token gap (<code>itl_ms</code>) of each run's successful requests, as an ECDF on a log axis.",
            "ITL (ms, log scale)",
            itl_of,
        ),
        (
            "cmp-decode-ecdf",
            "Decode rate, both runs",
            "each run's <code>decode_tok_per_s</code> per successful request, as an ECDF on a log axis. Right is faster.",
            "decode tok/s per request (log scale)",
            decode_of,
        ),
    ] {
        let groups: Vec<_> = [(cb, nb.clone(), pooled(base, f)), (cc, nc.clone(), pooled(cand, f))]
            .into_iter()
            .filter(|(_, _, v)| !v.is_empty())
            .collect();
        plots.push(if groups.is_empty() {
            Err((title, "No data in either run.".to_string()))
        } else {
            Ok(super::html::ecdf_plot(id, title, caption, axis, groups))
        });
    }
    plots.push(super::html::throughput_over_time(&[(base, cb, nb), (cand, cc, nc)]).map(|mut p| {
        p.id = "cmp-throughput";
        p.title = "Output throughput over time, both runs".into();
        p
    }));
    plots
}

/// The comparison of `cand` against `base` as one self-contained HTML page: the runs'
/// TTFT, ITL and decode-rate distributions and their throughput overlaid, then the tables
/// with each change's interval and a badge only where it exceeds the noise.
pub(crate) fn render_html(base: &RunResults, cand: &RunResults) -> String {
    use super::html::{escape, page_head};

    let (nb, nc) = (name(base, "baseline"), name(cand, "candidate"));
    let mut out = page_head(&format!("asb replay comparison — {nb} against {nc}"));
    let _ = writeln!(
        out,
        "<h1>asb replay comparison</h1>\n<p class=\"subtitle\"><strong>{}</strong> (<code>{}</code>) against <strong>{}</strong> (<code>{}</code>)</p>",
        escape(&nb),
        escape(&base.model),
        escape(&nc),
        escape(&cand.model)
    );
    let unlike = unlike(base, cand);
    if !unlike.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"verdict poor\"><span class=\"badge poor\">NOT LIKE FOR LIKE</span> {} differ{}: the numbers below compare different workloads.</p>",
            escape(&unlike.join(", ")),
            if unlike.len() == 1 { "s" } else { "" }
        );
    }
    let winner = winner(base, cand);
    let _ = writeln!(out, "<div class=\"verdict\"><p>{}</p></div>", markdown_strong(&escape(&winner)));

    out.push_str("<h2>Plots</h2>\n<div class=\"plots\">\n");
    for plot in compare_plots(base, cand) {
        match plot {
            Ok(p) => out.push_str(&p.figure(false)),
            Err((title, why)) => {
                let _ = writeln!(
                    out,
                    "<figure class=\"plot\" data-plot=\"none\"><figcaption><strong>{}</strong></figcaption><p class=\"nodata\">{}</p></figure>",
                    escape(title),
                    escape(&why)
                );
            }
        }
    }
    out.push_str("</div>\n");

    out.push_str("<h2>Per context bucket</h2>\n");
    let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(JUDGEMENT));
    let rows = bucket_rows(base, cand);
    if rows.is_empty() {
        out.push_str("<p>No context bucket is in both runs.</p>\n");
    } else {
        rows_table(&mut out, &rows, true, &nb, &nc);
    }
    for (which, names) in only_in(base, cand) {
        let names: Vec<String> = names.iter().map(|(b, n)| format!("<code>{}</code> ({n})", escape(b))).collect();
        let _ = writeln!(out, "<p class=\"note\">Only in the {which}: {}.</p>", names.join(", "));
    }

    out.push_str("<h2>Overall</h2>\n");
    rows_table(&mut out, &overall_rows(base, cand), false, &nb, &nc);
    out.push_str(
        "<p class=\"note\">Concurrency and duration follow from the schedule as much as from the server: compare \
         them only between runs with the same settings.</p>\n",
    );

    out.push_str("<h2>Runs</h2>\n<details>\n<summary>Models, endpoints and settings</summary>\n");
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr><th></th><th>Baseline</th><th>Candidate</th></tr></thead>\n<tbody>\n");
    let ok = |r: &RunResults| format!("{}/{}", r.summary.succeeded, r.summary.requests);
    let mut facts: Vec<(String, String, String)> = vec![
        ("Label".into(), base.label.clone().unwrap_or_default(), cand.label.clone().unwrap_or_default()),
        ("Model".into(), base.model.clone(), cand.model.clone()),
        ("Endpoint".into(), base.endpoint.clone(), cand.endpoint.clone()),
        ("API".into(), base.api.clone(), cand.api.clone()),
        ("Scenario".into(), base.scenario.name.clone(), cand.scenario.name.clone()),
        ("Scenario source".into(), base.scenario.source.clone(), cand.scenario.source.clone()),
        ("Tool".into(), base.tool.clone(), cand.tool.clone()),
        ("Started".into(), date(&base.started_at), date(&cand.started_at)),
        ("Requests ok".into(), ok(base), ok(cand)),
    ];
    facts.extend(differing_settings(base, cand).into_iter().map(|(k, b, c)| (format!("Setting {k}"), b, c)));
    for (label, b, c) in facts {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            escape(&label),
            escape(&b),
            escape(&c)
        );
    }
    out.push_str("</tbody></table></div>\n</details>\n");
    if base.formulas != cand.formulas {
        out.push_str(
            "<p class=\"note\">The two runs were measured with different formulas (different asb versions): the \
             baseline's are shown in its report; compare with care.</p>\n",
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// `**x**` (as the winner line spells it) as `<strong>x</strong>`, in escaped text.
fn markdown_strong(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split("**").enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<strong>{part}</strong>");
        } else {
            out.push_str(part);
        }
    }
    out.replace('`', "")
}

fn rows_table(out: &mut String, rows: &[Row], with_bucket: bool, nb: &str, nc: &str) {
    use super::html::escape;
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    if with_bucket {
        out.push_str("<th>Context</th>");
    }
    let _ = write!(
        out,
        "<th>Metric</th><th>{}</th><th>{}</th><th>Delta</th><th>95% interval of delta</th><th></th></tr></thead>\n<tbody>\n",
        escape(nb),
        escape(nc)
    );
    for r in rows {
        out.push_str("<tr>");
        if with_bucket {
            let _ = write!(out, "<td><code>{}</code></td>", escape(r.bucket.as_deref().unwrap_or("")));
        }
        let delta =
            if matches!(r.change, Change::NotApplicable) && !r.judged { String::new() } else { r.change.delta() };
        let badge = match r.change.badge() {
            Some((class, word)) if r.judged => format!("<span class=\"badge {class}\">{word}</span>"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{badge}</td></tr>",
            escape(&r.label),
            escape(&r.base),
            escape(&r.cand),
            escape(&delta),
            escape(&r.interval())
        );
    }
    out.push_str("</tbody></table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{failed_request, failed_run, ok_request, run_of, sample_run};
    use super::*;

    #[test]
    fn changes_know_their_direction() {
        assert_eq!(Change::of(Some(100.0), Some(80.0), Better::Lower), Change::Better(-20.0));
        assert_eq!(Change::of(Some(50.0), Some(40.0), Better::Higher), Change::Worse(-20.0));
        assert_eq!(Change::of(Some(100.0), Some(104.0), Better::Lower), Change::Same(4.0));
        assert_eq!(Change::of(Some(0.0), Some(4.0), Better::Lower), Change::NotApplicable);
        assert_eq!(Change::of(None, Some(4.0), Better::Lower), Change::NotApplicable);
        assert_eq!(Change::Better(-20.0).delta(), "-20.0%");
        assert_eq!(Change::Worse(12.34).delta(), "+12.3%");
    }

    /// `sample_run` with every TTFT scaled by `ttft` and every decode rate by `decode`.
    fn scaled(ttft: f64, decode: f64) -> RunResults {
        let mut run = sample_run();
        for b in &mut run.buckets {
            if let Some(d) = b.metrics.ttft_ms.as_mut() {
                d.p50 *= ttft;
                d.p99 *= ttft;
            }
            if let Some(d) = b.metrics.decode_tok_per_s.as_mut() {
                d.p50 *= decode;
            }
        }
        run
    }

    #[test]
    fn bucket_rows_and_winner() {
        let base = sample_run();
        let mut cand = scaled(0.8, 0.8);
        cand.model = "other-model".into();
        let md = render(&base, &cand);
        // Two samples a bucket: a 20 % change is not judged.
        assert!(md.contains("| `fresh` | TTFT p50 | 125ms | 100ms | -20.0% | n < 5 | too few samples |"), "{md}");
        assert!(md.contains("| `fresh` | Agg tok/s |") && md.contains("| ±5 % rule | ≈ same |"), "{md}");
        assert!(md.contains("**Baseline** (`test-model`) wins **2/2** bucket(s) by decode p50."), "{md}");
        assert!(md.contains("Settings: the same in both runs."), "{md}");
        assert!(!md.contains("Not like for like"), "{md}");
        for key in ["ttft_ms", "decode_tok_per_s", "aggregate_tok_per_s", "percentiles"] {
            assert!(md.contains(&format!("`{key}`")), "{key}");
        }

        let same = render(&base, &base);
        assert!(same.contains("**Tied** across 2 bucket(s)"), "{same}");
    }

    /// `n` successful requests per bucket (fresh, medium) around `ttft` ms and `itl` ms,
    /// each ±`spread` (a fraction).
    fn many(n: usize, ttft: f64, itl: f64, spread: f64) -> RunResults {
        let mut requests = Vec::new();
        for i in 0..n {
            let wobble = 1.0 + spread * ((i as f64 * 0.618_034).fract() * 2.0 - 1.0);
            for (bucket, prompt) in [("fresh", 2_000), ("medium", 40_000)] {
                requests.push(ok_request("build-api", i, bucket, prompt, ttft * wobble, itl * wobble));
            }
        }
        run_of(requests)
    }

    #[test]
    fn changes_are_judged_against_the_noise() {
        let base = many(40, 200.0, 10.0, 0.1);
        // 20 % faster on tight samples: better (TTFT), and a slower decode: worse.
        let md = render(&base, &many(40, 160.0, 12.5, 0.1));
        let line = |metric: &str| {
            md.lines().find(|l| l.starts_with(&format!("| `fresh` | {metric} |"))).unwrap_or_default().to_string()
        };
        assert!(line("TTFT p50").ends_with("| 🟢 better |") && line("TTFT p50").contains("-20.0%"), "{md}");
        assert!(line("Decode p50 (tok/s)").ends_with("| 🔴 worse |"), "{md}");
        // The values carry their intervals and the delta its interval.
        assert!(line("TTFT p50").contains("ms \\[") && line("TTFT p50").contains("| [-"), "{}", line("TTFT p50"));
        // 8 % slower on samples spread ±60 %: within the noise, so the same.
        let md = render(&many(12, 200.0, 10.0, 0.6), &many(12, 216.0, 10.0, 0.6));
        let ttft = md.lines().find(|l| l.starts_with("| `fresh` | TTFT p50 |")).unwrap();
        assert!(ttft.ends_with("| ≈ same |"), "{ttft}");
        // And the HTML page says the same with badges, and overlays both runs.
        let page = render_html(&base, &many(40, 160.0, 12.5, 0.1));
        assert!(page.contains("<span class=\"badge better\">better</span>"));
        assert!(page.contains("<span class=\"badge worse\">worse</span>"));
        assert_eq!(page.matches("<svg").count(), 4, "{page}");
        assert!(page.contains("data-plot=\"cmp-ttft-ecdf\""));
        assert!(!page.contains("🟢") && !page.contains("🔴") && !page.contains("<script"));
    }

    #[test]
    fn compare_plots_hold_both_runs() {
        let (base, cand) = (many(20, 200.0, 10.0, 0.3), many(20, 900.0, 40.0, 0.3));
        let plots: Vec<_> = compare_plots(&base, &cand).into_iter().map(|p| p.unwrap()).collect();
        assert_eq!(plots.len(), 4);
        for p in &plots {
            assert!(p.outside().is_empty(), "{}: {:?}", p.id, p.outside());
            assert_eq!(p.series.len(), 2, "{}", p.id);
            assert!(p.marks() > 0 && p.svg().is_ok(), "{}", p.id);
        }
        let ttft = &plots[0];
        assert!(ttft.x.contains(200.0 * 0.7) && ttft.x.contains(900.0 * 1.3), "{:?}", ttft.x);
        // One side without data: the other still plotted; neither: a note.
        assert!(compare_plots(&base, &failed_run()).iter().all(|p| p.is_ok()));
        assert!(compare_plots(&failed_run(), &failed_run()).iter().all(|p| p.is_err()));
    }

    #[test]
    fn labels_name_the_runs() {
        let mut base = sample_run();
        base.label = Some("<before>".into());
        let md = render(&base, &sample_run());
        assert!(md.contains("| Label | \\<before\\> | - |") || md.contains("| Label | &lt;before&gt; | - |"), "{md}");
        let page = render_html(&base, &sample_run());
        assert!(page.contains("baseline: &lt;before&gt;") && !page.contains("<before>"));
    }

    #[test]
    fn server_side_deltas_are_compared_when_both_runs_scraped() {
        use crate::replay::server_metrics::summary::GaugeStats;
        use crate::replay::server_metrics::ServerMetrics;
        let with = |kv: f64, waiting: f64, hit: f64| {
            let mut r = sample_run();
            let gauge = |v: f64| Some(GaugeStats { max: v, mean: v / 2.0, scrapes: 4 });
            let run = ServerSummary {
                kv_cache_usage: gauge(kv),
                requests_waiting: gauge(waiting),
                prefix_cache_hit_rate: Some(hit),
                ..Default::default()
            };
            r.server_metrics = Some(ServerMetrics { run: Some(run), ..Default::default() });
            r
        };
        let md = render(&with(0.5, 4.0, 0.8), &with(0.9, 2.0, 0.4));
        assert!(md.contains("| Server KV-cache use max | 50.0% | 90.0% | +80.0% |"), "{md}");
        assert!(md.contains("| Server requests waiting max | 4.00 | 2.00 | -50.0% |"), "{md}");
        assert!(md.contains("| Server prefix-cache hit rate | 80.0% | 40.0% | -50.0% |"), "{md}");
        assert!(!render(&sample_run(), &with(0.5, 1.0, 0.5)).contains("Server KV"));
    }

    #[test]
    fn unlike_settings_are_called_out() {
        let base = sample_run();
        let mut cand = sample_run();
        cand.settings.cache_mode = "allcold".into();
        cand.settings.seed = Some(7);
        let md = render(&base, &cand);
        assert!(md.contains("| Setting `cache_mode` | `realistic` | `allcold` |"), "{md}");
        assert!(md.contains("| Setting `seed` | `-` | `7` |") || md.contains("| Setting `seed` | - | `7` |"), "{md}");
        assert!(md.contains("**Not like for like:** cache\\_mode (realistic vs allcold) differs"), "{md}");
    }

    #[test]
    fn no_overlap_and_full_failure() {
        let base = sample_run();
        let fresh_only = run_of(vec![ok_request("build-api", 0, "fresh", 100, 10.0, 1.0)]);
        let medium_only = run_of(vec![ok_request("build-api", 0, "medium", 40_000, 10.0, 1.0)]);
        let w = winner(&fresh_only, &medium_only);
        assert!(w.starts_with("No shared context buckets"), "{w}");
        assert!(render(&fresh_only, &medium_only).contains("Only in the baseline: `fresh` (1 request)."));

        // Candidate failed everywhere: not a tie, no winner.
        let w = winner(&base, &failed_run());
        assert!(w.starts_with("No valid comparison buckets"), "{w}");
        assert!(!w.contains("Tied"));

        // A one-sided failure is left out of the count.
        let half = run_of(vec![
            ok_request("build-api", 0, "fresh", 100, 10.0, 1.0),
            failed_request("fix-bug", 1, "medium", "HTTP 500"),
        ]);
        let w = winner(&base, &half);
        assert!(w.contains("/1** bucket(s)") && w.contains("1 bucket(s) with zero completions on a side"), "{w}");
    }
}
