//! The server's own endpoints under `/__asb/`, for a test suite that shares one server
//! between runs, as WireMock's admin API is used: `POST /__asb/reset` puts every recording
//! back to unserved and empties the journal, as if the server had just started;
//! `GET /__asb/requests` is the journal of what was asked since.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};

use super::handler::State;
use crate::wire::server::{full, ServerBody};

/// Where the server's own endpoints live; no recorded call is under it.
pub(crate) const PREFIX: &str = "/__asb/";

/// The answer to a request under [`PREFIX`].
pub(crate) fn answer(state: &State, method: &Method, path: &str) -> Response<ServerBody> {
    let path = path.split('?').next().unwrap_or_default();
    let (status, body) = match (method, path.strip_prefix(PREFIX).unwrap_or_default()) {
        (&Method::POST, "reset") => {
            let entries = state.library.as_ref().map_or(0, |l| l.reset());
            state.journal.clear();
            (StatusCode::OK, serde_json::json!({ "reset": entries }))
        }
        (&Method::GET, "requests") => (StatusCode::OK, state.journal.to_json()),
        _ => (
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": format!("asb serve: no {method} {path}; \
                the server's own endpoints are POST /__asb/reset and GET /__asb/requests") }),
        ),
    };
    let mut resp = Response::new(full(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
