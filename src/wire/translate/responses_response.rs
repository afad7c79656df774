//! OpenAI Chat Completions answers → OpenAI Responses answers: a `chat.completion` body
//! becomes a `response` object ([`chat_to_responses_response`]), and a stream of
//! `chat.completion.chunk`s becomes the Responses event stream ([`ResponsesStreamEncoder`]),
//! so a Responses client (Codex CLI, the `openai` SDK's `client.responses`) is answered by
//! a Chat-only server.
//!
//! The output items, in the order the answer brings them: a `reasoning` item (Chat
//! `reasoning_content` / `reasoning`, as `reasoning_text` content), a `message` item (its
//! text as one `output_text` part), a `function_call` item per tool call (`call_id` = the
//! Chat call's id; a call to one of the request's `custom` tools becomes a
//! `custom_tool_call` whose `input` is the `input` argument). Item ids are generated:
//! `rs_…`, `msg_…`, `fc_…`, `ctc_…` with the response's number.
//!
//! The stream: `response.created` and `response.in_progress` before the first output; per
//! item `response.output_item.added`, its deltas (`response.reasoning_text.delta`,
//! `response.content_part.added` then `response.output_text.delta`,
//! `response.function_call_arguments.delta`), its `.done` events and
//! `response.output_item.done` with the whole item; finally `response.completed` (or
//! `response.incomplete` when Chat's `finish_reason` is `length` or `content_filter`)
//! with the whole response and its usage. Every event has its `sequence_number` and an
//! `event:` line. An upstream failure becomes `response.failed` with the reason in
//! `response.error`. A custom tool's input is only known whole (Chat streams it inside
//! JSON), so its item comes with one `response.custom_tool_call_input.delta` at its end.
//!
//! Usage: Chat `prompt_tokens` (which includes `prompt_tokens_details.cached_tokens`) is
//! Responses `input_tokens` (which includes `input_tokens_details.cached_tokens`), and
//! `completion_tokens` / `reasoning_tokens` are `output_tokens` / `reasoning_tokens`: the
//! two count alike, so the numbers pass unchanged.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::responses_request::CUSTOM_INPUT;
use crate::wire::openai::{self, ToolCallSlots};

/// What a response object repeats of its request, and who it is.
#[derive(Debug, Clone)]
pub(crate) struct ResponseFrame {
    /// `resp_…`; items are numbered from it.
    pub id: String,
    pub model: String,
    pub created_at: u64,
    /// The request's fields a `response` object echoes (`instructions`, `tools`, …).
    pub echo: Map<String, Value>,
    /// Names of the request's `custom` tools.
    pub custom_tools: Vec<String>,
}

impl ResponseFrame {
    /// The frame of an answer to `request` (a Responses body), numbered `seq`.
    pub(crate) fn for_request(request: &Value, seq: u64, model: &str) -> Self {
        let mut echo = Map::new();
        for (key, default) in [
            ("instructions", Value::Null),
            ("tools", json!([])),
            ("tool_choice", json!("auto")),
            ("parallel_tool_calls", json!(true)),
            ("temperature", json!(1.0)),
            ("top_p", json!(1.0)),
            ("max_output_tokens", Value::Null),
            ("previous_response_id", Value::Null),
            ("reasoning", Value::Null),
            ("store", json!(false)),
            ("metadata", json!({})),
            ("text", json!({"format": {"type": "text"}})),
        ] {
            let v = request.get(key).filter(|v| !v.is_null()).cloned().unwrap_or(default);
            echo.insert(key.into(), v);
        }
        ResponseFrame {
            id: format!("resp_asb_{seq:012}"),
            model: model.to_owned(),
            created_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            echo,
            custom_tools: super::responses_request::custom_tool_names(request),
        }
    }

    fn item_id(&self, prefix: &str, n: usize) -> String {
        let number = self.id.trim_start_matches("resp_");
        format!("{prefix}_{number}_{n}")
    }

