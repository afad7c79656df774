//! Shards of one run (`asb replay --shard K/N`) merged into one run: `asb report -i
//! 'shard-*.json' -o merged.html`.
//!
//! Exact by construction: every shard's JSON holds its raw per-request samples (TTFT, E2E,
//! TPOT, every inter-token gap, tokens) and sessions, so the merged run is those samples
//! put on one time axis and concluded by the same function a single run uses
//! ([`conclude`]): its percentiles are the percentiles of the union, equal to what one
//! process would report for the same requests. Nothing is averaged across shards.
//!
//! Refused: a file that is not a shard, shards of different runs (their `must_match`
//! settings differ: the flag is named), two files claiming the same shard. Said: shards
//! missing from 0..N, and shards that started far apart (they are aligned on their hosts'
//! wall clocks; `--start-at` makes them start together).

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::replay::conclude::conclude;
use crate::replay::results::RunResults;
use crate::replay::slo::Slo;

/// Shards that started further apart than this are reported: their time axes then rest on
/// their hosts' clocks more than on a common start.
const START_SPREAD_WARNING_MS: f64 = 1000.0;

/// What a merged run says of its shards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MergeInfo {
    /// N of `--shard K/N`.
    pub shards: u32,
    pub present: Vec<u32>,
    pub missing: Vec<u32>,
    pub hosts: Vec<String>,
    /// The largest gap between two shards' start times, ms (their hosts' clocks).
    pub start_spread_ms: f64,
    /// Which figures are exact, in words.
    pub exactness: String,
}

const EXACTNESS: &str =
    "exact: every per-request figure (TTFT, E2E, TPOT, decode and prefill rates, inter-token gaps, \
     tokens) and every percentile is computed from the union of the shards' raw samples, as one process would";

