//! How an OpenAI Responses API answer is read — a `response` body or one event of its
//! stream — by everyone who reads one: the recorder's assembler (`recording::assemble`)
//! and the translators (`translate::responses*`). One set of rules, so a translated call's
//! two sides are read alike.
//!
//! * **Events** carry their type in `type` (the `event:` line repeats it); there is no
//!   `data: [DONE]`. A stream ends with `response.completed`, `response.incomplete`,
//!   `response.failed`, or an `error` event.
//! * **Output** is a list of items: `message` (its `output_text` parts, and a `refusal`
//!   part's `refusal`, are visible text), `reasoning` (its `content` `reasoning_text`, else
//!   its `summary` texts), `function_call` (`call_id`, `name`, `arguments` JSON text) and
//!   `custom_tool_call` (`call_id`, `name`, free-form `input`, as Codex's `apply_patch`
//!   uses). Any other item (web search, local shell calls) is kept in the recording
//!   verbatim but is not text, reasoning or a tool call.
//! * **Stop reason**: `incomplete_details.reason` when the answer is incomplete
//!   (`max_output_tokens`, `content_filter`), else the response's `status` (`completed`,
//!   `failed`); the Responses API has no finish reason of its own.
//! * **`usage`** is `response.usage` on the final event (or the body); [`super::usage`]
//!   reads its counts.
//! * **Errors**: an `error` event (`code`, `message`), a `response.failed` whose
//!   `response.error` says why, or a body with a non-null `error` (an HTTP error uses
//!   the Chat Completions error shape, `{"error":{…}}`).
//!
//! Events are read into the few fields anyone needs (strings borrowed where they have no
//! escapes), not into a `serde_json::Value`: this runs for every event of every recorded
//! and replayed Responses stream. Only the `response` object of the first and last events
//! and a whole item are built as values.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

/// One streamed event, as far as anyone reads it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Event<'a> {
    #[serde(borrow, rename = "type", default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub delta: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub item_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub output_index: Option<u64>,
    /// `output_item.added` / `.done`.
    #[serde(default)]
    pub item: Option<Value>,
    /// `response.created`, `.in_progress`, `.completed`, `.incomplete`, `.failed`.
    #[serde(default)]
    pub response: Option<Value>,
    /// An `error` event's fields.
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

impl<'a> Event<'a> {
    /// Reads an event's data; `None` when it is not a JSON object of the API's shape.
    pub(crate) fn from_json(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    pub(crate) fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or_default()
    }
}

/// What an event means to a reader of the answer.
#[derive(Debug, PartialEq)]
pub(crate) enum Meaning<'e> {
    /// Visible text (`output_text`, `refusal`).
    Text(&'e str),
    /// Reasoning text (`reasoning_text`, `reasoning_summary_text`).
    Reasoning(&'e str),
    /// An item began (a tool call's `call_id` and `name` come here).
    ItemAdded(&'e Value),
    /// A fragment of a tool call's arguments (or a custom tool's input), for `item_id`.
    Arguments { item_id: Option<&'e str>, output_index: Option<u64>, delta: &'e str },
    /// An item is complete, with everything it holds.
    ItemDone(&'e Value),
    /// The final event: the whole response (status, output, usage).
    End(&'e Value),
    /// An `error` event, as `code: message`.
    Error(String),
    /// Anything else (lifecycle, part boundaries, `.done` repeats of deltas).
    Other,
}

impl Event<'_> {
    pub(crate) fn meaning(&self) -> Meaning<'_> {
        let delta = || self.delta.as_deref().unwrap_or_default();
        match self.kind() {
            "response.output_text.delta" | "response.refusal.delta" => Meaning::Text(delta()),
            "response.reasoning_text.delta" | "response.reasoning_summary_text.delta" => Meaning::Reasoning(delta()),
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                Meaning::Arguments { item_id: self.item_id.as_deref(), output_index: self.output_index, delta: delta() }
            }
            "response.output_item.added" => self.item.as_ref().map_or(Meaning::Other, Meaning::ItemAdded),
            "response.output_item.done" => self.item.as_ref().map_or(Meaning::Other, Meaning::ItemDone),
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.response.as_ref().map_or(Meaning::Other, Meaning::End)
            }
            "error" => Meaning::Error(error_text(self.code.as_ref(), self.message.as_deref())),
            _ => Meaning::Other,
        }
    }
}

fn error_text(code: Option<&Value>, message: Option<&str>) -> String {
    let message = message.unwrap_or("the stream reported an error");
    match code.and_then(Value::as_str) {
        Some(code) => format!("{code}: {message}"),
        None => message.to_string(),
    }
}

/// A tool call an output item holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ItemCall {
    /// The item's own id (`fc_…`), which argument deltas name.
    pub item_id: String,
    /// `call_id`, which the client's `function_call_output` answers.
    pub call_id: String,
    pub name: String,
    /// JSON text (`function_call`) or free-form input (`custom_tool_call`).
    pub arguments: String,
    /// `custom_tool_call`: the input is free text, not JSON.
    pub custom: bool,
}

/// The tool call of a `function_call` or `custom_tool_call` item.
pub(crate) fn item_call(item: &Value) -> Option<ItemCall> {
    let custom = match item_type(item) {
        "function_call" => false,
        "custom_tool_call" => true,
        _ => return None,
    };
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let arguments = match item.get(if custom { "input" } else { "arguments" }) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Some(ItemCall { item_id: s("id"), call_id: s("call_id"), name: s("name"), arguments, custom })
}

