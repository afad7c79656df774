//! One aligned pair of calls compared: the prompt (messages as `asb serve` matches them, and
//! the request parameters), the response (outcome, text, tool calls) and the timing A → B.

use serde_json::Value;

use crate::display::{cut, excerpt};
use crate::recording::json_diff as leaf_diff;
use crate::recording::line::CallLine;
use crate::recording::message;
use crate::recording::normalize::Normalizer;
use crate::recording::reader::NumberedCall;

use super::report::{CallRef, Change, FieldChange, MessageDiff, PairDiff, PromptDiff, ResponseDiff, TimingDiff};

/// Request body fields compared as parameters; the conversation is compared as `messages`.
const CONVERSATION_FIELDS: &[&str] =
    &["messages", "system", "model", "max_tokens", "max_completion_tokens", "temperature", "stream"];
/// Characters of context around a text change.
const CONTEXT: usize = 20;
const EXCERPT: usize = 60;

pub(super) fn call_ref(c: &NumberedCall) -> CallRef {
    CallRef {
        seq: c.call.seq,
        line: c.line,
        model: c.call.model.clone(),
        thread_id: c.call.thread_id.clone(),
        last_input: excerpt(&c.call.last_input(), EXCERPT),
    }
}

pub(crate) fn compare_calls(a: &NumberedCall, b: &NumberedCall) -> PairDiff {
    let prompt = compare_prompts(&a.call, &b.call);
    let response = compare_responses(&a.call, &b.call);
    PairDiff {
        a: call_ref(a),
        b: call_ref(b),
        equal: prompt.equal && response.equal,
        prompt,
        response,
        timing: TimingDiff {
            ttft_ms: change(a.call.first_token_ms(), b.call.first_token_ms()),
            total_time_s: change(a.call.duration_s(), b.call.duration_s()),
        },
    }
}

fn change(a: Option<f64>, b: Option<f64>) -> Option<Change> {
    let (a, b) = (a?, b?);
    Some(Change { a, b, ratio: (a > 0.0).then(|| b / a) })
}

/// Messages as `asb serve` matches them: timestamps, UUIDs and billing-header values
/// normalised.
fn canonical_messages(c: &CallLine) -> Vec<Value> {
    match Normalizer::default().canonicalize(Value::Array(c.messages.clone())) {
        Value::Array(messages) => messages,
        _ => Vec::new(),
    }
}

fn compare_prompts(a: &CallLine, b: &CallLine) -> PromptDiff {
    let (ma, mb) = (canonical_messages(a), canonical_messages(b));
    let first_difference =
        (0..ma.len().max(mb.len())).find(|&i| ma.get(i) != mb.get(i)).map(|i| message_diff(i, ma.get(i), mb.get(i)));
    let fields = compare_fields(a, b);
    PromptDiff {
        equal: first_difference.is_none() && fields.is_empty(),
        messages_a: a.messages.len(),
        messages_b: b.messages.len(),
        first_difference,
        fields,
    }
}

fn message_diff(index: usize, a: Option<&Value>, b: Option<&Value>) -> MessageDiff {
    let role = |m: Option<&Value>| m.map(|m| message::role(m).to_string());
    let (ta, tb) = (a.map(message::text), b.map(message::text));
    let (at_char, ea, eb) = match (&ta, &tb) {
        (Some(x), Some(y)) if x != y => {
            let (at, ex, ey) = text_change(x, y);
            (Some(at), Some(ex), Some(ey))
        }
        _ => (None, ta.map(|t| excerpt(&t, EXCERPT)), tb.map(|t| excerpt(&t, EXCERPT))),
    };
    MessageDiff { index, role_a: role(a), role_b: role(b), a: ea, b: eb, at_char }
}

