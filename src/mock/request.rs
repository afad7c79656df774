//! Reads an OpenAI Chat Completions or Anthropic Messages request body into the one
//! provider-neutral [`GenRequest`] the mock plans its answer from.
//!
//! Validation is strict about what the provider requires (a missing `model`, a mistyped
//! `max_tokens`) and tolerant of everything else: unknown fields and block types are kept
//! in the prompt text, never rejected, so real agents' newest fields pass.
//!
//! The prompt is *rendered* to text before counting: tools (as compact JSON), then system,
//! then each message as `<|role|>` and its content. Same rule for counting and for the
//! prefix cache, so `count_tokens` equals the usage the answer reports.

use serde_json::{Map, Value};

use crate::wire::errors::{type_name, ApiError};

/// What the caller allows about tool use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    /// Some tool must be called (OpenAI `required`, Anthropic `any`).
    Any,
    /// This tool must be called.
    Named(String),
}

#[derive(Debug, Clone)]
pub(crate) struct ToolSpec {
    pub name: String,
    /// JSON schema of the arguments (`{}` when the tool declares none).
    pub schema: Value,
}

/// A request reduced to what the mock needs to plan, time and encode its answer.
#[derive(Debug, Clone)]
pub(crate) struct GenRequest {
    pub model: String,
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// vLLM's `stream_options.continuous_usage_stats`: usage on every chunk.
    pub continuous_usage: bool,
    /// Requested output cap (OpenAI falls back to the mock's default).
    pub max_tokens: usize,
    pub stop: Vec<String>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    /// The caller asked for reasoning (Anthropic `thinking`, OpenAI `reasoning_effort`).
    pub thinking: bool,
    /// The rendered prompt the token counts and cache keys come from.
    pub prompt: String,
}

/// Parses a body as JSON, naming the position of a syntax error.
pub(crate) fn parse_json(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::new(400, format!("request body must be a JSON object, got {}", type_name(&other)))),
        Err(e) => Err(ApiError::new(400, format!("request body is not valid JSON: {e}"))),
    }
}

/// An OpenAI `POST /v1/chat/completions` body.
pub(crate) fn openai(body: &Map<String, Value>, default_max_tokens: usize) -> Result<GenRequest, ApiError> {
    let model = required_str(body, "model")?;
    let messages = required_array(body, "messages")?;
    if messages.is_empty() {
        return Err(ApiError::invalid("messages", "at least one message is required"));
    }
    let mut prompt = String::new();
    let tools = openai_tools(body, &mut prompt)?;
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let m = m.as_object().ok_or_else(|| expected(&at, "an object", m))?;
        let role = required_str_at(m, "role", &at)?;
        if !matches!(role, "system" | "developer" | "user" | "assistant" | "tool" | "function") {
            return Err(ApiError::invalid(
                format!("{at}.role"),
                format!("unknown role {role:?} (expected system, developer, user, assistant or tool)"),
            ));
        }
        render_role(&mut prompt, role);
        match m.get("content") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => prompt.push_str(s),
            Some(Value::Array(parts)) => {
                for (j, p) in parts.iter().enumerate() {
                    render_openai_part(&mut prompt, p, &format!("{at}.content[{j}]"))?;
                }
            }
            Some(other) => return Err(expected(&format!("{at}.content"), "a string or an array of parts", other)),
        }
        if let Some(calls) = m.get("tool_calls") {
            let calls = calls.as_array().ok_or_else(|| expected(&format!("{at}.tool_calls"), "an array", calls))?;
            for c in calls {
                prompt.push_str(&compact(c.get("function").unwrap_or(c)));
            }
        }
        prompt.push('\n');
    }

    let stream = optional_bool(body, "stream")?.unwrap_or(false);
    let opts = match body.get("stream_options") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o),
        Some(other) => return Err(expected("stream_options", "an object", other)),
    };
    let flag = |k: &str| opts.and_then(|o| o.get(k)).and_then(Value::as_bool).unwrap_or(false);
    let max_tokens = match optional_count(body, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => optional_count(body, "max_tokens")?,
    };
    optional_number(body, "temperature")?;
    optional_number(body, "top_p")?;
    let stop = match body.get("stop") {
        None | Some(Value::Null) => vec![],
        Some(one @ Value::String(_)) => stop_sequences(std::slice::from_ref(one), "stop")?,
        Some(Value::Array(a)) => stop_sequences(a, "stop")?,
        Some(other) => return Err(expected("stop", "a string or an array of strings", other)),
    };
    let tool_choice = match body.get("tool_choice") {
        None | Some(Value::Null) => ToolChoice::Auto,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Any,
            other => return Err(ApiError::invalid("tool_choice", format!("unknown value {other:?}"))),
        },
        Some(Value::Object(o)) => match o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str) {
            Some(name) => ToolChoice::Named(name.to_string()),
            None => return Err(ApiError::invalid("tool_choice.function.name", "required")),
        },
        Some(other) => return Err(expected("tool_choice", "a string or an object", other)),
    };
    let thinking = matches!(body.get("reasoning_effort"), Some(Value::String(e)) if e != "none");
    Ok(GenRequest {
        model: model.to_string(),
        stream,
        include_usage: flag("include_usage"),
        continuous_usage: flag("continuous_usage_stats"),
        max_tokens: max_tokens.unwrap_or(default_max_tokens),
        stop,
        tools,
        tool_choice,
        thinking,
        prompt,
    })
}

