//! Wakes a request at its intended send time, to well under a millisecond.
//!
//! tokio's timer rounds every deadline up to the next millisecond tick and then waits for
//! a worker to notice, so a schedule kept with `sleep_until` alone is late by 0–2 ms per
//! request — as large as the TTFT differences a replay is meant to show, and an error
//! that grows with the request rate. Here the last stretch is kept by one thread of our
//! own: a task sleeps on tokio's timer until a few milliseconds before its time (cheap,
//! however many sessions are thinking), then puts its deadline in the pacer's heap. The
//! pacer thread sleeps on the OS clock (a condition variable's futex with a timeout, timer
//! slack set to 1 ns) until a short spin before the earliest deadline, spins the rest, and
//! wakes every task that is due through its oneshot channel.
//!
//! Cost per request, the wake path: the pacer thread is woken only when a new deadline is
//! earlier than the one it sleeps towards (a deadline a task adds behind the earliest one
//! costs a heap push under a lock, no thread switch), and it spins only as long as the OS
//! timer is late to wake it ([`SpinSizer`]: the 90th percentile of its last 128 wakes,
//! plus 10 µs, at most 150 µs). With Linux's default 50 µs timer slack the OS wake was 80–100 µs late on
//! this VM and the fixed spin was 150 µs; with 1 ns slack it is 30–40 µs late (p50–p90),
//! so the spin shrinks to about 50 µs on a quiet box and grows on a busy one. Precision
//! and CPU are measured by `bench/pacing.sh` (BENCHMARKS.md).
//!
//! The handover: a task woken at its deadline resumed 20–30 µs after it (p50; 80 µs at
//! p99), the futex wake of the tokio worker and the switch to it — most of the schedule
//! lag left. So the pacer thread hands a deadline over a lead early (the median of recent
//! handovers plus 10 µs, 5–40 µs), and the task spins the rest on its worker: lag p50 went
//! from 20–30 µs to 2–5 µs at 1,000 and 5,000 requests/s. Tried and not kept: the pacer
//! thread at `SCHED_FIFO` (it wakes more exactly, p99 46 µs against 93, but the CFS worker
//! it wakes then resumed up to a millisecond late: lag p99 1.03–1.04 ms against 0.09).
//!
//! At high rates the spins are capped: the pacer's spin and the tasks' lead may each take
//! at most a fifth of the mean time between deadlines (measured over 100 ms). At 10,000
//! requests/s the uncapped spins took 42 % of the core (perf), which the sessions' own
//! work then queued behind; capped, asb used 54–67 % of the core instead of 69–82 %, with
//! lag p50 0.03–0.12 ms instead of 0.21–0.42 ms. At 1,000 requests/s the cap (200 µs) is
//! above the spin and changes nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Deadlines further away than this wait on tokio's timer first.
const COARSE_MARGIN: Duration = Duration::from_millis(3);
/// The spin before the OS timer's lateness has been measured.
const FIRST_SPIN: Duration = Duration::from_micros(100);
/// The spin (and the lead) is sized from this many recent wakes (handovers) …
const SPIN_WINDOW: usize = 128;
/// … as their 90th percentile lateness plus this margin …
const SPIN_MARGIN: Duration = Duration::from_micros(10);
/// … within these bounds.
const SPIN_BOUNDS: (Duration, Duration) = (Duration::from_micros(20), Duration::from_micros(150));
/// The pacer's spin and the tasks' lead may each be at most 1/`SPIN_SHARE` of the mean time
/// between deadlines: at 10,000 requests/s the 40–150 µs spins took 42 % of the one core the
/// sessions share (perf, bench/pacing.sh's 10,000 sessions), and the sessions' own work
/// queued behind them.
const SPIN_SHARE: u32 = 5;
/// The request rate (mean time between deadlines) is measured over windows this long.
const RATE_WINDOW: Duration = Duration::from_millis(100);

/// The lead before the handover time has been measured.
const FIRST_LEAD: Duration = Duration::from_micros(20);
/// The lead: the median of recent handovers plus the margin, within these bounds. Not the
/// 90th percentile: the task spins away what the lead has left when it resumes, on the
/// worker the sessions need, and at 5,000 requests/s a lead sized on the tail (up to
/// 100 µs) cost 30 % more CPU and doubled the lag p99 (longer handovers, longer leads).
const LEAD_BOUNDS: (Duration, Duration) = (Duration::from_micros(5), Duration::from_micros(40));

/// How long the pacer thread spins before a deadline: long enough to cover how late the
/// OS timer wakes it on this machine now (90 % of recent wakes), no longer, since every
/// microsecond of spin is CPU taken from the sessions on a shared core. The ceiling is the
/// fixed spin this replaced: on a box so busy that wakes are later than that, spinning
/// longer would buy little precision with CPU the sessions need.
///
/// The same sizing gives the lead: how long before a deadline the pacer thread hands it to
/// its task, to cover the handover (a futex wake of the tokio worker and a thread switch).
struct SpinSizer {
    late: Vec<Duration>,
    spin: Duration,
    bounds: (Duration, Duration),
    percentile: usize,
}

