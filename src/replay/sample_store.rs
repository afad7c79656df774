//! Where a run's samples go as they finish. A small run holds them whole, as it always
//! did; past [`StoreOptions::spill_after`] requests the full samples go to a spill file
//! ([`Spill`]) and only a compact row of each stays in memory ([`SampleRow`], 88
//! bytes), with every inter-token gap also folded into a per-bucket HDR histogram
//! ([`ItlHistogram`]). Raw gaps stay in the rows while they number at most
//! [`StoreOptions::gap_cap`]; past it they are dropped from memory (not from the spill,
//! nor from the run JSON) and the run's ITL figures come from the histograms, with their
//! bound ([`super::itl_histogram::BOUND`]) said in every report.
//!
//! So a run of N requests holds 88 B × N (and 4 B per spilled request and session: its
//! record's length; sessions are read back from their spill when concluded) plus at most `gap_cap` ×
//! 8 B of gaps, 2,000–4,000 samples drawn evenly for the HTML's plots, and the answers of tasks with answer checks.
//! Every other figure (TTFT, E2E, TPOT, rates, tokens, counts) stays exact: it is
//! computed from the rows' own `f64`s.

use std::path::PathBuf;
use std::sync::Arc;

use super::itl_histogram::ItlHistogram;
use super::measure::BUCKETS;
use super::results::{RequestSample, SessionSample};
use super::sample_row::{Sample, SampleRow};
use super::session_row::{SessionFigures, SessionRow};
use super::spill::Spill;

/// Requests held whole before a run spills (`ASB_SPILL_AFTER`, for tests and A/B runs): as
/// many as a spilled run keeps for its plots, so a run's plots are drawn from every request
/// up to twice this.
const SPILL_AFTER: usize = 2_000;
/// Raw gaps held in a spilled run's rows (`ASB_ITL_RAW_CAP`): 32 MB of `f64`s.
const GAP_CAP: usize = 4_000_000;
/// Samples kept whole for the HTML's plots of a spilled run (between this and twice it).
const SHOWN: usize = 2_000;

#[derive(Debug, Clone)]
pub(crate) struct StoreOptions {
    /// None: never spill (`asb capacity`'s steps, which pool their requests).
    pub spill_after: Option<usize>,
    pub gap_cap: usize,
    /// Keep every raw gap (an `--slo` on ITL judges each request's own gaps).
    pub keep_all_gaps: bool,
    /// Where the spill file goes (the output's directory); None: `$TMPDIR`.
    pub dir: Option<PathBuf>,
}

impl StoreOptions {
    /// The defaults, or `ASB_SPILL_AFTER` / `ASB_ITL_RAW_CAP` when set (hidden knobs for
    /// tests and benchmarks; `ASB_SPILL_AFTER=never` holds every sample, the old path).
    pub(crate) fn from_env(dir: Option<PathBuf>, keep_all_gaps: bool) -> StoreOptions {
        let var = |name: &str| std::env::var(name).ok();
        let spill_after = match var("ASB_SPILL_AFTER").as_deref() {
            Some("never") => None,
            Some(n) => Some(n.parse().unwrap_or(SPILL_AFTER)),
            None => Some(SPILL_AFTER),
        };
        let gap_cap = var("ASB_ITL_RAW_CAP").and_then(|n| n.parse().ok()).unwrap_or(GAP_CAP);
        StoreOptions { spill_after, gap_cap, keep_all_gaps, dir }
    }

    pub(crate) fn held() -> StoreOptions {
        StoreOptions { spill_after: None, gap_cap: GAP_CAP, keep_all_gaps: true, dir: None }
    }
}

/// The samples of a run as it goes.
pub(crate) struct SampleStore {
    opts: StoreOptions,
    /// Requests the run will send, when known: a spilled run's rows are reserved at once
    /// (pages are only resident as rows fill them; no doubling copy at the end).
    expected: Option<u64>,
    held: Vec<RequestSample>,
    spilled: Option<Spilled>,
    sessions: Vec<SessionSample>,
    spilled_sessions: Option<SpilledSessions>,
}

