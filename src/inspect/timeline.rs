//! `asb timeline FILE [--width N]`: an ASCII waterfall of a recording's calls.
//!
//! One row per call in arrival order; each bar starts at the call's real start offset and is
//! as long as the call took, so sub-agent calls running at the same time show as bars that
//! overlap. `|` marks the first token inside a bar, a failed call is drawn with `x`, and a
//! time axis with ticks runs underneath. Where the recording has no start offsets the
//! header says how the calls were placed (see [`super::arrival`]).
//!
//! Plain ASCII bars (no colour, no block characters), so the output reads the same in a
//! terminal, a log file or a test assertion.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::display::{cut, cut_left, duration_ms, plural, tokens, wrap};

use super::arrival::{self, Placed, StartSource};
use super::facts::{CallFacts, FactsReader};

#[derive(Debug, Clone, Args)]
pub(crate) struct TimelineArgs {
    /// The recording (a JSONL file written by `asb record`, or one of AgenticSwarmBench's).
    pub file: PathBuf,
    /// Output width in characters (default: $COLUMNS, else 100).
    #[arg(long)]
    pub width: Option<usize>,
}

const DEFAULT_WIDTH: usize = 100;
/// Bars get at least this many columns, even if the line then overflows the width.
const MIN_BAR: usize = 10;
const MODEL_MAX: usize = 24;
const MODEL_MIN: usize = 8;
/// Ticks are at least this many columns apart.
const TICK_GAP: f64 = 10.0;

const FILL: char = '=';
const FAILED: char = 'x';
const FIRST_TOKEN: char = '|';

/// `asb timeline`.
pub(crate) fn run(args: TimelineArgs) -> Result<ExitCode> {
    let mut facts = FactsReader::default();
    let calls = super::load_with(&args.file, |_, c| facts.of(&c))?;
    let width = args.width.or_else(columns_env).unwrap_or(DEFAULT_WIDTH);
    let mut stdout = crate::output::Emitter::default();
    render_to(&args.file.display().to_string(), &calls, width, &mut |text| stdout.write(text))?;
    Ok(ExitCode::SUCCESS)
}

fn columns_env() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.trim().parse().ok().filter(|w| *w > 0)
}

/// The label columns of one row.
struct Label {
    seq: String,
    thread: String,
    model: String,
    tokens: String,
    duration: String,
}

impl Label {
    fn of(c: &CallFacts, p: &Placed) -> Self {
        let show = |n: Option<u64>| n.map(tokens).unwrap_or_else(|| "?".into());
        Label {
            seq: format!("#{}", c.seq),
            thread: c.thread_id.as_deref().map(|t| t.chars().take(6).collect()).unwrap_or_else(|| "-".into()),
            model: c.model.to_string(),
            tokens: format!("{}/{}", show(c.input_tokens()), show(c.output_tokens())),
            duration: duration_ms(p.duration_ms),
        }
    }
}

/// Widths of the label columns.
struct Widths {
    seq: usize,
    model: usize,
    tokens: usize,
    duration: usize,
}

const THREAD_WIDTH: usize = 6;

impl Widths {
    /// Widths for `labels` (made one at a time, not kept).
    fn of(labels: impl Iterator<Item = Label>, width: usize) -> Self {
        let mut w = Widths { seq: 1, model: 5, tokens: 6, duration: 4 };
        for l in labels {
            w.seq = w.seq.max(l.seq.chars().count());
            w.model = w.model.max(l.model.chars().count());
            w.tokens = w.tokens.max(l.tokens.chars().count());
            w.duration = w.duration.max(l.duration.chars().count());
        }
        w.model = w.model.min(MODEL_MAX);
        // Give the bars room before the model names.
        let short = (w.total() + 1 + MIN_BAR).saturating_sub(width);
        w.model = w.model.saturating_sub(short).max(MODEL_MIN);
        w
    }

    fn total(&self) -> usize {
        self.seq + 1 + THREAD_WIDTH + 1 + self.model + 1 + self.tokens + 1 + self.duration
    }

    fn line(&self, seq: &str, thread: &str, model: &str, tokens: &str, duration: &str) -> String {
        format!(
            "{seq:>sw$} {thread:<THREAD_WIDTH$} {model:<mw$} {tokens:>tw$} {duration:>dw$}",
            model = cut(model, self.model),
            sw = self.seq,
            mw = self.model,
            tw = self.tokens,
            dw = self.duration
        )
    }
}

/// The whole timeline, `width` characters wide.
#[cfg(test)]
pub(crate) fn render(file: &str, calls: &[CallFacts], width: usize) -> String {
    let mut text = String::new();
    let _ = render_to(file, calls, width, &mut |piece| {
        text.push_str(piece);
        Ok(())
    });
    text
}

