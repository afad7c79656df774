//! Anthropic `system` and `messages[]` → OpenAI chat `messages[]`.
//!
//! Protocol facts this relies on:
//!
//! * OpenAI requires the `tool` messages answering an assistant's `tool_calls` to follow
//!   that assistant message **immediately**. Claude Code sends one user message holding
//!   `[tool_result…, text(<system-reminder>)]`, so each `tool_result` becomes a `tool`
//!   message first and the user's remaining blocks become **one** user message after them.
//!   (AgenticSwarmBench (the original asb) emits the user text first, which servers reject
//!   or mis-template.)
//! * Text blocks of one message (and the blocks of `system`) are joined with a blank line,
//!   [`BLOCK_SEPARATOR`]: Anthropic keeps them apart, and plain concatenation (what vLLM
//!   does for `system`) glues sentences together.
//! * A user message with images keeps OpenAI content parts (`text` and `image_url`, in
//!   block order); text-only user content becomes one string. Images: `base64` source →
//!   `data:<media_type>;base64,<data>` URL, `url` source → that URL; other sources (Files
//!   API ids) cannot be expressed and are dropped.
//! * `tool_result` content: a string as is, a list → its text joined. OpenAI `tool`
//!   messages carry text only, so images inside a tool result (Claude Code's `Read` on a
//!   picture) move into the user message that follows the tool messages. `is_error: true`
//!   prefixes the text with [`TOOL_ERROR_PREFIX`] (OpenAI has no error flag).
//! * Assistant: text → `content` (`null` when the message only calls tools, `""` when it
//!   has nothing at all, since OpenAI requires content without `tool_calls`);
//!   `tool_use` → `tool_calls[{id, type: "function", function: {name, arguments}}]` with
//!   `arguments` the compact JSON of `input` (key order kept); `thinking` →
//!   `reasoning_content` (accepted on input by llama.cpp and vLLM); `redacted_thinking`
//!   is opaque ciphertext and is dropped.
//! * `role: "system"` inside `messages` (Claude Code does this) stays a system message,
//!   in place.
//! * Any other block (`document`, `search_result`, server-tool blocks, future types) keeps
//!   its text if it has any (see [`block_text`]), else is dropped; it never fails the
//!   request. `cache_control` is never forwarded.

use serde_json::{json, Map, Value};

use super::error::TranslateError;

/// Joins the text blocks of one message, and the blocks of `system`.
pub(crate) const BLOCK_SEPARATOR: &str = "\n\n";

/// Prepended to the content of a `tool_result` with `is_error: true`.
const TOOL_ERROR_PREFIX: &str = "Error: ";

/// The system message for an Anthropic `system` (a string or a list of text blocks), or
/// `None` when it holds no text.
pub(crate) fn system_message(system: &Value, at: &str) -> Result<Option<Value>, TranslateError> {
    let text = match system {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => joined_text(blocks),
        _ => return Err(TranslateError::wrong_type(at, "a string or a list of text blocks")),
    };
    Ok((!text.is_empty()).then(|| json!({"role": "system", "content": text})))
}

/// Appends the OpenAI messages for the Anthropic `messages` array, in order.
pub(crate) fn translate_messages(messages: &Value, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let messages = messages.as_array().ok_or_else(|| TranslateError::wrong_type("messages", "an array"))?;
    for (i, message) in messages.iter().enumerate() {
        translate_message(&format!("messages[{i}]"), message, out)?;
    }
    Ok(())
}

fn translate_message(at: &str, message: &Value, out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let message = object(message, at)?;
    let role =
        message.get("role").and_then(Value::as_str).ok_or_else(|| TranslateError::missing(format!("{at}.role")))?;
    let content = present(message, "content").ok_or_else(|| TranslateError::missing(format!("{at}.content")))?;
    match (role, content) {
        ("system", _) => out.extend(system_message(content, &format!("{at}.content"))?),
        ("user" | "assistant", Value::String(_)) => out.push(json!({"role": role, "content": content})),
        ("user", _) => user_messages(at, blocks(content, at)?, out)?,
        ("assistant", _) => out.push(assistant_message(at, blocks(content, at)?)?),
        (other, _) => return Err(TranslateError::invalid(format!("{at}.role"), format!("unsupported role {other:?}"))),
    }
    Ok(())
}

/// One user turn: a `tool` message per `tool_result` first, then every other block as
/// one user message (omitted when the turn held only tool results).
fn user_messages(at: &str, blocks: &[Value], out: &mut Vec<Value>) -> Result<(), TranslateError> {
    let mut rest = UserContent::default();
    let mut tool_results = 0;
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        let block = object(block, &at)?;
        match block_type(block) {
            Some("tool_result") => {
                out.push(tool_message(&at, block, &mut rest)?);
                tool_results += 1;
            }
            Some("image") => rest.push_image(block),
            _ => rest.push_text(block_text(block)),
        }
    }
    if tool_results == 0 || !rest.is_empty() {
        out.push(json!({"role": "user", "content": rest.into_content()}));
    }
    Ok(())
}

/// `tool_result` → `{"role":"tool","tool_call_id","content"}`; images it holds go to
/// `carried` (the user message that follows).
fn tool_message(at: &str, block: &Map<String, Value>, carried: &mut UserContent) -> Result<Value, TranslateError> {
    let id = non_empty_str(block, "tool_use_id")
        .ok_or_else(|| TranslateError::invalid(at, "tool_result without tool_use_id"))?;
    let mut text = match present(block, "content") {
        None => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => tool_result_text(items, carried),
        Some(_) => return Err(TranslateError::wrong_type(format!("{at}.content"), "a string or a list of blocks")),
    };
    if block.get("is_error") == Some(&Value::Bool(true)) {
        text.insert_str(0, TOOL_ERROR_PREFIX);
    }
    Ok(json!({"role": "tool", "tool_call_id": id, "content": text}))
}

