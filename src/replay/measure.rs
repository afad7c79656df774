//! One request's numbers, from what the client observed. Every formula here is the one
//! printed in reports ([`super::results::formulas`]).

use std::time::Instant;

use super::client::Observation;
use super::results::RequestSample;

/// AgenticSwarmBench (the original asb)'s context buckets: (name, lower bound in prompt
/// tokens). A prompt of n tokens is in the last bucket whose lower bound is ≤ n.
pub(crate) const BUCKETS: [(&str, u64); 7] = [
    ("fresh", 0),
    ("short", 10_000),
    ("medium", 30_000),
    ("long", 55_000),
    ("full", 85_000),
    ("xl", 150_000),
    ("xxl", 300_000),
];

fn bucket_of(prompt_tokens: u64) -> &'static str {
    BUCKETS.iter().rev().find(|(_, lower)| prompt_tokens >= *lower).map_or("fresh", |(name, _)| name)
}

/// Where a request sits in the run, filled in by the scheduler.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    pub task_id: String,
    pub execution: u32,
    pub turn: usize,
    pub seq: u64,
    pub thread: Option<String>,
    pub slot: usize,
    /// The session the request belongs to (its ordinal in the run).
    pub session: u64,
    /// The intended send time, ms from the run's start.
    pub scheduled_ms: f64,
    /// When the first attempt was written, ms from the run's start.
    pub first_send_ms: Option<f64>,
    pub attempts: u32,
    pub context_tokens_estimate: u64,
}

/// AgenticSwarmBench's per-chunk estimate when the server sends no usage: max(1, chars/4)
/// per chunk.
pub(crate) fn estimate_tokens(chars_per_event: &[usize]) -> u64 {
    chars_per_event.iter().map(|&c| (c / 4).max(1) as u64).sum()
}

pub(crate) fn sample(obs: &Observation, at: Placement, run_start: Instant) -> RequestSample {
    let usage = obs.assembled.usage.as_ref();
    let ttft = obs.output_ms.first().copied();
    let last = obs.output_ms.last().copied();
    let (completion, source) = match usage {
        Some(u) if u.output_tokens > 0 || obs.output_ms.is_empty() => (u.output_tokens, "usage"),
        _ => (estimate_tokens(&obs.output_chars), "estimate"),
    };
    let prompt = usage.map(|u| u.input_tokens).filter(|&n| n > 0);
    let cached = usage.filter(|u| u.input_tokens > 0).map(|u| u.cache_read);
    let bucket = bucket_of(prompt.unwrap_or(at.context_tokens_estimate));
    let n = completion as f64;
    let decode_span_s = match (ttft, last) {
        (Some(first), Some(last)) if last > first => Some((last - first) / 1000.0),
        _ => None,
    };
    let per_s = |tokens: f64, ms: Option<f64>| ms.filter(|&t| t > 0.0).map(|t| tokens / (t / 1000.0));
    let ok = obs.error.is_none() && completion > 0;
    let start_ms = obs.t0.map_or(at.scheduled_ms, |t0| ms_between(run_start, t0));
    // From the intended send time: what the user of the schedule waited (retries included).
    let late_by = (start_ms - at.scheduled_ms).max(0.0);
    RequestSample {
        start_ms,
        session: at.session,
        first_send_ms: at.first_send_ms,
        lag_ms: at.first_send_ms.map(|first| first - at.scheduled_ms),
        ttft_from_due_ms: ttft.map(|t| t + late_by),
        e2e_from_due_ms: last.map(|t| t + late_by),
        in_window: true,
        task_id: at.task_id,
        execution: at.execution,
        turn: at.turn,
        seq: at.seq,
        thread: at.thread,
        slot: at.slot,
        scheduled_ms: at.scheduled_ms,
        attempts: at.attempts,
        connect_ms: obs.connect_ms,
        resent: obs.resent,
        frames: obs.frames,
        kernel_timed_frames: obs.kernel_frames,
        status: obs.status,
        request_id: obs.request_id.clone(),
        ttft_ms: ttft,
        e2e_ms: last,
        total_ms: obs.end_ms,
        itl_ms: obs.output_ms.windows(2).map(|w| w[1] - w[0]).collect(),
        content_events: obs.output_ms.len() as u64,
        events: obs.assembled.events,
        prompt_tokens: prompt,
        cached_tokens: cached,
        expected_cached_tokens: None,
        server_timings: obs.server_timings.clone(),
        completion_tokens: completion,
        completion_source: source.into(),
        context_tokens_estimate: at.context_tokens_estimate,
        bucket: bucket.into(),
        tpot_ms: decode_span_s.filter(|_| completion > 1).map(|s| s * 1000.0 / (n - 1.0)),
        decode_tok_per_s: decode_span_s.filter(|_| completion > 1).map(|s| (n - 1.0) / s),
        asb_decode_tok_per_s: match (ttft, obs.end_ms) {
            (Some(first), Some(end)) if end > first => Some(n / ((end - first) / 1000.0)),
            _ => None,
        },
        prefill_tok_per_s: prompt.and_then(|p| per_s(p.saturating_sub(cached.unwrap_or(0)) as f64, ttft)),
        prefill_total_tok_per_s: prompt.and_then(|p| per_s(p as f64, ttft)),
        stop_reason: obs.assembled.result.stop_reason.clone(),
        error: obs.error.clone(),
        ok,
        answer_text: None,
    }
}

