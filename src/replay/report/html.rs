//! The HTML report (`asb report -o run.html`): one self-contained file — inline CSS, inline
//! SVG, no script, no external URL — with the same content as the Markdown report, in the
//! order a reader needs it: the verdict and headline numbers first, then the plots, the
//! tables, and the configuration folded away. Grades are CSS badges, never emoji (which
//! render as empty boxes without an emoji font). Wide tables scroll inside their box.
//!
//! The plots ([`run_plots`]) are drawn from the raw per-request samples: TTFT and ITL as
//! ECDFs per bucket on a log axis (an outlier stretches the axis, not the curve), TTFT
//! against prompt tokens, decode rate against context, throughput and requests/sessions
//! in flight over time, and every request on a timeline. A plot without data is a one-line
//! note instead.

use std::fmt::Write as _;

use crate::replay::results::{RequestSample, RunResults};
use crate::replay::sample_row::Sample;
use crate::replay::session_row::SessionFigures;

use super::document::{Document, Inline, Span, Table, VerdictView};
use super::plots::{colour, ecdf, Axis, Data, Plot, Series, FAILED, GREY};
use crate::replay::verdict::Grade;

pub(crate) const CSS: &str = "\
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:16px 24px}
h1{margin:8px 0 4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.subtitle{color:#555;margin-top:0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:12px 0;font-size:13px;background:#fff}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}
td{white-space:nowrap}td:last-child{white-space:normal}
td{font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;background:#f3f3f3;padding:0 3px;border-radius:3px;overflow-wrap:anywhere}
.verdict{font-size:18px;background:#fff;border-left:4px solid #888;padding:8px 16px;margin:12px 0}
.verdict.good{border-color:#2ca02c}.verdict.ok{border-color:#e6a700}.verdict.poor{border-color:#d62728}
.headline{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.headline div{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px 14px;min-width:140px}
.headline b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.headline span{color:#555;font-size:13px}
.badge{display:inline-block;border-radius:4px;padding:1px 7px;font-size:12px;font-weight:bold;color:#fff;letter-spacing:.03em;white-space:nowrap}
.badge.good,.badge.better{background:#2ca02c}.badge.ok{background:#e6a700}.badge.poor,.badge.worse{background:#d62728}
.badge.unknown,.badge.same{background:#888}
.note{color:#555}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #ddd;padding:8px;min-width:0}
figure.wide{grid-column:1/-1}
figcaption{font-size:13px;color:#333;margin-bottom:4px}
.legend{list-style:none;margin:4px 0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg{display:block;max-width:100%;height:auto}
details{background:#fff;border:1px solid #ddd;padding:6px 12px;margin:12px 0}
summary{cursor:pointer;font-weight:bold}
.nodata{color:#777;font-style:italic}
.failed{color:#d62728;font-weight:bold}.waiting{color:#999;font-weight:bold}
";

/// The head of a page titled `title`, up to the opening `<main>`.
pub(crate) fn page_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(title)
    )
}

/// The report of `r` as one HTML page.
pub(crate) fn render(r: &RunResults) -> String {
    let doc = Document::build(r, None);
    let mut out = page_head(&format!("{} — {}", doc.title, doc.subtitle));
    let _ = writeln!(out, "<h1>{}</h1>\n<p class=\"subtitle\">{}</p>", escape(&doc.title), escape(&doc.subtitle));
    if let Some(label) = &doc.label {
        let _ = writeln!(out, "<p class=\"subtitle\">Run <strong>{}</strong></p>", escape(label));
    }

    verdict(&mut out, &doc.verdict);
    for note in &doc.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", inline(note));
    }

    if !doc.findings.is_empty() {
        out.push_str("<h3>Key findings</h3>\n<ul>\n");
        for finding in &doc.findings {
            let _ = writeln!(out, "<li>{}</li>", inline(finding));
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h2>Plots</h2>\n<div class=\"plots\">\n");
    for (plot, wide) in run_plots(r) {
        out.push_str(&match plot {
            Ok(plot) => plot.figure(wide),
            Err((title, why)) => no_data(title, &why),
        });
    }
    out.push_str("</div>\n");

    out.push_str("<h2>Results</h2>\n");
    if doc.results.rows.is_empty() {
        out.push_str("<p>No requests were sent.</p>\n");
    } else {
        table(&mut out, &doc.results);
        for line in &doc.results_legend {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", inline(line));
        }
    }

    out.push_str("<h2>Overall</h2>\n");
    table(&mut out, &doc.overall);
    if !doc.distributions.rows.is_empty() {
        out.push_str("<h3>Distributions over successful requests</h3>\n");
        table(&mut out, &doc.distributions);
    }

    if let Some(server) = &doc.server {
        out.push_str("<h2>Server</h2>\n");
        for note in &server.notes {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", inline(note));
        }
        for t in [&server.summary, &server.prefix, &server.clock].into_iter().flatten() {
            table(&mut out, t);
        }
    }

    out.push_str("<h2>Configuration</h2>\n<details>\n<summary>");
    let _ = write!(out, "{} settings", doc.configuration.rows.len());
    out.push_str("</summary>\n");
    table(&mut out, &doc.configuration);
    out.push_str("</details>\n");

    out.push_str("<h2>Tasks</h2>\n");
    if doc.tasks.rows.is_empty() {
        out.push_str("<p>No tasks.</p>\n");
    } else {
        table(&mut out, &doc.tasks);
    }

    if let Some((line, checks)) = &doc.answer_checks {
        out.push_str("<h2>Answer checks</h2>\n");
        let _ = writeln!(out, "<p>{}</p>", escape(line));
        table(&mut out, checks);
    }

    out.push_str("<h2>Errors</h2>\n");
    match &doc.errors {
        None => out.push_str("<p>No errors.</p>\n"),
        Some(errors) => table(&mut out, errors),
    }

    out.push_str("<h2>Metric definitions</h2>\n<details>\n<summary>How every number above is computed (from the run's own <code>formulas</code>)</summary>\n");
    table(&mut out, &doc.definitions);
    out.push_str("</details>\n</main>\n</body>\n</html>\n");
    out
}

/// Text made safe for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && !c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn inline(i: &Inline) -> String {
    i.0.iter()
        .map(|span| match span {
            Span::Text(s) => escape(s),
            Span::Code(s) => format!("<code>{}</code>", escape(s)),
            Span::Strong(s) => format!("<strong>{}</strong>", escape(s)),
        })
        .collect()
}

fn table(out: &mut String, t: &Table) {
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", badge_or_inline(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// A cell holding a grade's icon becomes its CSS badge; anything else is rendered as is.
fn badge_or_inline(cell: &Inline) -> String {
    if let [Span::Text(t)] = cell.0.as_slice() {
        for g in [Grade::Good, Grade::Ok, Grade::Poor, Grade::Unknown] {
            if t == g.icon() {
                return badge(g);
            }
        }
    }
    inline(cell)
}

/// The CSS badge of a grade: text on a coloured ground, no font needed.
pub(crate) fn badge(g: Grade) -> String {
    let (class, text) = match g {
        Grade::Good => ("good", "GOOD"),
        Grade::Ok => ("ok", "MARGINAL"),
        Grade::Poor => ("poor", "POOR"),
        Grade::Unknown => ("unknown", "UNKNOWN"),
    };
    format!("<span class=\"badge {class}\">{text}</span>")
}

fn grade_class(g: Grade) -> &'static str {
    match g {
        Grade::Good => "good",
        Grade::Ok => "ok",
        Grade::Poor => "poor",
        Grade::Unknown => "unknown",
    }
}

fn verdict(out: &mut String, v: &VerdictView) {
    match v {
        VerdictView::NothingSent => {
            out.push_str("<p class=\"verdict\">No requests were sent - all were skipped or filtered out.</p>\n")
        }
        VerdictView::NoSuccess => out.push_str(
            "<p class=\"verdict poor\"><strong>No successful requests.</strong> Check endpoint configuration.</p>\n",
        ),
        VerdictView::Graded { grade, bucket, experience, headline, basis } => {
            let _ = write!(
                out,
                "<div class=\"verdict {}\"><p>{} <strong>{}</strong>",
                grade_class(*grade),
                badge(*grade),
                escape(grade.label())
            );
            if let Some(b) = bucket {
                let _ = write!(out, " at <code>{}</code> context", escape(b));
            }
            if let Some(e) = experience {
                let _ = write!(out, " — {}", escape(e));
            }
            out.push_str("</p></div>\n<div class=\"headline\">");
            for (value, what) in headline {
                let _ = write!(out, "<div><b>{}</b><span>{}</span></div>", escape(value), escape(what));
            }
            out.push_str("</div>\n");
            if !basis.is_empty() {
                let _ = writeln!(out, "<p class=\"note\">Verdict basis: {}</p>", escape(basis));
            }
        }
    }
}

fn no_data(title: &str, why: &str) -> String {
    format!(
        "<figure class=\"plot\" data-plot=\"none\">\n<figcaption><strong>{}</strong></figcaption>\n<p class=\"nodata\">{}</p>\n</figure>\n",
        escape(title),
        escape(why)
    )
}

/// A plot, or `(title, why there is none)`.
pub(crate) type Built = Result<Plot, (&'static str, String)>;

/// Every plot of the run's report, and whether it takes the page's whole width.
pub(crate) fn run_plots(r: &RunResults) -> Vec<(Built, bool)> {
    vec![
        (ttft_ecdf(r), false),
        (itl_ecdf(r), false),
        (ttft_vs_prompt(r), false),
        (decode_vs_context(r), false),
        (throughput_over_time(&[(r, colour(0), String::new())]), false),
        (in_flight(r), false),
    ]
    .into_iter()
    .chain(super::server::plots(r))
    .chain([(timeline(r), true)])
    .collect()
}

/// Requests in flight over the run (seconds, count): the in-flight plot's line. A spilled
/// run's from its rows (every request), thinned to [`MAX_LINE_POINTS`].
pub(crate) fn requests_in_flight(r: &RunResults) -> Vec<(f64, f64)> {
    match r.requests.rows() {
        Some(s) => occupancy(
            s.rows.iter().map(|q| (finite(q.start_ms()), finite(q.start_ms() + q.total_ms().unwrap_or(0.0)))),
            Some(MAX_LINE_POINTS),
        ),
        None => occupancy(r.requests.iter().map(|q| (finite(q.start_ms), end_ms(q))), None),
    }
}

/// A line of a spilled (big) run's plot keeps at most this many points, evenly spaced.
const MAX_LINE_POINTS: usize = 20_000;

/// The successful requests, warm-up and cool-down included: what the plots are made of.
fn counted(r: &RunResults) -> impl Iterator<Item = &RequestSample> {
    r.requests.iter().filter(|q| q.ok)
}

/// `(bucket index, bucket name, sorted positive finite values)` for each bucket with any.
fn per_bucket(r: &RunResults, values: impl Fn(&RequestSample) -> Vec<f64>) -> Vec<(usize, String, Vec<f64>)> {
    r.buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let mut v: Vec<f64> = counted(r)
                .filter(|q| q.bucket == b.name)
                .flat_map(&values)
                .filter(|v| v.is_finite() && *v > 0.0)
                .collect();
            v.sort_by(f64::total_cmp);
            (!v.is_empty()).then(|| (i, b.name.clone(), v))
        })
        .collect()
}

/// An ECDF plot of `groups` on a log x axis: `(colour, name, sorted values)`.
pub(crate) fn ecdf_plot(
    id: &'static str,
    title: &str,
    caption: &str,
    x_label: &str,
    groups: Vec<(plotters::style::RGBColor, String, Vec<f64>)>,
) -> Plot {
    let x = Axis::fit(x_label, groups.iter().flat_map(|(_, _, v)| v.iter().copied()), true);
    let series = groups
        .into_iter()
        .map(|(c, name, v)| {
            let points = ecdf(&v);
            Series { name: format!("{name} (n = {})", v.len()), colour: c, data: Data::Line(points) }
        })
        .collect();
    Plot::new(id, title, caption, x, Axis::fixed("share of requests ≤ x", 0.0, 1.0), series)
}

fn ttft_ecdf(r: &RunResults) -> Built {
    const TITLE: &str = "TTFT per context bucket";
    let groups = per_bucket(r, |q| q.ttft_ms.into_iter().collect());
    if groups.is_empty() {
        return Err((TITLE, "No successful request with a TTFT: nothing to plot.".into()));
    }
    let groups = groups.into_iter().map(|(i, name, v)| (colour(i), name, v)).collect();
    Ok(ecdf_plot(
        "ttft-ecdf",
        TITLE,
        "share of each bucket's successful requests whose <code>ttft_ms</code> is at most x (an ECDF; \
         log axis, so one cold-prefill outlier does not squash the rest). Read the median at 0.5, p90 at 0.9.",
        "TTFT (ms, log scale)",
        groups,
    ))
}

fn itl_ecdf(r: &RunResults) -> Built {
    const TITLE: &str = "ITL per context bucket";
    let groups = per_bucket(r, |q| q.itl_ms.clone());
    if groups.is_empty() {
        return Err((
            TITLE,
            "No inter-token gaps (every successful response came in one chunk, or none succeeded).".into(),
        ));
    }
    let groups = groups.into_iter().map(|(i, name, v)| (colour(i), name, v)).collect();
    Ok(ecdf_plot(
        "itl-ecdf",
        TITLE,
        "the gaps (<code>itl_ms</code>) of each bucket's successful requests pooled, as an ECDF on a log axis. \
         Gaps are per chunk, not per token.",
        "ITL (ms, log scale)",
        groups,
    ))
}

/// Prompt tokens as the plots count them: the server's, else the estimate.
fn prompt(q: &RequestSample) -> f64 {
    q.prompt_tokens.unwrap_or(q.context_tokens_estimate) as f64
}

/// A scatter per bucket of `(prompt tokens, value)`.
fn scatter(r: &RunResults, y: impl Fn(&RequestSample) -> Option<f64>) -> Vec<Series> {
    r.buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let points: Vec<(f64, f64)> = counted(r)
                .filter(|q| q.bucket == b.name)
                .filter_map(|q| y(q).filter(|v| v.is_finite() && *v > 0.0).map(|v| (prompt(q), v)))
                .collect();
            (!points.is_empty()).then(|| Series {
                name: format!("{} ({})", b.name, points.len()),
                colour: colour(i),
                data: Data::Dots(points),
            })
        })
        .collect()
}

fn ttft_vs_prompt(r: &RunResults) -> Built {
    const TITLE: &str = "TTFT against prompt size";
    let series = scatter(r, |q| q.ttft_ms);
    if series.is_empty() {
        return Err((TITLE, "No successful request with a TTFT: nothing to plot.".into()));
    }
    let points = || series.iter().flat_map(|s| s.data.points());
    let x = Axis::fit("prompt tokens", points().map(|p| p.0), false);
    let y = Axis::fit("TTFT (ms, log scale)", points().map(|p| p.1), true);
    Ok(Plot::new(
        "ttft-vs-prompt",
        TITLE,
        "one dot per successful request: <code>ttft_ms</code> against <code>prompt_tokens</code> (else \
         <code>context_tokens_estimate</code>), coloured by bucket. Prefill cost grows with the uncached part of \
         the prompt; cache hits sit low.",
        x,
        y,
        series,
    ))
}

fn decode_vs_context(r: &RunResults) -> Built {
    const TITLE: &str = "Decode rate against context";
    let series = scatter(r, |q| q.decode_tok_per_s);
    if series.is_empty() {
        return Err((TITLE, "No successful request with a decode rate (it needs at least two output tokens).".into()));
    }
    let points = || series.iter().flat_map(|s| s.data.points());
    let x = Axis::fit("prompt tokens (context)", points().map(|p| p.0), false);
    let y = Axis::fit("decode tok/s per request", points().map(|p| p.1), false);
    Ok(Plot::new(
        "decode-vs-context",
        TITLE,
        "one dot per successful request: <code>decode_tok_per_s</code> against its prompt tokens, coloured by \
         bucket. Attention over a longer context usually slows decoding.",
        x,
        y,
        series,
    ))
}

/// The end of a request's response, ms from the run's start (its send when it has none).
fn end_ms(q: &RequestSample) -> f64 {
    finite(q.start_ms) + q.total_ms.map_or(0.0, finite)
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

/// Output tokens per second over the run, in bins of a round width: each successful
/// request's tokens spread evenly from its first output to its last. One series per run.
pub(crate) fn throughput_over_time(runs: &[(&RunResults, plotters::style::RGBColor, String)]) -> Built {
    const TITLE: &str = "Output throughput over time";
    let duration_s = runs.iter().flat_map(|(r, _, _)| r.requests.iter().map(end_ms)).fold(0.0, f64::max) / 1000.0;
    if runs.iter().all(|(r, _, _)| !r.requests.iter().any(|q| q.ok)) || duration_s <= 0.0 {
        return Err((TITLE, "No successful request: no output to plot.".into()));
    }
    let width = bin_width(duration_s);
    let bins = (duration_s / width).ceil().max(1.0) as usize;
    let mut series = Vec::new();
    for (r, c, name) in runs {
        let mut tokens = vec![0.0f64; bins];
        for q in r.requests.iter().filter(|q| q.ok) {
            let from = (finite(q.start_ms) + q.ttft_ms.map_or(0.0, finite)) / 1000.0;
            let to = (finite(q.start_ms) + q.e2e_ms.or(q.ttft_ms).map_or(0.0, finite)) / 1000.0;
            spread(&mut tokens, width, from, to.max(from), q.completion_tokens as f64);
        }
        // Each run's line ends with its own last response, not the longer run's.
        let own_end = r.requests.iter().map(end_ms).fold(0.0, f64::max) / 1000.0;
        let points: Vec<(f64, f64)> = tokens
            .iter()
            .enumerate()
            .take_while(|(i, _)| (*i as f64) * width < own_end)
            .map(|(i, t)| ((i as f64 + 0.5) * width, t / width))
            .collect();
        let data = Data::Line(points);
        let name = if name.is_empty() { "output tok/s".to_string() } else { name.clone() };
        series.push(Series { name, colour: *c, data });
    }
    let points = || series.iter().flat_map(|s| s.data.points());
    let x = Axis::fit("seconds from the run's start", points().map(|p| p.0 + width / 2.0), false);
    let y = Axis::fit("output tok/s (all requests)", points().map(|p| p.1), false);
    let caption = format!(
        "Σ <code>completion_tokens</code> of successful requests per {} s bin, each request's tokens spread \
         evenly from its first output to its last.",
        crate::display::num(width)
    );
    let mut plot = Plot::new("throughput", TITLE, &caption, x, y, series);
    plot.legend = runs.len() > 1;
    Ok(plot)
}

/// A round bin width giving about 60 bins over `duration_s`, at least 10 ms.
fn bin_width(duration_s: f64) -> f64 {
    let raw = (duration_s / 60.0).max(0.01);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|w| *w >= raw).unwrap_or(10.0 * p)
}

/// Adds `amount` spread evenly over `[from, to]` seconds into bins of `width`.
fn spread(bins: &mut [f64], width: f64, from: f64, to: f64, amount: f64) {
    let last = bins.len().saturating_sub(1);
    let bin = |t: f64| ((t / width).floor().max(0.0) as usize).min(last);
    if to <= from {
        if let Some(b) = bins.get_mut(bin(from)) {
            *b += amount;
        }
        return;
    }
    let first = bin(from);
    for (i, b) in bins.iter_mut().enumerate().take(bin(to) + 1).skip(first) {
        let (lo, hi) = (i as f64 * width, (i + 1) as f64 * width);
        let overlap = (hi.min(to) - lo.max(from)).max(0.0);
        *b += amount * overlap / (to - from);
    }
}

/// A step line of how many `[start, end)` intervals are open over time, in seconds.
/// How many intervals are open over time, as a step line: at each start or end (ends
/// first at equal times) a point before and after the change. With `max_points`, every
/// k-th point of that line, evenly, so that at most `max_points` are kept.
///
/// Starts and ends are sorted apart, as integers ([`crate::stats::order_key`]), and walked
/// together: 1.6M sessions' line in 0.1 s, not a second.
fn occupancy(intervals: impl Iterator<Item = (f64, f64)>, max_points: Option<usize>) -> Vec<(f64, f64)> {
    use crate::stats::{of_order_key, order_key};
    let (mut starts, mut ends): (Vec<u64>, Vec<u64>) =
        intervals.map(|(a, b)| (order_key(a), order_key(b.max(a)))).unzip();
    starts.sort_unstable();
    ends.sort_unstable();
    let total = 1 + 2 * (starts.len() + ends.len());
    let step = max_points.map_or(1, |max| total.div_ceil(max).max(1));
    let mut points = Vec::with_capacity(total.div_ceil(step));
    let mut index = 0;
    let mut push = |point: (f64, f64)| {
        if index % step == 0 {
            points.push(point);
        }
        index += 1;
    };
    push((0.0, 0.0));
    let (mut s, mut e, mut n) = (0, 0, 0i64);
    while s < starts.len() || e < ends.len() {
        let end_first = e < ends.len() && (s == starts.len() || ends[e] <= starts[s]);
        let (t, d) = if end_first {
            e += 1;
            (of_order_key(ends[e - 1]), -1)
        } else {
            s += 1;
            (of_order_key(starts[s - 1]), 1)
        };
        push((t / 1000.0, n as f64));
        n += d;
        push((t / 1000.0, n as f64));
    }
    points
}

fn in_flight(r: &RunResults) -> Built {
    const TITLE: &str = "In flight over time";
    if r.requests.is_empty() {
        return Err((TITLE, "No requests were sent.".into()));
    }
    let mut series =
        vec![Series { name: "requests in flight".into(), colour: colour(0), data: Data::Line(requests_in_flight(r)) }];
    let run_end = r.requests.iter().map(end_ms).fold(0.0, f64::max);
    let interval = |s: &dyn SessionFigures| {
        let start = finite(s.start_ms().unwrap_or(s.due_ms()));
        (start, s.end_ms().map_or(run_end, finite).max(start))
    };
    let sessions: Vec<(f64, f64)> = match r.sessions.rows() {
        Some(rows) => {
            let read: Vec<(f64, f64)> = rows.filter(|s| s.sent() > 0).map(|s| interval(&s)).collect();
            if let Err(e) = r.sessions.check() {
                return Err((TITLE, format!("The sessions could not be read back: {e:#}")));
            }
            read
        }
        None => r.sessions.iter().filter(|s| s.sent > 0).map(|s| interval(s)).collect(),
    };
    if !sessions.is_empty() {
        // Drawn first: the requests' line stays visible where the two meet.
        series.insert(
            0,
            Series {
                name: "sessions in flight".into(),
                colour: colour(1),
                data: Data::Line(occupancy(
                    sessions.into_iter(),
                    r.sessions.rows().is_some().then_some(MAX_LINE_POINTS),
                )),
            },
        );
    }
    let points = || series.iter().flat_map(|s| s.data.points());
    let x = Axis::fit("seconds from the run's start", points().map(|p| p.0), false);
    let y = Axis::fit("in flight", points().map(|p| p.1), false);
    Ok(Plot::new(
        "in-flight",
        TITLE,
        "requests between their send (<code>start_ms</code>) and the end of their response (<code>total_ms</code>); \
         sessions between their first send and their last answer's end (<code>sessions[]</code>).",
        x,
        y,
        series,
    ))
}

fn timeline(r: &RunResults) -> Built {
    const TITLE: &str = "Requests over time";
    if r.requests.is_empty() {
        return Err((TITLE, "No requests were sent.".into()));
    }
    let rows = r.requests.iter().map(|q| q.slot).max().unwrap_or(0).saturating_add(1).min(10_000);
    let row = |q: &RequestSample| q.slot.min(rows - 1) as f64;
    let s = |ms: f64| finite(ms) / 1000.0;
    let bars = |ok: bool| -> Vec<(f64, f64, f64)> {
        r.requests
            .iter()
            .filter(|q| q.ok == ok && q.total_ms.is_some())
            .map(|q| (s(q.start_ms), end_ms(q) / 1000.0, row(q)))
            .collect()
    };
    let waits: Vec<(f64, f64, f64)> = r
        .requests
        .iter()
        .filter(|q| finite(q.scheduled_ms) < finite(q.start_ms))
        .map(|q| (s(q.scheduled_ms), s(q.start_ms), row(q)))
        .collect();
    let ttft: Vec<(f64, f64)> = r.requests.iter().filter_map(|q| Some((s(q.start_ms + q.ttft_ms?), row(q)))).collect();
    let no_response: Vec<(f64, f64)> =
        r.requests.iter().filter(|q| q.total_ms.is_none()).map(|q| (s(q.start_ms), row(q))).collect();
    let mut series = vec![
        Series { name: "waiting (due, not yet sent)".into(), colour: GREY, data: Data::Bars(waits) },
        Series { name: "succeeded".into(), colour: colour(0), data: Data::Bars(bars(true)) },
        Series { name: "failed".into(), colour: FAILED, data: Data::Bars(bars(false)) },
        Series { name: "first output (TTFT)".into(), colour: plotters::style::BLACK, data: Data::Ticks(ttft) },
        Series { name: "failed, no response".into(), colour: FAILED, data: Data::Ticks(no_response) },
    ];
    series.retain(|s| !s.data.is_empty());
    let x = Axis::fit("seconds from the run's start", series.iter().flat_map(|s| s.data.points()).map(|p| p.0), false);
    let mut plot = Plot::new(
        "timeline",
        TITLE,
        "each request as a bar from its send (<code>t0</code>) to the end of its response (<code>total_ms</code>), \
         one row per slot (connection); a white edge separates back-to-back requests.",
        x,
        Axis::fixed("slot", 0.0, rows as f64),
        series,
    );
    plot.size = (1120, (rows.saturating_mul(22).saturating_add(110)).clamp(220, 900) as u32);
    plot.rows = Some((0..rows).map(|i| i.to_string()).collect());
    Ok(plot)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{failed_request, failed_run, ok_request, run_of, sample_run};
    use super::*;
    use crate::replay::results::SessionSample;

    /// `sample_run` with sessions, a cold outlier and a retried request waiting.
    fn busy_run() -> RunResults {
        let mut run = sample_run();
        run.requests[2].ttft_ms = Some(60_000.0);
        run.requests[3].scheduled_ms = run.requests[3].start_ms - 400.0;
        run.sessions = vec![
            SessionSample {
                session: 0,
                sent: 3,
                due_ms: 0.0,
                start_ms: Some(0.0),
                end_ms: Some(2500.0),
                ..Default::default()
            },
            SessionSample {
                session: 1,
                sent: 2,
                due_ms: 500.0,
                start_ms: Some(900.0),
                end_ms: None,
                ..Default::default()
            },
        ]
        .into();
        run
    }

    fn plot(r: &RunResults, id: &str) -> Plot {
        run_plots(r)
            .into_iter()
            .filter_map(|(p, _)| p.ok())
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no plot {id}"))
    }

    /// Every point inside the axes, the highest below the top (headroom), marks drawn,
    /// and the SVG drawn.
    fn check(p: &Plot) {
        assert!(p.marks() > 0, "{}: no marks", p.id);
        assert!(p.outside().is_empty(), "{}: outside {:?} x {:?} y {:?}", p.id, p.outside(), p.x, p.y);
        assert!(p.x.lo < p.x.hi && p.y.lo < p.y.hi, "{}", p.id);
        let svg = p.svg().unwrap();
        assert!(svg.starts_with("<svg") && !svg.contains("xmlns"), "{}", p.id);
    }

    #[test]
    fn occupancy_steps_at_every_start_and_end_ends_first_and_thins_evenly() {
        let intervals = [(0.0, 2000.0), (1000.0, 3000.0), (2000.0, 2000.0), (-5.0, 1000.0)];
        // The plain way: every event sorted by time, ends before starts.
        let mut events: Vec<(f64, i64)> =
            intervals.iter().flat_map(|&(a, b): &(f64, f64)| [(a, 1), (b.max(a), -1)]).collect();
        events.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut expected = vec![(0.0, 0.0)];
        let mut n = 0;
        for (t, d) in events {
            expected.push((t / 1000.0, n as f64));
            n += d;
            expected.push((t / 1000.0, n as f64));
        }
        assert_eq!(occupancy(intervals.into_iter(), None), expected);
        let thinned = occupancy(intervals.into_iter(), Some(5));
        assert_eq!(thinned, expected.iter().copied().step_by(expected.len().div_ceil(5)).collect::<Vec<_>>());
        assert!(thinned.len() <= 5);
    }

    #[test]
    fn ttft_ecdf_axis_holds_the_outlier_and_every_bucket() {
        let p = plot(&busy_run(), "ttft-ecdf");
        check(&p);
        assert!(p.x.log && p.x.contains(60_000.0) && p.x.contains(100.0));
        assert_eq!(p.series.len(), 2);
        assert_eq!((p.y.lo, p.y.hi), (0.0, 1.0));
    }

    #[test]
    fn itl_ecdf_axis_holds_every_gap() {
        let p = plot(&busy_run(), "itl-ecdf");
        check(&p);
        assert!(p.x.contains(0.5) && p.x.contains(25.0));
    }

    #[test]
    fn ttft_against_prompt_holds_its_points() {
        let p = plot(&busy_run(), "ttft-vs-prompt");
        check(&p);
        assert!(p.y.log && p.x.contains(45_000.0));
    }

    #[test]
    fn decode_scatter_has_headroom_above_the_fastest() {
        let p = plot(&sample_run(), "decode-vs-context");
        check(&p);
        let top = p.series.iter().flat_map(|s| s.data.points()).map(|p| p.1).fold(0.0, f64::max);
        assert!(p.y.hi >= top * 1.08, "top {top} axis {}", p.y.hi);
        assert!(p.legend, "the legend is HTML beside the plot, not over the points");
    }

    #[test]
    fn throughput_counts_every_output_token() {
        let run = sample_run();
        let p = plot(&run, "throughput");
        check(&p);
        let width = p.series[0].data.points()[1].0 - p.series[0].data.points()[0].0;
        let total: f64 = p.series[0].data.points().iter().map(|(_, tps)| tps * width).sum();
        assert!((total - run.summary.output_tokens as f64).abs() < 1e-6, "{total}");
    }

    #[test]
    fn in_flight_counts_requests_and_sessions() {
        let p = plot(&busy_run(), "in-flight");
        check(&p);
        assert_eq!(p.series.len(), 2);
        let max = |i: usize| p.series[i].data.points().iter().map(|p| p.1).fold(0.0, f64::max);
        // Sessions, then requests: the failed request (sent at 4.005 s) overlaps the one
        // sent at 3 s.
        assert_eq!((p.series[0].name.as_str(), max(0), max(1)), ("sessions in flight", 2.0, 2.0));
        assert_eq!(p.series[1].data.points().last().unwrap().1, 0.0, "all requests end");
    }

    #[test]
    fn timeline_rows_hold_every_request() {
        let run = busy_run();
        let p = plot(&run, "timeline");
        check(&p);
        assert_eq!(p.rows.as_ref().unwrap().len(), 2);
        let bars: usize = p.series.iter().filter(|s| matches!(s.data, Data::Bars(_))).map(|s| s.data.len()).sum();
        let waits = run.requests.iter().filter(|q| q.scheduled_ms < q.start_ms).count();
        assert_eq!((bars, waits), (run.requests.len() + 2, 2), "every request and every wait");
    }

    #[test]
    fn page_is_self_contained_with_the_verdict_first() {
        let run = busy_run();
        let page = render(&run);
        assert_eq!(page.matches("<svg").count(), 7, "{page}");
        for (key, formula) in &run.formulas {
            assert!(page.contains(&format!("<code>{}</code>", escape(key))), "{key}");
            assert!(page.contains(&escape(formula)), "{formula}");
        }
        // The only URLs are the run's own endpoint and target URL, as escaped text.
        let rest = page.replace(&escape(&run.target_url), "").replace(&escape(&run.endpoint), "");
        assert!(!rest.contains("http://") && !rest.contains("https://"), "a URL of the page's own");
        assert!(!page.contains("<script") && !page.contains(" src=") && !page.contains(" href="));
        assert!(page.contains("<title>asb replay report"));
        assert!(page.contains("Fix &lt;the&gt; bug"));
        assert!(page.contains("&lt;b&gt;overloaded&lt;/b&gt;") && !page.contains("<b>overloaded"));
        assert!(page.contains("GOOD for agentic swarm scenarios"));
        assert!(page.trim_end().ends_with("</html>"));
        // Verdict, then plots, then tables; the configuration folded.
        let at = |s: &str| page.find(s).unwrap_or_else(|| panic!("{s}"));
        assert!(at("class=\"verdict") < at("<h2>Plots") && at("<h2>Plots") < at("<h2>Results"));
        assert!(at("<details>") < at("<td>Max retries</td>"));
        // No emoji: grades are badges.
        for g in [Grade::Good, Grade::Ok, Grade::Poor, Grade::Unknown] {
            assert!(!page.contains(g.icon()), "{}", g.icon());
        }
        assert!(page.contains("<span class=\"badge good\">GOOD</span>"));
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let mut run = sample_run();
        run.endpoint = "http://x/<script>alert(1)</script>".into();
        run.label = Some("<i>mine</i>".into());
        run.buckets[0].name = "<img onerror=x>".into();
        for q in run.requests.iter_mut().filter(|q| q.bucket == "fresh") {
            q.bucket = "<img onerror=x>".into();
        }
        let page = render(&run);
        assert!(!page.contains("<script") && !page.contains("<img") && !page.contains("<i>"), "unescaped");
        assert!(page.contains("&lt;i&gt;mine"));
    }

    #[test]
    fn empty_data_gives_notes_not_plots() {
        let page = render(&failed_run());
        assert!(page.contains("No successful requests."));
        assert_eq!(page.matches("<svg").count(), 2, "only the in-flight plot and the timeline have data");
        assert!(page.contains("nothing to plot"));

        let page = render(&run_of(vec![]));
        assert_eq!(page.matches("<svg").count(), 0);
        assert!(page.contains("No requests were sent"));

        // One request whose values are all the same (zero-width ranges), and odd numbers.
        let mut q = ok_request("build-api", 0, "fresh", 0, 0.0, 0.0);
        q.decode_tok_per_s = Some(f64::INFINITY);
        q.slot = usize::MAX;
        q.start_ms = f64::NAN;
        let page = render(&run_of(vec![q, failed_request("x", 1, "fresh", "e")]));
        assert!(page.contains("</html>"));
    }
}
