//! Runs a plan under a load model: which sessions start when, how many are in flight, and
//! when the run stops starting new work. Each session then paces its own calls
//! ([`super::session`]); every request becomes a raw sample and every session a session
//! sample; the statistics are computed from them at the end.
//!
//! Load models ([`Load`]):
//! * `Sessions` — N slots; when a session ends the slot starts the next one (closed loop
//!   at session level). A session holds its slot through its think time, so "N sessions"
//!   never means more than N users. Without `--sessions` this is AgenticSwarmBench's
//!   `--max-concurrent` pump, with think time `none`.
//! * `SessionArrivals` — sessions start at the times of an arrival process (open loop), at
//!   most `max_sessions` at once; a session that finds no free slot waits, and that wait
//!   is schedule lag, reported.
//! * `RequestArrivals` — each request on its own at the times of an arrival process, as
//!   request-rate benchmarks do, at most `max_in_flight` at once; no think time and no
//!   dependencies between requests.
//!
//! Every request carries its intended send time (the arrival, the session's start plus
//! its offset, or the end of what it waited for plus the think time): latencies are
//! reported from the send and from that intended time, so a client or a server that falls
//! behind cannot hide it (coordinated omission).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::{mpsc, Semaphore};

use super::arrivals::Arrivals;
use super::body_template::BodyTemplate;
use super::call_graph::{self, RecordedCall, TaskTiming};
use super::capacity::early_stop::EarlyStop;
use super::connection::Connection;
use super::history::HistoryMode;
use super::pacer::Pacer;
use super::plan::Plan;
use super::results::{RequestSample, SessionSample};
use super::sample_store::{SampleStore, Samples, Sessions, StoreOptions};
use super::schedule::Execution;
use super::session;
use super::shard::Shard;
use super::target::Target;
use super::think_time::{Pace, ThinkTime};
use super::verbose::{self, Verbosity};

/// How work enters the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Load {
    Sessions { sessions: usize },
    SessionArrivals { arrivals: Arrivals, max_sessions: usize },
    RequestArrivals { arrivals: Arrivals, max_in_flight: usize },
}

