//! What the server saw during a replay: its Prometheus `/metrics` scraped through the
//! run, read into a few common concepts (KV-cache use, requests running and waiting,
//! preemptions, prefix-cache queries and hits) whatever the server (vLLM, SGLang,
//! llama.cpp), with every other series kept raw; summarised per run and per
//! steady-state window. A client-side TTFT says that a server was slow; this says why.
//!
//! Pipeline: a probe before the run ([`start`]: on by default when the endpoint's
//! `/metrics` answers in Prometheus text format) → [`scraper`] (its own task, every
//! `--server-metrics-interval`) → [`table`] (bounded columns on the run's clock) →
//! [`summary`]. [`exposition`] reads one scrape (with `nom-openmetrics`), [`concepts`]
//! names what it means. [`reset`] is `--reset-prefix-cache`; [`prefix`] compares the
//! cached tokens each answer reported with what the cache mode should give; [`timings`]
//! is the server's own clock per request (llama.cpp).
//!
//! Cost (bench/server_metrics.sh, BENCHMARKS.md): one small GET every 250 ms on its own
//! connection; parsing a vLLM-sized answer takes well under a millisecond.

pub(crate) mod concepts;
pub(crate) mod exposition;
pub(crate) mod http;
pub(crate) mod prefix;
pub(crate) mod reset;
pub(crate) mod scraper;
pub(crate) mod summary;
pub(crate) mod table;
pub(crate) mod timings;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use scraper::{Collected, Scraper};
use summary::ServerSummary;
use table::SeriesTable;

/// The scrape as the flags ask for it.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `--server-metrics URL`; `None`: the endpoint's `/metrics`, if it answers.
    pub url: Option<String>,
    pub interval: Duration,
}

/// The server section of the run JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ServerMetrics {
    pub url: String,
    /// `vllm`, `sglang`, `llama.cpp` or `unknown` (by the metric names); empty when no
    /// scrape succeeded.
    pub server: String,
    pub interval_ms: f64,
    /// Scrapes taken (the probe before the run and the one after it included), failed.
    pub scrapes: u64,
    pub failed_scrapes: u64,
    /// What went wrong or is worth knowing, in words.
    pub notes: Vec<String>,
    /// Over the run: from the first request's send (0) to the last answer's end.
    pub run: Option<ServerSummary>,
    /// Over the steady-state window (`--warmup`/`--cooldown`), when it is not the run.
    pub window: Option<ServerSummary>,
    /// The raw time series.
    pub series: SeriesTable,
}

/// The scrape for one run, from its probe on.
pub(crate) struct Session {
    url: String,
    interval: Duration,
    origin: Instant,
    state: State,
}

enum State {
    Scraping(Scraper),
    /// The default URL did not answer in Prometheus text format: nothing scraped.
    Off(String),
}

/// The endpoint's scheme and host, e.g. `http://127.0.0.1:8000`: no `user:pass@` (it is
/// not sent as credentials, and would be printed and saved with the URL).
pub(crate) fn base_url(endpoint_url: &str) -> Option<String> {
    let uri: ::http::Uri = endpoint_url.parse().ok()?;
    let authority = uri.authority()?.as_str();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    Some(format!("{}://{host}", uri.scheme_str()?))
}

/// The endpoint's `/metrics`: its scheme and host with that path.
pub(crate) fn default_url(endpoint_url: &str) -> Option<String> {
    base_url(endpoint_url).map(|b| format!("{b}/metrics"))
}

/// Everything about the server around one run: the cache reset and the scrape before
/// it, the summaries and the per-request accounting after it.
pub(crate) struct Watch {
    reset: Option<reset::ResetReport>,
    session: Option<Session>,
}

/// What [`Watch::after_run`] gives the run JSON.
pub(crate) struct Findings {
    pub server_metrics: Option<ServerMetrics>,
    pub prefix_cache: Option<prefix::PrefixCacheReport>,
    pub clock_check: Option<timings::ClockCheck>,
}

impl Watch {
    /// Before the run's clock starts: `--reset-prefix-cache`, then the scrape's probe.
    pub(crate) async fn before_run(reset_cache: bool, scrape: Option<&Options>, endpoint_url: &str) -> Watch {
        let reset = match (reset_cache, base_url(endpoint_url)) {
            (false, _) => None,
            (true, Some(base)) => Some(reset::reset(&base).await),
            (true, None) => Some(reset::ResetReport { done: false, what: format!("no host in {endpoint_url}") }),
        };
        let session = match scrape {
            Some(opts) => start(opts, endpoint_url).await,
            None => None,
        };
        Watch { reset, session }
    }

    /// The header's lines about it.
    pub(crate) fn describe(&self) -> String {
        let mut out = String::new();
        if let Some(r) = &self.reset {
            let verdict = if r.done { "done" } else { "NOT done" };
            out.push_str(&format!("  Prefix-cache reset: {verdict}: {}\n", r.what));
        }
        if let Some(s) = &self.session {
            out.push_str(&s.describe());
        }
        out
    }

