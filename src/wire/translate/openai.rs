//! Reading OpenAI Chat Completions answers: the few fields both the non-streamed
//! (`choices[].message`) and streamed (`choices[].delta`) paths look at, with the
//! servers' variations folded in.
//!
//! * Only the choice with `index` 0 matters (Anthropic has no `n`); a choice without an
//!   `index` counts as 0.
//! * Reasoning text has no official field: DeepSeek and llama.cpp use
//!   `reasoning_content`, vLLM (since late 2025) and Together use `reasoning`. Both are
//!   read, `reasoning_content` first, never both (a server in transition may send the
//!   same text under both names).
//! * Visible text is `content` (a string, or content parts whose `text` is joined); a
//!   `refusal` string is visible text too when there is no content.

use serde_json::Value;

/// The choice with `index` 0 of a `chat.completion` or `chat.completion.chunk`.
pub fn first_choice(body: &Value) -> Option<&Value> {
    body.get("choices")?.as_array()?.iter().find(|choice| choice.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
}

/// The non-empty reasoning text of a message or delta.
pub fn reasoning_text(message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"].into_iter().find_map(|field| non_empty(message.get(field)))
}

/// The non-empty visible text of a message or delta.
pub fn visible_text(message: &Value) -> Option<String> {
    let content = match message.get("content") {
        Some(Value::Array(parts)) => {
            let text: String = parts.iter().filter_map(|part| part.get("text").and_then(Value::as_str)).collect();
            Some(text).filter(|t| !t.is_empty())
        }
        other => non_empty(other).map(str::to_owned),
    };
    content.or_else(|| non_empty(message.get("refusal")).map(str::to_owned))
}

fn non_empty(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_choice_is_index_zero() {
        let body = json!({"choices": [{"index": 1, "x": 1}, {"index": 0, "x": 0}]});
        assert_eq!(first_choice(&body).unwrap()["x"], 0);
        assert_eq!(first_choice(&json!({"choices": [{"x": 2}]})).unwrap()["x"], 2);
        assert!(first_choice(&json!({"choices": []})).is_none());
        assert!(first_choice(&json!({"choices": null})).is_none());
        assert!(first_choice(&json!(7)).is_none());
    }

    #[test]
    fn reasoning_reads_both_names_once() {
        assert_eq!(reasoning_text(&json!({"reasoning": "a"})), Some("a"));
        assert_eq!(reasoning_text(&json!({"reasoning_content": "b", "reasoning": "b"})), Some("b"));
        assert_eq!(reasoning_text(&json!({"reasoning_content": "", "reasoning": "c"})), Some("c"));
        assert_eq!(reasoning_text(&json!({"reasoning_content": null})), None);
        assert_eq!(reasoning_text(&Value::Null), None);
    }

    #[test]
    fn visible_text_handles_strings_parts_and_refusals() {
        assert_eq!(visible_text(&json!({"content": "hi"})).as_deref(), Some("hi"));
        assert_eq!(visible_text(&json!({"content": ""})), None);
        assert_eq!(visible_text(&json!({"content": null})), None);
        let parts = json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]});
        assert_eq!(visible_text(&parts).as_deref(), Some("ab"));
        let refusal = json!({"content": null, "refusal": "I can't help with that."});
        assert_eq!(visible_text(&refusal).as_deref(), Some("I can't help with that."));
    }
}
