//! Record's two accounts of one translated call agree: the recording assembles the
//! upstream's OpenAI answer, the client gets it translated to Anthropic (and the recorder
//! assembles that side too). Both read the answer with the wire's OpenAI conventions and
//! usage reader, so text, reasoning, tool calls, stop and usage must come out the same.

use serde_json::{json, Value};

use super::{assemble_body, Assembled, Assembler};
use crate::recording::line::{ToolCall, Usage};
use crate::wire::sse::{is_done_marker, SseParser};
use crate::wire::translate::stop_reason::anthropic_stop_reason;
use crate::wire::translate::{openai_to_anthropic_response, AnthropicStreamEncoder};
use crate::wire::Api;

/// SSE bytes of one streamed answer, cut into frames of `frame` bytes as a network would.
fn frames(events: &[String], frame: usize) -> Vec<Vec<u8>> {
    let bytes: Vec<u8> = events.iter().flat_map(|data| format!("data: {data}\n\n").into_bytes()).collect();
    bytes.chunks(frame).map(<[u8]>::to_vec).collect()
}

/// What the recorder assembles from a stream's frames.
fn assemble_stream(api: Api, frames: &[Vec<u8>]) -> Assembled {
    let (mut parser, mut assembler, mut events) = (SseParser::new(), Assembler::new(api), Vec::new());
    for (t, frame) in frames.iter().enumerate() {
        parser.feed(frame, &mut events);
        for event in events.drain(..) {
            assembler.on_event(&event.data, t as f64);
        }
    }
    assembler.finish()
}

/// The client's bytes when record translates the stream (as `record::translate_stream` does).
fn translate_stream(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut encoder = AnthropicStreamEncoder::new("msg_asb_000000000001".into(), "claude-sonnet-4-5".into());
    let (mut parser, mut events, mut out) = (SseParser::new(), Vec::new(), Vec::new());
    for frame in frames {
        parser.feed(frame, &mut events);
        for event in events.drain(..) {
            if is_done_marker(&event.data) {
                encoder.finish(&mut out);
            } else if let Ok(chunk) = serde_json::from_str::<Value>(&event.data) {
                encoder.on_chunk(&chunk, &mut out);
            }
        }
    }
    encoder.finish(&mut out);
    out
}

fn counts(usage: &Usage) -> [u64; 5] {
    [usage.input_tokens, usage.input_uncached, usage.cache_read, usage.cache_creation, usage.output_tokens]
}

/// Asserts the two sides agree; tool-call arguments are compared as JSON values when
/// `arguments_as_json` (a translated body re-serialises them).
fn assert_agree(upstream: &Assembled, client: &Assembled, arguments_as_json: bool) {
    let (u, c) = (&upstream.result, &client.result);
    assert_eq!(u.text, c.text, "text");
    assert_eq!(u.thinking, c.thinking, "reasoning");
    let call = |t: &ToolCall| {
        let arguments = match arguments_as_json {
            true => serde_json::from_str::<Value>(&t.arguments).unwrap_or(Value::Null),
            false => Value::String(t.arguments.clone()),
        };
        (t.id.clone(), t.name.clone(), arguments)
    };
    assert_eq!(u.tool_calls.iter().map(call).collect::<Vec<_>>(), c.tool_calls.iter().map(call).collect::<Vec<_>>());
    assert_eq!(Some(anthropic_stop_reason(u.stop_reason.as_deref())), c.stop_reason.as_deref(), "stop");
    assert_eq!(counts(upstream.usage.as_ref().unwrap()), counts(client.usage.as_ref().unwrap()), "usage");
}

fn chunk(choices: Value) -> String {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "qwen", "choices": choices}).to_string()
}

fn delta(delta: Value) -> String {
    chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]))
}

