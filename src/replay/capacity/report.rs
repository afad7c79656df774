//! What `asb capacity` found: one model ([`CapacityResult`]: the capacity, the bracket,
//! every step's figures), printed on the console and written as JSON, markdown or HTML
//! (with the curve: latency and throughput against load, the SLO line, the capacity).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::search::Search;
use super::{By, CapacityArgs};
use crate::display::{duration_ms, num, percent, rate1, NONE};
use crate::replay::results::RunResults;
use crate::replay::slo::{Slo, SloReport};
use crate::stats::{percentile, Distribution};

/// One step of the search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StepResult {
    /// Sessions (by sessions) or sessions per second (by rate).
    pub load: f64,
    pub passed: bool,
    /// Runs judged (2 when the first was borderline).
    pub runs: usize,
    pub slo: SloReport,
    /// Why the step failed: the limits it missed, or the schedule it could not keep.
    pub reason: Option<String>,
    pub requests: usize,
    pub failed: usize,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub itl_p99_ms: Option<f64>,
    pub decode_p50_tok_per_s: Option<f64>,
    /// Σ output tokens of successes / window duration.
    pub output_tok_per_s: f64,
    /// Sessions started per second (the rate the step delivered).
    pub sessions_per_s: f64,
    pub schedule_lag_p99_ms: Option<f64>,
    /// The server's KV-cache use at its highest over the step's window (its scraped
    /// `/metrics`, a fraction of capacity), when it was scraped.
    #[serde(default)]
    pub kv_cache_usage_max: Option<f64>,
    /// The first run's JSON, when `-o` was given.
    pub json: Option<PathBuf>,
}

impl StepResult {
    pub(crate) fn new(
        load: f64,
        passed: bool,
        runs: &[RunResults],
        slo: SloReport,
        behind: Option<String>,
        json: Option<PathBuf>,
    ) -> StepResult {
        let requests: Vec<_> = runs.iter().flat_map(|r| r.requests.iter().filter(|q| q.in_window)).collect();
        let ok: Vec<_> = requests.iter().filter(|r| r.ok).collect();
        let pct = |mut v: Vec<f64>, p: f64| {
            v.sort_by(f64::total_cmp);
            (!v.is_empty()).then(|| percentile(&v, p))
        };
        let ttft: Vec<f64> = ok.iter().filter_map(|r| r.ttft_from_due_ms.or(r.ttft_ms)).collect();
        let itl: Vec<f64> = ok.iter().flat_map(|r| r.itl_ms.iter().copied()).collect();
        let decode: Vec<f64> = ok.iter().filter_map(|r| r.decode_tok_per_s).collect();
        let duration: f64 = runs.iter().map(|r| r.summary.duration_s).sum();
        let per_s = |x: f64| if duration > 0.0 { x / duration } else { 0.0 };
        let missed: Vec<String> = slo
            .limits
            .iter()
            .filter(|l| !l.met)
            .map(|l| format!("{} (observed {})", l.limit, l.observed.map_or(NONE.to_string(), num)))
            .collect();
        let reason = match (behind, missed.is_empty()) {
            (Some(b), _) => Some(b),
            (None, false) => Some(format!("missed {}", missed.join(", "))),
            (None, true) => None,
        };
        let sessions: usize = runs.iter().map(|r| r.load.as_ref().map_or(0, |l| l.sessions.started)).sum();
        let lag = Distribution::of(requests.iter().filter_map(|r| r.lag_ms));
        StepResult {
            load,
            passed,
            runs: runs.len(),
            reason,
            requests: requests.len(),
            failed: requests.len() - ok.len(),
            ttft_p50_ms: pct(ttft.clone(), 50.0),
            ttft_p99_ms: pct(ttft, 99.0),
            itl_p99_ms: pct(itl, 99.0),
            decode_p50_tok_per_s: pct(decode, 50.0),
            output_tok_per_s: per_s(ok.iter().map(|r| r.completion_tokens).sum::<u64>() as f64),
            sessions_per_s: per_s(sessions as f64),
            schedule_lag_p99_ms: lag.map(|d| d.p99),
            kv_cache_usage_max: runs
                .iter()
                .filter_map(|r| {
                    let m = r.server_metrics.as_ref()?;
                    m.window.as_ref().or(m.run.as_ref())?.kv_cache_usage.map(|g| g.max)
                })
                .reduce(f64::max),
            slo,
            json,
        }
    }
}