/// A run's sessions at its end.
pub(crate) enum Sessions {
    Held(Vec<SessionSample>),
    Spilled(Box<SpilledSessions>),
}

/// A spilled run's sessions: all on disk, none held (a million one-call sessions' rows were
/// 64 MB); the figures read them back a pass at a time ([`SpilledSessions::rows`]).
#[derive(Debug)]
pub(crate) struct SpilledSessions {
    spill: Spill<SessionSample>,
    /// Sessions that arrived after the spill file failed (arrival index ≥ `spill.len()`).
    tail: Vec<SessionSample>,
    /// The first error a pass met (it ended the pass early).
    failed: std::sync::Mutex<Option<String>>,
}

impl SpilledSessions {
    pub(crate) fn len(&self) -> usize {
        self.spill.len() + self.tail.len()
    }

    /// Each session's row, read back from the spill in arrival order: one sequential pass.
    /// A read error ends the pass early; [`SpilledSessions::check`] returns it.
    pub(crate) fn rows(&self) -> impl Iterator<Item = SessionRow> + '_ {
        let mut lines = match self.spill.lines() {
            Ok(lines) => Some(lines),
            Err(e) => {
                self.fail(e);
                None
            }
        };
        let spilled = std::iter::from_fn(move || match lines.as_mut()?.next()? {
            Ok(session) => Some(SessionRow::of(&session)),
            Err(e) => {
                lines = None;
                self.fail(e);
                None
            }
        });
        spilled.chain(self.tail.iter().map(SessionRow::of))
    }

    fn fail(&self, e: anyhow::Error) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert_with(|| format!("{e:#}"));
    }

    /// The error that ended a pass of [`SpilledSessions::rows`] early, if one did.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => Ok(()),
        }
    }

    /// Every session in due order.
    pub(crate) fn for_each(&self, mut each: impl FnMut(&SessionSample) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let due: Vec<f64> = self.rows().map(|r| r.due_ms()).collect();
        self.check()?;
        let mut order: Vec<u32> = (0..due.len() as u32).collect();
        order.sort_by(|&a, &b| due[a as usize].total_cmp(&due[b as usize]));
        drop(due);
        let mut reader = self.spill.reader()?;
        let spilled = self.spill.len();
        for i in order.into_iter().map(|i| i as usize) {
            let session = if i < spilled { reader.get(i)? } else { self.tail[i - spilled].clone() };
            each(&session)?;
        }
        Ok(())
    }
}

/// A run's samples at its end.
pub(crate) enum Samples {
    Held(Vec<RequestSample>),
    Spilled(Box<Spilled>),
}

/// A spilled run: a row per request (arrival order), the full samples on disk.
#[derive(Debug)]
pub(crate) struct Spilled {
    pub rows: Vec<SampleRow>,
    spill: Spill<RequestSample>,
    /// Samples that arrived after the spill file failed (arrival index ≥ `spill.len()`).
    tail: Vec<RequestSample>,
    /// Per bucket ([`BUCKETS`] order), the gaps of successful requests.
    pub itl: Vec<ItlHistogram>,
    /// The rows hold no raw gaps (the cap was passed): ITL figures come from `itl`.
    pub gaps_dropped: bool,
    gaps_held: usize,
    gap_cap: usize,
    keep_all_gaps: bool,
    /// Every `stride`-th sample, whole but for its gaps: the HTML's plot points.
    pub shown: Vec<RequestSample>,
    stride: usize,
    /// Samples with an answer text (tasks with answer checks), gaps left out.
    pub answers: Vec<RequestSample>,
}

impl SampleStore {
    pub(crate) fn new(opts: StoreOptions, expected: Option<u64>) -> SampleStore {
        let hold = expected.unwrap_or(1024).min(opts.spill_after.unwrap_or(1 << 20) as u64 + 1).min(1 << 20);
        SampleStore {
            opts,
            expected,
            held: Vec::with_capacity(hold as usize),
            spilled: None,
            sessions: Vec::new(),
            spilled_sessions: None,
        }
    }

