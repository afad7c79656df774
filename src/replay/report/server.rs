//! The server section of every report: what the server's own metrics said over the run
//! and the steady-state window (KV-cache use, requests running and waiting, preemptions,
//! the prefix-cache hit rate from counter deltas), the prefix-cache accounting (reported
//! against expected cached tokens, the reset, warm-start warnings) and our clock against
//! the server's (llama.cpp `timings`). Built once as document parts; the console gets a
//! few lines, the HTML two plots on the client plots' time axis.

use super::document::{Inline, Table};
use super::html::Built;
use super::plots::{colour, Axis, Data, Plot, Series};
use crate::display::{count, duration_ms, num, percent, rate1, NONE};
use crate::replay::results::RunResults;
use crate::replay::server_metrics::concepts::Concept;
use crate::replay::server_metrics::summary::{GaugeStats, ServerSummary};

/// The section's parts; `None` when the run has nothing about the server.
#[derive(Debug, Clone)]
pub(crate) struct ServerSection {
    /// Metric | run | window (when there is one).
    pub summary: Option<Table>,
    pub prefix: Option<Table>,
    pub clock: Option<Table>,
    /// Warnings and notes, in words.
    pub notes: Vec<Inline>,
}

pub(crate) fn section(r: &RunResults) -> Option<ServerSection> {
    let mut notes = Vec::new();
    let mut summary = None;
    if let Some(m) = &r.server_metrics {
        if let Some(run) = &m.run {
            summary = Some(summary_table(run, m.window.as_ref()));
        }
        let scraped = format!(
            "{} scrapes of {} every {} ms ({} failed){}",
            m.scrapes,
            m.url,
            num(m.interval_ms),
            m.failed_scrapes,
            if m.server.is_empty() { String::new() } else { format!("; names of {}", m.server) }
        );
        notes.push(Inline::text(scraped));
        notes.extend(m.notes.iter().map(|n| Inline::text(n.clone())));
    }
    let prefix = r.prefix_cache.as_ref().map(|p| {
        if let Some(reset) = &p.reset {
            let done = if reset.done { "done" } else { "NOT done" };
            notes.push(Inline::strong(format!("--reset-prefix-cache {done}: ")).then_text(reset.what.clone()));
        }
        notes.extend(p.warnings.iter().map(|w| Inline::strong("Warning: ").then_text(w.clone())));
        let rows = vec![
            vec![Inline::text("requests with server usage"), Inline::text(count(p.requests_with_usage as u64))],
            vec![
                Inline::text("cached prompt tokens, reported (server usage)"),
                Inline::text(format!(
                    "{} of {} = {}",
                    count(p.cached_tokens),
                    count(p.prompt_tokens),
                    pct(p.reported_hit_rate)
                )),
            ],
            vec![
                Inline::text("cached prompt tokens, expected (ideal cache under the cache mode)"),
                Inline::text(format!("{} = {}", count(p.expected_cached_tokens), pct(p.expected_hit_rate))),
            ],
            vec![
                Inline::text("requests below / above expected"),
                Inline::text(format!("{} / {}", p.below_expected, p.above_expected)),
            ],
        ];
        Table { header: vec!["Prefix cache".into(), "Value".into()], rows }
    });
    let clock = r.clock_check.as_ref().map(|c| {
        let dist = |d: &Option<crate::stats::Distribution>, f: fn(f64) -> String| {
            d.as_ref().map_or(NONE.to_string(), |d| format!("min {} p50 {} p99 {}", f(d.min), f(d.p50), f(d.p99)))
        };
        let rows = vec![
            vec![Inline::text("requests with server timings"), Inline::text(count(c.requests as u64))],
            vec![
                Inline::text("client TTFT − server prompt_ms"),
                Inline::text(dist(&c.ttft_minus_server_prompt_ms, duration_ms)),
            ],
            vec![
                Inline::text("requests whose TTFT < server prompt_ms"),
                Inline::text(count(c.ttft_below_server_prompt as u64)),
            ],
            vec![Inline::text("decode tok/s, ours"), Inline::text(dist(&c.client_decode_tok_per_s, rate1))],
            vec![
                Inline::text("decode tok/s, server's (predicted_per_second)"),
                Inline::text(dist(&c.server_decode_tok_per_s, rate1)),
            ],
            vec![
                Inline::text("ours / server's, p50"),
                Inline::text(c.decode_ratio_p50.map_or(NONE.to_string(), |x| format!("×{x:.3}"))),
            ],
        ];
        Table { header: vec!["Our clock vs the server's".into(), "Value".into()], rows }
    });
    if summary.is_none() && prefix.is_none() && clock.is_none() && notes.is_empty() {
        return None;
    }
    Some(ServerSection { summary, prefix, clock, notes })
}

