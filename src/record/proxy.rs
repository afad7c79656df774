//! The recording proxy's request handling: which calls are recorded, how each is
//! forwarded, and what the client gets back when something fails.
//!
//! | route | recorded | how |
//! |---|---|---|
//! | `POST /v1/chat/completions` | yes | byte-for-byte passthrough |
//! | `POST /v1/messages`, Anthropic upstream | yes | byte-for-byte passthrough |
//! | `POST /v1/messages`, OpenAI or Responses upstream | yes | translated to Chat Completions and back |
//! | `POST /v1/responses`, Responses upstream (`--upstream-api responses`) | yes | byte-for-byte passthrough |
//! | `POST /v1/responses`, OpenAI upstream | yes | translated to Chat Completions and back |
//! | `GET /v1/responses` asking a WebSocket upgrade | no | refused at once (`426`), so the client falls back to HTTP |
//! | `POST /v1/messages/count_tokens` | no | forwarded; an OpenAI upstream without it gets an estimate |
//! | anything else | no | forwarded as is |
//!
//! Routes are told by [`Route::of`], the rule every capability uses (a query, a trailing
//! `/` or a base path before `/v1/…` do not hide one); the API of an error answered before
//! the route is known by [`Api::of_request`].
//!
//! With a plain-HTTP upstream the two passthrough rows are served before hyper sees them,
//! by [`super::front`] and [`super::passthrough`]; they come here over TLS, or on a
//! connection that an earlier request handed to hyper.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::capture::{new_capture, RawRequest, Recorder, Side};
use super::config::Upstream;
use super::ending::{proxy_error, refusal_message, Ending, UpstreamError};
use super::headers::{self, is_event_stream};
use super::lifecycle::CallGuard;
use super::plain_upstream::PlainPool;
use super::tee::TeeBody;
use super::translate_stream::{ClientEncoder, TranslatingBody};
use super::upstream::{UpstreamBody, UpstreamPool};
use crate::recording::writer::Secrets;
use crate::wire::api::Route;
use crate::wire::endpoint::PlainEndpoint;
use crate::wire::errors::ApiError;
use crate::wire::server::{self, full, BoxError, ServerBody};
use crate::wire::translate::{self, ResponseFrame};
use crate::wire::Api;

pub(crate) struct Proxy {
    pub upstream: Upstream,
    /// This thread's connections to the upstream.
    pub connections: Arc<UpstreamPool>,
    /// The upstream when it is plain HTTP: the hand-written passthrough's
    /// ([`super::passthrough`]), with this thread's connections for it.
    pub plain: Option<PlainEndpoint>,
    pub plain_pool: PlainPool,
    pub recorder: Arc<Recorder>,
    pub secrets: Secrets,
    /// How long to wait for the upstream's response headers.
    pub header_timeout: Duration,
    /// Largest request body forwarded (`--max-request-mib`).
    pub max_request_bytes: usize,
}

/// The route of a request the proxy handles itself (only `POST`s are); `None`: forwarded.
fn route(method: &Method, path: &str) -> Option<Route> {
    (method == Method::POST).then(|| Route::of(path)).flatten()
}

pub(crate) async fn handle(proxy: Arc<Proxy>, req: Request<Incoming>) -> Result<Response<ServerBody>, Infallible> {
    let arrival = Instant::now();
    let (parts, body) = req.into_parts();
    let api = Api::of_request(parts.uri.path(), &parts.headers);
    // At most the limit is held: a body declared or sent larger is refused while it comes.
    let body = match server::read_body(body, server::timeouts().body, proxy.max_request_bytes).await {
        Ok(b) => b,
        Err(e) => {
            let hint = if e.status == 413 { " (--max-request-mib)" } else { "" };
            return Ok(error_response(api, e.status, format!("asb record: {}{hint}", e.message)));
        }
    };
    Ok(handle_buffered(&proxy, parts, body, arrival).await)
}

/// Handles a request whose body was already read (`arrival`: when its headers came in).
/// `asb serve` hands its misses here to record them.
pub(crate) async fn handle_buffered(
    proxy: &Arc<Proxy>,
    parts: Parts,
    body: Bytes,
    arrival: Instant,
) -> Response<ServerBody> {
    proxy.secrets.add_from_headers(&parts.headers);
    if let Some(refused) = refuse_websocket(&parts) {
        return refused;
    }
    match route(&parts.method, parts.uri.path()) {
        Some(Route::Call(api)) => record(proxy, parts, body, api, arrival).await,
        Some(Route::CountTokens) => count_tokens(proxy, parts, body).await,
        Some(Route::Models) | None => forward(proxy, parts, body).await,
    }
}

