//! OpenAI `finish_reason` → Anthropic `stop_reason` and `stop_sequence`.
//!
//! The base mapping is vLLM's own `/v1/messages` adapter's, completed:
//!
//! | OpenAI `finish_reason`          | Anthropic `stop_reason` |
//! |---------------------------------|-------------------------|
//! | `stop`                          | `end_turn`              |
//! | `length`                        | `max_tokens`            |
//! | `tool_calls`, `function_call`   | `tool_use`              |
//! | `content_filter`                | `refusal`               |
//! | `null`, missing, anything else  | `end_turn`              |
//!
//! Two refinements when the stop is computed from a whole choice:
//!
//! * A turn that produced tool calls stops with `tool_use` unless it was cut by `length`:
//!   vLLM answers `finish_reason: "stop"` when `tool_choice` is `required` or names a
//!   function, yet Anthropic clients expect `tool_use` whenever the message ends in
//!   `tool_use` blocks.
//! * vLLM reports the stop string that ended generation in the non-standard
//!   `choices[].stop_reason`; when it is a string, the Anthropic answer is
//!   `stop_reason: "stop_sequence"` with that `stop_sequence`, as Anthropic does for
//!   `stop_sequences`. (A number there is a stop *token* id, which stays `end_turn`.)

use serde_json::Value;

/// Anthropic `stop_reason` for an OpenAI `finish_reason`, without the refinements.
pub(crate) fn anthropic_stop_reason(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// How an Anthropic message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stop {
    pub reason: &'static str,
    pub sequence: Option<String>,
}

impl Stop {
    /// The stop of a choice given its `finish_reason`, vLLM's `stop_reason` (the matched
    /// stop string, if any) and whether the choice produced tool calls.
    pub(crate) fn of_choice(finish_reason: Option<&str>, matched_stop: Option<&Value>, called_tools: bool) -> Stop {
        let reason = anthropic_stop_reason(finish_reason);
        if called_tools && reason != "max_tokens" {
            return Stop::reason("tool_use");
        }
        match matched_stop.and_then(Value::as_str) {
            Some(sequence) if finish_reason == Some("stop") => {
                Stop { reason: "stop_sequence", sequence: Some(sequence.to_owned()) }
            }
            _ => Stop::reason(reason),
        }
    }

    fn reason(reason: &'static str) -> Stop {
        Stop { reason, sequence: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finish_reasons_map_like_vllm() {
        assert_eq!(anthropic_stop_reason(Some("stop")), "end_turn");
        assert_eq!(anthropic_stop_reason(Some("length")), "max_tokens");
        assert_eq!(anthropic_stop_reason(Some("tool_calls")), "tool_use");
        assert_eq!(anthropic_stop_reason(Some("function_call")), "tool_use");
        assert_eq!(anthropic_stop_reason(Some("content_filter")), "refusal");
        assert_eq!(anthropic_stop_reason(Some("abort")), "end_turn");
        assert_eq!(anthropic_stop_reason(None), "end_turn");
    }

    #[test]
    fn tool_calls_win_over_stop_but_not_over_length() {
        assert_eq!(Stop::of_choice(Some("stop"), None, true).reason, "tool_use");
        assert_eq!(Stop::of_choice(None, None, true).reason, "tool_use");
        assert_eq!(Stop::of_choice(Some("length"), None, true).reason, "max_tokens");
        assert_eq!(Stop::of_choice(Some("stop"), None, false).reason, "end_turn");
    }

    #[test]
    fn a_matched_stop_string_becomes_stop_sequence() {
        let stop = Stop::of_choice(Some("stop"), Some(&json!("</answer>")), false);
        assert_eq!(stop.reason, "stop_sequence");
        assert_eq!(stop.sequence.as_deref(), Some("</answer>"));

        let eos_token = Stop::of_choice(Some("stop"), Some(&json!(151645)), false);
        assert_eq!(eos_token, Stop::reason("end_turn"));
    }
}
