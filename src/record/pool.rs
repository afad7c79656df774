//! Idle upstream connections kept for the next call, one pool per proxy thread: the one
//! rule (most recently used first, none older than [`IDLE_TIMEOUT`], at most [`MAX_IDLE`])
//! for both ways the proxy reaches its upstream — hyper's connections
//! ([`super::upstream`]) and the hand-written passthrough's sockets
//! ([`super::plain_upstream`]).
//!
//! A pool is locked once per call (a checkout and a release), never per frame; the lock is
//! uncontended, since a pool belongs to one thread.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An idle connection is not reused after this long (servers close theirs after 5–75 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per thread; more are closed (the oldest first).
const MAX_IDLE: usize = 256;

/// One thread's idle connections of type `C`.
pub(crate) struct IdlePool<C> {
    idle: Mutex<Vec<(C, Instant)>>,
}

impl<C> Default for IdlePool<C> {
    fn default() -> Self {
        IdlePool { idle: Mutex::default() }
    }
}

impl<C> IdlePool<C> {
    /// The most recently used idle connection that `fits` (goes where the call goes) and
    /// is still `open`; the stale or closed ones met on the way are dropped.
    pub(crate) fn checkout(&self, fits: impl Fn(&C) -> bool, mut open: impl FnMut(&mut C) -> bool) -> Option<C> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(at) = idle.iter().rposition(|(conn, _)| fits(conn)) {
            let (mut conn, since) = idle.swap_remove(at);
            if since.elapsed() < IDLE_TIMEOUT && open(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    /// Takes back a connection whose answer ended, for the next call.
    pub(crate) fn release(&self, conn: C) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push((conn, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_recent_open_fitting_connection_comes_first() {
        let pool = IdlePool::default();
        for conn in [("a", 1), ("b", 2), ("a", 3), ("a", 4)] {
            pool.release(conn);
        }
        let to_a = |c: &(&str, i32)| c.0 == "a";
        assert_eq!(pool.checkout(to_a, |_| true), Some(("a", 4)));
        // A closed one is dropped on the way to the next.
        assert_eq!(pool.checkout(to_a, |c| c.1 != 3), Some(("a", 1)));
        assert_eq!(pool.checkout(to_a, |_| true), None);
        assert_eq!(pool.checkout(|_| true, |_| true), Some(("b", 2)));
    }

    #[test]
    fn at_most_max_idle_are_kept_the_oldest_leaving_first() {
        let pool = IdlePool::default();
        for n in 0..=MAX_IDLE {
            pool.release(n);
        }
        let mut out = Vec::new();
        while let Some(n) = pool.checkout(|_| true, |_| true) {
            out.push(n);
        }
        assert_eq!(out.len(), MAX_IDLE);
        assert!(!out.contains(&0) && out[0] == MAX_IDLE);
    }
}
