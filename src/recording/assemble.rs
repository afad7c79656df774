//! Reassembles an answer — a stream of SSE events or a JSON body — into what a recording
//! keeps: the result (text, reasoning, tool calls, stop reason), the usage, and when the
//! output-bearing events arrived.
//!
//! "Output-bearing" means the event carried model output: OpenAI `delta.content`,
//! `delta.reasoning_content` / `delta.reasoning`, or tool-call names and arguments;
//! Anthropic `text_delta`, `thinking_delta`, `input_json_delta`; Responses
//! `response.output_text.delta` (and `refusal.delta`), `response.reasoning_text.delta`,
//! `response.reasoning_summary_text.delta`, `response.function_call_arguments.delta`
//! (and `custom_tool_call_input.delta`), a tool call's `output_item.added` that names
//! it (as Chat's first tool-call chunk does), and an `output_item.done` that brings
//! output no delta brought. Role chunks, pings, usage chunks, block starts and stops,
//! Responses lifecycle events (`response.created`, `.in_progress`, part boundaries,
//! `.done` repeats) are not output: TTFT is never taken from them.
//!
//! An OpenAI answer is read by the wire's OpenAI conventions ([`crate::wire::openai`]:
//! which choice, which reasoning field, content parts and refusals, which call a tool-call
//! fragment continues), the same reading record's translator uses, so a translated call's
//! two sides are assembled alike; usage counts come from [`crate::wire::usage`].

use std::borrow::Cow;

use serde_json::Value;

use super::line::{CallResult, ToolCall, Usage};
use super::usage;
use crate::wire::openai::{self, ToolCallSlots};
use crate::wire::responses::{self, Meaning};
use crate::wire::Api;

/// Everything learnt from one answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Assembled {
    pub result: CallResult,
    /// The provider's usage, when it sent one.
    pub usage: Option<Usage>,
    pub ttft_ms: Option<f64>,
    pub last_token_ms: Option<f64>,
    pub events: u64,
    pub content_events: u64,
    /// Characters of output (text, reasoning, tool names and arguments) received so far.
    pub output_chars: usize,
    /// An error reported inside the answer (OpenAI `{"error":…}`, Anthropic `event: error`,
    /// Responses `error` or `response.failed`).
    pub error: Option<String>,
    /// The stream's own end marker arrived (`[DONE]`, `message_stop`, or Responses'
    /// `response.completed` / `.incomplete` / `.failed`).
    pub ended: bool,
}

/// Feed it the events of one streamed answer, in order.
pub(crate) struct Assembler {
    api: Api,
    out: Assembled,
    openai_usage: Option<Value>,
    /// OpenAI: which call each tool-call fragment continues (ordinal = position in `result.tool_calls`).
    openai_tool_calls: ToolCallSlots,
    anthropic_usage: Vec<Value>,
    /// Anthropic block index → position in `result.tool_calls`.
    tool_blocks: Vec<(u64, usize)>,
    /// Responses: the `usage` of the final event.
    responses_usage: Option<Value>,
    /// Responses: (item id, output index) of each tool-call item → position in `result.tool_calls`.
    tool_items: Vec<(String, Option<u64>, usize)>,
    /// Responses: whether any text / reasoning delta came (a `.done` item then adds none).
    responses_text_seen: bool,
    responses_reasoning_seen: bool,
}

impl Assembler {
    pub(crate) fn new(api: Api) -> Self {
        Assembler {
            api,
            out: Assembled::default(),
            openai_usage: None,
            openai_tool_calls: ToolCallSlots::default(),
            anthropic_usage: vec![],
            tool_blocks: vec![],
            responses_usage: None,
            tool_items: vec![],
            responses_text_seen: false,
            responses_reasoning_seen: false,
        }
    }

