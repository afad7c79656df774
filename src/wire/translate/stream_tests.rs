//! Tests for [`super::stream`]: OpenAI chunk sequences as vLLM, llama.cpp and
//! llama-cpp-python send them, encoded into Anthropic SSE bytes, parsed back and checked
//! against the Anthropic event grammar.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::AnthropicStreamEncoder;

// ---- building OpenAI chunks ----

fn chunk_with(choice: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [choice]})
}

fn delta(delta: Value) -> Value {
    chunk_with(json!({"index": 0, "delta": delta, "finish_reason": null}))
}

fn role() -> Value {
    delta(json!({"role": "assistant", "content": ""}))
}

fn text(text: &str) -> Value {
    delta(json!({"content": text}))
}

fn reasoning(text: &str) -> Value {
    delta(json!({"reasoning": text}))
}

/// The first fragment of tool call `index`: id, name and maybe arguments already.
fn tool_start(index: u64, id: &str, name: &str, arguments: &str) -> Value {
    delta(json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                 "function": {"name": name, "arguments": arguments}}]}))
}

fn tool_args(index: u64, arguments: &str) -> Value {
    delta(json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}))
}

fn finish(reason: &str) -> Value {
    chunk_with(json!({"index": 0, "delta": {}, "finish_reason": reason}))
}

fn usage(prompt: u64, completion: u64, cached: u64) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [],
           "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                     "total_tokens": prompt + completion,
                     "prompt_tokens_details": {"cached_tokens": cached}}})
}

// ---- running the encoder and reading its output ----

fn encoder() -> AnthropicStreamEncoder {
    AnthropicStreamEncoder::new("msg_1".into(), "claude-x".into())
}

/// Feeds `chunks`, then ends the stream normally. Every call's output must be whole
/// events, so the proxy can flush after each chunk.
fn run(chunks: &[Value]) -> (AnthropicStreamEncoder, Vec<u8>) {
    let mut encoder = encoder();
    let mut out = Vec::new();
    for chunk in chunks {
        let before = out.len();
        encoder.on_chunk(chunk, &mut out);
        assert!(out.len() == before || out.ends_with(b"\n\n"), "partial event");
    }
    encoder.finish(&mut out);
    (encoder, out)
}

/// One parsed SSE event: its `event:` name and `data:` JSON.
#[derive(Debug, Clone)]
struct Event {
    name: String,
    data: Value,
}

/// Splits SSE bytes on blank lines and parses each `event:` / `data:` pair.
fn parse_events(bytes: &[u8]) -> Vec<Event> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    assert!(text.is_empty() || text.ends_with("\n\n"), "stream ends mid-event");
    text.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            let mut lines = frame.lines();
            let name = lines.next().and_then(|l| l.strip_prefix("event: ")).expect("event line");
            let data = lines.next().and_then(|l| l.strip_prefix("data: ")).expect("data line");
            assert!(lines.next().is_none(), "one data line per event");
            let data: Value = serde_json::from_str(data).expect("data is JSON");
            assert_eq!(data["type"], name, "event name matches data.type");
            Event { name: name.to_owned(), data }
        })
        .collect()
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

/// What a client reassembles from a valid stream.
#[derive(Debug, Default)]
struct Message {
    start: Value,
    blocks: Vec<Value>,
    /// Concatenated `partial_json` per block index.
    partial_json: Vec<String>,
    delta: Value,
}

