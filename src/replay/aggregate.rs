//! From raw per-request samples to the run's and each bucket's statistics. Distributions
//! are over successful requests; durations come from the requests' own timestamps
//! (first send → last byte), never from summed per-worker times.
//!
//! Generic over [`Sample`]: a run's full samples and a big run's compact rows give the
//! same figures. ITL comes from the raw gaps, or from per-bucket HDR histograms when a big
//! run dropped its raw gaps (`itl`, [`super::itl_histogram`]).

use std::collections::HashMap;

use super::itl_histogram::ItlHistogram;
use super::measure::BUCKETS;
use super::results::{BucketStats, ErrorCount, Metrics, Summary};
use super::sample_row::Sample;
use super::verdict::{self, Grade};
use crate::stats::p50;
use crate::stats::Distribution;

/// The statistics of `requests`' successes; ITL from `itl` when given, else the raw gaps.
pub(crate) fn metrics<'a, S: Sample + 'a>(
    requests: impl Iterator<Item = &'a S> + Clone,
    itl: Option<&ItlHistogram>,
) -> Metrics {
    let ok = requests.filter(|r| r.ok());
    let dist = |f: fn(&S) -> Option<f64>| Distribution::of(ok.clone().filter_map(f));
    Metrics {
        ttft_ms: dist(|r| r.ttft_ms()),
        itl_ms: match itl {
            Some(h) => h.distribution(),
            None => Distribution::of(ok.clone().flat_map(|r| r.itl_ms().iter().copied())),
        },
        tpot_ms: dist(|r| r.tpot_ms()),
        e2e_ms: dist(|r| r.e2e_ms()),
        ttft_from_due_ms: dist(|r| r.ttft_from_due_ms()),
        e2e_from_due_ms: dist(|r| r.e2e_from_due_ms()),
        decode_tok_per_s: dist(|r| r.decode_tok_per_s()),
        asb_decode_tok_per_s: dist(|r| r.asb_decode_tok_per_s()),
        prefill_tok_per_s: dist(|r| r.prefill_tok_per_s()),
        prefill_total_tok_per_s: dist(|r| r.prefill_total_tok_per_s()),
        prompt_tokens: dist(|r| r.prompt_tokens().map(|n| n as f64)),
        completion_tokens: dist(|r| Some(r.completion_tokens() as f64)),
    }
}

/// First send → last byte over `requests`, seconds.
fn span_s<'a, S: Sample + 'a>(requests: impl Iterator<Item = &'a S>) -> f64 {
    let (mut first, mut last) = (f64::INFINITY, f64::NEG_INFINITY);
    for r in requests {
        first = first.min(r.start_ms());
        last = last.max(r.start_ms() + r.total_ms().unwrap_or(0.0));
    }
    if last > first {
        (last - first) / 1000.0
    } else {
        0.0
    }
}

fn prompt_size<S: Sample>(r: &S) -> u64 {
    r.prompt_tokens().unwrap_or(r.context_tokens_estimate())
}

/// Per-bucket statistics; `itl`, when given, holds each bucket's gaps in [`BUCKETS`] order.
pub(crate) fn buckets<S: Sample>(requests: &[S], itl: Option<&[ItlHistogram]>) -> Vec<BucketStats> {
    let mut out = Vec::new();
    for (i, (name, lower)) in BUCKETS.iter().enumerate() {
        let in_bucket = || requests.iter().filter(|r| r.bucket() == *name);
        let n = in_bucket().count();
        if n == 0 {
            continue;
        }
        let succeeded = in_bucket().filter(|r| r.ok()).count();
        let output_tokens: u64 = in_bucket().filter(|r| r.ok()).map(|r| r.completion_tokens()).sum();
        let wall = span_s(in_bucket());
        out.push(BucketStats {
            name: name.to_string(),
            lower: *lower,
            upper: BUCKETS.get(i + 1).map(|(_, l)| *l),
            requests: n,
            succeeded,
            failed: n - succeeded,
            max_prompt_tokens: in_bucket().map(prompt_size).max().unwrap_or(0),
            mean_prompt_tokens: in_bucket().map(prompt_size).sum::<u64>() as f64 / n as f64,
            wall_time_s: wall,
            aggregate_tok_per_s: if wall > 0.0 { output_tokens as f64 / wall } else { 0.0 },
            output_tokens,
            metrics: metrics(in_bucket(), itl.and_then(|h| h.get(i))),
        });
    }
    out
}

