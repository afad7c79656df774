//! When each call of a recording started and ended, on one clock.
//!
//! Format v1 lines carry `start_offset_ms`, the arrival in ms after their recorder started:
//! the truth, overlaps included. A file can hold several recorder runs (the recorder
//! appends), each with its own zero; runs are put on one clock with their lines'
//! `timestamp`s (wall-clock arrival). AgenticSwarmBench (the original asb)'s lines have no
//! offsets but a `timestamp` that is the arrival too, so they are placed by it. Only when
//! neither is usable (timestamps missing, or all the same) are calls laid end to end in seq
//! order by their durations — and the schedule says so, since the gaps between calls are
//! then unknown.

use std::collections::HashMap;

use crate::recording::reader::NumberedCall;

/// What placing a call needs to know of it.
pub(crate) trait Arrives {
    fn experiment_id(&self) -> &str;
    fn seq(&self) -> u64;
    fn line(&self) -> usize;
    fn start_offset_ms(&self) -> Option<f64>;
    /// Wall-clock arrival in ms since the epoch.
    fn timestamp_ms(&self) -> Option<f64>;
    /// Arrival → end of the answer.
    fn duration_ms(&self) -> Option<f64>;
}

impl Arrives for NumberedCall {
    fn experiment_id(&self) -> &str {
        &self.call.experiment_id
    }
    fn seq(&self) -> u64 {
        self.call.seq
    }
    fn line(&self) -> usize {
        self.line
    }
    fn start_offset_ms(&self) -> Option<f64> {
        self.call.start_offset_ms
    }
    fn timestamp_ms(&self) -> Option<f64> {
        self.call.timestamp_ms()
    }
    fn duration_ms(&self) -> Option<f64> {
        self.call.duration_ms()
    }
}

/// Where the start times came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartSource {
    /// `start_offset_ms` (runs of several recorders aligned by their timestamps).
    Offsets,
    /// Each line's `timestamp` (AgenticSwarmBench lines).
    Timestamps,
    /// Unknown: calls laid end to end in seq order using `total_time_s`.
    EndToEnd,
}

impl StartSource {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StartSource::Offsets => "start_offset_ms",
            StartSource::Timestamps => "timestamp",
            StartSource::EndToEnd => "end_to_end",
        }
    }

    /// A sentence for the output.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            StartSource::Offsets => "start times from start_offset_ms",
            StartSource::Timestamps => "start times from the lines' timestamps (asb lines have no start_offset_ms)",
            StartSource::EndToEnd => {
                "no start offsets or usable timestamps: calls laid end to end by total_time_s (real gaps and overlaps unknown)"
            }
        }
    }
}

/// One call on the common clock, in ms after the first arrival.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placed {
    /// Index into the calls the schedule was made from.
    pub index: usize,
    pub start_ms: f64,
    /// Arrival → end of the answer (0 when unknown).
    pub duration_ms: f64,
}

impl Placed {
    pub(crate) fn end_ms(&self) -> f64 {
        self.start_ms + self.duration_ms
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub source: StartSource,
    /// Recorder runs (distinct `experiment_id`s) in the file.
    pub runs: usize,
    /// In arrival order.
    pub calls: Vec<Placed>,
}

impl Schedule {
    /// First arrival → last end, in ms.
    pub(crate) fn span_ms(&self) -> f64 {
        self.calls.iter().map(Placed::end_ms).fold(0.0, f64::max)
    }
}

/// Places every call on one clock, in arrival order.
pub(crate) fn schedule<C: Arrives>(calls: &[C]) -> Schedule {
    let runs = run_numbers(calls);
    let run_count = runs.iter().max().map_or(0, |m| m + 1);
    let durations: Vec<f64> = calls.iter().map(|c| c.duration_ms().unwrap_or(0.0).max(0.0)).collect();
    let (source, starts) = match by_offsets(calls, &runs, run_count) {
        Some(starts) => (StartSource::Offsets, starts),
        None => match by_timestamps(calls) {
            Some(starts) => (StartSource::Timestamps, starts),
            None => (StartSource::EndToEnd, end_to_end(calls, &runs, &durations)),
        },
    };
    let zero = starts.iter().copied().fold(f64::INFINITY, f64::min);
    let mut placed: Vec<Placed> = starts
        .iter()
        .zip(&durations)
        .enumerate()
        .map(|(index, (start, duration))| Placed { index, start_ms: start - zero, duration_ms: *duration })
        .collect();
    placed.sort_by(|a, b| {
        a.start_ms
            .total_cmp(&b.start_ms)
            .then((runs[a.index], calls[a.index].seq()).cmp(&(runs[b.index], calls[b.index].seq())))
    });
    Schedule { source, runs: run_count, calls: placed }
}

/// Each call's recorder run, numbered in order of first appearance in the file.
fn run_numbers<C: Arrives>(calls: &[C]) -> Vec<usize> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    calls
        .iter()
        .map(|c| {
            let next = seen.len();
            *seen.entry(c.experiment_id()).or_insert(next)
        })
        .collect()
}

