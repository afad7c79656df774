//! What the proxy keeps of one call while it is in flight, and how that becomes a
//! recording line when the call ends — however it ends.
//!
//! The hot path keeps the request's bytes as they came and appends `(arrival time, frame)`
//! pairs (a reference-count bump, no copy, no parsing). Everything else — JSON parsing,
//! the OpenAI-format `messages`, the agent thread, SSE parsing, reassembly, usage — happens
//! on the recording writer's thread after the call ended, so the proxy never delays a byte.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use super::call_log::CallLog;
use super::ending::Ending;
use super::headers;
use crate::recording::assemble::{assemble_body, Assembled, Assembler};
use crate::recording::line::{
    CallLine, Exchange, HttpRequest, HttpResponse, JsonText, Outcome, SseRecord, Timing, Usage,
};
use crate::recording::redact::{self, Secrets};
use crate::recording::thread::{thread_id, ThreadTurns};
use crate::recording::writer::RecordingWriter;
use crate::recording::FORMAT_VERSION;
use crate::wire::sse::{lossy_string, SseParser};
use crate::wire::{translate, Api};

/// A request as it crossed the proxy, unparsed.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawRequest {
    /// The request as a recording keeps it (JSON parsed; credentials in headers and the
    /// query redacted, and they and credential-named body fields added to `secrets`, which
    /// the writer scrubs from the whole line).
    fn to_recording(&self, secrets: &Secrets) -> HttpRequest {
        let body: Option<Value> = serde_json::from_slice(&self.body).ok();
        if let Some(json) = &body {
            secrets.add_from_json(json);
        }
        HttpRequest {
            method: self.method.clone(),
            path: redact::redact_query(&self.path, |s| secrets.add(s)).into_owned(),
            headers: headers::for_recording(&self.headers, secrets),
            body_text: body.is_none().then(|| lossy_string(&self.body)),
            body_as_sent: body.as_ref().and_then(|_| JsonText::of(&self.body)),
            body,
        }
    }
}

/// One side of an exchange: a request and the response to it.
#[derive(Debug, Default)]
pub(crate) struct Side {
    pub request: RawRequest,
    pub status: Option<u16>,
    pub headers: HeaderMap,
    /// The response is an SSE stream.
    pub streamed: bool,
    /// Response headers arrived (ms from the call's arrival).
    pub ttfb_ms: Option<f64>,
    /// Response body frames with their arrival (ms from the call's arrival), up to the
    /// recorder's limit ([`CallCapture::keep_client_frame_now`]).
    pub frames: Vec<(f64, Bytes)>,
    /// Bytes of `frames`.
    pub kept: usize,
    /// Bytes of the response past the limit, forwarded but not kept.
    pub dropped: u64,
}

impl Side {
    /// The bytes this side holds: the request body and the response frames.
    fn bytes(&self) -> usize {
        self.request.body.len() + self.kept
    }

    /// Keeps a response frame while the side holds less than `limit` bytes of them; past
    /// it, only counts it (the client still gets it: a never-ending answer must not grow
    /// the proxy's memory).
    fn keep(&mut self, t: f64, frame: Bytes, limit: usize) {
        if self.has_room(frame.len(), limit) {
            self.kept += frame.len();
            self.frames.push((t, frame));
        } else {
            self.dropped += frame.len() as u64;
        }
    }

    /// Whether a frame of `len` bytes would still be kept.
    fn has_room(&self, len: usize, limit: usize) -> bool {
        self.kept + len <= limit
    }

    /// Records the response head, which arrived `t` ms after the call.
    fn note_head(&mut self, status: u16, headers: HeaderMap, t: f64) {
        self.status = Some(status);
        self.streamed = headers::is_event_stream(&headers);
        self.headers = headers;
        self.ttfb_ms = Some(t);
    }
}