/// The search's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CapacityResult {
    /// Marks a capacity result (for `asb compare`), and its format's version.
    pub capacity_version: u32,
    pub tool: String,
    pub endpoint: String,
    pub scenario: String,
    pub slo: String,
    pub by: By,
    /// The highest load that met the SLO (None: not even the lowest tried).
    pub capacity: Option<f64>,
    /// The lowest load that missed it.
    pub first_failure: Option<f64>,
    pub resolution: f64,
    pub step_duration_s: f64,
    pub step_warmup_s: f64,
    pub steps: Vec<StepResult>,
    pub elapsed_s: f64,
    /// Why the search stopped before its bracket was narrow enough (budget).
    pub stopped_early: Option<String>,
    /// A step that could not be measured: the search ended with this cause.
    pub error: Option<String>,
    /// How steps are judged.
    pub rule: String,
}

impl CapacityResult {
    pub(crate) fn new(
        args: &CapacityArgs,
        slo: &Slo,
        search: &Search,
        steps: Vec<StepResult>,
        stopped: Option<(bool, String)>,
        elapsed_s: f64,
        endpoint: &str,
    ) -> CapacityResult {
        let (error, stopped_early) = match stopped {
            Some((true, why)) => (Some(why), None),
            Some((false, why)) => (None, Some(why)),
            None => (None, None),
        };
        CapacityResult {
            capacity_version: 1,
            tool: format!("asb {}", env!("CARGO_PKG_VERSION")),
            endpoint: endpoint.to_string(),
            scenario: args.replay.scenario.clone().unwrap_or_else(|| "the built-in scenario".into()),
            slo: slo.to_string(),
            by: args.by,
            capacity: search.capacity(),
            first_failure: search.failed,
            resolution: search.resolution,
            step_duration_s: args.step_duration.as_secs_f64(),
            step_warmup_s: args.step_warmup.as_secs_f64(),
            steps,
            elapsed_s,
            stopped_early,
            error,
            rule: rule(args),
        }
    }
}

fn rule(args: &CapacityArgs) -> String {
    format!(
        "a step passes when every --slo limit's statistic over its window's requests meets the limit (failed requests \
         counted as the worst value; TTFT and E2E from the intended send time) and it kept its schedule; a step within \
         {:.0} % of a limit is run again and judged on both runs pooled; the load doubles until a step fails, then the \
         bracket is bisected",
        args.borderline * 100.0
    )
}

pub(crate) fn load_text(by: By, load: f64) -> String {
    match by {
        By::Sessions => format!("{load:.0} session{}", if load == 1.0 { "" } else { "s" }),
        By::Rate => format!("{} sessions/s", num(load)),
    }
}

pub(crate) fn bracket_text(search: &Search) -> String {
    match (search.passed, search.failed) {
        (None, None) => "none yet".into(),
        (Some(ok), None) => format!("≥ {}", num(ok)),
        (None, Some(bad)) => format!("< {}", num(bad)),
        (Some(ok), Some(bad)) => format!("{} … {}", num(ok), num(bad)),
    }
}

/// The plan, printed before the first step (and all a dry run prints).
pub(crate) fn plan_text(args: &CapacityArgs, slo: &Slo, resolution: f64) -> String {
    let mut out = String::from("asb capacity\n");
    let _ = writeln!(out, "  SLO: {slo} (TTFT and E2E from the intended send time)");
    let _ = writeln!(
        out,
        "  Search: {} from {} up to {}, doubling then bisecting to a resolution of {}",
        match args.by {
            By::Sessions => "concurrent sessions (closed loop)",
            By::Rate => "session arrival rate (open loop)",
        },
        num(args.start),
        num(args.max),
        num(resolution)
    );
    let _ = writeln!(
        out,
        "  Steps: {:.0} s each, the first {:.0} s left out; budget {:.0} s (at most {} steps)",
        args.step_duration.as_secs_f64(),
        args.step_warmup.as_secs_f64(),
        args.budget.as_secs_f64(),
        (args.budget.as_secs_f64() / (args.step_duration.as_secs_f64() * 1.1)).floor()
    );
    let _ = writeln!(out, "  Rule: {}", rule(args));
    out
}

