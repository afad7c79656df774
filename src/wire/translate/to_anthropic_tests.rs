//! Tests for [`super::to_anthropic`]: Chat Completions bodies, shaped like recorded agent
//! traffic, translated into Anthropic Messages bodies, and a round trip through both
//! directions.

use serde_json::{json, Value};

use super::error::TranslateError;
use super::{anthropic_to_openai_request, openai_to_anthropic_request};

fn translate(body: Value) -> Value {
    openai_to_anthropic_request(&body, None).expect("translates")
}

/// The Anthropic messages for these OpenAI messages.
fn messages(openai_messages: Value) -> Value {
    translate(json!({"model": "m", "messages": openai_messages}))["messages"].clone()
}

fn error(body: Value) -> String {
    openai_to_anthropic_request(&body, None).expect_err("rejected").to_string()
}

#[test]
fn agent_like_request() {
    let body = json!({
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": "Listing.", "reasoning_content": "think first", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a.rs\nb.rs"},
            {"role": "user", "content": "now read a.rs"}
        ],
        "max_completion_tokens": 4096,
        "max_tokens": 10,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "</done>",
        "stream": true,
        "stream_options": {"include_usage": true},
        "n": 1,
        "presence_penalty": 0.5,
        "tools": [{"type": "function", "function": {
            "name": "Bash", "description": "Run a command",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}],
        "tool_choice": "auto",
        "parallel_tool_calls": false
    });
    let expected = json!({
        "model": "gpt-x",
        "max_tokens": 4096,
        "system": "You are a coding agent.\nBe brief.",
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Listing."},
                {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "a.rs\nb.rs"},
                {"type": "text", "text": "now read a.rs"}
            ]}
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": ["</done>"],
        "stream": true,
        "tools": [{"name": "Bash", "description": "Run a command",
                   "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}
    });
    assert_eq!(translate(body), expected);
}

#[test]
fn consecutive_tool_messages_become_one_user_message() {
    let translated = messages(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "Read", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "Read", "arguments": "{}"}}
        ]},
        {"role": "tool", "tool_call_id": "a", "content": "A"},
        {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "B1"}, {"type": "text", "text": "B2"}]}
    ]));
    assert_eq!(
        translated,
        json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "a", "name": "Read", "input": {}},
                {"type": "tool_use", "id": "b", "name": "Read", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "a", "content": "A"},
                {"type": "tool_result", "tool_use_id": "b", "content": "B1\n\nB2"}
            ]}
        ])
    );
}

#[test]
fn tool_results_go_first_in_a_merged_user_message() {
    let translated = messages(json!([
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "Read", "arguments": "{}"}}]},
        {"role": "user", "content": "interjection"},
        {"role": "tool", "tool_call_id": "a", "content": null}
    ]));
    assert_eq!(
        translated[1],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "a"},
            {"type": "text", "text": "interjection"}
        ]})
    );
}

#[test]
fn same_role_messages_merge_and_empty_ones_vanish() {
    let translated = messages(json!([
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": ""},
        {"role": "system", "content": "mid-conversation system"},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "b"}]},
        {"role": "assistant"},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}
    ]));
    assert_eq!(
        translated,
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "no"}]}
        ])
    );
}

#[test]
fn nothing_left_to_send_is_an_error_not_a_placeholder() {
    for conversation in [
        json!([]),
        json!([{"role": "system", "content": "only a system prompt"}]),
        json!([{"role": "user", "content": ""}]),
        json!([{"role": "user", "content": null}, {"role": "assistant", "content": []}]),
    ] {
        let body = json!({"model": "m", "messages": conversation});
        assert_eq!(error(body), "messages: no user or assistant message with content");
    }
}

#[test]
fn images_become_image_blocks() {
    let translated = messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": "https://example.com/dog.png"},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}
    ]}]));
    assert_eq!(
        translated[0]["content"],
        json!([
            {"type": "text", "text": "What is in these?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/dog.png"}}
        ])
    );
}

