//! `asb compare BASELINE CANDIDATE`: two replay runs side by side, as Markdown.
//!
//! Buckets present in both runs are compared metric by metric (candidate against baseline,
//! in percent, lower-is-better for times and higher-is-better for rates, ±5 % counted as
//! the same). The winner is picked as AgenticSwarmBench (the original asb) picks it when
//! comparing two runs: among the buckets where both runs had successes, who has the higher
//! decode p50 more often. A run that failed everywhere does not tie; buckets with no success
//! on one side are left out of the count and said so.
//! Settings that make the comparison unlike for like are called out above everything else.

use std::fmt::Write as _;

use serde_json::Value;

use crate::replay::results::{BucketStats, RunResults};

use super::markdown::{code, text};
use crate::display::{date, duration_ms, itl, num, opt, percent, rate0, rate1, seconds};
use crate::stats::p50;

/// Changes within this many percent are "the same".
const SAME_WITHIN_PCT: f64 = 5.0;

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

    /// `-20.0%`, or `N/A`.
    pub(crate) fn delta(self) -> String {
        match self {
            Change::Better(p) | Change::Worse(p) | Change::Same(p) => format!("{p:+.1}%"),
            Change::NotApplicable => "N/A".into(),
        }
    }

    pub(crate) fn marker(self) -> &'static str {
        match self {
            Change::Better(_) => "🟢 better",
            Change::Worse(_) => "🔴 worse",
            Change::Same(_) => "≈ same",
            Change::NotApplicable => "",
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
}

const BUCKET_METRICS: &[Compared] = &[
    Compared {
        label: "TTFT p50",
        key: "ttft_ms",
        better: Better::Lower,
        spell: duration_ms,
        value: |b| p50(&b.metrics.ttft_ms),
    },
    Compared {
        label: "TTFT p99",
        key: "ttft_ms",
        better: Better::Lower,
        spell: duration_ms,
        value: |b| b.metrics.ttft_ms.as_ref().map(|d| d.p99),
    },
    Compared { label: "ITL p50", key: "itl_ms", better: Better::Lower, spell: itl, value: |b| p50(&b.metrics.itl_ms) },
    Compared {
        label: "Decode p50 (tok/s)",
        key: "decode_tok_per_s",
        better: Better::Higher,
        spell: rate1,
        value: |b| p50(&b.metrics.decode_tok_per_s),
    },
    Compared {
        label: "Prefill p50 (tok/s)",
        key: "prefill_tok_per_s",
        better: Better::Higher,
        spell: rate0,
        value: |b| p50(&b.metrics.prefill_tok_per_s),
    },
    Compared {
        label: "Agg tok/s",
        key: "aggregate_tok_per_s",
        better: Better::Higher,
        spell: rate0,
        value: |b| (b.succeeded > 0).then_some(b.aggregate_tok_per_s),
    },
];

/// The comparison of `cand` against `base`.
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

fn buckets(out: &mut String, base: &RunResults, cand: &RunResults) {
    out.push_str("## Per context bucket\n\n");
    out.push_str(
        "Delta = (candidate − baseline) / baseline. Lower is better for times (TTFT, ITL), higher for rates; \
         beyond ±5 % a change is marked 🟢 better or 🔴 worse, within it ≈ same. \
         N/A when a side has no value or zero.\n\n",
    );
    let shared = shared_buckets(base, cand);
    if shared.is_empty() {
        out.push_str("No context bucket is in both runs.\n\n");
    } else {
        out.push_str("| Context | Metric | Baseline | Candidate | Delta | |\n|---|---|---|---|---|---|\n");
        for name in &shared {
            let (Some(b), Some(c)) = (find(base, name), find(cand, name)) else { continue };
            let _ = writeln!(
                out,
                "| {} | Completed | {}/{} | {}/{} | | |",
                code(name, true),
                b.succeeded,
                b.requests,
                c.succeeded,
                c.requests
            );
            for m in BUCKET_METRICS {
                let (vb, vc) = ((m.value)(b), (m.value)(c));
                let change = Change::of(vb, vc, m.better);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    code(name, true),
                    m.label,
                    text(&opt(vb, m.spell)),
                    text(&opt(vc, m.spell)),
                    change.delta(),
                    change.marker()
                );
            }
        }
        out.push('\n');
    }
    let only = |one: &RunResults, other: &RunResults| -> Vec<String> {
        one.buckets
            .iter()
            .filter(|b| find(other, &b.name).is_none())
            .map(|b| {
                format!("{} ({} request{})", code(&b.name, false), b.requests, if b.requests == 1 { "" } else { "s" })
            })
            .collect()
    };
    let (only_base, only_cand) = (only(base, cand), only(cand, base));
    if !only_base.is_empty() {
        let _ = writeln!(out, "Only in the baseline: {}.\n", only_base.join(", "));
    }
    if !only_cand.is_empty() {
        let _ = writeln!(out, "Only in the candidate: {}.\n", only_cand.join(", "));
    }
}

