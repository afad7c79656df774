//! The canonical text of a request body, written straight from its JSON bytes: object keys
//! sorted, compact, ignore paths left out, presets applied to string values — the same
//! text as [`Normalizer::canonicalize`] and a sorted compact writing of the `Value` (the
//! reference way, kept in the tests), without building a `serde_json::Value` first.
//!
//! Why a second way to the same text: every request a server answers, and every call of a
//! recording being loaded, goes through it. Building a `Value` allocates a string for each
//! key and a hash map for each object, which was most of the time of a small call (≈ 3 of
//! 32 µs) and of loading a large recording; here the only allocation is the output (the
//! fields of objects being sorted live in memory each thread reuses). A `Value` is still
//! built where one is needed: for a miss report's field-level diff. A property test checks
//! that both ways agree.
//!
//! How: a hand-written scan of the bytes ([`super::canonical_scan`]) writes the text for
//! the bodies agents send; what it gives up on, a serde visitor here writes, each value to
//! the output as it is parsed. Both write an object's fields in arrival order with their
//! ranges noted; if their keys were not already sorted, the fields are copied out and
//! written back in key order.

use std::fmt;
use std::ops::Range;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::canonical_scan;
use super::key::{normalize_string, write_compact, Normalizer};

impl Normalizer {
    /// The canonical text of a JSON document, or `None` when `json` is not JSON.
    pub fn canonical_text_of(&self, json: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(json.len());
        SCRATCH.with_borrow_mut(|scratch| {
            if canonical_scan::canonical_text(self, json, &mut out, scratch).is_some() {
                return Some(());
            }
            out.clear();
            self.canonical_text_by_visitor(json, &mut out, scratch)
        })?;
        Some(out)
    }

    /// The serde way, for what the scan leaves to it.
    pub(super) fn canonical_text_by_visitor(
        &self,
        json: &[u8],
        out: &mut Vec<u8>,
        scratch: &mut Scratch,
    ) -> Option<()> {
        scratch.fields.clear();
        let mut de = serde_json::Deserializer::from_slice(json);
        let writer = Writer { out, scratch, normalizer: self, depth: 0, live: &self.all_paths };
        writer.deserialize(&mut de).ok()?;
        de.end().ok()
    }

    /// The ignore paths of `live` (indices into `self.ignore`) that go on through `step` at
    /// `depth`, and whether one of them ends there (the value is left out). Allocates only
    /// while a path matches.
    pub(super) fn follow(&self, live: &[u32], depth: usize, step: Step) -> (Vec<u32>, bool) {
        let mut next = Vec::new();
        let mut ends = false;
        for &i in live {
            let path = &self.ignore[i as usize];
            let Some(segment) = path.get(depth) else { continue };
            let matches = segment == "*"
                || match step {
                    Step::Key(k) => segment == k,
                    Step::Index(n) => segment.parse::<usize>() == Ok(n),
                };
            if matches {
                if path.len() == depth + 1 {
                    ends = true;
                } else {
                    next.push(i);
                }
            }
        }
        (next, ends)
    }
}

#[derive(Clone, Copy)]
pub(super) enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Memory reused from one document to the next on a thread.
#[derive(Default)]
pub(super) struct Scratch {
    /// The fields of the objects being written, innermost last: where each starts in the
    /// output, where its key (quoted, escaped) ends, where its value ends.
    pub(super) fields: Vec<(usize, usize, usize)>,
    /// An unsorted object's fields while they are written back in order.
    pub(super) reorder: Vec<u8>,
}

