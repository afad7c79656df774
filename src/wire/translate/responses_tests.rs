//! Responses ⇄ Chat Completions translation pinned: requests both ways (text, tool calls
//! and their outputs, custom tools, reasoning, hosted tools, errors naming the path),
//! answers and streams (text, reasoning, tool calls, usage, stop reasons, failures), and
//! round trips through the recorder's assembler, so both sides of a translated call read
//! the same.

use serde_json::{json, Value};

use super::*;
use crate::recording::assemble::{assemble_body, Assembler};
use crate::wire::sse::SseParser;
use crate::wire::Api;

fn codex_like_request() -> Value {
    json!({
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "use ls"}], "encrypted_content": "x"},
            {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
            {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
            {"type": "custom_tool_call_output", "call_id": "call_2", "output": "done"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Found a.txt"}]}
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "run", "strict": false,
             "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}},
            {"type": "custom", "name": "apply_patch", "description": "patch", "format": {"type": "grammar"}},
            {"type": "web_search"}
        ],
        "tool_choice": "auto", "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false, "stream": true, "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "conv-1", "max_output_tokens": 100
    })
}

#[test]
fn a_codex_request_becomes_a_chat_request() {
    let chat = responses_to_chat_request(&codex_like_request(), Some("qwen")).unwrap();
    assert_eq!(chat["model"], "qwen");
    let m = chat["messages"].as_array().unwrap();
    assert_eq!(m[0], json!({"role": "system", "content": "You are Codex."}));
    assert_eq!(m[1], json!({"role": "developer", "content": "sandbox"}));
    assert_eq!(m[2], json!({"role": "user", "content": "list files"}));
    // The reasoning and both calls of one turn share one assistant message.
    assert_eq!(m[3]["role"], "assistant");
    assert_eq!(m[3]["reasoning_content"], "use ls");
    let calls = m[3]["tool_calls"].as_array().unwrap();
    assert_eq!(calls[0]["function"], json!({"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}));
    assert_eq!(calls[1]["function"]["arguments"], json!({"input": "*** Begin Patch"}).to_string());
    assert_eq!(m[4], json!({"role": "tool", "tool_call_id": "call_1", "content": "a.txt"}));
    assert_eq!(m[5]["tool_call_id"], "call_2");
    assert_eq!(m[6], json!({"role": "assistant", "content": "Found a.txt"}));
    // Hosted tools go; the custom tool is a function with one string parameter.
    let tools = chat["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[1]["function"]["parameters"]["required"], json!(["input"]));
    assert_eq!((chat["tool_choice"].clone(), chat["parallel_tool_calls"].clone()), (json!("auto"), json!(false)));
    assert_eq!((chat["max_tokens"].clone(), chat["reasoning_effort"].clone()), (json!(100), json!("medium")));
    assert_eq!(chat["stream_options"], json!({"include_usage": true}));
    for gone in ["store", "include", "prompt_cache_key", "instructions", "input", "reasoning"] {
        assert!(chat.get(gone).is_none(), "{gone}");
    }
}

#[test]
fn untranslatable_requests_name_the_field() {
    let err = |body: Value| responses_to_chat_request(&body, None).unwrap_err().to_string();
    assert!(err(json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}))
        .starts_with("previous_response_id: "));
    assert_eq!(err(json!({"model": "m"})), "input: missing");
    assert!(err(json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]})).starts_with("input[0].type: "));
    assert_eq!(
        err(json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]})),
        "input[0].call_id: missing"
    );
    assert!(err(json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file"}]}]}))
        .starts_with("input[0].content[0].type: "));
    assert_eq!(err(json!({"input": "x"})), "model: missing");
}

#[test]
fn chat_requests_become_responses_requests_and_back() {
    let chat = json!({"model": "m", "max_completion_tokens": 50, "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "q"}, {"type": "image_url", "image_url": {"url": "http://i"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
            {"role": "assistant", "content": "done"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}});
    let resp = chat_to_responses_request(&chat, None).unwrap();
    assert_eq!(resp["store"], false);
    assert_eq!(resp["max_output_tokens"], 50);
    let input = resp["input"].as_array().unwrap();
    assert_eq!(input[1]["content"][1], json!({"type": "input_image", "image_url": "http://i"}));
    assert_eq!(input[2], json!({"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"}));
    assert_eq!(input[3], json!({"type": "function_call_output", "call_id": "c1", "output": "r"}));
    assert_eq!(input[4]["content"][0], json!({"type": "output_text", "text": "done"}));
    assert_eq!(resp["tools"][0], json!({"type": "function", "name": "f", "parameters": {"type": "object"}}));
    assert_eq!(resp["tool_choice"], json!({"type": "function", "name": "f"}));
    // And back: the same conversation.
    let back = responses_to_chat_request(&resp, None).unwrap();
    assert_eq!(back["messages"][2]["tool_calls"], chat["messages"][2]["tool_calls"]);
    assert_eq!(back["messages"][3], chat["messages"][3]);
    assert_eq!(back["messages"][4], chat["messages"][4]);
    assert_eq!(back["tool_choice"], chat["tool_choice"]);
    assert_eq!(
        chat_to_responses_request(&json!({"model": "m", "messages": [{"role": "tool"}]}), None)
            .unwrap_err()
            .to_string(),
        "messages[0].tool_call_id: missing"
    );
}

fn frame() -> ResponseFrame {
    ResponseFrame::for_request(&codex_like_request(), 7, "qwen")
}