fn overall(out: &mut String, base: &RunResults, cand: &RunResults) {
    out.push_str("## Overall\n\n| Metric | Baseline | Candidate | Delta | |\n|---|---|---|---|---|\n");
    let (b, c) = (&base.summary, &cand.summary);
    let _ = writeln!(out, "| Requests ok | {}/{} | {}/{} | | |", b.succeeded, b.requests, c.succeeded, c.requests);
    let _ = writeln!(out, "| Failed | {} | {} | | |", b.failed, c.failed);
    // No direction: more is not better or worse in itself.
    type Row = (&'static str, Option<f64>, Option<f64>, Option<Better>, fn(f64) -> String);
    let rows: [Row; 8] = [
        ("Duration", Some(b.duration_s), Some(c.duration_s), Some(Better::Lower), seconds),
        (
            "Request throughput (req/s)",
            Some(b.request_throughput),
            Some(c.request_throughput),
            Some(Better::Higher),
            num,
        ),
        ("Output tok/s", Some(b.output_tok_per_s), Some(c.output_tok_per_s), Some(Better::Higher), rate1),
        ("Concurrency", Some(b.concurrency), Some(c.concurrency), None, num),
        ("Cache hit rate", b.cache_hit_rate, c.cache_hit_rate, Some(Better::Higher), percent),
        ("TTFT p50", p50(&b.metrics.ttft_ms), p50(&c.metrics.ttft_ms), Some(Better::Lower), duration_ms),
        ("ITL p50", p50(&b.metrics.itl_ms), p50(&c.metrics.itl_ms), Some(Better::Lower), itl),
        (
            "Decode p50 (tok/s)",
            p50(&b.metrics.decode_tok_per_s),
            p50(&c.metrics.decode_tok_per_s),
            Some(Better::Higher),
            rate1,
        ),
    ];
    for (label, vb, vc, better, spell) in rows {
        // Without a direction the delta is still shown, with no marker.
        let change = Change::of(vb, vc, better.unwrap_or(Better::Higher));
        let marker = if better.is_some() { change.marker() } else { "" };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {marker} |",
            text(&opt(vb, spell)),
            text(&opt(vc, spell)),
            change.delta(),
        );
    }
    let _ = writeln!(out, "| Verdict | {} | {} | | |\n", text(&b.verdict), text(&c.verdict));
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
        assert!(md.contains("| `fresh` | TTFT p50 | 125ms | 100ms | -20.0% | 🟢 better |"), "{md}");
        assert!(md.contains("| `fresh` | Decode p50 (tok/s) |") && md.contains("| -20.0% | 🔴 worse |"), "{md}");
        assert!(md.contains("**Baseline** (`test-model`) wins **2/2** bucket(s) by decode p50."), "{md}");
        assert!(md.contains("Settings: the same in both runs."), "{md}");
        assert!(!md.contains("Not like for like"), "{md}");
        for key in ["ttft_ms", "decode_tok_per_s", "aggregate_tok_per_s", "percentiles"] {
            assert!(md.contains(&format!("`{key}`")), "{key}");
        }

        let same = render(&base, &base);
        assert!(same.contains("**Tied** across 2 bucket(s)"), "{same}");
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