/// Checks the Anthropic event grammar — `message_start`, `ping`, then blocks with
/// sequential indexes, each started, fed deltas of its own kind, and stopped before the
/// next starts, then `message_delta` and `message_stop` — and reassembles the message.
fn assemble(events: &[Event]) -> Message {
    assert!(events.len() >= 4, "too short: {:?}", names(events));
    assert_eq!(events[0].name, "message_start");
    assert_eq!(events[1].name, "ping");
    let mut message = Message { start: events[0].data["message"].clone(), ..Message::default() };
    assert_eq!(message.start["content"], json!([]));
    assert_eq!(message.start["stop_reason"], Value::Null);
    let mut open: Option<usize> = None;
    let (body, tail) = events[2..].split_at(events.len() - 4);
    for event in body {
        let index = event.data["index"].as_u64().map(|i| i as usize);
        match event.name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "block started while another is open");
                assert_eq!(index, Some(message.blocks.len()), "indexes are sequential");
                message.blocks.push(event.data["content_block"].clone());
                message.partial_json.push(String::new());
                open = index;
            }
            "content_block_delta" => {
                let i = index.expect("delta index");
                assert_eq!(open, Some(i), "delta for the open block");
                apply_delta(&mut message, i, &event.data["delta"]);
            }
            "content_block_stop" => {
                assert_eq!(open, index, "stop closes the open block");
                open = None;
            }
            other => panic!("unexpected {other} inside the message"),
        }
    }
    assert_eq!(open, None, "every block is closed");
    assert!(!message.blocks.is_empty(), "at least one block");
    assert_eq!(names(tail), ["message_delta", "message_stop"]);
    message.delta = tail[0].data.clone();
    message
}

fn apply_delta(message: &mut Message, index: usize, delta: &Value) {
    let block = &mut message.blocks[index];
    let field = match (block["type"].as_str().unwrap(), delta["type"].as_str().unwrap()) {
        ("text", "text_delta") => "text",
        ("thinking", "thinking_delta") => "thinking",
        ("tool_use", "input_json_delta") => {
            let fragment = delta["partial_json"].as_str().unwrap();
            assert!(!fragment.is_empty(), "empty partial_json");
            message.partial_json[index].push_str(fragment);
            return;
        }
        (block, delta) => panic!("{delta} in a {block} block"),
    };
    let piece = delta[field].as_str().unwrap();
    assert!(!piece.is_empty(), "empty {field} delta");
    let joined = format!("{}{piece}", block[field].as_str().unwrap());
    block[field] = joined.into();
}

fn run_and_assemble(chunks: &[Value]) -> (AnthropicStreamEncoder, Message) {
    let (encoder, out) = run(chunks);
    (encoder, assemble(&parse_events(&out)))
}

// ---- tests ----

#[test]
fn text_only_stream_bytes() {
    let (_, out) = run(&[role(), text("Paris"), finish("stop"), usage(17, 2, 0)]);
    let expected = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}"#,
        "\n\nevent: ping\n",
        r#"data: {"type":"ping"}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Paris"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":17,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn message_start_and_ping_come_with_the_first_chunk_whatever_it_holds() {
    let mut encoder = encoder();
    let mut out = Vec::new();
    assert!(!encoder.started());
    encoder.on_chunk(&role(), &mut out);
    assert!(encoder.started());
    assert_eq!(names(&parse_events(&out)), ["message_start", "ping"]);

    let mut out = Vec::new();
    encoder.on_chunk(&role(), &mut out);
    encoder.on_chunk(&text(""), &mut out);
    encoder.on_chunk(&delta(json!({"reasoning": "", "content": null, "tool_calls": null})), &mut out);
    assert!(out.is_empty(), "role-only and empty chunks produce nothing");

    let mut first_is_content = Vec::new();
    encoder = AnthropicStreamEncoder::new("msg_2".into(), "m".into());
    encoder.on_chunk(&text("Hi"), &mut first_is_content);
    let events = parse_events(&first_is_content);
    assert_eq!(names(&events), ["message_start", "ping", "content_block_start", "content_block_delta"]);
}

