//! Sends one request and observes the answer, frame by frame.
//!
//! The clock is read once per HTTP body frame, the moment hyper hands it over, before any
//! parsing: events that arrived in one frame share its time (that is what the network
//! delivered), and parsing cost never shifts a timestamp. `t0` is read just before the
//! request is written on a ready connection (see [`super::connection`]): opening the
//! connection is timed apart, as `connect_ms`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, HOST};
use http::{Request, Uri};
use http_body_util::Full;

use super::connection::{chain as error_chain, Connection};
use super::server_metrics::timings::ServerTimings;

use crate::recording::assemble::{assemble_body, Assembled, Assembler};
use crate::wire::sse::{SseEvent, SseParser};
use crate::wire::Api;

/// Largest error body kept (its first 500 characters go into the message).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The most body bytes replay reads of one answer, streamed or not: 256 MiB. Past it the
/// request fails ("the answer is longer than 256 MiB …") and its connection is dropped, so
/// a server that never stops answering cannot grow a worker's memory without bound (what
/// replay keeps of an answer — the body of a non-streamed one; the parser's partial event,
/// the reassembled text and 16 bytes of timing per output event of a streamed one — is
/// then bounded by a small multiple of this). `--timeout` bounds the whole read as well.
const MAX_ANSWER_BYTES: usize = 256 << 20;

/// The error of an answer past [`MAX_ANSWER_BYTES`].
fn answer_too_long(streamed: bool) -> String {
    let kind = if streamed { "streamed answer" } else { "answer" };
    format!(
        "the {kind} is longer than {} MiB (the most replay reads of one answer): stopped reading",
        MAX_ANSWER_BYTES >> 20
    )
}

/// What one attempt saw.
#[derive(Debug, Default)]
pub(crate) struct Observation {
    pub t0: Option<Instant>,
    /// Time spent opening a connection before this attempt (0 when one was reused).
    pub connect_ms: f64,
    /// Times the request went again on a new connection because the server had closed
    /// the reused one without answering.
    pub resent: u32,
    /// Body frames received, and how many were timed by the kernel's receive timestamp
    /// (the rest by the worker's clock when it read them).
    pub frames: u64,
    pub kernel_frames: u64,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// ms from t0 of each output-bearing event.
    pub output_ms: Vec<f64>,
    /// Characters of output each output-bearing event carried.
    pub output_chars: Vec<usize>,
    /// ms from t0 to the end of the answer (end marker, or the body's end).
    pub end_ms: Option<f64>,
    pub assembled: Assembled,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// The failure happened before any answer byte and may be retried (connect error,
    /// 429, 5xx).
    pub retryable: bool,
    /// The server rejected `stream_options` (retry without it).
    pub rejects_stream_options: bool,
    /// The server's own timings of the answer (llama.cpp `timings`), when it sent them.
    pub server_timings: Option<ServerTimings>,
}

pub(crate) struct Outgoing<'a> {
    pub url: &'a str,
    pub api: Api,
    pub body: Bytes,
    pub headers: &'a [(String, String)],
    pub auth: Option<&'a (String, String)>,
}

/// One attempt, bounded by `timeout` over the whole exchange.
pub(crate) async fn send(conn: &mut Connection, out: Outgoing<'_>, timeout: Duration) -> Observation {
    let mut obs = Observation::default();
    let deadline = tokio::time::Instant::now() + timeout;
    match tokio::time::timeout_at(deadline, exchange(conn, &out, &mut obs)).await {
        Ok(()) => {}
        Err(_) => {
            // The answer may still be streaming: that connection cannot carry the next request.
            conn.reset();
            let stage = match (obs.status, obs.output_ms.len()) {
                (None, _) => "before the response headers".to_string(),
                (Some(_), 0) => "before the first token".to_string(),
                (Some(_), n) => format!("after {n} output events"),
            };
            obs.error = Some(format!("timeout after {:.1} s ({stage})", timeout.as_secs_f64()));
        }
    }
    obs
}