impl SpinSizer {
    fn new(first: Duration, bounds: (Duration, Duration), percentile: usize) -> SpinSizer {
        SpinSizer { late: Vec::with_capacity(SPIN_WINDOW), spin: first, bounds, percentile }
    }

    /// One wake of the OS timer (or one handover), `late` after the time asked.
    fn record(&mut self, late: Duration) {
        self.late.push(late);
        if self.late.len() >= SPIN_WINDOW {
            self.late.sort_unstable();
            let p = self.late[SPIN_WINDOW * self.percentile / 100];
            self.spin = (p + SPIN_MARGIN).clamp(self.bounds.0, self.bounds.1);
            self.late.clear();
        }
    }
}

struct Wake {
    /// When the pacer thread hands the deadline over: the deadline minus the lead.
    at: Instant,
    seq: u64,
    /// Hears when it was handed over.
    tx: oneshot::Sender<Instant>,
}

impl PartialEq for Wake {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Wake {}
impl PartialOrd for Wake {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Wake {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// What the tasks and the pacer thread share.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Wake>>,
    seq: u64,
    /// The time the pacer thread sleeps towards (`None`: it is awake, or waits for work).
    sleeping_until: Option<Instant>,
    /// The thread is awake (spinning or waking tasks): it looks at the heap again anyway.
    awake: bool,
    /// The spin now ([`SpinSizer`]).
    spin: Duration,
    /// The lead now, and its sizer (fed by the tasks, which see the handover's end).
    lead: Duration,
    lead_sizer: SpinSizer,
    /// The most either may be at the request rate now (a share of the mean time between
    /// deadlines, [`SPIN_SHARE`]).
    spin_cap: Duration,
    closed: bool,
}

impl Default for SpinSizer {
    fn default() -> Self {
        SpinSizer::new(FIRST_LEAD, LEAD_BOUNDS, 50)
    }
}

struct Inner {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A handle to the pacer thread; the thread ends when the handle is dropped.
pub(crate) struct Pacer {
    inner: Arc<Inner>,
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.inner.lock().closed = true;
        self.inner.changed.notify_one();
    }
}

impl Pacer {
    pub(crate) fn start() -> std::io::Result<Pacer> {
        let queue = Queue { spin: FIRST_SPIN, lead: FIRST_LEAD, spin_cap: SPIN_BOUNDS.1, ..Queue::default() };
        let inner = Arc::new(Inner { queue: Mutex::new(queue), changed: Condvar::new() });
        let thread_inner = inner.clone();
        std::thread::Builder::new().name("asb-pacer".into()).spawn(move || pace(&thread_inner))?;
        Ok(Pacer { inner })
    }