#[test]
fn thinking_then_text_then_tool_use() {
    let chunks = [
        role(),
        reasoning("The user wants"),
        delta(json!({"reasoning_content": " the files."})),
        text("Let me "),
        text("check."),
        tool_start(0, "call_1", "Bash", ""),
        tool_args(0, "{\"command\":"),
        tool_args(0, "\"ls\"}"),
        finish("tool_calls"),
        usage(100, 40, 0),
    ];
    let (encoder, message) = run_and_assemble(&chunks);
    assert_eq!(
        message.blocks,
        [
            json!({"type": "thinking", "thinking": "The user wants the files.", "signature": ""}),
            json!({"type": "text", "text": "Let me check."}),
            json!({"type": "tool_use", "id": "call_1", "name": "Bash", "input": {}}),
        ]
    );
    assert_eq!(message.partial_json[2], "{\"command\":\"ls\"}");
    assert_eq!(message.delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(encoder.finish_reason(), Some("tool_calls"));
    assert_eq!(encoder.stop_reason(), "tool_use");
}

#[test]
fn two_parallel_tool_calls_get_one_block_each() {
    let chunks = [
        role(),
        tool_start(0, "call_a", "Read", "{\"path\":"),
        tool_args(0, "\"a.rs\"}"),
        tool_start(1, "call_b", "Read", ""),
        tool_args(1, "{\"path\":\"b.rs\","),
        tool_args(1, "\"limit\":5}"),
        finish("tool_calls"),
    ];
    let (_, message) = run_and_assemble(&chunks);
    let ids: Vec<&Value> = message.blocks.iter().map(|b| &b["id"]).collect();
    assert_eq!(ids, [&json!("call_a"), &json!("call_b")]);
    assert_eq!(message.partial_json, ["{\"path\":\"a.rs\"}", "{\"path\":\"b.rs\",\"limit\":5}"]);
}

#[test]
fn concatenated_partial_json_reproduces_the_arguments() {
    let arguments = r#"{"file_path":"/src/main.rs","old_string":"fn main() {\n    println!(\"hi\");\n}","new_string":"fn main() {}","replace_all":false}"#;
    // Cut at arbitrary byte boundaries that fall on chars, like a tokenizer would.
    let cuts: Vec<usize> = (0..arguments.len()).step_by(7).filter(|&i| arguments.is_char_boundary(i)).collect();
    let mut chunks = vec![role(), tool_start(0, "call_e", "Edit", "")];
    for window in cuts.windows(2) {
        chunks.push(tool_args(0, &arguments[window[0]..window[1]]));
    }
    chunks.push(tool_args(0, &arguments[*cuts.last().unwrap()..]));
    chunks.push(finish("tool_calls"));

    let (_, message) = run_and_assemble(&chunks);
    assert_eq!(message.partial_json[0], arguments);
    let input: Value = serde_json::from_str(&message.partial_json[0]).unwrap();
    assert_eq!(input["replace_all"], false);
}

#[test]
fn calls_all_numbered_zero_are_told_apart_by_id() {
    let chunks = [
        tool_start(0, "call_a", "Read", "{\"path\":\"a\"}"),
        tool_start(0, "call_b", "Read", "{\"path\":"),
        tool_args(0, "\"b\"}"),
        // A server repeating the id on every fragment continues the same call.
        tool_start(0, "call_b", "Read", ""),
        finish("tool_calls"),
    ];
    let (_, message) = run_and_assemble(&chunks);
    let ids: Vec<&Value> = message.blocks.iter().map(|b| &b["id"]).collect();
    assert_eq!(ids, [&json!("call_a"), &json!("call_b")]);
    assert_eq!(message.partial_json, ["{\"path\":\"a\"}", "{\"path\":\"b\"}"]);
}

#[test]
fn missing_tool_call_ids_are_generated() {
    let chunks = [delta(json!({"tool_calls": [{"index": 0, "function": {"name": "Glob", "arguments": "{}"}}]}))];
    let (_, message) = run_and_assemble(&chunks);
    assert!(message.blocks[0]["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(message.partial_json[0], "{}");
}

#[test]
fn a_late_fragment_for_a_closed_tool_call_is_dropped() {
    let chunks =
        [tool_start(0, "a", "X", "{}"), tool_start(1, "b", "Y", "{}"), tool_args(0, "garbage"), tool_args(1, "")];
    let (encoder, message) = run_and_assemble(&chunks);
    assert_eq!(message.partial_json, ["{}", "{}"]);
    assert_eq!(encoder.content_chunks(), 2);
}

#[test]
fn upstream_usage_splits_cached_tokens() {
    let (encoder, message) = run_and_assemble(&[role(), text("ok"), finish("stop"), usage(5000, 12, 4096)]);
    assert_eq!(
        message.delta["usage"],
        json!({"input_tokens": 904, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 4096, "output_tokens": 12})
    );
    assert!(!encoder.usage_estimated());
    assert_eq!(encoder.usage().unwrap()["prompt_tokens"], 5000);
    assert_eq!(encoder.output_tokens(), 12);
}

#[test]
fn cache_writes_are_cache_creation_tokens() {
    let mut written = usage(5000, 12, 4096);
    written["usage"]["prompt_tokens_details"]["cache_write_tokens"] = json!(900);
    let (_, message) = run_and_assemble(&[role(), text("ok"), finish("stop"), written]);
    assert_eq!(
        message.delta["usage"],
        json!({"input_tokens": 4, "cache_creation_input_tokens": 900,
               "cache_read_input_tokens": 4096, "output_tokens": 12})
    );
}

#[test]
fn deltas_are_read_as_the_recorder_reads_them() {
    let chunks = [
        delta(json!({"reasoning_content": "twice", "reasoning": "twice"})),
        delta(json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})),
        delta(json!({"content": null, "refusal": "no"})),
        delta(
            json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "Read", "arguments": {"path": "x"}}}]}),
        ),
        finish("tool_calls"),
    ];
    let (_, message) = run_and_assemble(&chunks);
    assert_eq!(message.blocks[0], json!({"type": "thinking", "thinking": "twice", "signature": ""}));
    assert_eq!(message.blocks[1], json!({"type": "text", "text": "abno"}));
    assert_eq!(message.blocks[2]["name"], "Read");
    assert_eq!(message.partial_json[2], "{\"path\":\"x\"}");

    let legacy = [
        delta(json!({"function_call": {"name": "Bash", "arguments": ""}})),
        delta(json!({"function_call": {"arguments": "{\"command\":"}})),
        delta(json!({"function_call": {"arguments": "\"pwd\"}"}})),
        finish("function_call"),
    ];
    let (_, message) = run_and_assemble(&legacy);
    assert_eq!((&message.blocks[0]["name"], message.blocks.len()), (&json!("Bash"), 1));
    assert_eq!(message.partial_json[0], "{\"command\":\"pwd\"}");
    assert_eq!(message.delta["delta"]["stop_reason"], "tool_use");
}

