//! What `asb inspect` and `asb timeline` keep of each call: a few numbers and shared
//! strings, read off the line as it streams by, instead of the whole parsed line. A file of
//! two million short lines held as parsed lines took ≈ 1.7 KB a line (3.3 GB); as facts,
//! 192 bytes (optional numbers in 8 bytes each, the outcome in one).

use std::collections::HashSet;
use std::rc::Rc;

use crate::display::excerpt;
use crate::recording::reader::NumberedCall;

use super::arrival::Arrives;

/// Error texts are kept cut to this many characters.
pub(crate) const ERROR_CHARS: usize = 160;

/// One call, as the commands that need every call see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CallFacts {
    pub line: usize,
    pub seq: u64,
    pub experiment_id: Rc<str>,
    pub model: Rc<str>,
    pub thread_id: Option<Rc<str>>,
    /// The line has `format_version`.
    pub v1: bool,
    /// Index of [`crate::recording::line::CallLine::outcome_str`] in [`OUTCOMES`].
    outcome: u8,
    start_offset_ms: MaybeF64,
    /// The `timestamp`, in ms since the epoch (the text itself is not kept).
    timestamp_ms: MaybeF64,
    duration_ms: MaybeF64,
    total_time_s: MaybeF64,
    ttft_ms: MaybeF64,
    input_tokens: MaybeU64,
    output_tokens: MaybeU64,
    pub usage: Option<CacheTokens>,
    /// Names of the tools the answer called.
    pub tool_calls: Box<[Rc<str>]>,
    /// [`crate::recording::line::CallLine::error_text`], cut to [`ERROR_CHARS`].
    pub error: Option<Box<str>>,
}

/// Every outcome [`crate::recording::line::CallLine::outcome_str`] names.
const OUTCOMES: [&str; 9] = [
    "completed",
    "failed",
    "upstream_error",
    "upstream_unreachable",
    "upstream_cut",
    "client_disconnected",
    "interrupted",
    "proxy_rejected",
    "truncated",
];

/// An optional number in 8 bytes: NaN stands for absent (JSON has no NaN to record).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MaybeF64(f64);

impl MaybeF64 {
    pub(crate) fn of(v: Option<f64>) -> Self {
        MaybeF64(v.filter(|v| !v.is_nan()).unwrap_or(f64::NAN))
    }
    pub(crate) fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

/// An optional count in 8 bytes: `u64::MAX` stands for absent.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MaybeU64(u64);

impl MaybeU64 {
    fn of(v: Option<u64>) -> Self {
        MaybeU64(v.unwrap_or(u64::MAX))
    }
    fn get(self) -> Option<u64> {
        (self.0 != u64::MAX).then_some(self.0)
    }
}

/// The cache split of a call with `usage`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CacheTokens {
    pub cache_read: u64,
    pub cache_creation: u64,
    pub reasoning: u64,
}

impl CallFacts {
    /// The call did not reach the client whole. A `truncated` call did (only the recording
    /// keeps less of its answer), so it is no failure.
    pub(crate) fn failed(&self) -> bool {
        !matches!(self.outcome(), "completed" | "truncated")
    }
    /// [`crate::recording::line::CallLine::outcome_str`].
    pub(crate) fn outcome(&self) -> &'static str {
        OUTCOMES[usize::from(self.outcome).min(OUTCOMES.len() - 1)]
    }
    pub(crate) fn total_time_s(&self) -> Option<f64> {
        self.total_time_s.get()
    }
    pub(crate) fn ttft_ms(&self) -> Option<f64> {
        self.ttft_ms.get()
    }
    pub(crate) fn input_tokens(&self) -> Option<u64> {
        self.input_tokens.get()
    }
    pub(crate) fn output_tokens(&self) -> Option<u64> {
        self.output_tokens.get()
    }
}

/// Makes [`CallFacts`], sharing the strings calls repeat (models, run and thread ids).
#[derive(Debug, Default)]
pub(crate) struct FactsReader {
    strings: HashSet<Rc<str>>,
}