/// Output is handed to the sink in pieces of about this size.
const PIECE: usize = 64 * 1024;

/// The whole timeline, handed to `sink` piece by piece as the rows are drawn (a timeline of
/// millions of calls is never held whole).
fn render_to(file: &str, calls: &[CallFacts], width: usize, sink: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
    let schedule = arrival::schedule(calls);
    let span = schedule.span_ms();
    let mut out = String::new();
    const TITLE: &str = "asb timeline  ";
    let _ = writeln!(out, "{TITLE}{}", cut_left(file, width.saturating_sub(TITLE.len()).max(12)));
    let mut about =
        format!("{} over {}; {}", plural(calls.len(), "call"), duration_ms(span), schedule.source.describe());
    if schedule.runs > 1 && schedule.source == StartSource::Offsets {
        let _ = write!(about, " ({} recorder runs aligned by timestamp)", schedule.runs);
    }
    out.push_str(&wrap(&about, width));
    if calls.is_empty() {
        return sink(&out);
    }
    let _ = writeln!(out, "{FILL} call   {FIRST_TOKEN} first token   {FAILED} failed call");
    let _ = writeln!(out);

    let widths = Widths::of(schedule.calls.iter().map(|p| Label::of(&calls[p.index], p)), width);
    let bar_width = width.saturating_sub(widths.total() + 1).max(MIN_BAR);
    let _ = writeln!(out, "{}", widths.line("#", "thread", "model", "in/out", "time"));
    for p in &schedule.calls {
        let c = &calls[p.index];
        let l = Label::of(c, p);
        let bar = bar(p, c.ttft_ms(), c.failed(), span, bar_width);
        let row = format!("{} {bar}", widths.line(&l.seq, &l.thread, &l.model, &l.tokens, &l.duration));
        let _ = writeln!(out, "{}", row.trim_end());
        if out.len() >= PIECE {
            sink(&out)?;
            out.clear();
        }
    }
    let (ticks, tick_labels) = axis(span, bar_width);
    let indent = " ".repeat(widths.total() + 1);
    let _ = writeln!(out, "{indent}{ticks}");
    let _ = writeln!(out, "{indent}{}", tick_labels.trim_end());
    sink(&out)
}

/// Column of time `t_ms` on a bar `width` columns wide spanning `span_ms`.
fn column(t_ms: f64, span_ms: f64, width: usize) -> f64 {
    t_ms / span_ms.max(f64::MIN_POSITIVE) * width as f64
}

/// The columns `[from, to)` an interval covers: at least one, never past the end.
pub(crate) fn columns(start_ms: f64, end_ms: f64, span_ms: f64, width: usize) -> (usize, usize) {
    let from = (column(start_ms, span_ms, width).floor().max(0.0) as usize).min(width.saturating_sub(1));
    let to = (column(end_ms, span_ms, width).ceil() as usize).clamp(from + 1, width.max(from + 1));
    (from, to)
}

/// One call's bar: blanks, then the call's columns filled, with the first token marked.
pub(crate) fn bar(p: &Placed, ttft_ms: Option<f64>, failed: bool, span_ms: f64, width: usize) -> String {
    let (from, to) = columns(p.start_ms, p.end_ms(), span_ms, width);
    let mut cells = vec![' '; to];
    let fill = if failed { FAILED } else { FILL };
    cells[from..to].fill(fill);
    if let Some(ttft) = ttft_ms.filter(|_| to - from >= 2) {
        let at = (column(p.start_ms + ttft, span_ms, width).floor() as usize).clamp(from, to - 1);
        cells[at] = FIRST_TOKEN;
    }
    cells.into_iter().collect()
}

/// The axis under the bars: a line with `+` at each tick, and the tick labels.
pub(crate) fn axis(span_ms: f64, width: usize) -> (String, String) {
    let step = tick_step(span_ms, width);
    let mut ticks = vec!['-'; width];
    let mut labels = vec![' '; width];
    let mut free_from = 0;
    let mut k = 0u64;
    while k as f64 * step <= span_ms * (1.0 + 1e-9) {
        let t = k as f64 * step;
        let col = (column(t, span_ms, width).round() as usize).min(width - 1);
        ticks[col] = '+';
        let text: Vec<char> = tick_label(t, step).chars().collect();
        let at = col.min(width.saturating_sub(text.len()));
        if at >= free_from && at + text.len() <= width {
            labels[at..at + text.len()].copy_from_slice(&text);
            free_from = at + text.len() + 1;
        }
        k += 1;
    }
    (ticks.into_iter().collect(), labels.into_iter().collect())
}