/// Merges `runs` (file name, run) into one run, with warnings to print.
pub(crate) fn merge(mut runs: Vec<(String, RunResults)>) -> Result<(RunResults, Vec<String>)> {
    let mut warnings = Vec::new();
    for (file, run) in &runs {
        if run.shard.is_none() {
            bail!("{file} is not a shard (it was run without --shard): only the shards of one run can be merged");
        }
    }
    runs.sort_by_key(|(_, r)| r.shard.as_ref().map(|s| s.index));
    let (first_file, first) = &runs[0];
    let first_shard = first.shard.as_ref().expect("checked above");
    let count = first_shard.count;
    let mut seen = BTreeSet::new();
    for (file, run) in &runs {
        let shard = run.shard.as_ref().expect("checked above");
        if shard.count != count {
            bail!(
                "{first_file} is shard {}/{count} but {file} is shard {}/{}: not the same run",
                first_shard.index,
                shard.index,
                shard.count
            );
        }
        if !seen.insert(shard.index) {
            bail!("two files are shard {}/{count} ({file} is one): give each shard once", shard.index);
        }
        for (key, value) in &first_shard.must_match {
            let other = shard.must_match.get(key);
            if other != Some(value) {
                bail!(
                    "{first_file} and {file} are shards of different runs: `{key}` is {value} in one and {} in the other",
                    other.map_or("not set", String::as_str)
                );
            }
        }
    }
    let missing: Vec<u32> = (0..count).filter(|i| !seen.contains(i)).collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "shard(s) {} of {count} missing: the merged report covers {} of {count} shards' work",
            missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            seen.len()
        ));
    }

    // One time axis: each shard's offsets moved by how much later than the first it started.
    let starts: Vec<jiff::Timestamp> = runs
        .iter()
        .map(|(file, r)| {
            r.started_at
                .parse::<jiff::Timestamp>()
                .map_err(|e| anyhow::anyhow!("{file}: started_at {:?}: {e}", r.started_at))
        })
        .collect::<Result<_>>()?;
    let t0 = *starts.iter().min().expect("at least one run");
    let offsets: Vec<f64> = starts.iter().map(|t| t.duration_since(t0).as_secs_f64() * 1000.0).collect();
    let spread = offsets.iter().copied().fold(0.0, f64::max);
    if spread > START_SPREAD_WARNING_MS {
        warnings.push(format!(
            "the shards started up to {spread:.0} ms apart (by their hosts' clocks): the merged run's time axis holds only \
             as far as those clocks agree; start shards together with --start-at"
        ));
    }
    for (file, r) in &runs {
        if let Some(late) = r.shard.as_ref().and_then(|s| s.started_late_ms).filter(|&l| l > 100.0) {
            warnings.push(format!("{file} started {late:.0} ms after --start-at"));
        }
    }

    let slo: Option<Slo> = match &first.slo {
        Some(report) => Some(report.slo.parse().map_err(|e: String| anyhow::anyhow!("{first_file}: its SLO: {e}"))?),
        None => None,
    };
    // The first shard's settings and server series, without copying its samples.
    let mut merged = {
        let first = &mut runs[0].1;
        let (requests, sessions) = (std::mem::take(&mut first.requests), std::mem::take(&mut first.sessions));
        let header = first.clone();
        (first.requests, first.sessions) = (requests, sessions);
        header
    };
    merged.started_at = t0.to_string();
    let mut aborted = Vec::new();
    let mut checks: Option<crate::replay::answer_checks::AnswerChecks> = None;
    // Sums over the shards' requests; the server's own series are the first shard's scrape
    // (every shard watched the same server).
    let mut prefix = merged.prefix_cache.clone();
    let mut loads = Vec::new();
    let (mut window_from, mut window_to) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, ((_, run), offset)) in runs.iter_mut().zip(&offsets).enumerate() {
        let is_first = i == 0;
        let shard = run.shard.clone().expect("checked above");
        let slot = |s: usize| s * count as usize + shard.index as usize;
        // Moved, not copied: a shard's samples are held once.
        for mut r in std::mem::take(&mut *run.requests) {
            r.scheduled_ms += offset;
            r.start_ms += offset;
            r.first_send_ms = r.first_send_ms.map(|t| t + offset);
            r.slot = slot(r.slot);
            merged.requests.push(r);
        }
        for mut s in std::mem::take(&mut *run.sessions) {
            s.due_ms += offset;
            s.start_ms = s.start_ms.map(|t| t + offset);
            s.end_ms = s.end_ms.map(|t| t + offset);
            s.slot = slot(s.slot);
            merged.sessions.push(s);
        }
        if let Some(why) = &run.aborted {
            aborted.push(format!("shard {}: {why}", shard.index));
        }
        if !is_first {
            if let (Some(all), Some(p)) = (prefix.as_mut(), &run.prefix_cache) {
                all.requests_with_usage += p.requests_with_usage;
                all.prompt_tokens += p.prompt_tokens;
                all.cached_tokens += p.cached_tokens;
                all.expected_cached_tokens += p.expected_cached_tokens;
                all.below_expected += p.below_expected;
                all.above_expected += p.above_expected;
                all.sessions.extend(p.sessions.iter().cloned());
                all.warnings.extend(p.warnings.iter().map(|w| format!("shard {}: {w}", shard.index)));
            }
        }
        if let Some(c) = &run.answer_checks {
            let all = checks.get_or_insert_with(Default::default);
            all.passed += c.passed;
            all.judged += c.judged;
            all.executions.extend(c.executions.iter().cloned());
        }
        if let Some(load) = &run.load {
            window_from = window_from.min(load.window.from_ms + offset);
            window_to = window_to.max(load.window.to_ms + offset);
            if !loads.contains(&load.model) {
                loads.push(load.model.clone());
            }
        }
        if !is_first {
            merged.settings.max_concurrent += run.settings.max_concurrent;
            merged.settings.executions += run.settings.executions;
            merged.settings.scheduled_requests += run.settings.scheduled_requests;
        }
    }
    merged.requests.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    merged.sessions.sort_by(|a, b| a.due_ms.total_cmp(&b.due_ms));
    if let Some(c) = checks.as_mut() {
        c.executions.sort_by(|a, b| (&a.task_id, a.execution).cmp(&(&b.task_id, b.execution)));
    }
    merged.answer_checks = checks;
    if let Some(p) = prefix.as_mut() {
        let rate = |n: u64| (p.prompt_tokens > 0).then(|| n as f64 / p.prompt_tokens as f64);
        (p.reported_hit_rate, p.expected_hit_rate) = (rate(p.cached_tokens), rate(p.expected_cached_tokens));
        p.sessions.sort_by_key(|s| s.session);
    }
    merged.prefix_cache = prefix;
    merged.clock_check = crate::replay::server_metrics::timings::ClockCheck::of(&merged.requests);
    merged.aborted = (!aborted.is_empty()).then(|| aborted.join("; "));
    let description = format!("merged from {} shard(s) of {count}; per shard: {}", runs.len(), loads.join(" | "));
    merged.settings.load = description.clone();

    if let Some(load) = merged.load.as_mut() {
        load.model = description;
        load.window.from_ms = window_from;
        load.window.to_ms = window_to.max(window_from);
        load.window.requests_total = merged.requests.len();
        load.window.requests_in = merged.requests.iter().filter(|r| r.in_window).count();
    }
    let mut load = merged.load.take().unwrap_or_default();
    let conclusion = conclude(&merged.requests, || merged.sessions.iter(), &mut load, slo.as_ref(), None);
    merged.load = Some(load);
    merged.summary = conclusion.summary;
    merged.buckets = conclusion.buckets;
    merged.slo = conclusion.slo;
    merged.shard = None;
    merged.merged = Some(MergeInfo {
        shards: count,
        present: seen.into_iter().collect(),
        missing,
        hosts: runs.iter().filter_map(|(_, r)| r.shard.as_ref().map(|s| s.host.clone())).collect(),
        start_spread_ms: spread,
        exactness: EXACTNESS.into(),
    });
    Ok((merged, warnings))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::run_of;
    use super::*;
    use crate::replay::results::RequestSample;
    use crate::replay::shard::ShardInfo;

    fn request(start_ms: f64, ttft: f64) -> RequestSample {
        RequestSample {
            task_id: "t".into(),
            bucket: "fresh".into(),
            start_ms,
            scheduled_ms: start_ms,
            ttft_ms: Some(ttft),
            e2e_ms: Some(ttft + 100.0),
            total_ms: Some(ttft + 100.0),
            completion_tokens: 10,
            decode_tok_per_s: Some(50.0),
            ok: true,
            in_window: true,
            ..Default::default()
        }
    }

    fn shard(index: u32, count: u32, started_at: &str, ttfts: &[f64]) -> (String, RunResults) {
        let mut run = run_of(ttfts.iter().enumerate().map(|(i, &t)| request(i as f64 * 10.0, t)).collect());
        run.started_at = started_at.into();
        run.shard = Some(ShardInfo {
            index,
            count,
            host: format!("pod-{index}"),
            start_at: None,
            started_late_ms: None,
            must_match: [("cache_mode".to_string(), "Realistic".to_string())].into(),
        });
        (format!("shard-{index}.json"), run)
    }

    #[test]
    fn percentiles_are_those_of_the_union_on_one_time_axis() {
        let a = shard(0, 2, "2026-12-03T10:00:00Z", &[100.0, 300.0, 500.0]);
        let b = shard(1, 2, "2026-12-03T10:00:00.250Z", &[200.0, 400.0]);
        let (merged, warnings) = merge(vec![b, a]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let union = run_of(vec![
            request(0.0, 100.0),
            request(10.0, 300.0),
            request(20.0, 500.0),
            request(250.0, 200.0),
            request(260.0, 400.0),
        ]);
        assert_eq!(merged.requests.iter().map(|r| r.start_ms).collect::<Vec<_>>(), [0.0, 10.0, 20.0, 250.0, 260.0]);
        let ttft = |r: &RunResults| r.summary.metrics.ttft_ms.clone().map(|d| (d.p50, d.p90, d.p99, d.count));
        assert_eq!(ttft(&merged), ttft(&union));
        let info = merged.merged.unwrap();
        assert_eq!((info.shards, info.present, info.start_spread_ms), (2, vec![0, 1], 250.0));
    }

    #[test]
    fn refuses_what_is_not_one_run_and_says_what_is_missing() {
        let a = shard(0, 3, "2026-12-03T10:00:00Z", &[100.0]);
        let mut b = shard(1, 3, "2026-12-03T10:00:00Z", &[100.0]);
        let (_, warnings) = merge(vec![a.clone(), b.clone()]).unwrap();
        assert!(warnings[0].starts_with("shard(s) 2 of 3 missing"), "{warnings:?}");
        let e = merge(vec![a.clone(), a.clone()]).unwrap_err().to_string();
        assert!(e.contains("two files are shard 0/3"), "{e}");
        b.1.shard.as_mut().unwrap().must_match.insert("cache_mode".into(), "Allcold".into());
        let e = merge(vec![a.clone(), b]).unwrap_err().to_string();
        assert!(e.contains("`cache_mode` is Realistic in one and Allcold in the other"), "{e}");
        let mut whole = a.clone();
        whole.1.shard = None;
        assert!(merge(vec![a, whole]).unwrap_err().to_string().contains("is not a shard"));
    }
}
