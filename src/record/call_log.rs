//! A line per recorded call on stderr (`asb record` without `--quiet`), so a 502 or a 404
//! that the agent got shows in the proxy's terminal at once.
//!
//! The lines are printed by a thread of their own through a bounded queue: a terminal or
//! pipe that is slow or not read at all can never hold up the recording. When the queue is
//! full, lines are dropped and counted, and the count is said with the next line printed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

use crate::recording::line::{CallLine, Outcome};

/// Lines waiting to be printed beyond which new ones are dropped.
const QUEUED: usize = 1024;

#[derive(Clone)]
pub(crate) struct CallLog {
    tx: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

impl CallLog {
    /// Starts the printing thread.
    pub(crate) fn start() -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<String>(QUEUED);
        std::thread::Builder::new().name("asb-call-log".into()).spawn(move || {
            for text in rx {
                eprintln!("{text}");
            }
        })?;
        Ok(CallLog { tx, dropped: Arc::default() })
    }

    /// Queues the line of one recorded call.
    pub(crate) fn say(&self, line: &CallLine) {
        let mut text = describe(line);
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            text = format!("asb record: ({dropped} call line(s) not shown: the terminal was behind)\n{text}");
        }
        if let Err(TrySendError::Full(_)) = self.tx.try_send(text) {
            self.dropped.fetch_add(1 + dropped, Ordering::Relaxed);
        }
    }
}

/// What the terminal shows of a recorded call: seq, outcome, status, route, model, time,
/// TTFT, tokens, and the error's first 300 characters.
fn describe(line: &CallLine) -> String {
    use std::fmt::Write;
    let outcome = match line.outcome {
        Some(Outcome::Completed) | None => "ok".to_string(),
        Some(o) => serde_json::to_value(o).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
    };
    let route = line.request.as_ref().map_or(String::new(), |r| format!("{} {}", r.method, r.path));
    let mut out = format!("asb record: #{} {outcome}", line.seq);
    if let Some(status) = line.status_code {
        let _ = write!(out, " {status}");
    }
    let _ = write!(out, " {route} {}", line.model);
    if let Some(total) = line.total_time_s {
        let _ = write!(out, " {total:.2} s");
    }
    if let Some(ttft) = line.ttft_ms {
        let _ = write!(out, " (TTFT {:.2} s)", ttft / 1000.0);
    }
    if let (Some(i), Some(o)) = (line.prompt_tokens, line.completion_tokens) {
        let _ = write!(out, " {i} → {o} tok");
    }
    if let Some(error) = &line.error {
        let short: String = error.chars().take(300).collect();
        let _ = write!(out, ": {short}{}", if short.len() < error.len() { "…" } else { "" });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::HttpRequest;

    #[test]
    fn a_line_says_outcome_status_route_time_and_tokens() {
        let mut line = CallLine {
            seq: 7,
            model: "m".into(),
            outcome: Some(Outcome::Completed),
            status_code: Some(200),
            total_time_s: Some(1.5),
            ttft_ms: Some(250.0),
            prompt_tokens: Some(1200),
            completion_tokens: Some(34),
            request: Some(HttpRequest { method: "POST".into(), path: "/v1/messages".into(), ..Default::default() }),
            ..Default::default()
        };
        assert_eq!(describe(&line), "asb record: #7 ok 200 POST /v1/messages m 1.50 s (TTFT 0.25 s) 1200 → 34 tok");
        line.outcome = Some(Outcome::UpstreamError);
        line.status_code = Some(404);
        line.error = Some("x".repeat(400));
        let text = describe(&line);
        assert!(text.contains("#7 upstream_error 404") && text.ends_with("x…"), "{text}");
    }
}
