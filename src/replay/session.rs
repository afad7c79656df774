//! One session: the calls of one execution of a task, each sent when the calls it waited
//! for in the recording have ended here plus its think time ([`super::call_graph`],
//! [`super::think_time`]), or at its recorded offset (`timestamps`). Calls of threads
//! that overlapped in the recording (sub-agents) are in flight together, each on a
//! connection of its own from the shared pool; all of them are driven by the session's
//! one task, so a session costs one task however many threads it has.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, watch};

use super::history::{message_count, HistoryMode, LiveHistory};
use super::measure::{self, Placement};
use super::poison::{execution_mask, MASK_BITS};
use super::results::SessionSample;
use super::retry::send_with_retries;
use super::run::{Report, Shared};
use super::schedule::Execution;
use super::think_time::Pace;

/// When a call went and what it waited for.
struct Sent {
    /// The first send, ms from the run's start.
    start_ms: f64,
    ok: bool,
    /// Server usage, when it reported the prompt.
    prompt_tokens: Option<u64>,
    cached_tokens: Option<u64>,
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
    let ends: Vec<watch::Sender<CallEnd>> = (0..calls).map(|_| watch::channel(CallEnd::Pending).0).collect();
    let live = Mutex::new(LiveHistory::default());
    let ctx = Ctx { shared, execution, slot, id, due, ends: &ends, live: &live, tx, mask: OnceLock::new() };
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
    let ctx = Ctx { shared, execution, slot, id, due, ends: &[], live: &live, tx, mask: OnceLock::new() };
    let prepared = ctx.prepare(turn);
    let _ = ctx.send(turn, prepared, due, None).await;
}

struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    execution: Execution,
    slot: usize,
    id: u64,
    /// The session's intended start.
    due: Instant,
    /// How each call ended: what waits for a call that is not made is not made either.
    ends: &'a [watch::Sender<CallEnd>],
    live: &'a Mutex<LiveHistory>,
    tx: &'a mpsc::UnboundedSender<Report>,
    /// The execution's poison mask, drawn once for all its calls.
    mask: OnceLock<[bool; MASK_BITS]>,
}

/// Calls in `timestamps` mode have their body built this long before their time.
const PREPARE_AHEAD: Duration = Duration::from_millis(50);

/// A request body ready to go.
struct Prepared {
    /// The tree, when it was built as one (live history, or a body without a template).
    body: Option<serde_json::Value>,
    bytes: Bytes,
    /// Messages in it, for live history's bookkeeping.
    messages: usize,
}

/// Where a call of the session stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CallEnd {
    Pending,
    /// It has been written; its answer is on its way.
    InFlight,
    /// Its answer ended at this time.
    Ended(Instant),
    /// It was not made (the run stopped, or what it waited for was not made).
    NotMade,
}

