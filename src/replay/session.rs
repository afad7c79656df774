//! One session: the calls of one execution of a task, each sent when the calls it waited
//! for in the recording have ended here plus its think time ([`super::call_graph`],
//! [`super::think_time`]), or at its recorded offset (`timestamps`). Calls of threads
//! that overlapped in the recording (sub-agents) are in flight together, each on a
//! connection of its own from the shared pool; all of them are driven by the session's
//! one task, so a session costs one task however many threads it has.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, watch};

use super::history::{message_count, HistoryMode, LiveHistory};
use super::measure::{self, Placement};
use super::results::{RequestSample, SessionSample};
use super::retry::send_with_retries;
use super::run::{Report, Shared};
use super::schedule::Execution;
use super::think_time::Pace;

/// When a call went and what it waited for.
struct Sent {
    sample: RequestSample,
    /// The recorded think time this run applied before the call (after what it waited for).
    think_scheduled_ms: Option<f64>,
    /// The time from the end of what it waited for to its actual send.
    think_measured_ms: Option<f64>,
    end_ms: f64,
}

/// Runs one session to its end (or until the run stops starting work) and reports its
/// requests and then the session itself.
pub(super) async fn run(
    shared: &Arc<Shared>,
    execution: Execution,
    slot: usize,
    id: u64,
    due: Instant,
    tx: &mpsc::UnboundedSender<Report>,
) {
    let calls = shared.timings[execution.task].calls.len();
    let ends: Vec<watch::Sender<Option<Instant>>> = (0..calls).map(|_| watch::channel(None).0).collect();
    let live = Mutex::new(LiveHistory::default());
    let ctx = Ctx { shared, execution, slot, id, due, ends: &ends, live: &live, tx };
    let mut in_flight: FuturesUnordered<_> = (0..calls).map(|i| ctx.call(i)).collect();
    let mut done = Vec::with_capacity(calls);
    while let Some(result) = in_flight.next().await {
        done.extend(result);
    }
    let _ = tx.send(Report::Session(ctx.summary(calls, &done)));
}

/// A request on its own (`--request-rate`): due at its arrival, waits for nothing.
pub(super) async fn run_one(
    shared: &Arc<Shared>,
    execution: Execution,
    turn: usize,
    slot: usize,
    id: u64,
    due: Instant,
    tx: &mpsc::UnboundedSender<Report>,
) {
    let live = Mutex::new(LiveHistory::default());
    let ctx = Ctx { shared, execution, slot, id, due, ends: &[], live: &live, tx };
    let _ = ctx.send(turn, due, None).await;
}

struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    execution: Execution,
    slot: usize,
    id: u64,
    /// The session's intended start.
    due: Instant,
    /// When each call's answer ended (None until then; the sender is dropped unsent when
    /// the call is not made, and what waits for it is not made either).
    ends: &'a [watch::Sender<Option<Instant>>],
    live: &'a Mutex<LiveHistory>,
    tx: &'a mpsc::UnboundedSender<Report>,
}

