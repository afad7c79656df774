//! How a run JSON is written: indented like `serde_json`'s pretty printer, except that each
//! element of `requests`, `sessions` and `prefix_cache.sessions` is one compact line. A request printed field per
//! line was 1,785 bytes of which half was indentation; one line each halves the file, and
//! the time to write it and to read it back (`asb report`, the shards' merge), and a row
//! stays one `grep`-able line. Any JSON reader reads it as before.
//!
//! The keys come in [`RunResults`]' order, then `columns` ([`super::run_columns`]: the
//! samples again, compact), then `requests` and `sessions`: a merge of shards reads a file
//! only as far as its columns.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

use super::results::{Requests, RunResults, SessionList};
use super::run_columns::ColumnsOf;

/// Arrays whose elements are written one per line, by their keys from the top.
const ONE_PER_LINE: [&[&str]; 3] = [&["requests"], &["sessions"], &["prefix_cache", "sessions"]];

struct RowsPerLine<'a> {
    pretty: PrettyFormatter<'a>,
    /// Open containers, outermost first: `true` for an array.
    open: Vec<bool>,
    /// The key being written (or last written) in each open object, outermost first.
    keys: Vec<String>,
    in_key: bool,
    /// `open.len()` inside the one-per-line array being written, if one is.
    rows_at: Option<usize>,
}

impl RowsPerLine<'_> {
    /// Inside an element of a one-per-line array (that element's own brackets included
    /// when `opening`).
    fn compact(&self, opening: bool) -> bool {
        self.rows_at.is_some_and(|at| self.open.len() >= if opening { at } else { at + 1 })
    }
}

impl Formatter for RowsPerLine<'_> {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.rows_at.is_none()
            && self.open.iter().all(|&array| !array)
            && ONE_PER_LINE.iter().any(|path| path.iter().eq(self.keys.iter()))
        {
            self.rows_at = Some(self.open.len() + 1);
        }
        let compact = self.compact(true);
        self.open.push(true);
        if compact {
            CompactFormatter.begin_array(w)
        } else {
            self.pretty.begin_array(w)
        }
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let compact = self.compact(false);
        if self.rows_at == Some(self.open.len()) {
            self.rows_at = None;
        }
        self.open.pop();
        if compact {
            CompactFormatter.end_array(w)
        } else {
            self.pretty.end_array(w)
        }
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if self.compact(false) {
            CompactFormatter.begin_array_value(w, first)
        } else {
            self.pretty.begin_array_value(w, first)
        }
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.compact(false) {
            CompactFormatter.end_array_value(w)
        } else {
            self.pretty.end_array_value(w)
        }
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let compact = self.compact(true);
        self.open.push(false);
        if self.rows_at.is_none() {
            self.keys.push(String::new());
        }
        if compact {
            CompactFormatter.begin_object(w)
        } else {
            self.pretty.begin_object(w)
        }
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let compact = self.compact(false);
        self.open.pop();
        if self.rows_at.is_none() {
            self.keys.pop();
        }
        if compact {
            CompactFormatter.end_object(w)
        } else {
            self.pretty.end_object(w)
        }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if self.rows_at.is_none() {
            if let Some(key) = self.keys.last_mut() {
                key.clear();
                self.in_key = true;
            }
        }
        if self.compact(false) {
            CompactFormatter.begin_object_key(w, first)
        } else {
            self.pretty.begin_object_key(w, first)
        }
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.in_key = false;
        if self.compact(false) {
            CompactFormatter.end_object_key(w)
        } else {
            self.pretty.end_object_key(w)
        }
    }
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        if self.in_key {
            if let Some(key) = self.keys.last_mut() {
                key.push_str(fragment);
            }
        }
        w.write_all(fragment.as_bytes())
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.compact(false) {
            CompactFormatter.begin_object_value(w)
        } else {
            self.pretty.begin_object_value(w)
        }
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.compact(false) {
            CompactFormatter.end_object_value(w)
        } else {
            self.pretty.end_object_value(w)
        }
    }
}

/// A run as its JSON holds it: its own fields, then the columns, then the rows.
#[derive(Serialize)]
pub(crate) struct OnDisk<'a> {
    #[serde(flatten)]
    run: &'a RunResults,
    columns: ColumnsOf<'a>,
    requests: &'a Requests,
    sessions: &'a SessionList,
}

impl<'a> OnDisk<'a> {
    pub(crate) fn of(run: &'a RunResults) -> OnDisk<'a> {
        let shards = run.shard.as_ref().map_or(1, |s| s.count);
        OnDisk {
            run,
            columns: ColumnsOf { requests: &run.requests, sessions: &run.sessions, shards },
            requests: &run.requests,
            sessions: &run.sessions,
        }
    }
}

/// Writes `run` into `out`, rows one per line.
pub(crate) fn write<W: Write>(out: W, run: &RunResults) -> serde_json::Result<()> {
    write_value(out, &OnDisk::of(run))
}

/// Writes `value` into `out` in the run JSON's layout.
fn write_value<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> serde_json::Result<()> {
    let formatter = RowsPerLine {
        pretty: PrettyFormatter::new(),
        open: Vec::new(),
        keys: Vec::new(),
        in_key: false,
        rows_at: None,
    };
    let mut ser = serde_json::Serializer::with_formatter(out, formatter);
    value.serialize(&mut ser)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_one_line_each_and_the_rest_indented() {
        let value = serde_json::json!({
            "summary": {"metrics": {"ttft_ms": {"p50": 1.5}}},
            "requests": [{"a": 1, "itl_ms": [0.5, 0.25], "nested": {"b": null}}, {"a": 2, "itl_ms": []}],
            "sessions": [],
            "buckets": [{"name": "fresh"}],
            "prefix_cache": {"warnings": ["w"], "sessions": [{"session": 1, "cached": [2]}, {"session": 3}]},
        });
        let mut out = Vec::new();
        write_value(&mut out, &value).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "\n    {\"a\":1,\"itl_ms\":[0.5,0.25],\"nested\":{\"b\":null}},\n    {\"a\":2,\"itl_ms\":[]}\n  ]"
            ),
            "{text}"
        );
        assert!(text.contains("\"summary\": {\n    \"metrics\": {\n      \"ttft_ms\": {"), "{text}");
        assert!(text.contains("\"buckets\": [\n    {\n      \"name\": \"fresh\""), "{text}");
        assert!(text.contains("\"warnings\": [\n      \"w\"\n    ],"), "{text}");
        assert!(
            text.contains("\"sessions\": [\n      {\"session\":1,\"cached\":[2]},\n      {\"session\":3}\n    ]"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
    }
}
