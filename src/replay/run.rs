//! Runs a plan: J workers, each with its own connection, pop executions from the queue
//! and send their turns in order with no think time (asb's closed loop). Every request
//! becomes a raw sample; the statistics are computed from the samples at the end.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::client::{self, Observation, Outgoing};
use super::connection::Connection;
use super::history::{message_count, HistoryMode, LiveHistory};
use super::measure::{self, Placement};
use super::plan::Plan;
use super::results::RequestSample;
use super::target::Target;

/// How requests are sent and when the run gives up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub workers: usize,
    pub history: HistoryMode,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_consecutive_failures: Option<u32>,
    pub progress: bool,
}

/// What the workers produced.
pub struct RunOutcome {
    pub started_at: jiff::Timestamp,
    /// In start order.
    pub samples: Vec<RequestSample>,
    pub aborted: Option<String>,
}

struct Shared {
    plan: Plan,
    target: Target,
    opts: RunOptions,
    next: AtomicUsize,
    stop: AtomicBool,
    abort_reason: Mutex<Option<String>>,
    started: Instant,
    /// The server has answered a request (with any status) in this run.
    answered: AtomicBool,
}

impl Shared {
    fn abort(&self, why: String) {
        let mut reason = self.abort_reason.lock().unwrap_or_else(|p| p.into_inner());
        reason.get_or_insert(why);
        self.stop.store(true, Ordering::SeqCst);
    }
}

