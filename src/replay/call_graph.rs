//! Which calls of a recorded session each call waited for, and how long after them it
//! went: the happened-before order of the recording, kept by `--think-time recorded`.
//!
//! A call waits for
//! 1. the previous call of its own thread (the agent read that answer, ran tools, and
//!    sent this one: the gap is this call's start minus that call's end), and
//! 2. every call of another thread that ran entirely inside that gap — the sub-agents the
//!    previous call's tool use started, whose results this call carries (for each such
//!    thread, its last call, with its own gap);
//! 3. the first call of a thread (a sub-agent starting) waits for the call that ended last
//!    before it started, the one whose tool use spawned it.
//!
//! A call that started before anything had ended (the session's first) waits for nothing:
//! it goes at the session's start plus its recorded offset. Sub-agents that ran side by
//! side in the recording wait for nothing of each other and so overlap here too.
//!
//! Recorded times come from `start_offset_ms` and `timing.end_ms`. A task where a call
//! has none (AgenticSwarmBench's lines) has no recorded think time: its calls run back to
//! back in file order. A recording appended to by several recorder runs restarts its
//! offsets; a call whose offset goes back in time starts a new segment that follows the
//! previous call back to back.

/// A call this one waits for, and the recorded gap after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct After {
    /// Index of the awaited call in the task.
    pub call: usize,
    pub gap_ms: f64,
}

/// When one call of a task may go.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CallTiming {
    pub after: Vec<After>,
    /// Recorded start, ms after the task's first call (0 for untimed tasks).
    pub offset_ms: f64,
    /// The previous call of the same thread, if any (live history needs its answer).
    pub thread_previous: Option<usize>,
}

/// The timing of every call of a task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskTiming {
    pub calls: Vec<CallTiming>,
    /// Every call has recorded times.
    pub timed: bool,
}

/// One call as the graph needs it: its recorded (start, end) in ms, and its thread.
pub(crate) struct RecordedCall<'a> {
    pub span_ms: Option<(f64, f64)>,
    pub thread: &'a str,
}

