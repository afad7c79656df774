//! The mock's HTTP side: routes, the per-request pipeline (read → validate → plan → time →
//! encode), and starting/stopping the listener. Used by `asb mock` and, in-process, by
//! commands that need a target with no GPU.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_service::Service;

use super::answer;
use super::anthropic::{self, AnthropicStream};
use super::config::MockConfig;
use super::generation::Generation;
use super::metrics::{Gauges, MockMetrics};
use super::openai::{self, OpenAiStream};
use super::prefix_cache::PrefixCache;
use super::reply::{Reply, SseEncoder};
use super::request::{self, GenRequest};
use super::responses::{self, ResponsesStream};
use super::timing::{DecodeSlots, Schedule};
use super::tokenizer;
use super::truth::{Arrival, TruthLog, TruthRecord};
use crate::wire::api::Route;
use crate::wire::errors::ApiError;
use crate::wire::rx_timestamp::{self, TimestampedTcp};
use crate::wire::server;
use crate::wire::translate::ResponseFrame;
use crate::wire::Api;

/// Model listed by `/v1/models` when `--models` is not given.
const DEFAULT_MODEL: &str = "asb-mock";

struct MockState {
    cfg: MockConfig,
    seq: AtomicU64,
    cache: Mutex<PrefixCache>,
    slots: Arc<DecodeSlots>,
    truth: Arc<TruthLog>,
    metrics: Arc<MockMetrics>,
}

/// A running mock; dropping it (or calling [`MockServer::stop`]) stops it.
pub(crate) struct MockServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Base URL, e.g. `http://127.0.0.1:19100`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `host:port` and serves in the background of the current runtime.
pub(crate) async fn start(cfg: MockConfig, host: IpAddr, port: u16, truth: TruthLog) -> Result<MockServer> {
    let listener = TcpListener::bind((host, port)).await.with_context(|| format!("cannot listen on {host}:{port}"))?;
    let addr = listener.local_addr()?;
    // Accepted sockets inherit the option, and the kernel starts stamping now rather than
    // at the first connection (see `wire::rx_timestamp`).
    rx_timestamp::enable(&listener);
    let state = Arc::new(MockState {
        cache: Mutex::new(PrefixCache::new(cfg.cache_block_tokens, cfg.cache_blocks)),
        cfg,
        seq: AtomicU64::new(0),
        slots: Arc::new(DecodeSlots::default()),
        truth: Arc::new(truth),
        metrics: Arc::default(),
    });
    let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
    let timeouts = state.cfg.timeouts;
    let app = router(state);
    // The connections are served as `asb record`'s and `asb serve`'s are (bounded in time,
    // see `wire::server`), and a client that half-closes after its request (shutdown of
    // its sending side) still gets the answer.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().half_close(true);
    let builder = Arc::new(builder);
    let task = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    // Small SSE frames must leave at once: no Nagle.
                    let _ = stream.set_nodelay(true);
                    let (stream, rx) = TimestampedTcp::new(stream);
                    let (app, builder, watcher) = (app.clone(), Arc::clone(&builder), graceful.watcher());
                    tokio::spawn(async move {
                        // Called as soon as a request's headers are parsed: the latest read
                        // on the connection is the one that completed them.
                        let handle = move |mut req: http::Request<hyper::body::Incoming>| {
                            req.extensions_mut().insert(Arrival::now(rx.last_ns()));
                            let mut app = app.clone();
                            async move { app.call(req.map(axum::body::Body::new)).await }
                        };
                        server::serve_guarded(&builder, stream, timeouts, handle, watcher).await;
                    });
                }
                _ = &mut stop_rx => break,
            }
        }
        drop(listener);
        graceful.shutdown().await;
    });
    Ok(MockServer { addr, stop: Some(stop_tx), task })
}

fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route(Api::OpenAi.path(), only_post(post(chat_completions)))
        .route(Api::Anthropic.path(), only_post(post(messages)))
        .route(Api::Responses.path(), only_post(post(responses_call)))
        .route(Route::CountTokens.path(), only_post(post(count_tokens)))
        .route(Route::Models.path(), get(models).fallback(method_not_allowed))
        .route("/metrics", get(metrics).fallback(method_not_allowed))
        .route("/reset_prefix_cache", only_post(post(reset_prefix_cache)))
        .fallback(not_found)
        .with_state(state)
}

