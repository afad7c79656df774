//! The HTML report (`asb report -o run.html`): one self-contained file — inline CSS, inline
//! SVG, no script, no external URL — with the same content as the Markdown report plus four
//! plots drawn from the raw per-request samples: TTFT per bucket, ITL per bucket, decode
//! rate against prompt size, and every request on a timeline.
//!
//! Plots are drawn with `plotters`' SVG backend only: it writes text as SVG `<text>`
//! elements, so no font is loaded and nothing native is linked. A plot without data is a
//! one-line note instead; a plot that cannot be drawn says why, and the report goes on.

use std::error::Error;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::replay::results::{RequestSample, RunResults};
use crate::stats::percentile;

use super::document::{Document, Inline, Span, Table, VerdictView};
use crate::display::{approx_tokens, num};

/// Dots drawn per bucket in the TTFT plot; more requests are thinned evenly (the box and
/// whiskers still use every request).
const MAX_DOTS_PER_BUCKET: usize = 2000;

/// One colour per bucket, in bucket order (colour-blind-safe "tab10" hues).
const PALETTE: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
const FAILED: RGBColor = RGBColor(214, 39, 40);
const WAITING: RGBColor = RGBColor(190, 190, 190);
const FONT: &str = "sans-serif";

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
.subtitle{color:#555;margin-top:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:12px 0;font-size:14px;background:#fff}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}
td{font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;background:#f3f3f3;padding:0 3px;border-radius:3px;word-break:break-word}
.verdict{font-size:18px;background:#fff;border-left:4px solid #888;padding:8px 16px}
.note{color:#555}
figure{margin:16px 0;background:#fff;border:1px solid #ddd;padding:8px}
figcaption{font-size:14px;color:#333;margin-bottom:6px}
svg{max-width:100%;height:auto}
.nodata{color:#777;font-style:italic}
.failed{color:#d62728;font-weight:bold}.waiting{color:#999;font-weight:bold}
";

/// The report of `r` as one HTML page.
pub(crate) fn render(r: &RunResults) -> String {
    let doc = Document::build(r, None);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(&doc.title),
        escape(&doc.subtitle)
    );
    let _ = writeln!(out, "<h1>{}</h1>\n<p class=\"subtitle\">{}</p>", escape(&doc.title), escape(&doc.subtitle));

    out.push_str("<h3>Configuration</h3>\n");
    table(&mut out, &doc.configuration);

    out.push_str("<h2>Verdict</h2>\n");
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

    out.push_str("<h2>Results</h2>\n");
    if doc.results.rows.is_empty() {
        out.push_str("<p>No requests were sent.</p>\n");
    } else {
        table(&mut out, &doc.results);
        for line in &doc.results_legend {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", inline(line));
        }
    }

    out.push_str("<h2>Plots</h2>\n");
    for figure in [ttft_figure(r), itl_figure(r), decode_figure(r), timeline_figure(r)] {
        out.push_str(&figure);
    }

    out.push_str("<h2>Overall</h2>\n");
    table(&mut out, &doc.overall);
    if !doc.distributions.rows.is_empty() {
        out.push_str("<h3>Distributions over successful requests</h3>\n");
        table(&mut out, &doc.distributions);
    }

    out.push_str("<h2>Tasks</h2>\n");
    if doc.tasks.rows.is_empty() {
        out.push_str("<p>No tasks.</p>\n");
    } else {
        table(&mut out, &doc.tasks);
    }

    out.push_str("<h2>Errors</h2>\n");
    match &doc.errors {
        None => out.push_str("<p>No errors.</p>\n"),
        Some(errors) => table(&mut out, errors),
    }

    out.push_str("<h2>Metric definitions</h2>\n<p>How every number above is computed (from the run's own <code>formulas</code>).</p>\n");
    table(&mut out, &doc.definitions);
    out.push_str("</main>\n</body>\n</html>\n");
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
            let _ = write!(out, "<td>{}</td>", inline(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn verdict(out: &mut String, v: &VerdictView) {
    match v {
        VerdictView::NothingSent => out.push_str("<p>No requests were sent - all were skipped or filtered out.</p>\n"),
        VerdictView::NoSuccess => out.push_str(
            "<p class=\"verdict\"><strong>No successful requests.</strong> Check endpoint configuration.</p>\n",
        ),
        VerdictView::Graded { grade, bucket, experience, headline, basis } => {
            let _ =
                write!(out, "<div class=\"verdict\"><p>{} <strong>{}</strong>", grade.icon(), escape(grade.label()));
            if let Some(b) = bucket {
                let _ = write!(out, " at <code>{}</code> context", escape(b));
            }
            if let Some(e) = experience {
                let _ = write!(out, " — {}", escape(e));
            }
            out.push_str("</p>\n<p>");
            let parts: Vec<String> =
                headline.iter().map(|(v, what)| format!("<strong>{}</strong> {}", escape(v), escape(what))).collect();
            out.push_str(&parts.join(" · "));
            out.push_str("</p></div>\n");
            if !basis.is_empty() {
                let _ = writeln!(out, "<p class=\"note\">Verdict basis: {}</p>", escape(basis));
            }
        }
    }
}

type Drawn = Result<(), Box<dyn Error>>;

/// The legend box of every plot with series.
fn legend<'a, 'b: 'a>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

/// An SVG of `size` drawn by `draw`, ready to inline in HTML. Drawing errors — and a panic
/// inside the plotting library, should one happen — come back as text for the page.
fn svg(size: (u32, u32), draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn) -> Result<String, String> {
    let mut buf = String::new();
    let drawn = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    }));
    match drawn {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("the plotting library failed".into()),
    }
    // Inline SVG in HTML needs no namespace declaration; without it the page holds no URL
    // of its own.
    Ok(buf.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1))
}

fn figure(title: &str, explanation: &str, plot: Result<String, String>) -> String {
    let body = match plot {
        Ok(svg) => svg,
        Err(why) => format!("<p class=\"nodata\">The plot could not be drawn: {}</p>\n", escape(&why)),
    };
    format!("<figure>\n<figcaption><strong>{}</strong> — {explanation}</figcaption>\n{body}</figure>\n", escape(title))
}

fn no_data(title: &str, why: &str) -> String {
    format!(
        "<figure>\n<figcaption><strong>{}</strong></figcaption>\n<p class=\"nodata\">{}</p>\n</figure>\n",
        escape(title),
        escape(why)
    )
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `(bucket index, bucket name, sorted values)` for each bucket with at least one value.
fn per_bucket(r: &RunResults, values: impl Fn(&RequestSample) -> Vec<f64>) -> Vec<(usize, String, Vec<f64>)> {
    r.buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let mut v: Vec<f64> = r
                .requests
                .iter()
                .filter(|q| q.ok && q.bucket == b.name)
                .flat_map(&values)
                .filter(|v| v.is_finite())
                .collect();
            v.sort_by(f64::total_cmp);
            (!v.is_empty()).then(|| (i, b.name.clone(), v))
        })
        .collect()
}

/// An upper axis bound a little above `max`, never empty.
fn upper(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.08
    } else {
        1.0
    }
}

/// Deterministic horizontal spread for the `k`-th dot, within ±0.15 of its bucket.
fn jitter(k: usize) -> f64 {
    ((k as f64 * 0.618_034).fract() - 0.5) * 0.3
}

fn ttft_figure(r: &RunResults) -> String {
    const TITLE: &str = "TTFT per context bucket";
    let groups = per_bucket(r, |q| q.ttft_ms.into_iter().collect());
    if groups.is_empty() {
        return no_data(TITLE, "No successful request with a TTFT: nothing to plot.");
    }
    let n = groups.len();
    let y_max = upper(groups.iter().filter_map(|(_, _, v)| v.last().copied()).fold(0.0, f64::max));
    let names: Vec<String> = groups.iter().map(|(_, name, _)| name.clone()).collect();
    let plot = svg((820, 420), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_max)?;
        let label = |x: &f64| category_label(&names, *x);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&label)
            .y_desc("TTFT (ms)")
            .y_label_formatter(&axis_number)
            .label_style((FONT, 13))
            .draw()?;
        for (slot, (i, _, v)) in groups.iter().enumerate() {
            let (x, c) = (slot as f64, colour(*i));
            let q = |p: f64| percentile(v, p);
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(x, q(0.0)), (x, q(100.0))], c.stroke_width(1))))?;
            let (lo, hi) = ((x - 0.22, q(25.0)), (x + 0.22, q(75.0)));
            chart.draw_series(std::iter::once(Rectangle::new([lo, hi], c.mix(0.2).filled())))?;
            chart.draw_series(std::iter::once(Rectangle::new([lo, hi], c.stroke_width(1))))?;
            let median = vec![(x - 0.22, q(50.0)), (x + 0.22, q(50.0))];
            chart.draw_series(std::iter::once(PathElement::new(median, c.stroke_width(3))))?;
            let p99 = vec![(x - 0.12, q(99.0)), (x + 0.12, q(99.0))];
            chart.draw_series(std::iter::once(PathElement::new(p99, BLACK.stroke_width(2))))?;
            let stride = v.len().div_ceil(MAX_DOTS_PER_BUCKET).max(1);
            chart.draw_series(
                v.iter()
                    .enumerate()
                    .step_by(stride)
                    .map(|(k, &y)| Circle::new((x + jitter(k), y), 2, c.mix(0.55).filled())),
            )?;
        }
        Ok(())
    });
    figure(
        TITLE,
        "one dot per successful request (<code>ttft_ms</code>); box p25–p75, thick line p50, black tick p99, \
         whiskers min–max.",
        plot,
    )
}

