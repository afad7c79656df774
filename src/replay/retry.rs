//! One request, sent until it succeeds or cannot: retries for what may succeed on a
//! second try, and the failures that stop the whole run at once (fail fast).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::client::{self, Observation, Outgoing};
use super::connection::Connection;
use super::run::Shared;

/// What the attempts of one request gave: the last attempt's observation, how many
/// attempts were made, and when the first was written (the request's actual send, for
/// the schedule lag).
pub(super) struct Sent {
    pub obs: Observation,
    pub attempts: u32,
    pub first_send: Option<Instant>,
}

/// A failure no retry and no other request will mend: the run stops at once (in about a
/// second, not after every request's backoff) with the server's own words and a hint.
/// Connect errors and 404s count only while the server has answered nothing in this run
/// (a server that goes away mid-run is retried as before); refused credentials always.
fn hopeless(obs: &Observation, answered_before: bool, url: &str) -> Option<String> {
    let error = obs.error.as_deref()?;
    let model_missing = {
        let e = error.to_ascii_lowercase();
        e.contains("model") && (e.contains("not found") || e.contains("does not exist") || e.contains("not_found"))
    };
    match obs.status {
        None if !answered_before && obs.t0.is_none() => {
            Some(format!("cannot reach {url}: {error}\nhint: is the server up, and is -e/--endpoint right?"))
        }
        Some(401 | 403) => Some(format!(
            "the server refused the credentials: {error}\nhint: check -k/--api-key (or ASB_API_KEY) and --api-key-header"
        )),
        Some(400 | 404) if model_missing => {
            Some(format!("the server does not serve this model: {error}\nhint: pass -m/--model with a model it serves"))
        }
        Some(404) if !answered_before => {
            Some(format!("{url} was not found: {error}\nhint: check -e/--endpoint (its path) and --upstream-api"))
        }
        _ => None,
    }
}

/// Sends one request, retrying what may succeed on a second try: connect errors, 429 and
/// 5xx answered before any output (backoff 0.5 s × 2^(attempt−1), at most 16 s), and a
/// server that rejects `stream_options` (retried at once without it). `body` is the tree
/// of `serialized` when the caller has it; otherwise it is parsed back from the bytes on
/// that rare retry (`preserve_order` and `float_roundtrip` make the round trip exact).
pub(super) async fn send_with_retries(
    shared: &Shared,
    conn: &mut Connection,
    mut body: Option<serde_json::Value>,
    mut serialized: Bytes,
    headers: &[(String, String)],
) -> Sent {
    let mut attempts = 0;
    let mut first_send = None;
    let mut retries_left = shared.opts.max_retries;
    loop {
        attempts += 1;
        let bytes = serialized.clone();
        let out = Outgoing {
            url: &shared.target.url,
            api: shared.target.api,
            body: bytes,
            headers,
            auth: shared.target.auth.as_ref(),
        };
        let obs = client::send(conn, out, shared.opts.timeout).await;
        first_send = first_send.or(obs.t0);
        let answered_before = shared.answered.load(Ordering::SeqCst);
        if obs.status.is_some() {
            shared.answered.store(true, Ordering::SeqCst);
        }
        if let Some(why) = hopeless(&obs, answered_before, &shared.target.url) {
            shared.abort(why);
            return Sent { obs, attempts, first_send };
        }
        if obs.error.is_none() || retries_left == 0 || shared.stop.load(Ordering::SeqCst) {
            return Sent { obs, attempts, first_send };
        }
        if obs.rejects_stream_options {
            if body.is_none() {
                body = serde_json::from_slice(&serialized).ok();
            }
            if let Some(obj) =
                body.as_mut().and_then(|b| b.as_object_mut()).filter(|o| o.contains_key("stream_options"))
            {
                obj.remove("stream_options");
                serialized = Bytes::from(serde_json::to_vec(obj).unwrap_or_default());
                retries_left -= 1;
                continue;
            }
        }
        if !obs.retryable {
            return Sent { obs, attempts, first_send };
        }
        retries_left -= 1;
        let backoff =
            Duration::from_millis(500).saturating_mul(1 << (attempts - 1).min(5)).min(Duration::from_secs(16));
        tokio::time::sleep(backoff).await;
    }
}
