//! OpenAI `chat.completion.chunk` stream → Anthropic Messages SSE event stream.
//!
//! The caller owns the SSE framing on both sides: it parses each upstream `data:` payload
//! into a `Value` and feeds it to [`AnthropicStreamEncoder::on_chunk`], calls
//! [`finish`](AnthropicStreamEncoder::finish) at `[DONE]` (or at EOF after a
//! `finish_reason`) and [`fail`](AnthropicStreamEncoder::fail) when the upstream breaks,
//! and writes the bytes the encoder appends (`event: <type>\ndata: <compact json>\n\n`).
//!
//! Protocol facts this relies on:
//!
//! * OpenAI: a role chunk, content chunks (`delta.content`, `delta.reasoning_content` or
//!   `delta.reasoning`, `delta.tool_calls[]` fragments keyed by `index`, the first one
//!   with `id` and `function.name`), a chunk with `finish_reason`, then, when
//!   `stream_options.include_usage` was sent, a usage chunk with `choices: []`. vLLM's
//!   `continuous_usage_stats` puts cumulative `usage` on every chunk; the last one seen
//!   wins. A failure mid-stream arrives as `data: {"error": {...}}`.
//! * Anthropic: `message_start` (a message with empty `content` and zero usage) and a
//!   `ping`; per block `content_block_start` → `content_block_delta`s → `content_block_stop`,
//!   blocks strictly sequential (index 0, 1, 2 …, each closed exactly once, before the
//!   next opens); then `message_delta` (stop reason and **cumulative** usage, where
//!   `input_tokens` excludes cached tokens) and `message_stop`. An `error` event may come
//!   at any point and ends the stream (no `message_stop` after it).
//!
//! Mapping: reasoning → a `thinking` block (`thinking_delta`; `signature` stays empty, an
//! OpenAI server has nothing to sign), text → a `text` block (`text_delta`), each tool
//! call → a `tool_use` block whose `input_json_delta.partial_json` fragments are the
//! upstream `arguments` fragments verbatim, so their concatenation is the arguments JSON.
//! A change of kind closes the open block and opens the next; empty strings and
//! role-only chunks produce nothing. The stop reason follows [`super::stop_reason`].
//!
//! Choices made where the protocols leave room:
//!
//! * A stream that ends without any block gets one empty `text` block, as the
//!   non-streamed translation does (Anthropic never returns `content: []`).
//! * Without upstream usage, `output_tokens` is the number of chunks that produced a delta
//!   (`usage_estimated` says so) and the input
//!   counts are 0.
//! * Chunks are read by the wire's OpenAI conventions ([`crate::wire::openai`]), as the
//!   recorder's assembler reads them: which choice, which reasoning field, content parts
//!   and refusals, and which call a tool-call fragment continues (by `index`, or by `id`
//!   when a fragment carries a new one: some servers number every call 0). A fragment for
//!   a call whose block is already closed (servers stream calls one after another, so
//!   this does not happen in practice) is dropped: an Anthropic block cannot reopen.
//! * An `{"error": …}` payload passed to `on_chunk` is handled as [`fail`](AnthropicStreamEncoder::fail)
//!   with the type from [`super::error_body::stream_error`].

use serde_json::{json, Value};

use super::error_body::{anthropic_error, stream_error};
use super::ids::generate_tool_use_id;
use super::stop_reason::Stop;
use super::usage::{anthropic_usage_with_output, openai_counts};
use crate::wire::openai::{Answer, Choice, Message, ToolCall, ToolCallSlots};

/// Turns parsed OpenAI stream chunks into Anthropic SSE bytes; one per response.
#[derive(Debug)]
pub(crate) struct AnthropicStreamEncoder {
    message_id: String,
    model: String,
    started: bool,
    outcome: Option<Outcome>,
    open: Option<OpenBlock>,
    /// Blocks started so far, i.e. the index of the next one.
    blocks: usize,
    /// The tool calls that got a `tool_use` block, in block order.
    tool_calls: ToolCallSlots,
    finish_reason: Option<String>,
    /// vLLM's `choices[].stop_reason`: the stop string or token that ended generation.
    matched_stop: Option<Value>,
    usage: Option<Value>,
    content_chunks: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Thinking,
    Text,
    /// The `ordinal`-th tool call of the stream (see `tool_calls`).
    ToolUse {
        ordinal: usize,
    },
}

