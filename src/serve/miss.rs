//! What a call gets when no recording answers it: an error in its API's shape, saying why
//! (not recorded, with the closest recorded call field by field; or recorded but already
//! served) and how to fix it. A client must not retry those, so they carry
//! `x-should-retry: false`; the report goes to stderr too, where a test run's log shows it.

use bytes::Bytes;
use http::{HeaderValue, Method, Response};

use super::cassette::Cassette;
use crate::recording::json_diff;
use crate::wire::errors::ApiError;
use crate::wire::server::{full, ServerBody};
use crate::wire::Api;

/// Why a request has no recorded answer.
pub(crate) struct Miss {
    /// 400 for a call that was not recorded (with `x-should-retry: false`), 404 for paths
    /// that are never recorded.
    pub status: u16,
    pub report: String,
}

impl Miss {
    /// The answer when no upstream may be asked instead.
    pub(crate) fn answer(self, api: Api) -> Response<ServerBody> {
        let Miss { status, report } = self;
        if status == 404 {
            return error(api, 404, report);
        }
        eprintln!("{report}\n");
        let mut resp = error(api, status, report);
        resp.headers_mut().insert("x-should-retry", HeaderValue::from_static("false"));
        resp
    }
}

/// Every recording of this request was served already (`--allow-repeats never`).
pub(crate) fn exhausted_report(c: &Cassette, served: &[u64]) -> String {
    format!(
        "asb serve: all {} recording(s) of this request were already served (seq {}); \
         the agent made this call more often than when it was recorded.\nRecording: {}\n\
         To answer repeats: asb serve --allow-repeats last (the last recording again) or cycle \
         (from the first again); or start asb serve afresh for each test run.",
        served.len(),
        served.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        c.path.display()
    )
}

/// Nothing recorded matches: the closest recorded call and how it differs.
pub(crate) fn miss_report(c: &Cassette, method: &Method, path: &str, incoming: Option<&serde_json::Value>) -> String {
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
                    json_diff::show(&d.expected, 120),
                    json_diff::show(&d.received, 120)
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

/// An error in the shape of the client's API.
pub(crate) fn error(api: Api, status: u16, message: String) -> Response<ServerBody> {
    ApiError::new(status, message).to_response(api, "asb-serve").map(|s| full(Bytes::from(s)))
}