impl Load {
    /// The most requests or sessions in flight at once.
    pub(crate) fn slots(&self) -> usize {
        match *self {
            Load::Sessions { sessions } => sessions,
            Load::SessionArrivals { max_sessions, .. } => max_sessions,
            Load::RequestArrivals { max_in_flight, .. } => max_in_flight,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Load::Sessions { sessions } => {
                format!(
                    "{sessions} session{} at once, closed loop (a session ends, the next starts)",
                    plural(*sessions)
                )
            }
            Load::SessionArrivals { arrivals, max_sessions } => {
                format!("sessions arrive open loop: {}, at most {max_sessions} in flight", arrivals.describe())
            }
            Load::RequestArrivals { arrivals, max_in_flight } => format!(
                "requests arrive open loop, each on its own: {}, at most {max_in_flight} in flight",
                arrivals.describe()
            ),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// How requests are sent and when the run gives up.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub load: Load,
    pub think: ThinkTime,
    /// Stop starting work after this long, then drain.
    pub duration: Option<Duration>,
    pub history: HistoryMode,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_consecutive_failures: Option<u32>,
    pub progress: bool,
    /// `-V` / `--verbose-text`: lines per request and session.
    pub verbosity: Verbosity,
    /// `--shard`: which executions and session ids are this process's.
    pub shard: Shard,
    /// `--start-at`: the clock starts at this wall time.
    pub start_at: Option<jiff::Timestamp>,
    /// Judges requests as they end and may stop the run at once (a capacity step that is
    /// clearly failing): sessions in flight are cancelled, the run is not marked aborted.
    pub watch: Option<Arc<Mutex<EarlyStop>>>,
    /// How the samples are held: whole, or spilled to disk past a count.
    pub store: StoreOptions,
}

/// What the run produced.
pub(crate) struct RunOutcome {
    pub started_at: jiff::Timestamp,
    /// Held in start order, or spilled (rows in arrival order).
    pub samples: Samples,
    pub sessions: Sessions,
    pub aborted: Option<String>,
    /// `--start-at`: how late after it the clock started, ms.
    pub started_late_ms: Option<f64>,
    /// From the run's start to the last answer's end, seconds.
    pub elapsed_s: f64,
}

/// What a session or request reports to the collector.
pub(super) enum Report {
    Request(Box<RequestSample>),
    Session(SessionSample),
}

/// State every session shares.
pub(super) struct Shared {
    pub plan: Plan,
    pub target: Target,
    pub opts: RunOptions,
    /// Per task: which calls each call waits for (back to back under think time `none`).
    pub timings: Vec<TaskTiming>,
    /// `[task][turn]`: each request's body serialized once, poisoned per execution by a
    /// splice (`None`: built from the tree, as under live history).
    pub templates: Vec<Vec<Option<BodyTemplate>>>,
    pub pacer: Pacer,
    pub started: Instant,
    pub deadline: Option<Instant>,
    next: AtomicUsize,
    next_session: AtomicU64,
    pub stop: AtomicBool,
    /// Requests written so far (the progress bar's "in flight" is this minus those done).
    pub sent: AtomicU64,
    abort_reason: Mutex<Option<String>>,
    /// The server has answered a request (with any status) in this run.
    pub answered: AtomicBool,
    connections: Mutex<Vec<Connection>>,
    free_slots: Mutex<BTreeSet<usize>>,
    /// Consecutive failures per slot.
    failures: Vec<AtomicU32>,
    /// Repetitions in the plan: a run cycling under `--duration` numbers later passes
    /// after them, so each pass is poisoned afresh.
    repetitions: u32,
}

impl Shared {
    pub(crate) fn abort(&self, why: String) {
        let mut reason = self.abort_reason.lock().unwrap_or_else(|p| p.into_inner());
        reason.get_or_insert(why);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Work may still start (not stopped, not past `--duration`).
    pub(crate) fn open(&self) -> bool {
        !self.stop.load(Ordering::SeqCst) && self.deadline.is_none_or(|d| Instant::now() < d)
    }

    /// The next execution to run: the queue once, or cycled under `--duration`.
    fn next_execution(&self) -> Option<Execution> {
        if !self.open() {
            return None;
        }
        let i = self.opts.shard.global_index(self.next.fetch_add(1, Ordering::SeqCst));
        let len = self.plan.queue.len();
        if self.deadline.is_none() || len == 0 {
            return self.plan.queue.get(i).copied();
        }
        let e = self.plan.queue[i % len];
        let pass = u32::try_from(i / len).unwrap_or(u32::MAX);
        Some(Execution { task: e.task, execution: e.execution.saturating_add(pass.saturating_mul(self.repetitions)) })
    }

    pub(crate) fn session_id(&self) -> u64 {
        self.opts.shard.session_id(self.next_session.fetch_add(1, Ordering::Relaxed))
    }

    /// An idle connection to the target, or a new one (opened by its first request, and
    /// timed apart from it as `connect_ms`).
    pub(crate) fn checkout(&self) -> Result<Connection> {
        if let Some(c) = self.connections.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        Connection::new(&self.target.url)
    }

    pub(crate) fn checkin(&self, conn: Connection) {
        self.connections.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    }

    fn take_slot(&self) -> usize {
        let mut free = self.free_slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = free.iter().next().copied().unwrap_or(0);
        free.remove(&slot);
        slot
    }

    fn give_slot(&self, slot: usize) {
        self.free_slots.lock().unwrap_or_else(|p| p.into_inner()).insert(slot);
    }

    /// Counts a request's outcome against its slot; stops the run at
    /// `--max-consecutive-failures`.
    pub(crate) fn count_outcome(&self, slot: usize, sample: &RequestSample) {
        let Some(counter) = self.failures.get(slot) else { return };
        if sample.ok {
            counter.store(0, Ordering::Relaxed);
            return;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(limit) = self.opts.max_consecutive_failures.filter(|&l| n >= l) {
            let last = sample.error.clone().unwrap_or_else(|| "no output".into());
            self.abort(format!("slot {slot} failed {limit} requests in a row; last error: {last}"));
        }
    }

    pub(crate) fn ms_since_start(&self, t: Instant) -> f64 {
        if t >= self.started {
            (t - self.started).as_secs_f64() * 1000.0
        } else {
            -((self.started - t).as_secs_f64() * 1000.0)
        }
    }
}

/// Per task, when each call may go: the recording's happened-before graph, or one after
/// another under think time `none` (and for tasks without recorded times).
pub(super) fn timings(plan: &Plan, think: ThinkTime) -> Vec<TaskTiming> {
    plan.requests
        .iter()
        .zip(&plan.scenario.tasks)
        .map(|(planned, task)| {
            let calls: Vec<RecordedCall<'_>> = task
                .entries
                .iter()
                .zip(planned)
                .map(|(e, p)| RecordedCall {
                    span_ms: if think.pace == Pace::BackToBack { None } else { e.recorded_span_ms },
                    thread: &p.thread,
                })
                .collect();
            call_graph::task_timing(&calls)
        })
        .collect()
}

/// Each request's body template; none under live history, whose bodies need the answers.
fn templates(plan: &Plan, history: HistoryMode) -> Vec<Vec<Option<BodyTemplate>>> {
    plan.requests
        .iter()
        .map(|task| {
            task.iter()
                .map(|r| {
                    (history != HistoryMode::Live)
                        .then(|| BodyTemplate::new(&r.built.body, plan.api, r.poison_from))
                        .flatten()
                })
                .collect()
        })
        .collect()
}

pub(crate) async fn execute(plan: Plan, target: Target, opts: RunOptions) -> Result<RunOutcome> {
    let slots = opts.load.slots().max(1);
    let total = opts.duration.is_none().then(|| plan.scheduled_requests() as u64);
    let verbosity = opts.verbosity;
    let progress = Progress::new(total, opts.duration, opts.progress && verbosity != Verbosity::Text);
    // Connections are opened before the clock starts, so the first requests do not queue
    // behind handshakes (a failure shows up on the first request that uses one).
    let preopen = match opts.load {
        Load::Sessions { .. } => slots.min(plan.queue.len().max(1)),
        _ => slots.min(256),
    };
    let mut conns = Vec::with_capacity(preopen);
    for _ in 0..preopen {
        conns.push(Connection::new(&target.url)?);
    }
    futures_util::future::join_all(conns.iter_mut().map(|c| c.ready())).await;
    let repetitions = plan.queue.iter().map(|e| e.execution + 1).max().unwrap_or(1);
    let timings = timings(&plan, opts.think);
    let started_late_ms = match opts.start_at {
        Some(at) => Some(wait_until(at).await),
        None => None,
    };
    let templates = templates(&plan, opts.history);
    let started_at = jiff::Timestamp::now();
    let started = Instant::now();
    let shared = Arc::new(Shared {
        timings,
        templates,
        pacer: Pacer::start()?,
        started,
        deadline: opts.duration.map(|d| started + d),
        plan,
        target,
        opts,
        next: AtomicUsize::new(0),
        next_session: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        abort_reason: Mutex::new(None),
        answered: AtomicBool::new(false),
        connections: Mutex::new(conns),
        free_slots: Mutex::new((0..slots).collect()),
        failures: (0..slots).map(|_| AtomicU32::new(0)).collect(),
        repetitions,
    });
    let (tx, rx) = mpsc::unbounded_channel::<Report>();
    let dispatcher = tokio::spawn(dispatch(shared.clone(), tx));
    let signals = crate::signals::StopSignals::new()?;
    // On a worker, not on the thread that blocks on the run: a report then wakes no other
    // thread (each such wake was a context switch per request).
    let collector = tokio::spawn(collect(shared.clone(), rx, signals, progress, total, dispatcher));
    let (mut samples, mut sessions) =
        collector.await.map_err(|e| anyhow::anyhow!("the run's collector failed: {e}"))?;
    if let Samples::Held(held) = &mut samples {
        held.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    }
    if let Sessions::Held(held) = &mut sessions {
        held.sort_by(|a, b| a.due_ms.total_cmp(&b.due_ms));
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let aborted = shared.abort_reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(RunOutcome { started_at, samples, sessions, aborted, elapsed_s, started_late_ms })
}

/// Sleeps until the wall clock reads `at` (`--start-at`); returns how late after it the
/// wait ended, in ms (negative never: a time already past returns at once with its lag).
async fn wait_until(at: jiff::Timestamp) -> f64 {
    let ahead = at.duration_since(jiff::Timestamp::now());
    if let Ok(wait) = Duration::try_from(ahead) {
        tokio::time::sleep(wait).await;
    }
    let late = jiff::Timestamp::now().duration_since(at);
    late.as_secs_f64() * 1000.0
}

/// Gathers what sessions report until they have all ended (or a signal stops the run),
/// then waits for the dispatcher. Samples go to a [`SampleStore`]: held, or past its count
/// spilled to disk with a compact row each kept (a signal still ends in a full report).
async fn collect(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Report>,
    mut signals: crate::signals::StopSignals,
    progress: Progress,
    total: Option<u64>,
    dispatcher: tokio::task::JoinHandle<()>,
) -> (Samples, Sessions) {
    let mut samples = SampleStore::new(shared.opts.store.clone(), total);
    let keep = |samples: &mut SampleStore, s: RequestSample| {
        if let Some(why) = samples.push(s) {
            shared.abort(why);
        }
    };
    let watch = shared.opts.watch.clone();
    let verbosity = shared.opts.verbosity;
    let interrupted = loop {
        tokio::select! {
            report = rx.recv() => match report {
                Some(Report::Request(s)) => {
                    progress.done(&s, shared.started, shared.sent.load(Ordering::Relaxed));
                    if verbosity != Verbosity::Bar {
                        progress.line(&verbose::request_line(&s));
                    }
                    let stop = watch.as_ref().and_then(|w| w.lock().unwrap_or_else(|p| p.into_inner()).observe(&s));
                    keep(&mut samples, *s);
                    if stop.is_some() {
                        break Some(None);
                    }
                }
                Some(Report::Session(s)) => {
                    if verbosity == Verbosity::Text {
                        progress.line(&verbose::session_line(&s));
                    }
                    if let Some(why) = samples.push_session(s) {
                        shared.abort(why);
                    }
                }
                None => break None,
            },
            signal = signals.next() => break Some(Some(signal)),
        }
    };
    if let Some(signal) = interrupted {
        match signal {
            Some(signal) => shared.abort(format!("interrupted by {signal}; requests in flight were not measured")),
            None => shared.stop.store(true, Ordering::SeqCst),
        }
        dispatcher.abort();
        while let Ok(report) = rx.try_recv() {
            match report {
                Report::Request(s) => keep(&mut samples, *s),
                Report::Session(s) => {
                    if let Some(why) = samples.push_session(s) {
                        shared.abort(why);
                    }
                }
            }
        }
    }
    let _ = dispatcher.await;
    progress.finish();
    samples.finish()
}

/// Open-loop work is started this long before it is due, so its body is built (poisoned,
/// serialized) before its time, not after it. This wait is on tokio's timer (1 ms ticks
/// are precise enough for it); the send itself waits on the pacer.
const LEAD: Duration = Duration::from_millis(20);

/// Starts sessions (or requests) as the load model says, and returns when all of them
/// have ended. Sessions run as tasks of a [`tokio::task::JoinSet`], so an interrupt that
/// aborts the dispatcher aborts them too.
async fn dispatch(shared: Arc<Shared>, tx: mpsc::UnboundedSender<Report>) {
    let mut running = tokio::task::JoinSet::new();
    match shared.opts.load {
        Load::Sessions { sessions } => {
            for _ in 0..sessions.max(1) {
                let (shared, tx) = (shared.clone(), tx.clone());
                running.spawn(async move {
                    let slot = shared.take_slot();
                    while let Some(execution) = shared.next_execution() {
                        let id = shared.session_id();
                        session::run(&shared, execution, slot, id, Instant::now(), &tx).await;
                    }
                });
            }
        }
        Load::SessionArrivals { arrivals, max_sessions } => {
            let permits = Arc::new(Semaphore::new(max_sessions.max(1)));
            for offset in arrivals.offsets() {
                let due = shared.started + Duration::from_secs_f64(offset);
                tokio::time::sleep_until(due.checked_sub(LEAD).unwrap_or(due).into()).await;
                let Some(execution) = shared.next_execution() else { break };
                let (shared, tx, permits) = (shared.clone(), tx.clone(), permits.clone());
                running.spawn(async move {
                    // Waiting here for a free slot past `due` is schedule lag, reported.
                    let Ok(_permit) = permits.acquire_owned().await else { return };
                    let slot = shared.take_slot();
                    let id = shared.session_id();
                    session::run(&shared, execution, slot, id, due, &tx).await;
                    shared.give_slot(slot);
                });
                while running.try_join_next().is_some() {}
            }
        }
        Load::RequestArrivals { arrivals, max_in_flight } => {
            let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
            let mut offsets = arrivals.offsets();
            'executions: while let Some(execution) = shared.next_execution() {
                for turn in 0..shared.plan.requests[execution.task].len() {
                    let Some(offset) = offsets.next() else { break 'executions };
                    let due = shared.started + Duration::from_secs_f64(offset);
                    tokio::time::sleep_until(due.checked_sub(LEAD).unwrap_or(due).into()).await;
                    if !shared.open() {
                        break 'executions;
                    }
                    let (shared, tx, permits) = (shared.clone(), tx.clone(), permits.clone());
                    running.spawn(async move {
                        let Ok(_permit) = permits.acquire_owned().await else { return };
                        let slot = shared.take_slot();
                        let id = shared.session_id();
                        session::run_one(&shared, execution, turn, slot, id, due, &tx).await;
                        shared.give_slot(slot);
                    });
                    while running.try_join_next().is_some() {}
                }
            }
        }
    }
    drop(tx);
    while running.join_next().await.is_some() {}
}

/// The progress bar on a terminal; a status line every 10 s otherwise (CI logs).
struct Progress {
    bar: ProgressBar,
    state: Mutex<ProgressState>,
    terminal: bool,
    visible: bool,
    /// The bar counts seconds of `--duration`, not requests.
    by_time: bool,
}

#[derive(Default)]
struct ProgressState {
    sent: u64,
    done: u64,
    errors: u64,
    tokens: u64,
    recent_ttft_ms: std::collections::VecDeque<f64>,
    last_line: Option<Instant>,
    /// When the bar's message was last composed.
    last_message: Option<Instant>,
}

/// The bar's message (a sort of the last 100 TTFTs and a format) is composed at most this
/// often, not per request: the bar draws every 200 ms, and per request it cost more CPU
/// than sending the request's body (`BENCHMARKS.md`, "CPU per request").
const MESSAGE_EVERY: Duration = Duration::from_millis(100);

impl Progress {
    fn new(total: Option<u64>, duration: Option<Duration>, visible: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = match (total, duration) {
            (Some(n), _) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::hidden()),
            (None, Some(d)) => ProgressBar::with_draw_target(Some(d.as_secs().max(1)), ProgressDrawTarget::hidden()),
            (None, None) => ProgressBar::hidden(),
        };
        let template = match total {
            Some(_) => "{wide_bar} {pos}/{len} requests | {msg} | {elapsed} (ETA {eta})",
            None => "{wide_bar} {pos}/{len} s | {msg}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        if visible && terminal {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Progress { bar, state: Mutex::new(ProgressState::default()), terminal, visible, by_time: total.is_none() }
    }

    fn done(&self, s: &RequestSample, started: Instant, sent: u64) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.sent = sent;
        st.done += 1;
        st.errors += u64::from(!s.ok);
        if s.ok {
            st.tokens += s.completion_tokens;
            if let Some(t) = s.ttft_ms {
                st.recent_ttft_ms.push_back(t);
                if st.recent_ttft_ms.len() > 100 {
                    st.recent_ttft_ms.pop_front();
                }
            }
        }
        let line_due =
            self.visible && !self.terminal && st.last_line.is_none_or(|t| t.elapsed() >= Duration::from_secs(10));
        let message_due = self.visible && self.terminal && st.last_message.is_none_or(|t| t.elapsed() >= MESSAGE_EVERY);
        if !line_due && !message_due {
            return;
        }
        st.last_message = Some(Instant::now());
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        let mut recent: Vec<f64> = st.recent_ttft_ms.iter().copied().collect();
        recent.sort_by(f64::total_cmp);
        let ttft = recent.get(recent.len() / 2).map_or("-".into(), |t| format!("{t:.0} ms"));
        let message = format!(
            "in flight {} | errors {} | TTFT p50 (last 100) {ttft} | {:.0} output tok/s",
            st.sent.saturating_sub(st.done),
            st.errors,
            st.tokens as f64 / secs
        );
        self.bar.set_position(if self.by_time { secs as u64 } else { st.done });
        self.bar.set_message(message.clone());
        if line_due {
            st.last_line = Some(Instant::now());
            eprintln!("asb replay: {:.0} s, {} requests done | {message}", secs, st.done);
        }
    }

    /// A line of its own: above the bar on a terminal, else straight to stderr.
    fn line(&self, text: &str) {
        if self.visible && self.terminal {
            self.bar.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