/// The smallest round step (1-2-5 ms; then whole seconds, minutes, hours) that keeps ticks
/// at least `TICK_GAP` columns apart.
fn tick_step(span_ms: f64, width: usize) -> f64 {
    const STEPS_MS: &[f64] = &[
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3,
        600e3, 900e3, 1800e3, 3600e3,
    ];
    let min = span_ms * TICK_GAP / width.max(1) as f64;
    let mut step = STEPS_MS.iter().copied().find(|s| *s >= min).unwrap_or(3600e3);
    while step < min {
        step *= 2.0;
    }
    step
}

/// A tick's label in the unit of the step: `250ms`, `12s`, `5m`, `1h30m`.
fn tick_label(t_ms: f64, step_ms: f64) -> String {
    if step_ms < 1000.0 {
        format!("{}ms", t_ms.round() as u64)
    } else if step_ms < 60_000.0 {
        format!("{}s", (t_ms / 1000.0).round() as u64)
    } else {
        let minutes = (t_ms / 60_000.0).round() as u64;
        match (minutes / 60, minutes % 60) {
            (0, m) => format!("{m}m"),
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m:02}m"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::{CallLine, Outcome, Timing};
    use crate::recording::reader::NumberedCall;

    fn placed(start_ms: f64, duration_ms: f64) -> Placed {
        Placed { index: 0, start_ms, duration_ms }
    }

    #[test]
    fn columns_cover_the_interval_and_at_least_one() {
        assert_eq!(columns(0.0, 100.0, 1000.0, 10), (0, 1));
        assert_eq!(columns(100.0, 200.0, 1000.0, 10), (1, 2), "back-to-back calls do not share a column");
        assert_eq!(columns(150.0, 150.0, 1000.0, 10), (1, 2), "a zero-length call still shows");
        assert_eq!(columns(1000.0, 1000.0, 1000.0, 10), (9, 10), "the last instant stays on the bar");
        assert_eq!(columns(0.0, 0.0, 0.0, 10), (0, 1));
    }

    #[test]
    fn bars_mark_first_token_and_failures() {
        assert_eq!(bar(&placed(200.0, 500.0), Some(100.0), false, 1000.0, 10), "  =|===");
        assert_eq!(bar(&placed(0.0, 300.0), None, true, 1000.0, 10), "xxx");
        assert_eq!(bar(&placed(0.0, 50.0), Some(10.0), false, 1000.0, 10), "=", "no room for the marker");
    }

    #[test]
    fn overlapping_calls_share_columns() {
        let a = columns(0.0, 300.0, 1000.0, 50);
        let b = columns(10.0, 310.0, 1000.0, 50);
        assert!(b.0 < a.1, "{a:?} {b:?}");
    }

    #[test]
    fn ticks_are_round_and_spaced() {
        assert_eq!(tick_step(1000.0, 100), 100.0);
        assert_eq!(tick_step(95_000.0, 60), 30_000.0);
        assert_eq!(tick_step(0.3, 80), 1.0);
        assert_eq!(tick_label(1500.0, 500.0), "1500ms");
        assert_eq!(tick_label(30_000.0, 10_000.0), "30s");
        assert_eq!(tick_label(90.0 * 60_000.0, 1_800_000.0), "1h30m");
        let (ticks, labels) = axis(1000.0, 100);
        assert_eq!((ticks.len(), labels.len()), (100, 100));
        assert!(ticks.starts_with("+---------+---------+") && ticks.ends_with("-+"), "{ticks:?}");
        assert!(labels.starts_with("0ms       100ms     200ms"), "{labels:?}");
    }

    #[test]
    fn render_fits_the_width() {
        let call = |seq: u64, offset: f64, outcome| NumberedCall {
            line: seq as usize,
            call: CallLine {
                seq,
                model: "a-rather-long-model-name-for-the-column".into(),
                start_offset_ms: Some(offset),
                outcome: Some(outcome),
                thread_id: Some("abcdef012345".into()),
                timing: Some(Timing { ttft_ms: Some(50.0), end_ms: 400.0, ..Default::default() }),
                ..Default::default()
            },
        };
        let calls = vec![call(2, 100.0, Outcome::UpstreamError), call(1, 0.0, Outcome::Completed)];
        let text = render("f.jsonl", &crate::inspect::facts::facts(&calls), 60);
        let rows: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with('#')).collect();
        assert_eq!(rows.len(), 3, "{text}");
        assert!(rows[1].trim_start().starts_with("#1 abcdef"), "arrival order: {text}");
        assert!(rows[2].contains("xxx"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    }
}