    /// After the run: the scrape summarised on the run's clock (`run_started`, the last
    /// answer at `end_ms`, the steady-state `window`), each request's expected cached
    /// tokens, and our clock against the server's.
    pub(crate) async fn after_run<S: crate::replay::sample_row::Sample>(
        self,
        run_started: Instant,
        end_ms: f64,
        window: (f64, f64),
        requests: &mut [S],
        cache_mode: crate::replay::plan::CacheMode,
        shared_prefix_chars: Option<usize>,
    ) -> Findings {
        let server_metrics = match self.session {
            Some(s) => Some(s.finish(run_started, end_ms, Some(window)).await),
            None => None,
        };
        let first_row = |c| {
            let m = server_metrics.as_ref()?;
            let t = *m.series.t_ms.first()?;
            (t < 0.0).then(|| m.series.concept(c)?.first().copied().flatten()).flatten()
        };
        let baseline = prefix::Baseline {
            kv_cache_usage: first_row(concepts::Concept::KvCacheUsage),
            requests_running: first_row(concepts::Concept::Running),
        };
        let any_usage = requests.iter().any(|r| r.prompt_tokens().is_some());
        let prefix_cache = (any_usage || self.reset.is_some())
            .then(|| prefix::account(requests, cache_mode, shared_prefix_chars, baseline, self.reset));
        Findings { server_metrics, prefix_cache, clock_check: timings::ClockCheck::of(requests) }
    }
}

/// Probes the metrics URL and, if it answers (or was given explicitly), starts scraping.
/// `None` only when there is no URL to try (a bad endpoint URL).
pub(crate) async fn start(opts: &Options, endpoint_url: &str) -> Option<Session> {
    let url = opts.url.clone().or_else(|| default_url(endpoint_url))?;
    let origin = Instant::now();
    let http = match http::Http::new() {
        Ok(h) => h,
        Err(e) => return Some(Session { url, interval: opts.interval, origin, state: State::Off(e.to_string()) }),
    };
    let sent = origin.elapsed();
    let probe = scraper::scrape_once(&http, &url, Duration::from_secs(2)).await;
    let t_ms = (sent + origin.elapsed()).as_secs_f64() * 500.0;
    if let (Err(e), None) = (&probe, &opts.url) {
        let why = format!("GET {url}: {e}; no server metrics (give --server-metrics URL if they are elsewhere)");
        return Some(Session { url, interval: opts.interval, origin, state: State::Off(why) });
    }
    let mut collected = Collected { table: SeriesTable::new(), ..Default::default() };
    collected.record(t_ms, probe);
    let scraper = Scraper::start(http, url.clone(), opts.interval, origin, collected);
    Some(Session { url, interval: opts.interval, origin, state: State::Scraping(scraper) })
}

impl Session {
    /// The header's line about it.
    pub(crate) fn describe(&self) -> String {
        match &self.state {
            State::Scraping(_) => format!(
                "  Server metrics: {} every {} ms (--no-server-metrics: off)\n",
                self.url,
                self.interval.as_millis()
            ),
            State::Off(why) => format!("  Server metrics: none ({why})\n"),
        }
    }

    /// Ends the scrape after the run and summarises it. `run_started` is the run's clock
    /// origin, `end_ms` the last answer's end and `window` the steady-state window, on it.
    pub(crate) async fn finish(self, run_started: Instant, end_ms: f64, window: Option<(f64, f64)>) -> ServerMetrics {
        let mut out =
            ServerMetrics { url: self.url, interval_ms: self.interval.as_secs_f64() * 1000.0, ..Default::default() };
        let mut collected = match self.state {
            State::Off(why) => {
                out.notes.push(why);
                return out;
            }
            State::Scraping(s) => s.finish().await,
        };
        // The scraper's clock started before the run's: move its times onto the run's.
        let offset_ms = run_started.saturating_duration_since(self.origin).as_secs_f64() * 1000.0;
        collected.table.shift(offset_ms);
        out.server = collected.server.unwrap_or_default().to_string();
        out.scrapes = collected.scrapes;
        out.failed_scrapes = collected.failed;
        for (why, (count, first)) in &collected.failures {
            out.notes.push(format!(
                "{count} of {} scrapes failed: {why} (first at {:.1} s)",
                collected.scrapes,
                (first - offset_ms) / 1000.0
            ));
        }
        if collected.table.dropped_series > 0 {
            out.notes.push(format!(
                "{} series beyond the first {} were not kept",
                collected.table.dropped_series,
                table::MAX_SERIES
            ));
        }
        if collected.table.stride > 1 {
            out.notes.push(format!(
                "a long run: every {}th scrape kept (the table holds {} rows)",
                collected.table.stride,
                table::MAX_ROWS
            ));
        }
        let run = ServerSummary::of(&collected.table, 0.0, end_ms);
        if collected.scrapes > collected.failed && run.is_empty() {
            out.notes.push(format!(
                "the server's metrics ({}) have none of the names asb reads (vLLM, SGLang, llama.cpp): raw series only",
                if out.server.is_empty() { "unknown" } else { &out.server }
            ));
        }
        if !run.is_empty() {
            out.window = window
                .filter(|(from, to)| *from > 0.0 || *to < end_ms)
                .map(|(from, to)| ServerSummary::of(&collected.table, from, to));
            out.run = Some(run);
        }
        out.series = collected.table;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_url_is_the_endpoint_s_host_and_metrics() {
        assert_eq!(
            default_url("http://127.0.0.1:8000/v1/chat/completions").as_deref(),
            Some("http://127.0.0.1:8000/metrics")
        );
        assert_eq!(default_url("https://h.example/v1").as_deref(), Some("https://h.example/metrics"));
        assert_eq!(default_url("not a url"), None);
    }
}
