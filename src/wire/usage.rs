//! Token counts from either API's `usage` object, read one way for everyone: the recorder
//! (`recording::usage`, which keeps them on a call's line) and the translator
//! (`translate::usage`, which writes the Anthropic usage of a translated answer).
//!
//! The two APIs count input differently:
//!
//! * OpenAI: `prompt_tokens` *includes* `prompt_tokens_details.cached_tokens` (cache
//!   reads) and `prompt_tokens_details.cache_write_tokens` (cache writes, reported by
//!   OpenRouter and some others). Each is clamped to what is left of `prompt_tokens`, so
//!   the parts always add up to the total.
//! * Anthropic: `input_tokens` *excludes* `cache_read_input_tokens` and
//!   `cache_creation_input_tokens`; the total is their sum. In a stream,
//!   `message_start.message.usage` comes first and each `message_delta.usage` is
//!   cumulative: later fields replace earlier ones (assign, never add).
//!
//! * OpenAI Responses: `input_tokens` *includes* `input_tokens_details.cached_tokens`
//!   (and `cache_write_tokens` where a server reports it), as Chat Completions'
//!   `prompt_tokens` does; `output_tokens` includes
//!   `output_tokens_details.reasoning_tokens`.
//!
//! A count that is absent, `null` or not a non-negative integer is 0 (reasoning: unknown).

use serde_json::Value;

/// The counts of one answer's usage, whichever API reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TokenUsage {
    /// All input tokens: uncached + cache reads + cache writes.
    pub input: u64,
    pub input_uncached: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
    pub output: u64,
    /// Reasoning (thinking) tokens within `output`, when the server says.
    pub reasoning: Option<u64>,
}

/// The count at `path` (object keys), read with `get`, not `Value::pointer`: a pointer
/// allocates for every token it parses, and this runs for every replayed answer.
fn count(usage: &Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(usage, |value, key| value.get(key)).and_then(Value::as_u64)
}

impl TokenUsage {
    /// From an OpenAI `usage` object (anything else counts as zeros).
    pub(crate) fn from_openai(usage: &Value) -> Self {
        Self::from_openai_shaped(
            usage,
            ["prompt_tokens", "prompt_tokens_details", "completion_tokens", "completion_tokens_details"],
        )
    }

    /// From an OpenAI Responses `usage` object (anything else counts as zeros): Chat
    /// Completions' fields under other names.
    pub(crate) fn from_responses(usage: &Value) -> Self {
        Self::from_openai_shaped(
            usage,
            ["input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details"],
        )
    }

    /// Either OpenAI shape, given its names of the input count, its details object, the
    /// output count and its details object.
    fn from_openai_shaped(usage: &Value, [input_key, input_details, output_key, output_details]: [&str; 4]) -> Self {
        let input = count(usage, &[input_key]).unwrap_or(0);
        let cache_read = count(usage, &[input_details, "cached_tokens"]).unwrap_or(0).min(input);
        let cache_creation = count(usage, &[input_details, "cache_write_tokens"]).unwrap_or(0).min(input - cache_read);
        TokenUsage {
            input,
            input_uncached: input - cache_read - cache_creation,
            cache_read,
            cache_creation,
            output: count(usage, &[output_key]).unwrap_or(0),
            reasoning: count(usage, &[output_details, "reasoning_tokens"]),
        }
    }

    /// From Anthropic usage objects in stream order (`message_start.message.usage`, then
    /// each `message_delta.usage`; a body has one), a later non-null field replacing an
    /// earlier one. Parts that are not objects are skipped.
    pub(crate) fn from_anthropic<'a>(parts: impl IntoIterator<Item = &'a Value>) -> Self {
        const FIELDS: [&str; 5] = [
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "output_tokens",
            "output_tokens_details",
        ];
        let mut latest: [Option<&Value>; 5] = [None; 5];
        for part in parts.into_iter().filter_map(Value::as_object) {
            for (slot, field) in latest.iter_mut().zip(FIELDS) {
                if let Some(value) = part.get(field).filter(|v| !v.is_null()) {
                    *slot = Some(value);
                }
            }
        }
        let [uncached, cache_read, cache_creation, output, output_details] = latest;
        let number = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        let (uncached, cache_read, cache_creation) = (number(uncached), number(cache_read), number(cache_creation));
        TokenUsage {
            input: uncached + cache_read + cache_creation,
            input_uncached: uncached,
            cache_read,
            cache_creation,
            output: number(output),
            reasoning: output_details.and_then(|d| d.get("thinking_tokens")).and_then(Value::as_u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_prompt_tokens_include_cache_reads_and_writes() {
        let u = TokenUsage::from_openai(&json!({"prompt_tokens": 100, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 30},
            "completion_tokens_details": {"reasoning_tokens": 3}}));
        assert_eq!(
            u,
            TokenUsage {
                input: 100,
                input_uncached: 6,
                cache_read: 64,
                cache_creation: 30,
                output: 7,
                reasoning: Some(3)
            }
        );
    }

    #[test]
    fn openai_cache_counts_are_clamped_to_the_prompt() {
        let u = TokenUsage::from_openai(
            &json!({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9, "cache_write_tokens": 4}}),
        );
        assert_eq!((u.input, u.input_uncached, u.cache_read, u.cache_creation), (5, 0, 5, 0));
        for odd in [Value::Null, json!("lots"), json!({"prompt_tokens": -1, "prompt_tokens_details": null})] {
            assert_eq!(TokenUsage::from_openai(&odd), TokenUsage::default(), "{odd}");
        }
    }

    #[test]
    fn responses_input_tokens_include_cache_reads() {
        let u = TokenUsage::from_responses(&json!({"input_tokens": 50, "output_tokens": 9, "total_tokens": 59,
            "input_tokens_details": {"cached_tokens": 40}, "output_tokens_details": {"reasoning_tokens": 4}}));
        assert_eq!((u.input, u.input_uncached, u.cache_read, u.output, u.reasoning), (50, 10, 40, 9, Some(4)));
        assert_eq!(TokenUsage::from_responses(&json!({"prompt_tokens": 5})), TokenUsage::default());
    }

    #[test]
    fn anthropic_totals_add_cache_and_deltas_replace() {
        let start = json!({"input_tokens": 5, "cache_read_input_tokens": 4000, "cache_creation_input_tokens": 20, "output_tokens": 1});
        let delta = json!({"output_tokens": 42, "input_tokens": null, "output_tokens_details": {"thinking_tokens": 8}});
        let u = TokenUsage::from_anthropic([&start, &json!("odd"), &delta]);
        assert_eq!(
            u,
            TokenUsage {
                input: 4025,
                input_uncached: 5,
                cache_read: 4000,
                cache_creation: 20,
                output: 42,
                reasoning: Some(8)
            }
        );
        assert_eq!(TokenUsage::from_anthropic([]), TokenUsage::default());
    }
}