/// Everything known about a call in flight.
#[derive(Debug)]
pub(crate) struct CallCapture {
    pub seq: u64,
    pub arrival: Instant,
    pub wall_clock: jiff::Timestamp,
    pub start_offset_ms: f64,
    /// The API the client spoke.
    pub client_api: Api,
    /// The API the upstream spoke.
    pub upstream_api: Api,
    /// `-m`: the model translated calls are sent with, and the fallback name.
    pub upstream_model: String,
    /// The client's exchange: its request, and what it received.
    pub client: Side,
    /// The exchange with the upstream, when the proxy translated.
    pub upstream: Option<Side>,
    pub error: Option<String>,
    /// Most bytes of a response kept per side (`--max-response-mib`).
    pub keep_limit: usize,
    ended: bool,
}

impl CallCapture {
    pub(crate) fn ms_since_arrival(&self) -> f64 {
        self.arrival.elapsed().as_secs_f64() * 1000.0
    }

    /// The proxy answered the call itself (an error of its own: unreachable upstream,
    /// refused request): that answer is what the client received, and is kept as such.
    pub(crate) fn answered_by_proxy(&mut self, response: &http::Response<String>) {
        self.note_client_head(response.status().as_u16(), response.headers().clone());
        self.keep_client_frame_now(&Bytes::copy_from_slice(response.body().as_bytes()));
    }

    /// Records the head of the answer the client gets, arriving now.
    pub(crate) fn note_client_head(&mut self, status: u16, headers: HeaderMap) {
        let t = self.ms_since_arrival();
        self.client.note_head(status, headers, t);
    }

    /// Records the head of the upstream's answer (a translated call's upstream side),
    /// arriving now.
    pub(crate) fn note_upstream_head(&mut self, status: u16, headers: HeaderMap) {
        let t = self.ms_since_arrival();
        if let Some(side) = self.upstream.as_mut() {
            side.note_head(status, headers, t);
        }
    }

    /// Keeps a frame the client received now (a reference, not a copy).
    pub(crate) fn keep_client_frame_now(&mut self, frame: &Bytes) {
        let t = self.ms_since_arrival();
        self.client.keep(t, frame.clone(), self.keep_limit);
    }

    /// Keeps the parts `ranges` of `piece` the client received now, copied while the
    /// client's side has room for them, only counted past it.
    pub(crate) fn keep_client_slices(&mut self, piece: &[u8], ranges: &[std::ops::Range<usize>]) {
        let len = ranges.iter().map(|r| r.len()).sum();
        if len == 0 {
            return;
        }
        if !self.client.has_room(len, self.keep_limit) {
            self.client.dropped += len as u64;
            return;
        }
        let payload: Bytes = match ranges {
            [one] => Bytes::copy_from_slice(&piece[one.clone()]),
            many => {
                let mut all = Vec::with_capacity(len);
                for r in many {
                    all.extend_from_slice(&piece[r.clone()]);
                }
                all.into()
            }
        };
        let t = self.ms_since_arrival();
        self.client.keep(t, payload, self.keep_limit);
    }

    /// Keeps a frame the upstream sent now (a translated call's upstream side).
    pub(crate) fn keep_upstream_frame_now(&mut self, frame: &Bytes) {
        let t = self.ms_since_arrival();
        let limit = self.keep_limit;
        if let Some(side) = self.upstream.as_mut() {
            side.keep(t, frame.clone(), limit);
        }
    }
}

pub(crate) type CallHandle = Arc<Mutex<CallCapture>>;

/// Running totals for the summary printed at the end.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub input_tokens: AtomicU64,
    pub output_tokens: AtomicU64,
}

/// Owns the calls in flight and hands finished ones to the writer.
pub(crate) struct Recorder {
    pub writer: RecordingWriter,
    /// The secrets the writer scrubs; lines add what they hold while being built.
    pub secrets: Secrets,
    pub experiment_id: String,
    /// Most bytes of a response kept per side of a call.
    pub keep_limit: usize,
    /// Where a line per recorded call goes, if anywhere.
    pub call_log: Option<CallLog>,
    pub started: Instant,
    pub totals: Arc<Totals>,
    turns: Arc<ThreadTurns>,
    seq: AtomicU64,
    in_flight: Mutex<HashMap<u64, CallHandle>>,
}