impl FactsReader {
    fn shared(&mut self, text: &str) -> Rc<str> {
        if let Some(known) = self.strings.get(text) {
            return known.clone();
        }
        let new: Rc<str> = Rc::from(text);
        self.strings.insert(new.clone());
        new
    }

    pub(crate) fn of(&mut self, c: &NumberedCall) -> CallFacts {
        let call = &c.call;
        CallFacts {
            line: c.line,
            seq: call.seq,
            experiment_id: self.shared(&call.experiment_id),
            model: self.shared(&call.model),
            thread_id: call.thread_id.as_deref().map(|t| self.shared(t)),
            v1: call.format_version.is_some(),
            outcome: outcome_index(call.outcome_str()),
            start_offset_ms: MaybeF64::of(call.start_offset_ms),
            timestamp_ms: MaybeF64::of(call.timestamp_ms()),
            duration_ms: MaybeF64::of(call.duration_ms()),
            total_time_s: MaybeF64::of(call.duration_s()),
            ttft_ms: MaybeF64::of(call.first_token_ms()),
            input_tokens: MaybeU64::of(call.input_tokens()),
            output_tokens: MaybeU64::of(call.output_tokens()),
            usage: call.usage.as_ref().map(|u| CacheTokens {
                cache_read: u.cache_read,
                cache_creation: u.cache_creation,
                reasoning: u.reasoning_tokens.unwrap_or(0),
            }),
            tool_calls: call.result.iter().flat_map(|r| &r.tool_calls).map(|t| self.shared(&t.name)).collect(),
            error: call.error_text().map(|e| excerpt(&e, ERROR_CHARS).into_boxed_str()),
        }
    }
}

/// The index of an outcome's name in [`OUTCOMES`] (a name not there counts as `failed`).
fn outcome_index(name: &str) -> u8 {
    OUTCOMES.iter().position(|o| *o == name).unwrap_or(1) as u8
}

/// The facts of calls in memory.
#[cfg(test)]
pub(crate) fn facts(calls: &[NumberedCall]) -> Vec<CallFacts> {
    let mut reader = FactsReader::default();
    calls.iter().map(|c| reader.of(c)).collect()
}

impl Arrives for CallFacts {
    fn experiment_id(&self) -> &str {
        &self.experiment_id
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn line(&self) -> usize {
        self.line
    }
    fn start_offset_ms(&self) -> Option<f64> {
        self.start_offset_ms.get()
    }
    fn timestamp_ms(&self) -> Option<f64> {
        self.timestamp_ms.get()
    }
    fn duration_ms(&self) -> Option<f64> {
        self.duration_ms.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::{CallLine, Outcome};

    #[test]
    fn every_outcome_has_its_index_and_facts_stay_small() {
        for o in [
            Outcome::Completed,
            Outcome::UpstreamError,
            Outcome::UpstreamUnreachable,
            Outcome::UpstreamCut,
            Outcome::ClientDisconnected,
            Outcome::Interrupted,
            Outcome::ProxyRejected,
        ] {
            let c = NumberedCall { line: 1, call: CallLine { outcome: Some(o), ..Default::default() } };
            assert_eq!(FactsReader::default().of(&c).outcome(), o.as_str());
        }
        let asb_failed = NumberedCall { line: 1, call: CallLine { error: Some("x".into()), ..Default::default() } };
        assert_eq!(FactsReader::default().of(&asb_failed).outcome(), "failed");
        let truncated = NumberedCall {
            line: 2,
            call: CallLine { format_version: Some(1), outcome: Some(Outcome::Truncated), ..Default::default() },
        };
        let facts = FactsReader::default().of(&truncated);
        assert_eq!(facts.outcome(), "truncated");
        assert!(!facts.failed(), "the client got the whole answer");
        assert!(std::mem::size_of::<CallFacts>() <= 192, "{}", std::mem::size_of::<CallFacts>());
    }
}
