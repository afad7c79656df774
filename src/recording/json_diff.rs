//! Leaf-level differences between two JSON values, with dotted paths
//! (`messages[0].content`): which fields of an incoming request differ from the closest
//! recorded one (`asb serve`'s miss reports), and which request fields changed between two
//! sessions (`asb diff`); `asb validate` names fields with the same paths.

use serde_json::Value;

/// One differing leaf: its path, the recorded value and the incoming one (`None` = absent).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldDiff {
    pub path: String,
    pub expected: Option<Value>,
    pub received: Option<Value>,
}

/// Every differing leaf of `recorded` vs `incoming`.
pub(crate) fn diff(recorded: &Value, incoming: &Value) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    walk("", Some(recorded), Some(incoming), &mut out);
    out
}

/// The dotted path of `key` under `path` (`messages[0]` + `content` → `messages[0].content`).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<FieldDiff>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for (k, v) in x {
                walk(&join(path, k), Some(v), y.get(k), out);
            }
            for (k, v) in y {
                if !x.contains_key(k) {
                    walk(&join(path, k), None, Some(v), out);
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                walk(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(FieldDiff { path: path.to_string(), expected: a.cloned(), received: b.cloned() }),
    }
}

/// A value for a report: compact JSON, at most `max` characters.
pub(crate) fn show(v: &Option<Value>, max: usize) -> String {
    match v {
        None => "<absent>".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() <= max {
                text
            } else {
                let cut: String = text.chars().take(max).collect();
                format!("{cut}… ({} chars)", text.chars().count())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_with_paths() {
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5});
        let b = json!({"model": "m", "messages": [{"role": "user", "content": "hello"}, {"role": "user", "content": "x"}], "stream": true});
        let d = diff(&a, &b);
        let paths: Vec<&str> = d.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["messages[0].content", "messages[1]", "max_tokens", "stream"]);
        assert_eq!(show(&d[2].received, 10), "<absent>");
        assert_eq!(show(&Some(json!("abcdefghijkl")), 5), "\"abcd… (14 chars)");
    }
}
