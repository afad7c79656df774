//! Inter-token gaps folded into HDR histograms (the `hdrhistogram` crate) as they arrive,
//! so a big run's gaps need not all be held: 1,000,000 requests × 5,000 chunks would be
//! 40 GB of raw `f64`s (AIPerf's figure for the same, aiperf#865: ~37 GB).
//!
//! Gaps are recorded in whole nanoseconds with 3 significant digits: a value is held in a
//! bucket no wider than 1/1024 of it, and a percentile read back is the top of the bucket
//! holding the gap of the nearest rank (⌈q·n⌉), so it is within 0.1 %
//! of that gap (`RELATIVE_ERROR`). Count, sum, mean, min and max are kept exactly beside the histogram (the
//! standard deviation from Σx and Σx², exact up to float rounding). Two histograms merge
//! bucket by bucket without loss ([`ItlHistogram::merge`]): shards' histograms merge into
//! exactly the histogram one process would have filled.
//!
//! Cost: a record is an index computation and an add (≈ 5 ns); a histogram spanning
//! 1 ns … 1 h is ≈ 270 KB of counters, one per context bucket.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::stats::Distribution;

pub(crate) const SIGNIFICANT_DIGITS: u8 = 3;
/// The bound of a percentile read from a histogram, relative to the nearest-rank gap.
#[cfg(test)]
pub(crate) const RELATIVE_ERROR: f64 = 0.001;
/// How the bound is stated in reports and formulas.
pub(crate) const BOUND: &str = "within 0.1 % of the nearest-rank gap (HDR histogram, 3 significant digits)";

/// The gaps of a set of requests.
#[derive(Debug, Clone)]
pub(crate) struct ItlHistogram {
    hist: Histogram<u64>,
    sum_ms: f64,
    sum_sq_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

impl Default for ItlHistogram {
    fn default() -> Self {
        ItlHistogram {
            hist: Histogram::new(SIGNIFICANT_DIGITS).expect("3 significant digits is a valid precision"),
            sum_ms: 0.0,
            sum_sq_ms: 0.0,
            min_ms: f64::INFINITY,
            max_ms: f64::NEG_INFINITY,
        }
    }
}

fn to_ns(gap_ms: f64) -> u64 {
    (gap_ms * 1e6).round().clamp(0.0, 1e15) as u64
}

impl ItlHistogram {
    /// Records one gap (ms); non-finite or negative gaps are not gaps and are skipped, as
    /// the raw statistics skip them.
    pub(crate) fn record(&mut self, gap_ms: f64) {
        if !gap_ms.is_finite() || gap_ms < 0.0 {
            return;
        }
        // Auto-resizing: recording fails only past u64 counts.
        let _ = self.hist.record(to_ns(gap_ms));
        self.sum_ms += gap_ms;
        self.sum_sq_ms += gap_ms * gap_ms;
        self.min_ms = self.min_ms.min(gap_ms);
        self.max_ms = self.max_ms.max(gap_ms);
    }

