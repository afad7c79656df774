//! `asb serve`: answers OpenAI and Anthropic calls from recordings made by `asb record`,
//! offline and deterministic — a test double any language can point its SDK at, streaming
//! included (recorded SSE events are sent back byte for byte).
//!
//! * [`key`] — the canonical request key, with volatile values normalised;
//! * [`canonical`] — the same canonical text written straight from a body's bytes;
//! * [`cassette`] — one recording indexed by key, served in recorded order;
//! * [`library`] — one file, or a directory served by name and released when idle;
//! * [`diff`] — field-level differences for miss reports;
//! * this file — flags, the HTTP server, pacing, the miss answers, and the record modes
//!   (`--mode once|new_episodes|all -e URL`), which hand calls to the recording proxy of
//!   `asb record` and append what it records to the same file.

pub mod canonical;
mod canonical_scan;
pub mod cassette;
pub mod diff;
pub mod key;
pub mod library;

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::Value;

use cassette::{AnswerBody, Lookup, RecordedAnswer, Repeats};
use key::{exact_key_of, CanonicalRequest, Normalizer};
use library::Library;

use crate::flags::{self, EndpointFlags, ListenFlags};
use crate::record::proxy::{self, Proxy};
use crate::record::{RecordingFlags, Session};
use crate::wire::errors::ApiError;
use crate::wire::server::{self, full, BoxError, HyperOnly, PerCore, ServerBody, Shutdown};
use crate::wire::Api;

#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("port", flags::port_default("19200")),
    mut_arg("endpoint", flags::reworded("Upstream for the record modes (as `asb record -e`)")),
    mut_arg("model", flags::reworded("Model for translated calls in the record modes (as `asb record -m`)"))
)]
pub struct ServeArgs {
    /// A recording made by `asb record`, or a directory of them (served under /c/NAME/...).
    #[arg(short = 'w', long = "recording", alias = "scenario")]
    pub recording: PathBuf,
    #[command(flatten)]
    pub listen: ListenFlags,
    /// Stream pacing: instant (all events at once), recorded (the recorded event times),
    /// or scale=X (recorded times × X).
    #[arg(long, default_value = "instant", value_parser = parse_pacing)]
    pub pacing: Pacing,
    /// What a call gets once every recording of it was served: never (an error naming
    /// them), last (the last recording again), cycle (its recordings again, in order).
    /// With last or cycle a test suite can run twice against one server.
    #[arg(long, value_enum, default_value = "never", value_name = "WHAT")]
    pub allow_repeats: Repeats,
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
    #[command(flatten)]
    pub upstream: EndpointFlags,
    #[command(flatten)]
    pub timeouts: server::ConnTimeouts,
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

/// The largest `--pacing scale=X`: a thousand times slower than recorded.
pub const MAX_PACING_SCALE: f64 = 1000.0;

/// The longest wait for one event of a paced answer, from the request: a day. A recorded
/// event time beyond it (see `asb validate`) is sent at this time.
pub const MAX_EVENT_DELAY: Duration = Duration::from_secs(86_400);

fn parse_pacing(s: &str) -> Result<Pacing, String> {
    match s {
        "instant" => Ok(Pacing::Instant),
        "recorded" => Ok(Pacing::Scaled(1.0)),
        _ => match s.strip_prefix("scale=").map(str::parse::<f64>) {
            Some(Ok(x)) if (0.0..=MAX_PACING_SCALE).contains(&x) => Ok(Pacing::Scaled(x)),
            _ => Err(format!("expected instant, recorded or scale=X (0 ≤ X ≤ {MAX_PACING_SCALE}), got {s:?}")),
        },
    }
}

/// When an event recorded `t_ms` after its request is sent under `--pacing scale=x`:
/// never before the request, never later than [`MAX_EVENT_DELAY`].
fn event_delay(t_ms: f64, x: f64) -> Duration {
    let secs = t_ms * x / 1000.0;
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).map_or(MAX_EVENT_DELAY, |d| d.min(MAX_EVENT_DELAY))
}

/// What answers requests: the recordings (none in `--mode all`), and how streams are paced.
struct State {
    library: Option<Library>,
    pacing: Pacing,
    repeats: Repeats,
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
    if args.upstream.endpoint.is_none() || args.upstream.model.is_none() {
        bail!("--mode {:?} calls an upstream for what is not recorded: pass -e URL and -m MODEL", args.mode);
    }
    if mode == Mode::All {
        std::fs::write(&args.recording, b"")
            .map_err(|e| anyhow!("cannot start {} afresh: {e}", args.recording.display()))?;
    }
    // `asb record`'s defaults, declared once on its flags.
    let how = RecordingFlags::default();
    Ok((Some(Session::open(&args.upstream, &args.recording, &how)?), mode))
}

