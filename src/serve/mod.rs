//! `asb serve`: answers OpenAI and Anthropic calls from recordings made by `asb record`,
//! offline and deterministic — a test double any language can point its SDK at, streaming
//! included (recorded SSE events are sent back byte for byte).
//!
//! * [`key`] — the canonical request key, with volatile values normalised;
//! * [`cassette`] — one recording indexed by key, served in recorded order;
//! * [`library`] — one file, or a directory served by name and released when idle;
//! * [`diff`] — field-level differences for miss reports;
//! * this file — flags, the HTTP server, pacing, the miss answers, and the record modes
//!   (`--mode once|new_episodes|all -e URL`), which hand calls to the recording proxy of
//!   `asb record` and append what it records to the same file.

pub mod cassette;
pub mod diff;
pub mod key;
pub mod library;

use std::convert::Infallible;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Method, Request, Response};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;

use cassette::{AnswerBody, Lookup, RecordedAnswer};
use key::Normalizer;
use library::Library;

use crate::record::config::{RecordArgs, UpstreamApi};
use crate::record::proxy::{self, BoxError, Proxy};
use crate::record::Session;
use crate::wire::errors::ApiError;
use crate::wire::Api;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// A recording made by `asb record`, or a directory of them (served under /c/NAME/...).
    #[arg(short = 'w', long = "recording", alias = "scenario")]
    pub recording: PathBuf,
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(short = 'P', long, default_value_t = 19200)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Stream pacing: instant (all events at once), recorded (the recorded event times),
    /// or scale=X (recorded times × X).
    #[arg(long, default_value = "instant", value_parser = parse_pacing)]
    pub pacing: Pacing,
    /// Leave this body path out of matching (dotted, `*` for any key or index); repeatable.
    #[arg(long = "ignore")]
    pub ignore: Vec<String>,
    /// Match volatile values (timestamps, UUIDs, Claude Code's billing-header hashes) exactly.
    #[arg(long)]
    pub no_presets: bool,
    /// Directory mode: release a recording after this many idle seconds.
    #[arg(long, default_value_t = 30)]
    pub idle_release: u64,
    /// none: never call out. once: record everything if the recording does not exist yet,
    /// else as none. new_episodes: answer what was recorded, forward and record (append) the
    /// rest. all: forward and record everything (the recording starts afresh).
    #[arg(long, value_enum, default_value = "none")]
    pub mode: Mode,
    /// Upstream for the record modes (as `asb record -e`).
    #[arg(short = 'e', long)]
    pub endpoint: Option<String>,
    /// Model for translated calls in the record modes (as `asb record -m`).
    #[arg(short = 'm', long)]
    pub model: Option<String>,
    /// API key for the upstream (also ASB_API_KEY); never written.
    #[arg(short = 'k', long, env = "ASB_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Header carrying the key (as `asb record --api-key-header`).
    #[arg(long)]
    pub api_key_header: Option<String>,
    /// Upstream API (as `asb record --upstream-api`).
    #[arg(long, value_enum)]
    pub upstream_api: Option<UpstreamApi>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    None,
    Once,
    #[value(name = "new_episodes")]
    NewEpisodes,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    Instant,
    /// Event times multiplied by this factor (1 = as recorded).
    Scaled(f64),
}

fn parse_pacing(s: &str) -> Result<Pacing, String> {
    match s {
        "instant" => Ok(Pacing::Instant),
        "recorded" => Ok(Pacing::Scaled(1.0)),
        _ => match s.strip_prefix("scale=").map(str::parse::<f64>) {
            Some(Ok(x)) if x >= 0.0 && x.is_finite() => Ok(Pacing::Scaled(x)),
            _ => Err(format!("expected instant, recorded or scale=X (X ≥ 0), got {s:?}")),
        },
    }
}

type ServeBody = BoxBody<Bytes, BoxError>;

/// What answers requests: recordings, a recording proxy, or both.
struct State {
    library: Option<Library>,
    recorder: Option<Arc<Proxy>>,
    pacing: Pacing,
}