#[test]
fn a_chat_answer_becomes_a_response_that_reads_the_same() {
    let chat = json!({"id": "x", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Let me look.", "reasoning_content": "think",
        "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
                       {"id": "call_10", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin\"}"}}]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 8, "prompt_tokens_details": {"cached_tokens": 16},
                  "completion_tokens_details": {"reasoning_tokens": 2}}});
    let r = chat_to_responses_response(&chat, &frame());
    assert_eq!(
        (r["id"].as_str(), r["status"].as_str(), r["object"].as_str()),
        (Some("resp_asb_000000000007"), Some("completed"), Some("response"))
    );
    let kinds: Vec<&str> = r["output"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reasoning", "message", "function_call", "custom_tool_call"]);
    assert_eq!(r["output"][3]["input"], "*** Begin");
    assert_eq!(r["instructions"], "You are Codex.");
    assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 16);
    let read = assemble_body(Api::Responses, &r);
    let chat_read = assemble_body(Api::OpenAi, &chat);
    assert_eq!(read.result.text, chat_read.result.text);
    assert_eq!(read.result.thinking, chat_read.result.thinking);
    assert_eq!(read.result.tool_calls[0], chat_read.result.tool_calls[0]);
    assert_eq!(read.result.tool_calls[1].arguments, "*** Begin");
    assert_eq!(read.result.stop_reason.as_deref(), Some("completed"));
    let (u, cu) = (read.usage.unwrap(), chat_read.usage.unwrap());
    assert_eq!(
        (u.input_tokens, u.cache_read, u.output_tokens, u.reasoning_tokens),
        (cu.input_tokens, cu.cache_read, cu.output_tokens, cu.reasoning_tokens)
    );
    let cut = json!({"choices": [{"finish_reason": "length", "message": {"content": "ab"}}]});
    let r = chat_to_responses_response(&cut, &frame());
    assert_eq!(
        (r["status"].as_str(), r["incomplete_details"]["reason"].as_str()),
        (Some("incomplete"), Some("max_output_tokens"))
    );
    assert_eq!(assemble_body(Api::Responses, &r).result.stop_reason.as_deref(), Some("max_output_tokens"));
}

/// Encodes chat chunks, returns the Responses events (type, data).
fn stream(chunks: &[Value], end: impl FnOnce(&mut ResponsesStreamEncoder, &mut Vec<u8>)) -> Vec<(String, Value)> {
    let mut enc = ResponsesStreamEncoder::new(frame());
    let mut out = Vec::new();
    for c in chunks {
        enc.on_chunk(c, &mut out);
    }
    end(&mut enc, &mut out);
    let mut events = Vec::new();
    SseParser::new().feed(&out, &mut events);
    events
        .into_iter()
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(e.event.as_deref(), data["type"].as_str(), "the event line names the data's type");
            (e.event.unwrap(), data)
        })
        .collect()
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

#[test]
fn a_chat_stream_becomes_the_responses_event_stream() {
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"reasoning_content": "hm"}), None),
        chunk(json!({"content": "Hi"}), None),
        chunk(json!({"content": " there"}), None),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "shell", "arguments": ""}}]}),
            None,
        ),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}), None),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}), None),
        chunk(json!({}), Some("tool_calls")),
        json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5}}),
    ];
    let events = stream(&chunks, |e, out| {
        e.finish(out);
        e.finish(out);
    });
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_text.delta",
            "response.reasoning_text.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (n, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], n as u64);
    }
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["output"][1]["content"][0]["text"], "Hi there");
    assert_eq!(done["output"][2]["arguments"], "{\"a\":1}");
    assert_eq!(done["usage"]["input_tokens"], 9);
    // The recorder reads the translated stream as it reads the Chat one.
    let mut a = Assembler::new(Api::Responses);
    for (t, (_, data)) in events.iter().enumerate() {
        a.on_event(&data.to_string(), t as f64);
    }
    let mut c = Assembler::new(Api::OpenAi);
    for chunk in &chunks {
        c.on_event(&chunk.to_string(), 0.0);
    }
    let (a, c) = (a.finish(), c.finish());
    assert_eq!((a.result.text.as_str(), a.result.thinking.as_str()), ("Hi there", "hm"));
    assert_eq!(a.result.tool_calls, c.result.tool_calls);
    assert_eq!(a.content_events, c.content_events);
    assert_eq!(a.output_chars, c.output_chars);
    assert_eq!(a.ttft_ms, Some(3.0));
    assert!(a.ended);
    assert_eq!(a.usage.unwrap().output_tokens, 5);
}

#[test]
fn stream_ends_incomplete_failed_or_with_a_custom_call() {
    let cut = stream(&[chunk(json!({"content": "ab"}), Some("length"))], |e, out| e.finish(out));
    let last = &cut.last().unwrap().1;
    assert_eq!(
        (last["type"].as_str(), last["response"]["incomplete_details"]["reason"].as_str()),
        (Some("response.incomplete"), Some("max_output_tokens"))
    );
    let failed = stream(&[chunk(json!({"content": "ab"}), None)], |e, out| {
        e.fail("server_error", "upstream cut", out);
        e.finish(out);
    });
    let last = &failed.last().unwrap().1;
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["response"]["error"]["message"], "upstream cut");
    let mut a = Assembler::new(Api::Responses);
    for (_, data) in &failed {
        a.on_event(&data.to_string(), 1.0);
    }
    assert_eq!(a.finish().error.as_deref(), Some("server_error: upstream cut"));
    let custom = stream(
        &[chunk(
            json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** P\"}"}}]}),
            Some("tool_calls"),
        )],
        |e, out| e.finish(out),
    );
    let done = &custom.last().unwrap().1["response"]["output"][0];
    assert_eq!((done["type"].as_str(), done["input"].as_str()), (Some("custom_tool_call"), Some("*** P")));
    assert!(custom.iter().any(|(k, d)| k == "response.custom_tool_call_input.delta" && d["delta"] == "*** P"));
}
