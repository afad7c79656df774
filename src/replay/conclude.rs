//! From a run's raw samples to its figures: the window's requests per bucket and overall,
//! the verdict, schedule lag and sessions, and the SLO. One function for a run and for
//! shards merged into one (`asb report -i shard-*.json`), so a merged report is computed
//! exactly as one process would have computed it from the same samples.

use super::aggregate;
use super::itl_histogram::ItlHistogram;
use super::load::{self, LoadSummary};
use super::results::{BucketStats, Summary};
use super::sample_row::Sample;
use super::session_row::SessionFigures;
use super::slo::{Slo, SloReport};

/// The figures of a run.
pub(crate) struct Conclusion {
    pub summary: Summary,
    pub buckets: Vec<BucketStats>,
    pub slo: Option<SloReport>,
}

/// Concludes over `samples` (their `in_window` marks already set) and the sessions that
/// each `sessions()` pass yields, and fills `load`'s schedule lag, behind-schedule finding
/// and session figures. `itl`: the window's gaps per bucket, when the samples no longer
/// hold them (a big run past its raw-gap cap).
pub(crate) fn conclude<S: Sample + Clone + Sync, T: SessionFigures, I: Iterator<Item = T>>(
    samples: &[S],
    sessions: impl Fn() -> I + Sync,
    load: &mut LoadSummary,
    slo: Option<&Slo>,
    itl: Option<&[ItlHistogram]>,
) -> Conclusion {
    // The schedule's and the sessions' figures on a second core while this one does the
    // requests' (a merge of 1.6M requests sorts some 30 columns: 0.5 s on one core).
    let tolerance = load.lag_tolerance_ms;
    let counted: Vec<S>;
    let in_window: &[S] = if samples.iter().all(|r| r.in_window()) {
        samples
    } else {
        counted = samples.iter().filter(|r| r.in_window()).cloned().collect();
        &counted
    };
    let ((lag, behind), session_stats, buckets, mut summary) = std::thread::scope(|scope| {
        let side = scope.spawn(|| (load::lag(samples, tolerance), load::session_stats(&sessions)));
        let buckets = aggregate::buckets(in_window, itl);
        let summary = aggregate::summary(in_window, &buckets, itl);
        let (lag, sessions) = side.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (lag, sessions, buckets, summary)
    });
    (load.schedule_lag_ms, load.behind_schedule, load.sessions) = (lag, behind, session_stats);
    if let Some(behind) = &load.behind_schedule {
        summary.verdict = "poor".into();
        summary.verdict_basis = format!("{behind}; {}", summary.verdict_basis);
    }
    // Filtered as they pass, never copied (a million sessions are 64 MB of rows).
    let window = load.window.from_ms..=load.window.to_ms;
    let slo = slo.map(|slo| {
        let window_sessions = sessions().filter(|s| window.contains(&s.due_ms()));
        slo.evaluate(in_window, window_sessions, summary.duration_s)
    });
    Conclusion { summary, buckets, slo }
}