#[test]
fn without_usage_output_tokens_count_content_chunks() {
    // llama-cpp-python: no usage chunk even when asked for one.
    let chunks = [role(), text("I"), text(" am"), reasoning("hm"), text(""), finish("length")];
    let (encoder, message) = run_and_assemble(&chunks);
    assert!(encoder.usage_estimated());
    assert!(encoder.usage().is_none());
    assert_eq!(
        message.delta["usage"],
        json!({"input_tokens": 0, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 0, "output_tokens": 3})
    );
    assert_eq!(message.delta["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn continuous_usage_stats_feed_message_start_and_the_last_one_wins() {
    let mut first = role();
    first["usage"] = json!({"prompt_tokens": 300, "completion_tokens": 0,
                            "prompt_tokens_details": {"cached_tokens": 256}});
    let mut second = text("x");
    second["usage"] = json!({"prompt_tokens": 300, "completion_tokens": 1,
                             "prompt_tokens_details": {"cached_tokens": 256}});
    let mut last = finish("stop");
    last["usage"] = json!({"prompt_tokens": 300, "completion_tokens": 2,
                           "prompt_tokens_details": {"cached_tokens": 256}});
    let (_, message) = run_and_assemble(&[first, second, last]);
    assert_eq!(
        message.start["usage"],
        json!({"input_tokens": 44, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 256, "output_tokens": 0})
    );
    assert_eq!(message.delta["usage"]["output_tokens"], 2);
    assert_eq!(message.delta["usage"]["input_tokens"], 44);
}

#[test]
fn finish_reasons_map_to_stop_reasons() {
    let cases = [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("something_else", "end_turn"),
    ];
    for (finish_reason, stop_reason) in cases {
        let (encoder, message) = run_and_assemble(&[text("x"), finish(finish_reason)]);
        assert_eq!(message.delta["delta"]["stop_reason"], stop_reason, "{finish_reason}");
        assert_eq!(encoder.stop_reason(), stop_reason);
        assert_eq!(encoder.finish_reason(), Some(finish_reason));
    }
    let (encoder, message) = run_and_assemble(&[text("no finish_reason")]);
    assert_eq!(message.delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(encoder.finish_reason(), None);
}

#[test]
fn tool_calls_ending_with_stop_still_stop_for_tool_use() {
    // vLLM with tool_choice "required" or a named function.
    let (_, message) = run_and_assemble(&[tool_start(0, "c", "Bash", "{}"), finish("stop")]);
    assert_eq!(message.delta["delta"]["stop_reason"], "tool_use");
}

#[test]
fn a_vllm_stop_string_becomes_stop_sequence() {
    let stopped = chunk_with(json!({"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": "</done>"}));
    let (encoder, message) = run_and_assemble(&[text("42"), stopped]);
    assert_eq!(message.delta["delta"], json!({"stop_reason": "stop_sequence", "stop_sequence": "</done>"}));
    assert_eq!(encoder.stop_sequence().as_deref(), Some("</done>"));
}

#[test]
fn kinds_can_alternate_and_blocks_stay_sequential() {
    let chunks = [reasoning("a"), text("b"), reasoning("c"), text("d"), tool_start(0, "t", "X", "{}"), text("e")];
    let (_, message) = run_and_assemble(&chunks);
    let kinds: Vec<&str> = message.blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["thinking", "text", "thinking", "text", "tool_use", "text"]);
}

#[test]
fn one_delta_with_reasoning_text_and_tool_call_opens_three_blocks_in_order() {
    let everything = delta(json!({"reasoning_content": "r", "content": "t",
        "tool_calls": [{"index": 0, "id": "c", "function": {"name": "X", "arguments": "{}"}}]}));
    let (encoder, message) = run_and_assemble(&[everything]);
    let kinds: Vec<&str> = message.blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["thinking", "text", "tool_use"]);
    assert_eq!(encoder.content_chunks(), 1);
}

#[test]
fn only_choice_zero_is_translated() {
    let other = chunk_with(json!({"index": 1, "delta": {"content": "other choice"}, "finish_reason": null}));
    let (_, message) = run_and_assemble(&[text("mine"), other]);
    assert_eq!(message.blocks, [json!({"type": "text", "text": "mine"})]);
}

#[test]
fn an_empty_stream_still_makes_a_valid_message() {
    let (encoder, message) = run_and_assemble(&[]);
    assert_eq!(message.blocks, [json!({"type": "text", "text": ""})]);
    assert!(encoder.finished());
    let (_, message) = run_and_assemble(&[role(), finish("stop")]);
    assert_eq!(message.blocks, [json!({"type": "text", "text": ""})]);
}

#[test]
fn finish_is_idempotent_and_ends_the_stream() {
    let (mut encoder, _) = run(&[text("x")]);
    let mut out = Vec::new();
    encoder.finish(&mut out);
    encoder.on_chunk(&text("late"), &mut out);
    encoder.fail("api_error", "late", &mut out);
    assert!(out.is_empty());
    assert!(encoder.finished());
    assert!(!encoder.failed());
}

#[test]
fn an_error_payload_mid_stream_becomes_an_error_event_and_nothing_after() {
    let mut encoder = encoder();
    let mut out = Vec::new();
    encoder.on_chunk(&role(), &mut out);
    encoder.on_chunk(&text("partial"), &mut out);
    let error = json!({"error": {"message": "engine overloaded", "type": "ServiceUnavailableError", "code": 503}});
    encoder.on_chunk(&error, &mut out);
    encoder.on_chunk(&text("more"), &mut out);
    encoder.finish(&mut out);
    let events = parse_events(&out);
    assert_eq!(names(&events), ["message_start", "ping", "content_block_start", "content_block_delta", "error"]);
    assert_eq!(
        events[4].data,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "engine overloaded"}})
    );
    assert!(encoder.failed());
    assert!(!encoder.finished());
}

