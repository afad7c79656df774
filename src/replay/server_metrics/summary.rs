//! What the server saw over a span of the run (the whole run, or the steady-state
//! window): gauges as max and mean over the scrapes inside the span, counters as their
//! increase across it, and the prefix-cache hit rate from the counters' increases (not a
//! server's rolling gauge, which covers whatever window the server chose).
//!
//! Formulas (printed in reports, see [`formulas`]):
//! * gauge max / mean: over the scrapes with `from ≤ t ≤ to` (mean = arithmetic mean; the
//!   scrapes are evenly spaced, so it is the time-weighted mean);
//! * counter increase: Σ over consecutive scrapes of (`v[i] − v[i−1]`), a drop counting as a
//!   restart (+ `v[i]`), from the last scrape at or before `from` to the first at or after
//!   `to`;
//! * prefix-cache hit rate: Δ hits / Δ queries (tokens).

use serde::{Deserialize, Serialize};

use super::concepts::Concept;
use super::table::SeriesTable;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct GaugeStats {
    pub max: f64,
    pub mean: f64,
    /// Scrapes it was read from.
    pub scrapes: usize,
}

/// The server over one span.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ServerSummary {
    /// The span, ms from the run's start.
    pub from_ms: f64,
    pub to_ms: f64,
    /// KV-cache use, a fraction of its capacity (0 to 1).
    pub kv_cache_usage: Option<GaugeStats>,
    pub requests_running: Option<GaugeStats>,
    pub requests_waiting: Option<GaugeStats>,
    pub preemptions: Option<f64>,
    /// Prompt tokens looked up in / found in the prefix cache, and hits / queries.
    pub prefix_cache_queries: Option<f64>,
    pub prefix_cache_hits: Option<f64>,
    pub prefix_cache_hit_rate: Option<f64>,
    pub prompt_tokens: Option<f64>,
    pub generation_tokens: Option<f64>,
    /// The server's own rolling hit-rate gauge (SGLang), for reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_hit_rate_gauge: Option<GaugeStats>,
}

impl ServerSummary {
    /// Over `[from_ms, to_ms]` of the table (times on the run's clock).
    pub(crate) fn of(table: &SeriesTable, from_ms: f64, to_ms: f64) -> Self {
        let gauge = |c| table.concept(c).and_then(|col| gauge_stats(&table.t_ms, col, from_ms, to_ms));
        let counter = |c| table.concept(c).and_then(|col| increase(&table.t_ms, col, from_ms, to_ms));
        let queries = counter(Concept::PrefixQueries);
        let hits = counter(Concept::PrefixHits);
        ServerSummary {
            from_ms,
            to_ms,
            kv_cache_usage: gauge(Concept::KvCacheUsage),
            requests_running: gauge(Concept::Running),
            requests_waiting: gauge(Concept::Waiting),
            preemptions: counter(Concept::Preemptions),
            prefix_cache_queries: queries,
            prefix_cache_hits: hits,
            prefix_cache_hit_rate: match (hits, queries) {
                (Some(h), Some(q)) if q > 0.0 => Some(h / q),
                _ => None,
            },
            prompt_tokens: counter(Concept::PromptTokens),
            generation_tokens: counter(Concept::GenerationTokens),
            server_hit_rate_gauge: gauge(Concept::ServerHitRate),
        }
    }

    /// Nothing known (no scrape had any concept).
    pub(crate) fn is_empty(&self) -> bool {
        self.kv_cache_usage.is_none()
            && self.requests_running.is_none()
            && self.requests_waiting.is_none()
            && self.preemptions.is_none()
            && self.prefix_cache_queries.is_none()
            && self.prompt_tokens.is_none()
            && self.generation_tokens.is_none()
    }
}

fn gauge_stats(t: &[f64], col: &[Option<f64>], from: f64, to: f64) -> Option<GaugeStats> {
    let values: Vec<f64> =
        t.iter().zip(col).filter(|(t, _)| (from..=to).contains(*t)).filter_map(|(_, v)| *v).collect();
    if values.is_empty() {
        return None;
    }
    Some(GaugeStats {
        max: values.iter().copied().fold(f64::MIN, f64::max),
        mean: values.iter().sum::<f64>() / values.len() as f64,
        scrapes: values.len(),
    })
}