impl Recorder {
    pub(crate) fn new(
        writer: RecordingWriter,
        secrets: Secrets,
        experiment_id: String,
        keep_limit: usize,
        call_log: Option<CallLog>,
    ) -> Self {
        Recorder {
            writer,
            secrets,
            experiment_id,
            keep_limit,
            call_log,
            started: Instant::now(),
            totals: Arc::default(),
            turns: Arc::default(),
            seq: AtomicU64::new(0),
            in_flight: Mutex::default(),
        }
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Starts tracking a call (through [`super::lifecycle::CallGuard::begin`], which ends it).
    pub(super) fn begin(&self, capture: CallCapture) -> CallHandle {
        let seq = capture.seq;
        let handle = Arc::new(Mutex::new(capture));
        self.lock_in_flight().insert(seq, Arc::clone(&handle));
        handle
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.lock_in_flight().len()
    }

    /// Ends a call (only the first call to `finish` counts) and queues its line. Calls end
    /// through their [`super::lifecycle::CallGuard`]; the recorder ends those still open when it stops.
    pub(super) fn finish(&self, handle: &CallHandle, ending: Ending) {
        let mut call = lock(handle);
        if call.ended {
            return;
        }
        let (outcome, error) = ending.outcome();
        call.ended = true;
        let end_ms = call.ms_since_arrival();
        if call.error.is_none() {
            call.error = error;
        }
        let seq = call.seq;
        let ended = placeholder(&call);
        let taken = std::mem::replace(&mut *call, ended);
        drop(call);
        self.lock_in_flight().remove(&seq);
        let (experiment_id, totals, turns, secrets) =
            (self.experiment_id.clone(), Arc::clone(&self.totals), Arc::clone(&self.turns), self.secrets.clone());
        let bytes = taken.client.bytes() + taken.upstream.as_ref().map_or(0, Side::bytes);
        let log = self.call_log.clone();
        self.writer.write_with(bytes, move || {
            let line = build_line(taken, outcome, end_ms, experiment_id, &turns, &secrets);
            count(&totals, &line);
            if let Some(log) = log {
                log.say(&line);
            }
            line
        });
    }

    /// Marks every call still in flight as interrupted (the recorder is stopping).
    pub(crate) fn interrupt_all(&self) {
        let handles: Vec<CallHandle> = self.lock_in_flight().values().cloned().collect();
        for h in handles {
            self.finish(&h, Ending::Interrupted);
        }
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<u64, CallHandle>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn lock(handle: &CallHandle) -> std::sync::MutexGuard<'_, CallCapture> {
    handle.lock().unwrap_or_else(|p| p.into_inner())
}

/// What stays behind in a handle whose call has ended (only `ended` is looked at).
fn placeholder(call: &CallCapture) -> CallCapture {
    CallCapture {
        seq: call.seq,
        arrival: call.arrival,
        wall_clock: call.wall_clock,
        start_offset_ms: 0.0,
        client_api: call.client_api,
        upstream_api: call.upstream_api,
        upstream_model: String::new(),
        client: Side::default(),
        upstream: None,
        error: None,
        keep_limit: 0,
        ended: true,
    }
}

/// A new capture for a call that just arrived.
pub(crate) fn new_capture(
    recorder: &Recorder,
    arrival: Instant,
    (client_api, upstream_api): (Api, Api),
    upstream_model: String,
    request: RawRequest,
) -> CallCapture {
    CallCapture {
        seq: recorder.next_seq(),
        arrival,
        wall_clock: jiff::Timestamp::now(),
        start_offset_ms: arrival.saturating_duration_since(recorder.started).as_secs_f64() * 1000.0,
        client_api,
        upstream_api,
        upstream_model,
        client: Side { request, ..Side::default() },
        upstream: None,
        error: None,
        keep_limit: recorder.keep_limit,
        ended: false,
    }
}

fn count(totals: &Totals, line: &CallLine) {
    totals.calls.fetch_add(1, Ordering::Relaxed);
    if line.outcome != Some(Outcome::Completed) {
        totals.errors.fetch_add(1, Ordering::Relaxed);
    }
    totals.input_tokens.fetch_add(line.prompt_tokens.unwrap_or(0), Ordering::Relaxed);
    totals.output_tokens.fetch_add(line.completion_tokens.unwrap_or(0), Ordering::Relaxed);
}

/// A response as the recording keeps it, and what it said.
/// Credentials in its headers and JSON body are added to `secrets`.
fn read_response(side: &Side, api: Api, secrets: &Secrets) -> (Option<HttpResponse>, Assembled) {
    let Some(status) = side.status else {
        return (None, Assembled::default());
    };
    let headers = headers::for_recording(&side.headers, secrets);
    let mut resp = HttpResponse { status, headers, ..HttpResponse::default() };
    let mut body = Vec::with_capacity(side.frames.iter().map(|(_, b)| b.len()).sum());
    for (_, frame) in &side.frames {
        body.extend_from_slice(frame);
    }
    let assembled = if side.streamed {
        let mut parser = SseParser::new();
        let mut assembler = Assembler::new(api);
        let mut events = Vec::new();
        let mut records = Vec::new();
        let mut prev_end = 0usize;
        for (t, frame) in &side.frames {
            parser.feed(frame, &mut events);
            for ev in events.drain(..) {
                let end = ev.raw_end as usize;
                let raw = lossy_string(&body[prev_end..end]);
                prev_end = end;
                assembler.on_event(&ev.data, *t);
                records.push(SseRecord { t: round3(*t), raw });
            }
        }
        if prev_end < body.len() {
            resp.tail = Some(lossy_string(&body[prev_end..]));
        }
        resp.events = Some(records);
        assembler.finish()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(json) => {
                secrets.add_from_json(&json);
                let a = assemble_body(api, &json);
                resp.body = Some(json);
                a
            }
            Err(_) => {
                resp.body_text = Some(lossy_string(&body));
                Assembled::default()
            }
        }
    };
    (Some(resp), assembled)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Builds the recording line of a finished call, adding the secrets it holds to `secrets`
/// (the writer scrubs them from the serialised line).
pub(crate) fn build_line(
    call: CallCapture,
    outcome: Outcome,
    end_ms: f64,
    experiment_id: String,
    turns: &ThreadTurns,
    secrets: &Secrets,
) -> CallLine {
    let request = call.client.request.to_recording(secrets);
    let (client_response, client_said) = read_response(&call.client, call.client_api, secrets);
    let upstream = call.upstream.as_ref().map(|side| {
        let (response, said) = read_response(side, call.upstream_api, secrets);
        (Exchange { request: side.request.to_recording(secrets), response }, said)
    });
    let body = request.body.as_ref();
    let translated_body = upstream.as_ref().and_then(|(e, _)| e.request.body.as_ref());
    let messages = asb_messages(call.client_api, body, translated_body);
    // AgenticSwarmBench (the original asb)'s `model`: what the upstream was asked for.
    let model = match (upstream.is_some(), body.and_then(|b| b.get("model")).and_then(Value::as_str)) {
        (false, Some(client_model)) => client_model.to_string(),
        _ => call.upstream_model.clone(),
    };
    let thread = thread_id(call.client_api, body.unwrap_or(&Value::Null));
    let thread_turn = turns.next(&thread);
    // The server's own words are the truth about the answer: prefer the upstream side.
    let said = upstream.as_ref().map_or(&client_said, |(_, s)| s);
    let server_side = call.upstream.as_ref().unwrap_or(&call.client);
    let status = server_side.status;

    let mut outcome = outcome;
    let mut error = call.error.clone();
    // A client that hangs up once its stream's own end marker reached it had the whole
    // answer: Codex closes the connection at `response.completed`, before the body's last
    // chunk (or, translated, before the upstream's stream has ended).
    let streamed = client_response.as_ref().is_some_and(|r| r.events.is_some());
    if outcome == Outcome::ClientDisconnected && streamed && client_said.ended {
        outcome = Outcome::Completed;
        if error == Ending::ClientGone.outcome().1 {
            error = None;
        }
    }
    if outcome == Outcome::Completed && (status.is_some_and(|s| s >= 400) || said.error.is_some()) {
        outcome = Outcome::UpstreamError;
    }
    if error.is_none() {
        error = said.error.clone().or_else(|| match (status, &client_response) {
            (Some(s), Some(r)) if s >= 400 => Some(error_text(s, r)),
            _ => None,
        });
    }
    let dropped = call.client.dropped.max(call.upstream.as_ref().map_or(0, |s| s.dropped));
    if dropped > 0 {
        if outcome == Outcome::Completed {
            outcome = Outcome::Truncated;
        }
        let note = format!(
            "the answer was longer than the recorder keeps: its first {} MiB are recorded, {dropped} more bytes \
             reached the client unrecorded (--max-response-mib)",
            call.keep_limit >> 20
        );
        error = Some(match error {
            Some(e) => format!("{e}; {note}"),
            None => note,
        });
    }

    // Errors name the upstream URL, with the client's query.
    let error = error.map(|e| redact::redact_urls(&e, true, |s| secrets.add(s)).into_owned());

    let usage: Option<Usage> = said.usage.clone();
    let completion_tokens = match &usage {
        Some(u) => Some(u.output_tokens),
        None if said.content_events > 0 => Some(said.content_events),
        None => None,
    };
    let decode_s = match (said.ttft_ms, said.last_token_ms) {
        (Some(a), Some(b)) if said.content_events > 1 && b > a => Some((b - a) / 1000.0),
        _ => None,
    };
    let get_u64 = |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_u64);

    CallLine {
        seq: call.seq,
        experiment_id,
        timestamp: call.wall_clock.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        messages,
        model,
        max_tokens: get_u64("max_completion_tokens").or_else(|| get_u64("max_tokens")),
        temperature: body.and_then(|b| b.get("temperature")).and_then(Value::as_f64),
        stream: body.and_then(|b| b.get("stream")).and_then(Value::as_bool).unwrap_or(false),
        source_api: call.client_api.name().to_string(),
        prompt_tokens: usage.as_ref().map(|u| u.input_tokens),
        ttft_ms: said.ttft_ms.map(round2),
        total_time_s: Some(round3(end_ms / 1000.0)),
        completion_tokens,
        status_code: status,
        decode_time_s: decode_s.map(round3),
        tok_per_sec: match (completion_tokens, decode_s) {
            (Some(n), Some(d)) => Some(round2(n as f64 / d)),
            _ => None,
        },
        response_length: Some(said.result.text.chars().count() as u64),
        error,
        format_version: Some(FORMAT_VERSION),
        outcome: Some(outcome),
        start_offset_ms: Some(round3(call.start_offset_ms)),
        thread_id: Some(thread),
        thread_turn: Some(thread_turn),
        request: Some(request.clone()),
        response: client_response,
        upstream: upstream.as_ref().map(|(e, _)| e.clone()),
        result: Some(said.result.clone()),
        timing: Some(Timing {
            ttfb_ms: server_side.ttfb_ms.map(round3),
            ttft_ms: said.ttft_ms.map(round3),
            last_token_ms: said.last_token_ms.map(round3),
            end_ms: round3(end_ms),
            events: said.events,
            content_events: said.content_events,
        }),
        usage,
    }
}

/// AgenticSwarmBench's `messages`: the conversation in OpenAI chat format. An Anthropic
/// or Responses request uses the translation that was sent upstream, or is translated now.
fn asb_messages(client_api: Api, body: Option<&Value>, translated: Option<&Value>) -> Vec<Value> {
    let openai_body = match (client_api, translated) {
        (Api::OpenAi, _) => body.cloned(),
        (Api::Anthropic, Some(t)) => Some(t.clone()),
        (Api::Anthropic, None) => body.and_then(|b| translate::anthropic_to_openai_request(b, None).ok()),
        (Api::Responses, Some(t)) => Some(t.clone()),
        (Api::Responses, None) => body.and_then(|b| translate::responses_to_chat_request(b, None).ok()),
    };
    openai_body.and_then(|b| b.get("messages").and_then(Value::as_array).cloned()).unwrap_or_default()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn error_text(status: u16, resp: &HttpResponse) -> String {
    let detail = match (&resp.body, &resp.body_text) {
        (Some(json), _) => json.to_string(),
        (None, Some(text)) => text.clone(),
        (None, None) => String::new(),
    };
    let detail: String = detail.chars().take(500).collect();
    format!("upstream returned HTTP {status}: {detail}")
}