/// The run's summary; `itl` as for [`buckets`] (pooled over the buckets).
pub(crate) fn summary<S: Sample>(requests: &[S], buckets: &[BucketStats], itl: Option<&[ItlHistogram]>) -> Summary {
    let ok = || requests.iter().filter(|r| r.ok());
    let succeeded = ok().count();
    let duration = span_s(requests.iter());
    let per_s = |x: f64| if duration > 0.0 { x / duration } else { 0.0 };
    let output_tokens: u64 = ok().map(|r| r.completion_tokens()).sum();
    let input_tokens: u64 = ok().filter_map(|r| r.prompt_tokens()).sum();
    let reported = || requests.iter().filter(|r| r.prompt_tokens().is_some() && r.cached_tokens().is_some());
    let (cache_in, cached): (u64, u64) =
        reported().fold((0, 0), |(i, c), r| (i + r.prompt_tokens().unwrap_or(0), c + r.cached_tokens().unwrap_or(0)));
    let (verdict, verdict_basis) = verdict(buckets, requests.len() - succeeded, requests.len());
    let pooled = itl.map(|hs| {
        let mut all = ItlHistogram::default();
        hs.iter().for_each(|h| all.merge(h));
        all
    });
    Summary {
        verdict,
        verdict_basis,
        requests: requests.len(),
        succeeded,
        failed: requests.len() - succeeded,
        retries: requests.iter().map(|r| r.attempts().saturating_sub(1) as u64).sum(),
        duration_s: duration,
        request_throughput: per_s(succeeded as f64),
        output_tok_per_s: per_s(output_tokens as f64),
        total_tok_per_s: per_s((output_tokens + input_tokens) as f64),
        concurrency: per_s(requests.iter().filter_map(|r| r.total_ms()).sum::<f64>() / 1000.0),
        input_tokens,
        cached_tokens: cached,
        output_tokens,
        cache_hit_rate: (cache_in > 0).then(|| cached as f64 / cache_in as f64),
        estimated_output_counts: ok().filter(|r| r.estimated_output()).count(),
        // One bucket holding every request: the overall figures are its own (the same
        // values, the same histogram), not computed twice.
        metrics: match buckets {
            [only] if only.requests == requests.len() => only.metrics.clone(),
            _ => metrics(requests.iter(), pooled.as_ref()),
        },
        errors: errors(requests),
    }
}

/// Errors grouped by message (first 200 characters), most frequent first.
fn errors<S: Sample>(requests: &[S]) -> Vec<ErrorCount> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut order = Vec::new();
    for r in requests {
        let message = match r.error() {
            Some(e) => e.chars().take(200).collect::<String>(),
            None if !r.ok() => "no output: the answer had no tokens".to_string(),
            None => continue,
        };
        let n = counts.entry(message.clone()).or_insert(0);
        if *n == 0 {
            order.push(message);
        }
        *n += 1;
    }
    let mut out: Vec<ErrorCount> = order.into_iter().map(|e| ErrorCount { count: counts[&e], error: e }).collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.count));
    out
}

