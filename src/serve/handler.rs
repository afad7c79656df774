//! What one call gets: its recorded answer (found by exact bytes, else by canonical key),
//! else in a record mode the upstream's (recorded on the way), else the miss answer. Kept
//! apart from the command's start-up so the per-call path reads in one place.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::admin;
use super::cassette::{Lookup, Repeats};
use super::journal::{Journal, Logged};
use super::key::{exact_key_of, CanonicalRequest};
use super::library::Library;
use super::miss::{error, exhausted_report, miss_report, Miss};
use super::pacing::{send, Pacing};
use super::record_mode::ThreadRecorder;
use crate::wire::server::{self, ServerBody};
use crate::wire::Api;

/// What answers requests: the recordings (none in `--mode all`), and how streams are paced.
pub(crate) struct State {
    pub library: Option<Library>,
    pub pacing: Pacing,
    pub repeats: Repeats,
    /// What was asked since start or the last reset (`GET /__asb/requests`).
    pub journal: Journal,
}

pub(crate) async fn handle(
    state: Arc<State>,
    recorder: Option<ThreadRecorder>,
    req: Request<Incoming>,
) -> Result<Response<ServerBody>, Infallible> {
    let arrival = std::time::Instant::now();
    if req.uri().path().starts_with(admin::PREFIX) {
        return Ok(admin::answer(&state, req.method(), req.uri().path()));
    }
    let api = Api::of_request(req.uri().path(), req.headers());
    if asks_websocket(req.headers()) {
        // Codex tries a WebSocket on `/v1/responses` first: refused at once, it falls back
        // to HTTP, which is what was recorded.
        return Ok(error(api, 426, "asb serve: WebSocket is not supported; use HTTP (POST) for this API".into()));
    }
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let log = |outcome: Result<u64, &str>| state.journal.push(Logged::new(parts.method.as_str(), &path, outcome));
    let body = match server::read_body(body, server::timeouts().body, server::MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let message = format!("asb serve: {}", e.message);
            log(Err(&message));
            return Ok(error(api, e.status, message));
        }
    };
    let replayed = match &state.library {
        Some(library) => answer(library, (state.pacing, state.repeats), &parts.method, &path, &body).await,
        None => Err(Miss { status: 404, report: String::new() }),
    };
    Ok(match (replayed, recorder) {
        (Ok((resp, seq)), _) => {
            log(Ok(seq));
            resp
        }
        (Err(miss), Some(recorder)) => {
            let why = miss.report.lines().next().unwrap_or("not served from the recording");
            log(Err(&format!("{why} (forwarded to the upstream and recorded)")));
            // Boxed: the proxy's future is large, and would make every replayed call move it.
            Box::pin(recorder.handle(parts, body, arrival)).await
        }
        (Err(miss), None) => {
            log(Err(&miss.report));
            miss.answer(api)
        }
    })
}

/// Whether a request asks to become a WebSocket.
fn asks_websocket(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The recorded answer and the `seq` it was recorded as, or the report of why there is none.
async fn answer(
    library: &Library,
    (pacing, repeats): (Pacing, Repeats),
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<(Response<ServerBody>, u64), Miss> {
    let Some(target) = library.route(path) else {
        let names = library.names().join(", ");
        let message =
            format!("asb serve: this server serves a directory of recordings: call /c/NAME/v1/…, NAME one of: {names}");
        return Err(Miss { status: 404, report: message });
    };
    let cassette = match library.get(target.name).await {
        Ok(c) => c,
        Err(e) => return Err(Miss { status: 404, report: format!("asb serve: {e:#}") }),
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
        Lookup::Found(entry) => return Ok((send(&entry.answer, pacing), entry.seq)),
        Lookup::Exhausted { served } => exhausted_report(&c, &served),
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
