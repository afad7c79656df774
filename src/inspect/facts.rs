//! What `asb inspect` and `asb timeline` keep of each call: a few numbers and shared
//! strings, read off the line as it streams by, instead of the whole parsed line. A file of
//! two million short lines held as parsed lines took ≈ 1.7 KB a line (3.3 GB); as facts,
//! ≈ 150 bytes.

use std::collections::HashSet;
use std::rc::Rc;

use crate::recording::reader::NumberedCall;

use super::arrival::Arrives;
use super::call;
use super::display::excerpt;

/// Error texts are kept cut to this many characters.
pub const ERROR_CHARS: usize = 160;

/// One call, as the commands that need every call see it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFacts {
    pub line: usize,
    pub seq: u64,
    pub experiment_id: Rc<str>,
    pub model: Rc<str>,
    pub thread_id: Option<Rc<str>>,
    /// The line has `format_version`.
    pub v1: bool,
    /// [`call::outcome`].
    pub outcome: &'static str,
    pub start_offset_ms: Option<f64>,
    /// The `timestamp`, in ms since the epoch (the text itself is not kept).
    pub timestamp_ms: Option<f64>,
    pub duration_ms: Option<f64>,
    pub total_time_s: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub usage: Option<CacheTokens>,
    /// Names of the tools the answer called.
    pub tool_calls: Vec<Rc<str>>,
    /// [`call::error_text`], cut to [`ERROR_CHARS`].
    pub error: Option<String>,
}

/// The cache split of a call with `usage`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheTokens {
    pub cache_read: u64,
    pub cache_creation: u64,
    pub reasoning: u64,
}

impl CallFacts {
    pub fn failed(&self) -> bool {
        self.outcome != "completed"
    }
}

/// Makes [`CallFacts`], sharing the strings calls repeat (models, run and thread ids).
#[derive(Debug, Default)]
pub struct FactsReader {
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

    pub fn of(&mut self, c: &NumberedCall) -> CallFacts {
        let call = &c.call;
        CallFacts {
            line: c.line,
            seq: call.seq,
            experiment_id: self.shared(&call.experiment_id),
            model: self.shared(&call.model),
            thread_id: call.thread_id.as_deref().map(|t| self.shared(t)),
            v1: call.format_version.is_some(),
            outcome: call::outcome(call),
            start_offset_ms: call.start_offset_ms,
            timestamp_ms: call::timestamp_ms(call),
            duration_ms: call::duration_ms(call),
            total_time_s: call::total_time_s(call),
            ttft_ms: call::ttft_ms(call),
            input_tokens: call::input_tokens(call),
            output_tokens: call::output_tokens(call),
            usage: call.usage.as_ref().map(|u| CacheTokens {
                cache_read: u.cache_read,
                cache_creation: u.cache_creation,
                reasoning: u.reasoning_tokens.unwrap_or(0),
            }),
            tool_calls: call.result.iter().flat_map(|r| &r.tool_calls).map(|t| self.shared(&t.name)).collect(),
            error: call::error_text(call).map(|e| excerpt(&e, ERROR_CHARS)),
        }
    }
}

/// The facts of calls in memory.
pub fn facts(calls: &[NumberedCall]) -> Vec<CallFacts> {
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
        self.start_offset_ms
    }
    fn timestamp_ms(&self) -> Option<f64> {
        self.timestamp_ms
    }
    fn duration_ms(&self) -> Option<f64> {
        self.duration_ms
    }
}