impl Ctx<'_> {
    /// Waits for what call `i` waited for in the recording, then for its think time, and
    /// sends it.
    async fn call(&self, i: usize) -> Option<Sent> {
        let shared = self.shared;
        let timing = &shared.timings[self.execution.task].calls[i];
        let think = shared.opts.think;
        let session_offset = |ms: f64| self.due + Duration::from_secs_f64(think.offset_ms(ms) / 1000.0);
        let (due, waited) = if think.pace == Pace::Timestamps {
            // Open loop inside the session; live history still needs the thread's answer.
            let mut due = session_offset(timing.offset_ms);
            let mut waited = None;
            if let Some(p) = timing.thread_previous.filter(|_| shared.opts.history == HistoryMode::Live) {
                let end = self.end_of(p).await?;
                due = due.max(end);
                waited = Some((end, 0.0));
            }
            (due, waited)
        } else if timing.after.is_empty() {
            (session_offset(timing.offset_ms), None)
        } else {
            let mut binding: Option<(Instant, Instant, f64)> = None;
            for after in &timing.after {
                let end = self.end_of(after.call).await?;
                let gap = think.gap_ms(after.gap_ms);
                let at = end + Duration::from_secs_f64(gap / 1000.0);
                if binding.is_none_or(|(b, _, _)| at > b) {
                    binding = Some((at, end, gap));
                }
            }
            let (at, end, gap) = binding?;
            (at, Some((end, gap)))
        };
        let mut sent = self.send(i, due, waited.map(|w| w.0)).await?;
        sent.think_scheduled_ms = waited.map(|w| w.1);
        Some(sent)
    }

    /// When call `p`'s answer ended here; `None` if it was never made.
    async fn end_of(&self, p: usize) -> Option<Instant> {
        let mut rx = self.ends.get(p)?.subscribe();
        let end = rx.wait_for(Option::is_some).await.ok()?;
        *end
    }

    /// Builds turn `turn`'s body, waits until `due`, sends it and reports its sample. The
    /// body is built (poisoned, live history applied, serialized) during the think time,
    /// so the time it takes is not schedule lag.
    async fn send(&self, turn: usize, due: Instant, after_end: Option<Instant>) -> Option<Sent> {
        let shared = self.shared;
        let (task, execution) = (self.execution.task, self.execution.execution);
        let planned = &shared.plan.requests[task][turn];
        let (mut body, _) = shared.plan.body(task, execution, turn);
        let live = shared.opts.history == HistoryMode::Live;
        if live {
            self.live.lock().unwrap_or_else(|p| p.into_inner()).apply(shared.target.api, &planned.thread, &mut body);
        }
        let messages = message_count(&body);
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        if shared.open() {
            shared.pacer.until(due).await;
        }
        if !shared.open() {
            // Past `--duration` (or stopped): this call is not made. Mark it ended so the
            // calls that wait for it wake, see the run closed and return too, instead of
            // waiting forever for an end that never comes.
            if let Some(tx) = self.ends.get(turn) {
                tx.send_replace(Some(Instant::now()));
            }
            return None;
        }
        let mut conn = match shared.checkout() {
            Ok(c) => c,
            Err(e) => {
                shared.abort(format!("cannot open a connection to {}: {e}", shared.target.url));
                return None;
            }
        };
        let _ = self.tx.send(Report::Sent);
        let sent = send_with_retries(shared, &mut conn, body, bytes, &planned.built.headers).await;
        let end = Instant::now();
        shared.checkin(conn);
        if let Some(tx) = self.ends.get(turn) {
            tx.send_replace(Some(end));
        }
        if live && sent.obs.error.is_none() {
            let mut history = self.live.lock().unwrap_or_else(|p| p.into_inner());
            history.remember(&planned.thread, messages, &sent.obs.assembled.result.text);
        }
        let task_info = &shared.plan.scenario.tasks[task];
        let placement = Placement {
            task_id: task_info.id.clone(),
            execution,
            turn,
            seq: task_info.entries[turn].seq,
            thread: Some(planned.thread.clone()),
            slot: self.slot,
            session: self.id,
            scheduled_ms: shared.ms_since_start(due),
            first_send_ms: sent.first_send.map(|t| shared.ms_since_start(t)),
            attempts: sent.attempts,
            context_tokens_estimate: planned.estimate,
        };
        let sample = measure::sample(&sent.obs, placement, shared.started);
        shared.count_outcome(self.slot, &sample);
        let think_measured_ms =
            after_end.zip(sent.first_send).map(|(end, send)| send.saturating_duration_since(end).as_secs_f64() * 1e3);
        let end_ms = shared.ms_since_start(end);
        let _ = self.tx.send(Report::Request(Box::new(sample.clone())));
        Some(Sent { sample, think_scheduled_ms: None, think_measured_ms, end_ms })
    }

    fn summary(&self, calls: usize, done: &[Sent]) -> SessionSample {
        let shared = self.shared;
        let samples = || done.iter().map(|d| &d.sample);
        let sum = |f: fn(&Sent) -> Option<f64>| done.iter().filter_map(f).sum::<f64>();
        let prompt: u64 = samples().filter_map(|s| s.prompt_tokens).sum();
        let cached: u64 = samples().filter(|s| s.prompt_tokens.is_some()).filter_map(|s| s.cached_tokens).sum();
        SessionSample {
            session: self.id,
            task_id: shared.plan.scenario.tasks[self.execution.task].id.clone(),
            execution: self.execution.execution,
            slot: self.slot,
            due_ms: shared.ms_since_start(self.due),
            start_ms: samples().map(|s| s.first_send_ms.unwrap_or(s.start_ms)).reduce(f64::min),
            end_ms: done.iter().map(|d| d.end_ms).reduce(f64::max),
            calls,
            sent: done.len(),
            failed: samples().filter(|s| !s.ok).count(),
            completed: done.len() == calls,
            think_scheduled_ms: sum(|d| d.think_scheduled_ms),
            think_measured_ms: sum(|d| d.think_measured_ms),
            prompt_tokens: prompt,
            cached_tokens: cached,
            cache_hit_rate: (prompt > 0).then(|| cached as f64 / prompt as f64),
        }
    }
}