    /// Returns at `due` (at once if it has passed).
    ///
    /// The pacer thread hands the deadline over a lead before it, and the task spins the
    /// rest: the handover to the tokio worker (20–40 µs on this VM, p50–p90) then happens
    /// before the deadline instead of after it.
    pub(crate) async fn until(&self, due: Instant) {
        let now = Instant::now();
        if due <= now {
            return;
        }
        if due - now > COARSE_MARGIN {
            tokio::time::sleep_until((due - COARSE_MARGIN).into()).await;
        }
        match self.hand_over(due).await {
            Ok(handed_at) => {
                let resumed = Instant::now();
                self.inner.lock().record_handover(resumed.saturating_duration_since(handed_at));
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
            }
            // The pacer thread is gone (it cannot be, while this handle lives): tokio's timer.
            Err(_) => tokio::time::sleep_until(due.into()).await,
        }
    }
}

impl Queue {
    fn record_handover(&mut self, took: Duration) {
        self.lead_sizer.record(took);
        self.lead = self.lead_sizer.spin.min(self.spin_cap);
    }
}

impl Pacer {
    /// Puts `due` in the pacer thread's heap; the receiver hears a lead before `due`, with
    /// the time it was handed over.
    fn hand_over(&self, due: Instant) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        let wake_thread = {
            let mut queue = self.inner.lock();
            queue.seq += 1;
            let seq = queue.seq;
            let at = due.checked_sub(queue.lead).unwrap_or(due);
            queue.heap.push(Reverse(Wake { at, seq, tx }));
            // Woken only when this deadline comes before the one it sleeps towards.
            !queue.awake && queue.sleeping_until.is_none_or(|until| at < until + queue.spin)
        };
        if wake_thread {
            self.inner.changed.notify_one();
        }
        rx
    }
}

/// Lets the OS wake this thread at the time asked, not up to 50 µs later (Linux's
/// default timer slack); elsewhere, or if refused, the spin covers the difference.
fn exact_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only this thread.
    unsafe {
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

fn pace(inner: &Inner) {
    exact_timer_slack();
    let mut due = Vec::new();
    let mut sizer = SpinSizer::new(FIRST_SPIN, SPIN_BOUNDS, 90);
    let (mut window_start, mut handed) = (Instant::now(), 0u32);
    let mut queue = inner.lock();
    loop {
        if queue.closed {
            return;
        }
        let Some(next) = queue.heap.peek().map(|w| w.0.at) else {
            queue.sleeping_until = None;
            queue.awake = false;
            queue = inner.changed.wait(queue).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        let now = Instant::now();
        let spin = queue.spin;
        if next > now + spin {
            let target = next - spin;
            queue.sleeping_until = Some(target);
            queue.awake = false;
            let (guard, waited) = inner.changed.wait_timeout(queue, target - now).unwrap_or_else(|p| p.into_inner());
            queue = guard;
            if waited.timed_out() {
                sizer.record(Instant::now().saturating_duration_since(target));
                queue.spin = sizer.spin.min(queue.spin_cap);
            }
            continue;
        }
        queue.sleeping_until = None;
        queue.awake = true;
        drop(queue);
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        queue = inner.lock();
        let now = Instant::now();
        while queue.heap.peek().is_some_and(|w| w.0.at <= now) {
            due.extend(queue.heap.pop().map(|w| w.0.tx));
        }
        handed += due.len() as u32;
        let window = now.saturating_duration_since(window_start);
        if window >= RATE_WINDOW {
            queue.spin_cap = (window / handed.max(1) / SPIN_SHARE).min(SPIN_BOUNDS.1);
            queue.spin = sizer.spin.min(queue.spin_cap);
            queue.lead = queue.lead_sizer.spin.min(queue.spin_cap);
            (window_start, handed) = (now, 0);
        }
        // Woken outside the lock, so tasks adding deadlines do not wait for the wakes.
        drop(queue);
        for tx in due.drain(..) {
            let _ = tx.send(Instant::now());
        }
        queue = inner.lock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_in_deadline_order_never_early() {
        let pacer = std::sync::Arc::new(Pacer::start().unwrap());
        let start = Instant::now();
        let offsets_ms = [30u64, 5, 12, 1, 0, 20];
        let tasks = offsets_ms.map(|ms| {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let due = start + Duration::from_millis(ms);
                pacer.until(due).await;
                let woke = Instant::now();
                assert!(woke >= due, "woke {:?} early", due - woke);
                (woke, ms)
            })
        });
        let mut woke = Vec::new();
        for t in tasks {
            woke.push(t.await.unwrap());
        }
        woke.sort();
        assert_eq!(woke.iter().map(|w| w.1).collect::<Vec<_>>(), [0, 1, 5, 12, 20, 30]);
    }

    #[test]
    fn the_spin_covers_90_percent_of_recent_wakes_within_bounds() {
        let mut sizer = SpinSizer::new(FIRST_SPIN, SPIN_BOUNDS, 90);
        assert_eq!(sizer.spin, FIRST_SPIN);
        // 116 of 128 wakes 30 µs late or less, 12 far later: the spin is 30 + 10 µs.
        for i in 0..SPIN_WINDOW {
            sizer.record(Duration::from_micros(if i % 11 == 0 { 5_000 } else { (i % 31) as u64 }));
        }
        assert_eq!(sizer.spin, Duration::from_micros(40));
        for _ in 0..SPIN_WINDOW {
            sizer.record(Duration::ZERO);
        }
        assert_eq!(sizer.spin, SPIN_BOUNDS.0, "never below the floor");
        for _ in 0..SPIN_WINDOW {
            sizer.record(Duration::from_millis(2));
        }
        assert_eq!(sizer.spin, SPIN_BOUNDS.1, "never above the ceiling");
        // The lead: the median handover plus the margin, at most 40 µs.
        let mut lead = SpinSizer::default();
        assert_eq!(lead.spin, FIRST_LEAD);
        for i in 0..SPIN_WINDOW as u64 {
            lead.record(Duration::from_micros(if i % 2 == 0 { 15 } else { 1_000 }));
        }
        assert_eq!(lead.spin, LEAD_BOUNDS.1);
        for i in 0..SPIN_WINDOW as u64 {
            lead.record(Duration::from_micros(if i < 70 { 12 } else { 500 }));
        }
        assert_eq!(lead.spin, Duration::from_micros(22));
    }

    #[tokio::test]
    async fn an_earlier_deadline_wakes_a_thread_sleeping_towards_a_later_one() {
        let pacer = std::sync::Arc::new(Pacer::start().unwrap());
        let start = Instant::now();
        // Handed over directly (not after tokio's coarse wait): the thread sleeps towards it.
        let mut late = pacer.hand_over(start + Duration::from_millis(2_000));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let early = Instant::now() + Duration::from_millis(2);
        pacer.until(early).await;
        assert!(Instant::now() >= early);
        assert!(start.elapsed() < Duration::from_millis(1_500), "woken by the later deadline, not its own");
        assert!(late.try_recv().is_err(), "the later deadline is still pending");
    }
}