    pub(crate) fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Adds `other`'s gaps, bucket by bucket.
    pub(crate) fn merge(&mut self, other: &ItlHistogram) {
        if other.count() == 0 {
            return;
        }
        let _ = self.hist.add(&other.hist);
        self.sum_ms += other.sum_ms;
        self.sum_sq_ms += other.sum_sq_ms;
        self.min_ms = self.min_ms.min(other.min_ms);
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    /// The distribution: count, sum, mean, min, max exact; the percentiles within
    /// `RELATIVE_ERROR` of the nearest-rank gap (and never outside min … max).
    pub(crate) fn distribution(&self) -> Option<Distribution> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let n = count as f64;
        let mean = self.sum_ms / n;
        let variance = if count < 2 { 0.0 } else { ((self.sum_sq_ms - self.sum_ms * mean) / (n - 1.0)).max(0.0) };
        let at = |q: f64| (self.hist.value_at_quantile(q) as f64 / 1e6).clamp(self.min_ms, self.max_ms);
        Some(Distribution {
            count: count as usize,
            sum: self.sum_ms,
            mean,
            stdev: variance.sqrt(),
            min: self.min_ms,
            p50: at(0.50),
            p90: at(0.90),
            p95: at(0.95),
            p99: at(0.99),
            max: self.max_ms,
        })
    }
}

/// A histogram as saved in the run JSON: its non-empty buckets as `[ns, count]` pairs (a
/// bucket's highest value, which records back into the same bucket) and the exact sums.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedHistogram {
    pub significant_digits: u8,
    pub buckets_ns: Vec<(u64, u64)>,
    pub sum_ms: f64,
    pub sum_sq_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl From<&ItlHistogram> for SavedHistogram {
    fn from(h: &ItlHistogram) -> Self {
        SavedHistogram {
            significant_digits: SIGNIFICANT_DIGITS,
            buckets_ns: h.hist.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect(),
            sum_ms: h.sum_ms,
            sum_sq_ms: h.sum_sq_ms,
            min_ms: if h.count() > 0 { h.min_ms } else { 0.0 },
            max_ms: if h.count() > 0 { h.max_ms } else { 0.0 },
        }
    }
}

impl TryFrom<&SavedHistogram> for ItlHistogram {
    type Error = String;
    fn try_from(s: &SavedHistogram) -> Result<Self, String> {
        if s.significant_digits != SIGNIFICANT_DIGITS {
            return Err(format!(
                "an ITL histogram of {} significant digits (this asb reads {SIGNIFICANT_DIGITS})",
                s.significant_digits
            ));
        }
        let mut h = ItlHistogram::default();
        for &(ns, n) in &s.buckets_ns {
            h.hist.record_n(ns, n).map_err(|e| format!("ITL histogram bucket {ns} ns: {e:?}"))?;
        }
        if h.count() > 0 {
            (h.sum_ms, h.sum_sq_ms, h.min_ms, h.max_ms) = (s.sum_ms, s.sum_sq_ms, s.min_ms, s.max_ms);
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::percentile;

    fn gaps(n: usize, seed: u64) -> Vec<f64> {
        // A spread of gaps over four decades (0.01 ms … 100 ms), deterministic.
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                10f64.powf((x >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0)
            })
            .collect()
    }

    /// The nearest-rank gap of quantile `q` in sorted `v`.
    fn nearest_rank(v: &[f64], q: f64) -> f64 {
        v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    }

    #[test]
    fn percentiles_are_within_the_bound_and_the_rest_exact() {
        let raw = gaps(50_000, 7);
        let mut h = ItlHistogram::default();
        raw.iter().for_each(|&g| h.record(g));
        let d = h.distribution().unwrap();
        let exact = Distribution::of(raw.iter().copied()).unwrap();
        let mut sorted = raw.clone();
        sorted.sort_by(f64::total_cmp);
        for (q, got) in [(0.5, d.p50), (0.9, d.p90), (0.95, d.p95), (0.99, d.p99)] {
            let want = nearest_rank(&sorted, q);
            assert!((got - want).abs() <= RELATIVE_ERROR * want + 1e-6, "q {q}: {got} vs {want}");
            // And near numpy's interpolated percentile, which lies between two neighbours.
            let interpolated = percentile(&sorted, q * 100.0);
            assert!((got - interpolated).abs() <= 0.002 * interpolated, "q {q}: {got} vs {interpolated}");
        }
        assert_eq!((d.count, d.min, d.max), (exact.count, exact.min, exact.max));
        assert!((d.sum - exact.sum).abs() < 1e-6 * exact.sum && (d.mean - exact.mean).abs() < 1e-9 * exact.mean);
        assert!((d.stdev - exact.stdev).abs() < 1e-6 * exact.stdev);
    }

    #[test]
    fn merging_bucket_by_bucket_equals_one_histogram_of_the_union() {
        let (a, b) = (gaps(10_000, 1), gaps(7_000, 2));
        let fill = |v: &[f64]| {
            let mut h = ItlHistogram::default();
            v.iter().for_each(|&g| h.record(g));
            h
        };
        let mut merged = fill(&a);
        merged.merge(&fill(&b));
        let union = fill(&[a, b].concat());
        let (m, u) = (merged.distribution().unwrap(), union.distribution().unwrap());
        assert_eq!((m.count, m.p50, m.p90, m.p99, m.min, m.max), (u.count, u.p50, u.p90, u.p99, u.min, u.max));
        // Saved and read back (the run JSON), nothing is lost either.
        let back = ItlHistogram::try_from(&SavedHistogram::from(&merged)).unwrap();
        assert_eq!(back.distribution(), merged.distribution());
        assert!(ItlHistogram::default().distribution().is_none());
    }
}
