//! OpenAI Chat Completions request body → OpenAI Responses request body: the reverse of
//! [`super::responses_request`], so Chat (and, through Chat, Anthropic) recordings replay
//! against a Responses endpoint.
//!
//! | Chat Completions                              | Responses                                        |
//! |-----------------------------------------------|--------------------------------------------------|
//! | `messages[]` system / developer / user        | `input[]` `message` items; text parts → `input_text`, `image_url` → `input_image` |
//! | assistant `content`                           | an assistant `message` item with `output_text`   |
//! | assistant `tool_calls[]`                      | one `function_call` item each (`call_id` = the call's id) |
//! | `{"role":"tool"}`                             | a `function_call_output` item                    |
//! | `tools[]` functions                           | `{type: "function", name, description, parameters, strict}` |
//! | `tool_choice` `{function: {name}}`            | `{type: "function", name}`                       |
//! | `max_completion_tokens`, else `max_tokens`    | `max_output_tokens`                              |
//! | `temperature`, `top_p`, `parallel_tool_calls`, `stream` | same names                             |
//! | `reasoning_effort`                            | `reasoning.effort`                               |
//! | `response_format`                             | `text.format`                                    |
//!
//! Always `store: false` (a replay must not leave stored responses behind). Not sent: an
//! assistant message's `reasoning_content` (a Responses server accepts only the reasoning
//! items it made itself), `stop` and `stream_options` (no Responses equivalent), `n`,
//! `seed`, `logprobs`, `user`.

use serde_json::{json, Map, Value};

use super::error::TranslateError;
use super::request::model;

/// Translates a `/v1/chat/completions` body into a `/v1/responses` body.
pub(crate) fn chat_to_responses_request(body: &Value, model_override: Option<&str>) -> Result<Value, TranslateError> {
    let body = body.as_object().ok_or_else(|| TranslateError::wrong_type("body", "a JSON object"))?;
    let messages = match body.get("messages") {
        Some(Value::Array(m)) => m,
        None | Some(Value::Null) => return Err(TranslateError::missing("messages")),
        Some(_) => return Err(TranslateError::wrong_type("messages", "an array")),
    };
    let mut input = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        message_items(m, &format!("messages[{i}]"), &mut input)?;
    }
    let mut out = Map::new();
    out.insert("model".into(), model(body, model_override)?.into());
    out.insert("input".into(), input.into());
    out.insert("store".into(), false.into());
    let max = body.get("max_completion_tokens").filter(|v| !v.is_null()).or(body.get("max_tokens"));
    if let Some(max) = max.filter(|v| !v.is_null()) {
        out.insert("max_output_tokens".into(), max.clone());
    }
    for key in ["temperature", "top_p", "stream"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(effort) = body.get("reasoning_effort").filter(|v| v.is_string()) {
        out.insert("reasoning".into(), json!({"effort": effort}));
    }
    if let Some(format) = body.get("response_format").filter(|f| f.is_object()) {
        let format = match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let mut f = format.get("json_schema").and_then(Value::as_object).cloned().unwrap_or_default();
                f.insert("type".into(), "json_schema".into());
                Value::Object(f)
            }
            _ => format.clone(),
        };
        out.insert("text".into(), json!({"format": format}));
    }
    tools(body, &mut out)?;
    Ok(Value::Object(out))
}

fn message_items(m: &Value, at: &str, input: &mut Vec<Value>) -> Result<(), TranslateError> {
    let role = m.get("role").and_then(Value::as_str).ok_or_else(|| TranslateError::missing(format!("{at}.role")))?;
    let content = m.get("content").filter(|c| !c.is_null());
    match role {
        "system" | "developer" | "user" => {
            let content = parts(content, "input_text", &format!("{at}.content"))?;
            input.push(json!({"type": "message", "role": role, "content": content}));
        }
        "assistant" => {
            let text = parts(content, "output_text", &format!("{at}.content"))?;
            if text.as_array().is_some_and(|p| !p.is_empty()) {
                input.push(json!({"type": "message", "role": "assistant", "content": text}));
            }
            let calls = m.get("tool_calls").and_then(Value::as_array).into_iter().flatten();
            for (j, call) in calls.enumerate() {
                let at = format!("{at}.tool_calls[{j}]");
                let id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TranslateError::missing(format!("{at}.id")))?;
                let f = call.get("function").ok_or_else(|| TranslateError::missing(format!("{at}.function")))?;
                let name = f
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TranslateError::missing(format!("{at}.function.name")))?;
                let arguments = match f.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => "{}".into(),
                    Some(other) => other.to_string(),
                };
                input.push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}));
            }
        }
        "tool" | "function" => {
            let id = m
                .get("tool_call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| TranslateError::missing(format!("{at}.tool_call_id")))?;
            let output = match content {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(ps)) => ps.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
                _ => String::new(),
            };
            input.push(json!({"type": "function_call_output", "call_id": id, "output": output}));
        }
        other => return Err(TranslateError::invalid(format!("{at}.role"), format!("unknown role {other:?}"))),
    }
    Ok(())
}

/// A Chat content (string or parts) as Responses content parts, text as `text_type`.
fn parts(content: Option<&Value>, text_type: &str, at: &str) -> Result<Value, TranslateError> {
    let mut out = Vec::new();
    match content {
        None => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) => out.push(json!({"type": text_type, "text": s})),
        Some(Value::Array(ps)) => {
            for (j, p) in ps.iter().enumerate() {
                let s = |k: &str| p.get(k).and_then(Value::as_str);
                match s("type") {
                    Some("text") => out.push(json!({"type": text_type, "text": s("text").unwrap_or_default()})),
                    Some("refusal") => out.push(json!({"type": text_type, "text": s("refusal").unwrap_or_default()})),
                    Some("image_url") => {
                        let url = p.pointer("/image_url/url").and_then(Value::as_str).or_else(|| s("image_url"));
                        let url = url.ok_or_else(|| TranslateError::missing(format!("{at}[{j}].image_url.url")))?;
                        out.push(json!({"type": "input_image", "image_url": url}));
                    }
                    other => {
                        return Err(TranslateError::invalid(
                            format!("{at}[{j}].type"),
                            format!("{other:?} has no Responses equivalent"),
                        ))
                    }
                }
            }
        }
        Some(_) => return Err(TranslateError::wrong_type(at, "a string or an array of parts")),
    }
    Ok(Value::Array(out))
}

fn tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let Some(tools) = body.get("tools").and_then(Value::as_array) else { return Ok(()) };
    let mut items = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let f = t.get("function").ok_or_else(|| TranslateError::missing(format!("tools[{i}].function")))?;
        let mut tool = Map::new();
        tool.insert("type".into(), "function".into());
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| TranslateError::missing(format!("tools[{i}].function.name")))?;
        tool.insert("name".into(), name.into());
        for key in ["description", "parameters", "strict"] {
            if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
                tool.insert(key.into(), v.clone());
            }
        }
        items.push(Value::Object(tool));
    }
    if items.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), items.into());
    match body.get("tool_choice") {
        Some(c @ Value::String(_)) => {
            out.insert("tool_choice".into(), c.clone());
        }
        Some(Value::Object(o)) => {
            if let Some(name) = o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str) {
                out.insert("tool_choice".into(), json!({"type": "function", "name": name}));
            }
        }
        _ => {}
    }
    if let Some(p) = body.get("parallel_tool_calls").filter(|p| p.is_boolean()) {
        out.insert("parallel_tool_calls".into(), p.clone());
    }
    Ok(())
}
