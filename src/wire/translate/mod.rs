//! Anthropic Messages ⇄ OpenAI Chat Completions, so that an Anthropic client (Claude
//! Code) runs unchanged against an OpenAI-compatible server (vLLM, llama.cpp).
//!
//! Direction of each piece, as the record proxy uses them:
//!
//! * [`anthropic_to_openai_request`] — the client's `/v1/messages` body becomes a
//!   `/v1/chat/completions` body ([`request`], [`messages`]).
//! * [`openai_to_anthropic_response`] — a non-streamed `chat.completion` becomes an
//!   Anthropic `message` ([`response`]).
//! * [`AnthropicStreamEncoder`] — a stream of `chat.completion.chunk` payloads becomes the
//!   Anthropic SSE event stream ([`stream`]).
//! * [`openai_error_to_anthropic`] — any upstream error body becomes an Anthropic error
//!   object ([`error_body`]).
//!
//! And for the replay: [`openai_to_anthropic_request`], the reverse of the first, turns a
//! `/v1/chat/completions` body into a `/v1/messages` body so OpenAI-form recordings can be
//! replayed against an Anthropic endpoint ([`to_anthropic`]).
//!
//! OpenAI Responses ⇄ Chat Completions, so a Responses client (Codex CLI) runs against a
//! Chat-only server, and recordings of either replay against the other:
//!
//! * [`responses_to_chat_request`] — a `/v1/responses` body becomes a
//!   `/v1/chat/completions` body ([`responses_request`]);
//! * [`chat_to_responses_response`] and [`ResponsesStreamEncoder`] — a `chat.completion`
//!   or its chunk stream becomes a `response` object or the Responses event stream
//!   ([`responses_response`]);
//! * [`chat_to_responses_request`] — the reverse request, for the replay
//!   ([`responses_from_chat`]). An upstream error body needs no translation: the Responses
//!   API's HTTP errors have the Chat Completions shape.
//!
//! Shared conventions live in one place each: how an OpenAI answer is read (which choice,
//! reasoning, text, tool calls, the way each server spells them) is the wire's
//! [`crate::wire::openai`], which the recorder's assembler reads answers with too, and
//! its token counts come from [`crate::wire::usage`]; here are [`stop_reason`]
//! (`finish_reason` → `stop_reason`), [`usage`] (the Anthropic usage object: its
//! `input_tokens` excludes cached tokens, OpenAI's `prompt_tokens` includes them),
//! [`ids`] (generated `msg_…` / `toolu_…` ids) and [`error`] (what a rejected request
//! says).
//!
//! Everything here is a pure function or a state machine over `serde_json::Value`: no I/O,
//! and no panic on malformed input (requests fail with a [`TranslateError`](error::TranslateError) naming the
//! field; responses and streams degrade gracefully).

pub(crate) mod error;
pub(crate) mod error_body;
pub(crate) mod ids;
pub(crate) mod messages;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod responses_from_chat;
pub(crate) mod responses_request;
pub(crate) mod responses_response;
pub(crate) mod stop_reason;
pub(crate) mod stream;
pub(crate) mod to_anthropic;
pub(crate) mod usage;

pub(crate) use error_body::openai_error_to_anthropic;
pub(crate) use request::anthropic_to_openai_request;
pub(crate) use response::openai_to_anthropic_response;
pub(crate) use responses_from_chat::chat_to_responses_request;
pub(crate) use responses_request::responses_to_chat_request;
pub(crate) use responses_response::{chat_to_responses_response, ResponseFrame, ResponsesStreamEncoder};
pub(crate) use stream::AnthropicStreamEncoder;
pub(crate) use to_anthropic::openai_to_anthropic_request;

#[cfg(test)]
mod request_tests;
#[cfg(test)]
mod responses_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod to_anthropic_tests;
