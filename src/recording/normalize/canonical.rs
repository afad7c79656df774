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
//! the bodies agents send; what it gives up on, a serde visitor writes, each value to the
//! output as it is parsed ([`super::canonical_visitor`]). Both write an object's fields in
//! arrival order with their ranges noted; if their keys were not already sorted, the fields
//! are copied out and written back in key order.

use super::canonical_scan;
use super::scratch::Scratch;
use super::Normalizer;

impl Normalizer {
    /// The canonical text of a JSON document, or `None` when `json` is not JSON.
    pub(crate) fn canonical_text_of(&self, json: &[u8]) -> Option<Vec<u8>> {
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
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

#[cfg(test)]
mod tests {
    use super::super::test_json::json_value;
    use super::super::write_compact;
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
    fn codex_s_per_run_ids_are_left_out() {
        let n = Normalizer::default();
        let run = |key: &str, turn: &str| {
            json!({"model": "m", "prompt_cache_key": key, "client_metadata": {"turn_id": turn, "x-codex-turn-metadata":
                "{\"turn_started_at_unix_ms\":1796279272978}"},
                "input": [{"type": "message", "id": format!("msg_{turn}"), "role": "user", "content": "hi"}]})
        };
        let a = run("[redacted]", "01a23a96-8610-7640-851b-ab07ffa4b7f1");
        let b = run("01a23a97-0000-7000-8000-000000000001", "01a23a97-8610-7640-851b-ab07ffa4b7f2");
        assert_eq!(by_value(&n, &a), by_value(&n, &b));
        assert_eq!(n.canonical_text_of(a.to_string().as_bytes()), n.canonical_text_of(b.to_string().as_bytes()));
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