pub(crate) fn item_type(item: &Value) -> &str {
    item.get("type").and_then(Value::as_str).unwrap_or_default()
}

/// The visible text of a `message` item (its `output_text` and `refusal` parts).
pub(crate) fn message_text(item: &Value) -> String {
    let parts = item.get("content").and_then(Value::as_array).into_iter().flatten();
    parts
        .filter_map(|p| match p.get("type").and_then(Value::as_str) {
            Some("output_text" | "text" | "input_text") => p.get("text").and_then(Value::as_str),
            Some("refusal") => p.get("refusal").and_then(Value::as_str),
            _ => None,
        })
        .collect()
}

/// The reasoning text of a `reasoning` item: its `reasoning_text` content, else its summary.
pub(crate) fn reasoning_text(item: &Value) -> String {
    let texts = |key: &str| -> String {
        let parts = item.get(key).and_then(Value::as_array).into_iter().flatten();
        parts.filter_map(|p| p.get("text").and_then(Value::as_str)).collect()
    };
    let content = texts("content");
    if content.is_empty() {
        texts("summary")
    } else {
        content
    }
}

/// Everything a `response` object's `output` says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Output {
    pub text: String,
    pub reasoning: String,
    pub calls: Vec<ItemCall>,
}

pub(crate) fn output(response: &Value) -> Output {
    let mut out = Output::default();
    for item in response.get("output").and_then(Value::as_array).into_iter().flatten() {
        match item_type(item) {
            "message" => out.text.push_str(&message_text(item)),
            "reasoning" => out.reasoning.push_str(&reasoning_text(item)),
            _ => out.calls.extend(item_call(item)),
        }
    }
    out
}

/// The stop reason a recording keeps for a response object: see the module doc.
pub(crate) fn stop_reason(response: &Value) -> Option<String> {
    let reason = response.pointer("/incomplete_details/reason").and_then(Value::as_str);
    reason.or_else(|| response.get("status").and_then(Value::as_str)).map(str::to_owned)
}

/// Why a response failed (`response.error`, present when `status` is `failed`).
pub(crate) fn failure(response: &Value) -> Option<String> {
    let err = response.get("error").filter(|e| !e.is_null())?;
    Some(error_text(err.get("code"), err.get("message").and_then(Value::as_str)))
}

/// `usage` of a response object, when it is an object.
pub(crate) fn usage(response: &Value) -> Option<&Value> {
    response.get("usage").filter(|u| u.is_object())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_mean_what_their_type_says() {
        fn ev(s: &str) -> Event<'_> {
            Event::from_json(s).unwrap()
        }
        let text = ev(r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"a\"b"}"#);
        assert_eq!(text.meaning(), Meaning::Text("a\"b"));
        let r = ev(r#"{"type":"response.reasoning_summary_text.delta","delta":"hm"}"#);
        assert_eq!(r.meaning(), Meaning::Reasoning("hm"));
        let a =
            ev(r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":2,"delta":"{"}"#);
        assert_eq!(a.meaning(), Meaning::Arguments { item_id: Some("fc_1"), output_index: Some(2), delta: "{" });
        let e = ev(r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down","sequence_number":3}"#);
        assert_eq!(e.meaning(), Meaning::Error("rate_limit_exceeded: slow down".into()));
        assert_eq!(ev(r#"{"type":"response.in_progress","response":{}}"#).meaning(), Meaning::Other);
        assert_eq!(ev(r#"{"type":"response.output_item.added"}"#).meaning(), Meaning::Other);
        assert!(Event::from_json("[1]").is_none());
    }

    #[test]
    fn a_response_object_reads_into_text_reasoning_calls_and_stop() {
        let resp = json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
            "output": [
                {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "think"}]},
                {"type": "message", "content": [{"type": "output_text", "text": "Hi", "annotations": []},
                    {"type": "refusal", "refusal": "!"}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell", "arguments": "{\"c\":1}"},
                {"type": "custom_tool_call", "id": "ctc", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin"},
                {"type": "web_search_call", "id": "ws"}],
            "usage": {"input_tokens": 3}});
        let out = output(&resp);
        assert_eq!((out.text.as_str(), out.reasoning.as_str()), ("Hi!", "think"));
        assert_eq!(out.calls.len(), 2);
        assert_eq!(out.calls[0].call_id, "call_1");
        assert_eq!((out.calls[1].arguments.as_str(), out.calls[1].custom), ("*** Begin", true));
        assert_eq!(stop_reason(&resp).as_deref(), Some("max_output_tokens"));
        assert_eq!(stop_reason(&json!({"status": "completed"})).as_deref(), Some("completed"));
        assert!(usage(&resp).is_some());
        let failed = json!({"status": "failed", "error": {"code": "server_error", "message": "boom"}});
        assert_eq!(failure(&failed).as_deref(), Some("server_error: boom"));
        assert_eq!(failure(&json!({"error": null})), None);
    }

    #[test]
    fn reasoning_content_wins_over_its_summary() {
        let item = json!({"type": "reasoning", "summary": [{"text": "short"}],
            "content": [{"type": "reasoning_text", "text": "long"}]});
        assert_eq!(reasoning_text(&item), "long");
    }
}