fn only_post(route: MethodRouter<Arc<MockState>>) -> MethodRouter<Arc<MockState>> {
    route.fallback(method_not_allowed)
}

async fn chat_completions(State(state): State<Arc<MockState>>, req: Request) -> Response {
    generate(state, Api::OpenAi, req).await
}

async fn messages(State(state): State<Arc<MockState>>, req: Request) -> Response {
    generate(state, Api::Anthropic, req).await
}

async fn responses_call(State(state): State<Arc<MockState>>, req: Request) -> Response {
    generate(state, Api::Responses, req).await
}

/// The whole life of one generation request.
async fn generate(state: Arc<MockState>, api: Api, req: Request) -> Response {
    let arrival = req.extensions().get::<Arrival>().copied().unwrap_or_else(|| Arrival::now(None));
    let origin = arrival.origin();
    let seq = state.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let request_id = format!("mock-{seq}");
    let mut truth = TruthRecord {
        seq,
        request_id: request_id.clone(),
        api: api.name(),
        path: req.uri().path().to_string(),
        model: None,
        stream: false,
        status: 200,
        outcome: "completed",
        arrival_unix_ms: arrival.unix_ms(),
        read_ms: arrival.read_ms(),
        prompt_tokens: 0,
        cached_tokens: 0,
        cache_written_tokens: 0,
        output_tokens: 0,
        sent_tokens: 0,
        thinking_tokens: 0,
        tool_call: None,
        finish_reason: None,
        stalled: false,
        ttft_ms: None,
        token_times_ms: Vec::new(),
        end_ms: 0.0,
        error: None,
    };
    let reject = |mut truth: TruthRecord, e: ApiError, outcome: &'static str| {
        truth.status = e.status.as_u16();
        truth.outcome = outcome;
        truth.error = Some(e.message.clone());
        truth.end_ms = origin.elapsed().as_secs_f64() * 1000.0;
        state.truth.write(&truth);
        error_response(&e, api, &request_id)
    };

    let body = match server::read_body(req.into_body(), state.cfg.timeouts.body, server::MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(e) => return reject(truth, ApiError::new(e.status, e.message), "rejected"),
    };
    let (gen, frame) = match parse_and_check(&state.cfg, api, &body) {
        Ok(g) => g,
        Err(e) => return reject(truth, e, "rejected"),
    };
    truth.model = Some(gen.model.clone());
    truth.stream = gen.stream;

    let tokens = tokenizer::tokens(&gen.prompt);
    truth.prompt_tokens = tokens.len();
    if let Err(e) = check_context(&state.cfg, api, tokens.len(), gen.max_tokens) {
        return reject(truth, e, "rejected");
    }

    // Faults are drawn per request from (seed, seq), in a fixed order.
    let mut faults = Xoshiro256PlusPlus::seed_from_u64(mix(state.cfg.seed, seq));
    let cfg = &state.cfg;
    if faults.random_bool(cfg.error_rate) {
        return reject(truth, injected_error(cfg.error_status), "error");
    }
    let stalled = faults.random_bool(cfg.stall_rate);
    let cut = faults.random_bool(cfg.cut_rate);

    let cache = match state.cache.lock() {
        Ok(mut c) => c.lookup_and_insert(&tokens),
        Err(poisoned) => poisoned.into_inner().lookup_and_insert(&tokens),
    };
    drop(tokens);
    let answer = match answer::plan(&gen, cfg, seq) {
        Ok(a) => a,
        Err(e) => return reject(truth, e, "rejected"),
    };
    let in_flight = state.metrics.admit(truth.prompt_tokens, cache.cached_tokens);
    truth.cached_tokens = cache.cached_tokens;
    truth.cache_written_tokens = cache.written_tokens;
    truth.output_tokens = answer.tokens.len();
    truth.thinking_tokens = answer.thinking_tokens();
    truth.tool_call = answer.tool.as_ref().map(|t| t.name.clone());
    truth.finish_reason = Some(match api {
        Api::OpenAi | Api::Responses => answer.finish.openai(),
        Api::Anthropic => answer.finish.anthropic(),
    });
    truth.stalled = stalled;
    let cut_after = cut.then_some(answer.tokens.len() / 2);

    let reply = Reply {
        seq,
        id: match api {
            Api::OpenAi => format!("chatcmpl-mock-{seq}"),
            Api::Anthropic => format!("msg_mock_{seq}"),
            Api::Responses => format!("resp_mock_{seq}"),
        },
        model: gen.model.clone(),
        created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        answer,
        prompt_tokens: truth.prompt_tokens,
        cache,
        include_usage: gen.include_usage,
        continuous_usage: gen.continuous_usage,
    };
    let uncached = reply.prompt_tokens - cache.cached_tokens;
    let stall_s = if stalled { cfg.stall_s } else { 0.0 };
    let schedule = Schedule::new(cfg, arrival.read, uncached, stall_s, Arc::clone(&state.slots), faults.random());
    let frame = frame.map(|f| responses::numbered(f, seq, &gen.model));
    let mut generation = Generation::new(reply, schedule, origin, cut_after, truth, Arc::clone(&state.truth))
        .counted_in(Arc::clone(&state.metrics), in_flight);

    if gen.stream {
        let encoder: Box<dyn SseEncoder> = match api {
            Api::OpenAi => Box::new(OpenAiStream::new(&generation.reply)),
            Api::Anthropic => Box::<AnthropicStream>::default(),
            Api::Responses => Box::new(ResponsesStream::new(&generation.reply, frame.unwrap_or_else(no_frame))),
        };
        let mut resp = Response::new(generation.into_sse_body(encoder));
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("text/event-stream; charset=utf-8"));
        h.insert("cache-control", HeaderValue::from_static("no-cache"));
        set_request_id(h, &request_id);
        resp
    } else {
        generation.run_to_end().await;
        let json = match api {
            Api::OpenAi => openai::body(&generation.reply),
            Api::Anthropic => anthropic::body(&generation.reply),
            Api::Responses => responses::body(&generation.reply, &frame.unwrap_or_else(no_frame)),
        };
        let mut resp = Response::new(generation.into_json_body(json.to_string()));
        resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
        set_request_id(resp.headers_mut(), &request_id);
        resp
    }
}

