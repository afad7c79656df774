//! The mock's Anthropic Messages wire format, byte-compatible with what the `anthropic`
//! SDK parses.
//!
//! Stream: `message_start` (with input usage) and a `ping` at arrival; per output block a
//! `content_block_start`, one `content_block_delta` per token (`thinking_delta`,
//! `text_delta` or `input_json_delta`; a thinking block closes with a `signature_delta`)
//! and a `content_block_stop`; then `message_delta` with the stop reason and cumulative
//! usage, and `message_stop`. Usage follows Anthropic's split: `input_tokens` excludes
//! `cache_read_input_tokens` and `cache_creation_input_tokens`.

use serde_json::{json, Value};

use super::answer::{Finish, Part};
use super::reply::{push_json_str, Reply, SseEncoder};

#[derive(Default)]
pub(crate) struct AnthropicStream {
    open: Option<Part>,
    blocks: usize,
}

impl AnthropicStream {
    fn close_block(&mut self, reply: &Reply, out: &mut String) {
        let Some(part) = self.open.take() else { return };
        let index = self.blocks - 1;
        if part == Part::Thinking {
            event(out, "content_block_delta", &format!(
                "{{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"signature_delta\",\"signature\":\"{}\"}}}}",
                signature(reply)
            ));
        }
        event(out, "content_block_stop", &format!("{{\"type\":\"content_block_stop\",\"index\":{index}}}"));
    }

    fn open_block(&mut self, reply: &Reply, part: Part, out: &mut String) {
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some(part);
        let block = match part {
            Part::Text => json!({"type": "text", "text": ""}),
            Part::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
            Part::ToolArgs => {
                let tool = reply.answer.tool.as_ref().expect("tool tokens come with a tool call");
                json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}})
            }
        };
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}).to_string(),
        );
    }
}

impl SseEncoder for AnthropicStream {
    fn preamble(&mut self, reply: &Reply, out: &mut String) {
        let message = json!({"type": "message_start", "message": {
            "id": reply.id, "type": "message", "role": "assistant", "model": reply.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": usage(reply, 1),
        }});
        event(out, "message_start", &message.to_string());
        event(out, "ping", "{\"type\":\"ping\"}");
    }

    fn token(&mut self, reply: &Reply, index: usize, out: &mut String) {
        let tok = &reply.answer.tokens[index];
        if self.open != Some(tok.part) {
            self.close_block(reply, out);
            self.open_block(reply, tok.part, out);
        }
        let (kind, field) = match tok.part {
            Part::Text => ("text_delta", "text"),
            Part::Thinking => ("thinking_delta", "thinking"),
            Part::ToolArgs => ("input_json_delta", "partial_json"),
        };
        let mut data = format!(
            "{{\"type\":\"content_block_delta\",\"index\":{},\"delta\":{{\"type\":\"{kind}\",\"{field}\":",
            self.blocks - 1
        );
        push_json_str(&mut data, &tok.text);
        data.push_str("}}");
        event(out, "content_block_delta", &data);
    }

    fn finish(&mut self, reply: &Reply, out: &mut String) {
        self.close_block(reply, out);
        let delta = json!({"type": "message_delta",
            "delta": {"stop_reason": reply.answer.finish.anthropic(), "stop_sequence": stop_sequence(reply)},
            "usage": usage(reply, reply.answer.tokens.len()),
        });
        event(out, "message_delta", &delta.to_string());
        event(out, "message_stop", "{\"type\":\"message_stop\"}");
    }
}

/// The non-streamed `message` body.
pub(crate) fn body(reply: &Reply) -> Value {
    let a = &reply.answer;
    let mut content = Vec::new();
    if a.thinking_tokens() > 0 {
        content.push(json!({"type": "thinking", "thinking": a.text_of(Part::Thinking), "signature": signature(reply)}));
    }
    if let Some(tool) = &a.tool {
        // Arguments cut short by max_tokens do not parse; the block then carries `{}`.
        let input: Value = serde_json::from_str(&a.text_of(Part::ToolArgs)).unwrap_or_else(|_| json!({}));
        content.push(json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": input}));
    } else {
        content.push(json!({"type": "text", "text": a.text_of(Part::Text)}));
    }
    json!({
        "id": reply.id, "type": "message", "role": "assistant", "model": reply.model,
        "content": content,
        "stop_reason": a.finish.anthropic(),
        "stop_sequence": stop_sequence(reply),
        "usage": usage(reply, a.tokens.len()),
    })
}

fn usage(reply: &Reply, output: usize) -> Value {
    json!({
        "input_tokens": reply.uncached_input_tokens(),
        "cache_creation_input_tokens": reply.cache.written_tokens,
        "cache_read_input_tokens": reply.cache.cached_tokens,
        "output_tokens": output,
    })
}

fn stop_sequence(reply: &Reply) -> Value {
    match &reply.answer.finish {
        Finish::StopSequence(s) => Value::String(s.clone()),
        _ => Value::Null,
    }
}

fn signature(reply: &Reply) -> String {
    format!("asb-mock-signature-{}", reply.seq)
}

fn event(out: &mut String, name: &str, data: &str) {
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(data);
    out.push_str("\n\n");
}
