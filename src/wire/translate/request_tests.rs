//! Tests for [`super::request`] and [`super::messages`]: Anthropic Messages bodies, shaped
//! like the ones Claude Code sends, translated into Chat Completions bodies.

use serde_json::{json, Value};

use super::anthropic_to_openai_request;
use super::error::TranslateError;

fn translate(body: Value) -> Value {
    anthropic_to_openai_request(&body, None).expect("translates")
}

/// The OpenAI messages for these Anthropic messages (no system prompt).
fn messages(anthropic_messages: Value) -> Value {
    let body = json!({"model": "m", "max_tokens": 10, "messages": anthropic_messages});
    translate(body)["messages"].clone()
}

fn error(body: Value) -> String {
    anthropic_to_openai_request(&body, None).expect_err("rejected").to_string()
}

#[test]
fn claude_code_like_request() {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "temperature": 1,
        "stream": true,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.0.14; cch=abc;"},
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
             "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Be concise.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
            {"type": "text", "text": "list files", "cache_control": {"type": "ephemeral"}}
        ]}],
        "tools": [{
            "name": "Bash",
            "description": "Run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                             "required": ["command"]},
            "cache_control": {"type": "ephemeral"}
        }],
        "metadata": {"user_id": "user_abc_account_def_session_123"},
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "context_management": {"edits": []},
        "output_config": {"effort": "high"}
    });
    let expected = json!({
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content":
                "x-anthropic-billing-header: cc_version=2.0.14; cch=abc;\n\nYou are Claude Code, Anthropic's official CLI for Claude.\n\nBe concise."},
            {"role": "user", "content": "<system-reminder>ctx</system-reminder>\n\nlist files"}
        ],
        "max_tokens": 32000,
        "temperature": 1,
        "stream": true,
        "stream_options": {"include_usage": true},
        "tools": [{"type": "function", "function": {
            "name": "Bash",
            "description": "Run a command",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                           "required": ["command"]}
        }}]
    });
    let translated = translate(body);
    assert_eq!(translated, expected);
    let keys: Vec<&String> = translated.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["model", "messages", "max_tokens", "temperature", "stream", "stream_options", "tools"]);
    assert!(!translated.to_string().contains("cache_control"));
}

#[test]
fn tool_messages_come_right_after_the_assistant_tool_calls() {
    let translated = messages(json!([
        {"role": "user", "content": "list files"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Listing."},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.rs\nb.rs"},
            {"type": "text", "text": "<system-reminder>todo list empty</system-reminder>"}
        ]}
    ]));
    assert_eq!(
        translated,
        json!([
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": "Listing.", "tool_calls": [
                {"id": "toolu_1", "type": "function",
                 "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "a.rs\nb.rs"},
            {"role": "user", "content": "<system-reminder>todo list empty</system-reminder>"}
        ])
    );
}

#[test]
fn tool_results_go_first_even_when_text_precedes_them() {
    let translated = messages(json!([
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "a", "name": "Read", "input": {}},
            {"type": "tool_use", "id": "b", "name": "Read", "input": {}}
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "before"},
            {"type": "tool_result", "tool_use_id": "a", "content": "A"},
            {"type": "tool_result", "tool_use_id": "b", "content": "B"},
            {"type": "text", "text": "after"}
        ]}
    ]));
    let roles: Vec<&str> = translated.as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["assistant", "tool", "tool", "user"]);
    assert_eq!(translated[1]["tool_call_id"], "a");
    assert_eq!(translated[2]["tool_call_id"], "b");
    assert_eq!(translated[3]["content"], "before\n\nafter");
}

#[test]
fn a_turn_of_only_tool_results_has_no_user_message() {
    let translated = messages(json!([
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "ok"}]}
    ]));
    assert_eq!(translated, json!([{"role": "tool", "tool_call_id": "a", "content": "ok"}]));
}

#[test]
fn tool_result_content_forms() {
    let translated = messages(json!([{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "list", "content": [
            {"type": "text", "text": "line 1"}, {"type": "text", "text": "line 2"}]},
        {"type": "tool_result", "tool_use_id": "none"},
        {"type": "tool_result", "tool_use_id": "null", "content": null},
        {"type": "tool_result", "tool_use_id": "err", "is_error": true,
         "content": "<tool_use_error>File does not exist.</tool_use_error>"},
        {"type": "tool_result", "tool_use_id": "ok", "is_error": false, "content": "fine"}
    ]}]));
    let contents: Vec<&str> = translated.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(
        contents,
        ["line 1\n\nline 2", "", "", "Error: <tool_use_error>File does not exist.</tool_use_error>", "fine"]
    );
}

#[test]
fn images_in_a_tool_result_move_to_the_following_user_message() {
    let translated = messages(json!([{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "read", "content": [
            {"type": "text", "text": "screenshot.png"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
        ]}
    ]}]));
    assert_eq!(
        translated,
        json!([
            {"role": "tool", "tool_call_id": "read", "content": "screenshot.png"},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}
            ]}
        ])
    );
}

