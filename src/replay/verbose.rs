//! `-V/--verbose` and `--verbose-text` (AgenticSwarmBench's flags): a line per request as
//! it ends, and with `--verbose-text` a line per session as it ends and no progress bar,
//! for programs and agents that read the output line by line.

use super::results::{RequestSample, SessionSample};

/// How much the run prints while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Verbosity {
    /// The progress bar (or a status line every 10 s without a terminal).
    #[default]
    Bar,
    /// The bar, and a line per request above it.
    Requests,
    /// Plain lines only: one per request and one per session.
    Text,
}

impl Verbosity {
    pub(crate) fn of(verbose: bool, verbose_text: bool) -> Verbosity {
        match (verbose, verbose_text) {
            (_, true) => Verbosity::Text,
            (true, false) => Verbosity::Requests,
            (false, false) => Verbosity::Bar,
        }
    }
}

/// `[task:ID] [exec E] [seq S] ok: TTFT 120 ms, 64 tok in 1.31 s (49.2 tok/s)`, or the
/// request's error on one line.
pub(crate) fn request_line(s: &RequestSample) -> String {
    let at = format!("[task:{}] [exec {}] [seq {}]", s.task_id, s.execution, s.seq);
    if !s.ok {
        let error = s.error.as_deref().unwrap_or("no output");
        let first: String = error.lines().next().unwrap_or("").chars().take(200).collect();
        return format!("{at} FAILED: {first}");
    }
    let ttft = s.ttft_ms.map_or("-".into(), |t| format!("{t:.0} ms"));
    let total = s.total_ms.map_or("-".into(), |t| format!("{:.2} s", t / 1000.0));
    let decode = s.decode_tok_per_s.map_or(String::new(), |d| format!(" ({d:.1} tok/s)"));
    format!("{at} ok: TTFT {ttft}, {} tok in {total}{decode}", s.completion_tokens)
}

/// `[task:ID] [exec E] session 3 ended: 12/12 requests sent, 0 failed, 41.2 s`.
pub(crate) fn session_line(s: &SessionSample) -> String {
    let span = match (s.start_ms, s.end_ms) {
        (Some(a), Some(b)) => format!(", {:.1} s", (b - a) / 1000.0),
        _ => String::new(),
    };
    let stopped = if s.completed { "" } else { " (stopped before its end)" };
    format!(
        "[task:{}] [exec {}] session {} ended: {}/{} requests sent, {} failed{span}{stopped}",
        s.task_id, s.execution, s.session, s.sent, s.calls, s.failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_request_and_say_what_happened() {
        let ok = RequestSample {
            task_id: "fix-bug".into(),
            execution: 1,
            seq: 7,
            ok: true,
            ttft_ms: Some(120.4),
            total_ms: Some(1310.0),
            completion_tokens: 64,
            decode_tok_per_s: Some(49.23),
            ..Default::default()
        };
        assert_eq!(request_line(&ok), "[task:fix-bug] [exec 1] [seq 7] ok: TTFT 120 ms, 64 tok in 1.31 s (49.2 tok/s)");
        let failed = RequestSample { ok: false, error: Some("HTTP 500: boom\nmore".into()), ..ok };
        assert_eq!(request_line(&failed), "[task:fix-bug] [exec 1] [seq 7] FAILED: HTTP 500: boom");
        let session = SessionSample {
            session: 3,
            task_id: "fix-bug".into(),
            execution: 1,
            start_ms: Some(1000.0),
            end_ms: Some(42_200.0),
            calls: 12,
            sent: 12,
            completed: true,
            ..Default::default()
        };
        assert_eq!(
            session_line(&session),
            "[task:fix-bug] [exec 1] session 3 ended: 12/12 requests sent, 0 failed, 41.2 s"
        );
        assert_eq!(Verbosity::of(true, false), Verbosity::Requests);
        assert_eq!(Verbosity::of(false, true), Verbosity::Text);
    }
}