impl Ctx<'_> {
    /// Call `i`, and its end for what waits on it: the time its answer ended, or "not made".
    async fn call(&self, i: usize) -> Option<Sent> {
        let sent = self.wait_and_send(i).await;
        if sent.is_none() {
            self.ends[i].send_replace(CallEnd::NotMade);
        }
        sent
    }

    /// Waits for what call `i` waited for in the recording, then for its think time, and
    /// sends it.
    ///
    /// Its body is built ahead, so the time that takes (a poisoned copy of a prompt of
    /// hundreds of KB, serialized) is not schedule lag: once what it waits for is in flight
    /// (one body per thread waits at a time), or shortly before its offset in `timestamps`
    /// mode. Under live history the body needs the previous answer, and is built after it.
    async fn wait_and_send(&self, i: usize) -> Option<Sent> {
        let shared = self.shared;
        let timing = &shared.timings[self.execution.task].calls[i];
        let think = shared.opts.think;
        let session_offset = |ms: f64| self.due + Duration::from_secs_f64(think.offset_ms(ms) / 1000.0);
        let mut prepared = None;
        if shared.opts.history != HistoryMode::Live {
            if think.pace == Pace::Timestamps {
                let at = session_offset(timing.offset_ms).checked_sub(PREPARE_AHEAD);
                if let Some(at) = at.filter(|&at| at > Instant::now()) {
                    tokio::time::sleep_until(at.into()).await;
                }
            } else {
                for after in &timing.after {
                    self.started_of(after.call).await?;
                }
            }
            prepared = Some(self.prepare(i));
        }
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
        let prepared = prepared.unwrap_or_else(|| self.prepare(i));
        let mut sent = self.send(i, prepared, due, waited.map(|w| w.0)).await?;
        sent.think_scheduled_ms = waited.map(|w| w.1);
        Some(sent)
    }

    /// When call `p`'s answer ended here; `None` if it was never made.
    async fn end_of(&self, p: usize) -> Option<Instant> {
        let mut rx = self.ends.get(p)?.subscribe();
        let end = *rx.wait_for(|e| !matches!(e, CallEnd::Pending | CallEnd::InFlight)).await.ok()?;
        match end {
            CallEnd::Ended(t) => Some(t),
            CallEnd::Pending | CallEnd::InFlight | CallEnd::NotMade => None,
        }
    }

    /// Call `p` has been written (or ended); `None` if it was never made.
    async fn started_of(&self, p: usize) -> Option<()> {
        let mut rx = self.ends.get(p)?.subscribe();
        let state = *rx.wait_for(|e| *e != CallEnd::Pending).await.ok()?;
        (state != CallEnd::NotMade).then_some(())
    }

    /// Turn `turn`'s body as it will be sent: poisoned by the cache mode, live history
    /// applied, serialized. Without live history it is spliced from the request's
    /// template ([`super::body_template`]): the same bytes, without building a tree.
    fn prepare(&self, turn: usize) -> Prepared {
        let shared = self.shared;
        let (task, execution) = (self.execution.task, self.execution.execution);
        let planned = &shared.plan.requests[task][turn];
        let live = shared.opts.history == HistoryMode::Live;
        if let Some(template) = shared.templates.get(task).and_then(|t| t.get(turn)).and_then(Option::as_ref) {
            if !live {
                let mask = match planned.poison_from {
                    Some(_) => {
                        self.mask.get_or_init(|| execution_mask(&shared.plan.scenario.tasks[task].id, execution))
                    }
                    None => &[false; MASK_BITS],
                };
                return Prepared { body: None, bytes: template.render(mask), messages: 0 };
            }
        }
        let (mut body, _) = shared.plan.body(task, execution, turn);
        if live {
            self.live.lock().unwrap_or_else(|p| p.into_inner()).apply(shared.target.api, &planned.thread, &mut body);
        }
        let messages = message_count(&body);
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        Prepared { body: Some(body), bytes, messages }
    }

    /// Waits until `due`, sends turn `turn` and reports its sample.
    async fn send(&self, turn: usize, prepared: Prepared, due: Instant, after_end: Option<Instant>) -> Option<Sent> {
        let shared = self.shared;
        let (task, execution) = (self.execution.task, self.execution.execution);
        let planned = &shared.plan.requests[task][turn];
        let live = shared.opts.history == HistoryMode::Live;
        let Prepared { body, bytes, messages } = prepared;
        shared.pacer.until(due).await;
        if !shared.open() {
            return None;
        }
        let mut conn = match shared.checkout() {
            Ok(c) => c,
            Err(e) => {
                shared.abort(format!("cannot open a connection to {}: {e}", shared.target.url));
                return None;
            }
        };
        shared.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(tx) = self.ends.get(turn) {
            tx.send_replace(CallEnd::InFlight);
        }
        let sent = send_with_retries(shared, &mut conn, body, bytes, &planned.built.headers).await;
        let end = Instant::now();
        shared.checkin(conn);
        if let Some(tx) = self.ends.get(turn) {
            tx.send_replace(CallEnd::Ended(end));
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
        let mut sample = measure::sample(&sent.obs, placement, shared.started);
        if !task_info.checks.is_empty() {
            sample.answer_text = Some(sent.obs.assembled.result.text.clone());
        }
        shared.count_outcome(self.slot, &sample);
        let think_measured_ms =
            after_end.zip(sent.first_send).map(|(end, send)| send.saturating_duration_since(end).as_secs_f64() * 1e3);
        let end_ms = shared.ms_since_start(end);
        let sent = Sent {
            start_ms: sample.first_send_ms.unwrap_or(sample.start_ms),
            ok: sample.ok,
            prompt_tokens: sample.prompt_tokens,
            cached_tokens: sample.prompt_tokens.and(sample.cached_tokens),
            think_scheduled_ms: None,
            think_measured_ms,
            end_ms,
        };
        let _ = self.tx.send(Report::Request(Box::new(sample)));
        Some(sent)
    }

    fn summary(&self, calls: usize, done: &[Sent]) -> SessionSample {
        let shared = self.shared;
        let sum = |f: fn(&Sent) -> Option<f64>| done.iter().filter_map(f).sum::<f64>();
        let prompt: u64 = done.iter().filter_map(|s| s.prompt_tokens).sum();
        let cached: u64 = done.iter().filter_map(|s| s.cached_tokens).sum();
        SessionSample {
            session: self.id,
            task_id: shared.plan.scenario.tasks[self.execution.task].id.clone(),
            execution: self.execution.execution,
            slot: self.slot,
            due_ms: shared.ms_since_start(self.due),
            start_ms: done.iter().map(|s| s.start_ms).reduce(f64::min),
            end_ms: done.iter().map(|d| d.end_ms).reduce(f64::max),
            calls,
            sent: done.len(),
            failed: done.iter().filter(|s| !s.ok).count(),
            completed: done.len() == calls,
            think_scheduled_ms: sum(|d| d.think_scheduled_ms),
            think_measured_ms: sum(|d| d.think_measured_ms),
            prompt_tokens: prompt,
            cached_tokens: cached,
            cache_hit_rate: (prompt > 0).then(|| cached as f64 / prompt as f64),
        }
    }
}