/// `asb serve`: answer from recordings until Ctrl+C.
pub async fn run(args: ServeArgs) -> Result<()> {
    let (session, mode) = record_session(&args)?;
    // Bound before a large recording loads: a busy port fails at once, and a client that
    // connects during the load waits for its answer instead of being refused.
    let listener = server::bind("asb serve", args.listen.host, args.listen.port)?;
    let normalizer = Normalizer::new(&args.ignore, !args.no_presets);
    let library = match mode {
        Mode::All => None,
        _ => Some(Library::open(&args.recording, normalizer, Duration::from_secs(args.idle_release))?),
    };
    let url = format!("http://{}", listener.local_addr());
    println!("asb serve: listening on {url}");
    match &session {
        Some(s) => println!(
            "  mode {:?}: {} is forwarded to {} and appended to {}",
            mode,
            if mode == Mode::All { "every call" } else { "a call that was not recorded" },
            s.upstream.url(""),
            args.recording.display()
        ),
        None => {
            println!("  no upstream: a request that was not recorded gets an error naming the closest recorded one")
        }
    }
    if let Some(library) = library.as_ref().filter(|l| l.is_dir()) {
        let names = library.names();
        println!("  {} recordings in {}, each at {url}/c/NAME", names.len(), args.recording.display());
        if let Some(first) = names.first() {
            println!("  e.g. ANTHROPIC_BASE_URL={url}/c/{first}   OPENAI_BASE_URL={url}/c/{first}/v1");
        }
    } else {
        println!("  recording: {}", args.recording.display());
        println!("  ANTHROPIC_BASE_URL={url}   OPENAI_BASE_URL={url}/v1");
    }

    let state = Arc::new(State { library, pacing: args.pacing, repeats: args.allow_repeats });
    let session = session.map(Arc::new);
    let shutdown = Shutdown {
        drain: Duration::ZERO,
        on_cut: match &session {
            // Calls being recorded are marked before the server drops them.
            Some(s) => {
                let recorder = Arc::clone(&s.recorder);
                Arc::new(move || recorder.interrupt_all())
            }
            None => Arc::new(|| {}),
        },
    };
    let server = {
        let (state, session) = (Arc::clone(&state), session.clone());
        PerCore::start("asb-serve", listener, shutdown, args.timeouts, move || {
            // Each thread's own proxy (its upstream connection pool lives on that thread).
            let header_timeout = Duration::from_secs(RecordingFlags::default().upstream_timeout);
            let recorder = session.as_ref().map(|s| s.proxy(header_timeout)).transpose()?;
            let state = Arc::clone(&state);
            Ok((HyperOnly, move |req| handle(Arc::clone(&state), recorder.clone(), req)))
        })?
    };
    let mut signals = crate::signals::StopSignals::new()?;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Some(library) = &state.library {
                    library.release_idle();
                }
            }
            _ = signals.next() => break,
        }
    }
    server.stop();
    tokio::task::spawn_blocking(move || server.join("asb serve")).await?;
    if let Some(session) = session {
        session.recorder.interrupt_all();
        let stats = session.recorder.writer.close()?;
        eprintln!("asb serve: stopped; {} call(s) recorded to {}", stats.lines, args.recording.display());
    } else {
        eprintln!("asb serve: stopped");
    }
    Ok(())
}