pub(crate) fn step_line(by: By, s: &StepResult) -> String {
    format!(
        "{} {}: TTFT p99 {} | ITL p99 {} | decode p50 {} tok/s | {} output tok/s | attainment {}{}{}{}",
        load_text(by, s.load),
        if s.passed { "PASS" } else { "FAIL" },
        s.ttft_p99_ms.map_or(NONE.to_string(), duration_ms),
        s.itl_p99_ms.map_or(NONE.to_string(), duration_ms),
        s.decode_p50_tok_per_s.map_or(NONE.to_string(), rate1),
        rate1(s.output_tok_per_s),
        s.slo.attainment.map_or(NONE.to_string(), percent),
        s.kv_cache_usage_max.map_or(String::new(), |kv| format!(" | server KV max {}", percent(kv))),
        if s.runs > 1 { format!(" ({} runs pooled)", s.runs) } else { String::new() },
        s.reason.as_ref().map_or(String::new(), |r| format!(" | {r}")),
    )
}

fn headline(r: &CapacityResult) -> String {
    let load = |x: f64| load_text(r.by, x);
    let mut line = match (r.capacity, r.first_failure) {
        (Some(c), Some(f)) => format!("Capacity: {} within the SLO; {} miss it", load(c), load(f)),
        (Some(c), None) => format!("Capacity: at least {} (the most tried) within the SLO", load(c)),
        (None, Some(f)) => format!("Capacity: below {}: even the lowest load tried misses the SLO", load(f)),
        (None, None) => "Capacity: unknown (no step ran)".into(),
    };
    if let Some(why) = &r.stopped_early {
        line.push_str(&format!(" (search stopped early: {why})"));
    }
    line
}

/// The step table's columns, as every format shows them.
const COLUMNS: [&str; 9] = [
    "load",
    "result",
    "TTFT p50",
    "TTFT p99",
    "ITL p99",
    "decode p50 tok/s",
    "output tok/s",
    "attainment",
    "server KV max",
];

/// One step's cells, in [`COLUMNS`] order.
fn cells(by: By, s: &StepResult) -> [String; 9] {
    [
        load_text(by, s.load),
        if s.passed { "pass" } else { "FAIL" }.to_string(),
        s.ttft_p50_ms.map_or(NONE.to_string(), duration_ms),
        s.ttft_p99_ms.map_or(NONE.to_string(), duration_ms),
        s.itl_p99_ms.map_or(NONE.to_string(), duration_ms),
        s.decode_p50_tok_per_s.map_or(NONE.to_string(), rate1),
        rate1(s.output_tok_per_s),
        s.slo.attainment.map_or(NONE.to_string(), percent),
        s.kv_cache_usage_max.map_or(NONE.to_string(), percent),
    ]
}

pub(crate) fn console(r: &CapacityResult) -> String {
    let mut out = String::from("\n");
    let widths = [14, 6, 9, 9, 9, 16, 12, 10, 13];
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:>w$}")).collect();
        format!("  {}\n", padded.join("  "))
    };
    out.push_str(&line(&COLUMNS.map(String::from)));
    for s in &r.steps {
        out.push_str(&line(&cells(r.by, s)));
    }
    let _ = writeln!(out, "\n  {}", headline(r));
    let _ = writeln!(out, "  SLO: {} | {} steps in {:.0} s", r.slo, r.steps.len(), r.elapsed_s);
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  The search ended: {e}");
    }
    out
}

