//! One recording line = one LLM call. The schema of recording format v1.
//!
//! A line is a superset of the recording line of AgenticSwarmBench (the original asb) (same
//! field names and meanings, see docs/recording-format.md), so AgenticSwarmBench can replay
//! our recordings and we can replay its: AgenticSwarmBench's fields come first; format v1
//! adds the exchange exactly as it happened. Every v1 field is optional when reading, so an
//! AgenticSwarmBench line is a valid line with only those fields.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::message;

/// The format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct CallLine {
    // ---- AgenticSwarmBench's fields -----------------------------------------------------
    /// 1-based number of the call, assigned when the request arrived.
    #[serde(default)]
    pub seq: u64,
    /// One id per recorder process.
    #[serde(default)]
    pub experiment_id: String,
    /// Arrival time, ISO-8601 UTC (`2026-11-24T00:00:00.123456+00:00`).
    #[serde(default)]
    pub timestamp: String,
    /// The conversation in OpenAI chat format (Anthropic requests are translated).
    #[serde(default)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default = "default_true")]
    pub stream: bool,
    /// `anthropic` when the client called `/v1/messages`, else `openai`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_api: String,
    /// All input tokens, cached ones included (Anthropic: input + cache read + cache creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_time_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_time_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tok_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,

    // ---- format v1 ---------------------------------------------------------------------
    /// Absent on AgenticSwarmBench's lines; 1 on ours. A higher number is refused by this
    /// build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Arrival of this call, in ms from the recorder's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_offset_ms: Option<f64>,
    /// Groups the calls of one agent thread (main agent, each sub-agent, side calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// 0-based position of this call in its thread, in arrival order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_turn: Option<u64>,
    /// The request exactly as the client sent it (secrets removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// The response exactly as the client received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
    /// When the proxy translated: the exchange with the upstream as it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Exchange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CallResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

fn default_true() -> bool {
    true
}

/// What commands read off a call, whichever recorder wrote its line. A format v1 line says
/// how the call ended (`outcome`), its normalised `usage` and its `timing`; an
/// AgenticSwarmBench line only has its fields (`prompt_tokens`, `ttft_ms`, `error`, ...).
/// These take the v1 field when it is there and fall back to AgenticSwarmBench's, so a
/// reader never has to care which kind of line it holds.
impl CallLine {
    /// How the call ended: the v1 `outcome`; for AgenticSwarmBench lines `completed`, or
    /// `failed` when the line has an `error` or an error status.
    pub(crate) fn outcome_str(&self) -> &'static str {
        match self.outcome {
            Some(o) => o.as_str(),
            None if self.error.is_some() || self.status_code.is_some_and(|s| s >= 400) => "failed",
            None => "completed",
        }
    }

    /// Whether the call ended any other way than `completed`.
    pub(crate) fn failed(&self) -> bool {
        self.outcome_str() != "completed"
    }

    /// Why the call failed: its `error`, else its outcome (for a failed call without text).
    pub(crate) fn error_text(&self) -> Option<String> {
        match &self.error {
            Some(e) => Some(e.clone()),
            None if self.failed() => Some(self.outcome_str().to_string()),
            None => None,
        }
    }

    /// All input tokens (cached included): the server's `usage`, else AgenticSwarmBench's
    /// `prompt_tokens`.
    pub(crate) fn input_tokens(&self) -> Option<u64> {
        match &self.usage {
            Some(u) if u.source == "server" => Some(u.input_tokens),
            _ => self.prompt_tokens,
        }
    }

    /// Output tokens: `usage`, else AgenticSwarmBench's `completion_tokens`.
    pub(crate) fn output_tokens(&self) -> Option<u64> {
        self.usage.as_ref().map(|u| u.output_tokens).or(self.completion_tokens)
    }

    /// Arrival → first output-bearing event, in ms (AgenticSwarmBench's `ttft_ms`, else
    /// `timing.ttft_ms`).
    pub(crate) fn first_token_ms(&self) -> Option<f64> {
        self.ttft_ms.or_else(|| self.timing.as_ref().and_then(|t| t.ttft_ms))
    }

    /// Wall-clock arrival (the `timestamp`) in ms since the epoch.
    pub(crate) fn timestamp_ms(&self) -> Option<f64> {
        let ts: jiff::Timestamp = self.timestamp.parse().ok()?;
        Some(ts.as_microsecond() as f64 / 1000.0)
    }

    /// Arrival → end of the answer, in ms (`timing.end_ms`, else AgenticSwarmBench's
    /// `total_time_s`).
    pub(crate) fn duration_ms(&self) -> Option<f64> {
        self.timing.as_ref().map(|t| t.end_ms).or(self.total_time_s.map(|s| s * 1000.0))
    }

    /// Arrival → end of the answer, in seconds (AgenticSwarmBench's `total_time_s`, else
    /// `timing.end_ms`).
    pub(crate) fn duration_s(&self) -> Option<f64> {
        self.total_time_s.or_else(|| self.timing.as_ref().map(|t| t.end_ms / 1000.0))
    }

    /// The newest input of the conversation: the last user message or tool result.
    pub(crate) fn last_input(&self) -> String {
        self.messages
            .iter()
            .rev()
            .find(|m| matches!(message::role(m), "user" | "tool"))
            .map(message::text)
            .unwrap_or_default()
    }
}