#[test]
fn fail_reports_a_cut_upstream() {
    let mut encoder = encoder();
    let mut out = Vec::new();
    encoder.on_chunk(&text("half"), &mut out);
    encoder.fail("api_error", "upstream closed the connection mid-stream", &mut out);
    let events = parse_events(&out);
    assert_eq!(events.last().unwrap().name, "error");
    assert_eq!(events.last().unwrap().data["error"]["type"], "api_error");
    assert!(!names(&events).contains(&"message_stop"));
}

#[test]
fn fail_before_any_chunk_is_a_lone_error_event() {
    let mut encoder = encoder();
    let mut out = Vec::new();
    encoder.fail("overloaded_error", "Overloaded", &mut out);
    assert!(!encoder.started());
    assert_eq!(names(&parse_events(&out)), ["error"]);
}

#[test]
fn odd_chunks_never_panic() {
    let odd = [
        json!(null),
        json!(42),
        json!("data"),
        json!([]),
        json!({}),
        json!({"choices": null}),
        json!({"choices": "nope"}),
        json!({"choices": [null, 3]}),
        json!({"choices": [{"index": 0, "delta": null}]}),
        json!({"choices": [{"index": 0, "delta": "text"}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": null}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [null, 1, {"index": "zero"}]}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": 7, "reasoning": false}}]}),
        json!({"choices": [{"index": 0, "finish_reason": 3}], "usage": "lots"}),
        json!({"error": null}),
    ];
    let (_, message) = run_and_assemble(&odd);
    // `{"index": "zero"}` counts as tool call 0 with no name: a block, never a panic.
    assert_eq!(message.blocks.len(), 1);
    assert_eq!(message.blocks[0]["type"], "tool_use");
}

