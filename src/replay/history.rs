//! History modes: what the assistant turns inside a replayed conversation say.
//!
//! * `recorded` (default): every request as recorded — the assistant turns are the
//!   recorded model's answers.
//! * `live`: each earlier assistant turn is replaced by what the endpoint itself answered
//!   to that turn in this execution, so the prefix the server sees is the one it produced
//!   (its prefix cache then works even when the replay model is not the recording model).
//!
//! AgenticSwarmBench (the original asb)'s live mode assumes every request extends the
//! previous one; recordings interleave threads (main agent, sub-agents, side calls), and
//! AgenticSwarmBench then sends one thread's history to another, ending with an assistant
//! message, without its system prompt: requests no agent ever sent. Here each request
//! keeps its own recorded structure — system prompt, tools, message order, last message —
//! and only assistant turns are rewritten, by thread: a turn's answer sits, in every later
//! request of the same thread, at the index equal to that turn's message count. Recorded
//! tool calls are kept so the recorded tool results still pair with them; a failed or empty
//! live answer leaves the recorded answer to *that* turn in place.

use std::collections::HashMap;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::wire::Api;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HistoryMode {
    /// Requests as recorded.
    Recorded,
    /// Earlier assistant turns replaced by the endpoint's own answers, thread by thread.
    Live,
}

impl HistoryMode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            HistoryMode::Recorded => "recorded",
            HistoryMode::Live => "live",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            HistoryMode::Recorded => "each request sent as recorded, after the cache mode",
            HistoryMode::Live => {
                "earlier assistant turns replaced by the endpoint's own answers, per agent thread; recorded tool calls kept"
            }
        }
    }
}

/// One execution's live answers, per thread: (message index, answer text).
#[derive(Debug, Default)]
pub(crate) struct LiveHistory {
    threads: HashMap<String, Vec<(usize, String)>>,
}

impl LiveHistory {
    /// Rewrites the assistant turns of `body` that this thread already answered live.
    /// Returns how many were replaced.
    pub(crate) fn apply(&self, api: Api, thread: &str, body: &mut Value) -> usize {
        let Some(answers) = self.threads.get(thread) else {
            return 0;
        };
        let Some(messages) = body.get_mut(conversation_key(api)).and_then(Value::as_array_mut) else {
            return 0;
        };
        let mut replaced = 0;
        for (index, text) in answers {
            // A Responses answer is several items: its reasoning comes before its message.
            let reasoning = |m: &Value| m.get("type").and_then(Value::as_str) == Some("reasoning");
            let at = messages.iter().skip(*index).position(|m| !reasoning(m)).map(|n| index + n);
            let Some(message) = at.and_then(|at| messages.get_mut(at)) else { continue };
            if message.get("role").and_then(Value::as_str) != Some("assistant") {
                continue;
            }
            replace_text(api, message, text);
            replaced += 1;
        }
        replaced
    }

    /// Remembers the endpoint's answer to a request of `thread` that had `message_count`
    /// messages; an empty answer (failure) keeps the recorded one.
    pub(crate) fn remember(&mut self, thread: &str, message_count: usize, answer: &str) {
        if answer.is_empty() {
            return;
        }
        let answers = self.threads.entry(thread.to_string()).or_default();
        answers.retain(|(i, _)| *i != message_count);
        answers.push((message_count, answer.to_string()));
    }
}

/// The number of messages (Responses: input items) of a body: where its answer will sit
/// in the next turn.
pub(crate) fn message_count(body: &Value) -> usize {
    let list = body.get("messages").or_else(|| body.get("input"));
    list.and_then(Value::as_array).map_or(0, Vec::len)
}

/// Where an API's requests keep the conversation.
fn conversation_key(api: Api) -> &'static str {
    match api {
        Api::OpenAi | Api::Anthropic => "messages",
        Api::Responses => "input",
    }
}

/// Replaces an assistant message's text (and, for Anthropic, its thinking: the live
/// answer's thinking has no signature the server would accept) and keeps its tool calls.
fn replace_text(api: Api, message: &mut Value, text: &str) {
    match api {
        Api::OpenAi => {
            message["content"] = text.into();
            if let Some(obj) = message.as_object_mut() {
                obj.remove("reasoning_content");
            }
        }
        Api::Anthropic => match message.get_mut("content") {
            Some(Value::Array(blocks)) => {
                blocks.retain(|b| {
                    !matches!(b.get("type").and_then(Value::as_str), Some("text" | "thinking" | "redacted_thinking"))
                });
                blocks.insert(0, json!({"type": "text", "text": text}));
            }
            _ => message["content"] = text.into(),
        },
        Api::Responses => message["content"] = json!([{"type": "output_text", "text": text, "annotations": []}]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_replace_their_turn_in_the_same_thread_only() {
        let mut live = LiveHistory::default();
        live.remember("main", 2, "live answer 1");
        let mut body = json!({"messages": [
            {"role": "system", "content": "S"}, {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "recorded 1", "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"}, {"role": "user", "content": "q2"}]});
        let mut other = body.clone();
        assert_eq!(live.apply(Api::OpenAi, "main", &mut body), 1);
        assert_eq!(body["messages"][2]["content"], "live answer 1");
        assert_eq!(body["messages"][2]["tool_calls"][0]["id"], "c1", "tool calls kept so results pair");
        assert_eq!(body["messages"][4]["content"], "q2", "the last message is still the user's");
        assert_eq!(live.apply(Api::OpenAi, "side", &mut other), 0);
    }

    #[test]
    fn a_position_that_is_not_an_assistant_turn_is_left_alone() {
        let mut live = LiveHistory::default();
        live.remember("t", 1, "x");
        let mut body = json!({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]});
        assert_eq!(live.apply(Api::OpenAi, "t", &mut body), 0);
        live.remember("t", 0, "");
        assert_eq!(live.threads["t"].len(), 1, "a failed turn keeps the recorded answer");
    }

    #[test]
    fn anthropic_blocks_keep_tool_use_and_drop_unsigned_thinking() {
        let mut live = LiveHistory::default();
        live.remember("t", 1, "mine");
        let mut body = json!({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig"}, {"type": "text", "text": "theirs"},
            {"type": "tool_use", "id": "tu", "name": "Bash", "input": {}}]}, {"role": "user", "content": "r"}]});
        live.apply(Api::Anthropic, "t", &mut body);
        assert_eq!(
            body["messages"][1]["content"],
            json!([{"type": "text", "text": "mine"}, {"type": "tool_use", "id": "tu", "name": "Bash", "input": {}}])
        );
    }
}