#[test]
fn tool_result_without_tool_use_id_names_the_block() {
    let body = json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "tool_result", "content": "x"}]}
    ]});
    assert_eq!(error(body), "messages[2].content[0]: tool_result without tool_use_id");
}

#[test]
fn images_keep_openai_content_parts_in_block_order() {
    let translated = messages(json!([{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "image", "source": {"type": "file", "file_id": "file_123"}},
        {"type": "text", "text": "Be brief."}
    ]}]));
    assert_eq!(
        translated[0]["content"],
        json!([
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "text", "text": "Be brief."}
        ])
    );
}

#[test]
fn documents_and_unknown_blocks_keep_their_text_or_vanish() {
    let translated = messages(json!([{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        {"type": "future_block", "text": "still text"},
        {"type": "future_block", "payload": 1},
        {"type": "text", "text": ""},
        {"type": "text", "text": "question"}
    ]}]));
    assert_eq!(translated, json!([{"role": "user", "content": "notes\n\nstill text\n\nquestion"}]));
}

#[test]
fn an_empty_user_turn_stays_an_empty_user_message() {
    assert_eq!(messages(json!([{"role": "user", "content": []}])), json!([{"role": "user", "content": ""}]));
}

#[test]
fn assistant_blocks() {
    let translated = messages(json!([
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "The user wants files.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "EncryptedBlob"},
            {"type": "text", "text": "Sure."},
            {"type": "tool_use", "id": "toolu_9", "name": "Edit",
             "input": {"path": "a.rs", "old": "x", "new": "y"}},
            {"type": "tool_use", "id": "toolu_10", "name": "TodoRead", "input": {}}
        ]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_11", "name": "Bash", "input": {"command": "ls"}}
        ]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": ""}]},
        {"role": "assistant", "content": "plain"}
    ]));
    assert_eq!(
        translated,
        json!([
            {"role": "assistant", "content": "Sure.", "reasoning_content": "The user wants files.",
             "tool_calls": [
                {"id": "toolu_9", "type": "function", "function": {"name": "Edit",
                 "arguments": "{\"path\":\"a.rs\",\"old\":\"x\",\"new\":\"y\"}"}},
                {"id": "toolu_10", "type": "function", "function": {"name": "TodoRead", "arguments": "{}"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_11", "type": "function",
                 "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}
            ]},
            {"role": "assistant", "content": "", "reasoning_content": "hm"},
            {"role": "assistant", "content": "plain"}
        ])
    );
}

#[test]
fn tool_use_needs_an_id_and_a_name() {
    let no_id = json!({"model": "m", "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "name": "Bash", "input": {}}]}
    ]});
    assert_eq!(error(no_id), "messages[0].content[0]: tool_use without id");
    let no_name = json!({"model": "m", "messages": [
        {"role": "assistant", "content": [{"type": "text", "text": "x"},
                                           {"type": "tool_use", "id": "t", "input": {}}]}
    ]});
    assert_eq!(error(no_name), "messages[0].content[1]: tool_use without name");
}

#[test]
fn system_messages_inside_the_conversation_stay_in_place() {
    let body = json!({"model": "m", "system": "top", "messages": [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "mid"},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}
    ]});
    assert_eq!(
        translate(body)["messages"],
        json!([
            {"role": "system", "content": "top"},
            {"role": "user", "content": "a"},
            {"role": "system", "content": "mid"},
            {"role": "assistant", "content": "b"},
            {"role": "system", "content": "x\n\ny"}
        ])
    );
}

#[test]
fn an_empty_system_prompt_adds_no_message() {
    for system in [json!(""), json!([]), json!(null)] {
        let body = json!({"model": "m", "system": system, "messages": [{"role": "user", "content": "a"}]});
        assert_eq!(translate(body)["messages"], json!([{"role": "user", "content": "a"}]));
    }
}

#[test]
fn tool_choice_forms() {
    let tools = json!([{"name": "Bash", "input_schema": {"type": "object"}}]);
    let cases = [
        (json!({"type": "auto"}), json!("auto"), None),
        (json!({"type": "any"}), json!("required"), None),
        (json!({"type": "none"}), json!("none"), None),
        (json!({"type": "tool", "name": "Bash"}), json!({"type": "function", "function": {"name": "Bash"}}), None),
        (json!({"type": "auto", "disable_parallel_tool_use": true}), json!("auto"), Some(false)),
        (json!({"type": "any", "disable_parallel_tool_use": false}), json!("required"), None),
    ];
    for (choice, expected, parallel) in cases {
        let body = json!({"model": "m", "messages": [], "tools": tools, "tool_choice": choice});
        let translated = translate(body);
        assert_eq!(translated["tool_choice"], expected, "{choice}");
        assert_eq!(translated.get("parallel_tool_calls").and_then(Value::as_bool), parallel, "{choice}");
    }
}

