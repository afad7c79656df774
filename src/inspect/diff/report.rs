//! What `asb diff` reports: the two files, their calls aligned thread by thread into pairs
//! (with prompt, response and timing differences) and calls only in one of them, and the
//! counts. Serialised as is for `--json`; [`super::render`] writes it as text.

use serde::Serialize;

#[cfg(test)]
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub a: FileInfo,
    pub b: FileInfo,
    /// Aligned thread by thread (both files have thread ids), else as one sequence.
    pub by_thread: bool,
    pub threads: Vec<ThreadReport>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileInfo {
    pub path: String,
    pub calls: usize,
}

#[cfg(test)]
#[derive(Debug, Serialize)]
pub(crate) struct ThreadReport {
    pub thread_a: Option<String>,
    pub thread_b: Option<String>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Entry {
    Pair(Box<PairDiff>),
    OnlyA(CallRef),
    OnlyB(CallRef),
}

/// Which call: enough to find it in its file.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CallRef {
    pub seq: u64,
    pub line: usize,
    pub model: String,
    pub thread_id: Option<String>,
    /// The newest user message or tool result, shortened.
    pub last_input: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct PairDiff {
    pub a: CallRef,
    pub b: CallRef,
    /// Same prompt and same response (timing aside).
    pub equal: bool,
    pub prompt: PromptDiff,
    pub response: ResponseDiff,
    pub timing: TimingDiff,
}

#[derive(Debug, Serialize)]
pub(crate) struct PromptDiff {
    pub equal: bool,
    pub messages_a: usize,
    pub messages_b: usize,
    /// The first message that differs (or exists on one side only).
    pub first_difference: Option<MessageDiff>,
    /// Model and request parameters that differ.
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Serialize)]
pub(crate) struct MessageDiff {
    pub index: usize,
    pub role_a: Option<String>,
    pub role_b: Option<String>,
    /// Excerpts around the first differing character (whole start when one side is absent).
    pub a: Option<String>,
    pub b: Option<String>,
    pub at_char: Option<usize>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FieldChange {
    pub path: String,
    pub a: String,
    pub b: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ResponseDiff {
    pub equal: bool,
    pub outcome_a: String,
    pub outcome_b: String,
    /// Both lines keep the answer (`result`): AgenticSwarmBench (the original asb)'s lines
    /// do not.
    pub known: bool,
    pub text_equal: Option<bool>,
    pub tool_calls_a: Vec<String>,
    pub tool_calls_b: Vec<String>,
    pub tool_calls_equal: Option<bool>,
    pub output_tokens_a: Option<u64>,
    pub output_tokens_b: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TimingDiff {
    pub ttft_ms: Option<Change>,
    pub total_time_s: Option<Change>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Change {
    pub a: f64,
    pub b: f64,
    /// b / a.
    pub ratio: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    pub pairs: usize,
    pub equal: usize,
    pub changed: usize,
    pub only_a: usize,
    pub only_b: usize,
}
