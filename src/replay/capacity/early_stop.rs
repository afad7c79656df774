//! Stopping a capacity step that is clearly failing, so an overloaded step costs seconds,
//! not its whole window (and the server's queue is not left to drain for minutes).
//!
//! The rule, applied as each request of the step's window ends (window by intended send
//! time, as the step's figures are):
//!
//! * Every limit of `--slo` allows a share of requests beyond it: `pNN` of a latency
//!   allows (100 − NN) % above the limit, `pNN` of a rate allows NN % below it, `max` of a
//!   latency allows none. A failed request is beyond every limit. The schedule is a limit
//!   too: its lag p99 ≤ `--max-schedule-lag-ms` allows 1 % of sends later than that.
//! * A `max` limit is clearly missed by its first violation: the step cannot meet it.
//! * Otherwise a limit is clearly missed when at least 50 window requests have ended, at
//!   least 10 of them are beyond it, and the share beyond it is more than three standard
//!   errors above the share it allows: `v/n − 3·√(s(1−s)/n) > allowed`, `s = v/n`. The
//!   requests that end first are not the slowest of a step that is falling behind (its
//!   queue grows), so the rule errs towards running a step to its end.
//! * `mean` limits, `max` of a rate, and ITL limits (counted over every gap, not per
//!   request) are judged only at the end of the step.
//!
//! A stopped step fails; the reason is printed and kept in the step's result.

use crate::replay::results::RequestSample;
use crate::replay::slo::{Limit, Metric, Slo, Stat};

/// Requests that must have ended in the window before a share is judged.
const MIN_REQUESTS: usize = 50;
/// Violations that must have been seen before a share is judged.
const MIN_VIOLATIONS: usize = 10;
/// How many standard errors above the allowed share the observed share must be.
const SIGMAS: f64 = 3.0;

/// One limit as a count of requests beyond it.
#[derive(Debug, Clone)]
struct Counted {
    name: String,
    /// The share of requests the limit allows beyond it.
    allowed: f64,
    beyond: usize,
    /// `None`: the schedule-lag limit.
    limit: Option<Limit>,
}

/// Watches one step's requests as they end.
#[derive(Debug, Clone)]
pub(crate) struct EarlyStop {
    /// The window, in intended send time (ms from the run's start).
    window: (f64, f64),
    max_lag_ms: f64,
    counted: Vec<Counted>,
    seen: usize,
    /// Why the step was stopped, once it was.
    pub stopped: Option<String>,
}

/// The share of requests a limit allows beyond it; `None`: not judged early.
fn allowed_share(limit: &Limit) -> Option<f64> {
    if limit.metric == Metric::Itl {
        return None;
    }
    match (limit.stat, limit.metric.higher_is_better()) {
        (Stat::Percentile(p), false) => Some(1.0 - p / 100.0),
        (Stat::Percentile(p), true) => Some(p / 100.0),
        (Stat::Max, false) => Some(0.0),
        (Stat::Max, true) | (Stat::Mean, _) => None,
    }
}

/// Are `beyond` of `seen` clearly more than the `allowed` share?
pub(crate) fn clearly_beyond(beyond: usize, seen: usize, allowed: f64) -> bool {
    if allowed <= 0.0 {
        return beyond > 0;
    }
    if seen < MIN_REQUESTS || beyond < MIN_VIOLATIONS {
        return false;
    }
    let share = beyond as f64 / seen as f64;
    let standard_error = (share * (1.0 - share) / seen as f64).sqrt();
    share - SIGMAS * standard_error > allowed
}

impl EarlyStop {
    /// For a step whose window is `window` (ms of intended send time).
    pub(crate) fn new(slo: &Slo, max_lag_ms: f64, window: (f64, f64)) -> EarlyStop {
        let mut counted: Vec<Counted> = slo
            .limits
            .iter()
            .filter_map(|l| {
                allowed_share(l).map(|allowed| Counted { name: l.to_string(), allowed, beyond: 0, limit: Some(*l) })
            })
            .collect();
        counted.push(Counted {
            name: format!("schedule lag p99 <= {max_lag_ms} ms"),
            allowed: 0.01,
            beyond: 0,
            limit: None,
        });
        EarlyStop { window, max_lag_ms, counted, seen: 0, stopped: None }
    }