fn pct(v: Option<f64>) -> String {
    v.map_or(NONE.to_string(), percent)
}

fn gauge(g: &Option<GaugeStats>, f: fn(f64) -> String) -> String {
    g.map_or(NONE.to_string(), |g| format!("max {} mean {}", f(g.max), f(g.mean)))
}

fn counter(v: Option<f64>) -> String {
    v.map_or(NONE.to_string(), |v| count(v.max(0.0).round() as u64))
}

fn summary_table(run: &ServerSummary, window: Option<&ServerSummary>) -> Table {
    type Cell = fn(&ServerSummary) -> String;
    let metrics: [(&str, Cell); 8] = [
        ("KV-cache use", |s| gauge(&s.kv_cache_usage, percent)),
        ("requests running", |s| gauge(&s.requests_running, num)),
        ("requests waiting", |s| gauge(&s.requests_waiting, num)),
        ("preemptions", |s| counter(s.preemptions)),
        ("prefix-cache hit rate (Δ hits / Δ queries)", |s| {
            format!(
                "{} ({} of {} tokens)",
                pct(s.prefix_cache_hit_rate),
                counter(s.prefix_cache_hits),
                counter(s.prefix_cache_queries)
            )
        }),
        ("prompt tokens (server count)", |s| counter(s.prompt_tokens)),
        ("generation tokens (server count)", |s| counter(s.generation_tokens)),
        ("server's own hit-rate gauge", |s| gauge(&s.server_hit_rate_gauge, percent)),
    ];
    let mut header = vec!["Server metric".to_string(), "Run".to_string()];
    if let Some(w) = window {
        header.push(format!("Window {:.1}–{:.1} s", w.from_ms / 1000.0, w.to_ms / 1000.0));
    }
    let rows = metrics
        .iter()
        .filter(|(_, cell)| cell(run) != NONE && !cell(run).starts_with(&format!("{NONE} (")))
        .map(|(name, cell)| {
            let mut row = vec![Inline::text(*name), Inline::text(cell(run))];
            if let Some(w) = window {
                row.push(Inline::text(cell(w)));
            }
            row
        })
        .collect();
    Table { header, rows }
}

/// `text` as console lines of at most 100 columns: `  ` first, `    ` after.
fn lines(out: &mut String, text: &str) {
    for (i, line) in crate::display::wrap(text, 96).lines().enumerate() {
        out.push_str(if i == 0 { "  " } else { "    " });
        out.push_str(line);
        out.push('\n');
    }
}

/// The console's lines about the server.
pub(crate) fn console(r: &RunResults) -> String {
    let mut out = String::new();
    if let Some(m) = &r.server_metrics {
        if let Some(s) = &m.run {
            let mut parts = Vec::new();
            if let Some(g) = &s.kv_cache_usage {
                parts.push(format!("KV cache max {} mean {}", percent(g.max), percent(g.mean)));
            }
            if let (Some(run), Some(wait)) = (&s.requests_running, &s.requests_waiting) {
                parts.push(format!("running max {} | waiting max {}", num(run.max), num(wait.max)));
            }
            if let Some(p) = s.preemptions {
                parts.push(format!("preemptions {}", counter(Some(p))));
            }
            if s.prefix_cache_hit_rate.is_some() {
                parts.push(format!("prefix-cache hit {}", pct(s.prefix_cache_hit_rate)));
            }
            let server = if m.server.is_empty() { "?" } else { &m.server };
            lines(&mut out, &format!("Server ({server}): {}", parts.join(" | ")));
        }
        for note in &m.notes {
            lines(&mut out, &format!("Server metrics: {note}"));
        }
    }
    if let Some(p) = &r.prefix_cache {
        if let Some(reset) = &p.reset {
            let done = if reset.done { "done" } else { "NOT done" };
            lines(&mut out, &format!("Prefix-cache reset {done}: {}", reset.what));
        }
        for w in &p.warnings {
            lines(&mut out, &format!("WARNING: {w}"));
        }
        if p.requests_with_usage > 0 {
            let text = format!(
                "Prefix cache: reported {} | expected {} (ideal cache under the cache mode)",
                pct(p.reported_hit_rate),
                pct(p.expected_hit_rate)
            );
            lines(&mut out, &text);
        }
    }
    if let Some(c) = &r.clock_check {
        let gap = c.ttft_minus_server_prompt_ms.as_ref().map_or(NONE.to_string(), |d| duration_ms(d.p50));
        let text = format!(
            "Server timings ({} requests): TTFT − server prompt_ms p50 {gap}; {} below 0 | decode ours/server's p50 {}",
            c.requests,
            c.ttft_below_server_prompt,
            c.decode_ratio_p50.map_or(NONE.to_string(), |x| format!("×{x:.3}"))
        );
        lines(&mut out, &text);
    }
    out
}