fn markdown(r: &CapacityResult) -> String {
    let mut out = String::from("# asb capacity\n\n");
    let _ = writeln!(out, "**{}**\n", headline(r));
    let _ = writeln!(out, "- SLO: `{}`\n- Endpoint: `{}`\n- Scenario: `{}`", r.slo, r.endpoint, r.scenario);
    let _ = writeln!(
        out,
        "- Steps: {:.0} s each, first {:.0} s left out; {} steps in {:.0} s",
        r.step_duration_s,
        r.step_warmup_s,
        r.steps.len(),
        r.elapsed_s
    );
    let _ = writeln!(out, "- Rule: {}", r.rule);
    if let Some(e) = &r.error {
        let _ = writeln!(out, "- **The search ended:** {e}");
    }
    let _ = writeln!(out, "\n| {} | why |", COLUMNS.join(" | "));
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    for s in &r.steps {
        let mut row = cells(r.by, s);
        if !s.passed {
            row[1] = "**fail**".into();
        }
        let why = s.reason.clone().unwrap_or_default().replace('|', "\\|");
        let _ = writeln!(out, "| {} | {why} |", row.join(" | "));
    }
    out
}

/// The curve as SVG: TTFT p99 and output tok/s against load, each step marked pass or
/// fail, the capacity drawn as a vertical line.
pub(crate) fn curve_svg(r: &CapacityResult) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let mut steps: Vec<&StepResult> = r.steps.iter().collect();
        steps.sort_by(|a, b| a.load.total_cmp(&b.load));
        let max_load = steps.iter().map(|s| s.load).fold(1.0, f64::max) * 1.1;
        let max_ttft = steps.iter().filter_map(|s| s.ttft_p99_ms).fold(1.0, f64::max) * 1.2;
        let (left, right) = root.split_horizontally(450);
        for (area, title, value, top) in [
            (&left, "TTFT p99 (ms, from due) against load", 0usize, max_ttft),
            (
                &right,
                "Output tok/s against load",
                1,
                steps.iter().map(|s| s.output_tok_per_s).fold(1.0, f64::max) * 1.2,
            ),
        ] {
            let Ok(mut chart) = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 15))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(55)
                .build_cartesian_2d(0.0..max_load, 0.0..top)
            else {
                continue;
            };
            let x_desc = match r.by {
                By::Sessions => "concurrent sessions",
                By::Rate => "sessions arriving per second",
            };
            let _ = chart.configure_mesh().x_desc(x_desc).draw();
            let points: Vec<(f64, f64)> = steps
                .iter()
                .filter_map(|s| {
                    let y = if value == 0 { s.ttft_p99_ms? } else { s.output_tok_per_s };
                    Some((s.load, y))
                })
                .collect();
            let _ = chart.draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)));
            let _ = chart.draw_series(steps.iter().filter_map(|s| {
                let y = if value == 0 { s.ttft_p99_ms? } else { s.output_tok_per_s };
                let color = if s.passed { GREEN.filled() } else { RED.filled() };
                Some(Circle::new((s.load, y), 5, color))
            }));
            if let Some(c) = r.capacity {
                let _ = chart.draw_series(LineSeries::new([(c, 0.0), (c, top)], BLACK.stroke_width(1)));
            }
        }
        let _ = root.present();
    }
    svg
}

fn html(r: &CapacityResult) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let rows: String = r
        .steps
        .iter()
        .map(|s| {
            let tds: String = cells(r.by, s).iter().map(|c| format!("<td>{}</td>", esc(c))).collect();
            let class = if s.passed { "pass" } else { "fail" };
            format!("<tr class=\"{class}\">{tds}<td>{}</td></tr>", esc(s.reason.as_deref().unwrap_or("")))
        })
        .collect();
    let header: String = COLUMNS.iter().chain(["why"].iter()).map(|c| format!("<th>{c}</th>")).collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>asb capacity</title><style>\
         body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         tr.fail td{{background:#fdecea}}tr.pass td{{background:#eaf7ea}}.headline{{font-size:1.3em;font-weight:bold}}\
         figure.plot{{margin:1em 0}}figure.plot svg{{max-width:100%;height:auto}}.scroll{{overflow-x:auto}}\
         </style></head><body><main><h1>asb capacity</h1><p class=\"headline\">{}</p>\
         <p>SLO: <code>{}</code><br>Endpoint: <code>{}</code><br>Scenario: <code>{}</code><br>{} steps in {:.0} s</p>\
         <figure class=\"plot\" data-plot=\"capacity-curve\" data-marks=\"{}\">{}</figure>\
         <div class=\"scroll\"><table><tr>{header}</tr>{rows}</table></div>\
         <p><small>{}</small></p></main></body></html>",
        esc(&headline(r)),
        esc(&r.slo),
        esc(&r.endpoint),
        esc(&r.scenario),
        r.steps.len(),
        r.elapsed_s,
        // The step marks drawn: TTFT p99 (steps that have one) and output tok/s.
        r.steps.iter().filter(|s| s.ttft_p99_ms.is_some()).count() + r.steps.len(),
        curve_svg(r),
        esc(&r.rule)
    )
}

