//! What the server was asked since it started or was last reset: one line per request
//! (method, path, time, which recorded `seq` answered it, or the first line of the miss
//! report), read back with `GET /__asb/requests`, as WireMock's request journal is, so a test
//! can assert on what its client sent. Bounded: only the last [`CAPACITY`] are kept.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// How many requests the journal keeps (the oldest are dropped first).
pub(crate) const CAPACITY: usize = 10_000;

/// One request as the journal shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Logged {
    pub method: String,
    pub path: String,
    /// When it arrived, RFC 3339 UTC.
    pub time: String,
    pub matched: bool,
    /// The recorded call that answered it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Why nothing recorded answered it: the miss report's first line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub miss: Option<String>,
}

impl Logged {
    pub(crate) fn new(method: &str, path: &str, outcome: Result<u64, &str>) -> Self {
        Logged {
            method: method.to_string(),
            path: path.to_string(),
            time: jiff::Timestamp::now().to_string(),
            matched: outcome.is_ok(),
            seq: outcome.ok(),
            miss: outcome.err().map(|report| report.lines().next().unwrap_or_default().to_string()),
        }
    }
}

#[derive(Default)]
pub(crate) struct Journal {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    requests: VecDeque<Logged>,
    /// Requests received but no longer kept.
    dropped: u64,
}

impl Journal {
    pub(crate) fn push(&self, logged: Logged) {
        let mut kept = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if kept.requests.len() == CAPACITY {
            kept.requests.pop_front();
            kept.dropped += 1;
        }
        kept.requests.push_back(logged);
    }

    /// Forgets every request (`POST /__asb/reset`).
    pub(crate) fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = Kept::default();
    }

    /// The body of `GET /__asb/requests`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let kept = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::json!({
            "requests": kept.requests,
            "kept": kept.requests.len(),
            "dropped": kept.dropped,
            "capacity": CAPACITY,
            "note": format!("the last {CAPACITY} requests since start or the last POST /__asb/reset are kept; \
                             `dropped` counts older ones no longer shown"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_requests_and_counts_the_dropped_ones() {
        let journal = Journal::default();
        for i in 0..CAPACITY as u64 + 2 {
            journal.push(Logged::new("POST", "/v1/messages", if i % 2 == 0 { Ok(i) } else { Err("miss\nmore") }));
        }
        let json = journal.to_json();
        assert_eq!((json["kept"].as_u64(), json["dropped"].as_u64()), (Some(CAPACITY as u64), Some(2)));
        assert_eq!(json["requests"][0]["seq"], 2);
        assert_eq!(json["requests"][1]["miss"], "miss");
        journal.clear();
        assert_eq!(journal.to_json()["kept"], 0);
    }
}