/// How the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The upstream answered 2xx and the answer reached the client whole.
    Completed,
    /// The upstream answered with an error status (its body is recorded).
    UpstreamError,
    /// The upstream could not be reached (refused, DNS, TLS, timeout before the answer).
    UpstreamUnreachable,
    /// The upstream's answer broke off (connection cut, or an error event mid-stream).
    UpstreamCut,
    /// The client went away before the answer ended.
    ClientDisconnected,
    /// The recorder was stopped while the call was in flight.
    Interrupted,
    /// The proxy could not forward the request (e.g. it could not be translated).
    ProxyRejected,
    /// The answer reached the client whole, but it was longer than the recorder keeps
    /// (`asb record --max-response-mib`): the recording holds its start.
    Truncated,
}

impl Outcome {
    /// The outcome as the recording spells it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
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
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct HttpRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Header names lower-cased; secrets replaced by `[redacted]`.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// The JSON body as sent.
    #[serde(default)]
    pub body: Option<Value>,
    /// The same body's bytes as the client sent them, when it fits on one line: written in
    /// `body`'s place, so the recording keeps the client's spelling (`1e-05`, integers
    /// beyond 64 bits, its spacing) rather than serde_json's. Not read back.
    #[serde(skip)]
    pub body_as_sent: Option<JsonText>,
    /// A body that is not JSON, as text.
    #[serde(default)]
    pub body_text: Option<String>,
}

/// Bytes known to be one JSON value, written into a line as they are.
#[derive(Debug, Clone)]
pub(crate) struct JsonText(Box<RawValue>);

impl JsonText {
    /// `bytes` if they are one JSON value with no line break in them (a pretty-printed body
    /// has them between tokens, where a JSONL line cannot).
    pub(crate) fn of(bytes: &[u8]) -> Option<JsonText> {
        if memchr::memchr2(b'\n', b'\r', bytes).is_some() {
            return None;
        }
        serde_json::from_slice(bytes).ok().map(JsonText)
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Serialize for HttpRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = 3 + usize::from(self.body.is_some()) + usize::from(self.body_text.is_some());
        let mut s = serializer.serialize_struct("HttpRequest", fields)?;
        s.serialize_field("method", &self.method)?;
        s.serialize_field("path", &self.path)?;
        s.serialize_field("headers", &self.headers)?;
        match (&self.body_as_sent, &self.body) {
            (Some(JsonText(raw)), _) => s.serialize_field("body", raw)?,
            (None, Some(body)) => s.serialize_field("body", body)?,
            (None, None) => s.skip_field("body")?,
        }
        match &self.body_text {
            Some(text) => s.serialize_field("body_text", text)?,
            None => s.skip_field("body_text")?,
        }
        s.end()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct HttpResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// A JSON body (non-streamed answers and errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A body that is not JSON and not SSE, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// A streamed body: every SSE event verbatim, with its arrival time. Concatenating
    /// `raw` gives back the body byte for byte (plus `tail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<SseRecord>>,
    /// Bytes after the last complete event (a stream that broke off mid-event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct SseRecord {
    /// Arrival in ms from the request's arrival at the proxy (of the frame that completed it).
    pub t: f64,
    pub raw: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Exchange {
    pub request: HttpRequest,
    pub response: Option<HttpResponse>,
}

/// The answer, reassembled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct CallResult {
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thinking: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// As the client's API says it (`end_turn`, `tool_use`, `stop`, `length`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as streamed: a JSON text.
    pub arguments: String,
}

/// Token usage normalised across providers. `input_tokens` counts every prompt token;
/// `input_uncached + cache_read + cache_creation = input_tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Usage {
    pub input_tokens: u64,
    pub input_uncached: u64,
    pub cache_read: u64,
    pub cache_creation: u64,
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// `server` (the provider's usage), or `content_events` (no usage was sent: the count of
    /// content-bearing events, a lower bound on output tokens and nothing known on input).
    pub source: String,
    /// The provider's usage object(s), verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
}

