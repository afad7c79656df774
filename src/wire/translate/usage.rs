//! OpenAI `usage` → Anthropic `usage`.
//!
//! The counts are read by the wire's one usage reader ([`crate::wire::usage`]: OpenAI's
//! `prompt_tokens` **includes** cache reads and writes); Anthropic's `input_tokens`
//! **excludes** them ("total input = input_tokens + cache_creation_input_tokens +
//! cache_read_input_tokens"). So:
//!
//! * `input_tokens = prompt_tokens − cached_tokens − cache_write_tokens`
//! * `cache_read_input_tokens = prompt_tokens_details.cached_tokens` (0 when not reported)
//! * `cache_creation_input_tokens = prompt_tokens_details.cache_write_tokens` (0 when not
//!   reported, as by vLLM and llama.cpp)
//! * `output_tokens = completion_tokens`
//!
//! Key order is the one Anthropic uses in `message_start`.

use serde_json::{json, Value};

use crate::wire::usage::TokenUsage;

/// The Anthropic usage object for an OpenAI usage object; `None`, `null` or missing
/// fields count as 0.
pub(crate) fn anthropic_usage(openai_usage: Option<&Value>) -> Value {
    let counts = openai_counts(openai_usage);
    anthropic_usage_with_output(&counts, counts.output)
}

/// The counts of an OpenAI usage object, zeros when there is none.
pub(crate) fn openai_counts(openai_usage: Option<&Value>) -> TokenUsage {
    openai_usage.map(TokenUsage::from_openai).unwrap_or_default()
}

/// The Anthropic usage object, with `output_tokens` given by the caller (a stream without
/// upstream usage estimates it).
pub(crate) fn anthropic_usage_with_output(counts: &TokenUsage, output_tokens: u64) -> Value {
    json!({
        "input_tokens": counts.input_uncached,
        "cache_creation_input_tokens": counts.cache_creation,
        "cache_read_input_tokens": counts.cache_read,
        "output_tokens": output_tokens,
    })
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
        assert_eq!(anthropic_usage(Some(&usage))["cache_read_input_tokens"], 5);
    }

    #[test]
    fn cache_writes_move_out_of_input_tokens_too() {
        let usage = json!({"prompt_tokens": 1000, "completion_tokens": 3,
                           "prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 300}});
        assert_eq!(
            anthropic_usage(Some(&usage)),
            json!({"input_tokens": 100, "cache_creation_input_tokens": 300,
                   "cache_read_input_tokens": 600, "output_tokens": 3})
        );
    }
}