/// An Anthropic `POST /v1/messages` body (`for_count`: a count_tokens body, no `max_tokens`).
pub(crate) fn anthropic(body: &Map<String, Value>, for_count: bool) -> Result<GenRequest, ApiError> {
    let model = required_str(body, "model")?;
    let max_tokens = if for_count {
        0
    } else {
        optional_count(body, "max_tokens")?.ok_or_else(|| ApiError::invalid("max_tokens", "Field required"))?
    };
    let messages = required_array(body, "messages")?;
    let mut prompt = String::new();
    let tools = anthropic_tools(body, &mut prompt)?;
    match body.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            render_role(&mut prompt, "system");
            prompt.push_str(s);
            prompt.push('\n');
        }
        Some(Value::Array(blocks)) => {
            render_role(&mut prompt, "system");
            for (j, b) in blocks.iter().enumerate() {
                render_anthropic_block(&mut prompt, b, &format!("system[{j}]"))?;
            }
            prompt.push('\n');
        }
        Some(other) => return Err(expected("system", "a string or an array of text blocks", other)),
    }
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let m = m.as_object().ok_or_else(|| expected(&at, "an object", m))?;
        let role = required_str_at(m, "role", &at)?;
        // Claude Code sends mid-conversation "system" messages; llama.cpp and vLLM accept them.
        if !matches!(role, "user" | "assistant" | "system") {
            return Err(ApiError::invalid(
                format!("{at}.role"),
                format!("unknown role {role:?} (expected user or assistant)"),
            ));
        }
        render_role(&mut prompt, role);
        match m.get("content") {
            Some(Value::String(s)) => prompt.push_str(s),
            Some(Value::Array(blocks)) => {
                for (j, b) in blocks.iter().enumerate() {
                    render_anthropic_block(&mut prompt, b, &format!("{at}.content[{j}]"))?;
                }
            }
            None => return Err(ApiError::invalid(format!("{at}.content"), "Field required")),
            Some(other) => {
                return Err(expected(&format!("{at}.content"), "a string or an array of content blocks", other))
            }
        }
        prompt.push('\n');
    }
    if messages.is_empty() && !for_count {
        return Err(ApiError::invalid("messages", "at least one message is required"));
    }
    let stream = optional_bool(body, "stream")?.unwrap_or(false);
    optional_number(body, "temperature")?;
    optional_number(body, "top_p")?;
    let stop = match body.get("stop_sequences") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => stop_sequences(a, "stop_sequences")?,
        Some(other) => return Err(expected("stop_sequences", "an array of strings", other)),
    };
    let tool_choice = match body.get("tool_choice") {
        None | Some(Value::Null) => ToolChoice::Auto,
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("auto") => ToolChoice::Auto,
            Some("none") => ToolChoice::None,
            Some("any") => ToolChoice::Any,
            Some("tool") => match o.get("name").and_then(Value::as_str) {
                Some(name) => ToolChoice::Named(name.to_string()),
                None => return Err(ApiError::invalid("tool_choice.name", "Field required")),
            },
            _ => return Err(ApiError::invalid("tool_choice.type", "expected auto, any, tool or none")),
        },
        Some(other) => return Err(expected("tool_choice", "an object", other)),
    };
    let thinking = match body.get("thinking") {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => !matches!(o.get("type").and_then(Value::as_str), Some("disabled") | None),
        Some(other) => return Err(expected("thinking", "an object", other)),
    };
    Ok(GenRequest {
        model: model.to_string(),
        stream,
        include_usage: true,
        continuous_usage: false,
        max_tokens,
        stop,
        tools,
        tool_choice,
        thinking,
        prompt,
    })
}

fn render_role(prompt: &mut String, role: &str) {
    prompt.push_str("<|");
    prompt.push_str(role);
    prompt.push_str("|>\n");
}

