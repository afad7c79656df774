//! The scraped time series, as kept in memory and saved in the run JSON: one time column
//! (ms on the run's clock) and one value column per concept and per raw series, `null`
//! where a scrape failed or lacked the series.
//!
//! Bounds: at most [`MAX_SERIES`] raw series (the first seen; the rest are counted in
//! `dropped_series`) and [`MAX_ROWS`] rows. A full table keeps every other row and from
//! then on stores every 2nd scrape (`stride` doubles), so a long run keeps its whole span
//! at a coarser step. Memory is at most rows × (concepts + series) × 16 bytes ≈ 31 MB;
//! the JSON is smaller (integers and nulls are short), see docs/replay.md for bytes per
//! hour.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize, Serializer};

use super::concepts::{ByName, Concept};
use super::exposition::Point;

/// Raw series kept, at most.
pub(crate) const MAX_SERIES: usize = 128;
/// Rows kept before the table halves its resolution: one hour at 250 ms.
pub(crate) const MAX_ROWS: usize = 14_400;

/// One raw series.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct RawSeries {
    /// Name and labels, as the server wrote them (labels sorted).
    pub key: String,
    /// `counter`, `gauge` or `untyped` (histogram `_sum`/`_count` are `untyped`).
    pub kind: String,
    #[serde(serialize_with = "column")]
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct SeriesTable {
    /// When each kept scrape was taken, ms from the run's start (negative: before the
    /// first request): the midpoint of its request and its response.
    #[serde(serialize_with = "column")]
    pub t_ms: Vec<f64>,
    /// Every `stride`-th scrape is kept (1 unless the run outgrew [`MAX_ROWS`]).
    pub stride: u32,
    /// Concept (see `concepts`) → its value per kept scrape.
    #[serde(serialize_with = "columns")]
    pub concepts: BTreeMap<String, Vec<Option<f64>>>,
    pub raw: Vec<RawSeries>,
    /// Raw series seen beyond [`MAX_SERIES`] and not kept.
    pub dropped_series: usize,
    #[serde(skip)]
    index: HashMap<String, usize>,
    #[serde(skip)]
    seen: u64,
}

impl SeriesTable {
    pub(crate) fn new() -> Self {
        SeriesTable { stride: 1, ..Default::default() }
    }

    /// Adds one scrape taken at `t_ms` (on the scraper's clock); `None` is a failed one.
    pub(crate) fn push(&mut self, t_ms: f64, points: Option<&[Point]>) {
        self.seen += 1;
        if (self.seen - 1) % u64::from(self.stride.max(1)) != 0 {
            return;
        }
        if self.t_ms.len() >= MAX_ROWS {
            self.halve();
        }
        let row = self.t_ms.len();
        self.t_ms.push((t_ms * 100.0).round() / 100.0);
        let by_name = points.map(ByName::of);
        for c in Concept::ALL {
            let v = by_name.as_ref().and_then(|b| b.value(c));
            if v.is_some() || self.concepts.contains_key(c.key()) {
                self.concepts.entry(c.key().to_string()).or_insert_with(|| vec![None; row]).push(v);
            }
        }
        for p in points.unwrap_or(&[]) {
            let key = p.key();
            let i = match self.index.get(&key) {
                Some(&i) => i,
                None if self.raw.len() < MAX_SERIES => {
                    self.raw.push(RawSeries { key: key.clone(), kind: p.kind.name().into(), values: vec![None; row] });
                    self.index.insert(key, self.raw.len() - 1);
                    self.raw.len() - 1
                }
                None => {
                    self.index.insert(key, usize::MAX);
                    self.dropped_series += 1;
                    continue;
                }
            };
            if let Some(s) = self.raw.get_mut(i) {
                if s.values.len() == row {
                    s.values.push(Some(p.value));
                }
            }
        }
        let len = row + 1;
        for col in self.concepts.values_mut().chain(self.raw.iter_mut().map(|s| &mut s.values)) {
            col.resize(len, None);
        }
    }

