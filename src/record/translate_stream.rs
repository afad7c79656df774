//! The translated stream: reads the OpenAI-compatible upstream's SSE frames, turns each
//! chunk into the client's API's events (Anthropic Messages, or OpenAI Responses) as it
//! arrives, and records both sides with their times.
//!
//! An upstream that breaks off mid-stream (connection cut, or an in-band `{"error":…}`)
//! becomes an Anthropic `event: error` (a Responses `response.failed`) for the client,
//! which the SDK raises (Codex reports), and the call
//! is recorded as cut; a client that goes away ends the call as disconnected (the call's
//! guard ends it once, whichever comes first).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use serde_json::Value;

use super::ending::{Ending, UpstreamError};
use super::lifecycle::CallGuard;
use super::upstream::UpstreamBody;
use crate::wire::sse::{is_done_marker, SseEvent, SseParser};
use crate::wire::translate::{AnthropicStreamEncoder, ResponseFrame, ResponsesStreamEncoder};

/// What the client's events are made by.
pub(crate) enum ClientEncoder {
    Anthropic(AnthropicStreamEncoder),
    Responses(ResponsesStreamEncoder),
}

impl ClientEncoder {
    /// The Anthropic encoder of call number `seq`.
    pub(crate) fn anthropic(seq: u64, model: String) -> Self {
        ClientEncoder::Anthropic(AnthropicStreamEncoder::new(format!("msg_asb_{seq:012}"), model))
    }

    pub(crate) fn responses(frame: ResponseFrame) -> Self {
        ClientEncoder::Responses(ResponsesStreamEncoder::new(frame))
    }

    fn on_chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        match self {
            ClientEncoder::Anthropic(e) => e.on_chunk(chunk, out),
            ClientEncoder::Responses(e) => e.on_chunk(chunk, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            ClientEncoder::Anthropic(e) => e.finish(out),
            ClientEncoder::Responses(e) => e.finish(out),
        }
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        match self {
            ClientEncoder::Anthropic(e) => e.fail("api_error", message, out),
            ClientEncoder::Responses(e) => e.fail("server_error", message, out),
        }
    }
}

pub(crate) struct TranslatingBody {
    upstream: UpstreamBody,
    parser: SseParser,
    encoder: ClientEncoder,
    events: Vec<SseEvent>,
    call: CallGuard,
    /// Set once the last client frame is out; the next poll ends the body.
    ending: Option<Ending>,
}

impl TranslatingBody {
    pub(crate) fn new(upstream: UpstreamBody, encoder: ClientEncoder, call: CallGuard) -> Self {
        TranslatingBody { upstream, parser: SseParser::new(), encoder, events: Vec::new(), call, ending: None }
    }

    /// Translates the events of one upstream frame.
    fn translate(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        self.parser.feed(frame, &mut self.events);
        for event in self.events.drain(..) {
            if is_done_marker(&event.data) {
                self.encoder.finish(out);
                continue;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            // `"error": null` (some servers send it on every chunk) is no error.
            if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
                let message = err.get("message").and_then(Value::as_str).unwrap_or("upstream error").to_string();
                self.encoder.fail(&message, out);
                self.ending = Some(Ending::Upstream(UpstreamError::Reported(message)));
                continue;
            }
            self.encoder.on_chunk(&chunk, out);
        }
    }
}

impl Body for TranslatingBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if this.call.is_ended() {
                return Poll::Ready(None);
            }
            if let Some(ending) = this.ending.take() {
                this.call.end(ending);
                return Poll::Ready(None);
            }
            let mut out = Vec::new();
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    let Some(data) = frame.data_ref() else {
                        continue;
                    };
                    this.call.keep_upstream_frame(data);
                    this.translate(data, &mut out);
                }
                Poll::Ready(Some(Err(e))) => {
                    let error = UpstreamError::Cut(e.to_string());
                    this.encoder.fail(&format!("asb record: {error}"), &mut out);
                    this.ending = Some(Ending::Upstream(error));
                }
                Poll::Ready(None) => {
                    // The upstream closed the stream: finish it for the client if no
                    // `[DONE]` did (some servers omit it).
                    this.encoder.finish(&mut out);
                    this.ending.get_or_insert(Ending::Completed);
                }
            }
            if !out.is_empty() {
                let bytes = Bytes::from(out);
                this.call.keep_client_frame(&bytes);
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
        }
    }
}

impl Drop for TranslatingBody {
    fn drop(&mut self) {
        self.call.end(Ending::ClientGone);
    }
}
