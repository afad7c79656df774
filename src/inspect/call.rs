//! What the commands read off one call, whichever recorder wrote it.
//!
//! A format v1 line says how the call ended (`outcome`), its normalised `usage` and its
//! `timing`; an asb line only has asb's fields (`prompt_tokens`, `ttft_ms`, `error`, ...).
//! These functions take the v1 field when it is there and fall back to asb's, so a command
//! never has to care which kind of line it holds.

use serde_json::Value;

use crate::recording::line::{CallLine, Outcome};

/// How the call ended: the v1 `outcome`; for asb lines `completed`, or `failed` when the
/// line has an `error` or an error status.
pub fn outcome(call: &CallLine) -> &'static str {
    match call.outcome {
        Some(o) => outcome_name(o),
        None if call.error.is_some() || call.status_code.is_some_and(|s| s >= 400) => "failed",
        None => "completed",
    }
}

/// The outcome as the recording spells it.
pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Completed => "completed",
        Outcome::UpstreamError => "upstream_error",
        Outcome::UpstreamUnreachable => "upstream_unreachable",
        Outcome::UpstreamCut => "upstream_cut",
        Outcome::ClientDisconnected => "client_disconnected",
        Outcome::Interrupted => "interrupted",
        Outcome::ProxyRejected => "proxy_rejected",
        Outcome::Truncated => "truncated",
    }
}

pub fn failed(call: &CallLine) -> bool {
    outcome(call) != "completed"
}

/// Why the call failed: its `error`, else its outcome (for a failed call without text).
pub fn error_text(call: &CallLine) -> Option<String> {
    match &call.error {
        Some(e) => Some(e.clone()),
        None if failed(call) => Some(outcome(call).to_string()),
        None => None,
    }
}

/// All input tokens (cached included).
pub fn input_tokens(call: &CallLine) -> Option<u64> {
    match &call.usage {
        Some(u) if u.source == "server" => Some(u.input_tokens),
        _ => call.prompt_tokens,
    }
}

pub fn output_tokens(call: &CallLine) -> Option<u64> {
    call.usage.as_ref().map(|u| u.output_tokens).or(call.completion_tokens)
}

/// Arrival → first output-bearing event, in ms.
pub fn ttft_ms(call: &CallLine) -> Option<f64> {
    call.ttft_ms.or_else(|| call.timing.as_ref().and_then(|t| t.ttft_ms))
}

/// Wall-clock arrival (the `timestamp`) in ms since the epoch.
pub fn timestamp_ms(call: &CallLine) -> Option<f64> {
    let ts: jiff::Timestamp = call.timestamp.parse().ok()?;
    Some(ts.as_microsecond() as f64 / 1000.0)
}

/// Arrival → end of the answer, in ms (`timing.end_ms`, else asb's `total_time_s`).
pub fn duration_ms(call: &CallLine) -> Option<f64> {
    call.timing.as_ref().map(|t| t.end_ms).or(call.total_time_s.map(|s| s * 1000.0))
}

/// Arrival → end of the answer, in seconds (asb's `total_time_s`, else `timing.end_ms`).
pub fn total_time_s(call: &CallLine) -> Option<f64> {
    call.total_time_s.or_else(|| call.timing.as_ref().map(|t| t.end_ms / 1000.0))
}

/// The thread id's first 6 digits, or `-` for lines without one.
pub fn thread_short(call: &CallLine) -> String {
    call.thread_id.as_deref().map(|t| t.chars().take(6).collect()).unwrap_or_else(|| "-".into())
}

/// The text of one chat message (OpenAI format, as `messages` holds it): its content's text,
/// then its tool calls as `name(arguments)`.
pub fn message_text(m: &Value) -> String {
    let mut parts = Vec::new();
    match m.get("content") {
        Some(Value::String(s)) => parts.push(s.clone()),
        Some(Value::Array(items)) => {
            for item in items {
                match item.get("text").and_then(Value::as_str) {
                    Some(t) => parts.push(t.to_string()),
                    None => parts.push(format!("[{}]", item.get("type").and_then(Value::as_str).unwrap_or("part"))),
                }
            }
        }
        _ => {}
    }
    for tc in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let f = tc.get("function").unwrap_or(tc);
        let name = f.get("name").and_then(Value::as_str).unwrap_or("?");
        let args = f.get("arguments").and_then(Value::as_str).unwrap_or("");
        parts.push(format!("{name}({args})"));
    }
    parts.join("\n")
}

pub fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("?")
}

/// The newest input of the conversation: the last user message or tool result.
pub fn last_input(call: &CallLine) -> String {
    call.messages.iter().rev().find(|m| matches!(role(m), "user" | "tool")).map(message_text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::{Timing, Usage};
    use serde_json::json;

    #[test]
    fn asb_lines_fall_back_to_asb_fields() {
        let asb = CallLine {
            prompt_tokens: Some(100),
            completion_tokens: Some(7),
            total_time_s: Some(1.5),
            ttft_ms: Some(200.0),
            ..Default::default()
        };
        assert_eq!((outcome(&asb), input_tokens(&asb), output_tokens(&asb)), ("completed", Some(100), Some(7)));
        assert_eq!((duration_ms(&asb), ttft_ms(&asb)), (Some(1500.0), Some(200.0)));
        let failed_asb = CallLine { error: Some("boom".into()), ..Default::default() };
        assert_eq!((outcome(&failed_asb), error_text(&failed_asb).as_deref()), ("failed", Some("boom")));
    }

    #[test]
    fn v1_lines_use_usage_timing_and_outcome() {
        let v1 = CallLine {
            outcome: Some(Outcome::UpstreamCut),
            prompt_tokens: Some(1),
            usage: Some(Usage { input_tokens: 50, output_tokens: 3, source: "server".into(), ..Default::default() }),
            timing: Some(Timing { ttft_ms: Some(12.0), end_ms: 80.0, ..Default::default() }),
            ..Default::default()
        };
        assert_eq!((input_tokens(&v1), output_tokens(&v1)), (Some(50), Some(3)));
        assert_eq!((ttft_ms(&v1), duration_ms(&v1), total_time_s(&v1)), (Some(12.0), Some(80.0), Some(0.08)));
        assert_eq!(error_text(&v1).as_deref(), Some("upstream_cut"));
    }

    #[test]
    fn message_texts() {
        let m = json!({"role": "assistant", "content": [{"type": "text", "text": "ok"}, {"type": "image"}],
            "tool_calls": [{"id": "1", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]});
        assert_eq!(message_text(&m), "ok\n[image]\nBash({})");
        let call = CallLine {
            messages: vec![json!({"role": "user", "content": "first"}), m, json!({"role": "tool", "content": "a.txt"})],
            ..Default::default()
        };
        assert_eq!(last_input(&call), "a.txt");
    }
}
