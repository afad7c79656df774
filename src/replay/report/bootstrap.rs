//! Bootstrap confidence intervals of percentiles, from the raw samples of two runs: how
//! far a percentile could move by chance alone, so `asb compare` calls a change better or
//! worse only when it exceeds that noise, whatever the sample size.
//!
//! Each run is resampled with replacement ([`RESAMPLES`] times, a fixed seed so a report is
//! reproducible); the percentile of each resample gives its 95 % interval (2.5th–97.5th
//! percentile of the resampled values), and the relative change between paired resamples
//! of the two runs gives the interval of the change.

use crate::stats::percentile;

/// Resamples per interval (fewer for very large samples, to bound the work).
pub(crate) const RESAMPLES: usize = 1000;
/// Fewer samples than this on a side: no interval, the change is "too few samples".
pub(crate) const MIN_SAMPLES: usize = 5;

/// A percentile and its 95 % bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
}

/// The change of a percentile from baseline to candidate, in percent of the baseline, with
/// its 95 % bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Delta {
    pub pct: f64,
    pub lo: f64,
    pub hi: f64,
    pub base: Interval,
    pub cand: Interval,
}

impl Delta {
    /// The interval leaves out zero: the change is larger than the noise.
    pub(crate) fn significant(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// SplitMix64: a small fixed-seed generator, so the same runs give the same intervals.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn resamples(n: usize) -> usize {
    (4_000_000 / n.max(1)).clamp(200, RESAMPLES)
}

/// The `p`-th percentile of `samples` in each of `k` resamples.
fn replicate(samples: &[f64], p: f64, k: usize, rng: &mut Rng) -> Vec<f64> {
    let n = samples.len();
    let mut buf = vec![0.0; n];
    (0..k)
        .map(|_| {
            for slot in buf.iter_mut() {
                *slot = samples[rng.below(n)];
            }
            buf.sort_by(f64::total_cmp);
            percentile(&buf, p)
        })
        .collect()
}

fn finite_sorted(samples: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn interval(sorted: &[f64], reps: &mut [f64]) -> Interval {
    reps.sort_by(f64::total_cmp);
    Interval { value: percentile(sorted, 50.0), lo: percentile(reps, 2.5), hi: percentile(reps, 97.5), n: sorted.len() }
}

/// The `p`-th percentile of `samples` with its 95 % interval; `None` below [`MIN_SAMPLES`].
#[cfg(test)]
pub(crate) fn percentile_interval(samples: &[f64], p: f64) -> Option<Interval> {
    let v = finite_sorted(samples);
    if v.len() < MIN_SAMPLES {
        return None;
    }
    let mut reps = replicate(&v, p, resamples(v.len()), &mut Rng(0x5EED));
    let mut i = interval(&v, &mut reps);
    i.value = percentile(&v, p);
    Some(i)
}

/// The change of the `p`-th percentile from `base` to `cand` with its 95 % interval;
/// `None` when a side has fewer than [`MIN_SAMPLES`] samples or a zero baseline.
pub(crate) fn delta(base: &[f64], cand: &[f64], p: f64) -> Option<Delta> {
    let (b, c) = (finite_sorted(base), finite_sorted(cand));
    if b.len() < MIN_SAMPLES || c.len() < MIN_SAMPLES {
        return None;
    }
    let (vb, vc) = (percentile(&b, p), percentile(&c, p));
    if vb == 0.0 {
        return None;
    }
    let k = resamples(b.len().max(c.len()));
    let mut rng = Rng(0x5EED);
    let mut rb = replicate(&b, p, k, &mut rng);
    let mut rc = replicate(&c, p, k, &mut rng);
    let mut changes: Vec<f64> =
        rb.iter().zip(&rc).filter(|(x, _)| **x != 0.0).map(|(x, y)| (y - x) / x.abs() * 100.0).collect();
    if changes.is_empty() {
        return None;
    }
    changes.sort_by(f64::total_cmp);
    let mut base = interval(&b, &mut rb);
    let mut cand = interval(&c, &mut rc);
    base.value = vb;
    cand.value = vc;
    Some(Delta {
        pct: (vc - vb) / vb.abs() * 100.0,
        lo: percentile(&changes, 2.5),
        hi: percentile(&changes, 97.5),
        base,
        cand,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` values spread evenly around `centre` (±`spread`).
    fn around(centre: f64, spread: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| centre + spread * ((i as f64 * 0.618_034).fract() * 2.0 - 1.0)).collect()
    }

    #[test]
    fn a_shift_beyond_the_noise_is_significant() {
        let d = delta(&around(100.0, 10.0, 200), &around(120.0, 10.0, 200), 50.0).unwrap();
        assert!(d.significant() && d.lo > 10.0 && d.hi < 30.0, "{d:?}");
        assert!((d.pct - 20.0).abs() < 3.0);
    }

    #[test]
    fn the_same_change_in_noisy_small_samples_is_not() {
        // +8 % on the median, but the samples spread ±60 %: within the noise.
        let d = delta(&around(100.0, 60.0, 12), &around(108.0, 60.0, 12), 50.0).unwrap();
        assert!(!d.significant(), "{d:?}");
        // And a 3 % change with tight samples is.
        let d = delta(&around(100.0, 0.5, 500), &around(103.0, 0.5, 500), 50.0).unwrap();
        assert!(d.significant(), "{d:?}");
    }

    #[test]
    fn intervals_hold_their_percentile_and_need_samples() {
        let v = around(50.0, 20.0, 300);
        let i = percentile_interval(&v, 99.0).unwrap();
        assert!(i.lo <= i.value && i.value <= i.hi && i.n == 300, "{i:?}");
        assert!(percentile_interval(&v[..4], 50.0).is_none());
        assert!(delta(&v[..3], &v, 50.0).is_none());
        // Same input, same interval.
        assert_eq!(percentile_interval(&v, 50.0), percentile_interval(&v, 50.0));
    }
}