    fn halve(&mut self) {
        let keep = |v: &mut Vec<Option<f64>>| {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                (i - 1) % 2 == 0
            });
        };
        let mut i = 0;
        self.t_ms.retain(|_| {
            i += 1;
            (i - 1) % 2 == 0
        });
        self.concepts.values_mut().for_each(keep);
        self.raw.iter_mut().for_each(|s| keep(&mut s.values));
        self.stride = self.stride.saturating_mul(2);
    }

    /// Moves every time onto another clock (`t − offset`).
    pub(crate) fn shift(&mut self, offset_ms: f64) {
        for t in &mut self.t_ms {
            *t = ((*t - offset_ms) * 100.0).round() / 100.0;
        }
    }

    /// The column of a concept, if any scrape had it.
    pub(crate) fn concept(&self, c: Concept) -> Option<&[Option<f64>]> {
        self.concepts.get(c.key()).map(Vec::as_slice)
    }
}

/// A column on one line even in a pretty-printed file (about half the bytes): written
/// as a raw JSON value.
fn column<T: Serialize, S: Serializer>(values: &[T], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let text = serde_json::to_string(values).map_err(S::Error::custom)?;
    serde_json::value::RawValue::from_string(text).map_err(S::Error::custom)?.serialize(s)
}

fn columns<S: Serializer>(map: &BTreeMap<String, Vec<Option<f64>>>, s: S) -> Result<S::Ok, S::Error> {
    struct Column<'a>(&'a [Option<f64>]);
    impl Serialize for Column<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            column(self.0, s)
        }
    }
    s.collect_map(map.iter().map(|(k, v)| (k, Column(v))))
}

#[cfg(test)]
mod tests {
    use super::super::exposition::parse;
    use super::*;

    #[test]
    fn columns_stay_aligned_through_failures_and_new_series() {
        let mut t = SeriesTable::new();
        t.push(0.0, Some(&parse("vllm:num_requests_running 1\n").unwrap()));
        t.push(250.0, None);
        t.push(500.0, Some(&parse("vllm:num_requests_running 2\nother 7\n").unwrap()));
        assert_eq!(t.t_ms, [0.0, 250.0, 500.0]);
        assert_eq!(t.concept(Concept::Running).unwrap(), [Some(1.0), None, Some(2.0)]);
        assert_eq!(t.raw[1].key, "other");
        assert_eq!(t.raw[1].values, [None, None, Some(7.0)]);
        assert!(t.concept(Concept::Waiting).is_none());
        let pretty = serde_json::to_string_pretty(&t).unwrap();
        assert!(pretty.contains("\"t_ms\": [0.0,250.0,500.0]"), "{pretty}");
        assert!(pretty.contains("[null,null,7.0]"), "{pretty}");
        let back: SeriesTable = serde_json::from_str(&pretty).unwrap();
        assert_eq!((back.t_ms, back.raw), (t.t_ms.clone(), t.raw.clone()));
    }

    #[test]
    fn series_and_rows_are_bounded() {
        let mut t = SeriesTable::new();
        let many: String = (0..MAX_SERIES + 5).map(|i| format!("s{i} 1\n")).collect();
        let points = parse(&many).unwrap();
        for i in 0..MAX_ROWS + 10 {
            t.push(i as f64, Some(&points[..if i == 0 { points.len() } else { 1 }]));
        }
        assert_eq!((t.raw.len(), t.dropped_series), (MAX_SERIES, 5));
        assert!(t.t_ms.len() <= MAX_ROWS && t.t_ms.len() > MAX_ROWS / 2);
        assert_eq!(t.stride, 2);
        assert_eq!(t.t_ms[1], 2.0);
        assert!(t.raw.iter().all(|s| s.values.len() == t.t_ms.len()));
    }
}
