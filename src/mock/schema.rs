//! Makes tool-call arguments that are valid for the tool's JSON schema, so agents under
//! test can parse and dispatch the mock's tool calls.
//!
//! Every property of an object is filled (required or not), `enum`/`const`/`default`/
//! `examples` win over invented values, `anyOf`/`oneOf`/`allOf` take their first branch,
//! and strings honour `minLength`/`format` loosely. Deterministic for a given `pick` value.

use serde_json::{json, Map, Value};

/// The longest string made for a `minLength`, in characters.
const MAX_STRING_CHARS: u64 = 65_536;
/// The most items made for a `minItems`.
const MAX_ARRAY_ITEMS: u64 = 1_024;
/// The most bytes of arguments made for one tool call (about, as JSON).
const MAX_ARGUMENT_BYTES: usize = 1 << 20;
/// Deeper than this, a value is `null`.
const MAX_DEPTH: usize = 8;

/// An argument value for `schema`; `pick` varies the invented strings and numbers. Made in
/// time linear in its size; `Err` says which demand of the schema goes beyond the limits
/// above (the mock answers it with a 400).
pub(crate) fn example_for(schema: &Value, pick: u64) -> Result<Value, String> {
    let mut budget = MAX_ARGUMENT_BYTES;
    example(schema, pick, 0, &mut budget)
}

/// Takes `cost` bytes from `budget`, or says the arguments would be too large.
fn spend(budget: &mut usize, cost: usize) -> Result<(), String> {
    *budget = budget.checked_sub(cost).ok_or_else(|| {
        format!("the schema asks for arguments larger than the {MAX_ARGUMENT_BYTES} bytes asb mock makes")
    })?;
    Ok(())
}

/// A copied value's size, counted until the budget is gone.
fn spend_copy(budget: &mut usize, v: &Value) -> Result<Value, String> {
    fn size(v: &Value, left: usize) -> usize {
        match v {
            Value::String(s) => s.len() + 2,
            Value::Array(items) => items.iter().fold(2, |n, i| if n > left { n } else { n + 1 + size(i, left - n) }),
            Value::Object(m) => {
                m.iter().fold(2, |n, (k, i)| if n > left { n } else { n + k.len() + 4 + size(i, left - n) })
            }
            _ => 8,
        }
    }
    spend(budget, size(v, *budget))?;
    Ok(v.clone())
}