fn render_openai_part(prompt: &mut String, part: &Value, at: &str) -> Result<(), ApiError> {
    let obj = part.as_object().ok_or_else(|| expected(at, "an object", part))?;
    match obj.get("type").and_then(Value::as_str) {
        Some("text") => prompt.push_str(obj.get("text").and_then(Value::as_str).unwrap_or_default()),
        Some("image_url" | "input_image") => prompt.push_str("<image>"),
        Some(_) => prompt.push_str(&compact(part)),
        None => return Err(ApiError::invalid(format!("{at}.type"), "Field required")),
    }
    Ok(())
}

/// Renders one Anthropic content block. Only what the model would see counts: text,
/// tool calls and results; `cache_control` and other annotations are not prompt text.
fn render_anthropic_block(prompt: &mut String, block: &Value, at: &str) -> Result<(), ApiError> {
    let obj = block.as_object().ok_or_else(|| expected(at, "an object", block))?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
    match obj.get("type").and_then(Value::as_str) {
        Some("text") => prompt.push_str(text("text")),
        Some("thinking") => prompt.push_str(text("thinking")),
        Some("redacted_thinking") => {}
        Some("image" | "document") => prompt.push_str("<image>"),
        Some("tool_use" | "server_tool_use") => {
            prompt.push_str("<tool_use ");
            prompt.push_str(text("name"));
            prompt.push('>');
            prompt.push_str(&compact(obj.get("input").unwrap_or(&Value::Null)));
        }
        Some("tool_result") => {
            prompt.push_str("<tool_result>");
            match obj.get("content") {
                Some(Value::String(s)) => prompt.push_str(s),
                Some(Value::Array(inner)) => {
                    for (k, b) in inner.iter().enumerate() {
                        render_anthropic_block(prompt, b, &format!("{at}.content[{k}]"))?;
                    }
                }
                _ => {}
            }
        }
        Some(_) => prompt.push_str(&compact(block)),
        None => return Err(ApiError::invalid(format!("{at}.type"), "Field required")),
    }
    Ok(())
}

fn openai_tools(body: &Map<String, Value>, prompt: &mut String) -> Result<Vec<ToolSpec>, ApiError> {
    let Some(tools) = body.get("tools").filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let list = tools.as_array().ok_or_else(|| expected("tools", "an array", tools))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let f = t.get("function").and_then(Value::as_object);
        let name = f.and_then(|f| f.get("name")).and_then(Value::as_str);
        let Some(name) = name else {
            return Err(ApiError::invalid(format!("tools[{i}].function.name"), "Field required"));
        };
        let schema = f.and_then(|f| f.get("parameters")).cloned().unwrap_or_else(|| Value::Object(Map::new()));
        out.push(ToolSpec { name: name.to_string(), schema });
    }
    render_tools(prompt, tools);
    Ok(out)
}

fn anthropic_tools(body: &Map<String, Value>, prompt: &mut String) -> Result<Vec<ToolSpec>, ApiError> {
    let Some(tools) = body.get("tools").filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let list = tools.as_array().ok_or_else(|| expected("tools", "an array", tools))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            return Err(ApiError::invalid(format!("tools[{i}].name"), "Field required"));
        };
        let schema = t.get("input_schema").cloned().unwrap_or_else(|| Value::Object(Map::new()));
        out.push(ToolSpec { name: name.to_string(), schema });
    }
    render_tools(prompt, tools);
    Ok(out)
}

fn render_tools(prompt: &mut String, tools: &Value) {
    prompt.push_str("<|tools|>\n");
    prompt.push_str(&compact(tools));
    prompt.push('\n');
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn expected(at: &str, what: &str, got: &Value) -> ApiError {
    ApiError::invalid(at, format!("expected {what}, got {}", type_name(got)))
}

fn required_str<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    required_str_at(body, key, "")
}

fn required_str_at<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, ApiError> {
    let path = if at.is_empty() { key.to_string() } else { format!("{at}.{key}") };
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(ApiError::invalid(path, "Field required")),
        Some(other) => Err(expected(&path, "a string", other)),
    }
}

fn required_array<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a Vec<Value>, ApiError> {
    match body.get(key) {
        Some(Value::Array(a)) => Ok(a),
        None | Some(Value::Null) => Err(ApiError::invalid(key, "Field required")),
        Some(other) => Err(expected(key, "an array", other)),
    }
}

fn optional_bool(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(expected(key, "a boolean", other)),
    }
}

fn optional_number(body: &Map<String, Value>, key: &str) -> Result<Option<f64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(expected(key, "a number", other)),
    }
}