fn increase(t: &[f64], col: &[Option<f64>], from: f64, to: f64) -> Option<f64> {
    let known: Vec<(f64, f64)> = t.iter().zip(col).filter_map(|(t, v)| v.map(|v| (*t, v))).collect();
    let start = known.iter().rposition(|(t, _)| *t <= from).unwrap_or(0);
    let end = known.iter().position(|(t, _)| *t >= to).unwrap_or(known.len().checked_sub(1)?);
    if end <= start {
        return None;
    }
    Some(known[start..=end].windows(2).map(|w| if w[1].1 >= w[0].1 { w[1].1 - w[0].1 } else { w[1].1 }).sum())
}

/// The formulas of the server section, for the run JSON and every report.
pub(crate) fn formulas() -> [(&'static str, &'static str); 6] {
    [
        ("server scrape time", "midpoint of the GET /metrics request and its response, ms on the run's clock"),
        ("server gauge max / mean", "max / arithmetic mean over the scrapes with from ≤ t ≤ to (evenly spaced: time-weighted)"),
        ("server counter increase", "Σ (v[i] − v[i−1]) over consecutive scrapes from the last at or before `from` to the first at or after `to`; a drop is a restart (+ v[i])"),
        ("server prefix-cache hit rate", "Δ prefix_cache_hits / Δ prefix_cache_queries (tokens; llama.cpp: Δ cached / (Δ prompt + Δ cached))"),
        ("kv_cache_usage", "the server's KV-cache use as a fraction of capacity (vllm:kv_cache_usage_perc, sglang:token_usage, llamacpp:kv_cache_usage_ratio)"),
        ("client ttft − server prompt time", "ttft_ms − timings.prompt_ms (llama.cpp): network, queueing and the client's own cost"),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::exposition::parse;
    use super::*;

    fn table(rows: &[(f64, &str)]) -> SeriesTable {
        let mut t = SeriesTable::new();
        for (at, text) in rows {
            t.push(*at, Some(&parse(text).unwrap()));
        }
        t
    }

    #[test]
    fn gauges_and_counter_increases_over_a_span() {
        let t = table(&[
            (-5.0, "vllm:num_requests_running 0\nvllm:prefix_cache_queries_total 1000\nvllm:prefix_cache_hits_total 900\n"),
            (250.0, "vllm:num_requests_running 4\nvllm:prefix_cache_queries_total 1100\nvllm:prefix_cache_hits_total 920\n"),
            (500.0, "vllm:num_requests_running 2\nvllm:prefix_cache_queries_total 1300\nvllm:prefix_cache_hits_total 960\n"),
            (750.0, "vllm:num_requests_running 0\nvllm:prefix_cache_queries_total 1400\nvllm:prefix_cache_hits_total 1000\n"),
        ]);
        let run = ServerSummary::of(&t, 0.0, 700.0);
        let running = run.requests_running.unwrap();
        assert_eq!((running.max, running.mean, running.scrapes), (4.0, 3.0, 2));
        assert_eq!((run.prefix_cache_queries, run.prefix_cache_hits), (Some(400.0), Some(100.0)));
        assert_eq!(run.prefix_cache_hit_rate, Some(0.25));
        let window = ServerSummary::of(&t, 250.0, 500.0);
        assert_eq!(window.prefix_cache_queries, Some(200.0));
        assert!(run.kv_cache_usage.is_none() && !run.is_empty());
    }

    #[test]
    fn a_counter_that_restarts_keeps_counting() {
        let t = table(&[
            (0.0, "vllm:num_preemptions_total 5\n"),
            (1.0, "vllm:num_preemptions_total 7\n"),
            (2.0, "vllm:num_preemptions_total 3\n"),
        ]);
        assert_eq!(ServerSummary::of(&t, 0.0, 2.0).preemptions, Some(5.0));
    }
}
