//! *When* the mock sends each token: the timing model.
//!
//! * TTFT = base latency + uncached prompt tokens / prefill rate (+ an injected stall),
//!   measured from the moment the request arrived.
//! * After the first token, one token every 1 / decode rate seconds while at most
//!   `batch_size` streams are decoding; with more, the rate is shared:
//!   ITL = (1 / decode rate) × max(1, active streams / batch size).
//! * Every delay is multiplied by a seeded factor in [1 − jitter, 1 + jitter].
//!
//! Deadlines are absolute and chained (token k+1 is due one ITL after token k was *due*),
//! so a slow reader sees tokens arrive in a burst rather than the clock drifting, and
//! tokens that are already due are sent together instead of sleeping per token.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::config::MockConfig;

/// The longest delay the model will ever schedule (keeps `Instant` arithmetic finite).
const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

/// Number of streams currently past their first token, shared by all requests.
#[derive(Debug, Default)]
pub(crate) struct DecodeSlots(AtomicUsize);

/// Holds one decode slot for as long as it lives.
pub(crate) struct SlotGuard(Arc<DecodeSlots>);

impl DecodeSlots {
    fn enter(self: &Arc<Self>) -> SlotGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        SlotGuard(Arc::clone(self))
    }

    pub(crate) fn active(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The deadline of each output token of one request.
pub(crate) struct Schedule {
    next_due: Instant,
    itl_s: f64,
    jitter: f64,
    batch_size: usize,
    rng: Xoshiro256PlusPlus,
    slots: Arc<DecodeSlots>,
    slot: Option<SlotGuard>,
}

impl Schedule {
    /// `uncached_tokens` must be prefilled; `stall_s` is an injected extra wait.
    pub(crate) fn new(
        cfg: &MockConfig,
        arrival: Instant,
        uncached_tokens: usize,
        stall_s: f64,
        slots: Arc<DecodeSlots>,
        seed: u64,
    ) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let prefill = cfg.base_latency_s + uncached_tokens as f64 / cfg.prefill_tps;
        let ttft = prefill * jitter_factor(&mut rng, cfg.jitter) + stall_s;
        Schedule {
            next_due: arrival + secs(ttft),
            itl_s: 1.0 / cfg.decode_tps,
            jitter: cfg.jitter,
            batch_size: cfg.batch_size,
            rng,
            slots,
            slot: None,
        }
    }

    /// When the next token is due.
    pub(crate) fn next_due(&self) -> Instant {
        self.next_due
    }

    /// Marks the token that was due as generated and schedules the one after it.
    pub(crate) fn advance(&mut self) {
        if self.slot.is_none() {
            self.slot = Some(self.slots.enter());
        }
        let share = (self.slots.active() as f64 / self.batch_size as f64).max(1.0);
        let itl = self.itl_s * share * jitter_factor(&mut self.rng, self.jitter);
        self.next_due = self.next_due.checked_add(secs(itl)).unwrap_or(self.next_due);
    }
}

fn jitter_factor(rng: &mut Xoshiro256PlusPlus, jitter: f64) -> f64 {
    if jitter == 0.0 {
        1.0
    } else {
        1.0 + jitter * (2.0 * rng.random::<f64>() - 1.0)
    }
}

/// A delay of `s` seconds: none if negative or not a number, at most `MAX_DELAY`.
fn secs(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(s).map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(flags: &[&str]) -> MockConfig {
        crate::mock::config::test_config(flags)
    }

    #[tokio::test]
    async fn ttft_and_itl_follow_the_model_without_jitter() {
        let c = cfg(&["--jitter", "0", "--base-latency-ms", "10", "--prefill-tps", "1000", "--decode-tps", "100"]);
        let t0 = Instant::now();
        let mut s = Schedule::new(&c, t0, 500, 0.0, Arc::new(DecodeSlots::default()), 1);
        assert_eq!(s.next_due() - t0, Duration::from_millis(510));
        s.advance();
        assert_eq!(s.next_due() - t0, Duration::from_millis(520));
    }

    #[tokio::test]
    async fn decode_rate_is_shared_beyond_the_batch() {
        let c = cfg(&["--jitter", "0", "--decode-tps", "100", "--batch-size", "2"]);
        let slots = Arc::new(DecodeSlots::default());
        let _others: Vec<_> = (0..3).map(|_| slots.enter()).collect();
        let t0 = Instant::now();
        let mut s = Schedule::new(&c, t0, 0, 0.0, Arc::clone(&slots), 1);
        let first = s.next_due();
        s.advance(); // now 4 active streams, batch of 2: half speed
        assert_eq!(s.next_due() - first, Duration::from_millis(20));
        drop(s);
        assert_eq!(slots.active(), 3);
    }

    #[tokio::test]
    async fn zero_delay_and_infinite_rates_are_due_immediately() {
        let c = cfg(&["--zero-delay"]);
        let t0 = Instant::now();
        let mut s = Schedule::new(&c, t0, 1_000_000, 0.0, Arc::new(DecodeSlots::default()), 1);
        s.advance();
        assert_eq!(s.next_due(), t0);
    }

    #[tokio::test]
    async fn jitter_stays_within_bounds() {
        let c = cfg(&["--jitter", "0.5", "--base-latency-ms", "100", "--prefill-tps", "inf"]);
        for seed in 0..200 {
            let t0 = Instant::now();
            let s = Schedule::new(&c, t0, 0, 0.0, Arc::new(DecodeSlots::default()), seed);
            let ms = (s.next_due() - t0).as_secs_f64() * 1000.0;
            assert!((50.0..=150.0).contains(&ms), "{ms}");
        }
    }
}