async fn handle(
    state: Arc<State>,
    recorder: Option<Arc<Proxy>>,
    req: Request<Incoming>,
) -> Result<Response<ServerBody>, Infallible> {
    let arrival = std::time::Instant::now();
    let api = api_of(req.uri().path(), req.headers());
    let (parts, body) = req.into_parts();
    let body = match server::read_body(body, server::timeouts().body, server::MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(e) => return Ok(error(api, e.status, format!("asb serve: {}", e.message))),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let replayed = match &state.library {
        Some(library) => answer(library, (state.pacing, state.repeats), api, &parts.method, path, &body).await,
        None => Err(Miss { status: 404, report: String::new() }),
    };
    Ok(match (replayed, recorder) {
        (Ok(resp), _) => resp,
        // Boxed: the proxy's future is large, and would make every replayed call move it.
        (Err(_), Some(proxy)) => Box::pin(proxy::handle_buffered(&proxy, parts, body, arrival)).await,
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
async fn answer(
    library: &Library,
    (pacing, repeats): (Pacing, Repeats),
    api: Api,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Response<ServerBody>, Miss> {
    let Some(target) = library.route(path) else {
        let names = library.names().join(", ");
        let message =
            format!("asb serve: this server serves a directory of recordings: call /c/NAME/v1/…, NAME one of: {names}");
        return Ok(error(api, 404, message));
    };
    let cassette = match library.get(target.name).await {
        Ok(c) => c,
        Err(e) => return Ok(error(api, 404, format!("asb serve: {e:#}"))),
    };
    let lock = || cassette.lock().unwrap_or_else(|p| p.into_inner());
    let exact = exact_key_of(method.as_str(), target.path, body);
    let mut c = lock();
    // Not the recorded bytes: the canonical text, built without holding the lock.
    let text;
    let lookup = match c.recorded_key(&exact) {
        Some(key) => c.take(&key, None, repeats),
        None => {
            drop(c);
            text = library.normalizer.canonical_text_of(body);
            let request = CanonicalRequest { method: method.as_str(), path: target.path, text: text.as_deref() };
            c = lock();
            c.take(&request.key(), Some(&request), repeats)
        }
    };
    let report = match lookup {
        Lookup::Found(entry) => return Ok(send(&entry.answer, pacing)),
        Lookup::Exhausted { served } => format!(
            "asb serve: all {} recording(s) of this request were already served (seq {}); \
             the agent made this call more often than when it was recorded.\nRecording: {}\n\
             To answer repeats: asb serve --allow-repeats last (the last recording again) or cycle \
             (from the first again); or start asb serve afresh for each test run.",
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
            let canonical = serde_json::from_slice(body).ok().map(|json| library.normalizer.canonicalize(json));
            miss_report(&c, method, target.path, canonical.as_ref())
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

fn send(answer: &RecordedAnswer, pacing: Pacing) -> Response<ServerBody> {
    let body: ServerBody = match (&answer.body, pacing) {
        (AnswerBody::Whole(b), _) => full(b.clone()),
        (AnswerBody::Events { all, .. }, Pacing::Instant) => full(all.clone()),
        (AnswerBody::Events { all, ends }, Pacing::Scaled(x)) => {
            let start = tokio::time::Instant::now();
            let starts = std::iter::once(0).chain(ends.iter().map(|&(_, end)| end));
            let frames: Vec<(f64, Bytes)> =
                ends.iter().zip(starts).map(|(&(t, end), from)| (t, all.slice(from..end))).collect();
            let stream = futures_util::stream::iter(frames).then(move |(t, bytes)| async move {
                let due = start + event_delay(t, x);
                tokio::time::sleep_until(due).await;
                Ok::<_, BoxError>(Frame::data(bytes))
            });
            BodyExt::boxed_unsync(StreamBody::new(stream))
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = answer.status;
    *resp.headers_mut() = answer.headers.clone();
    resp
}

fn error(api: Api, status: u16, message: String) -> Response<ServerBody> {
    ApiError::new(status, message).to_response(api, "asb-serve").map(|s| full(Bytes::from(s)))
}

/// Anthropic shapes for `/v1/messages…` or a client sending `anthropic-version`.
fn api_of(path: &str, headers: &http::HeaderMap) -> Api {
    if path.contains("/v1/messages") || headers.contains_key("anthropic-version") {
        Api::Anthropic
    } else {
        Api::OpenAi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_refuses_scales_that_cannot_be_waited() {
        assert_eq!(parse_pacing("scale=2.5"), Ok(Pacing::Scaled(2.5)));
        for bad in ["scale=1e308", "scale=-1", "scale=NaN", "scale=inf", "scale=1001", "fast"] {
            let e = parse_pacing(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn event_delays_stay_between_now_and_a_day() {
        assert_eq!(event_delay(1500.0, 2.0), Duration::from_secs(3));
        assert_eq!(event_delay(1e300, 1.0), MAX_EVENT_DELAY);
        assert_eq!(event_delay(1e300, MAX_PACING_SCALE), MAX_EVENT_DELAY);
        assert_eq!(event_delay(f64::INFINITY, 1.0), MAX_EVENT_DELAY);
        assert_eq!(event_delay(f64::NAN, 1.0), Duration::ZERO);
        assert_eq!(event_delay(-5.0, 1.0), Duration::ZERO);
        assert_eq!(event_delay(f64::INFINITY, 0.0), Duration::ZERO);
    }
}