    /// One event: its `data` and arrival time (ms). Event names are not needed: both APIs
    /// put the type in the data (Anthropic `type`), and OpenAI has none.
    ///
    /// The data is read into the few fields assembling needs (strings borrowed from `data`
    /// where they have no escapes; everything else skipped unbuilt), not into a
    /// `serde_json::Value`: this runs for every event of every recorded and replayed
    /// stream. An event that is not JSON, or whose fields have other types than the API's,
    /// is counted but adds nothing.
    pub(crate) fn on_event(&mut self, data: &str, t_ms: f64) {
        self.out.events += 1;
        let trimmed = data.trim();
        if trimmed == "[DONE]" {
            self.out.ended = true;
            return;
        }
        let had_output = match self.api {
            Api::OpenAi => openai::Answer::from_json(trimmed).is_some_and(|chunk| self.openai_chunk(chunk)),
            Api::Anthropic => serde_json::from_str(trimmed).is_ok_and(|event| self.anthropic_event(event, trimmed)),
            Api::Responses => responses::Event::from_json(trimmed).is_some_and(|event| self.responses_event(&event)),
        };
        if had_output {
            self.out.content_events += 1;
            self.out.ttft_ms.get_or_insert(t_ms);
            self.out.last_token_ms = Some(t_ms);
        }
    }

    /// What has been assembled so far (usage comes with [`Self::finish`]).
    pub(crate) fn so_far(&self) -> &Assembled {
        &self.out
    }

    pub(crate) fn finish(mut self) -> Assembled {
        self.out.usage = match self.api {
            Api::OpenAi => self.openai_usage.as_ref().map(usage::from_openai),
            Api::Anthropic if !self.anthropic_usage.is_empty() => Some(usage::from_anthropic(&self.anthropic_usage)),
            Api::Anthropic => None,
            Api::Responses => self.responses_usage.as_ref().map(usage::from_responses),
        };
        self.out
    }

    /// Returns whether the Responses event carried output.
    fn responses_event(&mut self, event: &responses::Event<'_>) -> bool {
        match event.meaning() {
            Meaning::Text(t) if !t.is_empty() => {
                self.responses_text_seen = true;
                push_output(&mut self.out.result.text, t, &mut self.out.output_chars);
                true
            }
            Meaning::Reasoning(t) if !t.is_empty() => {
                self.responses_reasoning_seen = true;
                push_output(&mut self.out.result.thinking, t, &mut self.out.output_chars);
                true
            }
            Meaning::ItemAdded(item) => {
                let Some(call) = responses::item_call(item) else { return false };
                let name_given = !call.name.is_empty();
                self.add_tool_item(&call, event.output_index);
                if name_given {
                    self.out.output_chars += call.name.chars().count();
                }
                name_given
            }
            Meaning::Arguments { item_id, output_index, delta } if !delta.is_empty() => {
                let found = self.tool_items.iter().rev().find(|(id, index, _)| match item_id {
                    Some(item_id) if !id.is_empty() => id == item_id,
                    _ => output_index.is_some() && *index == output_index,
                });
                let pos = match found.or(self.tool_items.last()) {
                    Some(&(_, _, pos)) => pos,
                    None => {
                        let call =
                            responses::ItemCall { item_id: item_id.unwrap_or_default().into(), ..Default::default() };
                        self.add_tool_item(&call, output_index)
                    }
                };
                push_output(&mut self.out.result.tool_calls[pos].arguments, delta, &mut self.out.output_chars);
                true
            }
            Meaning::ItemDone(item) => self.responses_item_done(item, event.output_index),
            Meaning::End(response) => {
                self.out.ended = true;
                self.out.result.stop_reason = responses::stop_reason(response);
                if let Some(why) = responses::failure(response) {
                    self.out.error = Some(why);
                }
                self.responses_usage = responses::usage(response).cloned();
                false
            }
            Meaning::Error(why) => {
                self.out.error = Some(why);
                false
            }
            _ => false,
        }
    }

