//! One recording line = one LLM call. The schema of recording format v1.
//!
//! A line is a superset of asb's recording line (same field names and meanings, see
//! docs/recording-format.md), so asb can replay our recordings and we can replay asb's:
//! asb's fields come first; format v1 adds the exchange exactly as it happened. Every v1
//! field is optional when reading, so an asb line is a valid line with only those fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CallLine {
    // ---- asb's fields ------------------------------------------------------------------
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
    /// Absent on asb's lines; 1 on ours. A higher number is refused by this build.
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

/// How the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
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
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Header names lower-cased; secrets replaced by `[redacted]`.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// The JSON body as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A body that is not JSON, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HttpResponse {
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
pub struct SseRecord {
    /// Arrival in ms from the request's arrival at the proxy (of the frame that completed it).
    pub t: f64,
    pub raw: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Exchange {
    pub request: HttpRequest,
    pub response: Option<HttpResponse>,
}

/// The answer, reassembled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CallResult {
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
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as streamed: a JSON text.
    pub arguments: String,
}

/// Token usage normalised across providers. `input_tokens` counts every prompt token;
/// `input_uncached + cache_read + cache_creation = input_tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
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
pub struct Timing {
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
