//! Non-streamed OpenAI `chat.completion` → Anthropic `message`.
//!
//! Shape: `{id, type: "message", role: "assistant", model, content, stop_reason,
//! stop_sequence, usage}`, content blocks in vLLM's order:
//!
//! 1. `thinking` from `message.reasoning_content` / `message.reasoning`, with an empty
//!    `signature` (an OpenAI server has nothing to sign);
//! 2. `text`, only when non-empty;
//! 3. one `tool_use` per tool call (and for a legacy `function_call`), `input` being the
//!    parsed `arguments`.
//!
//! A message with no block at all gets one empty `text` block (Anthropic never answers
//! `content: []`). `content: null` — the tool-call-only answer that crashes
//! AgenticSwarmBench (the original asb) — is simply no text. The `id` is `"msg_"` + the
//! upstream id (generated when absent).
//!
//! Tool arguments that are not a JSON object (truncated by `max_tokens`, or a model
//! writing invalid JSON) give `input: {}`, and the raw string is kept in a top-level
//! `asb_unparsed_tool_arguments: [{tool_use_id, arguments}]` member, present only then.
//! Anthropic clients ignore unknown top-level members and never send them back (only
//! `content` enters the conversation), so the proxy can log it without breaking the next
//! request. Empty arguments (a tool without parameters) are simply `{}`.

use serde_json::{json, Map, Value};

use super::error::TranslateError;
use super::ids::{generate_message_id, generate_tool_use_id};
use super::stop_reason::Stop;
use super::usage::anthropic_usage;
use crate::wire::openai::{Answer, Arguments, Message, ToolCall};

/// Where the raw text of unparseable tool arguments is kept.
const UNPARSED_ARGUMENTS_FIELD: &str = "asb_unparsed_tool_arguments";

/// Translates a `chat.completion` body into an Anthropic `message`, reported as `model`.
/// The answer is read by the wire's OpenAI conventions ([`crate::wire::openai`]).
pub(crate) fn openai_to_anthropic_response(body: &Value, model: &str) -> Result<Value, TranslateError> {
    if !body.is_object() {
        return Err(TranslateError::wrong_type("body", "a JSON object"));
    }
    let answer = Answer::from_value(body);
    let choice = answer.first_choice().ok_or_else(|| TranslateError::missing("choices[0]"))?;
    let no_message = Message::default();
    let message = choice.message().unwrap_or(&no_message);
    let tool_uses = ToolUses::of_message(message);

    let mut content = Vec::new();
    content.extend(message.reasoning().map(thinking_block));
    content.extend(message.visible_text().map(|text| json!({"type": "text", "text": text})));
    content.extend(tool_uses.blocks.iter().cloned());
    if content.is_empty() {
        content.push(json!({"type": "text", "text": ""}));
    }

    let stop = Stop::of_choice(choice.finish_reason(), choice.matched_stop(), !tool_uses.blocks.is_empty());
    let mut anthropic = json!({
        "id": message_id(body),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop.reason,
        "stop_sequence": stop.sequence,
        "usage": anthropic_usage(answer.usage()),
    });
    if !tool_uses.unparsed.is_empty() {
        anthropic[UNPARSED_ARGUMENTS_FIELD] = tool_uses.unparsed.into();
    }
    Ok(anthropic)
}

fn message_id(body: &Value) -> String {
    match body.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => format!("msg_{id}"),
        _ => generate_message_id(),
    }
}

fn thinking_block(thinking: &str) -> Value {
    json!({"type": "thinking", "thinking": thinking, "signature": ""})
}

/// The `tool_use` blocks of one message, plus the arguments that did not parse.
#[derive(Default)]
struct ToolUses {
    blocks: Vec<Value>,
    unparsed: Vec<Value>,
}

impl ToolUses {
    /// One block per tool call, the legacy `function_call` included.
    fn of_message(message: &Message<'_>) -> Self {
        let mut tool_uses = ToolUses::default();
        for call in message.tool_calls() {
            tool_uses.push(&call);
        }
        tool_uses
    }

    /// Adds the block for one call.
    fn push(&mut self, call: &ToolCall<'_>) {
        let id = call.id.map_or_else(generate_tool_use_id, str::to_owned);
        let input = match parse_arguments(call.arguments()) {
            Ok(input) => input,
            Err(raw) => {
                self.unparsed.push(json!({"tool_use_id": id, "arguments": raw}));
                Value::Object(Map::new())
            }
        };
        self.blocks.push(json!({"type": "tool_use", "id": id, "name": call.name(), "input": input}));
    }
}

