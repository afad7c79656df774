//! OpenAI Responses request body → OpenAI Chat Completions request body, so a Responses
//! client (Codex CLI) runs against a server that has only Chat Completions (llama.cpp,
//! most OpenAI-compatible servers), and a Responses recording replays against one.
//!
//! | Responses                                   | Chat Completions                                   |
//! |---------------------------------------------|----------------------------------------------------|
//! | `model`                                     | `model`, unless the proxy overrides it             |
//! | `instructions`                              | leading `{"role":"system"}` message                |
//! | `input` string                              | one user message                                   |
//! | `input[]` `message` (role, text / parts)    | a message; `input_text`/`output_text` → text parts, `input_image` → `image_url` |
//! | `input[]` `function_call`                   | a `tool_calls[]` entry of an assistant message (consecutive calls share one) |
//! | `input[]` `custom_tool_call`                | the same, its `input` as arguments `{"input": …}`   |
//! | `input[]` `function_call_output` / `custom_tool_call_output` | a `{"role":"tool"}` message        |
//! | `input[]` `reasoning`                       | `reasoning_content` of the next assistant message (llama.cpp and DeepSeek read it) |
//! | `tools[]` `function`                        | `{type: "function", function: {name, description, parameters, strict}}` |
//! | `tools[]` `custom` (free-form input)        | a function with one string parameter `input`       |
//! | `tool_choice`                               | same words; `{type: "function", name}` → `{type: "function", function: {name}}` |
//! | `max_output_tokens`                         | `max_tokens`                                       |
//! | `temperature`, `top_p`, `parallel_tool_calls` | same names                                       |
//! | `reasoning.effort`                          | `reasoning_effort`                                 |
//! | `text.format` `json_schema` / `json_object` | `response_format`                                  |
//! | `stream`                                    | `stream`; when true also `stream_options: {include_usage: true}` |
//!
//! Deliberately not forwarded: hosted tools (`web_search`, `file_search`, `local_shell`,
//! `image_generation`, `code_interpreter`, `mcp`: a `type` other than `function` /
//! `custom`) run on OpenAI's side, so a Chat server cannot run them (with no tool left,
//! `tool_choice` and `parallel_tool_calls` go too); `store`, `include`, `metadata`,
//! `prompt_cache_key`, `text.verbosity`, `reasoning.summary`, `service_tier`: Responses
//! bookkeeping a Chat server has no use for. Refused with the field's path:
//! `previous_response_id` (the history lives on the Responses server, which a Chat server
//! is not) and input items with no Chat equivalent (`item_reference`, hosted tools' calls).

use serde_json::{json, Map, Value};

use super::error::TranslateError;
use super::request::model;

/// The name of a custom tool's one parameter in its Chat Completions form.
pub(crate) const CUSTOM_INPUT: &str = "input";

/// Translates a `/v1/responses` body into a `/v1/chat/completions` body.
/// `model_override` replaces the client's `model` (the proxy's `-m`).
pub(crate) fn responses_to_chat_request(body: &Value, model_override: Option<&str>) -> Result<Value, TranslateError> {
    let body = body.as_object().ok_or_else(|| TranslateError::wrong_type("body", "a JSON object"))?;
    if body.get("previous_response_id").is_some_and(|v| !v.is_null()) {
        return Err(TranslateError::invalid(
            "previous_response_id",
            "the earlier turns live on a Responses server; a Chat Completions server needs the whole \
             conversation in `input` (send `store: false` and the full input)",
        ));
    }
    let mut out = Map::new();
    out.insert("model".into(), model(body, model_override)?.into());
    out.insert("messages".into(), messages(body)?.into());
    for (from, to) in [("max_output_tokens", "max_tokens"), ("temperature", "temperature"), ("top_p", "top_p")] {
        if let Some(v) = body.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    if let Some(effort) = body.get("reasoning").and_then(|r| r.get("effort")).filter(|v| v.is_string()) {
        out.insert("reasoning_effort".into(), effort.clone());
    }
    if let Some(format) = response_format(body)? {
        out.insert("response_format".into(), format);
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    tools(body, &mut out)?;
    Ok(Value::Object(out))
}

/// The names of the request's `custom` tools: their calls come back as `custom_tool_call`
/// items (see [`super::responses_response`]).
pub(crate) fn custom_tool_names(body: &Value) -> Vec<String> {
    let tools = body.get("tools").and_then(Value::as_array).into_iter().flatten();
    tools
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("custom"))
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn messages(body: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::new();
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) => out.push(json!({"role": "system", "content": s})),
        Some(_) => return Err(TranslateError::wrong_type("instructions", "a string")),
    }
    match body.get("input") {
        None | Some(Value::Null) => return Err(TranslateError::missing("input")),
        Some(Value::String(s)) => out.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            let mut pending_reasoning = String::new();
            for (i, item) in items.iter().enumerate() {
                input_item(item, &format!("input[{i}]"), &mut out, &mut pending_reasoning)?;
            }
        }
        Some(_) => return Err(TranslateError::wrong_type("input", "a string or an array of items")),
    }
    Ok(out)
}