#[test]
fn bad_image_urls_name_the_part() {
    let no_url = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {}}]}]});
    assert_eq!(error(no_url), "messages[0].content[0].image_url.url: missing");
    let not_base64 = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg/>"}}]}]});
    assert_eq!(
        error(not_base64),
        "messages[0].content[1].image_url.url: a data: URL must be data:<media type>;base64,…"
    );
}

#[test]
fn tool_call_arguments_become_an_input_object() {
    let calls = json!([
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\"b\":1,\"a\":[2]}"}},
        {"id": "2", "type": "function", "function": {"name": "f", "arguments": "[1,2]"}},
        {"id": "3", "type": "function", "function": {"name": "f", "arguments": "{\"unterminated\": "}},
        {"id": "4", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"id": "5", "type": "function", "function": {"name": "f"}},
        {"id": "6", "function": {"name": "f", "arguments": {"already": "parsed"}}},
        {"id": "7", "type": "function", "function": {"name": "f", "arguments": 42}}
    ]);
    let translated = messages(json!([{"role": "assistant", "tool_calls": calls}]));
    let inputs: Vec<Value> =
        translated[0]["content"].as_array().expect("blocks").iter().map(|b| b["input"].clone()).collect();
    assert_eq!(
        inputs,
        [
            json!({"b": 1, "a": [2]}),
            json!({"raw": "[1,2]"}),
            json!({"raw": "{\"unterminated\": "}),
            json!({}),
            json!({}),
            json!({"already": "parsed"}),
            json!({"raw": "42"})
        ]
    );
    // Key order is kept.
    assert_eq!(translated[0]["content"][0]["input"].to_string(), "{\"b\":1,\"a\":[2]}");
}

#[test]
fn tools_and_tool_choice_forms() {
    let tools = json!([
        {"type": "function", "function": {"name": "Bash"}},
        {"type": "custom", "custom": {"name": "freeform"}},
        {"function": {"name": "Read", "description": "read a file", "parameters": {"type": "object"}, "strict": true}}
    ]);
    let translated = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools}));
    assert_eq!(
        translated["tools"],
        json!([
            {"name": "Bash", "input_schema": {"type": "object", "properties": {}}},
            {"name": "Read", "description": "read a file", "input_schema": {"type": "object"}}
        ])
    );
    assert!(translated.get("tool_choice").is_none());

    let cases = [
        (json!("auto"), Value::Null, Some(json!({"type": "auto"}))),
        (json!("required"), Value::Null, Some(json!({"type": "any"}))),
        (json!("none"), Value::Null, Some(json!({"type": "none"}))),
        (
            json!({"type": "function", "function": {"name": "Bash"}}),
            Value::Null,
            Some(json!({"type": "tool", "name": "Bash"})),
        ),
        (json!("required"), json!(false), Some(json!({"type": "any", "disable_parallel_tool_use": true}))),
        (json!("none"), json!(false), Some(json!({"type": "none"}))),
        (json!("required"), json!(true), Some(json!({"type": "any"}))),
        (Value::Null, json!(false), Some(json!({"type": "auto", "disable_parallel_tool_use": true}))),
        (json!("something_new"), Value::Null, None),
        (json!({"type": "allowed_tools"}), Value::Null, None),
    ];
    for (choice, parallel, expected) in cases {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "Bash"}}],
            "tool_choice": choice, "parallel_tool_calls": parallel});
        assert_eq!(translate(body).get("tool_choice").cloned(), expected, "{choice} {parallel}");
    }
}

#[test]
fn no_function_tool_left_means_no_tool_choice() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "custom", "custom": {"name": "c"}}], "tool_choice": "required",
        "parallel_tool_calls": false});
    let translated = translate(body);
    assert!(translated.get("tools").is_none());
    assert!(translated.get("tool_choice").is_none());
}

#[test]
fn sampling_fields_and_defaults() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 100, "top_k": 40, "stop": ["a", "b"], "stream": false, "seed": 1, "user": "u"});
    assert_eq!(
        translate(body),
        json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "x"}],
               "top_k": 40, "stop_sequences": ["a", "b"], "stream": false})
    );
    let bare = json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [], "temperature": null});
    assert_eq!(translate(bare), json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
}

