//! Anthropic Messages request body → OpenAI Chat Completions request body.
//!
//! Top-level fields (message contents are [`super::messages`]' job):
//!
//! | Anthropic                         | OpenAI                                              |
//! |-----------------------------------|-----------------------------------------------------|
//! | `model`                           | `model`, unless the proxy overrides it              |
//! | `system`                          | leading `{"role":"system"}` message                 |
//! | `max_tokens`                      | `max_tokens`, copied exactly (no cap, no default)   |
//! | `temperature`, `top_p`, `top_k`   | same names (vLLM and llama.cpp accept `top_k`)      |
//! | `stop_sequences`                  | `stop`                                              |
//! | `stream`                          | `stream`; when true also `stream_options: {include_usage: true}` |
//! | `tools[]` with `input_schema`     | `{type: "function", function: {name, description, parameters}}` |
//! | `tool_choice` auto / any / tool / none | `"auto"` / `"required"` / `{type: "function", function: {name}}` / `"none"` |
//! | `tool_choice.disable_parallel_tool_use: true` | `parallel_tool_calls: false`            |
//!
//! Deliberately not forwarded:
//!
//! * Server tools (`web_search_20250305`, `bash_20250124`, … : a `type` and no
//!   `input_schema`) run on Anthropic's side; an OpenAI server cannot run them. When no
//!   tool is left, `tool_choice` and `parallel_tool_calls` go too (servers reject a
//!   `tool_choice` without `tools`).
//! * `thinking` (enabled / adaptive) has no standard Chat Completions field; reasoning
//!   models on vLLM and llama.cpp think according to their chat template anyway.
//! * `metadata.user_id`: Claude Code puts an account and session id there; the OpenAI
//!   `user` field is deprecated and local servers ignore it, so it is not sent on.
//! * Any other top-level field (`context_management`, `output_config`, `service_tier`,
//!   `container`, `mcp_servers`, …): Anthropic-only features.
//! * An unknown `tool_choice.type` is left out, i.e. the server default (`auto`).

use serde_json::{json, Map, Value};

use super::error::TranslateError;
use super::messages::{non_empty_str, present, system_message, translate_messages};

/// Sampling fields copied under the same name when present and not `null`.
const SAME_NAME_FIELDS: [&str; 4] = ["max_tokens", "temperature", "top_p", "top_k"];

/// Translates an Anthropic `/v1/messages` body into a `/v1/chat/completions` body.
/// `model_override` replaces the client's `model` (the proxy's `-m`).
pub(crate) fn anthropic_to_openai_request(body: &Value, model_override: Option<&str>) -> Result<Value, TranslateError> {
    let body = body.as_object().ok_or_else(|| TranslateError::wrong_type("body", "a JSON object"))?;
    let mut out = Map::new();
    out.insert("model".into(), model(body, model_override)?.into());
    out.insert("messages".into(), chat_messages(body)?.into());
    copy_sampling(body, &mut out);
    copy_stream(body, &mut out);
    translate_tools(body, &mut out)?;
    Ok(Value::Object(out))
}

/// `model_override`, else the body's non-empty `model` (both directions use this).
pub(super) fn model(body: &Map<String, Value>, model_override: Option<&str>) -> Result<String, TranslateError> {
    model_override
        .or_else(|| non_empty_str(body, "model"))
        .map(str::to_owned)
        .ok_or_else(|| TranslateError::missing("model"))
}

/// The system prompt first, then the conversation.
fn chat_messages(body: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
    let mut messages = Vec::new();
    if let Some(system) = present(body, "system") {
        messages.extend(system_message(system, "system")?);
    }
    let conversation = present(body, "messages").ok_or_else(|| TranslateError::missing("messages"))?;
    translate_messages(conversation, &mut messages)?;
    Ok(messages)
}

fn copy_sampling(body: &Map<String, Value>, out: &mut Map<String, Value>) {
    for field in SAME_NAME_FIELDS {
        if let Some(value) = present(body, field) {
            out.insert(field.into(), value.clone());
        }
    }
    if let Some(stop) = present(body, "stop_sequences") {
        out.insert("stop".into(), stop.clone());
    }
}

/// `stream` as is; a streamed request also asks for the final usage chunk, without which
/// the Anthropic `message_delta` could only estimate `output_tokens`.
fn copy_stream(body: &Map<String, Value>, out: &mut Map<String, Value>) {
    let Some(stream) = present(body, "stream") else {
        return;
    };
    out.insert("stream".into(), stream.clone());
    if stream == &Value::Bool(true) {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
}

fn translate_tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let Some(tools) = present(body, "tools") else {
        return Ok(());
    };
    let tools = tools.as_array().ok_or_else(|| TranslateError::wrong_type("tools", "an array"))?;
    let mut functions = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        functions.extend(function_tool(&format!("tools[{i}]"), tool)?);
    }
    if functions.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), functions.into());
    if let Some(choice) = present(body, "tool_choice") {
        translate_tool_choice(choice, out)?;
    }
    Ok(())
}

/// A client tool as an OpenAI function tool; `None` for a server tool.
fn function_tool(at: &str, tool: &Value) -> Result<Option<Value>, TranslateError> {
    let tool = tool.as_object().ok_or_else(|| TranslateError::wrong_type(at, "an object"))?;
    let Some(schema) = present(tool, "input_schema") else {
        return Ok(None);
    };
    let name = non_empty_str(tool, "name").ok_or_else(|| TranslateError::missing(format!("{at}.name")))?;
    let mut function = Map::new();
    function.insert("name".into(), name.into());
    if let Some(description) = present(tool, "description") {
        function.insert("description".into(), description.clone());
    }
    function.insert("parameters".into(), schema.clone());
    Ok(Some(json!({"type": "function", "function": function})))
}

fn translate_tool_choice(choice: &Value, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let openai = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            let name = choice
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| TranslateError::missing("tool_choice.name"))?;
            json!({"type": "function", "function": {"name": name}})
        }
        _ => return Ok(()),
    };
    out.insert("tool_choice".into(), openai);
    if choice.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
        out.insert("parallel_tool_calls".into(), false.into());
    }
    Ok(())
}