/// A recorded call. Only what forwarding needs happens here; the recording's parsing
/// waits for the writer's thread.
async fn record(
    proxy: &Arc<Proxy>,
    parts: Parts,
    body: Bytes,
    client_api: Api,
    arrival: Instant,
) -> Response<ServerBody> {
    if let Some(why) = proxy.recorder.writer.refusing() {
        return error_response(client_api, 503, refusal_message(&why));
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let translating = translates(client_api, proxy.upstream.api);
    let upstream_api = if translating { Api::OpenAi } else { client_api };
    let headers = parts.headers.clone();
    let request = RawRequest { method: parts.method.to_string(), path: path.clone(), headers: parts.headers, body };
    let body = request.body.clone();
    let capture =
        new_capture(&proxy.recorder, arrival, (client_api, upstream_api), proxy.upstream.model.clone(), request);
    let call = CallGuard::begin(&proxy.recorder, capture);
    if !translating {
        return passthrough(proxy, call, parts.method, &path, &headers, body, client_api).await;
    }
    let model = proxy.upstream.model.as_str();
    let translated = serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))
        .and_then(|json| {
            let chat = match client_api {
                Api::Responses => translate::responses_to_chat_request(&json, Some(model)),
                _ => translate::anthropic_to_openai_request(&json, Some(model)),
            };
            let client = match client_api {
                Api::Responses => Client::Responses(ResponseFrame::for_request(&json, call_seq(&call), model)),
                _ => Client::Anthropic,
            };
            chat.map(|chat| (chat, client)).map_err(|e| e.to_string())
        });
    match translated {
        Ok((openai_body, client)) => translate_call(proxy, call, &headers, openai_body, client).await,
        Err(e) => {
            let message = format!("asb record: cannot translate this request for an OpenAI-compatible upstream: {e}");
            proxy_answer(call, client_api, 400, Ending::Rejected(message))
        }
    }
}

/// Whether a call in `client_api` is translated for an upstream speaking `upstream_api`:
/// Anthropic Messages for an OpenAI-compatible (Chat or Responses) upstream, Responses
/// for a Chat-only one; any other is forwarded byte for byte.
pub(super) fn translates(client_api: Api, upstream_api: Api) -> bool {
    match client_api {
        Api::Anthropic => upstream_api != Api::Anthropic,
        Api::Responses => upstream_api == Api::OpenAi,
        Api::OpenAi => false,
    }
}

/// Whose answer a translated call's Chat answer becomes.
enum Client {
    Anthropic,
    /// A Responses client, with what its response objects repeat.
    Responses(ResponseFrame),
}

impl Client {
    fn api(&self) -> Api {
        match self {
            Client::Anthropic => Api::Anthropic,
            Client::Responses(_) => Api::Responses,
        }
    }
}

fn call_seq(call: &CallGuard) -> u64 {
    call.capture().seq
}

/// A WebSocket upgrade (Codex tries one on `/v1/responses` before HTTP): refused with
/// `426 Upgrade Required` at once, never forwarded, so the client falls back to plain
/// HTTP without waiting for a timeout.
fn refuse_websocket(parts: &Parts) -> Option<Response<ServerBody>> {
    let upgrade = parts.headers.get(http::header::UPGRADE)?.to_str().ok()?;
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return None;
    }
    let api = Api::of_request(parts.uri.path(), &parts.headers);
    let message = "asb record: WebSocket is not supported; use HTTP (POST) for this API".to_string();
    Some(error_response(api, 426, message))
}

/// Sends one request upstream (`path_and_query` on the upstream's URL), waiting at most
/// the header timeout for the answer's headers.
async fn send_upstream(
    proxy: &Proxy,
    method: Method,
    path_and_query: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<UpstreamBody>, UpstreamError> {
    let url = proxy.upstream.url(path_and_query);
    match tokio::time::timeout(proxy.header_timeout, proxy.connections.send(&method, &url, &headers, body)).await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(why)) => Err(UpstreamError::Unreachable { url: proxy.upstream.shown_url(path_and_query), why }),
        Err(_) => Err(UpstreamError::Silent {
            url: proxy.upstream.shown_url(path_and_query),
            secs: proxy.header_timeout.as_secs(),
        }),
    }
}