/// One step of a generated upstream stream.
#[derive(Debug, Clone)]
enum Step {
    Role,
    Reasoning(String),
    Text(String),
    Tool { call: u64, args: String },
    Usage,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Role),
        "[a-z \\n\"é]{0,6}".prop_map(Step::Reasoning),
        "[a-z \\n\"é]{0,6}".prop_map(Step::Text),
        (0u64..3, "[a-z{}:\",]{0,6}").prop_map(|(call, args)| Step::Tool { call, args }),
        Just(Step::Usage),
    ]
}

fn step_chunk(step: &Step) -> Value {
    match step {
        Step::Role => role(),
        Step::Reasoning(text) => reasoning(text),
        Step::Text(t) => text(t),
        Step::Tool { call, args } => tool_start(*call, &format!("call_{call}"), "T", args),
        Step::Usage => usage(10, 3, 4),
    }
}

proptest! {
    #[test]
    fn any_chunk_sequence_gives_a_valid_anthropic_stream(
        steps in proptest::collection::vec(step(), 0..24),
        finish_reason in prop_oneof![Just("stop"), Just("length"), Just("tool_calls")],
    ) {
        let mut chunks: Vec<Value> = steps.iter().map(step_chunk).collect();
        chunks.push(finish(finish_reason));
        let (_, message) = run_and_assemble(&chunks);

        // All text and reasoning arrives, in order, whatever the block boundaries.
        let sent = |pick: fn(&Step) -> Option<&String>| -> String {
            steps.iter().filter_map(pick).map(String::as_str).collect()
        };
        let received = |kind: &str, field: &str| -> String {
            message.blocks.iter().filter(|b| b["type"] == kind)
                .map(|b| b[field].as_str().unwrap().to_owned()).collect()
        };
        prop_assert_eq!(sent(|s| match s { Step::Text(t) => Some(t), _ => None }), received("text", "text"));
        prop_assert_eq!(
            sent(|s| match s { Step::Reasoning(t) => Some(t), _ => None }),
            received("thinking", "thinking")
        );
    }
}
