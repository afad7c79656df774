//! `asb serve`: answers OpenAI and Anthropic calls from recordings made by `asb record`,
//! offline and deterministic — a test double any language can point its SDK at, streaming
//! included (recorded SSE events are sent back byte for byte).
//!
//! * [`key`] — the canonical request key, with volatile values normalised;
//! * [`cassette`] — one recording indexed by key, served in recorded order;
//! * [`library`] — one file, or a directory served by name and released when idle;
//! * [`diff`] — field-level differences for miss reports;
//! * this file — flags, the HTTP server, pacing, and the miss answers.

pub mod cassette;
pub mod diff;
pub mod key;
pub mod library;

use std::convert::Infallible;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
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

type ServeBody = BoxBody<Bytes, Infallible>;

/// `asb serve`: answer from recordings until Ctrl+C.
pub async fn run(args: ServeArgs) -> Result<()> {
    let normalizer = Normalizer::new(&args.ignore, !args.no_presets);
    let library = Arc::new(Library::open(&args.recording, normalizer, Duration::from_secs(args.idle_release))?);
    let listener = TcpListener::bind((args.host, args.port))
        .await
        .map_err(|e| anyhow!("cannot listen on {}:{} ({e}); pass a different --port", args.host, args.port))?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("asb serve: listening on {url}");
    if library.is_dir() {
        let names = library.names();
        println!("  {} recordings in {}, each at {url}/c/NAME", names.len(), args.recording.display());
        if let Some(first) = names.first() {
            println!("  e.g. ANTHROPIC_BASE_URL={url}/c/{first}   OPENAI_BASE_URL={url}/c/{first}/v1");
        }
    } else {
        println!("  recording: {}", args.recording.display());
        println!("  ANTHROPIC_BASE_URL={url}   OPENAI_BASE_URL={url}/v1");
    }
    println!("  no upstream: a request that was not recorded gets an error naming the closest recorded one");

    let janitor = Arc::clone(&library);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            janitor.release_idle();
        }
    });
    let server = auto::Builder::new(TokioExecutor::new());
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (library, pacing) = (Arc::clone(&library), args.pacing);
                let service = service_fn(move |req| handle(Arc::clone(&library), pacing, req));
                let conn = server.serve_connection(TokioIo::new(stream), service).into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut stop => break,
        }
    }
    eprintln!("asb serve: stopped");
    Ok(())
}

async fn handle(
    library: Arc<Library>,
    pacing: Pacing,
    req: Request<Incoming>,
) -> Result<Response<ServeBody>, Infallible> {
    let api = api_of(req.uri().path(), req.headers());
    let method = req.method().clone();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(error(api, 400, format!("asb serve: cannot read the request body: {e}"))),
    };
    Ok(answer(&library, pacing, api, &method, &path, &body))
}

fn answer(
    library: &Library,
    pacing: Pacing,
    api: Api,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Response<ServeBody> {
    let Some(target) = library.route(path) else {
        let names = library.names();
        return error(
            api,
            404,
            format!(
                "asb serve: this server serves a directory of recordings; call {}/c/NAME/v1/…, NAME one of: {}",
                "",
                names.join(", ")
            ),
        );
    };
    let cassette = match library.get(&target.name) {
        Ok(c) => c,
        Err(e) => return error(api, 404, format!("asb serve: {e:#}")),
    };
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let key = library.normalizer.key(method.as_str(), &target.path, json.as_ref());
    let mut c = cassette.lock().unwrap_or_else(|p| p.into_inner());
    let report = match c.take(&key) {
        Lookup::Found(entry) => return send(&entry.answer, entry.seq, pacing),
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
                return plain_not_found(api, method, &target.path);
            }
            let canonical = json.as_ref().map(|j| library.normalizer.canonical_body(j));
            miss_report(&c, method, &target.path, canonical.as_ref())
        }
    };
    drop(c);
    eprintln!("{report}\n");
    let mut resp = error(api, 400, report);
    resp.headers_mut().insert("x-should-retry", HeaderValue::from_static("false"));
    resp
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
        (AnswerBody::Whole(b), _) => Full::new(b.clone()).boxed(),
        (AnswerBody::Events(frames), Pacing::Instant) => {
            let all: Vec<u8> = frames.iter().flat_map(|(_, b)| b.iter().copied()).collect();
            Full::new(Bytes::from(all)).boxed()
        }
        (AnswerBody::Events(frames), Pacing::Scaled(x)) => {
            let start = tokio::time::Instant::now();
            let frames = frames.clone();
            let stream = futures_util::stream::iter(frames).then(move |(t, bytes)| async move {
                let due = start + Duration::from_secs_f64((t * x / 1000.0).max(0.0));
                tokio::time::sleep_until(due).await;
                Ok::<_, Infallible>(Frame::data(bytes))
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

fn plain_not_found(api: Api, method: &Method, path: &str) -> Response<ServeBody> {
    error(api, 404, format!("asb serve: {method} {path} is not a recorded call"))
}

fn error(api: Api, status: u16, message: String) -> Response<ServeBody> {
    ApiError::new(status, message).to_response(api, "asb-serve").map(|s| Full::new(Bytes::from(s)).boxed())
}

/// Anthropic shapes for `/v1/messages…` or a client sending `anthropic-version`.
fn api_of(path: &str, headers: &http::HeaderMap) -> Api {
    if path.contains("/v1/messages") || headers.contains_key("anthropic-version") {
        Api::Anthropic
    } else {
        Api::OpenAi
    }
}