/// The request read; a Responses one also gives the frame its answer repeats.
fn parse_and_check(cfg: &MockConfig, api: Api, body: &[u8]) -> Result<(GenRequest, Option<ResponseFrame>), ApiError> {
    let json = request::parse_json(body)?;
    let (gen, frame) = match api {
        Api::OpenAi => (request::openai(&json, cfg.default_max_tokens)?, None),
        Api::Anthropic => (request::anthropic(&json, false)?, None),
        Api::Responses => {
            let (gen, frame) = responses::parse(&json, cfg.default_max_tokens)?;
            (gen, Some(frame))
        }
    };
    check_model(cfg, &gen.model)?;
    Ok((gen, frame))
}

/// The frame of a Responses answer whose request gave none (never: a Responses request
/// always does; this keeps the encoders total).
fn no_frame() -> ResponseFrame {
    ResponseFrame::for_request(&serde_json::Value::Null, 0, DEFAULT_MODEL)
}

fn check_model(cfg: &MockConfig, model: &str) -> Result<(), ApiError> {
    if cfg.models.is_empty() || cfg.models.iter().any(|m| m == model) {
        return Ok(());
    }
    Err(ApiError::new(
        404,
        format!("The model `{model}` does not exist (this asb mock serves: {})", cfg.models.join(", ")),
    )
    .with_code("model_not_found"))
}

fn check_context(cfg: &MockConfig, api: Api, prompt: usize, max_tokens: usize) -> Result<(), ApiError> {
    let limit = cfg.context_limit;
    if prompt.saturating_add(max_tokens) <= limit {
        return Ok(());
    }
    let message = match api {
        Api::OpenAi | Api::Responses => format!(
            "This model's maximum context length is {limit} tokens. However, you requested {} tokens \
             ({prompt} in the messages, {max_tokens} in the completion). Please reduce the length of \
             the messages or completion.",
            prompt.saturating_add(max_tokens)
        ),
        Api::Anthropic if prompt > limit => format!("prompt is too long: {prompt} tokens > {limit} maximum"),
        Api::Anthropic => format!(
            "input length and `max_tokens` exceed context limit: {prompt} + {max_tokens} > {limit}, \
             decrease input length or `max_tokens` and try again"
        ),
    };
    let mut e = ApiError::new(400, message).with_code("context_length_exceeded");
    e.param = Some("messages".into());
    Err(e)
}