/// Forwards the client's bytes and streams the upstream's back untouched, recording both.
#[allow(clippy::too_many_arguments)]
async fn passthrough(
    proxy: &Arc<Proxy>,
    call: CallGuard,
    method: Method,
    path: &str,
    client_headers: &HeaderMap,
    body: Bytes,
    client_api: Api,
) -> Response<ServerBody> {
    let up_headers = headers::upstream_request_headers(client_headers, proxy.upstream.auth.as_ref());
    let resp = match send_upstream(proxy, method, path, up_headers, body).await {
        Ok(r) => r,
        Err(e) => return proxy_answer(call, client_api, e.status(), Ending::Upstream(e)),
    };
    call.note_client_head(resp.status().as_u16(), resp.headers().clone());
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(TeeBody::new(body, call).map_err(boxed).boxed_unsync());
    *out.status_mut() = parts.status;
    *out.headers_mut() = headers::client_response_headers(&parts.headers);
    out
}

/// An Anthropic or Responses call answered by an OpenAI-compatible upstream.
async fn translate_call(
    proxy: &Arc<Proxy>,
    mut call: CallGuard,
    client_headers: &HeaderMap,
    openai_body: Value,
    client: Client,
) -> Response<ServerBody> {
    let client_api = client.api();
    let stream = openai_body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let path = Api::OpenAi.path();
    let mut up_headers = HeaderMap::new();
    up_headers.insert("content-type", HeaderValue::from_static("application/json"));
    up_headers
        .insert("accept", HeaderValue::from_static(if stream { "text/event-stream" } else { "application/json" }));
    if let Some(ua) = client_headers.get("user-agent") {
        up_headers.insert("user-agent", ua.clone());
    }
    let up_headers = headers::upstream_request_headers(&up_headers, proxy.upstream.auth.as_ref());
    let body = Bytes::from(openai_body.to_string());
    let request =
        RawRequest { method: "POST".into(), path: path.into(), headers: up_headers.clone(), body: body.clone() };
    call.capture().upstream = Some(Side { request, ..Side::default() });
    let resp = match send_upstream(proxy, Method::POST, path, up_headers, body).await {
        Ok(r) => r,
        Err(e) => return proxy_answer(call, client_api, e.status(), Ending::Upstream(e)),
    };
    call.capture().note_upstream_head(resp.status().as_u16(), resp.headers().clone());
    let status = resp.status();
    if status.is_success() && stream && is_event_stream(resp.headers()) {
        let encoder = match &client {
            Client::Anthropic => ClientEncoder::anthropic(call_seq(&call), proxy.upstream.model.clone()),
            Client::Responses(frame) => ClientEncoder::responses(frame.clone()),
        };
        call.note_client_head(200, event_stream_headers());
        let body = TranslatingBody::new(resp.into_body(), encoder, call);
        return answer(StatusCode::OK, event_stream_headers(), body.map_err(boxed).boxed_unsync());
    }
    // A whole answer: read it, recording its frames, then translate it.
    let upstream_body = match collect_upstream(&call, resp.into_body()).await {
        Ok(b) => b,
        Err(e) => return proxy_answer(call, client_api, e.status(), Ending::Upstream(e)),
    };
    let (status, json) = if status.is_success() {
        match serde_json::from_slice::<Value>(&upstream_body).map_err(|e| e.to_string()).and_then(|j| match &client {
            Client::Anthropic => {
                translate::openai_to_anthropic_response(&j, &proxy.upstream.model).map_err(|e| e.to_string())
            }
            Client::Responses(frame) => Ok(translate::chat_to_responses_response(&j, frame)),
        }) {
            Ok(message) => (StatusCode::OK, message),
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                ApiError::new(502, format!("asb record: the upstream's answer could not be translated: {e}"))
                    .body(client_api, "asb-record"),
            ),
        }
    } else {
        match client {
            Client::Anthropic => (status, translate::openai_error_to_anthropic(status.as_u16(), &upstream_body)),
            // The Responses API's errors have the Chat shape: an OpenAI error body passes.
            Client::Responses(_) => (status, chat_error_for_responses(status.as_u16(), &upstream_body)),
        }
    };
    // The client's answer, recorded whole: the call is complete.
    let bytes = Bytes::from(json.to_string());
    let headers = content_type("application/json");
    call.note_client_head(status.as_u16(), headers.clone());
    call.keep_client_frame(&bytes);
    call.end(Ending::Completed);
    answer(status, headers, full(bytes))
}

/// An upstream's error body for a Responses client: as sent when it is an OpenAI error
/// object, else wrapped in one (its text as the message).
fn chat_error_for_responses(status: u16, body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.get("error").is_some_and(Value::is_object) => v,
        _ => {
            let text: String = String::from_utf8_lossy(body).chars().take(2000).collect();
            ApiError::new(status, format!("upstream returned HTTP {status}: {text}")).body(Api::Responses, "asb-record")
        }
    }
}

/// Headers saying only the content type.
fn content_type(value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(value));
    headers
}