/// An axis number: `1,000`, `12.5`, `0.25`.
fn axis_number(v: &f64) -> String {
    num(*v)
}

/// The bucket name for an x position on a category axis (integers), else nothing.
fn category_label(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 0.01 || i < 0.0 {
        return String::new();
    }
    names.get(i as usize).cloned().unwrap_or_default()
}

fn itl_figure(r: &RunResults) -> String {
    const TITLE: &str = "ITL per context bucket";
    let groups = per_bucket(r, |q| q.itl_ms.clone());
    if groups.is_empty() {
        return no_data(TITLE, "No inter-token gaps (every successful response came in one chunk, or none succeeded).");
    }
    let y_max = upper(groups.iter().map(|(_, _, v)| percentile(v, 99.0)).fold(0.0, f64::max));
    let plot = svg((820, 420), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..99f64, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("ITL (ms)")
            .y_label_formatter(&axis_number)
            .label_style((FONT, 13))
            .draw()?;
        for (i, name, v) in &groups {
            let c = colour(*i);
            let points = (0..=99).map(|p| (f64::from(p), percentile(v, f64::from(p))));
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))?
                .label(format!("{name} ({} gaps)", v.len()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    });
    figure(
        TITLE,
        "the gaps (<code>itl_ms</code>) of each bucket's successful requests pooled, by percentile p0–p99 \
         (the maximum is in the Distributions table). Gaps are per chunk, not per token.",
        plot,
    )
}

