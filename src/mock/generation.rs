//! Drives one answer through time: waits for each token's deadline, hands the tokens to an
//! encoder, applies an injected cut, and writes the truth record however the request ends
//! (completed, cut, or the client went away).

use std::io;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures_util::stream;
use tokio::time::Instant;

use super::metrics::{InFlight, MockMetrics};
use super::reply::{Reply, SseEncoder};
use super::timing::Schedule;
use super::truth::{TruthLog, TruthRecord};

/// Tokens that are due together are sent in one frame, at most this many.
const MAX_TOKENS_PER_FRAME: usize = 64;

pub(crate) struct Generation {
    pub reply: Reply,
    schedule: Schedule,
    /// Where the truth's times count from (the request's arrival, see `truth::Arrival`).
    arrival: Instant,
    sent: usize,
    /// Injected fault: close the connection after this many tokens.
    cut_after: Option<usize>,
    truth: TruthRecord,
    log: Arc<TruthLog>,
    ended: bool,
    /// The `/metrics` counters, and this request's place among those in flight.
    metrics: Option<(Arc<MockMetrics>, InFlight)>,
}

impl Generation {
    pub(crate) fn new(
        reply: Reply,
        schedule: Schedule,
        arrival: Instant,
        cut_after: Option<usize>,
        truth: TruthRecord,
        log: Arc<TruthLog>,
    ) -> Self {
        Generation { reply, schedule, arrival, sent: 0, cut_after, truth, log, ended: false, metrics: None }
    }

    /// Counts this generation in `/metrics` (in flight until dropped, tokens as sent).
    pub(crate) fn counted_in(mut self, metrics: Arc<MockMetrics>, in_flight: InFlight) -> Self {
        self.metrics = Some((metrics, in_flight));
        self
    }

    fn remaining(&self) -> usize {
        self.reply.answer.tokens.len() - self.sent
    }

    fn ms_since_arrival(&self) -> f64 {
        self.arrival.elapsed().as_secs_f64() * 1000.0
    }

    /// Sleeps until the next token is due; returns how many tokens (≥ 1, ≤ `max`) are due
    /// now. Only call while `remaining() > 0`.
    async fn wait_due(&mut self, max: usize) -> usize {
        let mut now = Instant::now();
        if self.schedule.next_due() > now {
            // tokio's timer has millisecond resolution and rounds up; only sleep when
            // the deadline really is ahead, never for a token that is already due.
            tokio::time::sleep_until(self.schedule.next_due()).await;
            now = Instant::now();
        }
        let limit = max.min(self.remaining());
        let mut n = 0;
        loop {
            self.schedule.advance();
            n += 1;
            if n == limit || self.schedule.next_due() > now {
                return n;
            }
        }
    }

    /// Records that `n` tokens left now.
    fn mark_sent(&mut self, n: usize) {
        let t = self.ms_since_arrival();
        self.truth.ttft_ms.get_or_insert(t);
        self.truth.token_times_ms.extend(std::iter::repeat_n(t, n));
        self.sent += n;
        if let Some((m, _)) = &self.metrics {
            m.sent(n);
        }
    }

    fn end(&mut self, outcome: &'static str) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.truth.outcome = outcome;
        self.truth.sent_tokens = self.sent;
        self.truth.end_ms = self.ms_since_arrival();
        self.log.write(&self.truth);
    }

    /// Generates the whole answer without sending anything (non-streamed requests).
    pub(crate) async fn run_to_end(&mut self) {
        while self.remaining() > 0 {
            let n = self.wait_due(usize::MAX).await;
            self.mark_sent(n);
        }
    }

    /// The non-streamed response body: `json` complete, or cut half-way when a cut was
    /// injected (the connection then closes mid-body).
    pub(crate) fn into_json_body(mut self, json: String) -> Body {
        if self.cut_after.is_none() {
            self.end("completed");
            return Body::from(json);
        }
        let mut half = json.len() / 2;
        while !json.is_char_boundary(half) {
            half -= 1;
        }
        let head = Bytes::copy_from_slice(&json.as_bytes()[..half]);
        self.end("cut");
        // States: Some(Some(head)) → send head; Some(None) → break; None → over.
        Body::from_stream(stream::unfold(Some(Some(head)), |state| async move {
            match state? {
                Some(head) => Some((Ok(head), Some(None))),
                None => {
                    tokio::task::yield_now().await;
                    Some((Err(injected_cut()), None))
                }
            }
        }))
    }

    /// The streamed response body, paced by the schedule.
    pub(crate) fn into_sse_body(self, encoder: Box<dyn SseEncoder>) -> Body {
        let state = SseState { generation: self, encoder, stage: Stage::Preamble };
        Body::from_stream(stream::unfold(state, next_frame))
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        // Dropped before the end: the client closed the connection.
        self.end("client_disconnected");
    }
}

enum Stage {
    Preamble,
    Tokens,
    Done,
}

struct SseState {
    generation: Generation,
    encoder: Box<dyn SseEncoder>,
    stage: Stage,
}

async fn next_frame(mut st: SseState) -> Option<(io::Result<Bytes>, SseState)> {
    let mut out = String::new();
    let g = &mut st.generation;
    match st.stage {
        Stage::Done => return None,
        Stage::Preamble => {
            st.encoder.preamble(&g.reply, &mut out);
            st.stage = Stage::Tokens;
        }
        Stage::Tokens => {
            if g.cut_after.is_some_and(|cut| g.sent >= cut) {
                // Let the connection flush what was already sent before it breaks:
                // hyper flushes when the body is pending, and drops buffered bytes on error.
                tokio::task::yield_now().await;
                g.end("cut");
                st.stage = Stage::Done;
                return Some((Err(injected_cut()), st));
            }
            if g.remaining() == 0 {
                st.encoder.finish(&g.reply, &mut out);
                g.end("completed");
                st.stage = Stage::Done;
            } else {
                let max = match g.cut_after {
                    Some(cut) => MAX_TOKENS_PER_FRAME.min(cut - g.sent),
                    None => MAX_TOKENS_PER_FRAME,
                };
                let n = g.wait_due(max).await;
                for i in g.sent..g.sent + n {
                    st.encoder.token(&g.reply, i, &mut out);
                }
                g.mark_sent(n);
            }
        }
    }
    Some((Ok(Bytes::from(out)), st))
}

fn injected_cut() -> io::Error {
    io::Error::other("asb mock: injected cut")
}
