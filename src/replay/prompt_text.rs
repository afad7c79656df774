//! The prompt text of a request body, as one sequence of strings in the order the model
//! reads them: what cache poisoning edits, what the shared prefix is measured on, and
//! what the chars/4 token estimate counts.
//!
//! AgenticSwarmBench (the original asb) concatenates the `content` of every message (system
//! first). We do the same over the body actually sent, whichever API it speaks:
//!
//! * OpenAI: each message's `content` string, or the `text` of its text parts;
//! * Anthropic: `system` (string or text blocks), then each message's `content` string,
//!   or its blocks' `text`, and `tool_result` contents (string or text blocks).
//!
//! Tool-call arguments, thinking blocks (their signature covers the text) and images are
//! not prompt text here.

use serde_json::Value;

use crate::wire::Api;

/// Mutable references to every prompt string of `body`, in reading order.
pub(crate) fn segments_mut(body: &mut Value, api: Api) -> Vec<&mut String> {
    let mut out = Vec::new();
    let Some(obj) = body.as_object_mut() else {
        return out;
    };
    match api {
        Api::OpenAi => {
            for m in messages_mut(obj.get_mut("messages")) {
                content_mut(m.get_mut("content"), &mut out);
            }
        }
        Api::Anthropic => {
            // `system` comes before `messages` in reading order whatever the key order.
            let (system, messages) = split_two(obj, "system", "messages");
            content_mut(system, &mut out);
            for m in messages_mut(messages) {
                content_mut(m.get_mut("content"), &mut out);
            }
        }
        Api::Responses => {
            // `instructions` before `input`; an item's text is its content (a message) or
            // its output (a tool's result).
            let (instructions, input) = split_two(obj, "instructions", "input");
            content_mut(instructions, &mut out);
            match input {
                Some(Value::String(s)) => out.push(s),
                input => {
                    for item in messages_mut(input) {
                        let Some(item) = item.as_object_mut() else { continue };
                        let (content, output) = split_two(item, "content", "output");
                        content_mut(content, &mut out);
                        content_mut(output, &mut out);
                    }
                }
            }
        }
    }
    out
}

/// The prompt strings joined, and the length of the leading system text within it.
pub(crate) fn concat(body: &Value, api: Api) -> (String, usize) {
    let mut body = body.clone();
    let system_len = system_len(&mut body, api);
    let joined = segments_mut(&mut body, api).iter().map(|s| s.as_str()).collect::<String>();
    (joined, system_len)
}

/// chars/4 of everything the model is given as text: the prompt strings plus the tool
/// definitions as JSON (AgenticSwarmBench counts message contents only: it never sent
/// tools).
pub(crate) fn estimate_tokens(body: &Value, api: Api) -> u64 {
    let mut body = body.clone();
    let tools = body.get("tools").map(|t| t.to_string().chars().count()).unwrap_or(0);
    let text: usize = segments_mut(&mut body, api).iter().map(|s| s.chars().count()).sum();
    ((text + tools) / 4) as u64
}

fn system_len(body: &mut Value, api: Api) -> usize {
    let mut out = Vec::new();
    match api {
        Api::OpenAi => {
            let Some(obj) = body.as_object_mut() else { return 0 };
            for m in messages_mut(obj.get_mut("messages")) {
                let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                if role != "system" && role != "developer" {
                    break;
                }
                content_mut(m.get_mut("content"), &mut out);
            }
        }
        Api::Anthropic => content_mut(body.get_mut("system"), &mut out),
        Api::Responses => {
            let Some(obj) = body.as_object_mut() else { return 0 };
            let (instructions, input) = split_two(obj, "instructions", "input");
            content_mut(instructions, &mut out);
            for m in messages_mut(input) {
                let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                if role != "system" && role != "developer" {
                    break;
                }
                content_mut(m.get_mut("content"), &mut out);
            }
        }
    }
    out.iter().map(|s| s.len()).sum()
}

fn split_two<'a>(
    obj: &'a mut serde_json::Map<String, Value>,
    first: &str,
    second: &str,
) -> (Option<&'a mut Value>, Option<&'a mut Value>) {
    let mut a = None;
    let mut b = None;
    for (k, v) in obj.iter_mut() {
        if k == first {
            a = Some(v);
        } else if k == second {
            b = Some(v);
        }
    }
    (a, b)
}

fn messages_mut(messages: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    messages.and_then(Value::as_array_mut).into_iter().flatten()
}

/// A `content` (or `system`) value: a string, or a list of blocks.
fn content_mut<'a>(content: Option<&'a mut Value>, out: &mut Vec<&'a mut String>) {
    match content {
        Some(Value::String(s)) => out.push(s),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                let Some(b) = block.as_object_mut() else { continue };
                let kind = b.get("type").and_then(Value::as_str).unwrap_or("text").to_string();
                match kind.as_str() {
                    "text" | "input_text" | "output_text" => {
                        if let Some(Value::String(s)) = b.get_mut("text") {
                            out.push(s);
                        }
                    }
                    "tool_result" => content_mut(b.get_mut("content"), out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_segments_are_instructions_then_input_items() {
        let body = json!({"input": [
            {"role": "developer", "content": "dev "},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "out"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
        ], "instructions": "sys "});
        assert_eq!(concat(&body, Api::Responses), ("sys dev qoutok".to_string(), 8));
        assert_eq!(concat(&json!({"input": "hi"}), Api::Responses), ("hi".to_string(), 0));
    }

    #[test]
    fn openai_segments_follow_message_order() {
        let body = json!({"messages": [
            {"role": "system", "content": "sys "},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"function": {"arguments": "{}"}}]},
            {"role": "tool", "content": "out"}
        ]});
        assert_eq!(concat(&body, Api::OpenAi), ("sys about".to_string(), 4));
    }

    #[test]
    fn anthropic_system_comes_first_and_tool_results_count() {
        let body = json!({"messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "r"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": [{"type": "text", "text": "res"}]}]}
        ], "system": [{"type": "text", "text": "S1"}, {"type": "text", "text": "S2"}]});
        assert_eq!(concat(&body, Api::Anthropic), ("S1S2qrres".to_string(), 4));
    }

    #[test]
    fn edits_through_segments_land_in_the_body() {
        let mut body = json!({"system": "a b", "messages": [{"role": "user", "content": "c d"}]});
        for s in segments_mut(&mut body, Api::Anthropic) {
            s.push('!');
        }
        assert_eq!(body, json!({"system": "a b!", "messages": [{"role": "user", "content": "c d!"}]}));
    }

    #[test]
    fn estimate_counts_chars_and_tools() {
        let body = json!({"messages": [{"role": "user", "content": "12345678"}], "tools": []});
        assert_eq!(estimate_tokens(&body, Api::OpenAi), 2); // (8 + 2) / 4
        assert_eq!(estimate_tokens(&json!("junk"), Api::OpenAi), 0);
    }
}
