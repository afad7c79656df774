//! The mock's `GET /metrics`: its own model's state in Prometheus text format, under vLLM's
//! current metric names, so a test (and `asb replay`'s scraper) can compare what a server
//! reports with the truth of what it did.
//!
//! What each series is, in the mock's model (docs/mock.md, "Metrics"):
//! * `vllm:num_requests_running`: streams past their first token (the decode slots that
//!   share the decode rate); `vllm:num_requests_waiting`: requests admitted and still before
//!   their first token (the mock has no admission queue: prefill is its wait).
//! * `vllm:kv_cache_usage_perc`: prefix-cache blocks held / `--cache-blocks`, a fraction in
//!   [0, 1] as vLLM's is (0 with the cache off).
//! * `vllm:prefix_cache_queries_total` / `_hits_total`: prompt tokens looked up / found
//!   cached, counted as vLLM counts them (tokens, not requests).
//! * `vllm:prompt_tokens_total` / `vllm:generation_tokens_total`: prompt tokens of admitted
//!   requests / output tokens sent; `vllm:num_preemptions_total`: always 0 (the mock slows
//!   down past its batch, it never preempts).
//!
//! Cost: a handful of relaxed atomic adds per request and one per frame of tokens; a scrape
//! renders about 2 KB.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Counters and the in-flight gauge, shared by every request of one mock.
#[derive(Debug, Default)]
pub(crate) struct MockMetrics {
    in_flight: AtomicUsize,
    prompt_tokens: AtomicU64,
    generation_tokens: AtomicU64,
    prefix_queries: AtomicU64,
    prefix_hits: AtomicU64,
    cache_resets: AtomicU64,
}

/// Counts one admitted request as in flight for as long as it lives.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<MockMetrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The model's state that is not counted here (read at scrape time).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gauges {
    /// Streams past their first token.
    pub decoding: usize,
    pub cache_blocks_used: usize,
    pub cache_blocks: usize,
}

impl MockMetrics {
    /// A request passed validation and its prompt was looked up in the prefix cache.
    pub(crate) fn admit(self: &Arc<Self>, prompt_tokens: usize, cached_tokens: usize) -> InFlight {
        self.prompt_tokens.fetch_add(prompt_tokens as u64, Ordering::Relaxed);
        self.prefix_queries.fetch_add(prompt_tokens as u64, Ordering::Relaxed);
        self.prefix_hits.fetch_add(cached_tokens as u64, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// `n` output tokens left.
    pub(crate) fn sent(&self, n: usize) {
        self.generation_tokens.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// `POST /reset_prefix_cache` emptied the cache.
    pub(crate) fn cache_reset(&self) {
        self.cache_resets.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition, Prometheus text format 0.0.4.
    pub(crate) fn render(&self, model: &str, g: Gauges) -> String {
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let running = g.decoding.min(in_flight);
        let usage = if g.cache_blocks == 0 { 0.0 } else { g.cache_blocks_used as f64 / g.cache_blocks as f64 };
        let label = format!("{{model_name=\"{}\"}}", escape_label(model));
        let mut out = String::with_capacity(2048);
        let mut series = |name: &str, kind: &str, help: &str, value: String| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{label} {value}\n");
        };
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        series("vllm:num_requests_running", "gauge", "Number of requests decoding (asb mock).", running.to_string());
        series(
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests before their first token (asb mock).",
            (in_flight - running).to_string(),
        );
        series("vllm:kv_cache_usage_perc", "gauge", "Prefix-cache blocks held / capacity, 0 to 1 (asb mock).", {
            format!("{usage}")
        });
        series(
            "vllm:prefix_cache_queries_total",
            "counter",
            "Prompt tokens looked up in the prefix cache.",
            n(&self.prefix_queries),
        );
        series("vllm:prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.", {
            n(&self.prefix_hits)
        });
        series("vllm:num_preemptions_total", "counter", "Preemptions (the mock never preempts).", "0".into());
        series("vllm:prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", n(&self.prompt_tokens));
        series("vllm:generation_tokens_total", "counter", "Output tokens sent.", n(&self.generation_tokens));
        series("asb_mock:prefix_cache_resets_total", "counter", "POST /reset_prefix_cache calls.", {
            n(&self.cache_resets)
        });
        out
    }
}

/// A label value as the text format writes it: `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, name: &str) -> f64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{name}{{"))).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn counts_admitted_requests_and_tokens() {
        let m = Arc::new(MockMetrics::default());
        let a = m.admit(100, 64);
        let b = m.admit(50, 0);
        m.sent(7);
        let g = Gauges { decoding: 1, cache_blocks_used: 3, cache_blocks: 12 };
        let text = m.render("m\"x", g);
        assert_eq!(value(&text, "vllm:num_requests_running"), 1.0);
        assert_eq!(value(&text, "vllm:num_requests_waiting"), 1.0);
        assert_eq!(value(&text, "vllm:kv_cache_usage_perc"), 0.25);
        assert_eq!(value(&text, "vllm:prefix_cache_queries_total"), 150.0);
        assert_eq!(value(&text, "vllm:prefix_cache_hits_total"), 64.0);
        assert_eq!(value(&text, "vllm:generation_tokens_total"), 7.0);
        assert!(text.contains("model_name=\"m\\\"x\""));
        drop((a, b));
        let text = m.render("m", Gauges { decoding: 0, cache_blocks_used: 0, cache_blocks: 0 });
        assert_eq!(value(&text, "vllm:num_requests_waiting"), 0.0);
        assert_eq!(value(&text, "vllm:kv_cache_usage_perc"), 0.0);
    }
}