impl Scratch {
    /// Writes an object's fields (`fields[base..]`, written to `out` from `start` on) again,
    /// in the order `fields[base..]` now has.
    pub(super) fn rewrite_in_order(&mut self, out: &mut Vec<u8>, start: usize, base: usize) {
        let Scratch { fields, reorder } = self;
        reorder.clear();
        reorder.extend_from_slice(&out[start..]);
        out.truncate(start);
        for (n, &(field, _, end)) in fields[base..].iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&reorder[field - start..end - start]);
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Writes one value (and everything inside it) in canonical form.
struct Writer<'o, 'n> {
    out: &'o mut Vec<u8>,
    scratch: &'o mut Scratch,
    normalizer: &'n Normalizer,
    /// Nesting depth of this value (0: the document).
    depth: usize,
    /// Ignore paths that match the way down to this value.
    live: &'n [u32],
}

impl<'o, 'n> Writer<'o, 'n> {
    fn child<'c>(&'c mut self, live: &'c [u32]) -> Writer<'c, 'c>
    where
        'n: 'c,
    {
        Writer { out: self.out, scratch: self.scratch, normalizer: self.normalizer, depth: self.depth + 1, live }
    }
}

impl<'de> DeserializeSeed<'de> for Writer<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Writer<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        write_compact(&v, self.out);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        write_compact(&v, self.out);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // As a `Value` holds it: a float that JSON cannot write (never parsed) is null.
        write_compact(&serde_json::Number::from_f64(v), self.out);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        match self.normalizer.presets.then(|| normalize_string(v)).flatten() {
            Some(normalized) => write_compact(&normalized, self.out),
            None => write_compact(v, self.out),
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        for index in 0.. {
            let (live, skip) = self.normalizer.follow(self.live, self.depth, Step::Index(index));
            if skip {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                continue;
            }
            let comma = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(self.child(&live))?.is_none() {
                self.out.truncate(comma);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let start = self.out.len();
        let base = self.scratch.fields.len();
        let mut sorted = true;
        let mut previous: Option<ObjectKey<'de>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let (live, skip) = self.normalizer.follow(self.live, self.depth, Step::Key(key.as_str()));
            if skip {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if let Some(previous) = &previous {
                sorted &= previous.as_str() <= key.as_str();
                self.out.push(b',');
            }
            let field = self.out.len();
            write_compact(key.as_str(), self.out);
            let key_end = self.out.len();
            self.out.push(b':');
            map.next_value_seed(self.child(&live))?;
            self.scratch.fields.push((field, key_end, self.out.len()));
            previous = Some(key);
        }
        if !sorted {
            let out = &mut *self.out;
            self.scratch.fields[base..]
                .sort_unstable_by(|a, b| written_key(out, a.0..a.1).cmp(&written_key(out, b.0..b.1)));
            self.scratch.rewrite_in_order(out, start, base);
        }
        self.scratch.fields.truncate(base);
        self.out.push(b'}');
        Ok(())
    }
}

/// A key as written (quoted, escaped) back to the key's own bytes, for sorting: UTF-8
/// bytes sort as the strings do.
fn written_key(out: &[u8], quoted: Range<usize>) -> std::borrow::Cow<'_, [u8]> {
    let text = &out[quoted];
    if text.contains(&b'\\') {
        serde_json::from_slice::<String>(text).map(|k| k.into_bytes().into()).unwrap_or_default()
    } else {
        text[1..text.len() - 1].into()
    }
}

/// An object key, borrowed from the input when it has no escapes.
enum ObjectKey<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl ObjectKey<'_> {
    fn as_str(&self) -> &str {
        match self {
            ObjectKey::Borrowed(s) => s,
            ObjectKey::Owned(s) => s,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = ObjectKey<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ObjectKey<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = ObjectKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<ObjectKey<'de>, E> {
        Ok(ObjectKey::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<ObjectKey<'de>, E> {
        Ok(ObjectKey::Owned(v.to_string()))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The reference way: the canonical `Value`, written with sorted keys.
    fn canonical_text(canonical: &Value) -> Vec<u8> {
        let mut text = Vec::new();
        write_sorted(canonical, &mut text);
        text
    }

    /// JSON with object keys sorted, compact.
    fn write_sorted(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(map) => {
                let mut fields: Vec<(&String, &Value)> = map.iter().collect();
                fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (n, (k, v)) in fields.into_iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write_compact(k, out);
                    out.push(b':');
                    write_sorted(v, out);
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write_sorted(item, out);
                }
                out.push(b']');
            }
            scalar => write_compact(scalar, out),
        }
    }

    fn by_value(n: &Normalizer, v: &Value) -> Vec<u8> {
        canonical_text(&n.canonicalize(v.clone()))
    }

    #[test]
    fn same_text_as_through_a_value() {
        let n = Normalizer::new(&["messages.*.id".to_string(), "tools.1".to_string()], true);
        let body = json!({"stream": true, "model": "m", "metadata": {"user_id": "u", "x": 1},
            "messages": [{"role": "user", "id": "a", "content": "at 2026-11-24T10:11:12Z \"q\" é \u{1}"}],
            "tools": [{"b": 1, "a": [1.5, -2, 1e300, null, false]}, {"gone": true}, {}],
            "temperature": 0.7, "big": 18446744073709551615u64, "neg": -9223372036854775808i64});
        let text = n.canonical_text_of(body.to_string().as_bytes()).unwrap();
        assert_eq!(String::from_utf8(text.clone()).unwrap(), String::from_utf8(by_value(&n, &body)).unwrap());
        assert!(!String::from_utf8(text).unwrap().contains("user_id"));
    }

    #[test]
    fn formatting_and_key_order_of_the_input_do_not_matter() {
        let n = Normalizer::default();
        let a = n.canonical_text_of(br#"{"b": [1, 2], "a": {"y": "\u0041", "x": 1.0}}"#).unwrap();
        let b = n.canonical_text_of(br#"{"a":{"x":1.0,"y":"A"},"b":[1,2]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, br#"{"a":{"x":1.0,"y":"A"},"b":[1,2]}"#);
    }

    #[test]
    fn not_json_has_no_text() {
        let n = Normalizer::default();
        assert_eq!(n.canonical_text_of(b"{\"a\":1} trailing"), None);
        assert_eq!(n.canonical_text_of(b"plain text"), None);
        assert_eq!(n.canonical_text_of(b""), None);
    }

    /// JSON documents with what canonical text must get right: escapes, control
    /// characters, non-ASCII keys, preset values, nesting. `any_float`: every finite f64
    /// (texts compared after one parse only: serde_json's float parsing is not always
    /// exact, so a `Value` written and parsed again may differ in the last bit).
    pub(in crate::serve) fn json_value(any_float: bool) -> impl Strategy<Value = Value> {
        let float = if any_float {
            any::<f64>().prop_filter("finite", |f| f.is_finite()).boxed()
        } else {
            (-1e6f64..1e6).boxed()
        };
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            float.prop_map(Value::from),
            "[a-z0-9 :/.\\-\"\\\\é\n\t\u{1}]{0,24}".prop_map(Value::from),
            Just(Value::from("id 6f1c2a3b-1111-2222-3333-444455556666 on 2026-11-24")),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-e]{1,2}|metadata|user_id|id|é", inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_the_value_way(v in json_value(false), presets in any::<bool>(),
                                     ignore in prop::sample::select(vec!["", "a", "a.b", "*.id", "b.*", "*.*.c", "c.1"])) {
            let extra: Vec<String> = if ignore.is_empty() { vec![] } else { vec![ignore.to_string()] };
            let n = Normalizer::new(&extra, presets);
            let text = n.canonical_text_of(serde_json::to_string_pretty(&v).unwrap().as_bytes()).unwrap();
            prop_assert_eq!(String::from_utf8(text).unwrap(), String::from_utf8(by_value(&n, &v)).unwrap());
        }
    }
}
