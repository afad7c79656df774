//! How a run JSON is written: indented like `serde_json`'s pretty printer, except that each
//! element of `requests` and `sessions` is one compact line. A request printed field per
//! line was 1,785 bytes of which half was indentation; one line each halves the file, and
//! the time to write it and to read it back (`asb report`, the shards' merge), and a row
//! stays one `grep`-able line. Any JSON reader reads it as before.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Top-level arrays whose elements are written one per line.
const ONE_PER_LINE: [&str; 2] = ["requests", "sessions"];

struct RowsPerLine<'a> {
    pretty: PrettyFormatter<'a>,
    /// Open containers, outermost first: `true` for an array.
    open: Vec<bool>,
    /// The key being written at the top level, and whether we are writing one.
    key: String,
    in_key: bool,
    /// The current top-level array is one of [`ONE_PER_LINE`].
    rows: bool,
}

impl RowsPerLine<'_> {
    /// Inside an element of a one-per-line array (that element's own brackets included
    /// when `opening`).
    fn compact(&self, opening: bool) -> bool {
        self.rows && self.open.len() >= if opening { 2 } else { 3 }
    }
}

impl Formatter for RowsPerLine<'_> {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if self.open.len() == 1 {
            self.rows = ONE_PER_LINE.contains(&self.key.as_str());
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
        if compact {
            CompactFormatter.begin_object(w)
        } else {
            self.pretty.begin_object(w)
        }
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let compact = self.compact(false);
        self.open.pop();
        if self.open.len() == 1 {
            self.rows = false;
        }
        if compact {
            CompactFormatter.end_object(w)
        } else {
            self.pretty.end_object(w)
        }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if self.open.len() == 1 {
            self.key.clear();
            self.in_key = true;
            self.rows = false;
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
            self.key.push_str(fragment);
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

/// Writes `value` (a run) into `out`, rows one per line.
pub(crate) fn write<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> serde_json::Result<()> {
    let formatter = RowsPerLine {
        pretty: PrettyFormatter::new(),
        open: Vec::new(),
        key: String::new(),
        in_key: false,
        rows: false,
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
        });
        let mut out = Vec::new();
        write(&mut out, &value).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "\n    {\"a\":1,\"itl_ms\":[0.5,0.25],\"nested\":{\"b\":null}},\n    {\"a\":2,\"itl_ms\":[]}\n  ]"
            ),
            "{text}"
        );
        assert!(text.contains("\"summary\": {\n    \"metrics\": {\n      \"ttft_ms\": {"), "{text}");
        assert!(text.contains("\"buckets\": [\n    {\n      \"name\": \"fresh\""), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
    }
}
