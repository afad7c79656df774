//! JSON documents for the property tests of the canonical writers.

use proptest::prelude::*;
use serde_json::Value;

/// JSON documents with what canonical text must get right: escapes, control
/// characters, non-ASCII keys, preset values, nesting. `any_float`: every finite f64
/// (texts compared after one parse only: serde_json's float parsing is not always
/// exact, so a `Value` written and parsed again may differ in the last bit).
pub(super) fn json_value(any_float: bool) -> impl Strategy<Value = Value> {
    let float =
        if any_float { any::<f64>().prop_filter("finite", |f| f.is_finite()).boxed() } else { (-1e6f64..1e6).boxed() };
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