fn decode_figure(r: &RunResults) -> String {
    const TITLE: &str = "Decode rate against prompt size";
    let groups = per_bucket_points(r);
    if groups.is_empty() {
        return no_data(TITLE, "No successful request with a decode rate (it needs at least two output tokens).");
    }
    let all = || groups.iter().flat_map(|(_, _, p)| p.iter());
    let x_max = upper(all().map(|p| p.0).fold(0.0, f64::max));
    let y_max = upper(all().map(|p| p.1).fold(0.0, f64::max));
    let plot = svg((820, 420), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        let tokens = |x: &f64| approx_tokens(*x);
        chart
            .configure_mesh()
            .x_desc("prompt tokens")
            .y_desc("decode tok/s")
            .y_label_formatter(&axis_number)
            .x_label_formatter(&tokens)
            .label_style((FONT, 13))
            .draw()?;
        for (i, name, points) in &groups {
            let c = colour(*i);
            chart
                .draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 3, c.mix(0.7).filled())))?
                .label(format!("{name} ({})", points.len()))
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    });
    figure(
        TITLE,
        "one point per successful request: <code>decode_tok_per_s</code> against <code>prompt_tokens</code> \
         (else <code>context_tokens_estimate</code>), coloured by bucket.",
        plot,
    )
}

type Points = Vec<(f64, f64)>;

/// `(bucket index, name, (prompt tokens, decode tok/s))` per bucket with such points.
fn per_bucket_points(r: &RunResults) -> Vec<(usize, String, Points)> {
    r.buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let points: Points = r
                .requests
                .iter()
                .filter(|q| q.ok && q.bucket == b.name)
                .filter_map(|q| {
                    let x = q.prompt_tokens.unwrap_or(q.context_tokens_estimate) as f64;
                    q.decode_tok_per_s.filter(|y| y.is_finite()).map(|y| (x, y))
                })
                .collect();
            (!points.is_empty()).then(|| (i, b.name.clone(), points))
        })
        .collect()
}

