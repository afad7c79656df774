//! Our clock against the server's: llama.cpp sends its own `timings` with each answer
//! (the last stream chunk, or the JSON body): prompt and decode time as the server
//! measured them. Kept per request beside our numbers, they give an outside check on every
//! number we report:
//!
//! * client TTFT − server `prompt_ms`: network, queueing and the client's own cost
//!   (never negative if both clocks are right);
//! * our decode rate vs the server's `predicted_per_second`.
//!
//! Cost: a `memchr` search for `"timings"` in each event's data; only the event that has
//! it is parsed again.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::stats::Distribution;

/// llama.cpp's `timings` of one answer (fields it did not send are absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ServerTimings {
    /// Prompt tokens taken from the cache, and evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_n: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_n: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_per_token_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_n: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_per_token_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_per_second: Option<f64>,
}

impl ServerTimings {
    /// From an answer object (a chunk or a body) that carries `timings`.
    pub(crate) fn of_answer(answer: &Value) -> Option<Self> {
        let t = answer.get("timings")?.as_object()?;
        let f = |k: &str| t.get(k).and_then(Value::as_f64).filter(|v| v.is_finite() && *v >= 0.0);
        let n = |k: &str| t.get(k).and_then(Value::as_u64);
        let timings = ServerTimings {
            cache_n: n("cache_n"),
            prompt_n: n("prompt_n"),
            prompt_ms: f("prompt_ms"),
            prompt_per_token_ms: f("prompt_per_token_ms"),
            predicted_n: n("predicted_n"),
            predicted_ms: f("predicted_ms"),
            predicted_per_token_ms: f("predicted_per_token_ms"),
            predicted_per_second: f("predicted_per_second"),
        };
        (timings != ServerTimings::default()).then_some(timings)
    }

    /// From one stream event's data, when it carries `timings` (the searcher is built once:
    /// building it per event was 0.6 % of a 10,000-session replay's CPU).
    pub(crate) fn of_event(data: &str) -> Option<Self> {
        static TIMINGS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"timings\""));
        TIMINGS.find(data.as_bytes())?;
        Self::of_answer(&serde_json::from_str(data).ok()?)
    }
}

/// Our clock against the server's, over the requests that carried `timings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ClockCheck {
    pub requests: usize,
    /// ttft_ms − timings.prompt_ms.
    pub ttft_minus_server_prompt_ms: Option<Distribution>,
    /// Requests whose TTFT was below the server's prompt time (a clock or a reading is wrong).
    pub ttft_below_server_prompt: usize,
    /// Ours: decode_tok_per_s; the server's: timings.predicted_per_second.
    pub client_decode_tok_per_s: Option<Distribution>,
    pub server_decode_tok_per_s: Option<Distribution>,
    /// p50 of ours / p50 of the server's.
    pub decode_ratio_p50: Option<f64>,
}

impl ClockCheck {
    /// `None` when no request carried server timings.
    pub(crate) fn of<S: crate::replay::sample_row::Sample>(requests: &[S]) -> Option<Self> {
        let timed: Vec<&S> = requests.iter().filter(|r| r.ok() && r.server_timings().is_some()).collect();
        if timed.is_empty() {
            return None;
        }
        let gaps: Vec<f64> = timed.iter().filter_map(|r| Some(r.ttft_ms()? - r.server_timings()?.prompt_ms?)).collect();
        let client = Distribution::of(timed.iter().filter_map(|r| r.decode_tok_per_s()).collect::<Vec<f64>>());
        let server = Distribution::of(
            timed
                .iter()
                .filter_map(|r| r.server_timings()?.predicted_per_second)
                .filter(|v| *v > 0.0)
                .collect::<Vec<f64>>(),
        );
        Some(ClockCheck {
            requests: timed.len(),
            ttft_below_server_prompt: gaps.iter().filter(|g| **g < 0.0).count(),
            ttft_minus_server_prompt_ms: Distribution::of(gaps),
            decode_ratio_p50: match (&client, &server) {
                (Some(c), Some(s)) if s.p50 > 0.0 => Some(c.p50 / s.p50),
                _ => None,
            },
            client_decode_tok_per_s: client,
            server_decode_tok_per_s: server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::results::RequestSample;

    #[test]
    fn reads_llama_cpp_s_timings_from_the_last_chunk_only() {
        let chunk = r#"{"choices":[],"usage":{"prompt_tokens":36},"timings":{"cache_n":0,"prompt_n":36,"prompt_ms":964.3,"prompt_per_token_ms":26.7,"predicted_n":8,"predicted_ms":482.5,"predicted_per_token_ms":68.9,"predicted_per_second":14.5}}"#;
        let t = ServerTimings::of_event(chunk).unwrap();
        assert_eq!((t.prompt_n, t.prompt_ms, t.predicted_per_second), (Some(36), Some(964.3), Some(14.5)));
        assert!(ServerTimings::of_event(r#"{"choices":[{"delta":{"content":"timings"}}]}"#).is_none());
        assert!(ServerTimings::of_event(r#"{"timings":"x"}"#).is_none());
    }

    #[test]
    fn clock_check_over_requests() {
        let req = |ttft: f64, prompt_ms: f64, ours: f64, theirs: f64| RequestSample {
            ok: true,
            ttft_ms: Some(ttft),
            decode_tok_per_s: Some(ours),
            server_timings: Some(ServerTimings {
                prompt_ms: Some(prompt_ms),
                predicted_per_second: Some(theirs),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = ClockCheck::of(&[req(100.0, 90.0, 20.0, 20.0), req(50.0, 60.0, 30.0, 40.0), RequestSample::default()])
            .unwrap();
        assert_eq!((c.requests, c.ttft_below_server_prompt), (2, 1));
        assert_eq!(c.ttft_minus_server_prompt_ms.unwrap().max, 10.0);
        assert!((c.decode_ratio_p50.unwrap() - 25.0 / 30.0).abs() < 1e-9);
        assert!(ClockCheck::of(&[RequestSample::default()]).is_none());
    }
}
