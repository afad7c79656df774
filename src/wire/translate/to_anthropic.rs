//! OpenAI Chat Completions request body → Anthropic Messages request body, the reverse of
//! [`super::anthropic_to_openai_request`], so that traffic recorded in OpenAI form can be
//! replayed against an Anthropic endpoint.
//!
//! | OpenAI                                        | Anthropic                                    |
//! |-----------------------------------------------|----------------------------------------------|
//! | `model`                                       | `model`, unless overridden                   |
//! | `system` / `developer` messages, anywhere     | their texts joined with `"\n"` into `system` (a string) |
//! | `user` content string or parts                | `text` blocks; `image_url` → `image` (data: URL → `base64` source, else `url` source) |
//! | `assistant` `content`                         | `text` blocks                                |
//! | `assistant` `tool_calls[]`                    | `tool_use` blocks, `input` = the parsed `arguments` object, else `{"raw": arguments}` |
//! | `tool` message                                | `tool_result` block (`tool_use_id`, text `content`) in a user message |
//! | `max_completion_tokens`, else `max_tokens`    | `max_tokens` (absent if neither: the caller decides) |
//! | `temperature`, `top_p`, `top_k`               | same names                                   |
//! | `stop` (string or list)                       | `stop_sequences` (list)                      |
//! | `stream`                                      | `stream`                                     |
//! | `tools[]` of type `function`                  | `{name, description, input_schema}` (`parameters`, default an empty object schema) |
//! | `tool_choice` auto / required / none / function | `{type: auto}` / `{type: any}` / `{type: none}` / `{type: tool, name}` |
//! | `parallel_tool_calls: false`                  | `disable_parallel_tool_use: true` on `tool_choice` (`auto` if none given) |
//!
//! Anthropic's rules, and what follows from them:
//!
//! * Roles must alternate: consecutive messages of one role (tool results count as user)
//!   are merged, their blocks concatenated; in a merged user message `tool_result` blocks
//!   go first, as Anthropic requires.
//! * Empty text blocks are rejected, so they are dropped; a message left with no block is
//!   dropped entirely, before merging. If no message is left the request fails with a
//!   [`TranslateError`] on `messages` rather than sending a made-up placeholder.
//! * A message whose only block is text gets its content as a plain string.
//! * Where the system messages stood in the conversation is lost: Anthropic has only the
//!   top-level `system`.
//!
//! Deliberately dropped:
//!
//! * `reasoning_content` / `reasoning` on assistant messages: Anthropic accepts earlier
//!   thinking only as `thinking` blocks carrying the `signature` its own API issued, and
//!   rejects unsigned ones; OpenAI-side reasoning has no signature.
//! * `is_error` cannot be recovered: a tool result the forward direction prefixed with
//!   `"Error: "` stays plain text.
//! * Content parts other than text (`input_audio`, `file`, and images outside user
//!   messages) keep their `text` if they have one, else are dropped, as the forward
//!   direction does.
//! * Tools of another type than `function`, an unknown `tool_choice` (server default),
//!   `stream_options`, `n`, `presence_penalty`, `frequency_penalty`, `logprobs`, `seed`,
//!   `user`, `response_format` and any other field.
//! * No range check: OpenAI allows `temperature` up to 2, Anthropic up to 1.

use serde_json::{json, Map, Value};

use super::error::TranslateError;
use super::messages::{block_type, non_empty_str, object, present, BLOCK_SEPARATOR};
use super::request::model;

/// Joins the texts of the system and developer messages into `system`.
const SYSTEM_SEPARATOR: &str = "\n";

/// Sampling fields copied under the same name when present and not `null`.
const SAME_NAME_FIELDS: [&str; 3] = ["temperature", "top_p", "top_k"];

/// Translates a `/v1/chat/completions` body into a `/v1/messages` body. `model_override`
/// replaces the body's `model`.
pub(crate) fn openai_to_anthropic_request(body: &Value, model_override: Option<&str>) -> Result<Value, TranslateError> {
    let body = body.as_object().ok_or_else(|| TranslateError::wrong_type("body", "a JSON object"))?;
    let mut out = Map::new();
    out.insert("model".into(), model(body, model_override)?.into());
    let conversation = present(body, "messages").ok_or_else(|| TranslateError::missing("messages"))?;
    let conversation = conversation.as_array().ok_or_else(|| TranslateError::wrong_type("messages", "an array"))?;
    let (system, messages) = translate_conversation(conversation)?;
    if let Some(max_tokens) = present(body, "max_completion_tokens").or_else(|| present(body, "max_tokens")) {
        out.insert("max_tokens".into(), max_tokens.clone());
    }
    if !system.is_empty() {
        out.insert("system".into(), system.join(SYSTEM_SEPARATOR).into());
    }
    out.insert("messages".into(), messages.into());
    for field in SAME_NAME_FIELDS {
        if let Some(value) = present(body, field) {
            out.insert(field.into(), value.clone());
        }
    }
    copy_stop(body, &mut out)?;
    if let Some(stream) = present(body, "stream") {
        out.insert("stream".into(), stream.clone());
    }
    translate_tools(body, &mut out)?;
    Ok(Value::Object(out))
}