/// The verdict: failures first ([`verdict::failure_cap`]: the share of requests that failed
/// caps the grade, and the basis says so before anything else), then AgenticSwarmBench (the
/// original asb)'s grade of the bucket it would take it from
/// ([`verdict::headline_bucket`]).
fn verdict(buckets: &[BucketStats], failed: usize, requests: usize) -> (String, String) {
    let Some(b) = verdict::headline_bucket(buckets) else {
        return ("unknown".into(), "no successful requests".into());
    };
    let cap = verdict::failure_cap(failed, requests);
    let (ttft, decode) = (p50(&b.metrics.ttft_ms), p50(&b.metrics.decode_tok_per_s));
    let name = match verdict::capped(verdict::bucket_grade(b), cap) {
        Grade::Good => "good",
        Grade::Ok => "ok",
        Grade::Poor => "poor",
        Grade::Unknown => "unknown",
    };
    let show = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let timing = format!("{} bucket: TTFT p50 {} ms, decode p50 {} tok/s", b.name, show(ttft, 0), show(decode, 1));
    let basis = match failed {
        0 => timing,
        _ => format!(
            "{failed} of {requests} requests failed ({:.1} %: {}); {timing}",
            100.0 * failed as f64 / requests as f64,
            verdict::FAILURE_GATE
        ),
    };
    (name.into(), basis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::results::RequestSample;

    fn req(bucket: &str, start: f64, ttft: f64, total: f64, tokens: u64, ok: bool) -> RequestSample {
        RequestSample {
            bucket: bucket.into(),
            start_ms: start,
            ttft_ms: Some(ttft),
            total_ms: Some(total),
            e2e_ms: Some(total),
            completion_tokens: tokens,
            decode_tok_per_s: Some(50.0),
            ok,
            error: (!ok).then(|| "HTTP 500: boom".to_string()),
            attempts: 1,
            prompt_tokens: Some(100),
            cached_tokens: Some(25),
            completion_source: "usage".into(),
            ..Default::default()
        }
    }

    #[test]
    fn durations_come_from_timestamps_not_summed_times() {
        // Two overlapping requests: 0–1000 ms and 500–1500 ms → 1.5 s, not 2 s.
        let rs = vec![req("fresh", 0.0, 100.0, 1000.0, 10, true), req("fresh", 500.0, 100.0, 1000.0, 20, true)];
        let b = buckets(&rs, None);
        assert_eq!(b.len(), 1);
        assert!((b[0].wall_time_s - 1.5).abs() < 1e-9);
        assert!((b[0].aggregate_tok_per_s - 20.0).abs() < 1e-9);
        let s = summary(&rs, &b, None);
        assert!((s.concurrency - 2.0 / 1.5).abs() < 1e-9);
        assert_eq!(s.cache_hit_rate, Some(0.25));
    }

    #[test]
    fn buckets_in_size_order_with_failures_counted() {
        let rs = vec![req("medium", 0.0, 10.0, 20.0, 5, true), req("fresh", 0.0, 10.0, 20.0, 5, false)];
        let b = buckets(&rs, None);
        assert_eq!(b.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["fresh", "medium"]);
        assert_eq!((b[0].succeeded, b[0].failed, b[0].upper), (0, 1, Some(10_000)));
        let s = summary(&rs, &b, None);
        assert_eq!((s.succeeded, s.failed), (1, 1));
        assert_eq!(s.errors[0].error, "HTTP 500: boom");
        assert!(s.verdict_basis.contains("; medium bucket"), "{}", s.verdict_basis);
    }

    #[test]
    fn verdict_thresholds_are_inclusive_and_the_worst_wins() {
        let at = |ttft: f64, decode: f64| {
            let mut r = req("fresh", 0.0, ttft, ttft + 10.0, 5, true);
            r.decode_tok_per_s = Some(decode);
            let rs = vec![r];
            summary(&rs, &buckets(&rs, None), None).verdict
        };
        assert_eq!(at(3000.0, 30.0), "good");
        assert_eq!(at(3000.1, 30.0), "ok");
        assert_eq!(at(100.0, 14.9), "poor");
        assert_eq!(at(10_000.0, 15.0), "ok");
        let none = summary::<RequestSample>(&[], &[], None);
        assert_eq!(none.verdict, "unknown");
    }

    #[test]
    fn failures_cap_the_verdict_and_come_first_in_its_basis() {
        let run = |ok: usize, failed: usize| {
            let mut rs: Vec<RequestSample> = (0..ok).map(|i| req("fresh", i as f64, 100.0, 200.0, 5, true)).collect();
            rs.extend((0..failed).map(|i| req("fresh", i as f64, 100.0, 200.0, 0, false)));
            summary(&rs, &buckets(&rs, None), None)
        };
        assert_eq!(run(24, 0).verdict, "good");
        let s = run(99, 1);
        assert_eq!(s.verdict, "ok", "any failure: at most ok");
        assert!(s.verdict_basis.starts_with("1 of 100 requests failed (1.0 %"), "{}", s.verdict_basis);
        let s = run(10, 14);
        assert_eq!(s.verdict, "poor", "14 of 24 failed");
        assert!(s.verdict_basis.starts_with("14 of 24 requests failed"), "{}", s.verdict_basis);
    }
}
