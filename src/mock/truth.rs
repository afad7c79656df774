//! The ground-truth log (`--truth-log FILE`): one JSON line per request, written when the
//! request ends, with what the mock really did: when each token left, how many tokens,
//! what the cache held. Metric tests compare a client's numbers against it.
//!
//! Times are milliseconds from the request's arrival, taken when a frame was handed to the
//! HTTP connection. Arrival is when the request's bytes reached the mock's socket: the
//! kernel's receive time of the read that completed its headers (`wire::rx_timestamp`).
//! Until this was so, arrival was the moment the mock had read the headers, and a
//! saturated one-core mock let requests wait in its socket queue unseen: a client's TTFT
//! error then included the server's queue. That moment is still in the record
//! (`read_ms`), and is the arrival when the kernel gave no time (not Linux, or the first
//! instants of the process).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TruthRecord {
    pub seq: u64,
    pub request_id: String,
    pub api: &'static str,
    pub path: String,
    pub model: Option<String>,
    pub stream: bool,
    pub status: u16,
    /// `completed`, `rejected` (invalid or refused), `error` (injected), `cut`
    /// (injected mid-stream cut) or `client_disconnected`.
    pub outcome: &'static str,
    pub arrival_unix_ms: f64,
    /// When the mock had read the request's headers, ms after arrival (the time it waited
    /// in the socket); `None` when the kernel gave no receive time and arrival is that read.
    pub read_ms: Option<f64>,
    pub prompt_tokens: usize,
    pub cached_tokens: usize,
    pub cache_written_tokens: usize,
    /// Tokens the answer was planned to have.
    pub output_tokens: usize,
    /// Tokens actually sent before the request ended.
    pub sent_tokens: usize,
    pub thinking_tokens: usize,
    pub tool_call: Option<String>,
    pub finish_reason: Option<&'static str>,
    pub stalled: bool,
    /// Time of the first output token (content, reasoning or tool arguments).
    pub ttft_ms: Option<f64>,
    /// Time of every output token, in order.
    pub token_times_ms: Vec<f64>,
    /// When the last byte of the answer was handed over (or the request ended).
    pub end_ms: f64,
    pub error: Option<String>,
}

/// When a request arrived: the moment the mock had read its headers, and the kernel's
/// receive time of the read that completed them, when the kernel stamped it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The headers read (the answer's schedule starts here).
    pub read: tokio::time::Instant,
    read_unix_ns: u64,
    kernel_unix_ns: Option<u64>,
}

/// A kernel stamp further back than this is not the request's (a clock step, a stale read).
const MAX_QUEUED: Duration = Duration::from_secs(60);

impl Arrival {
    /// The headers were read just now; `kernel_unix_ns` is the receive time of that read.
    pub(crate) fn now(kernel_unix_ns: Option<u64>) -> Self {
        let read = tokio::time::Instant::now();
        let read_unix_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Arrival { read, read_unix_ns, kernel_unix_ns }
    }

    /// How long the request waited in the socket before the mock read it, when known.
    pub(crate) fn queued(&self) -> Option<Duration> {
        let kernel = self.kernel_unix_ns?;
        let queued = Duration::from_nanos(self.read_unix_ns.checked_sub(kernel)?);
        (queued <= MAX_QUEUED).then_some(queued)
    }

    /// Where the truth's times count from: the kernel's receive time when known.
    pub(crate) fn origin(&self) -> tokio::time::Instant {
        self.queued().and_then(|q| self.read.checked_sub(q)).unwrap_or(self.read)
    }

    pub(crate) fn unix_ms(&self) -> f64 {
        let queued = self.queued().map_or(0, |q| q.as_nanos() as u64);
        (self.read_unix_ns - queued) as f64 / 1e6
    }

    /// `read_ms` of the truth record.
    pub(crate) fn read_ms(&self) -> Option<f64> {
        self.queued().map(|q| q.as_secs_f64() * 1000.0)
    }
}

/// Where truth records go; a disabled log drops them for free.
#[derive(Clone, Default)]
pub(crate) struct TruthLog {
    tx: Option<mpsc::Sender<String>>,
}

impl TruthLog {
    /// Creates `path` and writes to it from a background thread, flushing whenever the
    /// queue is empty, so a line is on disk moments after its request ended.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("cannot create truth log {}", path.display()))?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::Builder::new().name("asb-mock-truth".into()).spawn(move || {
            let mut out = BufWriter::new(file);
            while let Ok(line) = rx.recv() {
                let mut ok = out.write_all(line.as_bytes()).is_ok();
                while let Ok(more) = rx.try_recv() {
                    ok &= out.write_all(more.as_bytes()).is_ok();
                }
                if !ok || out.flush().is_err() {
                    crate::errors::print("asb mock", "writing the truth log failed; later records are lost");
                    return;
                }
            }
        })?;
        Ok(TruthLog { tx: Some(tx) })
    }

    pub(crate) fn write(&self, record: &TruthRecord) {
        if let Some(tx) = &self.tx {
            if let Ok(mut line) = serde_json::to_string(record) {
                line.push('\n');
                let _ = tx.send(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn arrival_counts_from_the_kernel_stamp_when_it_is_plausible() {
        let now = Arrival::now(None);
        assert_eq!(now.queued(), None);
        assert_eq!(now.origin(), now.read);
        assert_eq!(now.read_ms(), None);
        let read_ns = now.read_unix_ns;
        let queued = Arrival { kernel_unix_ns: Some(read_ns - 2_500_000), ..now };
        assert_eq!(queued.queued(), Some(Duration::from_micros(2500)));
        assert_eq!(queued.read - queued.origin(), Duration::from_micros(2500));
        assert_eq!(queued.read_ms(), Some(2.5));
        assert!((queued.unix_ms() - (read_ns as f64 / 1e6 - 2.5)).abs() < 1e-3);
        // A stamp after the read, or from long before, is not this request's.
        for kernel in [read_ns + 1, read_ns - 61_000_000_000] {
            let odd = Arrival { kernel_unix_ns: Some(kernel), ..now };
            assert_eq!((odd.queued(), odd.origin()), (None, now.read));
        }
    }
}