/// The recording proxy for the record modes, and whether recordings are replayed at all.
fn record_session(args: &ServeArgs) -> Result<(Option<Session>, Mode)> {
    let exists = args.recording.metadata().is_ok_and(|m| m.len() > 0);
    let mode = match args.mode {
        Mode::Once if exists => Mode::None,
        Mode::Once => Mode::All,
        m => m,
    };
    if mode == Mode::None {
        return Ok((None, mode));
    }
    if args.recording.is_dir() {
        bail!("--mode {:?} records into one file: pass a recording file, not a directory", args.mode);
    }
    let (Some(endpoint), Some(model)) = (&args.endpoint, &args.model) else {
        bail!("--mode {:?} calls an upstream for what is not recorded: pass -e URL and -m MODEL", args.mode);
    };
    if mode == Mode::All {
        std::fs::write(&args.recording, b"")
            .map_err(|e| anyhow!("cannot start {} afresh: {e}", args.recording.display()))?;
    }
    let record_args = RecordArgs {
        endpoint: endpoint.clone(),
        model: model.clone(),
        api_key: args.api_key.clone(),
        api_key_header: args.api_key_header.clone(),
        output: args.recording.clone(),
        port: 0,
        host: args.host,
        upstream_api: args.upstream_api,
        upstream_timeout: 600,
        drain_timeout: 0,
    };
    Ok((Some(Session::open(&record_args)?), mode))
}

/// `asb serve`: answer from recordings until Ctrl+C.
pub async fn run(args: ServeArgs) -> Result<()> {
    let (session, mode) = record_session(&args)?;
    let normalizer = Normalizer::new(&args.ignore, !args.no_presets);
    let library = match mode {
        Mode::All => None,
        _ => Some(Library::open(&args.recording, normalizer, Duration::from_secs(args.idle_release))?),
    };
    let recorder = match &session {
        Some(s) => Some(s.proxy(Duration::from_secs(600))?),
        None => None,
    };
    let listener = TcpListener::bind((args.host, args.port))
        .await
        .map_err(|e| anyhow!("cannot listen on {}:{} ({e}); pass a different --port", args.host, args.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("asb serve: listening on {url}");
    let state = Arc::new(State { library, recorder, pacing: args.pacing });
    match (&state.library, &session) {
        (_, Some(s)) => println!(
            "  mode {:?}: {} is forwarded to {} and appended to {}",
            mode,
            if mode == Mode::All { "every call" } else { "a call that was not recorded" },
            s.upstream.base,
            args.recording.display()
        ),
        (_, None) => {
            println!("  no upstream: a request that was not recorded gets an error naming the closest recorded one")
        }
    }
    if let Some(library) = state.library.as_ref().filter(|l| l.is_dir()) {
        let names = library.names();
        println!("  {} recordings in {}, each at {url}/c/NAME", names.len(), args.recording.display());
        if let Some(first) = names.first() {
            println!("  e.g. ANTHROPIC_BASE_URL={url}/c/{first}   OPENAI_BASE_URL={url}/c/{first}/v1");
        }
    } else {
        println!("  recording: {}", args.recording.display());
        println!("  ANTHROPIC_BASE_URL={url}   OPENAI_BASE_URL={url}/v1");
    }

    let janitor = Arc::clone(&state);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Some(library) = &janitor.library {
                library.release_idle();
            }
        }
    });
    let server = auto::Builder::new(TokioExecutor::new());
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let service = service_fn(move |req| handle(Arc::clone(&state), req));
                let conn = server.serve_connection(TokioIo::new(stream), service).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut stop => break,
        }
    }
    if let Some(session) = session {
        session.recorder.interrupt_all();
        let stats = session.recorder.writer.close()?;
        eprintln!("asb serve: stopped; {} call(s) recorded to {}", stats.lines, args.recording.display());
    } else {
        eprintln!("asb serve: stopped");
    }
    Ok(())
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<ServeBody>, Infallible> {
    let arrival = std::time::Instant::now();
    let api = api_of(req.uri().path(), req.headers());
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(error(api, 400, format!("asb serve: cannot read the request body: {e}"))),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let replayed = match &state.library {
        Some(library) => answer(library, state.pacing, api, &parts.method, &path, &body),
        None => Err(Miss { status: 404, report: String::new() }),
    };
    Ok(match (replayed, &state.recorder) {
        (Ok(resp), _) => resp,
        (Err(_), Some(proxy)) => proxy::handle_buffered(proxy, parts, body, arrival).await,
        (Err(Miss { status: 404, report }), None) => error(api, 404, report),
        (Err(Miss { status, report }), None) => {
            eprintln!("{report}\n");
            let mut resp = error(api, status, report);
            resp.headers_mut().insert("x-should-retry", HeaderValue::from_static("false"));
            resp
        }
    })
}