async fn exchange(conn: &mut Connection, out: &Outgoing<'_>, obs: &mut Observation) {
    let uri: Uri = match out.url.parse() {
        Ok(u) => u,
        Err(e) => {
            obs.error = Some(format!("bad target URL {}: {e}", out.url));
            return;
        }
    };
    // A server may close a kept-alive connection just as we reuse it (llama.cpp's HTTP
    // server does, now and then): the request then goes again, at once, on a new
    // connection — counted in `resent`, not a retry (the server answered nothing).
    let mut resent = 0;
    let (t0, response) = loop {
        let request = match build_request(out, &uri) {
            Ok(r) => r,
            Err(e) => {
                obs.error = Some(format!("cannot build the request: {e}"));
                return;
            }
        };
        let ready = conn.ready().await;
        obs.connect_ms += conn.take_connect_ms();
        if let Err(e) = ready {
            obs.error = Some(e.message);
            obs.retryable = true;
            return;
        }
        let t0 = Start::now();
        obs.t0 = Some(t0.at);
        match conn.send(request).await {
            Ok(r) => break (t0, r),
            Err(e) if e.resendable && resent < 2 => resent += 1,
            Err(e) => {
                obs.error = Some(e.message);
                obs.retryable = true;
                return;
            }
        }
    };
    obs.resent = resent;
    let status = response.status().as_u16();
    obs.status = Some(status);
    obs.request_id = ["x-request-id", "request-id"]
        .iter()
        .find_map(|h| response.headers().get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let streamed = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let mut body = response.into_body();
    if !(200..300).contains(&status) {
        let mut bytes = Vec::new();
        while let Some(Ok(frame)) = conn.frame(&mut body).await {
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
                if bytes.len() >= ERROR_BODY_LIMIT {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        obs.rejects_stream_options = status == 400 && text.to_ascii_lowercase().contains("stream_options");
        obs.retryable = status == 429 || status >= 500;
        // The server's own message (from a JSON error body), not the JSON around it.
        let message = crate::wire::translate::error_body::error_message(status, &bytes);
        obs.error = Some(format!("HTTP {status}: {}", message.chars().take(500).collect::<String>()));
        obs.end_ms = Some(t0.ms());
        return;
    }
    if !streamed {
        // A server that ignored `stream: true`: one JSON body, its output all at its end.
        let mut bytes = Vec::new();
        while let Some(frame) = conn.frame(&mut body).await {
            match frame {
                Ok(f) => {
                    let data = f.data_ref().map(|d| d.as_ref()).unwrap_or_default();
                    if bytes.len() + data.len() > MAX_ANSWER_BYTES {
                        conn.reset();
                        obs.error = Some(answer_too_long(false));
                        obs.end_ms = Some(t0.ms());
                        return;
                    }
                    bytes.extend_from_slice(data);
                }
                Err(e) => {
                    obs.error = Some(format!("the response body was cut: {}", error_chain(&e)));
                    return;
                }
            }
        }
        let t = t0.ms();
        obs.end_ms = Some(t);
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            obs.error = Some(format!("the response is neither an event stream nor JSON ({} bytes)", bytes.len()));
            return;
        };
        let a = assemble_body(out.api, &json);
        obs.server_timings = ServerTimings::of_answer(&json);
        let r = &a.result;
        let chars = r.text.chars().count()
            + r.thinking.chars().count()
            + r.tool_calls.iter().map(|c| c.name.chars().count() + c.arguments.chars().count()).sum::<usize>();
        if chars > 0 {
            obs.output_ms.push(t);
            obs.output_chars.push(chars);
        }
        if let Some(e) = &a.error {
            obs.error = Some(format!("the server reported an error: {e}"));
        }
        obs.assembled = a;
        return;
    }
    let mut assembler = Assembler::new(out.api);
    let mut parser = SseParser::new();
    let mut events: Vec<SseEvent> = Vec::new();
    let mut chars_before = 0;
    let mut received = 0usize;
    loop {
        let frame = conn.frame(&mut body).await;
        let t = t0.frame_ms(conn.last_rx_ns(), &mut obs.kernel_frames);
        obs.frames += 1;
        let data = match frame {
            None => break,
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue, // trailers
            },
            Some(Err(e)) => {
                obs.error =
                    Some(format!("the stream was cut after {} events: {}", assembler.so_far().events, error_chain(&e)));
                obs.end_ms = Some(t);
                finish(obs, assembler);
                return;
            }
        };
        received += data.len();
        if received > MAX_ANSWER_BYTES {
            conn.reset();
            obs.error = Some(answer_too_long(true));
            obs.end_ms = Some(t);
            finish(obs, assembler);
            return;
        }
        parser.feed(&data, &mut events);
        for event in events.drain(..) {
            let before = assembler.so_far().content_events;
            assembler.on_event(&event.data, t);
            if let Some(timings) = ServerTimings::of_event(&event.data) {
                obs.server_timings = Some(timings);
            }
            let a = assembler.so_far();
            if a.content_events > before {
                obs.output_ms.push(t);
                obs.output_chars.push(a.output_chars - chars_before);
                chars_before = a.output_chars;
            }
            if a.ended {
                obs.end_ms = Some(t);
            }
        }
    }
    parser.finish();
    let t = t0.ms();
    obs.end_ms.get_or_insert(t);
    finish(obs, assembler);
}

fn build_request(out: &Outgoing<'_>, uri: &Uri) -> Result<Request<Full<Bytes>>, http::Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = Request::post(path).header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(authority) = uri.authority() {
        builder = builder.header(HOST, authority.as_str());
    }
    if out.api == Api::OpenAi {
        builder = builder.header("accept", "text/event-stream");
    }
    for (name, value) in out.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some((name, value)) = out.auth {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(out.body.clone()))
}

fn finish(obs: &mut Observation, assembler: Assembler) {
    let a = assembler.finish();
    if obs.error.is_none() {
        if let Some(e) = &a.error {
            obs.error = Some(format!("the server reported an error in the stream: {e}"));
        } else if !a.ended && a.result.stop_reason.is_none() {
            obs.error = Some("the stream ended without its end marker or a stop reason (cut?)".into());
        }
    }
    obs.assembled = a;
}

/// When a request was sent, on the monotonic clock and on the kernel's (CLOCK_REALTIME,
/// the clock of socket receive timestamps), read back to back.
#[derive(Clone, Copy)]
struct Start {
    at: Instant,
    unix_ns: u128,
}

impl Start {
    fn now() -> Self {
        let unix_ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Start { at: Instant::now(), unix_ns }
    }

    /// ms since the start, now.
    fn ms(&self) -> f64 {
        self.at.elapsed().as_secs_f64() * 1000.0
    }

    /// ms since the start of a frame just handed over: the kernel's receive time of the
    /// read that brought it when known and plausible (after the start, not after now),
    /// else now. Counts the frames the kernel's time was used for.
    fn frame_ms(&self, rx_ns: Option<u64>, kernel_frames: &mut u64) -> f64 {
        let now = self.ms();
        match rx_ns.map(u128::from) {
            Some(ns) if ns >= self.unix_ns && ((ns - self.unix_ns) as f64 / 1e6) <= now => {
                *kernel_frames += 1;
                (ns - self.unix_ns) as f64 / 1e6
            }
            _ => now,
        }
    }
}