/// Tool `arguments` as an Anthropic `input` object, or the raw text when it is not one.
/// Servers normally send a JSON string; some send the object itself.
fn parse_arguments(arguments: &Arguments<'_>) -> Result<Value, String> {
    let raw = match arguments {
        Arguments::Absent => return Ok(Value::Object(Map::new())),
        Arguments::Json(object @ Value::Object(_)) => return Ok(object.clone()),
        Arguments::Text(raw) => raw,
        Arguments::Json(other) => return Err(other.to_string()),
    };
    if raw.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(object @ Value::Object(_)) => Ok(object),
        _ => Err(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(message: Value, finish_reason: &str) -> Value {
        json!({
            "id": "chatcmpl-42",
            "object": "chat.completion",
            "created": 1,
            "model": "Qwen/Qwen3-Coder-30B",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230,
                      "prompt_tokens_details": {"cached_tokens": 1024}}
        })
    }

    fn translate(body: Value) -> Value {
        openai_to_anthropic_response(&body, "claude-sonnet-4-5").expect("translates")
    }

    #[test]
    fn text_answer() {
        let body = completion(json!({"role": "assistant", "content": "Paris."}), "stop");
        assert_eq!(
            translate(body),
            json!({
                "id": "msg_chatcmpl-42",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "Paris."}],
                "stop_reason": "end_turn",
                "stop_sequence": null,
                "usage": {"input_tokens": 176, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 1024, "output_tokens": 30}
            })
        );
    }

    #[test]
    fn null_content_tool_call_only_answer() {
        let message = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "Bash", "arguments": "{\"command\":\"ls -la\"}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "Read", "arguments": "{\"path\":\"a.rs\",\"limit\":10}"}}
        ]});
        let translated = translate(completion(message, "tool_calls"));
        assert_eq!(
            translated["content"],
            json!([
                {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls -la"}},
                {"type": "tool_use", "id": "call_2", "name": "Read",
                 "input": {"path": "a.rs", "limit": 10}}
            ])
        );
        assert_eq!(translated["stop_reason"], "tool_use");
        assert!(translated.get(UNPARSED_ARGUMENTS_FIELD).is_none());
    }

    #[test]
    fn blocks_come_thinking_then_text_then_tool_use() {
        for reasoning_field in ["reasoning_content", "reasoning"] {
            let mut message = json!({"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "Glob", "arguments": "{}"}}
            ]});
            message[reasoning_field] = json!("Need the file list.");
            let translated = translate(completion(message, "tool_calls"));
            assert_eq!(
                translated["content"],
                json!([
                    {"type": "thinking", "thinking": "Need the file list.", "signature": ""},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "call_1", "name": "Glob", "input": {}}
                ]),
                "{reasoning_field}"
            );
        }
    }

    #[test]
    fn an_empty_answer_has_one_empty_text_block() {
        for content in [json!(""), json!(null)] {
            let translated = translate(completion(json!({"role": "assistant", "content": content}), "length"));
            assert_eq!(translated["content"], json!([{"type": "text", "text": ""}]));
            assert_eq!(translated["stop_reason"], "max_tokens");
        }
        let no_message = json!({"id": "x", "choices": [{"index": 0, "finish_reason": "stop"}]});
        assert_eq!(translate(no_message)["content"], json!([{"type": "text", "text": ""}]));
    }

    #[test]
    fn unparseable_arguments_give_empty_input_and_keep_the_raw_text() {
        let message = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_cut", "type": "function",
             "function": {"name": "Write", "arguments": "{\"path\":\"a.rs\",\"content\":\"fn ma"}},
            {"id": "call_list", "type": "function", "function": {"name": "X", "arguments": "[1,2]"}},
            {"id": "call_empty", "type": "function", "function": {"name": "TodoRead", "arguments": ""}},
            {"id": "call_object", "type": "function", "function": {"name": "Y", "arguments": {"k": 1}}}
        ]});
        let translated = translate(completion(message, "length"));
        let inputs: Vec<&Value> =
            translated["content"].as_array().unwrap().iter().map(|block| &block["input"]).collect();
        assert_eq!(inputs, [&json!({}), &json!({}), &json!({}), &json!({"k": 1})]);
        assert_eq!(
            translated[UNPARSED_ARGUMENTS_FIELD],
            json!([
                {"tool_use_id": "call_cut", "arguments": "{\"path\":\"a.rs\",\"content\":\"fn ma"},
                {"tool_use_id": "call_list", "arguments": "[1,2]"}
            ])
        );
        assert_eq!(translated["stop_reason"], "max_tokens");
    }

    #[test]
    fn missing_ids_are_generated() {
        let body = json!({"choices": [{"message": {"content": null, "tool_calls": [
            {"type": "function", "function": {"name": "Bash", "arguments": "{}"}}
        ]}, "finish_reason": "tool_calls"}]});
        let translated = translate(body);
        assert!(translated["id"].as_str().unwrap().starts_with("msg_"));
        assert!(translated["content"][0]["id"].as_str().unwrap().starts_with("toolu_"));
        assert_eq!(
            translated["usage"],
            json!({"input_tokens": 0, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 0, "output_tokens": 0})
        );
    }

    #[test]
    fn legacy_function_call_becomes_a_tool_use() {
        let message = json!({"content": null, "function_call": {"name": "Bash", "arguments": "{\"command\":\"pwd\"}"}});
        let translated = translate(completion(message, "function_call"));
        assert_eq!(translated["content"][0]["name"], "Bash");
        assert_eq!(translated["content"][0]["input"], json!({"command": "pwd"}));
        assert_eq!(translated["stop_reason"], "tool_use");
    }

    #[test]
    fn stop_reason_refinements() {
        let filtered = translate(completion(json!({"content": "…"}), "content_filter"));
        assert_eq!(filtered["stop_reason"], "refusal");

        let forced_tool = json!({"content": null, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]});
        assert_eq!(translate(completion(forced_tool, "stop"))["stop_reason"], "tool_use");

        let mut stopped = completion(json!({"content": "42"}), "stop");
        stopped["choices"][0]["stop_reason"] = json!("</answer>");
        let translated = translate(stopped);
        assert_eq!(translated["stop_reason"], "stop_sequence");
        assert_eq!(translated["stop_sequence"], "</answer>");
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        let model = "m";
        assert_eq!(
            openai_to_anthropic_response(&json!("x"), model),
            Err(TranslateError::wrong_type("body", "a JSON object"))
        );
        for body in [json!({}), json!({"choices": []}), json!({"choices": null})] {
            assert_eq!(openai_to_anthropic_response(&body, model), Err(TranslateError::missing("choices[0]")));
        }
        let odd = json!({"choices": [{"message": {"content": 5, "tool_calls": null}}], "usage": "?"});
        assert_eq!(
            openai_to_anthropic_response(&odd, model).unwrap()["content"],
            json!([{"type": "text", "text": ""}])
        );
    }
}