/// The system texts and the alternating Anthropic messages.
fn translate_conversation(messages: &[Value]) -> Result<(Vec<String>, Vec<Value>), TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let message = object(message, &at)?;
        let role =
            message.get("role").and_then(Value::as_str).ok_or_else(|| TranslateError::missing(format!("{at}.role")))?;
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.extend(content_blocks(&at, message, false)?.into_iter().filter_map(into_text));
                continue;
            }
            "user" => ("user", content_blocks(&at, message, true)?),
            "assistant" => ("assistant", assistant_blocks(&at, message)?),
            "tool" => ("user", vec![tool_result(&at, message)?]),
            other => return Err(TranslateError::invalid(format!("{at}.role"), format!("unsupported role {other:?}"))),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.blocks.extend(blocks),
            _ => turns.push(Turn { role, blocks }),
        }
    }
    if turns.is_empty() {
        return Err(TranslateError::invalid("messages", "no user or assistant message with content"));
    }
    Ok((system, turns.into_iter().map(Turn::into_message).collect()))
}

/// One Anthropic message being assembled from one or more OpenAI messages.
struct Turn {
    role: &'static str,
    blocks: Vec<Value>,
}

impl Turn {
    fn into_message(self) -> Value {
        let Turn { role, mut blocks } = self;
        // Stable: tool results keep their order, and so does everything else.
        blocks.sort_by_key(|block| !is_tool_result(block));
        let content = match blocks.as_slice() {
            [only] if only.get("type").and_then(Value::as_str) == Some("text") => {
                only.get("text").cloned().unwrap_or_else(|| "".into())
            }
            _ => blocks.into(),
        };
        json!({"role": role, "content": content})
    }
}

/// The blocks of a message's `content` (a string, content parts, `null` or absent):
/// non-empty text blocks, and image blocks when `images` is set.
fn content_blocks(at: &str, message: &Map<String, Value>, images: bool) -> Result<Vec<Value>, TranslateError> {
    let parts = match present(message, "content") {
        None => return Ok(Vec::new()),
        Some(Value::String(text)) => return Ok(text_block(text).into_iter().collect()),
        Some(Value::Array(parts)) => parts,
        Some(_) => return Err(TranslateError::wrong_type(format!("{at}.content"), "a string or a list of parts")),
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        let part = object(part, &at)?;
        if images && block_type(part) == Some("image_url") {
            blocks.push(image_block(&at, part)?);
        } else {
            blocks.extend(part_text(part).and_then(text_block));
        }
    }
    Ok(blocks)
}

/// Assistant text blocks, then one `tool_use` block per tool call.
fn assistant_blocks(at: &str, message: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = content_blocks(at, message, false)?;
    if blocks.is_empty() {
        blocks.extend(non_empty_str(message, "refusal").and_then(text_block));
    }
    let Some(calls) = present(message, "tool_calls") else {
        return Ok(blocks);
    };
    let calls = calls.as_array().ok_or_else(|| TranslateError::wrong_type(format!("{at}.tool_calls"), "an array"))?;
    for (k, call) in calls.iter().enumerate() {
        blocks.push(tool_use(&format!("{at}.tool_calls[{k}]"), call)?);
    }
    Ok(blocks)
}

fn tool_use(at: &str, call: &Value) -> Result<Value, TranslateError> {
    let call = object(call, at)?;
    let id = non_empty_str(call, "id").ok_or_else(|| TranslateError::invalid(at, "tool call without id"))?;
    match call.get("type").and_then(Value::as_str) {
        None | Some("function") => {}
        Some(other) => {
            return Err(TranslateError::invalid(format!("{at}.type"), format!("unsupported tool call type {other:?}")))
        }
    }
    let function = present(call, "function").ok_or_else(|| TranslateError::missing(format!("{at}.function")))?;
    let function = object(function, &format!("{at}.function"))?;
    let name = non_empty_str(function, "name").ok_or_else(|| TranslateError::missing(format!("{at}.function.name")))?;
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": tool_input(present(function, "arguments"))}))
}

/// `arguments` as a `tool_use` input, which must be an object: the parsed JSON object;
/// `{}` when absent or blank (some servers send `""` for a call without arguments);
/// `{"raw": arguments}` when it is not a JSON object.
fn tool_input(arguments: Option<&Value>) -> Value {
    match arguments {
        None => json!({}),
        Some(Value::Object(input)) => Value::Object(input.clone()),
        Some(Value::String(text)) if text.trim().is_empty() => json!({}),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(input @ Value::Object(_)) => input,
            _ => json!({"raw": text}),
        },
        Some(other) => json!({"raw": other.to_string()}),
    }
}

/// A `tool` message as a `tool_result` block; its text parts are joined with
/// [`BLOCK_SEPARATOR`], and an empty result has no `content`.
fn tool_result(at: &str, message: &Map<String, Value>) -> Result<Value, TranslateError> {
    let id = non_empty_str(message, "tool_call_id")
        .ok_or_else(|| TranslateError::invalid(at, "tool message without tool_call_id"))?;
    let texts: Vec<String> = content_blocks(at, message, false)?.into_iter().filter_map(into_text).collect();
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    if !texts.is_empty() {
        block["content"] = texts.join(BLOCK_SEPARATOR).into();
    }
    Ok(block)
}