/// The head of a translated event stream.
fn event_stream_headers() -> HeaderMap {
    content_type("text/event-stream; charset=utf-8")
}

/// A translated answer for the client.
fn answer(status: StatusCode, headers: HeaderMap, body: ServerBody) -> Response<ServerBody> {
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// Reads a whole upstream body, keeping its frames in the upstream side; an answer over
/// the recorder's limit is not read further (it is to be translated whole, so it could
/// not be forwarded without being held).
async fn collect_upstream(call: &CallGuard, mut body: UpstreamBody) -> Result<Bytes, UpstreamError> {
    let mut all = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| UpstreamError::Cut(e.to_string()))?;
        if let Some(data) = frame.data_ref() {
            let mut c = call.capture();
            if all.len() + data.len() > c.keep_limit {
                return Err(UpstreamError::TooLong { limit_mib: c.keep_limit >> 20 });
            }
            all.extend_from_slice(data);
            c.keep_upstream_frame_now(data);
        }
    }
    Ok(Bytes::from(all))
}

/// An error the proxy answers itself with `status`, in the client's API's shape: recorded
/// as the call's response (what the client received), and the call ended with `ending`.
fn proxy_answer(mut call: CallGuard, api: Api, status: u16, ending: Ending) -> Response<ServerBody> {
    let response = proxy_error(api, status, &ending);
    call.end_answered(&response, ending);
    response.map(|s| full(Bytes::from(s)))
}

pub(crate) fn error_response(api: Api, status: u16, message: String) -> Response<ServerBody> {
    ApiError::new(status, message).to_response(api, "asb-record").map(|s| full(Bytes::from(s)))
}

fn boxed<E: Into<BoxError>>(e: E) -> BoxError {
    e.into()
}

/// `count_tokens`: the Anthropic upstream's own answer; an OpenAI-compatible upstream's
/// `/v1/messages/count_tokens` when it has one (vLLM, llama.cpp); otherwise an estimate of
/// one token per 4 characters, labelled by the `x-asb-token-count: estimate` header.
async fn count_tokens(proxy: &Arc<Proxy>, parts: Parts, body: Bytes) -> Response<ServerBody> {
    if proxy.upstream.api == Api::Anthropic {
        return forward(proxy, parts, body).await;
    }
    let Ok(mut json) = serde_json::from_slice::<Value>(&body) else {
        return error_response(Api::Anthropic, 400, "asb record: the request body is not valid JSON".into());
    };
    json["model"] = Value::String(proxy.upstream.model.clone());
    let path = Route::CountTokens.path();
    let up_headers = headers::upstream_request_headers(&parts.headers, proxy.upstream.auth.as_ref());
    if let Ok(resp) = send_upstream(proxy, Method::POST, path, up_headers, Bytes::from(json.to_string())).await {
        if resp.status().is_success() {
            if let Ok(b) = resp.into_body().collect().await {
                let bytes = b.to_bytes();
                if serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.get("input_tokens").cloned()).is_some() {
                    let mut out = Response::new(full(bytes));
                    out.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
                    out.headers_mut().insert("x-asb-token-count", HeaderValue::from_static("upstream"));
                    return out;
                }
            }
        }
    }
    let chars = text_chars(&json);
    let estimate = json!({"input_tokens": chars.div_ceil(4)});
    let mut out = Response::new(full(Bytes::from(estimate.to_string())));
    out.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    out.headers_mut().insert("x-asb-token-count", HeaderValue::from_static("estimate (characters / 4)"));
    out
}

/// Characters of prompt text: every string in `system`, `messages` and `tools`.
fn text_chars(json: &Value) -> usize {
    fn walk(v: &Value) -> usize {
        match v {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.iter().map(walk).sum(),
            Value::Object(o) => o.values().map(walk).sum(),
            _ => 0,
        }
    }
    ["system", "messages", "tools"].iter().filter_map(|k| json.get(k)).map(walk).sum()
}

/// Any other request: forwarded as is, not recorded.
async fn forward(proxy: &Arc<Proxy>, parts: Parts, body: Bytes) -> Response<ServerBody> {
    let api = Api::of_request(parts.uri.path(), &parts.headers);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let up_headers = headers::upstream_request_headers(&parts.headers, proxy.upstream.auth.as_ref());
    match send_upstream(proxy, parts.method, path, up_headers, body).await {
        Ok(resp) => {
            let (p, b) = resp.into_parts();
            let mut out = Response::new(b.map_err(boxed).boxed_unsync());
            *out.status_mut() = p.status;
            *out.headers_mut() = headers::client_response_headers(&p.headers);
            out
        }
        Err(e) => error_response(api, e.status(), format!("asb record: {e}")),
    }
}
