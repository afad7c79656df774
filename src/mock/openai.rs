//! The mock's OpenAI Chat Completions wire format (`chat.completion` bodies and
//! `chat.completion.chunk` streams), byte-compatible with what the `openai` SDK parses.
//!
//! Stream: a role chunk with empty content at arrival (as vLLM does: not a token), one
//! chunk per output token (`content`, `reasoning_content` or `tool_calls` arguments), a
//! chunk with `finish_reason`, the usage chunk (`choices: []`) when
//! `stream_options.include_usage` is set, then `data: [DONE]`.

use serde_json::{json, Value};

use super::answer::Part;
use super::reply::{push_json_str, Reply, SseEncoder};

pub(crate) struct OpenAiStream {
    /// The chunk's fixed leading fields, ending in a comma.
    prefix: String,
    tool_started: bool,
}

impl OpenAiStream {
    pub(crate) fn new(reply: &Reply) -> Self {
        let mut prefix = String::from("{\"id\":");
        push_json_str(&mut prefix, &reply.id);
        prefix.push_str(",\"object\":\"chat.completion.chunk\",\"created\":");
        prefix.push_str(&reply.created.to_string());
        prefix.push_str(",\"model\":");
        push_json_str(&mut prefix, &reply.model);
        prefix.push_str(",\"system_fingerprint\":\"asb-mock\",");
        OpenAiStream { prefix, tool_started: false }
    }

    fn chunk(&self, reply: &Reply, out: &mut String, delta: &str, finish: Option<&str>, sent: usize) {
        out.push_str("data: ");
        out.push_str(&self.prefix);
        out.push_str("\"choices\":[{\"index\":0,\"delta\":");
        out.push_str(delta);
        out.push_str(",\"logprobs\":null,\"finish_reason\":");
        match finish {
            Some(f) => {
                out.push('"');
                out.push_str(f);
                out.push('"');
            }
            None => out.push_str("null"),
        }
        out.push_str("}]");
        if reply.continuous_usage {
            out.push_str(",\"usage\":");
            out.push_str(&usage(reply, sent).to_string());
        }
        out.push_str("}\n\n");
    }
}

impl SseEncoder for OpenAiStream {
    fn preamble(&mut self, reply: &Reply, out: &mut String) {
        self.chunk(reply, out, "{\"role\":\"assistant\",\"content\":\"\"}", None, 0);
    }

    fn token(&mut self, reply: &Reply, index: usize, out: &mut String) {
        let tok = &reply.answer.tokens[index];
        let mut delta = String::with_capacity(64 + tok.text.len());
        match tok.part {
            Part::Text => delta.push_str("{\"content\":"),
            Part::Thinking => delta.push_str("{\"reasoning_content\":"),
            Part::ToolArgs => {
                delta.push_str("{\"tool_calls\":[{\"index\":0,");
                if !self.tool_started {
                    self.tool_started = true;
                    let tool = reply.answer.tool.as_ref().expect("tool tokens come with a tool call");
                    delta.push_str("\"id\":");
                    push_json_str(&mut delta, &tool.id);
                    delta.push_str(",\"type\":\"function\",\"function\":{\"name\":");
                    push_json_str(&mut delta, &tool.name);
                    delta.push_str(",\"arguments\":");
                } else {
                    delta.push_str("\"function\":{\"arguments\":");
                }
            }
        }
        push_json_str(&mut delta, &tok.text);
        delta.push_str(if tok.part == Part::ToolArgs { "}}]}" } else { "}" });
        self.chunk(reply, out, &delta, None, index + 1);
    }

    fn finish(&mut self, reply: &Reply, out: &mut String) {
        let n = reply.answer.tokens.len();
        self.chunk(reply, out, "{}", Some(reply.answer.finish.openai()), n);
        if reply.include_usage {
            out.push_str("data: ");
            out.push_str(&self.prefix);
            out.push_str("\"choices\":[],\"usage\":");
            out.push_str(&usage(reply, n).to_string());
            out.push_str("}\n\n");
        }
        out.push_str("data: [DONE]\n\n");
    }
}

/// The non-streamed `chat.completion` body.
pub(crate) fn body(reply: &Reply) -> Value {
    let a = &reply.answer;
    let text = a.text_of(Part::Text);
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && a.tool.is_some() { Value::Null } else { Value::String(text) },
        "refusal": null,
    });
    if a.thinking_tokens() > 0 {
        message["reasoning_content"] = Value::String(a.text_of(Part::Thinking));
    }
    if let Some(tool) = &a.tool {
        message["tool_calls"] = json!([{
            "id": tool.id, "type": "function",
            "function": {"name": tool.name, "arguments": a.text_of(Part::ToolArgs)},
        }]);
    }
    json!({
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "system_fingerprint": "asb-mock",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": a.finish.openai()}],
        "usage": usage(reply, a.tokens.len()),
    })
}

/// `usage` after `completion` tokens; `prompt_tokens` includes the cached ones.
fn usage(reply: &Reply, completion: usize) -> Value {
    let reasoning = reply.answer.thinking_tokens().min(completion);
    json!({
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cache.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    })
}
