//! What load the run delivered, against what it was asked to deliver: the load model and
//! think time, the schedule lag (actual − intended send), the measurement window, and the
//! per-session figures. A run that could not keep its schedule says so here, and the
//! verdict and exit code follow (a benchmark must never under-deliver load silently).

use serde::{Deserialize, Serialize};

use super::sample_row::Sample;
use super::session_row::SessionFigures;
use crate::stats::Distribution;

/// The steady-state window: requests intended to start inside it are counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Window {
    /// ms from the run's start.
    pub from_ms: f64,
    pub to_ms: f64,
    /// How the window was chosen, in words.
    pub rule: String,
    pub requests_in: usize,
    pub requests_total: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SessionStats {
    pub started: usize,
    /// Sessions whose every call was sent.
    pub completed: usize,
    pub duration_s: Option<Distribution>,
    pub calls: Option<Distribution>,
    /// Σ think time per session, as the schedule applied it and as it passed.
    pub think_scheduled_s: Option<Distribution>,
    pub think_measured_s: Option<Distribution>,
    /// Per session: cached_tokens / prompt_tokens from the server's usage.
    pub cache_hit_rate: Option<Distribution>,
}

/// The load part of a run's summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LoadSummary {
    /// The load model, in words (sessions, arrivals).
    pub model: String,
    /// `--think-time` as run, and what it means for this scenario.
    pub think_time: String,
    pub think_time_detail: String,
    /// Schedule lag of every request sent: first_send_ms − scheduled_ms.
    pub schedule_lag_ms: Option<Distribution>,
    /// Lag p99 above this means the schedule was not kept.
    pub lag_tolerance_ms: f64,
    /// Why the run is behind schedule, when it is.
    pub behind_schedule: Option<String>,
    pub window: Window,
    pub sessions: SessionStats,
}

/// Marks each request in or out of the window `[from, to]` (intended send times, ms) and
/// describes the window.
pub(crate) fn apply_window<S: Sample>(requests: &mut [S], from_ms: f64, to_ms: f64, rule: String) -> Window {
    let mut inside = 0;
    for r in requests.iter_mut() {
        let counted = (from_ms..=to_ms).contains(&r.scheduled_ms());
        r.set_in_window(counted);
        inside += usize::from(counted);
    }
    Window { from_ms, to_ms, rule, requests_in: inside, requests_total: requests.len() }
}

/// The lag distribution and the behind-schedule finding.
///
/// The run is behind schedule when more than 1 % of its requests, and at least two, went
/// more than `tolerance_ms` after their intended send time: the lag's p99 past the
/// tolerance, read as a count, so that in a short run (where p99 is its maximum) one
/// descheduled send on a busy machine does not condemn the run.
pub(crate) fn lag<S: Sample>(requests: &[S], tolerance_ms: f64) -> (Option<Distribution>, Option<String>) {
    let lags = || requests.iter().filter_map(|r| r.lag_ms());
    let lag = Distribution::of(lags());
    let late = lags().filter(|&l| l > tolerance_ms).count();
    let behind = lag.as_ref().filter(|d| late >= MIN_LATE && late as f64 > d.count as f64 * LATE_SHARE).map(|d| {
        format!(
            "behind schedule: schedule lag p99 {:.1} ms > {tolerance_ms} ms ({late} of {} requests later than that; \
             p50 {:.1} ms, max {:.1} ms): requests went later than the load model asked, so the server received \
             less load than requested (a saturated client, or open-loop arrivals waiting for a free session slot)",
            d.p99, d.count, d.p50, d.max
        )
    });
    (lag, behind)
}

/// The share of requests that may go later than the tolerance (the lag's p99).
const LATE_SHARE: f64 = 0.01;
/// Late requests it takes to be behind schedule, whatever the run's size.
const MIN_LATE: usize = 2;

/// The session figures, from `sessions()` passes over the sessions (one per distribution:
/// a big run's sessions are read back from their spill file, not held).
pub(crate) fn session_stats<T: SessionFigures, I: Iterator<Item = T>>(sessions: impl Fn() -> I) -> SessionStats {
    let finished = || sessions().filter(|s| s.completed());
    SessionStats {
        started: sessions().count(),
        completed: finished().count(),
        duration_s: Distribution::of(finished().filter_map(|s| Some((s.end_ms()? - s.due_ms()) / 1000.0))),
        calls: Distribution::of(finished().map(|s| s.sent() as f64)),
        think_scheduled_s: Distribution::of(finished().map(|s| s.think_scheduled_ms() / 1000.0)),
        think_measured_s: Distribution::of(finished().map(|s| s.think_measured_ms() / 1000.0)),
        cache_hit_rate: Distribution::of(sessions().filter_map(|s| s.cache_hit_rate())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::results::RequestSample;

    fn at(scheduled_ms: f64, lag_ms: f64) -> RequestSample {
        RequestSample { scheduled_ms, lag_ms: Some(lag_ms), ..Default::default() }
    }

    #[test]
    fn the_window_keeps_requests_due_inside_it() {
        let mut rs = vec![at(0.0, 0.1), at(999.0, 0.1), at(1000.0, 0.1), at(5000.0, 0.1), at(5001.0, 0.1)];
        let w = apply_window(&mut rs, 1000.0, 5000.0, "warm-up 1 s, cool-down 1 s".into());
        assert_eq!(rs.iter().map(|r| r.in_window).collect::<Vec<_>>(), [false, false, true, true, false]);
        assert_eq!((w.requests_in, w.requests_total), (2, 5));
    }

    #[test]
    fn lag_past_the_tolerance_is_behind_schedule() {
        let kept: Vec<RequestSample> = (0..100).map(|i| at(i as f64, 0.05)).collect();
        assert!(lag(&kept, 10.0).1.is_none());
        let mut late = kept.clone();
        for r in late.iter_mut().take(5) {
            r.lag_ms = Some(40.0);
        }
        let (d, behind) = lag(&late, 10.0);
        assert_eq!(d.map(|d| d.count), Some(100));
        assert!(behind.unwrap().starts_with("behind schedule: schedule lag p99 40.0 ms > 10 ms (5 of 100 requests"));
    }

    #[test]
    fn one_late_send_in_a_short_run_is_not_behind_schedule() {
        let mut short: Vec<RequestSample> = (0..12).map(|i| at(i as f64, 0.05)).collect();
        short[7].lag_ms = Some(16.7);
        assert!(lag(&short, 10.0).1.is_none(), "p99 of 12 is their maximum: one hiccup");
        short[3].lag_ms = Some(12.0);
        assert!(lag(&short, 10.0).1.is_some(), "two late sends are a pattern");
        let big: Vec<RequestSample> = (0..1000).map(|i| at(i as f64, if i < 10 { 40.0 } else { 0.05 })).collect();
        assert!(lag(&big, 10.0).1.is_none(), "1 % late is what p99 allows");
    }
}
