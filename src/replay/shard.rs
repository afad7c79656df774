//! `--shard K/N` and `--start-at`: one replay split over N processes (N pods of a
//! Kubernetes Indexed Job, or N local processes), which together send what one process
//! would have sent, and whose run JSONs `asb report -i` merges back into one report.
//!
//! What a shard takes, deterministically and without talking to the others:
//! - **executions**: the K-th of every N of the run's execution sequence (the queue in
//!   `--policy` order, cycled with fresh repetition numbers under `--duration`), so the
//!   N shards together run every execution once, poisoned exactly as one process would;
//! - **concurrency**: `--sessions S` (or `--max-concurrent`) is split as evenly as it goes
//!   (shard K runs S/N, one more for K < S mod N): S sessions in flight over all shards;
//! - **arrivals**: `--session-rate` / `--request-rate` R becomes R/N per shard, each shard
//!   with its own seeded stream (the seed mixed with K): N independent Poisson streams of
//!   rate R/N are one Poisson stream of rate R;
//! - **ids**: session K + N·i, so ids never collide in the merge.
//!
//! `--start-at TIME` (RFC 3339, or Unix seconds) holds the first request until that wall
//! clock, so shards started seconds apart by a scheduler begin together; each shard writes
//! how late it actually started. Shards are aligned in the merge by their start times
//! (their hosts' clocks: keep them synchronised, e.g. NTP).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// This process's part: shard `index` of `count`, 0-based (as Kubernetes'
/// `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole run (no `--shard`).
    pub(crate) const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The position in the run's execution sequence of this shard's `local`-th execution.
    pub(crate) fn global_index(self, local: usize) -> usize {
        local.saturating_mul(self.count as usize).saturating_add(self.index as usize)
    }

    /// This shard's share of `total` concurrent sessions.
    pub(crate) fn share(self, total: u64) -> u64 {
        let (count, index) = (u64::from(self.count), u64::from(self.index));
        total / count + u64::from(index < total % count)
    }

    /// This shard's share of an arrival rate.
    pub(crate) fn rate(self, rate: f64) -> f64 {
        rate / f64::from(self.count)
    }

    /// The arrival seed of this shard: the run's seed itself for a whole run, else mixed
    /// with the shard index (SplitMix64's finaliser) so each shard draws its own stream.
    pub(crate) fn seed(self, seed: u64) -> u64 {
        if self.count == 1 {
            return seed;
        }
        let mut z = seed ^ u64::from(self.index).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The run-wide id of this shard's `local`-th session.
    pub(crate) fn session_id(self, local: u64) -> u64 {
        local.saturating_mul(u64::from(self.count)).saturating_add(u64::from(self.index))
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad =
            || format!("expected K/N with 0 ≤ K < N (e.g. 0/4; K is 0-based, as JOB_COMPLETION_INDEX), got {s:?}");
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count || count > 100_000 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `--start-at`: an RFC 3339 time (`2026-12-03T10:00:00Z`) or Unix seconds.
pub(crate) fn parse_start_at(s: &str) -> Result<jiff::Timestamp, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            let nanos = (secs * 1e9) as i128;
            return jiff::Timestamp::from_nanosecond(nanos).map_err(|e| format!("{s:?}: {e}"));
        }
    }
    t.parse::<jiff::Timestamp>()
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-12-03T10:00:00Z, or Unix seconds, got {s:?}: {e}"))
}

/// What a shard says of itself in its run JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ShardInfo {
    pub index: u32,
    pub count: u32,
    /// The machine it ran on (`HOSTNAME`, else the kernel's host name).
    pub host: String,
    /// `--start-at`, as given, and how late after it the run's clock started (ms).
    pub start_at: Option<String>,
    pub started_late_ms: Option<f64>,
    /// The settings every shard of a run must share, flag by flag: the merge refuses
    /// shards that differ and names the flag.
    pub must_match: BTreeMap<String, String>,
}

/// The host name, for the run JSON.
pub(crate) fn host_name() -> String {
    if let Ok(h) = std::env::var("HOSTNAME") {
        if !h.trim().is_empty() {
            return h.trim().to_string();
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_executions_sessions_and_ids_without_overlap() {
        let shards: Vec<Shard> = (0..4).map(|index| Shard { index, count: 4 }).collect();
        let mut executions: Vec<usize> = shards.iter().flat_map(|s| (0..5).map(move |i| s.global_index(i))).collect();
        executions.sort_unstable();
        assert_eq!(executions, (0..20).collect::<Vec<_>>(), "every execution once");
        assert_eq!(shards.iter().map(|s| s.share(10)).collect::<Vec<_>>(), [3, 3, 2, 2]);
        assert_eq!(shards.iter().map(|s| s.share(10)).sum::<u64>(), 10);
        let mut ids: Vec<u64> = shards.iter().flat_map(|s| (0..3).map(move |i| s.session_id(i))).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        let seeds: std::collections::BTreeSet<u64> = shards.iter().map(|s| s.seed(7)).collect();
        assert_eq!(seeds.len(), 4, "each shard its own arrival stream");
        assert_eq!(Shard::WHOLE.seed(7), 7, "a whole run keeps its seed");
        assert_eq!(shards[1].rate(100.0), 25.0);
    }

    #[test]
    fn parses_k_of_n_and_start_times() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "-1/4", "1", "a/b", "1/4/2"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("expected K/N"), "{bad}");
        }
        assert_eq!(parse_start_at("1796300000").unwrap().as_second(), 1_796_300_000);
        assert_eq!(parse_start_at("2026-12-03T10:00:00Z").unwrap().as_second(), 1_796_292_000);
        assert!(parse_start_at("tomorrow").unwrap_err().contains("RFC 3339"));
    }
}
