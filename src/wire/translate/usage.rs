//! OpenAI `usage` → Anthropic `usage`.
//!
//! OpenAI's `prompt_tokens` **includes** `prompt_tokens_details.cached_tokens`; Anthropic's
//! `input_tokens` **excludes** cache reads and writes ("total input = input_tokens +
//! cache_creation_input_tokens + cache_read_input_tokens"). So:
//!
//! * `input_tokens = prompt_tokens − cached_tokens`
//! * `cache_read_input_tokens = cached_tokens` (0 when the server does not report it)
//! * `cache_creation_input_tokens = 0` (OpenAI-compatible servers have no equivalent)
//! * `output_tokens = completion_tokens`
//!
//! Key order is the one Anthropic uses in `message_start`.

use serde_json::{json, Value};

/// The Anthropic usage object for an OpenAI usage object; `None`, `null` or missing
/// fields count as 0.
pub fn anthropic_usage(openai_usage: Option<&Value>) -> Value {
    let counts = TokenCounts::from_openai(openai_usage);
    counts.to_anthropic(counts.completion)
}

/// The counts of one OpenAI usage object that the Anthropic usage needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TokenCounts {
    pub prompt: u64,
    pub cached: u64,
    pub completion: u64,
}

impl TokenCounts {
    pub fn from_openai(usage: Option<&Value>) -> Self {
        let Some(usage) = usage else {
            return TokenCounts::default();
        };
        let count = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
        TokenCounts {
            prompt: count("/prompt_tokens"),
            cached: count("/prompt_tokens_details/cached_tokens"),
            completion: count("/completion_tokens"),
        }
    }

    /// The Anthropic usage object, with `output_tokens` given by the caller (a stream
    /// without upstream usage estimates it).
    pub fn to_anthropic(self, output_tokens: u64) -> Value {
        json!({
            "input_tokens": self.prompt.saturating_sub(self.cached),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": self.cached,
            "output_tokens": output_tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tokens_move_out_of_input_tokens() {
        let usage = json!({
            "prompt_tokens": 1000, "completion_tokens": 42, "total_tokens": 1042,
            "prompt_tokens_details": {"cached_tokens": 768}
        });
        assert_eq!(
            anthropic_usage(Some(&usage)),
            json!({"input_tokens": 232, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 768, "output_tokens": 42})
        );
    }

    #[test]
    fn missing_details_mean_no_cache_hit() {
        let usage = json!({"prompt_tokens": 17, "completion_tokens": 2, "prompt_tokens_details": null});
        assert_eq!(
            anthropic_usage(Some(&usage)),
            json!({"input_tokens": 17, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 0, "output_tokens": 2})
        );
    }

    #[test]
    fn absent_or_odd_usage_is_all_zeros() {
        let zeros = json!({"input_tokens": 0, "cache_creation_input_tokens": 0,
                           "cache_read_input_tokens": 0, "output_tokens": 0});
        assert_eq!(anthropic_usage(None), zeros);
        assert_eq!(anthropic_usage(Some(&Value::Null)), zeros);
        assert_eq!(anthropic_usage(Some(&json!("lots"))), zeros);
    }

    #[test]
    fn cached_above_prompt_does_not_underflow() {
        let usage = json!({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}});
        assert_eq!(anthropic_usage(Some(&usage))["input_tokens"], 0);
    }
}
