//! Makes tool-call arguments that are valid for the tool's JSON schema, so agents under
//! test can parse and dispatch the mock's tool calls.
//!
//! Every property of an object is filled (required or not), `enum`/`const`/`default`/
//! `examples` win over invented values, `anyOf`/`oneOf`/`allOf` take their first branch,
//! and strings honour `minLength`/`format` loosely. Deterministic for a given `pick` value.

use serde_json::{json, Map, Value};

/// An argument value for `schema`; `pick` varies the invented strings and numbers.
pub fn example_for(schema: &Value, pick: u64) -> Value {
    example(schema, pick, 0)
}

fn example(schema: &Value, pick: u64, depth: usize) -> Value {
    let Some(s) = schema.as_object() else {
        return json!({});
    };
    if depth > 8 {
        return Value::Null;
    }
    if let Some(v) = s.get("const") {
        return v.clone();
    }
    if let Some(Value::Array(choices)) = s.get("enum") {
        if !choices.is_empty() {
            return choices[(pick as usize) % choices.len()].clone();
        }
    }
    if let Some(v) = s.get("default") {
        return v.clone();
    }
    if let Some(Value::Array(ex)) = s.get("examples") {
        if let Some(v) = ex.first() {
            return v.clone();
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = s.get(key) {
            if let Some(first) = branches.iter().find(|b| b.get("type") != Some(&json!("null"))) {
                return example(first, pick, depth + 1);
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
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(Value::Object(props)) = s.get("properties") {
                for (i, (name, sub)) in props.iter().enumerate() {
                    out.insert(name.clone(), example(sub, pick.wrapping_add(i as u64), depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1);
            let item = s.get("items").cloned().unwrap_or(json!({"type": "string"}));
            Value::Array((0..min.min(4)).map(|i| example(&item, pick.wrapping_add(i), depth + 1)).collect())
        }
        "string" => Value::String(string_for(s, pick)),
        "integer" => {
            let min = s.get("minimum").and_then(Value::as_i64).unwrap_or(1);
            let max = s.get("maximum").and_then(Value::as_i64).unwrap_or(min.saturating_add(99));
            json!(min.saturating_add((pick % 10) as i64).min(max))
        }
        "number" => {
            let min = s.get("minimum").and_then(Value::as_f64).unwrap_or(0.5);
            json!(min + (pick % 10) as f64)
        }
        "boolean" => Value::Bool(pick % 2 == 0),
        _ => Value::Null,
    }
}

fn string_for(s: &Map<String, Value>, pick: u64) -> String {
    const WORDS: &[&str] = &["alpha", "beta", "gamma", "delta", "src/main.rs", "ls -la"];
    let mut text = match s.get("format").and_then(Value::as_str) {
        Some("uri" | "url") => "https://example.com/mock".to_string(),
        Some("date-time") => "2026-01-01T00:00:00Z".to_string(),
        Some("email") => "mock@example.com".to_string(),
        _ => WORDS[(pick as usize) % WORDS.len()].to_string(),
    };
    let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    while text.chars().count() < min {
        text.push('x');
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
        text = text.chars().take(max as usize).collect();
    }
    text
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
        let v = example_for(&schema, 3);
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
        assert_eq!(example_for(&json!({}), 0), json!({}));
        assert_eq!(example_for(&Value::Null, 0), json!({}));
    }
}
