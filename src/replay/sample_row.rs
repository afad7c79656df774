//! What the figures of a run are computed from, held compactly: one [`SampleRow`] per
//! request (88 bytes) instead of a whole [`RequestSample`] (≈ 700 bytes plus its
//! strings and gap list) — the full samples of a big run are spilled to disk
//! ([`super::spill`]) and only these rows stay in memory.
//!
//! [`Sample`] is what aggregation reads (`aggregate`, `conclude`, `load`, `slo`, the
//! prefix-cache and clock checks): both a full sample and a row answer it with the very
//! same `f64`s, so a run concluded from rows has exactly the figures it would have from
//! its samples (tested below). Token counts are held as `u32` (saturating; no prompt has
//! 4 billion tokens); strings as ids of [`super::interned`].

use super::measure::BUCKETS;
use super::results::RequestSample;
use super::server_metrics::timings::ServerTimings;

/// What the figures of a run read from one request.
pub(crate) trait Sample {
    fn ok(&self) -> bool;
    fn in_window(&self) -> bool;
    fn set_in_window(&mut self, inside: bool);
    fn ttft_ms(&self) -> Option<f64>;
    fn e2e_ms(&self) -> Option<f64>;
    fn ttft_from_due_ms(&self) -> Option<f64>;
    fn e2e_from_due_ms(&self) -> Option<f64>;
    fn tpot_ms(&self) -> Option<f64>;
    fn decode_tok_per_s(&self) -> Option<f64>;
    fn asb_decode_tok_per_s(&self) -> Option<f64>;
    fn prefill_tok_per_s(&self) -> Option<f64>;
    fn prefill_total_tok_per_s(&self) -> Option<f64>;
    fn start_ms(&self) -> f64;
    fn total_ms(&self) -> Option<f64>;
    fn scheduled_ms(&self) -> f64;
    fn lag_ms(&self) -> Option<f64>;
    fn prompt_tokens(&self) -> Option<u64>;
    fn cached_tokens(&self) -> Option<u64>;
    fn expected_cached_tokens(&self) -> Option<u64>;
    fn set_expected_cached_tokens(&mut self, tokens: Option<u64>);
    fn completion_tokens(&self) -> u64;
    fn context_tokens_estimate(&self) -> u64;
    fn attempts(&self) -> u32;
    /// The output count is the chars/4 estimate (no server usage).
    fn estimated_output(&self) -> bool;
    fn error(&self) -> Option<&str>;
    fn bucket(&self) -> &str;
    fn task_id(&self) -> &str;
    fn thread(&self) -> Option<&str>;
    fn session(&self) -> u64;
    fn execution(&self) -> u32;
    fn turn(&self) -> usize;
    /// The raw inter-token gaps, when held (a row past the gap cap holds none: its gaps
    /// are in the spill file and the ITL histograms).
    fn itl_ms(&self) -> &[f64];
    fn server_timings(&self) -> Option<&ServerTimings>;
}

