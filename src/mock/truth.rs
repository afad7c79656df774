//! The ground-truth log (`--truth-log FILE`): one JSON line per request, written when the
//! request ends, with what the mock really did: when each token left, how many tokens,
//! what the cache held. Metric tests compare a client's numbers against it.
//!
//! Times are milliseconds from the request's arrival (the moment its headers were read),
//! taken when a frame was handed to the HTTP connection.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;

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
