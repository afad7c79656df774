//! Groups calls into agent threads by the shape of their conversation.
//!
//! An agent thread (the main agent, each sub-agent, a side call such as a title or a
//! summary) keeps its system prompt and its first user message from call to call while the
//! conversation grows. So the thread id is a hash of those two, with Claude Code's
//! per-build billing header (`x-anthropic-billing-header: …`) left out of the system text.
//! Calls of one thread are numbered in arrival order (`thread_turn`).
//!
//! A Responses request (Codex CLI) has its system prompt in `instructions` and
//! leading `developer` / `system` input messages; its conversation key is the
//! `prompt_cache_key` when the client sends one (Codex sends its conversation id there,
//! the same on every turn of a session and different per session), else its first user
//! message as for the other APIs.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::wire::Api;

/// The thread id of a request body: 12 hex digits.
pub(crate) fn thread_id(api: Api, body: &Value) -> String {
    let (system, first_user) = match api {
        Api::Responses => {
            let instructions = body.get("instructions").map(text_of).unwrap_or_default();
            let leading = body
                .get("input")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .take_while(|m| matches!(role(m), "system" | "developer"))
                        .map(|m| m.get("content").map(text_of).unwrap_or_default())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let system = std::iter::once(instructions).chain(leading).collect::<Vec<_>>().join("\n");
            let key = match body.get("prompt_cache_key").and_then(Value::as_str) {
                Some(key) => key.to_owned(),
                None => match body.get("input") {
                    Some(Value::String(s)) => s.clone(),
                    _ => first_in(body, "input", &["user"]),
                },
            };
            (system, key)
        }
        Api::Anthropic => (body.get("system").map(text_of).unwrap_or_default(), first_with_role(body, &["user"])),
        Api::OpenAi => {
            let system = body
                .get("messages")
                .and_then(Value::as_array)
                .map(|ms| {
                    ms.iter()
                        .take_while(|m| matches!(role(m), "system" | "developer"))
                        .map(|m| m.get("content").map(text_of).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            (system, first_with_role(body, &["user"]))
        }
    };
    let system: Vec<&str> =
        system.lines().filter(|l| !l.trim_start().starts_with("x-anthropic-billing-header")).collect();
    let mut h = Sha256::new();
    h.update(system.join("\n").as_bytes());
    h.update([0]);
    h.update(first_user.as_bytes());
    let digest = h.finalize();
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or_default()
}

fn first_with_role(body: &Value, roles: &[&str]) -> String {
    first_in(body, "messages", roles)
}

/// The content text of the first entry of list `key` with one of `roles`.
fn first_in(body: &Value, key: &str, roles: &[&str]) -> String {
    body.get(key)
        .and_then(Value::as_array)
        .and_then(|ms| ms.iter().find(|m| roles.contains(&role(m))))
        .and_then(|m| m.get("content"))
        .map(text_of)
        .unwrap_or_default()
}

/// The text of a string or of a list of blocks/parts (their `text` fields).
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            items.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// Numbers the calls of each thread.
#[derive(Default)]
pub(crate) struct ThreadTurns(Mutex<HashMap<String, u64>>);

impl ThreadTurns {
    /// The next turn number of `thread` (0 for its first call).
    pub(crate) fn next(&self, thread: &str) -> u64 {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(thread.to_string()).or_insert(0);
        *n += 1;
        *n - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_thread_as_the_conversation_grows_and_billing_header_ignored() {
        let turn1 = json!({"system": [{"type": "text", "text": "x-anthropic-billing-header: cch=aaa;"},
            {"type": "text", "text": "You are Claude Code."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "fix the bug"}]}]});
        let mut turn2 = turn1.clone();
        turn2["system"][0]["text"] = json!("x-anthropic-billing-header: cch=bbb;");
        turn2["messages"]
            .as_array_mut()
            .unwrap()
            .extend([json!({"role": "assistant", "content": "ok"}), json!({"role": "user", "content": "more"})]);
        assert_eq!(thread_id(Api::Anthropic, &turn1), thread_id(Api::Anthropic, &turn2));
        let sub = json!({"system": "You are a sub-agent.", "messages": [{"role": "user", "content": "search"}]});
        assert_ne!(thread_id(Api::Anthropic, &turn1), thread_id(Api::Anthropic, &sub));
        assert_eq!(thread_id(Api::Anthropic, &turn1).len(), 12);
    }

    #[test]
    fn responses_threads_by_instructions_and_conversation_key() {
        let turn1 = json!({"instructions": "You are Codex.", "prompt_cache_key": "conv-1",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "env"}]}]});
        let mut turn2 = turn1.clone();
        turn2["input"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "function_call_output", "call_id": "c", "output": "x"}));
        assert_eq!(thread_id(Api::Responses, &turn1), thread_id(Api::Responses, &turn2));
        let other_session = json!({"instructions": "You are Codex.", "prompt_cache_key": "conv-2", "input": []});
        assert_ne!(thread_id(Api::Responses, &turn1), thread_id(Api::Responses, &other_session));
        let keyless = |q: &str| json!({"instructions": "s", "input": [{"role": "user", "content": q}]});
        assert_ne!(thread_id(Api::Responses, &keyless("a")), thread_id(Api::Responses, &keyless("b")));
        assert_eq!(thread_id(Api::Responses, &json!({"input": "a"})).len(), 12);
    }

    #[test]
    fn openai_threads_and_turns() {
        let a = json!({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q1"}]});
        let b = json!({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q2"}]});
        assert_ne!(thread_id(Api::OpenAi, &a), thread_id(Api::OpenAi, &b));
        let turns = ThreadTurns::default();
        assert_eq!((turns.next("x"), turns.next("x"), turns.next("y")), (0, 1, 0));
    }
}