    /// The `response` object with `status`, `output` and `usage`.
    pub(crate) fn response(
        &self,
        status: &str,
        output: Vec<Value>,
        usage: Option<Value>,
        finish: Option<&str>,
    ) -> Value {
        let mut r = Map::new();
        r.insert("id".into(), self.id.clone().into());
        r.insert("object".into(), "response".into());
        r.insert("created_at".into(), self.created_at.into());
        r.insert("status".into(), status.into());
        r.insert("model".into(), self.model.clone().into());
        r.insert("output".into(), output.into());
        r.insert("error".into(), Value::Null);
        let incomplete = match finish {
            Some("length") if status == "incomplete" => json!({"reason": "max_output_tokens"}),
            Some("content_filter") if status == "incomplete" => json!({"reason": "content_filter"}),
            _ => Value::Null,
        };
        r.insert("incomplete_details".into(), incomplete);
        r.extend(self.echo.clone());
        r.insert("usage".into(), usage.unwrap_or(Value::Null));
        Value::Object(r)
    }
}

/// The Responses status of an answer that ended with Chat's `finish_reason`.
fn status_of(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length" | "content_filter") => "incomplete",
        _ => "completed",
    }
}

/// A Chat `usage` object as a Responses one (see the module doc).
pub(crate) fn responses_usage(chat: &Value) -> Value {
    let n = |p: &str| chat.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let (input, output) = (n("/prompt_tokens"), n("/completion_tokens"));
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": n("/prompt_tokens_details/cached_tokens")},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": n("/completion_tokens_details/reasoning_tokens")},
        "total_tokens": input + output,
    })
}

/// A tool call as an output item (`custom`: a call to a custom tool).
fn call_item(id: String, call_id: &str, name: &str, arguments: &str, custom: bool, done: bool) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    if custom {
        let input = match serde_json::from_str::<Value>(arguments) {
            Ok(Value::Object(o)) => match o.get(CUSTOM_INPUT) {
                Some(Value::String(s)) => s.clone(),
                _ => arguments.to_owned(),
            },
            _ => arguments.to_owned(),
        };
        let input = if done { input } else { String::new() };
        return json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": name, "input": input,
            "status": status});
    }
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments,
        "status": status})
}

fn message_item(id: &str, text: &str, done: bool) -> Value {
    let content = if done { json!([{"type": "output_text", "text": text, "annotations": []}]) } else { json!([]) };
    json!({"type": "message", "id": id, "role": "assistant", "status": if done { "completed" } else { "in_progress" },
        "content": content})
}

fn reasoning_item(id: &str, text: &str) -> Value {
    json!({"type": "reasoning", "id": id, "summary": [], "content": [{"type": "reasoning_text", "text": text}]})
}

/// A non-streamed `chat.completion` as a `response` object.
pub(crate) fn chat_to_responses_response(chat: &Value, frame: &ResponseFrame) -> Value {
    let answer = openai::Answer::from_value(chat);
    let choice = answer.first_choice();
    let mut output = Vec::new();
    if let Some(message) = choice.and_then(openai::Choice::message) {
        if let Some(r) = message.reasoning().filter(|r| !r.is_empty()) {
            output.push(reasoning_item(&frame.item_id("rs", output.len()), r));
        }
        if let Some(t) = message.visible_text().filter(|t| !t.is_empty()) {
            output.push(message_item(&frame.item_id("msg", output.len()), t, true));
        }
        for call in message.tool_calls() {
            let custom = frame.custom_tools.iter().any(|n| n == call.name());
            let id = frame.item_id(if custom { "ctc" } else { "fc" }, output.len());
            let call_id = call.id.map_or_else(|| format!("call_{id}"), str::to_owned);
            output.push(call_item(id, &call_id, call.name(), &call.arguments().text(), custom, true));
        }
    }
    let finish = choice.and_then(openai::Choice::finish_reason);
    frame.response(status_of(finish), output, answer.usage().map(responses_usage), finish)
}

/// The item being streamed.
#[derive(Debug)]
enum Open {
    None,
    Reasoning { index: usize, text: String },
    Message { index: usize, text: String },
    Call { index: usize, slot: usize },
}