/// Times in ms from the request's arrival at the proxy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Timing {
    /// Upstream response headers received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    /// First output-bearing event (text, reasoning or tool-call arguments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Last output-bearing event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_token_ms: Option<f64>,
    /// The answer ended (or broke off).
    pub end_ms: f64,
    /// SSE events, and how many of them carried output.
    #[serde(default)]
    pub events: u64,
    #[serde(default)]
    pub content_events: u64,
}

/// The latest plausible event time of a recorded answer, in ms after its request: a day.
pub(crate) const MAX_EVENT_TIME_MS: f64 = 86_400_000.0;

/// An event time no recording of a real call has: negative, not a number, or beyond a day.
pub(crate) fn absurd_event_time(t_ms: f64) -> bool {
    !(0.0..=MAX_EVENT_TIME_MS).contains(&t_ms)
}

/// An event time as a user reads it: 1e300, not three hundred digits.
pub(crate) fn show_event_time(t_ms: f64) -> String {
    if t_ms.abs() < 1e15 {
        format!("{t_ms}")
    } else {
        format!("{t_ms:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asb_lines_fall_back_to_asb_fields() {
        let asb = CallLine {
            prompt_tokens: Some(100),
            completion_tokens: Some(7),
            total_time_s: Some(1.5),
            ttft_ms: Some(200.0),
            ..Default::default()
        };
        assert_eq!((asb.outcome_str(), asb.input_tokens(), asb.output_tokens()), ("completed", Some(100), Some(7)));
        assert_eq!((asb.duration_ms(), asb.first_token_ms()), (Some(1500.0), Some(200.0)));
        let failed_asb = CallLine { error: Some("boom".into()), ..Default::default() };
        assert_eq!((failed_asb.outcome_str(), failed_asb.error_text().as_deref()), ("failed", Some("boom")));
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
        assert_eq!((v1.input_tokens(), v1.output_tokens()), (Some(50), Some(3)));
        assert_eq!((v1.first_token_ms(), v1.duration_ms(), v1.duration_s()), (Some(12.0), Some(80.0), Some(0.08)));
        assert_eq!(v1.error_text().as_deref(), Some("upstream_cut"));
    }

    #[test]
    fn the_last_input_is_the_last_user_message_or_tool_result() {
        let call = CallLine {
            messages: vec![
                serde_json::json!({"role": "user", "content": "first"}),
                serde_json::json!({"role": "assistant", "content": "ok"}),
                serde_json::json!({"role": "tool", "content": "a.txt"}),
            ],
            ..Default::default()
        };
        assert_eq!(call.last_input(), "a.txt");
    }

    #[test]
    fn a_request_body_is_written_as_sent_when_it_fits_on_a_line() {
        let sent = br#"{"b": 1e-05, "a": 123456789012345678901234567890}"#;
        let mut request = HttpRequest {
            body: serde_json::from_slice(sent).ok(),
            body_as_sent: JsonText::of(sent),
            ..Default::default()
        };
        let line = serde_json::to_string(&request).unwrap();
        assert!(line.contains(&format!(r#""body":{}"#, std::str::from_utf8(sent).unwrap())), "{line}");
        // Read back, it is the same JSON (the spelling is not kept in memory).
        let back: HttpRequest = serde_json::from_str(&line).unwrap();
        assert_eq!(back.body, request.body);
        assert_eq!(back.body_as_sent, None);

        // Without the bytes (or with bytes that hold a line break): serde_json's spelling.
        assert_eq!(JsonText::of(b"{\n\"a\": 1}"), None);
        assert_eq!(JsonText::of(b"{\"a\": 1} x"), None);
        request.body_as_sent = None;
        let line = serde_json::to_string(&request).unwrap();
        assert!(line.contains(r#""body":{"b":0.00001,"a":1.2345678901234568e+29}"#), "{line}");
        assert!(!line.contains("body_text"));
    }
}