/// One input item appended to the Chat conversation.
fn input_item(item: &Value, at: &str, out: &mut Vec<Value>, reasoning: &mut String) -> Result<(), TranslateError> {
    let obj = item.as_object().ok_or_else(|| TranslateError::wrong_type(at, "an object"))?;
    let kind = match obj.get("type") {
        None | Some(Value::Null) if obj.contains_key("role") => "message",
        Some(Value::String(t)) => t.as_str(),
        _ => return Err(TranslateError::missing(format!("{at}.type"))),
    };
    let str_at = |key: &str| -> Result<&str, TranslateError> {
        match obj.get(key) {
            Some(Value::String(s)) => Ok(s),
            None | Some(Value::Null) => Err(TranslateError::missing(format!("{at}.{key}"))),
            Some(_) => Err(TranslateError::wrong_type(format!("{at}.{key}"), "a string")),
        }
    };
    match kind {
        "message" => {
            let role = match str_at("role")? {
                r @ ("user" | "system" | "developer" | "assistant") => r,
                other => return Err(TranslateError::invalid(format!("{at}.role"), format!("unknown role {other:?}"))),
            };
            let content = message_content(obj.get("content"), &format!("{at}.content"))?;
            let mut message = json!({"role": role, "content": content});
            if role == "assistant" && !reasoning.is_empty() {
                message["reasoning_content"] = std::mem::take(reasoning).into();
            }
            out.push(message);
        }
        "function_call" | "custom_tool_call" => {
            let arguments = if kind == "function_call" {
                match obj.get("arguments") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => "{}".into(),
                    Some(other) => other.to_string(),
                }
            } else {
                json!({ CUSTOM_INPUT: str_at("input")? }).to_string()
            };
            let call = json!({"id": str_at("call_id")?, "type": "function",
                "function": {"name": str_at("name")?, "arguments": arguments}});
            // Calls of one turn share the assistant message just before them.
            match out.last_mut().filter(|m| m["role"] == "assistant") {
                Some(last) => match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    Some(calls) => calls.push(call),
                    None => last["tool_calls"] = json!([call]),
                },
                None => {
                    let mut message = json!({"role": "assistant", "content": null, "tool_calls": [call]});
                    if !reasoning.is_empty() {
                        message["reasoning_content"] = std::mem::take(reasoning).into();
                    }
                    out.push(message);
                }
            }
        }
        "function_call_output" | "custom_tool_call_output" => {
            let content = match obj.get("output") {
                Some(Value::String(s)) => Value::String(s.clone()),
                Some(Value::Array(_)) => message_content(obj.get("output"), &format!("{at}.output"))?,
                None | Some(Value::Null) => Value::String(String::new()),
                Some(other) => Value::String(other.to_string()),
            };
            out.push(json!({"role": "tool", "tool_call_id": str_at("call_id")?, "content": content}));
        }
        "reasoning" => reasoning.push_str(&crate::wire::responses::reasoning_text(item)),
        other => {
            return Err(TranslateError::invalid(
                format!("{at}.type"),
                format!("a {other:?} item has no Chat Completions equivalent"),
            ))
        }
    }
    Ok(())
}

