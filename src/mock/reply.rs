//! Everything known about one answer before its first byte is sent, shared by the
//! OpenAI and Anthropic encoders.

use super::answer::Answer;
use super::prefix_cache::CacheOutcome;

pub(crate) struct Reply {
    pub seq: u64,
    /// `chatcmpl-mock-N` or `msg_mock_N`.
    pub id: String,
    pub model: String,
    /// Unix seconds at arrival.
    pub created: u64,
    pub answer: Answer,
    pub prompt_tokens: usize,
    pub cache: CacheOutcome,
    pub include_usage: bool,
    pub continuous_usage: bool,
}

impl Reply {
    /// Anthropic's `input_tokens`: prompt tokens neither read from nor written to the cache.
    pub(crate) fn uncached_input_tokens(&self) -> usize {
        self.prompt_tokens - self.cache.cached_tokens - self.cache.written_tokens
    }
}

/// Streams one reply as SSE events: a preamble at arrival, one event (plus any block
/// boundaries) per token, and the closing events with usage.
pub(crate) trait SseEncoder: Send {
    fn preamble(&mut self, reply: &Reply, out: &mut String);
    fn token(&mut self, reply: &Reply, index: usize, out: &mut String);
    fn finish(&mut self, reply: &Reply, out: &mut String);
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}
