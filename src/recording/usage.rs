//! Token usage from either provider, normalised into one [`Usage`].
//!
//! OpenAI: `prompt_tokens` *includes* `prompt_tokens_details.cached_tokens`.
//! Anthropic: `input_tokens` *excludes* `cache_read_input_tokens` and
//! `cache_creation_input_tokens`; `message_delta.usage` is cumulative, so later fields
//! replace earlier ones (assign, never add).

use serde_json::{json, Map, Value};

use super::line::Usage;

fn field(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_u64()
}

/// From an OpenAI `usage` object.
pub fn from_openai(u: &Value) -> Usage {
    let input = field(u, &["prompt_tokens"]).unwrap_or(0);
    let cache_read = field(u, &["prompt_tokens_details", "cached_tokens"]).unwrap_or(0).min(input);
    let cache_creation =
        field(u, &["prompt_tokens_details", "cache_write_tokens"]).unwrap_or(0).min(input - cache_read);
    Usage {
        input_tokens: input,
        input_uncached: input - cache_read - cache_creation,
        cache_read,
        cache_creation,
        output_tokens: field(u, &["completion_tokens"]).unwrap_or(0),
        reasoning_tokens: field(u, &["completion_tokens_details", "reasoning_tokens"]),
        source: "server".into(),
        raw: Some(u.clone()),
    }
}

/// Merges Anthropic usage objects in stream order (`message_start.message.usage`, then each
/// `message_delta.usage`), later fields replacing earlier ones.
pub fn from_anthropic<'a>(parts: impl IntoIterator<Item = &'a Value>) -> Usage {
    let mut merged = Map::new();
    let mut raw = Vec::new();
    for part in parts {
        if let Some(obj) = part.as_object() {
            for (k, v) in obj {
                if !v.is_null() {
                    merged.insert(k.clone(), v.clone());
                }
            }
            raw.push(part.clone());
        }
    }
    let merged = Value::Object(merged);
    let uncached = field(&merged, &["input_tokens"]).unwrap_or(0);
    let cache_read = field(&merged, &["cache_read_input_tokens"]).unwrap_or(0);
    let cache_creation = field(&merged, &["cache_creation_input_tokens"]).unwrap_or(0);
    Usage {
        input_tokens: uncached + cache_read + cache_creation,
        input_uncached: uncached,
        cache_read,
        cache_creation,
        output_tokens: field(&merged, &["output_tokens"]).unwrap_or(0),
        reasoning_tokens: field(&merged, &["output_tokens_details", "thinking_tokens"]),
        source: "server".into(),
        raw: Some(if raw.len() == 1 { raw.remove(0) } else { json!(raw) }),
    }
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
    }

    #[test]
    fn anthropic_totals_add_cache_and_deltas_replace() {
        let start = json!({"input_tokens": 5, "cache_read_input_tokens": 4000, "cache_creation_input_tokens": 20, "output_tokens": 1});
        let delta = json!({"output_tokens": 42});
        let u = from_anthropic([&start, &delta]);
        assert_eq!(u.input_tokens, 4025);
        assert_eq!((u.input_uncached, u.cache_read, u.cache_creation), (5, 4000, 20));
        assert_eq!(u.output_tokens, 42);
    }
}