/// A message's content: a string stays one; parts become Chat content parts (text parts
/// alone join into a string, as every Chat server reads).
fn message_content(content: Option<&Value>, at: &str) -> Result<Value, TranslateError> {
    let parts = match content {
        None | Some(Value::Null) => return Ok(Value::String(String::new())),
        Some(Value::String(s)) => return Ok(Value::String(s.clone())),
        Some(Value::Array(parts)) => parts,
        Some(_) => return Err(TranslateError::wrong_type(at, "a string or an array of parts")),
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{at}[{j}]");
        let s = |k: &str| part.get(k).and_then(Value::as_str);
        match s("type") {
            Some("input_text" | "output_text" | "text") => {
                let text = s("text").ok_or_else(|| TranslateError::missing(format!("{at}.text")))?;
                out.push(json!({"type": "text", "text": text}));
            }
            Some("refusal") => out.push(json!({"type": "text", "text": s("refusal").unwrap_or_default()})),
            Some("input_image") => {
                let url = s("image_url").ok_or_else(|| {
                    TranslateError::invalid(format!("{at}.image_url"), "only images given by URL translate")
                })?;
                let mut image = json!({"url": url});
                if let Some(detail) = s("detail") {
                    image["detail"] = detail.into();
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            Some(other) => {
                return Err(TranslateError::invalid(
                    format!("{at}.type"),
                    format!("a {other:?} part has no Chat Completions equivalent"),
                ))
            }
            None => return Err(TranslateError::missing(format!("{at}.type"))),
        }
    }
    if out.iter().all(|p| p["type"] == "text") {
        let text: String = out.iter().filter_map(|p| p["text"].as_str()).collect();
        return Ok(Value::String(text));
    }
    Ok(Value::Array(out))
}

fn response_format(body: &Map<String, Value>) -> Result<Option<Value>, TranslateError> {
    let Some(format) = body.get("text").and_then(|t| t.get("format")).filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") | None => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        Some(other) => {
            Err(TranslateError::invalid("text.format.type", format!("{other:?} has no Chat Completions equivalent")))
        }
    }
}

fn tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let tools = match body.get("tools") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(t)) => t,
        Some(_) => return Err(TranslateError::wrong_type("tools", "an array")),
    };
    let mut chat = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        let name =
            || tool.get("name").and_then(Value::as_str).ok_or_else(|| TranslateError::missing(format!("{at}.name")));
        let mut function = Map::new();
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => {
                function.insert("name".into(), name()?.into());
                let parameters = tool.get("parameters").filter(|p| !p.is_null());
                function.insert("parameters".into(), parameters.cloned().unwrap_or_else(|| json!({"type": "object"})));
                if let Some(strict) = tool.get("strict").filter(|s| s.is_boolean()) {
                    function.insert("strict".into(), strict.clone());
                }
            }
            Some("custom") => {
                function.insert("name".into(), name()?.into());
                function.insert(
                    "parameters".into(),
                    json!({"type": "object", "properties": {CUSTOM_INPUT: {"type": "string",
                        "description": "The tool's whole input, as free text"}}, "required": [CUSTOM_INPUT]}),
                );
            }
            // Hosted tools: see the module doc.
            Some(_) => continue,
            None => return Err(TranslateError::missing(format!("{at}.type"))),
        }
        if let Some(d) = tool.get("description").filter(|d| d.is_string()) {
            function.insert("description".into(), d.clone());
        }
        chat.push(json!({"type": "function", "function": function}));
    }
    if chat.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), chat.into());
    if let Some(choice) = body.get("tool_choice").filter(|c| !c.is_null()) {
        let choice = match choice {
            Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => Some(choice.clone()),
            Value::Object(o) if matches!(o.get("type").and_then(Value::as_str), Some("function" | "custom")) => {
                let name =
                    o.get("name").and_then(Value::as_str).ok_or_else(|| TranslateError::missing("tool_choice.name"))?;
                Some(json!({"type": "function", "function": {"name": name}}))
            }
            _ => None,
        };
        if let Some(c) = choice {
            out.insert("tool_choice".into(), c);
        }
    }
    if let Some(p) = body.get("parallel_tool_calls").filter(|p| p.is_boolean()) {
        out.insert("parallel_tool_calls".into(), p.clone());
    }
    Ok(())
}
