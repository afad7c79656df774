//! How a recorded call ends, and what each ending records: the one table of outcomes and
//! their messages ([`Ending::outcome`]), the upstream's failures as a type
//! ([`UpstreamError`]) rather than strings sorted by their wording, and the error answer
//! the proxy gives when it ends a call itself ([`proxy_error`]).
//!
//! Two outcomes are not endings: `upstream_error` (a completed call whose answer is an
//! error status or says an error) and `truncated` (a completed call whose answer was
//! longer than the recorder keeps) are read from the capture when the line is built
//! ([`super::capture::build_line`]).

use std::fmt;

use http::Response;

use crate::recording::Outcome;
use crate::wire::errors::ApiError;
use crate::wire::Api;

/// Why the upstream did not give a call its whole answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpstreamError {
    /// Connecting or sending failed (`why`); `url` is as messages show it (credentials
    /// redacted).
    Unreachable { url: String, why: String },
    /// No answer head within the header timeout.
    Silent { url: String, secs: u64 },
    /// The answer broke off after it began.
    Cut(String),
    /// The upstream reported an error in the middle of a stream.
    Reported(String),
    /// A whole answer (to translate) longer than the recorder holds, in MiB.
    TooLong { limit_mib: usize },
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Unreachable { url, why } => write!(f, "upstream {url} unreachable: {why}"),
            UpstreamError::Silent { url, secs } => write!(f, "upstream {url} sent no answer within {secs} s"),
            UpstreamError::Cut(why) => write!(f, "the upstream's answer broke off: {why}"),
            UpstreamError::Reported(message) => write!(f, "the upstream reported an error mid-stream: {message}"),
            UpstreamError::TooLong { limit_mib } => write!(
                f,
                "the upstream's answer is longer than {limit_mib} MiB, more than the recorder holds to translate \
                 (--max-response-mib)"
            ),
        }
    }
}

impl UpstreamError {
    /// The HTTP status a client gets when the proxy answers this error itself.
    pub(crate) fn status(&self) -> u16 {
        502
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The whole answer reached the client (a line whose answer overflowed the recorder's
    /// limit says `truncated`, and an error status `upstream_error`: both are read from
    /// the capture when the line is built).
    Completed,
    /// The client went away before the answer ended.
    ClientGone,
    Upstream(UpstreamError),
    /// The proxy answered the call itself with an error (`message` as the line keeps it).
    Rejected(String),
    /// The recorder was stopped while the call was in flight.
    Interrupted,
    /// The call's guard was dropped unended: its task was dropped (hyper's, when the
    /// client went away before the answer began; any, when the recorder stopped or a bug
    /// panicked).
    Dropped,
}

impl Ending {
    /// The outcome and message a call's line records: the one table of them.
    pub(crate) fn outcome(&self) -> (Outcome, Option<String>) {
        match self {
            Ending::Completed => (Outcome::Completed, None),
            Ending::ClientGone => {
                (Outcome::ClientDisconnected, Some("the client closed the connection before the answer ended".into()))
            }
            Ending::Upstream(e @ (UpstreamError::Unreachable { .. } | UpstreamError::Silent { .. })) => {
                (Outcome::UpstreamUnreachable, Some(e.to_string()))
            }
            Ending::Upstream(e) => (Outcome::UpstreamCut, Some(e.to_string())),
            Ending::Rejected(message) => (Outcome::ProxyRejected, Some(message.clone())),
            Ending::Interrupted => {
                (Outcome::Interrupted, Some("the recorder was stopped while this call was in flight".into()))
            }
            Ending::Dropped => (
                Outcome::Interrupted,
                Some(
                    "the call was dropped before it ended (its client went away before the answer began, or the \
                      recorder stopped)"
                        .into(),
                ),
            ),
        }
    }
}

/// Why a call is answered 503 while the recording cannot be written (`why`: the disk's
/// error): it is not forwarded, since it could not be recorded (and has no line).
pub(crate) fn refusal_message(why: &str) -> String {
    format!(
        "asb record: the recording cannot be written ({why}); this call was not forwarded, so that nothing goes \
         unrecorded. Free space (or fix the disk) and retry."
    )
}

/// The error answer the proxy gives, with `status`, for a call it ends with `ending`: its
/// message, said by `asb record`, in the client's API's shape.
pub(crate) fn proxy_error(api: Api, status: u16, ending: &Ending) -> Response<String> {
    let message = ending.outcome().1.unwrap_or_default();
    let shown = if message.starts_with("asb record:") { message } else { format!("asb record: {message}") };
    ApiError::new(status, shown).to_response(api, "asb-record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_answer_says_the_ending_s_message_once_prefixed() {
        let unreachable =
            Ending::Upstream(UpstreamError::Unreachable { url: "http://h".into(), why: "refused".into() });
        let body = proxy_error(Api::OpenAi, 502, &unreachable).into_body();
        assert!(body.contains("asb record: upstream http://h unreachable: refused"), "{body}");
        let rejected = Ending::Rejected("asb record: cannot translate".into());
        let body = proxy_error(Api::Anthropic, 400, &rejected).into_body();
        assert!(body.contains("\"asb record: cannot translate\""), "{body}");
    }

    #[test]
    fn every_ending_but_completed_says_why() {
        let endings = [
            Ending::ClientGone,
            Ending::Upstream(UpstreamError::Cut("x".into())),
            Ending::Rejected("x".into()),
            Ending::Interrupted,
            Ending::Dropped,
        ];
        for ending in endings {
            let (outcome, message) = ending.outcome();
            assert!(outcome != Outcome::Completed && message.is_some(), "{ending:?}");
        }
        assert_eq!(Ending::Completed.outcome(), (Outcome::Completed, None));
    }
}