pub async fn execute(plan: Plan, target: Target, opts: RunOptions) -> Result<RunOutcome> {
    let total = plan.scheduled_requests();
    let workers = opts.workers.clamp(1, plan.queue.len().max(1));
    let progress = progress_bar(total as u64, opts.progress);
    // Every worker's connection is opened before the clock starts, so the first requests
    // do not queue behind J handshakes (a failure shows up on the worker's first request).
    let mut conns = Vec::with_capacity(workers);
    for _ in 0..workers {
        conns.push(Connection::new(&target.url)?);
    }
    futures_util::future::join_all(conns.iter_mut().map(|c| c.ready())).await;
    let started_at = jiff::Timestamp::now();
    let shared = Arc::new(Shared {
        plan,
        target,
        opts,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        abort_reason: Mutex::new(None),
        answered: AtomicBool::new(false),
        started: Instant::now(),
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<RequestSample>();
    let mut handles = Vec::new();
    for (slot, conn) in conns.into_iter().enumerate() {
        handles.push(tokio::spawn(worker(shared.clone(), slot, conn, tx.clone())));
    }
    drop(tx);

    let mut samples = Vec::with_capacity(total);
    let (mut errors, mut tokens) = (0usize, 0u64);
    let mut signals = crate::signals::StopSignals::new()?;
    let interrupted = loop {
        tokio::select! {
            sample = rx.recv() => match sample {
                Some(s) => {
                    errors += usize::from(!s.ok);
                    tokens += if s.ok { s.completion_tokens } else { 0 };
                    let secs = shared.started.elapsed().as_secs_f64().max(1e-3);
                    progress.set_message(format!("errors {errors} | {:.0} output tok/s", tokens as f64 / secs));
                    progress.inc(1);
                    samples.push(s);
                }
                None => break None,
            },
            signal = signals.next() => break Some(signal),
        }
    };
    if let Some(signal) = interrupted {
        shared.abort(format!("interrupted by {signal}; requests in flight were not measured"));
        for h in &handles {
            h.abort();
        }
        while let Ok(s) = rx.try_recv() {
            samples.push(s);
        }
    }
    for h in handles {
        let _ = h.await;
    }
    progress.finish_and_clear();
    samples.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let aborted = shared.abort_reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(RunOutcome { started_at, samples, aborted })
}

fn progress_bar(total: u64, visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} requests | {msg} | {elapsed_precise}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// One worker: pops executions until the queue is empty or the run stops.
async fn worker(shared: Arc<Shared>, slot: usize, mut conn: Connection, tx: mpsc::UnboundedSender<RequestSample>) {
    let mut consecutive_failures = 0u32;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let i = shared.next.fetch_add(1, Ordering::SeqCst);
        let Some(&execution) = shared.plan.queue.get(i) else {
            return;
        };
        let task = &shared.plan.scenario.tasks[execution.task];
        let mut live = LiveHistory::default();
        for (turn, entry) in task.entries.iter().enumerate() {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let scheduled_ms = shared.started.elapsed().as_secs_f64() * 1000.0;
            let (mut body, _) = shared.plan.body(execution.task, execution.execution, turn);
            let planned = &shared.plan.requests[execution.task][turn];
            if shared.opts.history == HistoryMode::Live {
                live.apply(shared.target.api, &planned.thread, &mut body);
            }
            let messages = message_count(&body);
            let (obs, attempts) = send_with_retries(&shared, &mut conn, body, &planned.built.headers).await;
            if shared.opts.history == HistoryMode::Live && obs.error.is_none() {
                live.remember(&planned.thread, messages, &obs.assembled.result.text);
            }
            let placement = Placement {
                task_id: task.id.clone(),
                execution: execution.execution,
                turn,
                seq: entry.seq,
                thread: Some(planned.thread.clone()),
                slot,
                scheduled_ms,
                attempts,
                context_tokens_estimate: planned.estimate,
            };
            let sample = measure::sample(&obs, placement, shared.started);
            if sample.ok {
                consecutive_failures = 0;
            } else {
                consecutive_failures += 1;
                if let Some(limit) = shared.opts.max_consecutive_failures.filter(|&l| consecutive_failures >= l) {
                    let last = sample.error.clone().unwrap_or_else(|| "no output".into());
                    shared.abort(format!("worker {slot} failed {limit} requests in a row; last error: {last}"));
                }
            }
            if tx.send(sample).is_err() {
                return;
            }
        }
    }
}

/// A failure no retry and no other request will mend: the run stops at once (in about a
/// second, not after every request's backoff) with the server's own words and a hint.
/// Connect errors and 404s count only while the server has answered nothing in this run
/// (a server that goes away mid-run is retried as before); refused credentials always.
fn hopeless(obs: &Observation, answered_before: bool, url: &str) -> Option<String> {
    let error = obs.error.as_deref()?;
    let model_missing = {
        let e = error.to_ascii_lowercase();
        e.contains("model") && (e.contains("not found") || e.contains("does not exist") || e.contains("not_found"))
    };
    match obs.status {
        None if !answered_before && obs.t0.is_none() => {
            Some(format!("cannot reach {url}: {error}\nhint: is the server up, and is -e/--endpoint right?"))
        }
        Some(401 | 403) => Some(format!(
            "the server refused the credentials: {error}\nhint: check -k/--api-key (or ASB_API_KEY) and --api-key-header"
        )),
        Some(400 | 404) if model_missing => {
            Some(format!("the server does not serve this model: {error}\nhint: pass -m/--model with a model it serves"))
        }
        Some(404) if !answered_before => {
            Some(format!("{url} was not found: {error}\nhint: check -e/--endpoint (its path) and --upstream-api"))
        }
        _ => None,
    }
}

/// Sends one request, retrying what may succeed on a second try: connect errors, 429 and
/// 5xx answered before any output (backoff 0.5 s × 2^(attempt−1), at most 16 s), and a
/// server that rejects `stream_options` (retried at once without it).
async fn send_with_retries(
    shared: &Shared,
    conn: &mut Connection,
    mut body: serde_json::Value,
    headers: &[(String, String)],
) -> (Observation, u32) {
    let mut attempts = 0;
    let mut retries_left = shared.opts.max_retries;
    loop {
        attempts += 1;
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        let out = Outgoing {
            url: &shared.target.url,
            api: shared.target.api,
            body: bytes,
            headers,
            auth: shared.target.auth.as_ref(),
        };
        let obs = client::send(conn, out, shared.opts.timeout).await;
        let answered_before = shared.answered.load(Ordering::SeqCst);
        if obs.status.is_some() {
            shared.answered.store(true, Ordering::SeqCst);
        }
        if let Some(why) = hopeless(&obs, answered_before, &shared.target.url) {
            shared.abort(why);
            return (obs, attempts);
        }
        if obs.error.is_none() || retries_left == 0 || shared.stop.load(Ordering::SeqCst) {
            return (obs, attempts);
        }
        if obs.rejects_stream_options {
            if let Some(obj) = body.as_object_mut().filter(|o| o.contains_key("stream_options")) {
                obj.remove("stream_options");
                retries_left -= 1;
                continue;
            }
        }
        if !obs.retryable {
            return (obs, attempts);
        }
        retries_left -= 1;
        let backoff =
            Duration::from_millis(500).saturating_mul(1 << (attempts - 1).min(5)).min(Duration::from_secs(16));
        tokio::time::sleep(backoff).await;
    }
}
