//! The mock's OpenAI Responses wire format (`POST /v1/responses`: `response` bodies and
//! the Responses event stream), in the shapes the `openai` SDK's `client.responses`
//! parses and Codex CLI reads.
//!
//! The mock plans one answer whatever the API ([`super::answer`]); for Responses it
//! encodes that answer as Chat Completions and turns it into Responses with the wire's
//! translator ([`crate::wire::translate::ResponsesStreamEncoder`],
//! [`crate::wire::translate::chat_to_responses_response`]), the same code `asb record`
//! answers a Responses client with when its upstream has only Chat Completions. So the
//! mock and the recording proxy cannot disagree on what a Responses stream looks like,
//! and the mock's timing (one event per token, the same schedule) is the Chat one's.
//! Cost: each Chat chunk is parsed back once (≈ 1–2 µs a token), small beside the
//! schedule's per-token gaps.
//!
//! The request is read through the same translation (`responses_to_chat_request`):
//! `instructions` and `input` items become the prompt, `max_output_tokens` the cap,
//! function and custom tools the tools the mock may call (a call to a `custom` tool
//! comes back as a `custom_tool_call`). A `previous_response_id` is accepted and its
//! history ignored: the mock keeps no responses.

use serde_json::{Map, Value};

use super::openai::{self, OpenAiStream};
use super::reply::{Reply, SseEncoder};
use super::request::{self, GenRequest};
use crate::wire::errors::ApiError;
use crate::wire::sse::{SseEvent, SseParser};
use crate::wire::translate::{
    chat_to_responses_response, responses_to_chat_request, ResponseFrame, ResponsesStreamEncoder,
};

/// A Responses request read into what the mock plans from, and the frame its answer
/// repeats.
pub(crate) fn parse(
    body: &Map<String, Value>,
    default_max_tokens: usize,
) -> Result<(GenRequest, ResponseFrame), ApiError> {
    let mut body = Value::Object(body.clone());
    if let Some(obj) = body.as_object_mut() {
        obj.remove("previous_response_id");
    }
    let chat = responses_to_chat_request(&body, None).map_err(|e| {
        let text = e.to_string();
        let field = text.split(':').next().unwrap_or_default().to_owned();
        let mut err = ApiError::new(400, text);
        err.param = Some(field);
        err
    })?;
    let Value::Object(chat) = chat else { return Err(ApiError::new(400, "request body must be a JSON object")) };
    let mut gen = request::openai(&chat, default_max_tokens)?;
    // A Responses stream always ends with its usage.
    gen.include_usage = true;
    gen.continuous_usage = false;
    let frame = ResponseFrame::for_request(&body, 0, &gen.model);
    Ok((gen, frame))
}

/// The frame of the answer numbered `seq`.
pub(crate) fn numbered(mut frame: ResponseFrame, seq: u64, model: &str) -> ResponseFrame {
    frame.id = format!("resp_mock_{seq}");
    frame.model = model.to_owned();
    frame
}

/// The non-streamed `response` body.
pub(crate) fn body(reply: &Reply, frame: &ResponseFrame) -> Value {
    chat_to_responses_response(&openai::body(reply), frame)
}

/// The Responses event stream of one reply.
pub(crate) struct ResponsesStream {
    chat: OpenAiStream,
    parser: SseParser,
    events: Vec<SseEvent>,
    encoder: ResponsesStreamEncoder,
    chunk: String,
}

impl ResponsesStream {
    pub(crate) fn new(reply: &Reply, frame: ResponseFrame) -> Self {
        ResponsesStream {
            chat: OpenAiStream::new(reply),
            parser: SseParser::new(),
            events: Vec::new(),
            encoder: ResponsesStreamEncoder::new(frame),
            chunk: String::new(),
        }
    }

    /// Translates what the Chat encoder just wrote into `self.chunk`.
    fn translate(&mut self, out: &mut String) {
        self.parser.feed(self.chunk.as_bytes(), &mut self.events);
        self.chunk.clear();
        let mut bytes = Vec::new();
        for event in self.events.drain(..) {
            if event.data.trim() == "[DONE]" {
                self.encoder.finish(&mut bytes);
            } else if let Ok(chunk) = serde_json::from_str::<Value>(&event.data) {
                self.encoder.on_chunk(&chunk, &mut bytes);
            }
        }
        // The encoder writes JSON text and fixed ASCII: always UTF-8.
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
}

impl SseEncoder for ResponsesStream {
    fn preamble(&mut self, reply: &Reply, out: &mut String) {
        self.chat.preamble(reply, &mut self.chunk);
        self.translate(out);
    }

    fn token(&mut self, reply: &Reply, index: usize, out: &mut String) {
        self.chat.token(reply, index, &mut self.chunk);
        self.translate(out);
    }

    fn finish(&mut self, reply: &Reply, out: &mut String) {
        self.chat.finish(reply, &mut self.chunk);
        self.translate(out);
    }
}