/// The HTML plots: the server's requests running and waiting beside the client's in
/// flight, and the server's KV-cache use and prefix-cache hit rate, on the run's time axis.
pub(crate) fn plots(r: &RunResults) -> Vec<(Built, bool)> {
    let Some(m) = r.server_metrics.as_ref().filter(|m| m.run.is_some()) else {
        return Vec::new();
    };
    let t = &m.series.t_ms;
    let end_s = r
        .requests
        .iter()
        .map(|q| q.start_ms + q.total_ms.or(q.e2e_ms).unwrap_or(0.0))
        .chain(t.iter().copied())
        .fold(0.0, f64::max)
        / 1000.0;
    let line = |c: Concept, scale: f64| -> Vec<(f64, f64)> {
        m.series.concept(c).map_or(Vec::new(), |col| {
            t.iter()
                .zip(col)
                .filter_map(|(t, v)| v.map(|v| (t.max(0.0) / 1000.0, v * scale)))
                .filter(|(t, _)| *t <= end_s)
                .collect()
        })
    };
    let x = || Axis::fixed("seconds from the run's start", 0.0, end_s.max(0.001));

    let mut counts = Vec::new();
    let client = super::html::requests_in_flight(r);
    if !client.is_empty() {
        counts.push(Series { name: "client: requests in flight".into(), colour: colour(0), data: Data::Line(client) });
    }
    for (i, (c, name)) in
        [(Concept::Running, "server: running"), (Concept::Waiting, "server: waiting")].iter().enumerate()
    {
        let points = line(*c, 1.0);
        if !points.is_empty() {
            counts.push(Series { name: (*name).into(), colour: colour(i + 1), data: Data::Line(points) });
        }
    }
    const COUNTS: &str = "Requests: client in flight, server running and waiting";
    let counts_plot: Built = if counts.len() > 1 {
        let y = Axis::fit("requests", counts.iter().flat_map(|s| s.data.points()).map(|p| p.1), false);
        let mut p = Plot::new(
            "server-requests",
            COUNTS,
            "the client's requests between send and end of response, and the server's <code>requests_running</code> / \
             <code>requests_waiting</code> at each scrape (vLLM <code>num_requests_*</code>, SGLang <code>num_running_reqs</code> / \
             <code>num_queue_reqs</code>, llama.cpp <code>requests_processing</code> / <code>requests_deferred</code>).",
            x(),
            y,
            counts,
        );
        p.legend = true;
        Ok(p)
    } else {
        Err((COUNTS, "The server reported neither running nor waiting requests.".into()))
    };

    let mut cache = Vec::new();
    let kv = line(Concept::KvCacheUsage, 100.0);
    if !kv.is_empty() {
        cache.push(Series { name: "KV-cache use %".into(), colour: colour(3), data: Data::Line(kv) });
    }
    let hit = interval_hit_rate(m);
    if !hit.is_empty() {
        cache.push(Series {
            name: "prefix-cache hit % (per scrape interval)".into(),
            colour: colour(4),
            data: Data::Line(hit),
        });
    }
    const CACHE: &str = "Server KV cache and prefix-cache hits";
    let cache_plot: Built = if cache.is_empty() {
        Err((CACHE, "The server reported neither KV-cache use nor prefix-cache counters.".into()))
    } else {
        let mut p = Plot::new(
            "server-cache",
            CACHE,
            "<code>kv_cache_usage</code> × 100 at each scrape; Δ <code>prefix_cache_hits</code> / Δ <code>prefix_cache_queries</code> \
             between consecutive scrapes × 100 (intervals with no query left out).",
            x(),
            Axis::fixed("%", 0.0, 100.0),
            cache,
        );
        p.legend = true;
        Ok(p)
    };
    vec![(counts_plot, false), (cache_plot, false)]
}