    /// A tool-call item seen for the first time; returns its position in `result.tool_calls`.
    fn add_tool_item(&mut self, call: &responses::ItemCall, output_index: Option<u64>) -> usize {
        let pos = self.out.result.tool_calls.len();
        self.out.result.tool_calls.push(ToolCall {
            id: call.call_id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        });
        self.tool_items.push((call.item_id.clone(), output_index, pos));
        pos
    }

    /// An `output_item.done`: what its item holds that no delta brought is added (a
    /// server may send whole items only). Returns whether it added output.
    fn responses_item_done(&mut self, item: &Value, output_index: Option<u64>) -> bool {
        let chars = &mut self.out.output_chars;
        match responses::item_type(item) {
            "message" if !self.responses_text_seen => {
                let text = responses::message_text(item);
                !text.is_empty() && {
                    push_output(&mut self.out.result.text, &text, chars);
                    true
                }
            }
            "reasoning" if !self.responses_reasoning_seen => {
                let text = responses::reasoning_text(item);
                !text.is_empty() && {
                    push_output(&mut self.out.result.thinking, &text, chars);
                    true
                }
            }
            _ => {
                let Some(call) = responses::item_call(item) else { return false };
                let known = self.tool_items.iter().find(|(id, _, _)| !id.is_empty() && *id == call.item_id);
                match known {
                    Some(&(_, _, pos)) => {
                        let slot = &mut self.out.result.tool_calls[pos];
                        let mut added = false;
                        if slot.arguments.is_empty() && !call.arguments.is_empty() {
                            push_output(&mut slot.arguments, &call.arguments, chars);
                            added = true;
                        }
                        if slot.id.is_empty() {
                            slot.id = call.call_id;
                        }
                        added
                    }
                    None => {
                        *chars += call.name.chars().count() + call.arguments.chars().count();
                        self.add_tool_item(&call, output_index);
                        true
                    }
                }
            }
        }
    }

    /// Returns whether the chunk carried output.
    fn openai_chunk(&mut self, mut chunk: openai::Answer<'_>) -> bool {
        if let Some(err) = chunk.error() {
            self.out.error = Some(error_message(err));
            return false;
        }
        if let Some(u) = chunk.take_usage() {
            self.openai_usage = Some(u);
        }
        let Some(choice) = chunk.first_choice() else {
            return false;
        };
        if let Some(reason) = choice.finish_reason() {
            self.out.result.stop_reason = Some(reason.to_owned());
        }
        let Some(delta) = choice.delta() else {
            return false;
        };
        let r = &mut self.out.result;
        let chars = &mut self.out.output_chars;
        let mut output = false;
        if let Some(text) = delta.visible_text() {
            push_output(&mut r.text, text, chars);
            output = true;
        }
        if let Some(text) = delta.reasoning() {
            push_output(&mut r.thinking, text, chars);
            output = true;
        }
        for call in delta.tool_calls() {
            let (ordinal, is_new) = self.openai_tool_calls.place(&call);
            if is_new {
                r.tool_calls.push(ToolCall { id: call.id.unwrap_or_default().to_owned(), ..ToolCall::default() });
            }
            let slot = &mut r.tool_calls[ordinal];
            let name = call.name();
            if !name.is_empty() {
                push_output(&mut slot.name, name, chars);
                output = true;
            }
            let args = call.arguments().text();
            if !args.is_empty() {
                push_output(&mut slot.arguments, &args, chars);
                output = true;
            }
        }
        output
    }