fn example(schema: &Value, pick: u64, depth: usize, budget: &mut usize) -> Result<Value, String> {
    let Some(s) = schema.as_object() else {
        spend(budget, 2)?;
        return Ok(json!({}));
    };
    if depth > MAX_DEPTH {
        spend(budget, 4)?;
        return Ok(Value::Null);
    }
    if let Some(v) = s.get("const") {
        return spend_copy(budget, v);
    }
    if let Some(Value::Array(choices)) = s.get("enum") {
        if !choices.is_empty() {
            return spend_copy(budget, &choices[(pick as usize) % choices.len()]);
        }
    }
    if let Some(v) = s.get("default") {
        return spend_copy(budget, v);
    }
    if let Some(Value::Array(ex)) = s.get("examples") {
        if let Some(v) = ex.first() {
            return spend_copy(budget, v);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = s.get(key) {
            if let Some(first) = branches.iter().find(|b| b.get("type") != Some(&json!("null"))) {
                return example(first, pick, depth + 1, budget);
            }
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ if s.contains_key("items") => "array",
        _ => "object",
    };
    spend(budget, 8)?;
    Ok(match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(Value::Object(props)) = s.get("properties") {
                for (i, (name, sub)) in props.iter().enumerate() {
                    spend(budget, name.len() + 4)?;
                    out.insert(name.clone(), example(sub, pick.wrapping_add(i as u64), depth + 1, budget)?);
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1);
            if min > MAX_ARRAY_ITEMS {
                return Err(format!("minItems {min} is beyond the {MAX_ARRAY_ITEMS} items asb mock makes"));
            }
            let item = s.get("items").cloned().unwrap_or(json!({"type": "string"}));
            let items =
                (0..min).map(|i| example(&item, pick.wrapping_add(i), depth + 1, budget)).collect::<Result<_, _>>()?;
            Value::Array(items)
        }
        "string" => Value::String(string_for(s, pick, budget)?),
        "integer" => {
            let min = s.get("minimum").and_then(Value::as_i64).unwrap_or(1);
            let max = s.get("maximum").and_then(Value::as_i64).unwrap_or(min.saturating_add(99));
            json!(min.saturating_add((pick % 10) as i64).min(max))
        }
        "number" => {
            let min = s.get("minimum").and_then(Value::as_f64).filter(|m| m.is_finite()).unwrap_or(0.5);
            json!(min + (pick % 10) as f64)
        }
        "boolean" => Value::Bool(pick % 2 == 0),
        _ => Value::Null,
    })
}

fn string_for(s: &Map<String, Value>, pick: u64, budget: &mut usize) -> Result<String, String> {
    const WORDS: &[&str] = &["alpha", "beta", "gamma", "delta", "src/main.rs", "ls -la"];
    let mut text = match s.get("format").and_then(Value::as_str) {
        Some("uri" | "url") => "https://example.com/mock".to_string(),
        Some("date-time") => "2026-01-01T00:00:00Z".to_string(),
        Some("email") => "mock@example.com".to_string(),
        _ => WORDS[(pick as usize) % WORDS.len()].to_string(),
    };
    let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    if min > MAX_STRING_CHARS {
        return Err(format!(
            "minLength {min} is beyond the {MAX_STRING_CHARS} characters asb mock makes for one string"
        ));
    }
    // Every invented string is ASCII: its length in bytes is its length in characters.
    let min = min as usize;
    if text.len() < min {
        spend(budget, min)?;
        text.extend(std::iter::repeat_n('x', min - text.len()));
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
        text.truncate(usize::try_from(max).unwrap_or(usize::MAX).min(text.len()));
    }
    spend(budget, text.len())?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_property_with_the_right_type() {
        let schema = json!({"type": "object", "required": ["command"], "properties": {
            "command": {"type": "string"},
            "timeout": {"type": "integer", "minimum": 1000, "maximum": 2000},
            "mode": {"enum": ["fast", "slow"]},
            "paths": {"type": "array", "items": {"type": "string"}},
            "opt": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
            "nested": {"type": "object", "properties": {"x": {"type": "number"}}}
        }});
        let v = example_for(&schema, 3).unwrap();
        assert!(v["command"].is_string());
        let t = v["timeout"].as_i64().unwrap();
        assert!((1000..=2000).contains(&t));
        assert!(["fast", "slow"].contains(&v["mode"].as_str().unwrap()));
        assert!(v["paths"][0].is_string());
        assert!(v["opt"].is_boolean());
        assert!(v["nested"]["x"].is_number());
    }

    #[test]
    fn empty_or_missing_schema_gives_empty_object() {
        assert_eq!(example_for(&json!({}), 0), Ok(json!({})));
        assert_eq!(example_for(&Value::Null, 0), Ok(json!({})));
    }

    #[test]
    fn sizes_a_schema_asks_for_are_made_up_to_the_limits_and_refused_beyond() {
        let long = json!({"type": "string", "minLength": 5000});
        assert_eq!(example_for(&long, 0).unwrap().as_str().unwrap().len(), 5000);
        let huge = json!({"type": "object", "properties": {"a": {"type": "string", "minLength": 2_000_000_000u64}}});
        let started = std::time::Instant::now();
        let e = example_for(&huge, 0).unwrap_err();
        assert!(e.contains("minLength 2000000000") && e.contains("65536"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        let many = json!({"type": "array", "minItems": 10, "items": {"type": "integer"}});
        assert_eq!(example_for(&many, 0).unwrap().as_array().unwrap().len(), 10);
        let e = example_for(&json!({"type": "array", "minItems": 1u64 << 40}), 0).unwrap_err();
        assert!(e.contains("minItems 1099511627776"), "{e}");
        // Within each limit, but 1,024 × 1,024 strings of 65,536 characters all together.
        let wide = json!({"type": "array", "minItems": 1024, "items":
            {"type": "array", "minItems": 1024, "items": {"type": "string", "minLength": 65536}}});
        let e = example_for(&wide, 0).unwrap_err();
        assert!(e.contains("larger than the 1048576 bytes"), "{e}");
        // A large default copied into many items.
        let big_default = json!({"type": "array", "minItems": 1024, "items": {"default": "y".repeat(100_000)}});
        assert!(example_for(&big_default, 0).is_err());
    }

    #[test]
    fn max_length_cuts_what_min_length_or_the_word_made() {
        let v = example_for(&json!({"type": "string", "maxLength": 2}), 0).unwrap();
        assert_eq!(v.as_str().unwrap().len(), 2);
    }
}