#[test]
fn a_streamed_call_is_recorded_as_it_is_translated() {
    let tool = |index: u64, fragment: Value| delta(json!({"tool_calls": [{"index": index, "function": fragment}]}));
    let events = [
        delta(json!({"role": "assistant", "content": ""})),
        // A server in transition sends the same reasoning under both names.
        delta(json!({"reasoning_content": "Let me think", "reasoning": "Let me think"})),
        delta(json!({"reasoning": " about \"it\"."})),
        delta(json!({"content": "I'll look."})),
        delta(json!({"content": [{"type": "text", "text": " Then"}], "refusal": null})),
        // n = 2: only choice 0 is the answer, wherever it stands in the array.
        chunk(json!([{"index": 1, "delta": {"content": "other"}}, {"index": 0, "delta": {"content": " run:"}}])),
        delta(json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                      "function": {"name": "Bash", "arguments": ""}}]})),
        tool(0, json!({"arguments": "{\"command\":"})),
        tool(0, json!({"arguments": " \"ls -la\"}"})),
        // A server that numbers every call 0 tells them apart by id.
        delta(json!({"tool_calls": [{"index": 0, "id": "call_b", "type": "function",
                                      "function": {"name": "Read", "arguments": "{\"path\":"}}]})),
        tool(0, json!({"arguments": "\"a.rs\"}"})),
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
        json!({"choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
            "prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 100},
            "completion_tokens_details": {"reasoning_tokens": 7}}})
        .to_string(),
        "[DONE]".to_string(),
    ];
    for frame in [7, 64, 100_000] {
        let upstream_frames = frames(&events, frame);
        let upstream = assemble_stream(Api::OpenAi, &upstream_frames);
        let client_bytes = translate_stream(&upstream_frames);
        let client_frames: Vec<Vec<u8>> = client_bytes.chunks(frame).map(<[u8]>::to_vec).collect();
        let client = assemble_stream(Api::Anthropic, &client_frames);

        assert_agree(&upstream, &client, false);
        let r = &upstream.result;
        assert_eq!(r.thinking, "Let me think about \"it\".");
        assert_eq!(r.text, "I'll look. Then run:");
        assert_eq!(
            r.tool_calls,
            [
                ToolCall { id: "call_a".into(), name: "Bash".into(), arguments: "{\"command\": \"ls -la\"}".into() },
                ToolCall { id: "call_b".into(), name: "Read".into(), arguments: "{\"path\":\"a.rs\"}".into() },
            ]
        );
        assert_eq!(counts(upstream.usage.as_ref().unwrap()), [1000, 300, 600, 100, 50]);
        assert!(upstream.ended && client.ended && client.error.is_none());
    }
}

#[test]
fn a_whole_answer_is_recorded_as_it_is_translated() {
    let body = json!({
        "id": "chatcmpl-2", "object": "chat.completion", "model": "qwen",
        "choices": [
            {"index": 1, "message": {"content": "other"}, "finish_reason": "stop"},
            {"index": 0, "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": "Looking "}, {"type": "text", "text": "now."}],
                "reasoning_content": "Need files.", "reasoning": "Need files.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "Glob", "arguments": "{\"pattern\": \"*.rs\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "Read", "arguments": {"path": "a.rs"}}}
                ]},
             "finish_reason": "tool_calls"}
        ],
        "usage": {"prompt_tokens": 500, "completion_tokens": 20,
                  "prompt_tokens_details": {"cached_tokens": 256, "cache_write_tokens": 44}}
    });
    let upstream = assemble_body(Api::OpenAi, &body);
    let translated = openai_to_anthropic_response(&body, "claude-sonnet-4-5").unwrap();
    let client = assemble_body(Api::Anthropic, &translated);

    assert_agree(&upstream, &client, true);
    assert_eq!((upstream.result.text.as_str(), upstream.result.thinking.as_str()), ("Looking now.", "Need files."));
    assert_eq!(upstream.result.tool_calls[1].arguments, "{\"path\":\"a.rs\"}");
    assert_eq!(counts(upstream.usage.as_ref().unwrap()), [500, 200, 256, 44, 20]);

    let refusal = json!({"choices": [{"message": {"content": null, "refusal": "I can't."}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 9, "completion_tokens": 3}});
    let upstream = assemble_body(Api::OpenAi, &refusal);
    let client = assemble_body(Api::Anthropic, &openai_to_anthropic_response(&refusal, "m").unwrap());
    assert_agree(&upstream, &client, true);
    assert_eq!(upstream.result.text, "I can't.");
}