/// Starts from `start_offset_ms`, when every call has one. Several runs are shifted onto
/// the wall clock by their timestamps (each run's zero = its earliest `timestamp − offset`).
fn by_offsets<C: Arrives>(calls: &[C], runs: &[usize], run_count: usize) -> Option<Vec<f64>> {
    let offsets: Vec<f64> = calls.iter().map(|c| c.start_offset_ms()).collect::<Option<_>>()?;
    if run_count <= 1 {
        return Some(offsets);
    }
    let mut zeros = vec![f64::INFINITY; run_count];
    for (i, c) in calls.iter().enumerate() {
        zeros[runs[i]] = zeros[runs[i]].min(c.timestamp_ms()? - offsets[i]);
    }
    Some(offsets.iter().zip(runs).map(|(offset, run)| zeros[*run] + offset).collect())
}

/// Starts from the timestamps, when every call has one and they are not all the same.
fn by_timestamps<C: Arrives>(calls: &[C]) -> Option<Vec<f64>> {
    let starts: Vec<f64> = calls.iter().map(C::timestamp_ms).collect::<Option<_>>()?;
    let distinct = starts.iter().any(|s| *s != starts[0]);
    (distinct || starts.len() == 1).then_some(starts)
}

/// Calls one after the other, in (run, seq) order.
fn end_to_end<C: Arrives>(calls: &[C], runs: &[usize], durations: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| (runs[i], calls[i].seq(), calls[i].line()));
    let mut starts = vec![0.0; calls.len()];
    let mut clock = 0.0;
    for i in order {
        starts[i] = clock;
        clock += durations[i];
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::{CallLine, Timing};

    fn call(seq: u64, run: &str, ts: &str, offset: Option<f64>, end_ms: f64) -> NumberedCall {
        NumberedCall {
            line: seq as usize,
            call: CallLine {
                seq,
                experiment_id: run.into(),
                timestamp: ts.into(),
                start_offset_ms: offset,
                timing: Some(Timing { end_ms, ..Default::default() }),
                ..Default::default()
            },
        }
    }

    fn starts(s: &Schedule) -> Vec<(usize, f64)> {
        s.calls.iter().map(|p| (p.index, (p.start_ms * 1000.0).round() / 1000.0)).collect()
    }

    #[test]
    fn offsets_keep_overlaps_and_order_by_arrival() {
        // File order is completion order: the long call 1 ends last.
        let calls = vec![
            call(2, "r", "2026-01-01T00:00:01.100000+00:00", Some(1100.0), 50.0),
            call(1, "r", "2026-01-01T00:00:01.000000+00:00", Some(1000.0), 500.0),
        ];
        let s = schedule(&calls);
        assert_eq!(s.source, StartSource::Offsets);
        assert_eq!(starts(&s), vec![(1, 0.0), (0, 100.0)]);
        assert_eq!(s.span_ms(), 500.0);
    }

    #[test]
    fn runs_of_two_recorders_share_the_wall_clock() {
        // Run b started 2 s after run a (same offsets, timestamps 2 s apart).
        let calls = vec![
            call(1, "a", "2026-01-01T00:00:10.000000+00:00", Some(100.0), 10.0),
            call(1, "b", "2026-01-01T00:00:12.000000+00:00", Some(100.0), 10.0),
        ];
        let s = schedule(&calls);
        assert_eq!((s.source, s.runs), (StartSource::Offsets, 2));
        assert_eq!(starts(&s), vec![(0, 0.0), (1, 2000.0)]);
    }

    #[test]
    fn asb_lines_use_timestamps_else_end_to_end() {
        let mut a = call(1, "x", "2026-04-18T21:19:35.276081+00:00", None, 0.0);
        let mut b = call(2, "x", "2026-04-18T21:19:41.676796+00:00", None, 0.0);
        (a.call.timing, b.call.timing) = (None, None);
        (a.call.total_time_s, b.call.total_time_s) = (Some(5.914), Some(4.782));
        let s = schedule(&[a.clone(), b.clone()]);
        assert_eq!(s.source, StartSource::Timestamps);
        assert_eq!(starts(&s), vec![(0, 0.0), (1, 6400.715)]);

        // Identical (synthetic) timestamps say nothing: end to end in seq order.
        b.call.timestamp = a.call.timestamp.clone();
        let s = schedule(&[b, a]);
        assert_eq!(s.source, StartSource::EndToEnd);
        assert_eq!(starts(&s), vec![(1, 0.0), (0, 5914.0)]);
        assert!((s.span_ms() - 10696.0).abs() < 1e-6);
    }
}
