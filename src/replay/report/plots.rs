//! The plots of the HTML reports, as data first ([`Plot`]: axes, series) and SVG second
//! ([`Plot::svg`], drawn with `plotters`' SVG backend). Keeping the data apart lets the unit
//! tests check what a reader relies on — every point inside its axes, headroom above the
//! highest — without parsing SVG.
//!
//! Axes are fitted to their data ([`Axis::fit`]): linear axes start at zero and end at a
//! round number above the maximum, log axes run between the 1-2-5 steps around the data.
//! Tick labels are spelled with one number of decimals per axis, from the tick step, so an
//! axis never reads `0.00, 200, 400`. Legends are HTML beside the SVG, never over the data.

use std::error::Error;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::html::escape;
use crate::display::count;

/// One colour per series, in order (colour-blind-safe "tab10" hues).
pub(crate) const PALETTE: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
pub(crate) const FAILED: RGBColor = RGBColor(214, 39, 40);
pub(crate) const GREY: RGBColor = RGBColor(170, 170, 170);
const FONT: &str = "sans-serif";

pub(crate) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub label: String,
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
}

impl Axis {
    /// An axis holding every finite value of `values` with room to spare: linear from 0
    /// (or below, for negative data) to a round number at least 8 % above the maximum; log
    /// between the 1-2-5 steps below the minimum and above the maximum (positive values
    /// only; without any, linear).
    pub(crate) fn fit(label: &str, values: impl IntoIterator<Item = f64>, log: bool) -> Axis {
        let v: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let label = label.to_string();
        let positive: Vec<f64> = v.iter().copied().filter(|v| *v > 0.0).collect();
        if log && !positive.is_empty() {
            let min = positive.iter().copied().fold(f64::INFINITY, f64::min);
            let max = positive.iter().copied().fold(0.0, f64::max);
            let lo = step_125(min * 0.95, false);
            let mut hi = step_125(max * 1.1, true);
            if hi <= lo {
                hi = step_125(lo * 1.5, true);
            }
            return Axis { label, lo, hi, log: true };
        }
        let max = v.iter().copied().fold(0.0, f64::max);
        let min = v.iter().copied().fold(0.0, f64::min);
        let hi = if max > 0.0 { nice_ceil(max * 1.08) } else { 1.0 };
        let lo = if min < 0.0 { -nice_ceil(-min * 1.08) } else { 0.0 };
        Axis { label, lo, hi, log: false }
    }

    /// A fixed axis (shares, categories).
    pub(crate) fn fixed(label: &str, lo: f64, hi: f64) -> Axis {
        Axis { label: label.to_string(), lo, hi, log: false }
    }

    pub(crate) fn contains(&self, v: f64) -> bool {
        v >= self.lo && v <= self.hi
    }

    /// The step between a linear axis's ticks: a round number giving 4 to 8 ticks.
    fn step(&self) -> f64 {
        let raw = (self.hi - self.lo) / 6.0;
        if !(raw.is_finite() && raw > 0.0) {
            return 1.0;
        }
        let p = 10f64.powf(raw.log10().floor());
        [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * p).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * p)
    }

    /// Where the ticks go: multiples of [`Axis::step`] on a linear axis, the 1-2-5 steps
    /// (decades only when they would crowd) on a log axis.
    pub(crate) fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.log10().floor() as i32, self.hi.log10().ceil() as i32);
            let within = |ms: &[f64]| -> Vec<f64> {
                (a..=b)
                    .flat_map(|e| ms.iter().map(move |m| m * 10f64.powi(e)))
                    .filter(|v| *v >= self.lo * (1.0 - 1e-9) && *v <= self.hi * (1.0 + 1e-9))
                    .collect()
            };
            let all = within(&[1.0, 2.0, 5.0]);
            return if all.len() > 12 { within(&[1.0]) } else { all };
        }
        let step = self.step();
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step + 1e-9).floor() as i64;
        (first..=last.min(first + 1000)).map(|i| i as f64 * step).collect()
    }

    /// The tick label of `v`: on a linear axis with the decimals its step needs (the same
    /// for every tick); on a log axis with the decimals its own value needs.
    fn tick(&self, v: f64) -> String {
        if self.log {
            return plain(v, decimals_of(v));
        }
        plain(v, decimals_of(self.step()))
    }
}