    /// Takes a finished session (spilled past the same count as samples); an error as
    /// for [`SampleStore::push`].
    pub(crate) fn push_session(&mut self, session: SessionSample) -> Option<String> {
        if let Some(s) = self.spilled_sessions.as_mut() {
            if !s.tail.is_empty() {
                s.tail.push(session);
                return None;
            }
            return match s.spill.push(&session) {
                Ok(()) => None,
                Err(e) => {
                    s.tail.push(session);
                    Some(format!("{e:#}; the run stopped"))
                }
            };
        }
        if self.opts.spill_after.is_none_or(|n| self.sessions.len() < n) {
            self.sessions.push(session);
            return None;
        }
        let spill = match Spill::create(self.opts.dir.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                self.opts.spill_after = None;
                self.sessions.push(session);
                return Some(format!("{e:#}; the run stopped (its sessions would not fit in memory otherwise)"));
            }
        };
        self.spilled_sessions = Some(SpilledSessions { spill, tail: Vec::new(), failed: Default::default() });
        let mut error = None;
        for s in std::mem::take(&mut self.sessions).into_iter().chain([session]) {
            error = error.or(self.push_session(s));
        }
        error
    }

    /// Takes a finished sample. An error (the spill file cannot be written) is returned
    /// once: the run should stop; later samples are held in memory.
    pub(crate) fn push(&mut self, sample: RequestSample) -> Option<String> {
        if let Some(s) = self.spilled.as_mut() {
            return s.push(sample);
        }
        if self.opts.spill_after.is_none_or(|n| self.held.len() < n) {
            self.held.push(sample);
            return None;
        }
        let spill = match Spill::create(self.opts.dir.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                self.opts.spill_after = None;
                self.held.push(sample);
                return Some(format!("{e:#}; the run stopped (its samples would not fit in memory otherwise)"));
            }
        };
        let mut spilled = Spilled {
            rows: Vec::with_capacity(self.expected.map_or(0, |n| n.min(1 << 28) as usize)),
            spill,
            tail: Vec::new(),
            itl: BUCKETS.iter().map(|_| ItlHistogram::default()).collect(),
            gaps_dropped: false,
            gaps_held: 0,
            gap_cap: self.opts.gap_cap,
            keep_all_gaps: self.opts.keep_all_gaps,
            shown: Vec::new(),
            stride: 1,
            answers: Vec::new(),
        };
        let mut error = None;
        for s in std::mem::take(&mut self.held).into_iter().chain([sample]) {
            error = error.or(spilled.push(s));
        }
        self.spilled = Some(spilled);
        error
    }

    pub(crate) fn finish(self) -> (Samples, Sessions) {
        let flushed = |e: anyhow::Result<()>| {
            if let Err(e) = e {
                crate::errors::note("asb replay", format!("{e:#}"));
            }
        };
        let samples = match self.spilled {
            None => Samples::Held(self.held),
            Some(mut s) => {
                flushed(s.spill.finish());
                Samples::Spilled(Box::new(s))
            }
        };
        let sessions = match self.spilled_sessions {
            None => Sessions::Held(self.sessions),
            Some(mut s) => {
                flushed(s.spill.finish());
                Sessions::Spilled(Box::new(s))
            }
        };
        (samples, sessions)
    }
}

fn lightened(s: &RequestSample) -> RequestSample {
    RequestSample { itl_ms: Vec::new(), ..s.clone() }
}