    /// A request ended; returns why the step should stop now (once).
    pub(crate) fn observe(&mut self, r: &RequestSample) -> Option<String> {
        if self.stopped.is_some() || !(self.window.0..=self.window.1).contains(&r.scheduled_ms) {
            return None;
        }
        self.seen += 1;
        for c in &mut self.counted {
            let beyond = match &c.limit {
                Some(limit) => !r.ok || limit.of_request(r).is_some_and(|v| !limit.meets(v)),
                None => r.lag_ms.is_some_and(|lag| lag > self.max_lag_ms),
            };
            c.beyond += usize::from(beyond);
        }
        let c = self.counted.iter().find(|c| clearly_beyond(c.beyond, self.seen, c.allowed))?;
        let why = format!(
            "clearly failing: {} of {} window requests ({:.0} %) are beyond {}, which allows {:.0} %",
            c.beyond,
            self.seen,
            100.0 * c.beyond as f64 / self.seen as f64,
            c.name,
            100.0 * c.allowed
        );
        self.stopped = Some(why.clone());
        Some(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ttft: f64, ok: bool, lag: f64) -> RequestSample {
        RequestSample {
            ok,
            ttft_ms: Some(ttft),
            ttft_from_due_ms: Some(ttft),
            scheduled_ms: 1_000.0,
            lag_ms: Some(lag),
            ..Default::default()
        }
    }

    #[test]
    fn a_share_is_judged_only_on_enough_requests_and_three_standard_errors() {
        // p99: 1 % allowed. 10 of 50 (20 %): 0.2 − 3·0.057 = 0.03 > 0.01.
        assert!(clearly_beyond(10, 50, 0.01));
        assert!(!clearly_beyond(10, 49, 0.01), "fewer than 50 requests");
        assert!(!clearly_beyond(9, 200, 0.01), "fewer than 10 violations");
        assert!(!clearly_beyond(3, 100, 0.01), "3 % of 100 is within noise of 1 %");
        // p50 of a rate: 50 % allowed below. 40 of 50 is clear, 30 of 50 is not.
        assert!(clearly_beyond(40, 50, 0.5));
        assert!(!clearly_beyond(30, 50, 0.5));
        // max: the first violation decides.
        assert!(clearly_beyond(1, 1, 0.0));
        assert!(!clearly_beyond(0, 100, 0.0));
    }

    #[test]
    fn stops_a_step_missing_ttft_p99_and_says_why() {
        let slo: Slo = "ttft:p99<=100ms".parse().unwrap();
        let mut watch = EarlyStop::new(&slo, 10.0, (500.0, 5_000.0));
        for i in 0..49 {
            assert_eq!(watch.observe(&request(if i % 4 == 0 { 500.0 } else { 50.0 }, true, 0.1)), None);
        }
        let why = watch.observe(&request(500.0, true, 0.1)).expect("stopped at the 50th request");
        assert_eq!(
            why,
            "clearly failing: 14 of 50 window requests (28 %) are beyond ttft:p99<=100ms, which allows 1 %"
        );
        assert_eq!(watch.stopped.as_deref(), Some(why.as_str()));
        assert_eq!(watch.observe(&request(500.0, true, 0.1)), None, "once");
    }

    #[test]
    fn a_passing_step_outside_the_window_or_within_limits_runs_on() {
        let slo: Slo = "ttft:p99<=100ms,decode_tps:mean>=10".parse().unwrap();
        let mut watch = EarlyStop::new(&slo, 10.0, (500.0, 5_000.0));
        let mut warmup = request(900.0, false, 50.0);
        warmup.scheduled_ms = 100.0;
        for _ in 0..100 {
            assert_eq!(watch.observe(&warmup), None, "warm-up requests are not judged");
        }
        for i in 0..1_000 {
            assert_eq!(watch.observe(&request(if i % 100 == 0 { 500.0 } else { 50.0 }, true, 0.1)), None);
        }
    }

    #[test]
    fn failures_and_schedule_lag_count() {
        let slo: Slo = "ttft:p99<=100ms".parse().unwrap();
        let mut watch = EarlyStop::new(&slo, 10.0, (0.0, 5_000.0));
        let mut why = None;
        for _ in 0..50 {
            why = why.or(watch.observe(&request(50.0, false, 0.1)));
        }
        assert!(why.is_some_and(|w| w.contains("50 of 50") && w.contains("ttft:p99<=100ms")));
        let mut watch = EarlyStop::new(&slo, 10.0, (0.0, 5_000.0));
        let mut why = None;
        for i in 0..60 {
            why = why.or(watch.observe(&request(50.0, true, if i % 2 == 0 { 400.0 } else { 1.0 })));
        }
        assert!(why.is_some_and(|w| w.contains("schedule lag p99 <= 10 ms")), "lag far past the limit");
    }

    #[test]
    fn a_max_latency_limit_is_missed_by_its_first_violation() {
        let slo: Slo = "e2e:max<=1s".parse().unwrap();
        let mut watch = EarlyStop::new(&slo, 10.0, (0.0, 5_000.0));
        let mut r = request(50.0, true, 0.1);
        r.e2e_from_due_ms = Some(500.0);
        assert_eq!(watch.observe(&r), None);
        r.e2e_from_due_ms = Some(1_500.0);
        assert!(watch.observe(&r).is_some());
    }
}