#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    index: usize,
    kind: BlockKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stopped,
    Failed,
}

impl AnthropicStreamEncoder {
    /// `message_id` (see [`super::ids::generate_message_id`]) and `model` go into
    /// `message_start`.
    pub(crate) fn new(message_id: String, model: String) -> Self {
        AnthropicStreamEncoder {
            message_id,
            model,
            started: false,
            outcome: None,
            open: None,
            blocks: 0,
            tool_calls: ToolCallSlots::default(),
            finish_reason: None,
            matched_stop: None,
            usage: None,
            content_chunks: 0,
        }
    }

    /// Appends the Anthropic SSE bytes (`event: X\ndata: {json}\n\n`, compact JSON) this
    /// chunk produces. Ignored once the stream has finished or failed.
    pub(crate) fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if self.outcome.is_some() {
            return;
        }
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let (error_type, message) = stream_error(error);
            self.fail(error_type, &message, out);
            return;
        }
        let mut answer = Answer::from_value(chunk);
        if let Some(usage) = answer.take_usage() {
            self.usage = Some(usage);
        }
        self.start(out);
        let Some(choice) = answer.first_choice() else {
            return;
        };
        if let Some(delta) = choice.delta() {
            if self.on_delta(delta, out) {
                self.content_chunks += 1;
            }
        }
        self.remember_finish(choice);
    }

    /// Upstream stream ended normally (`[DONE]`, or EOF after a `finish_reason`): closes
    /// the open block, emits `message_delta` (stop reason, cumulative usage) and
    /// `message_stop`. Idempotent; does nothing after [`fail`](Self::fail).
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.outcome.is_some() {
            return;
        }
        self.start(out);
        if self.blocks == 0 {
            self.open_block(BlockKind::Text, json!({"type": "text", "text": ""}), out);
        }
        self.close_block(out);
        let stop = self.stop();
        let message_delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop.reason, "stop_sequence": stop.sequence},
            "usage": self.final_usage(),
        });
        emit(out, "message_delta", &message_delta);
        emit(out, "message_stop", &json!({"type": "message_stop"}));
        self.outcome = Some(Outcome::Stopped);
    }

    /// Upstream failed mid-stream (connection cut, or an OpenAI `{"error": …}` payload):
    /// emits `event: error` with `{"type":"error","error":{"type","message"}}`, where
    /// `error_type` is an Anthropic error type (`api_error`, `overloaded_error`, …).
    /// Nothing follows it, not even `message_stop`. Does nothing once finished.
    pub(crate) fn fail(&mut self, error_type: &str, message: &str, out: &mut Vec<u8>) {
        if self.outcome.is_some() {
            return;
        }
        emit(out, "error", &anthropic_error(error_type, message));
        self.outcome = Some(Outcome::Failed);
    }

    /// `message_start` has been sent.
    #[cfg(test)]
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    /// `message_stop` has been sent.
    #[cfg(test)]
    pub(crate) fn finished(&self) -> bool {
        self.outcome == Some(Outcome::Stopped)
    }

    /// An `error` event has been sent.
    #[cfg(test)]
    pub(crate) fn failed(&self) -> bool {
        self.outcome == Some(Outcome::Failed)
    }

    /// The last upstream `usage` object, verbatim.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> Option<&Value> {
        self.usage.as_ref()
    }

    /// No upstream usage was seen: `output_tokens` is a chunk count and input counts are 0.
    #[cfg(test)]
    pub(crate) fn usage_estimated(&self) -> bool {
        self.usage.is_none()
    }

    /// The `output_tokens` reported (or to be reported) in `message_delta`.
    pub(crate) fn output_tokens(&self) -> u64 {
        match &self.usage {
            Some(usage) => openai_counts(Some(usage)).output,
            None => self.content_chunks,
        }
    }

    /// Chunks that produced at least one content delta (or opened a tool call).
    #[cfg(test)]
    pub(crate) fn content_chunks(&self) -> u64 {
        self.content_chunks
    }

    /// The upstream `finish_reason`, verbatim, once one has arrived.
    #[cfg(test)]
    pub(crate) fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }

    /// The Anthropic `stop_reason` for what has been seen so far.
    #[cfg(test)]
    pub(crate) fn stop_reason(&self) -> &'static str {
        self.stop().reason
    }

    /// The Anthropic `stop_sequence` (a vLLM-reported stop string), if any.
    #[cfg(test)]
    pub(crate) fn stop_sequence(&self) -> Option<String> {
        self.stop().sequence
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let counts = openai_counts(self.usage.as_ref());
        let message_start = json!({"type": "message_start", "message": {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": anthropic_usage_with_output(&counts, counts.output),
        }});
        emit(out, "message_start", &message_start);
        emit(out, "ping", &json!({"type": "ping"}));
    }

    fn remember_finish(&mut self, choice: &Choice<'_>) {
        if let Some(reason) = choice.finish_reason() {
            self.finish_reason = Some(reason.to_owned());
        }
        if let Some(matched) = choice.matched_stop() {
            self.matched_stop = Some(matched.clone());
        }
    }

    /// Emits the deltas of one `delta` object in vLLM's order (thinking, text, tool
    /// calls); true when it produced any.
    fn on_delta(&mut self, delta: &Message<'_>, out: &mut Vec<u8>) -> bool {
        let mut produced = false;
        if let Some(thinking) = delta.reasoning() {
            let start = || json!({"type": "thinking", "thinking": "", "signature": ""});
            let index = self.block_index(BlockKind::Thinking, start, out);
            let delta = json!({"type": "thinking_delta", "thinking": thinking});
            emit_delta(out, index, delta);
            produced = true;
        }
        if let Some(text) = delta.visible_text() {
            let start = || json!({"type": "text", "text": ""});
            let index = self.block_index(BlockKind::Text, start, out);
            let delta = json!({"type": "text_delta", "text": text});
            emit_delta(out, index, delta);
            produced = true;
        }
        for call in delta.tool_calls() {
            produced |= self.on_tool_call(&call, out);
        }
        produced
    }

    /// One `tool_calls[]` fragment: opens a block for a new call, then forwards its
    /// `arguments` text; true when it produced an event.
    fn on_tool_call(&mut self, fragment: &ToolCall<'_>, out: &mut Vec<u8>) -> bool {
        let (ordinal, is_new) = self.tool_calls.place(fragment);
        let kind = BlockKind::ToolUse { ordinal };
        if !is_new && !self.is_open(kind) {
            return false;
        }
        let index = self.block_index(kind, || tool_use_block(fragment), out);
        let arguments = fragment.arguments().text();
        if !arguments.is_empty() {
            let delta = json!({"type": "input_json_delta", "partial_json": arguments});
            emit_delta(out, index, delta);
        }
        is_new || !arguments.is_empty()
    }

    fn is_open(&self, kind: BlockKind) -> bool {
        self.open.is_some_and(|open| open.kind == kind)
    }

    /// The index of the open block of `kind`, opening one (and closing the previous
    /// block) when another kind is open.
    fn block_index(&mut self, kind: BlockKind, start: impl FnOnce() -> Value, out: &mut Vec<u8>) -> usize {
        match self.open {
            Some(open) if open.kind == kind => open.index,
            _ => {
                self.close_block(out);
                self.open_block(kind, start(), out)
            }
        }
    }

    fn open_block(&mut self, kind: BlockKind, content_block: Value, out: &mut Vec<u8>) -> usize {
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some(OpenBlock { index, kind });
        let event = json!({"type": "content_block_start", "index": index, "content_block": content_block});
        emit(out, "content_block_start", &event);
        index
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            let event = json!({"type": "content_block_stop", "index": open.index});
            emit(out, "content_block_stop", &event);
        }
    }

    fn stop(&self) -> Stop {
        Stop::of_choice(self.finish_reason.as_deref(), self.matched_stop.as_ref(), !self.tool_calls.is_empty())
    }

    fn final_usage(&self) -> Value {
        anthropic_usage_with_output(&openai_counts(self.usage.as_ref()), self.output_tokens())
    }
}

/// The `content_block` of a tool call's `content_block_start`: upstream id (or a fresh
/// `toolu_…`), function name, empty input (the arguments follow as deltas).
fn tool_use_block(call: &ToolCall<'_>) -> Value {
    let id = call.id.map_or_else(generate_tool_use_id, str::to_owned);
    json!({"type": "tool_use", "id": id, "name": call.name(), "input": {}})
}

fn emit_delta(out: &mut Vec<u8>, index: usize, delta: Value) {
    let event = json!({"type": "content_block_delta", "index": index, "delta": delta});
    emit(out, "content_block_delta", &event);
}

/// One SSE event: `event: <name>\ndata: <compact json>\n\n`.
fn emit(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}
