//! A recorded call's [`Usage`]: the provider's token counts, read by the one usage reader
//! of the wire ([`crate::wire::usage`], where the two APIs' conventions are written down),
//! with the provider's usage object(s) kept verbatim beside them.

use serde_json::{json, Value};

use super::line::Usage;
use crate::wire::usage::TokenUsage;

fn server_usage(counts: TokenUsage, raw: Value) -> Usage {
    Usage {
        input_tokens: counts.input,
        input_uncached: counts.input_uncached,
        cache_read: counts.cache_read,
        cache_creation: counts.cache_creation,
        output_tokens: counts.output,
        reasoning_tokens: counts.reasoning,
        source: "server".into(),
        raw: Some(raw),
    }
}

/// From an OpenAI `usage` object.
pub(crate) fn from_openai(u: &Value) -> Usage {
    server_usage(TokenUsage::from_openai(u), u.clone())
}

/// From an OpenAI Responses `usage` object.
pub(crate) fn from_responses(u: &Value) -> Usage {
    server_usage(TokenUsage::from_responses(u), u.clone())
}

/// From Anthropic usage objects in stream order (`message_start.message.usage`, then each
/// `message_delta.usage`), later fields replacing earlier ones; `raw` keeps them all (one
/// object when there is one, else the list).
pub(crate) fn from_anthropic<'a>(parts: impl IntoIterator<Item = &'a Value>) -> Usage {
    let mut raw: Vec<Value> = parts.into_iter().filter(|part| part.is_object()).cloned().collect();
    let counts = TokenUsage::from_anthropic(&raw);
    server_usage(counts, if raw.len() == 1 { raw.remove(0) } else { json!(raw) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_prompt_tokens_include_cached() {
        let u = from_openai(&json!({"prompt_tokens": 100, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 3}}));
        assert_eq!((u.input_tokens, u.input_uncached, u.cache_read, u.output_tokens), (100, 36, 64, 7));
        assert_eq!(u.reasoning_tokens, Some(3));
        assert_eq!(u.source, "server");
    }

    #[test]
    fn anthropic_totals_add_cache_and_deltas_replace() {
        let start = json!({"input_tokens": 5, "cache_read_input_tokens": 4000, "cache_creation_input_tokens": 20, "output_tokens": 1});
        let delta = json!({"output_tokens": 42});
        let u = from_anthropic([&start, &delta]);
        assert_eq!(u.input_tokens, 4025);
        assert_eq!((u.input_uncached, u.cache_read, u.cache_creation), (5, 4000, 20));
        assert_eq!(u.output_tokens, 42);
        assert_eq!(u.raw, Some(json!([start, delta])));
        assert_eq!(from_anthropic([&delta]).raw, Some(delta));
    }
}