impl Sample for RequestSample {
    fn ok(&self) -> bool {
        self.ok
    }
    fn in_window(&self) -> bool {
        self.in_window
    }
    fn set_in_window(&mut self, inside: bool) {
        self.in_window = inside;
    }
    fn ttft_ms(&self) -> Option<f64> {
        self.ttft_ms
    }
    fn e2e_ms(&self) -> Option<f64> {
        self.e2e_ms
    }
    fn ttft_from_due_ms(&self) -> Option<f64> {
        self.ttft_from_due_ms
    }
    fn e2e_from_due_ms(&self) -> Option<f64> {
        self.e2e_from_due_ms
    }
    fn tpot_ms(&self) -> Option<f64> {
        self.tpot_ms
    }
    fn decode_tok_per_s(&self) -> Option<f64> {
        self.decode_tok_per_s
    }
    fn asb_decode_tok_per_s(&self) -> Option<f64> {
        self.asb_decode_tok_per_s
    }
    fn prefill_tok_per_s(&self) -> Option<f64> {
        self.prefill_tok_per_s
    }
    fn prefill_total_tok_per_s(&self) -> Option<f64> {
        self.prefill_total_tok_per_s
    }
    fn start_ms(&self) -> f64 {
        self.start_ms
    }
    fn total_ms(&self) -> Option<f64> {
        self.total_ms
    }
    fn scheduled_ms(&self) -> f64 {
        self.scheduled_ms
    }
    fn lag_ms(&self) -> Option<f64> {
        self.lag_ms
    }
    fn prompt_tokens(&self) -> Option<u64> {
        self.prompt_tokens
    }
    fn cached_tokens(&self) -> Option<u64> {
        self.cached_tokens
    }
    fn expected_cached_tokens(&self) -> Option<u64> {
        self.expected_cached_tokens
    }
    fn set_expected_cached_tokens(&mut self, tokens: Option<u64>) {
        self.expected_cached_tokens = tokens;
    }
    fn completion_tokens(&self) -> u64 {
        self.completion_tokens
    }
    fn context_tokens_estimate(&self) -> u64 {
        self.context_tokens_estimate
    }
    fn attempts(&self) -> u32 {
        self.attempts
    }
    fn estimated_output(&self) -> bool {
        self.completion_source == "estimate"
    }
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    fn bucket(&self) -> &str {
        &self.bucket
    }
    fn task_id(&self) -> &str {
        &self.task_id
    }
    fn thread(&self) -> Option<&str> {
        self.thread.as_deref()
    }
    fn session(&self) -> u64 {
        self.session
    }
    fn execution(&self) -> u32 {
        self.execution
    }
    fn turn(&self) -> usize {
        self.turn
    }
    fn itl_ms(&self) -> &[f64] {
        &self.itl_ms
    }
    fn server_timings(&self) -> Option<&ServerTimings> {
        self.server_timings.as_ref()
    }
}

