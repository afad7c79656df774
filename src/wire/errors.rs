//! API errors in the exact shape each provider's SDK parses (used by the mock for its
//! answers and by the proxy for its own failures).
//!
//! OpenAI: `{"error": {"message", "type", "param", "code"}}`.
//! Anthropic: `{"type": "error", "error": {"type", "message"}, "request_id"}`.

use http::{HeaderValue, Response, StatusCode};
use serde_json::json;

use super::Api;

/// A failed request: HTTP status plus a human message naming the cause.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI `param`, when one field is to blame.
    pub param: Option<String>,
    /// OpenAI `code` (e.g. `context_length_exceeded`).
    pub code: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// A 400 for a missing or mistyped field; `param` names the field path.
    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        let param = param.into();
        let message = format!("{param}: {}", message.into());
        ApiError { param: Some(param), ..ApiError::new(400, message) }
    }

    pub(crate) fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The Anthropic `error.type` for this status.
    fn anthropic_type(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            405 => "invalid_request_error",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            _ => "api_error",
        }
    }

    /// The OpenAI `error.type` for this status.
    fn openai_type(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 404 | 405 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            _ => "server_error",
        }
    }

    pub(crate) fn body(&self, api: Api, request_id: &str) -> serde_json::Value {
        match api {
            // The Responses API's HTTP errors have the Chat Completions shape.
            Api::OpenAi | Api::Responses => json!({"error": {
                "message": self.message,
                "type": self.openai_type(),
                "param": self.param,
                "code": self.code,
            }}),
            Api::Anthropic => json!({
                "type": "error",
                "error": {"type": self.anthropic_type(), "message": self.message},
                "request_id": request_id,
            }),
        }
    }

    /// The whole HTTP response: status, JSON content type, request id, and `retry-after`
    /// on 429.
    pub(crate) fn to_response(&self, api: Api, request_id: &str) -> Response<String> {
        let mut resp = Response::new(self.body(api, request_id).to_string());
        *resp.status_mut() = self.status;
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Names a JSON value's type for error messages.
pub(crate) fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}