/// Δ hits / Δ queries between consecutive scrapes, as (s, %), at the later scrape.
fn interval_hit_rate(m: &crate::replay::server_metrics::ServerMetrics) -> Vec<(f64, f64)> {
    let (Some(h), Some(q)) = (m.series.concept(Concept::PrefixHits), m.series.concept(Concept::PrefixQueries)) else {
        return Vec::new();
    };
    let rows: Vec<(f64, f64, f64)> =
        m.series.t_ms.iter().zip(h.iter().zip(q)).filter_map(|(t, (h, q))| Some((*t, (*h)?, (*q)?))).collect();
    rows.windows(2)
        .filter_map(|w| {
            let (dq, dh) = (w[1].2 - w[0].2, w[1].1 - w[0].1);
            (dq > 0.0 && dh >= 0.0).then(|| (w[1].0.max(0.0) / 1000.0, (dh / dq * 100.0).min(100.0)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::sample_run;
    use super::*;
    use crate::replay::server_metrics::exposition::parse;
    use crate::replay::server_metrics::table::SeriesTable;
    use crate::replay::server_metrics::ServerMetrics;

    fn with_server(mut r: RunResults) -> RunResults {
        let mut table = SeriesTable::new();
        for (i, (run, wait, kv, q, h)) in
            [(0, 0, 0.0, 0, 0), (2, 1, 0.2, 1000, 0), (3, 0, 0.4, 3000, 1500), (0, 0, 0.4, 4000, 2500)]
                .iter()
                .enumerate()
        {
            let text = format!(
                "vllm:num_requests_running {run}\nvllm:num_requests_waiting {wait}\nvllm:kv_cache_usage_perc {kv}\n\
                 vllm:prefix_cache_queries_total {q}\nvllm:prefix_cache_hits_total {h}\n"
            );
            table.push(i as f64 * 1500.0 - 10.0, Some(&parse(&text).unwrap()));
        }
        let run = ServerSummary::of(&table, 0.0, 5000.0);
        r.server_metrics = Some(ServerMetrics {
            url: "http://127.0.0.1:8000/metrics".into(),
            server: "vllm".into(),
            interval_ms: 250.0,
            scrapes: 4,
            run: Some(run),
            series: table,
            ..Default::default()
        });
        r
    }

    #[test]
    fn the_summary_has_the_server_s_numbers() {
        let r = with_server(sample_run());
        let s = section(&r).unwrap();
        let table = s.summary.unwrap();
        let cells: Vec<String> = table.rows.iter().map(|row| format!("{:?}", row)).collect();
        assert!(cells.iter().any(|c| c.contains("KV-cache use") && c.contains("max 40.0%")), "{cells:?}");
        assert!(cells.iter().any(|c| c.contains("62.5% (2,500 of 4,000 tokens)")), "{cells:?}");
        let text = console(&r);
        assert!(text.contains("KV cache max 40.0%"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn plots_share_the_run_s_time_axis_and_hold_their_points() {
        let r = with_server(sample_run());
        let plots = plots(&r);
        assert_eq!(plots.len(), 2);
        for (p, _) in &plots {
            let p = p.as_ref().unwrap();
            assert_eq!(p.x.lo, 0.0);
            assert!(p.outside().is_empty(), "{}: {:?}", p.id, p.outside());
        }
        let cache = plots[1].0.as_ref().unwrap();
        assert_eq!(cache.series[1].data.points(), vec![(1.49, 0.0), (2.99, 75.0), (4.49, 100.0)]);
    }
}