    /// Returns whether the event carried output (`data`: its text, for an error without details).
    fn anthropic_event(&mut self, event: fields::AnthropicEvent<'_>, data: &str) -> bool {
        let r = &mut self.out.result;
        match event.kind.as_deref() {
            Some("message_start") => {
                if let Some(u) = event.message.and_then(|m| m.usage) {
                    self.anthropic_usage.push(u);
                }
                false
            }
            Some("content_block_start") => {
                let block = event.content_block.unwrap_or_default();
                if block.kind.as_deref() == Some("tool_use") {
                    let s = |v: Option<Cow<'_, str>>| v.map(Cow::into_owned).unwrap_or_default();
                    self.tool_blocks.push((event.index.unwrap_or(0), r.tool_calls.len()));
                    r.tool_calls.push(ToolCall { id: s(block.id), name: s(block.name), arguments: String::new() });
                }
                false
            }
            Some("content_block_delta") => {
                let Some(delta) = event.delta else {
                    return false;
                };
                let chars = &mut self.out.output_chars;
                match delta.kind.as_deref() {
                    Some("text_delta") => non_empty(&delta.text).map(|t| push_output(&mut r.text, t, chars)).is_some(),
                    Some("thinking_delta") => {
                        non_empty(&delta.thinking).map(|t| push_output(&mut r.thinking, t, chars)).is_some()
                    }
                    Some("input_json_delta") => {
                        let Some(part) = non_empty(&delta.partial_json) else {
                            return false;
                        };
                        let index = event.index.unwrap_or(0);
                        if let Some(&(_, pos)) = self.tool_blocks.iter().rev().find(|(i, _)| *i == index) {
                            push_output(&mut r.tool_calls[pos].arguments, part, chars);
                        }
                        true
                    }
                    _ => false,
                }
            }
            Some("message_delta") => {
                if let Some(reason) = event.delta.and_then(|d| d.stop_reason) {
                    r.stop_reason = Some(reason.into_owned());
                }
                if let Some(u) = event.usage {
                    self.anthropic_usage.push(u);
                }
                false
            }
            Some("message_stop") => {
                self.out.ended = true;
                false
            }
            Some("error") => {
                self.out.error = Some(match event.error {
                    Some(err) => error_message(&err),
                    None => data.to_string(),
                });
                false
            }
            _ => false,
        }
    }
}

/// The fields of Anthropic events that assembling reads; serde skips the rest.
mod fields {
    use std::borrow::Cow;

    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize)]
    pub(crate) struct AnthropicEvent<'a> {
        #[serde(borrow, rename = "type")]
        pub kind: Option<Cow<'a, str>>,
        pub index: Option<u64>,
        pub message: Option<MessageStart>,
        #[serde(borrow)]
        pub content_block: Option<Block<'a>>,
        #[serde(borrow)]
        pub delta: Option<BlockDelta<'a>>,
        pub usage: Option<Value>,
        pub error: Option<Value>,
    }

    #[derive(Deserialize)]
    pub(crate) struct MessageStart {
        pub usage: Option<Value>,
    }

    #[derive(Deserialize, Default)]
    pub(crate) struct Block<'a> {
        #[serde(borrow, rename = "type")]
        pub kind: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub id: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub name: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub(crate) struct BlockDelta<'a> {
        #[serde(borrow, rename = "type")]
        pub kind: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub text: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub thinking: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub partial_json: Option<Cow<'a, str>>,
        #[serde(borrow)]
        pub stop_reason: Option<Cow<'a, str>>,
    }
}

fn non_empty<'a>(text: &'a Option<Cow<'_, str>>) -> Option<&'a str> {
    text.as_deref().filter(|t| !t.is_empty())
}

fn push_output(dst: &mut String, s: &str, chars: &mut usize) {
    dst.push_str(s);
    *chars += s.chars().count();
}