#[test]
fn model_override_wins() {
    let body = json!({"model": "gpt-x", "messages": [{"role": "user", "content": "x"}]});
    let translated = openai_to_anthropic_request(&body, Some("claude-sonnet-4-5")).expect("translates");
    assert_eq!(translated["model"], "claude-sonnet-4-5");
    let no_model = json!({"messages": [{"role": "user", "content": "x"}]});
    assert_eq!(openai_to_anthropic_request(&no_model, None), Err(TranslateError::missing("model")));
    assert!(openai_to_anthropic_request(&no_model, Some("claude")).is_ok());
}

#[test]
fn malformed_bodies_are_rejected_with_the_field_named() {
    let user = json!({"role": "user", "content": "x"});
    let cases = [
        (json!("body"), "body: expected a JSON object"),
        (json!({"model": "m"}), "messages: missing"),
        (json!({"model": "m", "messages": {}}), "messages: expected an array"),
        (json!({"model": "m", "messages": [7]}), "messages[0]: expected an object"),
        (json!({"model": "m", "messages": [{"content": "x"}]}), "messages[0].role: missing"),
        (
            json!({"model": "m", "messages": [{"role": "function", "content": "x"}]}),
            "messages[0].role: unsupported role \"function\"",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 3}]}),
            "messages[0].content: expected a string or a list of parts",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": ["x"]}]}),
            "messages[0].content[0]: expected an object",
        ),
        (
            json!({"model": "m", "messages": [user, {"role": "tool", "content": "x"}]}),
            "messages[1]: tool message without tool_call_id",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": {}}]}),
            "messages[0].tool_calls: expected an array",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]}),
            "messages[0].tool_calls[0]: tool call without id",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "1"}]}]}),
            "messages[0].tool_calls[0].function: missing",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "1", "function": {}}]}]}),
            "messages[0].tool_calls[0].function.name: missing",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "1", "type": "custom"}]}]}),
            "messages[0].tool_calls[0].type: unsupported tool call type \"custom\"",
        ),
        (json!({"model": "m", "messages": [user], "stop": 5}), "stop: expected a string or a list of strings"),
        (json!({"model": "m", "messages": [user], "tools": {}}), "tools: expected an array"),
        (json!({"model": "m", "messages": [user], "tools": [{"type": "function"}]}), "tools[0].function: missing"),
        (
            json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {}}]}),
            "tools[0].function.name: missing",
        ),
        (
            json!({"model": "m", "messages": [user], "tools": [{"function": {"name": "f"}}], "tool_choice": 1}),
            "tool_choice: expected a string or an object",
        ),
        (
            json!({"model": "m", "messages": [user], "tools": [{"function": {"name": "f"}}],
                "tool_choice": {"type": "function"}}),
            "tool_choice.function.name: missing",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(error(body), expected);
    }
}

#[test]
fn an_anthropic_request_survives_the_round_trip() {
    let anthropic = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "system": "You are Claude Code.",
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Listing."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls", "timeout": 5}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.rs\nb.rs"},
                {"type": "text", "text": "<system-reminder>todo list empty</system-reminder>"}
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "a.rs"}},
                {"type": "tool_use", "id": "toolu_3", "name": "Read", "input": {"path": "b.rs"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "fn a() {}"},
                {"type": "tool_result", "tool_use_id": "toolu_3", "content": "fn b() {}"}
            ]}
        ],
        "temperature": 1,
        "stop_sequences": ["</done>"],
        "stream": true,
        "tools": [
            {"name": "Bash", "description": "Run a command",
             "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
            {"name": "Read", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true}
    });
    let openai = anthropic_to_openai_request(&anthropic, None).expect("forward");
    let back = openai_to_anthropic_request(&openai, None).expect("back");
    assert_eq!(back, anthropic);

    let tool_choice = json!({"type": "tool", "name": "Read"});
    let mut with_named_tool = anthropic.clone();
    with_named_tool["tool_choice"] = tool_choice.clone();
    let openai = anthropic_to_openai_request(&with_named_tool, None).expect("forward");
    assert_eq!(openai_to_anthropic_request(&openai, None).expect("back")["tool_choice"], tool_choice);
}