/// `-o X.json` writes the JSON; `.md` and `.html` write that and X.json beside it.
pub(crate) fn write(r: &CapacityResult, path: &Path) -> Result<Vec<PathBuf>> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let json_path = path.with_extension("json");
    let write = |p: &Path, text: &str| std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()));
    let mut written = Vec::new();
    match ext.as_deref() {
        Some("md") => {
            write(path, &markdown(r))?;
            written.push(path.to_path_buf());
        }
        Some("html" | "htm") => {
            write(path, &html(r))?;
            written.push(path.to_path_buf());
        }
        _ => {}
    }
    write(&json_path, &serde_json::to_string_pretty(r)?)?;
    written.push(json_path);
    Ok(written)
}

/// `asb compare` of two capacity results: the capacity ratio, and the two curves side by
/// side at the loads either one tried. Different SLOs or search axes are called out first:
/// then the ratio compares unlike things.
pub(crate) fn compare(base: &CapacityResult, cand: &CapacityResult) -> String {
    let mut out = String::from("# asb capacity: baseline vs candidate\n\n");
    if base.slo != cand.slo || base.by != cand.by {
        let _ = writeln!(
            out,
            "**Not like for like:** baseline `{}` by {:?}, candidate `{}` by {:?}.\n",
            base.slo, base.by, cand.slo, cand.by
        );
    }
    let cap = |r: &CapacityResult| r.capacity.map_or("below the lowest load tried".to_string(), |c| load_text(r.by, c));
    let ratio = match (base.capacity, cand.capacity) {
        (Some(b), Some(c)) if b > 0.0 => format!("{:.2}×", c / b),
        _ => NONE.to_string(),
    };
    let _ = writeln!(out, "| | baseline | candidate |\n|---|---|---|");
    let _ = writeln!(out, "| capacity | {} | {} |", cap(base), cap(cand));
    let _ = writeln!(out, "| endpoint | `{}` | `{}` |", base.endpoint, cand.endpoint);
    let _ = writeln!(out, "| SLO | `{}` | `{}` |", base.slo, cand.slo);
    let _ = writeln!(out, "\n**Capacity ratio (candidate / baseline): {ratio}**\n");
    let mut loads: Vec<f64> = base.steps.iter().chain(&cand.steps).map(|s| s.load).collect();
    loads.sort_by(f64::total_cmp);
    loads.dedup();
    out.push_str("| load | baseline | candidate | TTFT p99 (b / c) | output tok/s (b / c) |\n|---|---|---|---|---|\n");
    let find = |r: &'_ CapacityResult, load: f64| r.steps.iter().rev().find(|s| s.load == load).cloned();
    for load in loads {
        let (b, c) = (find(base, load), find(cand, load));
        let verdict = |s: &Option<StepResult>| match s {
            Some(s) if s.passed => "pass",
            Some(_) => "fail",
            None => NONE,
        };
        let ttft =
            |s: &Option<StepResult>| s.as_ref().and_then(|s| s.ttft_p99_ms).map_or(NONE.to_string(), duration_ms);
        let tput = |s: &Option<StepResult>| s.as_ref().map_or(NONE.to_string(), |s| rate1(s.output_tok_per_s));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} / {} | {} / {} |",
            load_text(base.by, load),
            verdict(&b),
            verdict(&c),
            ttft(&b),
            ttft(&c),
            tput(&b),
            tput(&c)
        );
    }
    out
}

/// Reads a capacity result written by `asb capacity`, if `text` is one.
pub(crate) fn parse(text: &str) -> Option<Result<CapacityResult, serde_json::Error>> {
    #[derive(Deserialize)]
    struct Probe {
        capacity_version: Option<u32>,
    }
    let probe: Probe = serde_json::from_str(text).ok()?;
    probe.capacity_version?;
    Some(serde_json::from_str(text))
}