/// `None` as NaN: a measured time or rate is never NaN (non-finite values are already
/// dropped by [`crate::stats::Distribution::of`]).
fn nan(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn opt(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

/// `None` as `u32::MAX`.
fn count(v: Option<u64>) -> u32 {
    v.map_or(u32::MAX, |n| n.min(u64::from(u32::MAX - 1)) as u32)
}

fn opt_count(v: u32) -> Option<u64> {
    (v != u32::MAX).then_some(u64::from(v))
}

const OK: u8 = 1;
const IN_WINDOW: u8 = 2;
const ESTIMATED: u8 = 4;
const PROMPT: u8 = 8;

/// One request, as aggregation needs it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SampleRow {
    ttft_ms: f64,
    e2e_ms: f64,
    start_ms: f64,
    total_ms: f64,
    scheduled_ms: f64,
    /// The server's prompt tokens (flag [`PROMPT`]), else the chars/4 estimate.
    prompt_or_estimate: u32,
    cached_tokens: u32,
    expected_cached_tokens: u32,
    completion_tokens: u32,
    session: u32,
    execution: u32,
    turn: u32,
    /// Interned ids (at most 65,536 of them); `thread` and `error` 0 for none (id 0 is the
    /// overflow name, never a real task or thread).
    task: u16,
    thread: u16,
    error: u16,
    attempts: u16,
    bucket: u8,
    flags: u8,
    /// The rare parts: raw gaps while under the cap, llama.cpp's own timings, derived
    /// figures that the formulas below would not give bit for bit.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Clone, Default)]
struct Extra {
    itl_ms: Vec<f64>,
    server_timings: Option<ServerTimings>,
    derived: Option<Derived>,
}

/// The figures derived from a request's times and tokens (`measure::sample`'s formulas),
/// recomputed from the row rather than held: 56 bytes a row saved. A row checks when it is
/// made that they come out bit for bit; if a formula ever changes and they do not, the
/// sample's own values are held in [`Extra`] instead, so a row is never inexact.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Derived {
    lag_ms: Option<f64>,
    ttft_from_due_ms: Option<f64>,
    e2e_from_due_ms: Option<f64>,
    tpot_ms: Option<f64>,
    decode_tok_per_s: Option<f64>,
    asb_decode_tok_per_s: Option<f64>,
    prefill_tok_per_s: Option<f64>,
    prefill_total_tok_per_s: Option<f64>,
}

impl Derived {
    fn of_sample(s: &RequestSample) -> Derived {
        Derived {
            lag_ms: s.lag_ms,
            ttft_from_due_ms: s.ttft_from_due_ms,
            e2e_from_due_ms: s.e2e_from_due_ms,
            tpot_ms: s.tpot_ms,
            decode_tok_per_s: s.decode_tok_per_s,
            asb_decode_tok_per_s: s.asb_decode_tok_per_s,
            prefill_tok_per_s: s.prefill_tok_per_s,
            prefill_total_tok_per_s: s.prefill_total_tok_per_s,
        }
    }

    /// `measure::sample`'s formulas, from the row's own values.
    fn of_row(r: &SampleRow) -> Derived {
        let (ttft, last, end) = (opt(r.ttft_ms), opt(r.e2e_ms), opt(r.total_ms));
        let completion = u64::from(r.completion_tokens);
        let n = completion as f64;
        let decode_span_s = match (ttft, last) {
            (Some(first), Some(last)) if last > first => Some((last - first) / 1000.0),
            _ => None,
        };
        let per_s = |tokens: f64, ms: Option<f64>| ms.filter(|&t| t > 0.0).map(|t| tokens / (t / 1000.0));
        let late_by = (r.start_ms - r.scheduled_ms).max(0.0);
        let (prompt, cached) = (r.prompt_tokens(), opt_count(r.cached_tokens));
        Derived {
            // A request sent once: its first send is its send.
            lag_ms: (r.attempts == 1).then_some(r.start_ms - r.scheduled_ms),
            ttft_from_due_ms: ttft.map(|t| t + late_by),
            e2e_from_due_ms: last.map(|t| t + late_by),
            tpot_ms: decode_span_s.filter(|_| completion > 1).map(|s| s * 1000.0 / (n - 1.0)),
            decode_tok_per_s: decode_span_s.filter(|_| completion > 1).map(|s| (n - 1.0) / s),
            asb_decode_tok_per_s: match (ttft, end) {
                (Some(first), Some(end)) if end > first => Some(n / ((end - first) / 1000.0)),
                _ => None,
            },
            prefill_tok_per_s: prompt.and_then(|p| per_s(p.saturating_sub(cached.unwrap_or(0)) as f64, ttft)),
            prefill_total_tok_per_s: prompt.and_then(|p| per_s(p as f64, ttft)),
        }
    }

    fn values(&self) -> [Option<f64>; 8] {
        [
            self.lag_ms,
            self.ttft_from_due_ms,
            self.e2e_from_due_ms,
            self.tpot_ms,
            self.decode_tok_per_s,
            self.asb_decode_tok_per_s,
            self.prefill_tok_per_s,
            self.prefill_total_tok_per_s,
        ]
    }

    fn of_values(v: [Option<f64>; 8]) -> Derived {
        Derived {
            lag_ms: v[0],
            ttft_from_due_ms: v[1],
            e2e_from_due_ms: v[2],
            tpot_ms: v[3],
            decode_tok_per_s: v[4],
            asb_decode_tok_per_s: v[5],
            prefill_tok_per_s: v[6],
            prefill_total_tok_per_s: v[7],
        }
    }

    fn bits(&self) -> [Option<u64>; 8] {
        self.values().map(|v| v.map(f64::to_bits))
    }
}

impl SampleRow {
    /// The row of `s`; its raw gaps kept when `keep_gaps`.
    pub(crate) fn of(s: &RequestSample, keep_gaps: bool) -> SampleRow {
        let id = |v: Option<&str>| v.map_or(0, super::interned::intern) as u16;
        let mut row = SampleRow {
            ttft_ms: nan(s.ttft_ms),
            e2e_ms: nan(s.e2e_ms),
            start_ms: s.start_ms,
            total_ms: nan(s.total_ms),
            scheduled_ms: s.scheduled_ms,
            prompt_or_estimate: count(Some(s.prompt_tokens.unwrap_or(s.context_tokens_estimate))),
            cached_tokens: count(s.cached_tokens),
            expected_cached_tokens: count(s.expected_cached_tokens),
            completion_tokens: count(Some(s.completion_tokens)),
            session: s.session.min(u64::from(u32::MAX)) as u32,
            execution: s.execution,
            turn: s.turn.min(u32::MAX as usize) as u32,
            task: super::interned::intern(&s.task_id) as u16,
            thread: id(s.thread.as_deref()),
            error: id(s.error.as_ref().map(|e| e.chars().take(200).collect::<String>()).as_deref()),
            attempts: s.attempts.min(u32::from(u16::MAX)) as u16,
            bucket: BUCKETS.iter().position(|(name, _)| *name == s.bucket).unwrap_or(0) as u8,
            flags: if s.ok { OK } else { 0 }
                | if s.in_window { IN_WINDOW } else { 0 }
                | if s.completion_source == "estimate" { ESTIMATED } else { 0 }
                | if s.prompt_tokens.is_some() { PROMPT } else { 0 },
            extra: None,
        };
        let held = Derived::of_sample(s);
        let derived = (Derived::of_row(&row).bits() != held.bits()).then_some(held);
        let has_gaps = keep_gaps && !s.itl_ms.is_empty();
        if has_gaps || s.server_timings.is_some() || derived.is_some() {
            row.extra = Some(Box::new(Extra {
                itl_ms: if has_gaps { s.itl_ms.clone() } else { Vec::new() },
                server_timings: s.server_timings.clone(),
                derived,
            }));
        }
        row
    }

    fn derived(&self) -> Derived {
        match self.extra.as_ref().and_then(|e| e.derived) {
            Some(held) => held,
            None => Derived::of_row(self),
        }
    }

    /// Drops the raw gaps (the cap was reached: they are in the spill and histograms).
    pub(crate) fn drop_gaps(&mut self) {
        if let Some(extra) = self.extra.as_mut() {
            extra.itl_ms = Vec::new();
            if extra.server_timings.is_none() && extra.derived.is_none() {
                self.extra = None;
            }
        }
    }

    /// Bucket index into [`BUCKETS`].
    pub(crate) fn bucket_index(&self) -> usize {
        usize::from(self.bucket)
    }
}

/// Bytes of a row's fixed part in a run JSON's columns ([`SampleRow::encode`]).
pub(crate) const ENCODED_LEN: usize = 5 * 8 + 7 * 4 + 4 * 2 + 2;

/// A row as its run JSON's columns hold it ([`super::run_columns`]): the fixed part as
/// bytes, the rare parts beside it.
impl SampleRow {
    /// The fixed part, little-endian, [`ENCODED_LEN`] bytes; interned ids as this process
    /// numbers them (the columns carry the names).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for v in [self.ttft_ms, self.e2e_ms, self.start_ms, self.total_ms, self.scheduled_ms] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            self.prompt_or_estimate,
            self.cached_tokens,
            self.expected_cached_tokens,
            self.completion_tokens,
            self.session,
            self.execution,
            self.turn,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [self.task, self.thread, self.error, self.attempts] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[self.bucket, self.flags]);
    }

    /// A row from [`SampleRow::encode`]'s bytes, its ids mapped through `ids` (the file's
    /// id → this process's). An id the file does not name is an error.
    pub(crate) fn decode(b: &[u8; ENCODED_LEN], ids: &[u16]) -> Result<SampleRow, String> {
        let f = |i: usize| f64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let u = |i: usize| u32::from_le_bytes(b[40 + i * 4..44 + i * 4].try_into().expect("4 bytes"));
        let h = |i: usize| u16::from_le_bytes(b[68 + i * 2..70 + i * 2].try_into().expect("2 bytes"));
        let id = |i: usize| {
            let file_id = h(i);
            ids.get(usize::from(file_id)).copied().ok_or_else(|| format!("name id {file_id} is not in `names`"))
        };
        let bucket = b[76];
        if usize::from(bucket) >= BUCKETS.len() {
            return Err(format!("bucket {bucket} (there are {})", BUCKETS.len()));
        }
        Ok(SampleRow {
            ttft_ms: f(0),
            e2e_ms: f(1),
            start_ms: f(2),
            total_ms: f(3),
            scheduled_ms: f(4),
            prompt_or_estimate: u(0),
            cached_tokens: u(1),
            expected_cached_tokens: u(2),
            completion_tokens: u(3),
            session: u(4),
            execution: u(5),
            turn: u(6),
            task: id(0)?,
            thread: id(1)?,
            error: id(2)?,
            attempts: h(3),
            bucket,
            flags: b[77],
            extra: None,
        })
    }

    /// The interned ids the row refers to (task, thread, error).
    pub(crate) fn name_ids(&self) -> [u16; 3] {
        [self.task, self.thread, self.error]
    }

    /// What [`SampleRow::encode`] leaves out and a row rarely has: llama.cpp's timings, and
    /// derived figures held because the formulas would not give them bit for bit.
    pub(crate) fn rare_parts(&self) -> (Option<&ServerTimings>, Option<[Option<f64>; 8]>) {
        let Some(e) = &self.extra else { return (None, None) };
        (e.server_timings.as_ref(), e.derived.map(|d| d.values()))
    }

    /// Gives a decoded row back its gaps and rare parts.
    pub(crate) fn restore(
        &mut self,
        itl_ms: Vec<f64>,
        server_timings: Option<ServerTimings>,
        derived: Option<[Option<f64>; 8]>,
    ) {
        if itl_ms.is_empty() && server_timings.is_none() && derived.is_none() {
            return;
        }
        self.extra = Some(Box::new(Extra { itl_ms, server_timings, derived: derived.map(Derived::of_values) }));
    }

    /// Moves the row's times by `by_ms` (a shard placed on a merged run's time axis); its
    /// derived figures stay what they were to the bit (held when the formulas, on the moved
    /// times, would round otherwise). They read the two times only through their
    /// difference, so only a difference that rounds differently once moved needs holding.
    pub(crate) fn shift(&mut self, by_ms: f64) {
        let (start, scheduled) = (self.start_ms, self.scheduled_ms);
        (self.start_ms, self.scheduled_ms) = (start + by_ms, scheduled + by_ms);
        let held = self.extra.as_ref().is_some_and(|e| e.derived.is_some());
        if held || (self.start_ms - self.scheduled_ms).to_bits() == (start - scheduled).to_bits() {
            return;
        }
        let moved = (self.start_ms, self.scheduled_ms);
        (self.start_ms, self.scheduled_ms) = (start, scheduled);
        let before = self.derived();
        (self.start_ms, self.scheduled_ms) = moved;
        self.extra.get_or_insert_with(Default::default).derived = Some(before);
    }
}