fn injected_error(status: u16) -> ApiError {
    let what = match status {
        429 => "Rate limit exceeded",
        503 | 529 => "Overloaded",
        500..=599 => "Internal server error",
        _ => "Request refused",
    };
    ApiError::new(status, format!("{what} (injected by asb mock)"))
}

async fn count_tokens(State(state): State<Arc<MockState>>, req: Request) -> Response {
    let id = format!("mock-count-{}", state.seq.load(Ordering::Relaxed));
    let result = async {
        let body = server::read_body(req.into_body(), state.cfg.timeouts.body, server::MAX_REQUEST_BODY)
            .await
            .map_err(|e| ApiError::new(e.status, e.message))?;
        let gen = request::anthropic(&request::parse_json(&body)?, true)?;
        check_model(&state.cfg, &gen.model)?;
        Ok::<_, ApiError>(tokenizer::count(&gen.prompt))
    }
    .await;
    match result {
        Ok(n) => axum::Json(json!({"input_tokens": n})).into_response(),
        Err(e) => error_response(&e, Api::Anthropic, &id),
    }
}

async fn models(State(state): State<Arc<MockState>>, headers: HeaderMap) -> Response {
    let names: Vec<&str> = if state.cfg.models.is_empty() {
        vec![DEFAULT_MODEL]
    } else {
        state.cfg.models.iter().map(String::as_str).collect()
    };
    let body = match Api::of_request(Route::Models.path(), &headers) {
        Api::Anthropic => json!({
            "data": names.iter().map(|m| json!({"type": "model", "id": m, "display_name": m,
                "created_at": "2026-01-01T00:00:00Z"})).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": names.first(),
            "last_id": names.last(),
        }),
        Api::OpenAi | Api::Responses => json!({
            "object": "list",
            "data": names.iter().map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "asb-mock"}))
                .collect::<Vec<_>>(),
        }),
    };
    axum::Json(body).into_response()
}

/// `GET /metrics`: the model's state under vLLM's names (see `metrics`).
async fn metrics(State(state): State<Arc<MockState>>) -> Response {
    let (used, capacity) = match state.cache.lock() {
        Ok(c) => c.blocks_used(),
        Err(poisoned) => poisoned.into_inner().blocks_used(),
    };
    let gauges = Gauges { decoding: state.slots.active(), cache_blocks_used: used, cache_blocks: capacity };
    let model = state.cfg.models.first().map_or(DEFAULT_MODEL, String::as_str);
    let mut resp = Response::new(axum::body::Body::from(state.metrics.render(model, gauges)));
    resp.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

/// `POST /reset_prefix_cache` (as vLLM): empties the prefix cache; 200 with an empty body.
async fn reset_prefix_cache(State(state): State<Arc<MockState>>) -> Response {
    match state.cache.lock() {
        Ok(mut c) => c.clear(),
        Err(poisoned) => poisoned.into_inner().clear(),
    }
    state.metrics.cache_reset();
    Response::new(axum::body::Body::empty())
}

async fn not_found(headers: HeaderMap, req: Request) -> Response {
    let msg = format!("{} {}: no such endpoint on asb mock", req.method(), req.uri().path());
    error_response(&ApiError::new(404, msg), Api::of_request(req.uri().path(), &headers), "mock-404")
}

async fn method_not_allowed(headers: HeaderMap, req: Request) -> Response {
    let msg = format!("method {} is not allowed on {}", req.method(), req.uri().path());
    error_response(&ApiError::new(405, msg), Api::of_request(req.uri().path(), &headers), "mock-405")
}

/// An [`ApiError`] as an axum response.
fn error_response(e: &ApiError, api: Api, request_id: &str) -> Response {
    e.to_response(api, request_id).map(axum::body::Body::from)
}

fn set_request_id(h: &mut HeaderMap, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-request-id", v.clone());
        h.insert("request-id", v);
    }
}

fn mix(seed: u64, seq: u64) -> u64 {
    let mut h = DefaultHasher::new();
    (seed, seq).hash(&mut h);
    h.finish()
}