/// A token count: a positive integer.
fn optional_count(body: &Map<String, Value>, key: &str) -> Result<Option<usize>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v >= 1 => Ok(Some(usize::try_from(v).unwrap_or(usize::MAX))),
            _ => Err(ApiError::invalid(key, format!("expected an integer of at least 1, got {n}"))),
        },
        Some(other) => Err(expected(key, "an integer", other)),
    }
}

/// The most stop sequences a request may give (OpenAI takes 4).
const MAX_STOP_SEQUENCES: usize = 16;
/// The longest stop sequence, in bytes.
const MAX_STOP_BYTES: usize = 256;

/// Stop sequences, bounded so that looking for them stays cheap (see `answer::plan`).
fn stop_sequences(a: &[Value], key: &str) -> Result<Vec<String>, ApiError> {
    if a.len() > MAX_STOP_SEQUENCES {
        let why = format!("at most {MAX_STOP_SEQUENCES} stop sequences (asb mock's limit), got {}", a.len());
        return Err(ApiError::invalid(key, why));
    }
    let all = strings(a, key)?;
    if let Some((i, long)) = all.iter().enumerate().find(|(_, s)| s.len() > MAX_STOP_BYTES) {
        let why = format!("{} bytes; asb mock takes stop sequences of at most {MAX_STOP_BYTES}", long.len());
        return Err(ApiError::invalid(format!("{key}[{i}]"), why));
    }
    Ok(all)
}

fn strings(a: &[Value], key: &str) -> Result<Vec<String>, ApiError> {
    a.iter()
        .enumerate()
        .map(|(i, v)| v.as_str().map(str::to_string).ok_or_else(|| expected(&format!("{key}[{i}]"), "a string", v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn openai_minimal_and_defaults() {
        let r = openai(&obj(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})), 77).unwrap();
        assert_eq!(r.max_tokens, 77);
        assert!(!r.stream && !r.include_usage);
        assert_eq!(r.prompt, "<|user|>\nhi\n");
    }

    #[test]
    fn stop_sequences_are_bounded() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1});
        let with = |stop: Value| {
            let mut body = obj(base.clone());
            body.insert("stop".into(), stop);
            openai(&body, 1)
        };
        assert_eq!(with(json!("end")).unwrap().stop, vec!["end".to_string()]);
        let e = with(json!(vec!["s"; 17])).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.starts_with("stop: at most 16 stop sequences"), "{}", e.message);
        let e = with(json!(["ok", "x".repeat(257)])).unwrap_err();
        assert!(e.message.starts_with("stop[1]: 257 bytes"), "{}", e.message);
        let mut body = obj(base.clone());
        body.insert("stop_sequences".into(), json!(vec!["s"; 17]));
        assert!(anthropic(&body, false).unwrap_err().message.starts_with("stop_sequences: at most 16"));
    }

    #[test]
    fn errors_name_the_field() {
        let e = openai(&obj(json!({"model": "m", "messages": [{"content": "hi"}]})), 1).unwrap_err();
        assert_eq!(e.message, "messages[0].role: Field required");
        let e = openai(&obj(json!({"model": "m", "messages": [], "max_tokens": 1})), 1).unwrap_err();
        assert!(e.message.starts_with("messages:"), "{}", e.message);
        let e = openai(&obj(json!({"model": 3, "messages": []})), 1).unwrap_err();
        assert_eq!(e.message, "model: expected a string, got number");
        let e =
            anthropic(&obj(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})), false).unwrap_err();
        assert_eq!(e.message, "max_tokens: Field required");
        let e = anthropic(&obj(json!({"model": "m", "max_tokens": "9", "messages": []})), false).unwrap_err();
        assert_eq!(e.message, "max_tokens: expected an integer, got string");
        assert!(parse_json(b"{nope").unwrap_err().message.contains("line 1 column 2"));
    }

    #[test]
    fn anthropic_ignores_cache_control_in_the_prompt() {
        let a = json!({"model": "m", "max_tokens": 5, "system": [{"type": "text", "text": "sys"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}]});
        let mut b = a.clone();
        b["messages"][0]["content"][0]["cache_control"] = json!({"type": "ephemeral"});
        assert_eq!(anthropic(&obj(a), false).unwrap().prompt, anthropic(&obj(b), false).unwrap().prompt);
    }

    #[test]
    fn tool_choice_forms() {
        let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
        let r = openai(
            &obj(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "f"}}})),
            1,
        )
        .unwrap();
        assert_eq!(r.tool_choice, ToolChoice::Named("f".into()));
        assert_eq!(r.tools[0].name, "f");
        let r = anthropic(
            &obj(json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "g", "input_schema": {}}], "tool_choice": {"type": "any"}})),
            false,
        )
        .unwrap();
        assert_eq!(r.tool_choice, ToolChoice::Any);
    }
}