impl Sample for SampleRow {
    fn ok(&self) -> bool {
        self.flags & OK != 0
    }
    fn in_window(&self) -> bool {
        self.flags & IN_WINDOW != 0
    }
    fn set_in_window(&mut self, inside: bool) {
        self.flags = if inside { self.flags | IN_WINDOW } else { self.flags & !IN_WINDOW };
    }
    fn ttft_ms(&self) -> Option<f64> {
        opt(self.ttft_ms)
    }
    fn e2e_ms(&self) -> Option<f64> {
        opt(self.e2e_ms)
    }
    fn ttft_from_due_ms(&self) -> Option<f64> {
        self.derived().ttft_from_due_ms
    }
    fn e2e_from_due_ms(&self) -> Option<f64> {
        self.derived().e2e_from_due_ms
    }
    fn tpot_ms(&self) -> Option<f64> {
        self.derived().tpot_ms
    }
    fn decode_tok_per_s(&self) -> Option<f64> {
        self.derived().decode_tok_per_s
    }
    fn asb_decode_tok_per_s(&self) -> Option<f64> {
        self.derived().asb_decode_tok_per_s
    }
    fn prefill_tok_per_s(&self) -> Option<f64> {
        self.derived().prefill_tok_per_s
    }
    fn prefill_total_tok_per_s(&self) -> Option<f64> {
        self.derived().prefill_total_tok_per_s
    }
    fn start_ms(&self) -> f64 {
        self.start_ms
    }
    fn total_ms(&self) -> Option<f64> {
        opt(self.total_ms)
    }
    fn scheduled_ms(&self) -> f64 {
        self.scheduled_ms
    }
    fn lag_ms(&self) -> Option<f64> {
        self.derived().lag_ms
    }
    fn prompt_tokens(&self) -> Option<u64> {
        (self.flags & PROMPT != 0).then_some(u64::from(self.prompt_or_estimate))
    }
    fn cached_tokens(&self) -> Option<u64> {
        opt_count(self.cached_tokens)
    }
    fn expected_cached_tokens(&self) -> Option<u64> {
        opt_count(self.expected_cached_tokens)
    }
    fn set_expected_cached_tokens(&mut self, tokens: Option<u64>) {
        self.expected_cached_tokens = count(tokens);
    }
    fn completion_tokens(&self) -> u64 {
        u64::from(self.completion_tokens)
    }
    /// The estimate when the server gave no prompt count; otherwise the server's count
    /// stands for it (a row keeps one of the two: only `prompt_tokens.unwrap_or(estimate)`
    /// is ever read of a row).
    fn context_tokens_estimate(&self) -> u64 {
        u64::from(self.prompt_or_estimate)
    }
    fn attempts(&self) -> u32 {
        u32::from(self.attempts)
    }
    fn estimated_output(&self) -> bool {
        self.flags & ESTIMATED != 0
    }
    fn error(&self) -> Option<&str> {
        (self.error != 0).then(|| super::interned::name(u32::from(self.error)))
    }
    fn bucket(&self) -> &str {
        BUCKETS[self.bucket_index().min(BUCKETS.len() - 1)].0
    }
    fn task_id(&self) -> &str {
        super::interned::name(u32::from(self.task))
    }
    fn thread(&self) -> Option<&str> {
        (self.thread != 0).then(|| super::interned::name(u32::from(self.thread)))
    }
    fn session(&self) -> u64 {
        u64::from(self.session)
    }
    fn execution(&self) -> u32 {
        self.execution
    }
    fn turn(&self) -> usize {
        self.turn as usize
    }
    fn itl_ms(&self) -> &[f64] {
        self.extra.as_ref().map_or(&[], |e| &e.itl_ms)
    }
    fn server_timings(&self) -> Option<&ServerTimings> {
        self.extra.as_ref().and_then(|e| e.server_timings.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RequestSample {
        RequestSample {
            task_id: "build-api".into(),
            execution: 3,
            turn: 7,
            thread: Some("main".into()),
            session: 12,
            scheduled_ms: 10.125,
            lag_ms: Some(0.3),
            start_ms: 10.425,
            attempts: 2,
            ttft_ms: Some(0.1 + 0.2),
            e2e_ms: Some(41.000000000000014),
            ttft_from_due_ms: Some(0.6),
            total_ms: Some(42.5),
            itl_ms: vec![1.5, 2.25],
            prompt_tokens: Some(12_345),
            cached_tokens: Some(0),
            completion_tokens: 3,
            completion_source: "estimate".into(),
            context_tokens_estimate: 12_000,
            bucket: "short".into(),
            tpot_ms: Some(1.875),
            error: Some("x".repeat(300)),
            ok: false,
            in_window: true,
            ..Default::default()
        }
    }

    /// A sample whose derived figures follow `measure::sample`'s formulas.
    fn measured() -> RequestSample {
        let mut s = sample();
        s.ok = true;
        s.attempts = 1;
        s.completion_source = "usage".into();
        let row = SampleRow::of(&s, true);
        let d = Derived::of_row(&row);
        s.lag_ms = d.lag_ms;
        s.ttft_from_due_ms = d.ttft_from_due_ms;
        s.e2e_from_due_ms = d.e2e_from_due_ms;
        s.tpot_ms = d.tpot_ms;
        s.decode_tok_per_s = d.decode_tok_per_s;
        s.asb_decode_tok_per_s = d.asb_decode_tok_per_s;
        s.prefill_tok_per_s = d.prefill_tok_per_s;
        s.prefill_total_tok_per_s = d.prefill_total_tok_per_s;
        s
    }

    #[test]
    fn derived_figures_are_recomputed_not_held_unless_they_would_differ() {
        let s = measured();
        assert!(s.tpot_ms.is_some() && s.prefill_tok_per_s.is_some() && s.asb_decode_tok_per_s.is_some());
        let row = SampleRow::of(&s, false);
        assert!(row.extra.is_none(), "nothing held beside the row");
        assert_eq!(row.decode_tok_per_s().map(f64::to_bits), s.decode_tok_per_s.map(f64::to_bits));
        // A sample whose figures no formula here gives (another formula): held as they are.
        let odd = RequestSample { tpot_ms: Some(1.875), ..measured() };
        let row = SampleRow::of(&odd, false);
        assert!(row.extra.is_some());
        assert_eq!(row.tpot_ms(), Some(1.875));
    }

    #[test]
    fn a_row_answers_exactly_as_its_sample() {
        let s = sample();
        let row = SampleRow::of(&s, true);
        let both = |f: fn(&dyn Sample) -> Option<f64>| assert_eq!(f(&s).map(f64::to_bits), f(&row).map(f64::to_bits));
        both(|r| r.ttft_ms());
        both(|r| r.e2e_ms());
        both(|r| r.ttft_from_due_ms());
        both(|r| r.e2e_from_due_ms());
        both(|r| r.tpot_ms());
        both(|r| r.decode_tok_per_s());
        both(|r| r.asb_decode_tok_per_s());
        both(|r| r.prefill_tok_per_s());
        both(|r| r.prefill_total_tok_per_s());
        both(|r| r.total_ms());
        both(|r| r.lag_ms());
        both(|r| Some(r.start_ms()));
        both(|r| Some(r.scheduled_ms()));
        assert_eq!(
            (row.prompt_tokens(), row.cached_tokens(), row.expected_cached_tokens()),
            (Some(12_345), Some(0), None)
        );
        assert_eq!((row.completion_tokens(), row.attempts()), (3, 2));
        let unsized_prompt = SampleRow::of(&RequestSample { prompt_tokens: None, ..sample() }, false);
        assert_eq!((unsized_prompt.prompt_tokens(), unsized_prompt.context_tokens_estimate()), (None, 12_000));
        assert_eq!((row.ok(), row.in_window(), row.estimated_output()), (false, true, true));
        assert_eq!((row.bucket(), row.task_id(), row.thread()), ("short", "build-api", Some("main")));
        assert_eq!((row.session(), row.execution(), row.turn()), (12, 3, 7));
        assert_eq!(row.error().map(str::len), Some(200), "errors are grouped by their first 200 characters");
        assert_eq!(row.itl_ms(), [1.5, 2.25]);
    }

    #[test]
    fn a_row_encoded_and_decoded_is_the_same_row() {
        let mut row = SampleRow::of(&RequestSample { tpot_ms: Some(1.875), ..measured() }, true);
        let mut bytes = Vec::new();
        row.encode(&mut bytes);
        assert_eq!(bytes.len(), ENCODED_LEN);
        // The file's ids are this process's: map each to itself.
        let ids: Vec<u16> = (0..=u16::MAX).collect();
        let mut back = SampleRow::decode(bytes.as_slice().try_into().unwrap(), &ids).unwrap();
        let (timings, derived) = row.rare_parts();
        back.restore(row.itl_ms().to_vec(), timings.cloned(), derived);
        assert_eq!(format!("{back:?}"), format!("{row:?}"));
        row.shift(1e9 / 3.0);
        assert_eq!(row.lag_ms().map(f64::to_bits), back.lag_ms().map(f64::to_bits), "moved, its figures kept");
        assert_eq!(row.start_ms(), back.start_ms() + 1e9 / 3.0);
        let mut bad = bytes.clone();
        bad[76] = 200;
        assert!(SampleRow::decode(bad.as_slice().try_into().unwrap(), &ids).unwrap_err().starts_with("bucket 200"));
        assert!(SampleRow::decode(bytes.as_slice().try_into().unwrap(), &[]).is_err(), "ids the file lacks");
    }

    #[test]
    fn a_row_past_the_cap_holds_no_gaps_and_marks_change() {
        let mut row = SampleRow::of(&measured(), false);
        assert!(row.itl_ms().is_empty() && row.extra.is_none());
        row.set_in_window(false);
        row.set_expected_cached_tokens(Some(7));
        assert_eq!((row.in_window(), row.expected_cached_tokens(), row.ok()), (false, Some(7), true));
        let mut kept = SampleRow::of(&measured(), true);
        kept.drop_gaps();
        assert!(kept.itl_ms().is_empty() && kept.extra.is_none());
        assert!(std::mem::size_of::<SampleRow>() <= 88, "{} bytes", std::mem::size_of::<SampleRow>());
    }
}