/// A tool call being streamed (by its slot, in Chat's order).
#[derive(Debug, Default)]
struct Call {
    index: usize,
    call_id: String,
    name: String,
    arguments: String,
    custom: bool,
}

/// Turns a stream of `chat.completion.chunk` payloads into Responses SSE events: see the
/// module doc. Feed chunks with [`Self::on_chunk`], then [`Self::finish`] (or
/// [`Self::fail`]); both are idempotent at the end.
pub(crate) struct ResponsesStreamEncoder {
    frame: ResponseFrame,
    seq: u64,
    started: bool,
    ended: bool,
    open: Open,
    /// Items done, by output index.
    output: Vec<Value>,
    calls: Vec<Call>,
    slots: ToolCallSlots,
    usage: Option<Value>,
    finish_reason: Option<String>,
}

impl ResponsesStreamEncoder {
    pub(crate) fn new(frame: ResponseFrame) -> Self {
        ResponsesStreamEncoder {
            frame,
            seq: 0,
            started: false,
            ended: false,
            open: Open::None,
            output: Vec::new(),
            calls: Vec::new(),
            slots: ToolCallSlots::default(),
            usage: None,
            finish_reason: None,
        }
    }

    fn event(&mut self, kind: &str, mut body: Value, out: &mut Vec<u8>) {
        body["type"] = kind.into();
        body["sequence_number"] = self.seq.into();
        self.seq += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        out.extend_from_slice(body.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.frame.response("in_progress", vec![], None, None);
        self.event("response.created", json!({ "response": r }), out);
        let r = self.frame.response("in_progress", vec![], None, None);
        self.event("response.in_progress", json!({ "response": r }), out);
    }

    /// One upstream chunk (its JSON payload).
    pub(crate) fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        let answer = openai::Answer::from_value(chunk);
        if let Some(u) = answer.usage() {
            self.usage = Some(u.clone());
        }
        let Some(choice) = answer.first_choice() else { return };
        if let Some(reason) = choice.finish_reason() {
            self.finish_reason = Some(reason.to_owned());
        }
        let Some(delta) = choice.delta() else { return };
        if let Some(r) = delta.reasoning().filter(|r| !r.is_empty()) {
            self.reasoning_delta(r, out);
        }
        if let Some(t) = delta.visible_text().filter(|t| !t.is_empty()) {
            self.text_delta(t, out);
        }
        for call in delta.tool_calls() {
            let (slot, is_new) = self.slots.place(&call);
            if is_new {
                self.close(out);
                let index = self.output.len();
                let custom = self.frame.custom_tools.iter().any(|n| n == call.name());
                let id = self.frame.item_id(if custom { "ctc" } else { "fc" }, index);
                let call_id = call.id.map_or_else(|| format!("call_{id}"), str::to_owned);
                let name = call.name().to_owned();
                self.output.push(call_item(id, &call_id, &name, "", custom, false));
                self.calls.push(Call { index, call_id, name, arguments: String::new(), custom });
                let item = self.output[index].clone();
                self.event("response.output_item.added", json!({"output_index": index, "item": item}), out);
                self.open = Open::Call { index, slot };
            }
            let args = call.arguments().text();
            if args.is_empty() {
                continue;
            }
            let Some(c) = self.calls.get_mut(slot) else { continue };
            c.arguments.push_str(&args);
            if !c.custom {
                let (index, item_id) = (c.index, self.output[c.index]["id"].clone());
                let body = json!({"item_id": item_id, "output_index": index, "delta": args});
                self.event("response.function_call_arguments.delta", body, out);
            }
        }
    }