/// Where two texts first differ, and an excerpt of each around it: a little context before,
/// the differing middle, a little after (on one line, cut with `…`).
fn text_change(a: &str, b: &str) -> (usize, String, String) {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
    let max_suffix = x.len().min(y.len()) - prefix;
    let suffix = x.iter().rev().zip(y.iter().rev()).take(max_suffix).take_while(|(p, q)| p == q).count();
    let start = prefix.saturating_sub(CONTEXT);
    let show = |chars: &[char]| {
        let end = (chars.len() - suffix + CONTEXT / 2).min(chars.len());
        let mut text = String::new();
        if start > 0 {
            text.push('…');
        }
        text.push_str(&excerpt(&chars[start..end].iter().collect::<String>(), EXCERPT));
        if end < chars.len() && !text.ends_with('…') {
            text.push('…');
        }
        text
    };
    (prefix, show(&x), show(&y))
}

/// Model and request parameters: AgenticSwarmBench (the original asb)'s fields, then the
/// request body's other fields.
fn compare_fields(a: &CallLine, b: &CallLine) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut field = |path: &str, x: Value, y: Value| {
        if x != y {
            out.push(FieldChange {
                path: path.into(),
                a: leaf_diff::show(&Some(x), 40),
                b: leaf_diff::show(&Some(y), 40),
            });
        }
    };
    field("model", a.model.clone().into(), b.model.clone().into());
    field("max_tokens", a.max_tokens.into(), b.max_tokens.into());
    field("temperature", a.temperature.into(), b.temperature.into());
    field("stream", a.stream.into(), b.stream.into());
    let body = |c: &CallLine| {
        let mut body = Normalizer::default().canonicalize(c.request.as_ref()?.body.clone()?);
        if let Some(map) = body.as_object_mut() {
            map.retain(|k, _| !CONVERSATION_FIELDS.contains(&k.as_str()));
        }
        Some(body)
    };
    if let (Some(x), Some(y)) = (body(a), body(b)) {
        for d in leaf_diff::diff(&x, &y) {
            out.push(FieldChange {
                path: format!("request.body.{}", d.path),
                a: leaf_diff::show(&d.expected, 40),
                b: leaf_diff::show(&d.received, 40),
            });
        }
    }
    out
}

fn tool_calls(c: &CallLine) -> Vec<String> {
    c.result.iter().flat_map(|r| &r.tool_calls).map(|t| cut(&format!("{}({})", t.name, t.arguments), EXCERPT)).collect()
}

fn compare_responses(a: &CallLine, b: &CallLine) -> ResponseDiff {
    let (outcome_a, outcome_b) = (a.outcome_str(), b.outcome_str());
    let known = a.result.is_some() && b.result.is_some();
    let (ra, rb) = (a.result.as_ref(), b.result.as_ref());
    let text_equal = known.then(|| ra.map(|r| &r.text) == rb.map(|r| &r.text));
    let calls_of = |c: &CallLine| -> Vec<(String, String)> {
        c.result.iter().flat_map(|r| &r.tool_calls).map(|t| (t.name.clone(), t.arguments.clone())).collect()
    };
    let tool_calls_equal = known.then(|| calls_of(a) == calls_of(b));
    ResponseDiff {
        equal: outcome_a == outcome_b && text_equal != Some(false) && tool_calls_equal != Some(false),
        outcome_a: outcome_a.into(),
        outcome_b: outcome_b.into(),
        known,
        text_equal,
        tool_calls_a: tool_calls(a),
        tool_calls_b: tool_calls(b),
        tool_calls_equal,
        output_tokens_a: a.output_tokens(),
        output_tokens_b: b.output_tokens(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_changes_show_context() {
        let (at, a, b) =
            text_change("The quick brown fox jumps over the lazy dog", "The quick brown cat jumps over the lazy dog");
        assert_eq!(at, 16);
        assert_eq!((a.as_str(), b.as_str()), ("The quick brown fox jumps ove…", "The quick brown cat jumps ove…"));
        let long = "x".repeat(100);
        let (at, a, _) = text_change(&format!("{long}A"), &format!("{long}B"));
        assert_eq!((at, a.as_str()), (100, "…xxxxxxxxxxxxxxxxxxxxA"));
    }
}
