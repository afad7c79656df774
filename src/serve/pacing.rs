//! `--pacing`: a recorded stream sent back at once, or at its recorded event times (scaled),
//! each event never before the request and never later than a day after it.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::cassette::{AnswerBody, RecordedAnswer};
use crate::wire::server::{full, BoxError, ServerBody};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pacing {
    Instant,
    /// Event times multiplied by this factor (1 = as recorded).
    Scaled(f64),
}

/// The largest `--pacing scale=X`: a thousand times slower than recorded.
const MAX_PACING_SCALE: f64 = 1000.0;

/// The longest wait for one event of a paced answer, from the request: a day. A recorded
/// event time beyond it (see `asb validate`) is sent at this time.
pub(crate) const MAX_EVENT_DELAY: Duration = Duration::from_secs(86_400);

pub(crate) fn parse_pacing(s: &str) -> Result<Pacing, String> {
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

/// The recorded answer, its stream paced as asked.
pub(crate) fn send(answer: &RecordedAnswer, pacing: Pacing) -> Response<ServerBody> {
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