fn ms_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::Usage;

    #[test]
    fn bucket_edges_are_asb_s() {
        for (n, b) in [(0, "fresh"), (9_999, "fresh"), (10_000, "short"), (29_999, "short"), (30_000, "medium")] {
            assert_eq!(bucket_of(n), b, "{n}");
        }
        for (n, b) in [(54_999, "medium"), (55_000, "long"), (85_000, "full"), (150_000, "xl"), (300_000, "xxl")] {
            assert_eq!(bucket_of(n), b, "{n}");
        }
    }

    #[test]
    fn chunk_estimate_is_asb_s() {
        assert_eq!(estimate_tokens(&[1, 4, 8, 400]), 1 + 1 + 2 + 100);
        assert_eq!(estimate_tokens(&[]), 0);
    }

    fn observed(times: &[f64], end: f64, usage: Option<Usage>) -> Observation {
        let mut obs = Observation {
            status: Some(200),
            output_ms: times.to_vec(),
            output_chars: vec![4; times.len()],
            end_ms: Some(end),
            ..Default::default()
        };
        obs.assembled.usage = usage;
        obs
    }

    #[test]
    fn formulas_on_known_timings() {
        let usage = Usage { input_tokens: 1000, cache_read: 600, output_tokens: 5, ..Default::default() };
        let obs = observed(&[100.0, 110.0, 130.0, 160.0, 200.0], 205.0, Some(usage));
        let s = sample(&obs, Placement { context_tokens_estimate: 20, ..Default::default() }, Instant::now());
        assert_eq!(s.ttft_ms, Some(100.0));
        assert_eq!(s.itl_ms, vec![10.0, 20.0, 30.0, 40.0]);
        assert_eq!(s.e2e_ms, Some(200.0));
        assert_eq!(s.completion_tokens, 5);
        assert_eq!(s.completion_source, "usage");
        assert!((s.tpot_ms.unwrap() - 25.0).abs() < 1e-9); // (200 − 100) / (5 − 1)
        assert!((s.decode_tok_per_s.unwrap() - 40.0).abs() < 1e-9); // 4 / 0.1 s
        assert!((s.asb_decode_tok_per_s.unwrap() - 5.0 / 0.105).abs() < 1e-9);
        assert!((s.prefill_tok_per_s.unwrap() - 4000.0).abs() < 1e-9); // 400 / 0.1 s
        assert!((s.prefill_total_tok_per_s.unwrap() - 10000.0).abs() < 1e-9);
        assert_eq!((s.prompt_tokens, s.cached_tokens, s.bucket.as_str()), (Some(1000), Some(600), "fresh"));
        assert!(s.ok);
    }

    #[test]
    fn no_usage_falls_back_to_the_labelled_estimate_and_buckets_by_estimate() {
        let obs = observed(&[50.0, 60.0], 61.0, None);
        let s = sample(&obs, Placement { context_tokens_estimate: 40_000, ..Default::default() }, Instant::now());
        assert_eq!((s.completion_tokens, s.completion_source.as_str()), (2, "estimate"));
        assert_eq!((s.prompt_tokens, s.bucket.as_str()), (None, "medium"));
        assert_eq!(s.prefill_tok_per_s, None);
    }

    #[test]
    fn an_error_or_an_empty_answer_is_not_ok() {
        let mut obs = observed(&[], 10.0, Some(Usage::default()));
        let s = sample(&obs, Placement::default(), Instant::now());
        assert!(!s.ok && s.ttft_ms.is_none() && s.decode_tok_per_s.is_none());
        obs = observed(&[5.0], 6.0, None);
        obs.error = Some("cut".into());
        assert!(!sample(&obs, Placement::default(), Instant::now()).ok);
    }
}
