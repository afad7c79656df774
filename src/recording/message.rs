//! One chat message of a recorded conversation (OpenAI format, as a line's `messages` holds
//! it), read for people: its role, and its text with tool calls as `name(arguments)`.

use serde_json::Value;

/// The text of one chat message: its content's text (a non-text part as `[type]`), then its
/// tool calls as `name(arguments)`.
pub(crate) fn text(m: &Value) -> String {
    let mut parts = Vec::new();
    match m.get("content") {
        Some(Value::String(s)) => parts.push(s.clone()),
        Some(Value::Array(items)) => {
            for item in items {
                match item.get("text").and_then(Value::as_str) {
                    Some(t) => parts.push(t.to_string()),
                    None => parts.push(format!("[{}]", item.get("type").and_then(Value::as_str).unwrap_or("part"))),
                }
            }
        }
        _ => {}
    }
    for tc in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let f = tc.get("function").unwrap_or(tc);
        let name = f.get("name").and_then(Value::as_str).unwrap_or("?");
        let args = f.get("arguments").and_then(Value::as_str).unwrap_or("");
        parts.push(format!("{name}({args})"));
    }
    parts.join("\n")
}

/// The message's role (`?` without one).
pub(crate) fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_texts() {
        let m = json!({"role": "assistant", "content": [{"type": "text", "text": "ok"}, {"type": "image"}],
            "tool_calls": [{"id": "1", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]});
        assert_eq!(text(&m), "ok\n[image]\nBash({})");
        assert_eq!((role(&m), role(&json!({}))), ("assistant", "?"));
    }
}