/// An `image_url` part as an `image` block: a `data:<media type>;base64,<data>` URL
/// becomes a `base64` source, any other URL a `url` source.
fn image_block(at: &str, part: &Map<String, Value>) -> Result<Value, TranslateError> {
    let url = match part.get("image_url") {
        Some(Value::String(url)) => Some(url.as_str()),
        Some(Value::Object(image)) => image.get("url").and_then(Value::as_str),
        _ => None,
    };
    let url = url.filter(|u| !u.is_empty()).ok_or_else(|| TranslateError::missing(format!("{at}.image_url.url")))?;
    let Some(data_url) = url.strip_prefix("data:") else {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    };
    let (media_type, data) = data_url
        .split_once(',')
        .and_then(|(header, data)| Some((header.strip_suffix(";base64")?, data)))
        .filter(|(media_type, _)| !media_type.is_empty())
        .ok_or_else(|| {
            TranslateError::invalid(format!("{at}.image_url.url"), "a data: URL must be data:<media type>;base64,…")
        })?;
    Ok(json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}))
}

fn copy_stop(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let sequences = match present(body, "stop") {
        None => return Ok(()),
        Some(Value::String(stop)) => vec![Value::from(stop.as_str())],
        Some(Value::Array(stops)) if stops.iter().all(Value::is_string) => stops.clone(),
        Some(_) => return Err(TranslateError::wrong_type("stop", "a string or a list of strings")),
    };
    if !sequences.is_empty() {
        out.insert("stop_sequences".into(), sequences.into());
    }
    Ok(())
}

fn translate_tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let Some(tools) = present(body, "tools") else {
        return Ok(());
    };
    let tools = tools.as_array().ok_or_else(|| TranslateError::wrong_type("tools", "an array"))?;
    let mut anthropic_tools = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        anthropic_tools.extend(anthropic_tool(&format!("tools[{i}]"), tool)?);
    }
    // Like the forward direction: no tool left, no tool_choice (servers reject it alone).
    if anthropic_tools.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), anthropic_tools.into());
    if let Some(choice) = tool_choice(body)? {
        out.insert("tool_choice".into(), Value::Object(choice));
    }
    Ok(())
}

/// A `function` tool as an Anthropic client tool; `None` for any other type.
fn anthropic_tool(at: &str, tool: &Value) -> Result<Option<Value>, TranslateError> {
    let tool = object(tool, at)?;
    if block_type(tool).is_some_and(|t| t != "function") {
        return Ok(None);
    }
    let function = present(tool, "function").ok_or_else(|| TranslateError::missing(format!("{at}.function")))?;
    let function = object(function, &format!("{at}.function"))?;
    let name = non_empty_str(function, "name").ok_or_else(|| TranslateError::missing(format!("{at}.function.name")))?;
    let mut anthropic = Map::new();
    anthropic.insert("name".into(), name.into());
    if let Some(description) = present(function, "description") {
        anthropic.insert("description".into(), description.clone());
    }
    let schema =
        present(function, "parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    anthropic.insert("input_schema".into(), schema);
    Ok(Some(Value::Object(anthropic)))
}

/// `tool_choice` and `parallel_tool_calls` as an Anthropic `tool_choice`.
fn tool_choice(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>, TranslateError> {
    let mut choice = match present(body, "tool_choice") {
        None => None,
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Some(json!({"type": "auto"})),
            "required" => Some(json!({"type": "any"})),
            "none" => Some(json!({"type": "none"})),
            _ => None,
        },
        Some(Value::Object(choice)) => match block_type(choice) {
            Some("function") => {
                let name = choice
                    .get("function")
                    .and_then(|function| function.get("name"))
                    .and_then(Value::as_str)
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| TranslateError::missing("tool_choice.function.name"))?;
                Some(json!({"type": "tool", "name": name}))
            }
            _ => None,
        },
        Some(_) => return Err(TranslateError::wrong_type("tool_choice", "a string or an object")),
    }
    .and_then(|choice| choice.as_object().cloned());
    if body.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
        let choice = choice.get_or_insert_with(|| Map::from_iter([("type".into(), "auto".into())]));
        // `none` takes no options.
        if choice.get("type").and_then(Value::as_str) != Some("none") {
            choice.insert("disable_parallel_tool_use".into(), true.into());
        }
    }
    Ok(choice)
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

/// The text of a text block made by [`text_block`].
fn into_text(block: Value) -> Option<String> {
    match block {
        Value::Object(mut block) => match block.remove("text") {
            Some(Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// The text a content part carries: `text`, or a refusal part's `refusal`.
fn part_text(part: &Map<String, Value>) -> Option<&str> {
    ["text", "refusal"].into_iter().find_map(|field| part.get(field).and_then(Value::as_str))
}

fn is_tool_result(block: &Value) -> bool {
    block.as_object().and_then(block_type) == Some("tool_result")
}
