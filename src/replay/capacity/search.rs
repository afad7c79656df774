//! The capacity search as a pure state machine: bracket the limit by doubling the load
//! from `start` until a step fails (or `max` passes), then bisect the bracket until it is
//! no wider than `resolution`. Each step's verdict comes from outside ([`Search::record`]),
//! so the rule is tested without a server.

use serde::{Deserialize, Serialize};

/// Where the search stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Search {
    pub start: f64,
    pub max: f64,
    pub resolution: f64,
    /// Loads are whole numbers (sessions), else any positive number (a rate).
    pub whole: bool,
    /// The highest load that passed, and the lowest that failed.
    pub passed: Option<f64>,
    pub failed: Option<f64>,
}

impl Search {
    pub(crate) fn new(start: f64, max: f64, resolution: f64, whole: bool) -> Search {
        Search { start, max: max.max(start), resolution, whole, passed: None, failed: None }
    }

    /// The next load to try, or `None` when the search is done.
    pub(crate) fn next(&self) -> Option<f64> {
        match (self.passed, self.failed) {
            (None, None) => Some(self.start),
            // Bracketing: double until a step fails or `max` passes.
            (Some(ok), None) if ok >= self.max => None,
            (Some(ok), None) => Some(self.round((ok * 2.0).min(self.max)).max(ok + self.least())),
            // Bisecting between the best pass (or nothing) and the first failure.
            (ok, Some(bad)) => {
                let ok = ok.unwrap_or(0.0);
                if bad - ok <= self.resolution {
                    return None;
                }
                let mid = self.round((ok + bad) / 2.0);
                (mid > ok && mid < bad && mid >= self.least()).then_some(mid)
            }
        }
    }

    /// A step at `load` passed or failed.
    pub(crate) fn record(&mut self, load: f64, passed: bool) {
        if passed {
            self.passed = Some(self.passed.map_or(load, |p| p.max(load)));
        } else {
            self.failed = Some(self.failed.map_or(load, |f| f.min(load)));
        }
    }

    /// The capacity: the highest load that passed.
    pub(crate) fn capacity(&self) -> Option<f64> {
        self.passed
    }

    fn round(&self, x: f64) -> f64 {
        if self.whole {
            x.floor()
        } else {
            x
        }
    }

    fn least(&self) -> f64 {
        if self.whole {
            1.0
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search against a server that holds `truth` sessions.
    fn run(mut s: Search, truth: f64) -> (Option<f64>, Vec<f64>) {
        let mut tried = Vec::new();
        while let Some(load) = s.next() {
            assert!(!tried.contains(&load), "{load} tried twice: {tried:?}");
            tried.push(load);
            s.record(load, load <= truth);
            assert!(tried.len() < 40, "{tried:?}");
        }
        (s.capacity(), tried)
    }

    #[test]
    fn finds_the_capacity_within_the_resolution() {
        let (cap, tried) = run(Search::new(1.0, 1024.0, 1.0, true), 37.0);
        assert_eq!(cap, Some(37.0));
        assert_eq!(tried, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 48.0, 40.0, 36.0, 38.0, 37.0]);
        for truth in [1.0, 2.0, 3.0, 17.0, 100.0, 1023.0] {
            for resolution in [1.0, 2.0, 4.0] {
                let (cap, tried) = run(Search::new(1.0, 1024.0, resolution, true), truth);
                let cap = cap.unwrap();
                assert!(cap <= truth && truth - cap < resolution, "truth {truth}, res {resolution}: {cap} ({tried:?})");
                assert!(tried.len() <= 2 * 11, "bounded steps: {tried:?}");
            }
        }
    }

    #[test]
    fn the_edges_say_what_they_are() {
        assert_eq!(run(Search::new(1.0, 64.0, 1.0, true), 0.0), (None, vec![1.0]), "not even one session");
        let (cap, tried) = run(Search::new(1.0, 64.0, 1.0, true), 1000.0);
        assert_eq!((cap, tried.last().copied()), (Some(64.0), Some(64.0)), "holds the maximum asked");
        let (cap, _) = run(Search::new(4.0, 64.0, 1.0, true), 2.0);
        assert_eq!(cap, Some(2.0), "a failing start is bisected downwards");
    }

    #[test]
    fn rates_bisect_to_a_fraction() {
        let (cap, _) = run(Search::new(0.5, 100.0, 0.05, false), 3.3);
        let cap = cap.unwrap();
        assert!(cap <= 3.3 && 3.3 - cap <= 0.05, "{cap}");
    }
}