/// The recorded answer, or the report of why there is none.
fn answer(
    library: &Library,
    pacing: Pacing,
    api: Api,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Response<ServeBody>, Miss> {
    let Some(target) = library.route(path) else {
        let names = library.names().join(", ");
        let message =
            format!("asb serve: this server serves a directory of recordings: call /c/NAME/v1/…, NAME one of: {names}");
        return Ok(error(api, 404, message));
    };
    let cassette = match library.get(&target.name) {
        Ok(c) => c,
        Err(e) => return Ok(error(api, 404, format!("asb serve: {e:#}"))),
    };
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let key = library.normalizer.key(method.as_str(), &target.path, json.as_ref());
    let mut c = cassette.lock().unwrap_or_else(|p| p.into_inner());
    let report = match c.take(&key) {
        Lookup::Found(entry) => return Ok(send(&entry.answer, entry.seq, pacing)),
        Lookup::Exhausted { served } => format!(
            "asb serve: all {} recording(s) of this request were already served (seq {}); \
             the agent made this call more often than when it was recorded.\nRecording: {}",
            served.len(),
            served.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            c.path.display()
        ),
        Lookup::Missing => {
            if *method != Method::POST {
                // Probes and listings (HEAD /, GET /v1/models) are not recorded calls.
                return Err(Miss {
                    status: 404,
                    report: format!("asb serve: {method} {} is not a recorded call", target.path),
                });
            }
            let canonical = json.as_ref().map(|j| library.normalizer.canonical_body(j));
            miss_report(&c, method, &target.path, canonical.as_ref())
        }
    };
    Err(Miss { status: 400, report })
}

/// Why a request has no recorded answer.
struct Miss {
    /// 400 for a call that was not recorded (with `x-should-retry: false`), 404 for paths
    /// that are never recorded.
    status: u16,
    report: String,
}

fn miss_report(c: &cassette::Cassette, method: &Method, path: &str, incoming: Option<&Value>) -> String {
    let mut report = format!("asb serve: no recorded call matches {method} {path}\nRecording: {}", c.path.display());
    match c.closest(method.as_str(), path, incoming) {
        Some((entry, diffs)) => {
            report.push_str(&format!(
                "\nClosest recorded call: seq {} (line {}), {} field(s) differ (expected = recorded, received = incoming):",
                entry.seq,
                entry.line,
                diffs.len()
            ));
            for d in diffs.iter().take(20) {
                report.push_str(&format!(
                    "\n  - {}: expected {}, received {}",
                    d.path,
                    diff::show(&d.expected, 120),
                    diff::show(&d.received, 120)
                ));
            }
            if diffs.len() > 20 {
                report.push_str(&format!("\n  … and {} more", diffs.len() - 20));
            }
        }
        None => report.push_str(&format!("\nNothing was recorded on {method} {path}.")),
    }
    report.push_str(
        "\nHow to fix: re-record this session with `asb record`; if a volatile field causes the mismatch, \
         leave it out of matching with `asb serve --ignore PATH`.",
    );
    report
}

fn send(answer: &RecordedAnswer, seq: u64, pacing: Pacing) -> Response<ServeBody> {
    let body: ServeBody = match (&answer.body, pacing) {
        (AnswerBody::Whole(b), _) => full(b.clone()),
        (AnswerBody::Events(frames), Pacing::Instant) => {
            let all: Vec<u8> = frames.iter().flat_map(|(_, b)| b.iter().copied()).collect();
            full(Bytes::from(all))
        }
        (AnswerBody::Events(frames), Pacing::Scaled(x)) => {
            let start = tokio::time::Instant::now();
            let frames = frames.clone();
            let stream = futures_util::stream::iter(frames).then(move |(t, bytes)| async move {
                let due = start + Duration::from_secs_f64((t * x / 1000.0).max(0.0));
                tokio::time::sleep_until(due).await;
                Ok::<_, BoxError>(Frame::data(bytes))
            });
            BodyExt::boxed(StreamBody::new(stream))
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::OK);
    for (k, v) in &answer.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            resp.headers_mut().append(k, v);
        }
    }
    if let Ok(v) = HeaderValue::try_from(format!("seq {seq}")) {
        resp.headers_mut().insert("x-asb-serve", v);
    }
    resp
}

fn error(api: Api, status: u16, message: String) -> Response<ServeBody> {
    ApiError::new(status, message).to_response(api, "asb-serve").map(|s| full(Bytes::from(s)))
}

fn full(bytes: Bytes) -> ServeBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// Anthropic shapes for `/v1/messages…` or a client sending `anthropic-version`.
fn api_of(path: &str, headers: &http::HeaderMap) -> Api {
    if path.contains("/v1/messages") || headers.contains_key("anthropic-version") {
        Api::Anthropic
    } else {
        Api::OpenAi
    }
}