/// Decimals that spell `v` exactly, up to 4: 0 for 200, 1 for 2.5, 2 for 0.25.
fn decimals_of(v: f64) -> usize {
    (0..4)
        .find(|d| {
            let scaled = v.abs() * 10f64.powi(*d as i32);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(4)
}

/// `1,200`, `0.5`, `12.25`: thousands separated when whole.
fn plain(v: f64, decimals: usize) -> String {
    if decimals == 0 {
        let r = v.round();
        if r < 0.0 {
            return format!("-{}", count((-r) as u64));
        }
        return count(r as u64);
    }
    format!("{v:.decimals$}")
}

/// The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) ≥ `v`.
fn nice_ceil(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * p >= v * (1.0 - 1e-12) {
            return m * p;
        }
    }
    10.0 * p
}

/// The 1-2-5 step at or above (`up`) or at or below `v`.
fn step_125(v: f64, up: bool) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    let steps = [1.0, 2.0, 5.0, 10.0];
    if up {
        steps.iter().map(|m| m * p).find(|s| *s >= v * (1.0 - 1e-12)).unwrap_or(10.0 * p)
    } else {
        steps.iter().rev().map(|m| m * p).find(|s| *s <= v * (1.0 + 1e-12)).unwrap_or(p)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Data {
    /// A line through the points in order.
    Line(Vec<(f64, f64)>),
    /// One dot per point.
    Dots(Vec<(f64, f64)>),
    /// Horizontal bars `(x0, x1, row)`: row `r` spans `r .. r + 1` on the y axis.
    Bars(Vec<(f64, f64, f64)>),
    /// Short vertical ticks `(x, row)` across a row.
    Ticks(Vec<(f64, f64)>),
}

impl Data {
    /// Every `(x, y)` the series puts on the plot.
    pub(crate) fn points(&self) -> Vec<(f64, f64)> {
        match self {
            Data::Line(p) | Data::Dots(p) => p.clone(),
            Data::Bars(b) => b.iter().flat_map(|&(x0, x1, r)| [(x0, r), (x1, r + 1.0)]).collect(),
            Data::Ticks(t) => t.iter().flat_map(|&(x, r)| [(x, r), (x, r + 1.0)]).collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Data::Line(p) | Data::Dots(p) | Data::Ticks(p) => p.len(),
            Data::Bars(b) => b.len(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub name: String,
    pub colour: RGBColor,
    pub data: Data,
}

#[derive(Debug, Clone)]
pub(crate) struct Plot {
    /// A stable id for the page and its tests (`ttft-ecdf`).
    pub id: &'static str,
    pub title: String,
    /// What the plot shows, as HTML.
    pub caption: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub size: (u32, u32),
    /// Row names of a bar plot (y = row index), shown instead of numbers.
    pub rows: Option<Vec<String>>,
    /// Whether the series are listed in a legend.
    pub legend: bool,
}

impl Plot {
    pub(crate) fn new(id: &'static str, title: &str, caption: &str, x: Axis, y: Axis, series: Vec<Series>) -> Plot {
        Plot {
            id,
            title: title.into(),
            caption: caption.into(),
            x,
            y,
            series,
            size: (560, 340),
            rows: None,
            legend: true,
        }
    }

    /// Marks drawn: points, dots, bars, ticks.
    pub(crate) fn marks(&self) -> usize {
        self.series.iter().map(|s| s.data.len()).sum()
    }

    /// The points of every series outside the axes (log axes also drop what they cannot
    /// show: nothing ≤ 0 is ever put on one).
    #[cfg(test)]
    pub(crate) fn outside(&self) -> Vec<(f64, f64)> {
        self.series
            .iter()
            .flat_map(|s| s.data.points())
            .filter(|&(x, y)| !(self.x.contains(x) && self.y.contains(y)))
            .collect()
    }

    /// The plot as a `<figure>`: caption, HTML legend, inline SVG.
    pub(crate) fn figure(&self, wide: bool) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<figure class=\"plot{}\" data-plot=\"{}\" data-marks=\"{}\">\n<figcaption><strong>{}</strong> — {}</figcaption>\n",
            if wide { " wide" } else { "" },
            self.id,
            self.marks(),
            escape(&self.title),
            self.caption
        );
        if self.legend && !self.series.is_empty() {
            out.push_str("<ul class=\"legend\">");
            for s in &self.series {
                let RGBColor(r, g, b) = s.colour;
                let _ = write!(
                    out,
                    "<li><span class=\"swatch\" style=\"background:rgb({r},{g},{b})\"></span>{}</li>",
                    escape(&s.name)
                );
            }
            out.push_str("</ul>\n");
        }
        match self.svg() {
            Ok(svg) => out.push_str(&svg),
            Err(why) => {
                let _ = writeln!(out, "<p class=\"nodata\">The plot could not be drawn: {}</p>", escape(&why));
            }
        }
        out.push_str("</figure>\n");
        out
    }

    /// The SVG of the plot, ready to inline in HTML. Drawing errors — and a panic inside
    /// the plotting library, should one happen — come back as text for the page.
    pub(crate) fn svg(&self) -> Result<String, String> {
        let mut buf = String::new();
        let drawn = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
            let root = SVGBackend::with_string(&mut buf, self.size).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let (x, y) = (self.x.lo..self.x.hi, self.y.lo..self.y.hi);
            // The ticks are ours (plotters' log ticks crowd the top decade).
            let yt = match &self.rows {
                // Row names at the middle of their rows, at most ~24 of them.
                Some(rows) => {
                    let every = rows.len().div_ceil(24).max(1);
                    (0..rows.len()).step_by(every).map(|i| i as f64 + 0.5).collect()
                }
                None => self.y.ticks(),
            };
            let xt = self.x.ticks();
            match (self.x.log, self.y.log) {
                (false, false) => self.draw(&root, ticked(x, xt), ticked(y, yt)),
                (true, false) => self.draw(&root, ticked(x.log_scale(), xt), ticked(y, yt)),
                (false, true) => self.draw(&root, ticked(x, xt), ticked(y.log_scale(), yt)),
                (true, true) => self.draw(&root, ticked(x.log_scale(), xt), ticked(y.log_scale(), yt)),
            }
            .map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())
        }));
        match drawn {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("the plotting library failed".into()),
        }
        // Inline SVG in HTML needs no namespace declaration; without it the page holds no
        // URL of its own.
        Ok(buf.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1))
    }

    fn draw<X, Y>(&self, root: &DrawingArea<SVGBackend<'_>, Shift>, x: X, y: Y) -> Result<(), Box<dyn Error>>
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_right(22)
            .x_label_area_size(44)
            .y_label_area_size(if self.rows.is_some() { 40 } else { 64 })
            .build_cartesian_2d(x, y)?;
        let x_tick = |v: &f64| self.x.tick(*v);
        let row_tick = |v: &f64| {
            let i = v.floor();
            match &self.rows {
                Some(rows) if (v - i - 0.5).abs() < 0.01 && i >= 0.0 => {
                    rows.get(i as usize).cloned().unwrap_or_default()
                }
                Some(_) => String::new(),
                None => self.y.tick(*v),
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x.label.as_str())
            .y_desc(self.y.label.as_str())
            .x_label_formatter(&x_tick)
            .y_label_formatter(&row_tick)
            .x_labels(40)
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14));
        if self.rows.is_some() {
            mesh.disable_y_mesh();
        } else {
            mesh.y_labels(40);
        }
        mesh.draw()?;
        let (x_ok, y_ok) = (|v: f64| self.x.contains(v), |v: f64| self.y.contains(v));
        for s in &self.series {
            let c = s.colour;
            match &s.data {
                Data::Line(p) => {
                    let p = p.iter().copied().filter(|&(a, b)| x_ok(a) && y_ok(b));
                    chart.draw_series(LineSeries::new(p, c.stroke_width(2)))?;
                }
                Data::Dots(p) => {
                    let dots = p.iter().filter(|&&(a, b)| x_ok(a) && y_ok(b));
                    chart.draw_series(dots.map(|&p| Circle::new(p, 3, c.mix(0.65).filled())))?;
                }
                Data::Bars(b) => {
                    let bars = b.iter().filter(|&&(x0, x1, _)| x_ok(x0) && x_ok(x1));
                    let fill = bars
                        .clone()
                        .map(|&(x0, x1, r)| Rectangle::new([(x0, r + 0.15), (x1, r + 0.85)], c.mix(0.75).filled()));
                    chart.draw_series(fill)?;
                    // A white edge on each bar: back-to-back requests stay two bars.
                    let edge = bars
                        .map(|&(x0, x1, r)| Rectangle::new([(x0, r + 0.15), (x1, r + 0.85)], WHITE.stroke_width(1)));
                    chart.draw_series(edge)?;
                }
                Data::Ticks(t) => {
                    let ticks = t.iter().filter(|&&(a, _)| x_ok(a));
                    chart.draw_series(
                        ticks.map(|&(a, r)| PathElement::new(vec![(a, r + 0.08), (a, r + 0.92)], c.stroke_width(2))),
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// A coordinate with our ticks: plotters maps values, we say where the ticks go.
struct Ticked<R> {
    inner: R,
    ticks: Vec<f64>,
}

fn ticked<A: AsRangedCoord<Value = f64>>(range: A, ticks: Vec<f64>) -> Ticked<A::CoordDescType> {
    Ticked { inner: range.into(), ticks }
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold lines and labels at the ticks; no light lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// `(value, share ≤ value)` steps of the empirical CDF of sorted `v`, at most ~400 points
/// (evenly spaced ranks beyond that, always the first and last).
pub(crate) fn ecdf(v: &[f64]) -> Vec<(f64, f64)> {
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let stride = n.div_ceil(200).max(1);
    let mut ranks: Vec<usize> = (0..n).step_by(stride).collect();
    if ranks.last() != Some(&(n - 1)) {
        ranks.push(n - 1);
    }
    let mut out = Vec::with_capacity(ranks.len() * 2);
    let mut before = 0.0;
    for i in ranks {
        let share = (i + 1) as f64 / n as f64;
        out.push((v[i], before));
        out.push((v[i], share));
        before = share;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_hold_their_data_with_headroom() {
        let a = Axis::fit("y", [3.0, 99.0, 100.0], false);
        assert_eq!((a.lo, a.hi), (0.0, 120.0));
        assert!(a.hi > 100.0);
        let a = Axis::fit("y", [0.0], false);
        assert_eq!((a.lo, a.hi), (0.0, 1.0));
        let a = Axis::fit("x", [12.0, 950.0, 0.0], true);
        assert_eq!((a.lo, a.hi, a.log), (10.0, 2000.0, true));
        let a = Axis::fit("x", [0.0, f64::NAN], true);
        assert!(!a.log);
    }

    #[test]
    fn ticks_share_their_decimals() {
        let a = Axis::fit("y", [390.0], false);
        assert_eq!([0.0, 200.0, 400.0].map(|v| a.tick(v)), ["0", "200", "400"]);
        assert_eq!(a.ticks(), [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]);
        let a = Axis::fixed("share", 0.0, 1.0);
        assert_eq!(
            a.ticks().iter().map(|v| a.tick(*v)).collect::<Vec<_>>(),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        let a = Axis::fit("x", [12.0, 950.0], true);
        assert_eq!(a.ticks(), [10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]);
        assert_eq!(a.ticks().iter().map(|v| a.tick(*v)).collect::<Vec<_>>()[6], "1,000");
        let a = Axis::fit("x", [0.3, 2.0], true);
        assert_eq!(a.ticks().iter().map(|v| a.tick(*v)).collect::<Vec<_>>(), ["0.2", "0.5", "1", "2", "5"]);
        // Wide log ranges keep the decades only.
        assert_eq!(Axis::fit("x", [1.0, 900_000.0], true).ticks().len(), 7);
    }

    #[test]
    fn ecdf_steps_to_one() {
        let e = ecdf(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(e.first(), Some(&(1.0, 0.0)));
        assert_eq!(e.last(), Some(&(4.0, 1.0)));
        let big: Vec<f64> = (0..10_000).map(f64::from).collect();
        let e = ecdf(&big);
        assert!(e.len() <= 404 && e.last() == Some(&(9999.0, 1.0)));
    }
}