impl Spilled {
    fn push(&mut self, sample: RequestSample) -> Option<String> {
        let bucket = BUCKETS.iter().position(|(name, _)| *name == sample.bucket).unwrap_or(0);
        if sample.ok {
            let h = &mut self.itl[bucket];
            sample.itl_ms.iter().for_each(|&g| h.record(g));
        }
        let keep = !self.gaps_dropped && (self.keep_all_gaps || self.gaps_held + sample.itl_ms.len() <= self.gap_cap);
        if keep {
            self.gaps_held += sample.itl_ms.len();
        } else if !self.gaps_dropped {
            self.gaps_dropped = true;
            self.rows.iter_mut().for_each(SampleRow::drop_gaps);
        }
        self.rows.push(SampleRow::of(&sample, keep));
        if sample.answer_text.is_some() {
            self.answers.push(lightened(&sample));
        }
        if (self.rows.len() - 1) % self.stride == 0 {
            self.shown.push(RequestSample { answer_text: None, ..lightened(&sample) });
            if self.shown.len() >= 2 * SHOWN {
                let mut i = 0;
                self.shown.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
        }
        if !self.tail.is_empty() {
            self.tail.push(sample);
            return None;
        }
        match self.spill.push(&sample) {
            Ok(()) => None,
            Err(e) => {
                self.tail.push(sample);
                Some(format!("{e:#}; the run stopped"))
            }
        }
    }

    /// Raw gaps a row set may hold.
    pub(crate) fn gap_cap(&self) -> usize {
        self.gap_cap
    }

    #[cfg(test)]
    pub(crate) fn spill_path(&self) -> PathBuf {
        self.spill.path()
    }

    /// Calls `each` with every full sample in start order, its window mark and expected
    /// cached tokens as the rows now say.
    pub(crate) fn for_each(&self, mut each: impl FnMut(&RequestSample) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut order: Vec<u32> = (0..self.rows.len() as u32).collect();
        order.sort_by(|&a, &b| self.rows[a as usize].start_ms().total_cmp(&self.rows[b as usize].start_ms()));
        let mut reader = self.spill.reader()?;
        let spilled = self.spill.len();
        for i in order.into_iter().map(|i| i as usize) {
            let mut sample = if i < spilled { reader.get(i)? } else { self.tail[i - spilled].clone() };
            let row = &self.rows[i];
            sample.in_window = row.in_window();
            sample.expected_cached_tokens = row.expected_cached_tokens();
            each(&sample)?;
        }
        Ok(())
    }

    /// The histograms again, over the window's successful requests only (read back from
    /// the spill: the histograms filled as samples arrived hold every request's gaps).
    pub(crate) fn refill_itl_for_window(&mut self) -> anyhow::Result<()> {
        if self.rows.iter().all(|r| r.in_window()) {
            return Ok(());
        }
        let mut itl: Vec<ItlHistogram> = BUCKETS.iter().map(|_| ItlHistogram::default()).collect();
        let mut reader = self.spill.reader()?;
        let spilled = self.spill.len();
        for (i, row) in self.rows.iter().enumerate() {
            if !(row.ok() && row.in_window()) {
                continue;
            }
            let sample = if i < spilled { reader.get(i)? } else { self.tail[i - spilled].clone() };
            let h = &mut itl[row.bucket_index()];
            sample.itl_ms.iter().for_each(|&g| h.record(g));
        }
        drop(reader);
        self.itl = itl;
        Ok(())
    }
}

/// A spilled run as the results hold it (shared: the results are cloned by reports).
pub(crate) type SharedSpill = Arc<Spilled>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::results::{Requests, SessionList};
    use crate::replay::server_metrics::timings::ServerTimings;