fn timeline_figure(r: &RunResults) -> String {
    const TITLE: &str = "Requests over time";
    if r.requests.is_empty() {
        return no_data(TITLE, "No requests were sent.");
    }
    let finite = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    let end_ms = |q: &RequestSample| finite(q.start_ms) + q.total_ms.map_or(0.0, finite);
    let x_max = upper(r.requests.iter().map(|q| end_ms(q).max(finite(q.scheduled_ms))).fold(0.0, f64::max) / 1000.0);
    let rows = r.requests.iter().map(|q| q.slot).max().unwrap_or(0).saturating_add(1);
    let height = rows.saturating_mul(14).saturating_add(100).clamp(220, 900) as u32;
    let plot = svg((820, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, 0f64..rows as f64)?;
        let slot_label = |y: &f64| {
            let i = y.floor();
            if (y - i - 0.5).abs() < 0.01 {
                format!("{i:.0}")
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("seconds from the run's start")
            .y_desc("slot")
            .y_labels(rows.min(24) * 2 + 1)
            .y_label_formatter(&slot_label)
            .label_style((FONT, 13))
            .draw()?;
        let waits = r.requests.iter().filter(|q| finite(q.scheduled_ms) < finite(q.start_ms)).map(|q| {
            let y = q.slot as f64;
            Rectangle::new(
                [(finite(q.scheduled_ms) / 1000.0, y + 0.42), (finite(q.start_ms) / 1000.0, y + 0.58)],
                WAITING.filled(),
            )
        });
        chart.draw_series(waits)?;
        let bars = r.requests.iter().filter(|q| q.total_ms.is_some()).map(|q| {
            let y = q.slot as f64;
            let c = if q.ok { colour(0) } else { FAILED };
            Rectangle::new(
                [(finite(q.start_ms) / 1000.0, y + 0.15), (end_ms(q) / 1000.0, y + 0.85)],
                c.mix(0.8).filled(),
            )
        });
        chart.draw_series(bars)?;
        let ttft_ticks = r.requests.iter().filter_map(|q| {
            let t = (finite(q.start_ms) + finite(q.ttft_ms?)) / 1000.0;
            let y = q.slot as f64;
            Some(PathElement::new(vec![(t, y + 0.05), (t, y + 0.95)], BLACK.stroke_width(2)))
        });
        chart.draw_series(ttft_ticks)?;
        let no_response = r
            .requests
            .iter()
            .filter(|q| q.total_ms.is_none())
            .map(|q| Cross::new((finite(q.start_ms) / 1000.0, q.slot as f64 + 0.5), 5, FAILED.stroke_width(2)));
        chart.draw_series(no_response)?;
        Ok(())
    });
    figure(
        TITLE,
        "each request as a bar from its send (<code>t0</code>) to the end of its response (<code>total_ms</code>), \
         one row per slot (connection); black tick: first output (TTFT); <span class=\"failed\">red</span>: failed \
         (a cross when there was no response at all); <span class=\"waiting\">grey</span>: due but not yet sent \
         (waiting for a retry).",
        plot,
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{failed_run, ok_request, run_of, sample_run};
    use super::*;

    #[test]
    fn page_is_self_contained_with_four_plots() {
        let run = sample_run();
        let page = render(&run);
        assert_eq!(page.matches("<svg").count(), 4, "{page}");
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
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let mut run = sample_run();
        run.endpoint = "http://x/<script>alert(1)</script>".into();
        run.buckets[0].name = "<img onerror=x>".into();
        for q in run.requests.iter_mut().filter(|q| q.bucket == "fresh") {
            q.bucket = "<img onerror=x>".into();
        }
        let page = render(&run);
        assert!(!page.contains("<script") && !page.contains("<img"), "unescaped");
        assert_eq!(page.matches("<svg").count(), 4);
    }

    #[test]
    fn empty_data_gives_notes_not_plots() {
        let page = render(&failed_run());
        assert!(page.contains("No successful requests."));
        assert_eq!(page.matches("<svg").count(), 1, "only the timeline has data");
        assert!(page.contains("nothing to plot"));

        let page = render(&run_of(vec![]));
        assert_eq!(page.matches("<svg").count(), 0);
        assert!(page.contains("No requests were sent"));

        // One request whose values are all the same (zero-width ranges), and odd numbers.
        let mut q = ok_request("build-api", 0, "fresh", 0, 0.0, 0.0);
        q.decode_tok_per_s = Some(f64::INFINITY);
        q.slot = usize::MAX;
        q.start_ms = f64::NAN;
        let page = render(&run_of(vec![q]));
        assert!(page.contains("</html>"));
    }
}
