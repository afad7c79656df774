//! Upstream (OpenAI-compatible) errors → Anthropic error objects.
//!
//! Anthropic errors are `{"type":"error","error":{"type","message"}}`, the `error.type`
//! following the HTTP status: 400 `invalid_request_error`, 401 `authentication_error`,
//! 403 `permission_error`, 404 `not_found_error`, 413 `request_too_large`, 429
//! `rate_limit_error`, 529 `overloaded_error`, anything else `api_error`. 503 is mapped
//! to `overloaded_error` too (what an overloaded vLLM or llama.cpp answers), and 422 to
//! `invalid_request_error` (FastAPI's validation status).
//!
//! Upstream bodies come in several shapes: OpenAI's `{"error":{"message",…}}`, a bare
//! `{"error":"…"}`, FastAPI's `{"detail":"…"}`, or plain text / HTML from a gateway. The
//! first three give their message; anything else is passed on as text, cut to
//! [`MAX_MESSAGE_CHARS`].

use serde_json::{json, Value};

/// Longest upstream body text copied into an error message.
const MAX_MESSAGE_CHARS: usize = 1000;

/// The Anthropic error object for an upstream error response.
pub(crate) fn openai_error_to_anthropic(status: u16, body: &[u8]) -> Value {
    anthropic_error(anthropic_error_type(status), &error_message(status, body))
}

/// Anthropic's `error.type` for an HTTP status.
fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// `{"type":"error","error":{"type","message"}}`.
pub(crate) fn anthropic_error(error_type: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type, "message": message}})
}

/// The Anthropic error type and message for the `error` member of an OpenAI stream
/// payload (`data: {"error": {...}}`). A numeric `code` (vLLM sends the HTTP status
/// there) or an `upstream_http_<status>` type (as AgenticSwarmBench, the original asb,
/// writes it) picks the type by status; anything mentioning "overloaded" is
/// `overloaded_error`; the rest is `api_error`.
pub(crate) fn stream_error(error: &Value) -> (&'static str, String) {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map_or_else(|| error.to_string(), str::to_owned);
    (stream_error_type(error), message)
}

fn stream_error_type(error: &Value) -> &'static str {
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .or_else(|| {
            let kind = error.get("type")?.as_str()?;
            kind.strip_prefix("upstream_http_")?.parse().ok()
        })
        .and_then(|status| u16::try_from(status).ok());
    if let Some(status) = status {
        return anthropic_error_type(status);
    }
    let labels = [error.get("type"), error.get("code")];
    let overloaded = labels
        .iter()
        .flatten()
        .filter_map(|label| label.as_str())
        .any(|label| label.to_ascii_lowercase().contains("overloaded"));
    if overloaded {
        "overloaded_error"
    } else {
        "api_error"
    }
}

/// What an error response says, for a person: the message of a JSON error body where
/// servers put it, else the body as text (cut to [`MAX_MESSAGE_CHARS`]).
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    upstream_message(body).unwrap_or_else(|| body_text(status, body))
}

/// The message of a JSON error body, if the body has one where servers put it.
fn upstream_message(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let candidates = [json.pointer("/error/message"), json.get("error"), json.get("message"), json.get("detail")];
    let message = candidates.into_iter().flatten().find_map(Value::as_str);
    message.map(str::to_owned)
}

/// The body as text, cut to [`MAX_MESSAGE_CHARS`]; a placeholder naming the status when
/// the body is empty.
fn body_text(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("upstream returned HTTP {status}");
    }
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_type(value: &Value) -> &str {
        value["error"]["type"].as_str().unwrap()
    }

    #[test]
    fn status_picks_the_error_type() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (529, "overloaded_error"),
        ];
        for (status, expected) in cases {
            assert_eq!(error_type(&openai_error_to_anthropic(status, b"")), expected, "{status}");
        }
    }

    #[test]
    fn openai_shaped_body_gives_its_message() {
        let body = br#"{"error":{"message":"This model's maximum context length is 32768 tokens","type":"BadRequestError","param":null,"code":400}}"#;
        assert_eq!(
            openai_error_to_anthropic(400, body),
            json!({"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "This model's maximum context length is 32768 tokens"}})
        );
    }

    #[test]
    fn other_json_shapes_give_their_message() {
        let bare = openai_error_to_anthropic(500, br#"{"error":"model crashed"}"#);
        assert_eq!(bare["error"]["message"], "model crashed");
        let fastapi = openai_error_to_anthropic(404, br#"{"detail":"Not Found"}"#);
        assert_eq!(fastapi["error"]["message"], "Not Found");
        assert_eq!(fastapi["error"]["type"], "not_found_error");
    }

    #[test]
    fn non_json_body_is_passed_on_as_truncated_text() {
        let html = openai_error_to_anthropic(502, b"<html>Bad Gateway</html>\n");
        assert_eq!(html["error"]["message"], "<html>Bad Gateway</html>");

        let long = "é".repeat(3000);
        let cut = openai_error_to_anthropic(500, long.as_bytes());
        let message = cut["error"]["message"].as_str().unwrap();
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));

        let invalid_utf8 = openai_error_to_anthropic(500, &[0xff, 0xfe, b'x']);
        assert!(invalid_utf8["error"]["message"].as_str().unwrap().ends_with('x'));
    }

    #[test]
    fn empty_body_names_the_status() {
        let empty = openai_error_to_anthropic(503, b"  ");
        assert_eq!(empty["error"]["message"], "upstream returned HTTP 503");
    }

    #[test]
    fn stream_error_payloads_pick_a_type() {
        let vllm = json!({"message": "engine dead", "type": "InternalServerError", "code": 500});
        assert_eq!(stream_error(&vllm), ("api_error", "engine dead".to_owned()));

        let asb = json!({"type": "upstream_http_503", "message": "busy"});
        assert_eq!(stream_error(&asb).0, "overloaded_error");

        let overloaded = json!({"type": "server_overloaded", "message": "later"});
        assert_eq!(stream_error(&overloaded).0, "overloaded_error");

        let bare = json!("boom");
        assert_eq!(stream_error(&bare), ("api_error", "boom".to_owned()));

        let no_message = json!({"code": "weird"});
        assert_eq!(stream_error(&no_message), ("api_error", r#"{"code":"weird"}"#.to_owned()));
    }
}