    fn sample(i: usize, gaps: usize) -> RequestSample {
        RequestSample {
            task_id: "t".into(),
            seq: i as u64,
            start_ms: 1000.0 - i as f64,
            ttft_ms: Some(i as f64),
            itl_ms: vec![0.5 + i as f64; gaps],
            bucket: "fresh".into(),
            completion_tokens: gaps as u64 + 1,
            ok: true,
            in_window: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_run_past_its_caps_spills_drops_gaps_and_reads_back_in_start_order() {
        let dir = tempfile::tempdir().unwrap();
        let opts =
            StoreOptions { spill_after: Some(10), gap_cap: 50, keep_all_gaps: false, dir: Some(dir.path().into()) };
        let mut store = SampleStore::new(opts, Some(100));
        for i in 0..100 {
            assert!(store.push(sample(i, 3)).is_none());
        }
        for i in 0..30u64 {
            assert!(store
                .push_session(SessionSample { session: i, due_ms: 100.0 - i as f64, ..Default::default() })
                .is_none());
        }
        let (Samples::Spilled(mut s), Sessions::Spilled(sessions)) = store.finish() else {
            panic!("100 samples and 30 sessions past a cap of 10 must spill")
        };
        let rows: Vec<u64> = sessions.rows().map(|r| r.session()).collect();
        assert_eq!(rows, (0..30).collect::<Vec<u64>>(), "a pass reads every session back, in arrival order");
        assert!(sessions.check().is_ok() && sessions.len() == 30);
        let mut due = Vec::new();
        sessions
            .for_each(|s| {
                due.push(s.session);
                Ok(())
            })
            .unwrap();
        assert_eq!(due, (0..30).rev().collect::<Vec<u64>>(), "sessions in due order");
        assert_eq!(s.rows.len(), 100);
        assert!(s.gaps_dropped && s.rows.iter().all(|r| r.itl_ms().is_empty()), "300 gaps past a cap of 50");
        assert_eq!(s.itl[0].count(), 300, "every gap is in the histogram");
        assert!(s.shown.len() <= 2 * SHOWN && s.shown.iter().all(|q| q.itl_ms.is_empty()));
        s.rows[5].set_in_window(false);
        let path = s.spill_path();
        assert!(path.starts_with(dir.path()) && path.exists());
        let mut seen = Vec::new();
        s.for_each(|q| {
            seen.push((q.seq, q.itl_ms.len(), q.in_window));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 100);
        assert_eq!(seen[0], (99, 3, true), "start order: the last sample started first");
        assert_eq!(seen[94], (5, 3, false), "the window mark comes from the row");
        s.refill_itl_for_window().unwrap();
        assert_eq!(s.itl[0].count(), 297);
        drop(s);
        assert!(!path.exists(), "the spill file goes with the run");
    }

    /// Sample `i` of a run with every kind of field: some failed, some with llama.cpp's
    /// timings, non-ASCII ids and errors, empty and non-empty gap lists, options set and not.
    fn varied(i: usize) -> RequestSample {
        let some = |every: usize, v: f64| (i % every != 0).then_some(v + i as f64 / 7.0);
        RequestSample {
            task_id: ["build-api", "réparer-日本"][i % 2].into(),
            execution: (i % 3) as u32,
            turn: i % 5,
            seq: i as u64 * 3,
            thread: (i % 4 == 0).then(|| format!("sub-agent {} ✓", i % 3)),
            slot: i % 8,
            session: i as u64 / 2,
            // Not in arrival order: the JSON lists requests in start order.
            scheduled_ms: ((i * 37) % 60) as f64 + 0.125,
            first_send_ms: some(3, 0.5),
            lag_ms: some(3, 0.1 + 0.2),
            start_ms: ((i * 37) % 60) as f64 + 0.25,
            attempts: 1 + (i % 2) as u32,
            connect_ms: (i % 3) as f64 / 3.0,
            resent: (i % 2) as u32,
            frames: 70 + i as u64,
            kernel_timed_frames: 60 + i as u64,
            status: (i % 6 != 1).then_some(if i % 7 == 0 { 503 } else { 200 }),
            request_id: (i % 2 == 0).then(|| format!("req-{i}")),
            ttft_ms: some(7, 12.5),
            e2e_ms: some(7, 40.0),
            ttft_from_due_ms: some(7, 12.75),
            e2e_from_due_ms: some(7, 40.25),
            in_window: i % 9 != 0,
            total_ms: some(7, 41.0),
            itl_ms: (0..(i % 6) * 3).map(|k| 0.5 + k as f64 / 3.0 + i as f64).collect(),
            content_events: (i % 6) as u64 * 3 + 1,
            events: (i % 6) as u64 * 3 + 3,
            prompt_tokens: (i % 5 != 0).then_some(12_000 + i as u64),
            cached_tokens: (i % 5 != 0).then_some(i as u64 * 10),
            expected_cached_tokens: (i % 3 == 0).then_some(i as u64 * 11),
            server_timings: (i % 4 == 1).then(|| ServerTimings {
                cache_n: Some(i as u64),
                prompt_ms: Some(1.0 / (i as f64 + 1.0)),
                predicted_per_second: None,
                ..Default::default()
            }),
            completion_tokens: (i % 6) as u64 * 3 + 1,
            completion_source: ["usage", "estimate"][i % 2].into(),
            context_tokens_estimate: 11_000 + i as u64,
            bucket: ["fresh", "short"][i % 2].into(),
            tpot_ms: some(4, 2.0),
            decode_tok_per_s: some(4, 500.0),
            asb_decode_tok_per_s: some(5, 480.0),
            prefill_tok_per_s: some(6, 1e6),
            prefill_total_tok_per_s: some(6, 1.2e6),
            stop_reason: (i % 7 != 0).then(|| "stop".into()),
            error: (i % 7 == 0).then(|| format!("HTTP 503: « surchargé » \"{i}\"\n")),
            ok: i % 7 != 0,
            answer_text: (i % 10 == 0).then(|| "the answer".into()),
        }
    }

    #[test]
    fn a_spilled_runs_requests_and_sessions_are_written_as_the_held_runs() {
        let dir = tempfile::tempdir().unwrap();
        let spilling =
            StoreOptions { spill_after: Some(10), gap_cap: 40, keep_all_gaps: false, dir: Some(dir.path().into()) };
        let (mut spilled, mut held) =
            (SampleStore::new(spilling, Some(60)), SampleStore::new(StoreOptions::held(), None));
        for i in 0..60 {
            assert!(spilled.push(varied(i)).is_none() && held.push(varied(i)).is_none());
        }
        for i in 0..30u64 {
            let session = SessionSample {
                session: i,
                task_id: format!("tâche-{}", i % 3),
                due_ms: ((i * 7) % 30) as f64 + 0.5,
                start_ms: (i % 4 != 0).then_some(i as f64),
                end_ms: (i % 5 != 0).then_some(i as f64 * 1.5),
                completed: i % 2 == 0,
                cache_hit_rate: (i % 3 != 0).then_some(1.0 / (i as f64 + 3.0)),
                ..Default::default()
            };
            assert!(spilled.push_session(session.clone()).is_none() && held.push_session(session).is_none());
        }
        let (Samples::Spilled(requests), Sessions::Spilled(sessions)) = spilled.finish() else {
            panic!("60 samples and 30 sessions past a count of 10 must spill")
        };
        assert!(requests.gaps_dropped, "past the raw-gap cap, as a big run");
        let (Samples::Held(mut held_requests), Sessions::Held(mut held_sessions)) = held.finish() else {
            panic!("never spills")
        };
        // What the run does with held samples before writing them.
        held_requests.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        held_sessions.sort_by(|a, b| a.due_ms.total_cmp(&b.due_ms));
        fn json<T: serde::Serialize>(v: &T) -> String {
            serde_json::to_string(v).unwrap()
        }
        let written = json(&Requests::from_spill(requests));
        assert_eq!(written, json(&Requests::from(held_requests)));
        assert!(written.contains("réparer-日本") && written.contains("surchargé") && written.contains("\"cache_n\":5"));
        assert_eq!(json(&SessionList::from_spill(sessions)), json(&SessionList::from(held_sessions)));
    }

    #[test]
    fn a_small_run_is_held_whole() {
        let mut store = SampleStore::new(StoreOptions::held(), None);
        (0..20).for_each(|i| assert!(store.push(sample(i, 2)).is_none()));
        let (Samples::Held(v), Sessions::Held(_)) = store.finish() else { panic!("never spills") };
        assert_eq!(v.len(), 20);
    }
}