    fn reasoning_delta(&mut self, text: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Open::Reasoning { .. }) {
            self.close(out);
            let index = self.output.len();
            let id = self.frame.item_id("rs", index);
            self.output.push(reasoning_item(&id, ""));
            let item = self.output[index].clone();
            self.event("response.output_item.added", json!({"output_index": index, "item": item}), out);
            self.open = Open::Reasoning { index, text: String::new() };
        }
        let Open::Reasoning { index, text: all } = &mut self.open else { return };
        all.push_str(text);
        let index = *index;
        let body =
            json!({"item_id": self.output[index]["id"], "output_index": index, "content_index": 0, "delta": text});
        self.event("response.reasoning_text.delta", body, out);
    }

    fn text_delta(&mut self, text: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Open::Message { .. }) {
            self.close(out);
            let index = self.output.len();
            let id = self.frame.item_id("msg", index);
            self.output.push(message_item(&id, "", false));
            let item = self.output[index].clone();
            self.event("response.output_item.added", json!({"output_index": index, "item": item}), out);
            let part = json!({"item_id": id, "output_index": index, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []}});
            self.event("response.content_part.added", part, out);
            self.open = Open::Message { index, text: String::new() };
        }
        let Open::Message { index, text: all } = &mut self.open else { return };
        all.push_str(text);
        let index = *index;
        let body = json!({"item_id": self.output[index]["id"], "output_index": index, "content_index": 0,
            "delta": text, "logprobs": []});
        self.event("response.output_text.delta", body, out);
    }

    /// Ends the open item: its `.done` events, with the whole item.
    fn close(&mut self, out: &mut Vec<u8>) {
        match std::mem::replace(&mut self.open, Open::None) {
            Open::None => {}
            Open::Reasoning { index, text } => {
                let id = self.output[index]["id"].as_str().unwrap_or_default().to_owned();
                let body = json!({"item_id": id, "output_index": index, "content_index": 0, "text": text});
                self.event("response.reasoning_text.done", body, out);
                self.output[index] = reasoning_item(&id, &text);
                self.item_done(index, out);
            }
            Open::Message { index, text } => {
                let id = self.output[index]["id"].as_str().unwrap_or_default().to_owned();
                let at = json!({"item_id": id, "output_index": index, "content_index": 0});
                let mut done = at.clone();
                done["text"] = text.clone().into();
                done["logprobs"] = json!([]);
                self.event("response.output_text.done", done, out);
                let mut part = at;
                part["part"] = json!({"type": "output_text", "text": text, "annotations": []});
                self.event("response.content_part.done", part, out);
                self.output[index] = message_item(&id, &text, true);
                self.item_done(index, out);
            }
            Open::Call { index, slot } => {
                let Some(c) = self.calls.get(slot) else { return };
                let id = self.output[index]["id"].as_str().unwrap_or_default().to_owned();
                let item = call_item(id.clone(), &c.call_id, &c.name, &c.arguments, c.custom, true);
                if c.custom {
                    let input = item["input"].clone();
                    let body = json!({"item_id": id, "output_index": index, "delta": input});
                    self.event("response.custom_tool_call_input.delta", body, out);
                    let body = json!({"item_id": id, "output_index": index, "input": input});
                    self.event("response.custom_tool_call_input.done", body, out);
                } else {
                    let body = json!({"item_id": id, "output_index": index, "name": c.name, "arguments": c.arguments});
                    self.event("response.function_call_arguments.done", body, out);
                }
                self.output[index] = item;
                self.item_done(index, out);
            }
        }
    }

    fn item_done(&mut self, index: usize, out: &mut Vec<u8>) {
        let item = self.output[index].clone();
        self.event("response.output_item.done", json!({"output_index": index, "item": item}), out);
    }

    /// The upstream's stream ended: close the open item and send the final event.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        self.close(out);
        self.ended = true;
        let finish = self.finish_reason.clone();
        let status = status_of(finish.as_deref());
        let usage = self.usage.as_ref().map(responses_usage);
        let r = self.frame.response(status, self.output.clone(), usage, finish.as_deref());
        let kind = if status == "completed" { "response.completed" } else { "response.incomplete" };
        self.event(kind, json!({ "response": r }), out);
    }

    /// The upstream failed: `response.failed` with `message` (and `code`).
    pub(crate) fn fail(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(out);
        self.ended = true;
        let mut r = self.frame.response("failed", self.output.clone(), None, None);
        r["error"] = json!({"code": code, "message": message});
        self.event("response.failed", json!({ "response": r }), out);
    }
}