/// The happened-before graph of a task's calls, given in file order (our recorder writes
/// a line when its call ends, so files are in completion order; other tools' may be in
/// start order: both work, the graph is built in start order).
pub(crate) fn task_timing(calls: &[RecordedCall<'_>]) -> TaskTiming {
    let spans: Option<Vec<(f64, f64)>> = calls.iter().map(|c| c.span_ms).collect();
    let Some(spans) = spans else {
        return back_to_back(calls);
    };
    let mut out: Vec<CallTiming> =
        (0..calls.len()).map(|_| CallTiming { after: Vec::new(), offset_ms: 0.0, thread_previous: None }).collect();
    let mut base_ms = 0.0;
    let mut previous_segment_last: Option<usize> = None;
    for segment in segments(&spans) {
        let mut order: Vec<usize> = segment.clone().collect();
        order.sort_by(|&a, &b| spans[a].0.total_cmp(&spans[b].0).then(a.cmp(&b)));
        let first_start = spans[order[0]].0;
        for (k, &i) in order.iter().enumerate() {
            let start = spans[i].0;
            let earlier = &order[..k];
            let previous = earlier.iter().rev().copied().find(|&j| calls[j].thread == calls[i].thread);
            let gap = |j: usize| (start - spans[j].1).max(0.0);
            let mut after = Vec::new();
            match previous {
                Some(p) => {
                    after.push(After { call: p, gap_ms: gap(p) });
                    // Per other thread, its last call that ran inside the gap.
                    let mut inside: Vec<usize> = Vec::new();
                    for &j in earlier.iter().filter(|&&j| calls[j].thread != calls[i].thread) {
                        if spans[j].0 >= spans[p].1 && spans[j].1 <= start {
                            match inside.iter_mut().find(|k| calls[**k].thread == calls[j].thread) {
                                Some(k) if spans[*k].1 <= spans[j].1 => *k = j,
                                Some(_) => {}
                                None => inside.push(j),
                            }
                        }
                    }
                    after.extend(inside.into_iter().map(|j| After { call: j, gap_ms: gap(j) }));
                }
                None => {
                    let spawner = earlier
                        .iter()
                        .copied()
                        .filter(|&j| spans[j].1 <= start)
                        .max_by(|&a, &b| spans[a].1.total_cmp(&spans[b].1).then(a.cmp(&b)));
                    after.extend(spawner.map(|j| After { call: j, gap_ms: gap(j) }));
                }
            }
            if k == 0 {
                // A restarted recorder: the new segment follows the old one back to back.
                after.extend(previous_segment_last.map(|j| After { call: j, gap_ms: 0.0 }));
            }
            out[i] = CallTiming { after, offset_ms: base_ms + start - first_start, thread_previous: previous };
        }
        let last = order.iter().copied().max_by(|&a, &b| spans[a].1.total_cmp(&spans[b].1));
        base_ms += last.map_or(0.0, |j| spans[j].1 - first_start);
        previous_segment_last = last;
    }
    TaskTiming { calls: out, timed: true }
}

/// Runs of lines from one recorder run: a line whose start and end both go back in time
/// from the line before it starts a new run (its offsets restart from a new recorder
/// start); in one run, either the starts (file in start order) or the ends (file in
/// completion order) never go back.
fn segments(spans: &[(f64, f64)]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    for i in 1..spans.len() {
        if spans[i].0 < spans[i - 1].0 && spans[i].1 < spans[i - 1].1 {
            out.push(from..i);
            from = i;
        }
    }
    if from < spans.len() {
        out.push(from..spans.len());
    }
    out
}

fn back_to_back(calls: &[RecordedCall<'_>]) -> TaskTiming {
    let calls = (0..calls.len())
        .map(|i| CallTiming {
            after: i.checked_sub(1).map(|p| After { call: p, gap_ms: 0.0 }).into_iter().collect(),
            offset_ms: 0.0,
            thread_previous: i.checked_sub(1),
        })
        .collect();
    TaskTiming { calls, timed: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(thread: &str, start: f64, end: f64) -> RecordedCall<'_> {
        RecordedCall { span_ms: Some((start, end)), thread }
    }

    fn after(t: &TaskTiming, i: usize) -> Vec<(usize, f64)> {
        t.calls[i].after.iter().map(|a| (a.call, a.gap_ms)).collect()
    }

    #[test]
    fn a_single_thread_keeps_its_gaps() {
        let t = task_timing(&[call("main", 100.0, 600.0), call("main", 900.0, 1000.0), call("main", 1000.0, 1200.0)]);
        assert!(t.timed);
        assert_eq!(after(&t, 0), []);
        assert_eq!(after(&t, 1), [(0, 300.0)]);
        assert_eq!(after(&t, 2), [(1, 0.0)]);
        assert_eq!(t.calls.iter().map(|c| c.offset_ms).collect::<Vec<_>>(), [0.0, 800.0, 900.0]);
    }

    /// main 0 asks for two sub-agents, which run side by side; main 5 waits for both. The
    /// lines are in completion order, as our recorder writes them.
    #[test]
    fn sub_agents_overlap_and_the_main_thread_waits_for_them() {
        let calls = [
            call("main", 0.0, 1000.0),
            call("b", 1150.0, 1800.0),
            call("a", 1100.0, 2000.0),
            call("b", 1900.0, 2500.0),
            call("a", 2300.0, 3000.0),
            call("main", 3400.0, 4000.0),
        ];
        let t = task_timing(&calls);
        assert_eq!(after(&t, 2), [(0, 100.0)], "a's first call follows the call that spawned it");
        assert_eq!(after(&t, 1), [(0, 150.0)], "b's too: not a's call, still running");
        assert_eq!(after(&t, 4), [(2, 300.0)], "a waits for a only; b ran beside it");
        assert_eq!(after(&t, 3), [(1, 100.0)]);
        assert_eq!(after(&t, 5), [(0, 2400.0), (4, 400.0), (3, 900.0)], "main waits for both sub-agents' last calls");
        assert_eq!(t.calls[5].thread_previous, Some(0));
        // The same calls in start order give the same graph.
        let mut by_start: Vec<usize> = (0..calls.len()).collect();
        by_start.sort_by(|&a, &b| calls[a].span_ms.unwrap().0.total_cmp(&calls[b].span_ms.unwrap().0));
        let reordered: Vec<RecordedCall<'_>> =
            by_start.iter().map(|&i| RecordedCall { span_ms: calls[i].span_ms, thread: calls[i].thread }).collect();
        let t2 = task_timing(&reordered);
        for (new, &old) in by_start.iter().enumerate() {
            let map =
                |v: Vec<(usize, f64)>| -> Vec<(usize, f64)> { v.into_iter().map(|(c, g)| (by_start[c], g)).collect() };
            assert_eq!(map(after(&t2, new)), after(&t, old), "call {old}");
        }
    }

    #[test]
    fn untimed_tasks_run_back_to_back() {
        let calls = [RecordedCall { span_ms: None, thread: "x" }, call("y", 0.0, 1.0), call("x", 5.0, 6.0)];
        let t = task_timing(&calls);
        assert!(!t.timed);
        assert_eq!(after(&t, 0), []);
        assert_eq!(after(&t, 1), [(0, 0.0)]);
        assert_eq!(after(&t, 2), [(1, 0.0)]);
    }

    #[test]
    fn a_restarted_recorder_starts_a_new_segment() {
        let t = task_timing(&[call("m", 5000.0, 6000.0), call("m", 100.0, 300.0), call("m", 500.0, 700.0)]);
        assert_eq!(after(&t, 1), [(0, 0.0)]);
        assert_eq!(after(&t, 2), [(1, 200.0)]);
        assert_eq!(t.calls.iter().map(|c| c.offset_ms).collect::<Vec<_>>(), [0.0, 1000.0, 1400.0]);
    }

    #[test]
    fn overlapping_calls_of_one_thread_never_wait_negative_time() {
        let t = task_timing(&[call("m", 0.0, 500.0), call("m", 400.0, 900.0)]);
        assert_eq!(after(&t, 1), [(0, 0.0)]);
    }
}