/// A non-streamed answer body (`chat.completion` or `message`).
pub(crate) fn assemble_body(api: Api, body: &Value) -> Assembled {
    let mut out = Assembled { ended: true, ..Default::default() };
    if let Some(err) = body.get("error").filter(|e| !e.is_null()) {
        out.error = Some(error_message(err));
        return out;
    }
    let r = &mut out.result;
    match api {
        Api::OpenAi => {
            let answer = openai::Answer::from_value(body);
            let choice = answer.first_choice();
            if let Some(message) = choice.and_then(openai::Choice::message) {
                r.text = message.visible_text().unwrap_or_default().to_owned();
                r.thinking = message.reasoning().unwrap_or_default().to_owned();
                for call in message.tool_calls() {
                    let id = call.id.unwrap_or_default().to_owned();
                    r.tool_calls.push(ToolCall {
                        id,
                        name: call.name().to_owned(),
                        arguments: call.arguments().text().into_owned(),
                    });
                }
            }
            r.stop_reason = choice.and_then(openai::Choice::finish_reason).map(str::to_owned);
            out.usage = answer.usage().map(usage::from_openai);
        }
        Api::Anthropic => {
            for block in body.get("content").and_then(Value::as_array).into_iter().flatten() {
                let s = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or_default();
                match s("type") {
                    "text" => r.text.push_str(s("text")),
                    "thinking" => r.thinking.push_str(s("thinking")),
                    "tool_use" => r.tool_calls.push(ToolCall {
                        id: s("id").into(),
                        name: s("name").into(),
                        arguments: block.get("input").map(Value::to_string).unwrap_or_default(),
                    }),
                    _ => {}
                }
            }
            r.stop_reason = body.get("stop_reason").and_then(Value::as_str).map(str::to_string);
            out.usage = body.get("usage").filter(|u| u.is_object()).map(|u| usage::from_anthropic([u]));
        }
        Api::Responses => {
            let output = responses::output(body);
            r.text = output.text;
            r.thinking = output.reasoning;
            r.tool_calls = output
                .calls
                .into_iter()
                .map(|c| ToolCall { id: c.call_id, name: c.name, arguments: c.arguments })
                .collect();
            r.stop_reason = responses::stop_reason(body);
            out.error = responses::failure(body);
            out.usage = responses::usage(body).map(usage::from_responses);
        }
    }
    out
}

