//! Wakes a request at its intended send time, to well under a millisecond.
//!
//! tokio's timer rounds every deadline up to the next millisecond tick and then waits for
//! a worker to notice, so a schedule kept with `sleep_until` alone is late by 0–2 ms per
//! request — as large as the TTFT differences a replay is meant to show, and an error
//! that grows with the request rate. Here the last stretch is kept by one thread of our
//! own: a task sleeps on tokio's timer until a few milliseconds before its time (cheap,
//! however many sessions are thinking), then hands its deadline to the pacer thread,
//! which sleeps on the OS clock (`recv_timeout`, a futex with a high-resolution timeout)
//! until 150 µs before the earliest deadline, spins the rest, and wakes the task through
//! a oneshot channel. The cost is one thread that spins at most 150 µs per deadline; the
//! precision is measured by `bench/pacing.sh` (BENCHMARKS.md).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Deadlines further away than this wait on tokio's timer first.
const COARSE_MARGIN: Duration = Duration::from_millis(3);
/// The pacer thread spins through the last stretch before a deadline.
const SPIN: Duration = Duration::from_micros(150);

struct Wake {
    at: Instant,
    seq: u64,
    tx: oneshot::Sender<()>,
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

/// A handle to the pacer thread; the thread ends when the last handle is dropped.
pub(crate) struct Pacer {
    tx: std::sync::Mutex<mpsc::Sender<(Instant, oneshot::Sender<()>)>>,
}

impl Pacer {
    pub(crate) fn start() -> std::io::Result<Pacer> {
        let (tx, rx) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::Builder::new().name("asb-pacer".into()).spawn(move || pace(rx))?;
        Ok(Pacer { tx: std::sync::Mutex::new(tx) })
    }

    /// Returns at `due` (at once if it has passed).
    pub(crate) async fn until(&self, due: Instant) {
        let now = Instant::now();
        if due <= now {
            return;
        }
        if due - now > COARSE_MARGIN {
            tokio::time::sleep_until((due - COARSE_MARGIN).into()).await;
        }
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.lock().map(|sender| sender.send((due, tx)).is_ok()).unwrap_or(false);
        if !sent || rx.await.is_err() {
            // The pacer thread is gone (it cannot be, while this handle lives): tokio's timer.
            tokio::time::sleep_until(due.into()).await;
        }
    }
}

fn pace(rx: mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    let mut heap: BinaryHeap<Reverse<Wake>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Reverse<Wake>>, (at, tx): (Instant, oneshot::Sender<()>)| {
        seq += 1;
        heap.push(Reverse(Wake { at, seq, tx }));
    };
    loop {
        let Some(next) = heap.peek().map(|w| w.0.at) else {
            match rx.recv() {
                Ok(item) => push(&mut heap, item),
                Err(_) => return,
            }
            continue;
        };
        let now = Instant::now();
        if next > now + SPIN {
            match rx.recv_timeout(next - now - SPIN) {
                Ok(item) => push(&mut heap, item),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) if heap.is_empty() => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(next - now - SPIN),
            }
            continue;
        }
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|w| w.0.at <= now) {
            if let Some(Reverse(wake)) = heap.pop() {
                let _ = wake.tx.send(());
            }
        }
        while let Ok(item) = rx.try_recv() {
            push(&mut heap, item);
        }
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
}
