//! The scrape loop: `GET /metrics` every interval in a task of its own, from a scrape
//! before the first request to one after the last. A scrape that fails, is slow or reads
//! as garbage is a counted note, never an error: the loop only delays its own next scrape
//! and never touches a replay worker's connection or task.
//!
//! Bounds: an answer of at most [`MAX_BODY`] bytes, within a timeout of twice the
//! interval (at least 1 s, at most 10 s); the table bounds what is kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Method;
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

use super::exposition::{self, Point};
use super::http::Http;
use super::table::SeriesTable;

/// Largest `/metrics` answer read (vLLM's is about 100 KB).
pub(crate) const MAX_BODY: usize = 4 << 20;

/// How long one scrape may take.
pub(crate) fn scrape_timeout(interval: Duration) -> Duration {
    (interval * 2).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// One scrape: the samples, or why there are none.
pub(crate) async fn scrape_once(http: &Http, url: &str, timeout: Duration) -> Result<Vec<Point>, String> {
    let answer = http.call(Method::GET, url, timeout, MAX_BODY).await?;
    if answer.status != 200 {
        return Err(format!("HTTP {}", answer.status));
    }
    let text = std::str::from_utf8(&answer.body).map_err(|_| "the answer is not UTF-8 text".to_string())?;
    let points = exposition::parse(text)?;
    if points.is_empty() {
        let what = if answer.content_type.is_empty() { String::new() } else { format!(" ({})", answer.content_type) };
        return Err(format!("no metric samples in the answer{what}"));
    }
    Ok(points)
}

/// What the loop gathered.
#[derive(Default)]
pub(crate) struct Collected {
    pub table: SeriesTable,
    pub scrapes: u64,
    pub failed: u64,
    /// Failure message → (count, first time on the scraper's clock, ms).
    pub failures: BTreeMap<String, (u64, f64)>,
    /// Server kind by the names of the last good scrape.
    pub server: Option<&'static str>,
}

impl Collected {
    pub(crate) fn record(&mut self, t_ms: f64, result: Result<Vec<Point>, String>) {
        self.scrapes += 1;
        match result {
            Ok(points) => {
                self.server = Some(super::concepts::ByName::of(&points).server());
                self.table.push(t_ms, Some(&points));
            }
            Err(e) => {
                self.failed += 1;
                let e: String = e.chars().take(200).collect();
                self.failures.entry(e).or_insert((0, t_ms)).0 += 1;
                self.table.push(t_ms, None);
            }
        }
    }
}

/// The loop, running.
pub(crate) struct Scraper {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    collected: Arc<Mutex<Collected>>,
    timeout: Duration,
}

impl Scraper {
    /// Starts scraping every `interval`, `collected` already holding the probe.
    pub(crate) fn start(http: Http, url: String, interval: Duration, origin: Instant, collected: Collected) -> Self {
        let timeout = scrape_timeout(interval);
        let collected = Arc::new(Mutex::new(collected));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let shared = Arc::clone(&collected);
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                let last = tokio::select! {
                    biased;
                    _ = &mut stopped => true,
                    _ = ticker.tick() => false,
                };
                let sent = origin.elapsed();
                let result = scrape_once(&http, &url, timeout).await;
                let t_ms = (sent + origin.elapsed()).as_secs_f64() * 500.0;
                shared.lock().unwrap_or_else(|p| p.into_inner()).record(t_ms, result);
                if last {
                    break;
                }
            }
        });
        Scraper { stop: Some(stop), task, collected, timeout }
    }

    /// Takes the last scrape (after the last request) and returns everything gathered.
    pub(crate) async fn finish(mut self) -> Collected {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The last scrape is bounded by its timeout; a scrape still running when the
        // stop came is waited for too.
        let _ = tokio::time::timeout(self.timeout * 2 + Duration::from_millis(100), &mut self.task).await;
        std::mem::take(&mut *self.collected.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for Scraper {
    /// A run that failed drops its scraper: the loop stops with it.
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_message_and_keep_the_columns_aligned() {
        let mut c = Collected { table: SeriesTable::new(), ..Default::default() };
        c.record(0.0, exposition::parse("vllm:num_requests_running 1\n"));
        c.record(250.0, Err("HTTP 500".into()));
        c.record(500.0, Err("HTTP 500".into()));
        assert_eq!((c.scrapes, c.failed, c.server), (3, 2, Some("vllm")));
        assert_eq!(c.failures["HTTP 500"], (2, 250.0));
        assert_eq!(c.table.t_ms.len(), 3);
    }

    #[test]
    fn the_timeout_follows_the_interval_within_bounds() {
        assert_eq!(scrape_timeout(Duration::from_millis(250)), Duration::from_secs(1));
        assert_eq!(scrape_timeout(Duration::from_secs(2)), Duration::from_secs(4));
        assert_eq!(scrape_timeout(Duration::from_secs(60)), Duration::from_secs(10));
    }
}