fn error_message(err: &Value) -> String {
    match err.get("message").and_then(Value::as_str) {
        Some(m) => match err.get("type").and_then(Value::as_str) {
            Some(t) => format!("{t}: {m}"),
            None => m.to_string(),
        },
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_stream_ttft_skips_role_and_usage_chunks() {
        let mut a = Assembler::new(Api::OpenAi);
        a.on_event(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#, 1.0);
        a.on_event(r#"{"choices":[{"index":0,"delta":{"reasoning_content":"hm"}}]}"#, 2.0);
        a.on_event(r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#, 3.0);
        a.on_event(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"Bash","arguments":""}}]}}]}"#, 4.0);
        a.on_event(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]}}]}"#,
            5.0,
        );
        a.on_event(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#, 6.0);
        a.on_event(r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":8}}}"#, 7.0);
        a.on_event("[DONE]", 8.0);
        let out = a.finish();
        assert_eq!((out.ttft_ms, out.last_token_ms), (Some(2.0), Some(5.0)));
        assert_eq!((out.events, out.content_events), (8, 4));
        assert_eq!(out.result.text, "Hi");
        assert_eq!(out.result.thinking, "hm");
        assert_eq!(
            out.result.tool_calls,
            vec![ToolCall { id: "c1".into(), name: "Bash".into(), arguments: "{\"a\":1}".into() }]
        );
        assert_eq!(out.result.stop_reason.as_deref(), Some("tool_calls"));
        let u = out.usage.unwrap();
        assert_eq!((u.input_tokens, u.cache_read, u.output_tokens), (10, 8, 4));
        assert!(out.ended);
    }

    #[test]
    fn anthropic_stream_with_tool_use_and_cumulative_usage() {
        let events = [
            json!({"type":"message_start","message":{"usage":{"input_tokens":3,"cache_read_input_tokens":100,"output_tokens":1}}}),
            json!({"type":"ping"}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}),
            json!({"type":"content_block_stop","index":0}),
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t1","name":"Read","input":{}}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"p\":"}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}),
            json!({"type":"content_block_stop","index":1}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}),
            json!({"type":"message_stop"}),
        ];
        let mut a = Assembler::new(Api::Anthropic);
        for (i, e) in events.iter().enumerate() {
            a.on_event(&e.to_string(), i as f64);
        }
        let out = a.finish();
        assert_eq!(out.ttft_ms, Some(3.0));
        assert_eq!(out.content_events, 3);
        assert_eq!(out.result.tool_calls[0].arguments, "{\"p\":1}");
        let u = out.usage.unwrap();
        assert_eq!((u.input_tokens, u.output_tokens), (103, 9));
        assert!(out.ended);
    }

    #[test]
    fn responses_stream_ttft_skips_lifecycle_events() {
        let events = [
            json!({"type":"response.created","response":{"id":"r","status":"in_progress","output":[]}}),
            json!({"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"rs"}}),
            json!({"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":0,"delta":"plan"}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs","summary":[{"text":"plan"}]}}),
            json!({"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":""}}),
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"{\"c\":"}),
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"1}"}),
            json!({"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":"{\"c\":1}"}}),
            // A server that sends a whole item, no deltas: its output counts once.
            json!({"type":"response.output_item.done","output_index":2,"item":{"type":"custom_tool_call","id":"ctc","call_id":"call_2","name":"apply_patch","input":"P"}}),
            json!({"type":"response.completed","response":{"status":"completed","output":[],"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":20},"output_tokens":6}}}),
        ];
        let mut a = Assembler::new(Api::Responses);
        for (i, e) in events.iter().enumerate() {
            a.on_event(&e.to_string(), i as f64);
        }
        let out = a.finish();
        assert_eq!((out.ttft_ms, out.last_token_ms), (Some(2.0), Some(8.0)));
        assert_eq!((out.events, out.content_events), (10, 5));
        assert_eq!(out.result.thinking, "plan");
        assert_eq!(
            out.result.tool_calls,
            vec![
                ToolCall { id: "call_1".into(), name: "shell".into(), arguments: "{\"c\":1}".into() },
                ToolCall { id: "call_2".into(), name: "apply_patch".into(), arguments: "P".into() },
            ]
        );
        assert_eq!(out.output_chars, 4 + 5 + 7 + 11 + 1);
        assert_eq!(out.result.stop_reason.as_deref(), Some("completed"));
        let u = out.usage.unwrap();
        assert_eq!((u.input_tokens, u.cache_read, u.output_tokens), (30, 20, 6));
        assert!(out.ended);
        let mut a = Assembler::new(Api::Responses);
        a.on_event(r#"{"type":"error","code":"server_error","message":"boom"}"#, 1.0);
        let out = a.finish();
        assert_eq!((out.error.as_deref(), out.ended), (Some("server_error: boom"), false));
    }

    #[test]
    fn escaped_text_nulls_and_events_of_other_shapes() {
        let mut a = Assembler::new(Api::OpenAi);
        a.on_event(r#"{"choices":null,"usage":null}"#, 1.0);
        a.on_event(r#"{"choices":[{"delta":{"content":"a\"b\n\u00e9"},"finish_reason":null}]}"#, 2.0);
        a.on_event(r#"{"choices":[{"delta":{"content":["not","text"]}}]}"#, 3.0);
        a.on_event("not json", 4.0);
        let out = a.finish();
        assert_eq!(out.result.text, "a\"b\n\u{e9}");
        assert_eq!(out.output_chars, 5);
        assert_eq!((out.events, out.content_events, out.ttft_ms), (4, 1, Some(2.0)));
        assert_eq!(out.result.stop_reason, None);
        let mut a = Assembler::new(Api::Anthropic);
        a.on_event(r#"{"type":"error"}"#, 1.0);
        assert_eq!(a.finish().error.as_deref(), Some(r#"{"type":"error"}"#));
    }

    #[test]
    fn bodies_and_errors() {
        let out = assemble_body(
            Api::OpenAi,
            &json!({"choices":[{"message":{"content":null,"tool_calls":[
            {"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}),
        );
        assert_eq!(out.result.text, "");
        assert_eq!(out.result.tool_calls.len(), 1);
        let out = assemble_body(
            Api::Anthropic,
            &json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        );
        assert_eq!(out.error.as_deref(), Some("overloaded_error: Overloaded"));
        let mut a = Assembler::new(Api::OpenAi);
        a.on_event(r#"{"error":{"message":"boom","type":"server_error"}}"#, 1.0);
        assert_eq!(a.finish().error.as_deref(), Some("server_error: boom"));
    }
}

#[cfg(test)]
mod cost {
    use super::*;
    use serde::Deserialize;
    use std::time::Instant;

    /// The strict borrowed chunk the assembler read before the wire's lenient reading
    /// (kept here as the cost to beat).
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct StrictChunk<'a> {
        #[serde(borrow)]
        choices: Option<Vec<StrictChoice<'a>>>,
        usage: Option<Value>,
        error: Option<Value>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct StrictChoice<'a> {
        #[serde(borrow)]
        delta: Option<StrictDelta<'a>>,
        #[serde(borrow)]
        finish_reason: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct StrictDelta<'a> {
        #[serde(borrow)]
        content: Option<Cow<'a, str>>,
        #[serde(borrow)]
        reasoning_content: Option<Cow<'a, str>>,
        #[serde(borrow)]
        reasoning: Option<Cow<'a, str>>,
        #[serde(borrow)]
        tool_calls: Option<Vec<StrictToolCall<'a>>>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct StrictToolCall<'a> {
        index: Option<u64>,
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
        #[serde(borrow)]
        function: Option<StrictFunction<'a>>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct StrictFunction<'a> {
        #[serde(borrow)]
        name: Option<Cow<'a, str>>,
        #[serde(borrow)]
        arguments: Option<Cow<'a, str>>,
    }

    fn per_run(runs: u32, mut f: impl FnMut()) -> std::time::Duration {
        let t = Instant::now();
        for _ in 0..runs {
            f();
        }
        t.elapsed() / runs
    }

    /// `cargo test --release --lib assemble::cost -- --ignored --nocapture`: what reading
    /// and assembling one OpenAI event costs, beside the strict reading it replaced and
    /// parsing the event into a `serde_json::Value`.
    #[test]
    #[ignore]
    fn openai_event_cost() {
        let text = r#"{"id":"chatcmpl-8f3a","object":"chat.completion.chunk","created":1764720000,"model":"Qwen/Qwen3-Coder-30B-A3B-Instruct","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}"#;
        let tool = r#"{"id":"chatcmpl-8f3a","object":"chat.completion.chunk","created":1764720000,"model":"Qwen/Qwen3-Coder-30B-A3B-Instruct","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"src/"}}]},"logprobs":null,"finish_reason":null}]}"#;
        let runs = 200_000;
        for (name, data) in [("text", text), ("tool-call", tool)] {
            let read = per_run(runs, || {
                std::hint::black_box(openai::Answer::from_json(data).unwrap());
            });
            let strict = per_run(runs, || {
                std::hint::black_box(serde_json::from_str::<StrictChunk>(data).unwrap());
            });
            let value = per_run(runs, || {
                std::hint::black_box(serde_json::from_str::<Value>(data).unwrap());
            });
            let mut assembler = Assembler::new(Api::OpenAi);
            let mut t = 0.0;
            let assembled = per_run(runs, || {
                t += 1.0;
                assembler.on_event(data, t);
            });
            assert_eq!(assembler.so_far().content_events, u64::from(runs));
            eprintln!(
                "{name} chunk: read {read:?}, assembled {assembled:?} an event \
                 (the strict reading: {strict:?}; into a Value: {value:?})"
            );
        }
    }
}

#[cfg(test)]
mod agreement_tests;