/// The text of a `tool_result`'s block list; its images are handed to `carried`.
fn tool_result_text(items: &[Value], carried: &mut UserContent) -> String {
    let mut texts = Vec::new();
    for item in items.iter().filter_map(Value::as_object) {
        match block_type(item) {
            Some("image") => carried.push_image(item),
            _ => texts.extend(block_text(item)),
        }
    }
    texts.join(BLOCK_SEPARATOR)
}

fn assistant_message(at: &str, blocks: &[Value]) -> Result<Value, TranslateError> {
    let mut texts = Vec::new();
    let mut reasoning = Vec::new();
    let mut tool_calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        let block = object(block, &at)?;
        match block_type(block) {
            Some("tool_use") => tool_calls.push(tool_call(&at, block)?),
            Some("thinking") => reasoning.extend(non_empty_str(block, "thinking")),
            Some("redacted_thinking") => {}
            _ => texts.extend(block_text(block)),
        }
    }

    let content = match (texts.is_empty(), tool_calls.is_empty()) {
        (false, _) => Value::from(texts.join(BLOCK_SEPARATOR)),
        (true, false) => Value::Null,
        (true, true) => Value::from(""),
    };
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert("content".into(), content);
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), reasoning.join(BLOCK_SEPARATOR).into());
    }
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), tool_calls.into());
    }
    Ok(Value::Object(message))
}

/// `tool_use` → an OpenAI tool call; `arguments` is the compact JSON of `input`.
fn tool_call(at: &str, block: &Map<String, Value>) -> Result<Value, TranslateError> {
    let id = non_empty_str(block, "id").ok_or_else(|| TranslateError::invalid(at, "tool_use without id"))?;
    let name = non_empty_str(block, "name").ok_or_else(|| TranslateError::invalid(at, "tool_use without name"))?;
    let arguments = present(block, "input").map_or_else(|| "{}".to_owned(), Value::to_string);
    Ok(json!({
        "id": id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }))
}

/// The non-tool part of a user turn, in block order.
#[derive(Default)]
struct UserContent {
    parts: Vec<Part>,
}

enum Part {
    Text(String),
    Image(Value),
}

impl UserContent {
    fn push_text(&mut self, text: Option<&str>) {
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            self.parts.push(Part::Text(text.to_owned()));
        }
    }

    fn push_image(&mut self, block: &Map<String, Value>) {
        if let Some(part) = image_url_part(block) {
            self.parts.push(Part::Image(part));
        }
    }

    fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// One string when there is only text, else OpenAI content parts.
    fn into_content(self) -> Value {
        let has_images = self.parts.iter().any(|p| matches!(p, Part::Image(_)));
        if !has_images {
            let texts: Vec<String> = self
                .parts
                .into_iter()
                .filter_map(|p| match p {
                    Part::Text(text) => Some(text),
                    Part::Image(_) => None,
                })
                .collect();
            return texts.join(BLOCK_SEPARATOR).into();
        }
        let parts = self.parts.into_iter().map(|part| match part {
            Part::Text(text) => json!({"type": "text", "text": text}),
            Part::Image(image) => image,
        });
        Value::Array(parts.collect())
    }
}

/// An Anthropic `image` block as an OpenAI `image_url` content part, if its source can
/// be expressed as a URL.
fn image_url_part(block: &Map<String, Value>) -> Option<Value> {
    let source = block.get("source")?;
    let url = match source.get("type")?.as_str()? {
        "base64" => {
            let media_type = source.get("media_type")?.as_str()?;
            let data = source.get("data")?.as_str()?;
            format!("data:{media_type};base64,{data}")
        }
        "url" => source.get("url")?.as_str()?.to_owned(),
        _ => return None,
    };
    Some(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// The text a block carries, whatever its type: its `text` field, else a plain-text
/// document's `source.data`. Blocks without text (images, PDFs, …) give `None`.
fn block_text(block: &Map<String, Value>) -> Option<&str> {
    if let Some(text) = block.get("text").and_then(Value::as_str) {
        return Some(text);
    }
    let source = block.get("source")?;
    match source.get("type")?.as_str()? {
        "text" => source.get("data")?.as_str(),
        _ => None,
    }
}

/// The non-empty texts of a block list, joined with [`BLOCK_SEPARATOR`].
fn joined_text(blocks: &[Value]) -> String {
    let texts: Vec<&str> =
        blocks.iter().filter_map(Value::as_object).filter_map(block_text).filter(|t| !t.is_empty()).collect();
    texts.join(BLOCK_SEPARATOR)
}

fn blocks<'a>(content: &'a Value, at: &str) -> Result<&'a [Value], TranslateError> {
    content
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| TranslateError::wrong_type(format!("{at}.content"), "a string or a list of blocks"))
}

pub(super) fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, TranslateError> {
    value.as_object().ok_or_else(|| TranslateError::wrong_type(at, "an object"))
}

pub(super) fn block_type(block: &Map<String, Value>) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

/// A field that is present and not `null`.
pub(crate) fn present<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

pub(crate) fn non_empty_str<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}
