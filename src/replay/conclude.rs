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
pub(crate) fn conclude<S: Sample + Clone, T: SessionFigures, I: Iterator<Item = T>>(
    samples: &[S],
    sessions: impl Fn() -> I,
    load: &mut LoadSummary,
    slo: Option<&Slo>,
    itl: Option<&[ItlHistogram]>,
) -> Conclusion {
    (load.schedule_lag_ms, load.behind_schedule) = load::lag(samples, load.lag_tolerance_ms);
    load.sessions = load::session_stats(&sessions);
    let counted: Vec<S>;
    let in_window: &[S] = if samples.iter().all(|r| r.in_window()) {
        samples
    } else {
        counted = samples.iter().filter(|r| r.in_window()).cloned().collect();
        &counted
    };
    let buckets = aggregate::buckets(in_window, itl);
    let mut summary = aggregate::summary(in_window, &buckets, itl);
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