#[test]
fn unknown_tool_choice_is_left_to_the_server_default() {
    let body = json!({"model": "m", "messages": [],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "something_new"}});
    assert!(translate(body).get("tool_choice").is_none());
}

#[test]
fn tool_choice_tool_needs_a_name() {
    let body = json!({"model": "m", "messages": [],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool"}});
    assert_eq!(error(body), "tool_choice.name: missing");
}

#[test]
fn server_tools_are_dropped() {
    let body = json!({"model": "m", "messages": [], "tools": [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"name": "Read", "input_schema": {"type": "object"}},
        {"type": "custom", "name": "Grep", "description": "search", "input_schema": {"type": "object"}}
    ]});
    let tools = translate(body)["tools"].clone();
    assert_eq!(
        tools,
        json!([
            {"type": "function", "function": {"name": "Read", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "Grep", "description": "search",
                                              "parameters": {"type": "object"}}}
        ])
    );
}

#[test]
fn no_tools_left_means_no_tool_choice() {
    let body = json!({"model": "m", "messages": [],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true}});
    let translated = translate(body);
    for field in ["tools", "tool_choice", "parallel_tool_calls"] {
        assert!(translated.get(field).is_none(), "{field}");
    }
}

#[test]
fn max_tokens_is_copied_without_a_cap_and_sampling_fields_follow() {
    let body = json!({"model": "m", "messages": [], "max_tokens": 128000,
        "temperature": 0.2, "top_p": 0.9, "top_k": 40,
        "stop_sequences": ["</done>", "\n\nHuman:"], "stream": false});
    assert_eq!(
        translate(body),
        json!({"model": "m", "messages": [], "max_tokens": 128000,
               "temperature": 0.2, "top_p": 0.9, "top_k": 40,
               "stop": ["</done>", "\n\nHuman:"], "stream": false})
    );
}

#[test]
fn absent_fields_get_no_defaults() {
    let body = json!({"model": "m", "messages": [], "top_p": null});
    assert_eq!(translate(body), json!({"model": "m", "messages": []}));
}

#[test]
fn model_override_wins() {
    let body = json!({"model": "claude-opus-4-1", "messages": []});
    let translated = anthropic_to_openai_request(&body, Some("Qwen/Qwen3-Coder-30B")).unwrap();
    assert_eq!(translated["model"], "Qwen/Qwen3-Coder-30B");
    assert_eq!(translate(body)["model"], "claude-opus-4-1");
    let no_model = json!({"messages": []});
    assert_eq!(anthropic_to_openai_request(&no_model, None), Err(TranslateError::missing("model")));
    assert!(anthropic_to_openai_request(&no_model, Some("local")).is_ok());
}

#[test]
fn malformed_bodies_are_rejected_with_the_field_named() {
    let cases = [
        (json!([1]), "body: expected a JSON object"),
        (json!({"model": "m"}), "messages: missing"),
        (json!({"model": "m", "messages": {}}), "messages: expected an array"),
        (json!({"model": "m", "messages": [7]}), "messages[0]: expected an object"),
        (json!({"model": "m", "messages": [{"content": "x"}]}), "messages[0].role: missing"),
        (json!({"model": "m", "messages": [{"role": "user"}]}), "messages[0].content: missing"),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 3}]}),
            "messages[0].content: expected a string or a list of blocks",
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].role: unsupported role \"tool\"",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": ["text"]}]}),
            "messages[0].content[0]: expected an object",
        ),
        (json!({"model": "m", "system": 5, "messages": []}), "system: expected a string or a list of text blocks"),
        (json!({"model": "m", "messages": [], "tools": {}}), "tools: expected an array"),
        (json!({"model": "m", "messages": [], "tools": [{"input_schema": {}}]}), "tools[0].name: missing"),
    ];
    for (body, expected) in cases {
        assert_eq!(error(body), expected);
    }
}

#[test]
fn a_translated_answer_round_trips_into_the_next_request() {
    let upstream = json!({"id": "chatcmpl-7", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": "Checking.", "reasoning": "look first",
            "tool_calls": [{"id": "call_7", "type": "function",
                "function": {"name": "Bash", "arguments": "{\"command\":\"ls\",\"timeout\":5}"}}]}}]});
    let answer = super::openai_to_anthropic_response(&upstream, "claude-x").unwrap();
    let translated = messages(json!([
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_7", "content": "a.rs"}]}
    ]));
    assert_eq!(
        translated,
        json!([
            {"role": "assistant", "content": "Checking.", "reasoning_content": "look first",
             "tool_calls": upstream["choices"][0]["message"]["tool_calls"]},
            {"role": "tool", "tool_call_id": "call_7", "content": "a.rs"}
        ])
    );
}
