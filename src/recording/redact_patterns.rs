//! `--redact PATTERN`: what a user names to be kept out of a recording besides the secrets
//! the built-in rules know ([`super::redact`]), applied by the recording writer to each
//! line before it is written (`asb record`, `asb serve`'s record modes). Three kinds:
//!
//! * `$.messages[*].content` — a JSON path (`.name`, `['name']`, `.*`, `[N]`, `[*]`,
//!   `..name` at any depth), tried on the line itself (its `messages`, `result`, …) and on
//!   every body in it: request and response bodies (of the client's call and of the
//!   upstream call when it was translated), the request body as the client sent it, and
//!   the JSON data of every streamed event. Each string, number or bool it selects becomes
//!   `"[redacted]"` (an object or array: each string in it), and each redacted string is
//!   added to the session's secrets, so other copies of it in the line (the assembled
//!   `result.text`, the other API's body) are scrubbed too.
//! * `header:NAME` — the header of that name (any casing), request and response, client and
//!   upstream side: its value becomes `[redacted]` and is scrubbed wherever it appears.
//! * `re:REGEX` — every match, in every string of the line (streamed events: in their JSON
//!   data's strings, so an event stays valid JSON), becomes `[redacted]`.
//!
//! A pattern that cannot be read is an error naming it, when the flags are read. With no
//! pattern the writer does nothing more (no cost); with some, each line is turned into a
//! JSON tree once, walked, and written from it, so `request.body_as_sent` loses its exact
//! bytes (serve then matches by the canonical key, docs/serve.md). Measured
//! (`redact_patterns_cost`, release, a loaded 2-core VM): a 938 KB line serialises in 4.8 ms;
//! with three patterns (a path, a header, a regex) tree, walk and serialisation take 15.8 ms,
//! on the writer's thread, never the proxy's.

use regex::Regex;
use serde_json::{Map, Value};

use super::redact::{Secrets, REDACTED};

/// One `--redact` pattern.
#[derive(Debug, Clone)]
pub(crate) enum RedactPattern {
    JsonPath(Vec<Step>),
    Header(String),
    Regex(Regex),
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    AnyKey,
    Index(usize),
    AnyIndex,
    /// `..name`: `name` at this level or any depth below.
    Descend(String),
}

/// The patterns of a recording session (none: nothing is done).
#[derive(Debug, Clone, Default)]
pub(crate) struct RedactPatterns(pub Vec<RedactPattern>);

const SYNTAX: &str = "a JSON path ($.messages[*].content, $..api_key), header:NAME, or re:REGEX";

impl std::str::FromStr for RedactPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        // clap names the flag and the value before this reason.
        let bad = |why: String| why;
        if let Some(name) = text.strip_prefix("header:") {
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(bad("a header name is letters, digits and - _ . (no spaces or colons)".into()));
            }
            return Ok(RedactPattern::Header(name.to_ascii_lowercase()));
        }
        if let Some(re) = text.strip_prefix("re:") {
            if re.is_empty() {
                return Err(bad("an empty regex would match everywhere".into()));
            }
            return Regex::new(re).map(RedactPattern::Regex).map_err(|e| bad(format!("not a regex: {e}")));
        }
        if text.starts_with('$') {
            return parse_path(text).map(RedactPattern::JsonPath).map_err(bad);
        }
        Err(bad(format!("not a pattern: give {SYNTAX}")))
    }
}

/// `$.a.b[*].c`, `$['a-b'][0]`, `$..key`, `$.*`.
fn parse_path(text: &str) -> Result<Vec<Step>, String> {
    let b = text.as_bytes();
    let mut i = 1;
    let mut steps = Vec::new();
    let name_end = |from: usize| from + b[from..].iter().take_while(|c| !matches!(c, b'.' | b'[')).count();
    while i < b.len() {
        match b[i] {
            b'.' if b.get(i + 1) == Some(&b'.') => {
                let end = name_end(i + 2);
                if end == i + 2 {
                    return Err(format!("`..` at byte {i} needs a field name after it"));
                }
                steps.push(Step::Descend(text[i + 2..end].to_string()));
                i = end;
            }
            b'.' => {
                let end = name_end(i + 1);
                match &text[i + 1..end] {
                    "" => return Err(format!("a field name is missing after `.` at byte {i}")),
                    "*" => steps.push(Step::AnyKey),
                    name => steps.push(Step::Key(name.to_string())),
                }
                i = end;
            }
            b'[' => {
                let close = text[i..].find(']').map(|at| i + at).ok_or(format!("`[` at byte {i} is never closed"))?;
                let inner = text[i + 1..close].trim();
                let step = if inner == "*" {
                    Step::AnyIndex
                } else if let Ok(n) = inner.parse::<usize>() {
                    Step::Index(n)
                } else if inner.len() >= 2
                    && (inner.starts_with('\'') && inner.ends_with('\'')
                        || inner.starts_with('"') && inner.ends_with('"'))
                {
                    Step::Key(inner[1..inner.len() - 1].to_string())
                } else {
                    return Err(format!("`[{inner}]` is not [*], [N] or ['name']"));
                };
                steps.push(step);
                i = close + 1;
            }
            _ => return Err(format!("expected `.` or `[` at byte {i}, found {:?}", &text[i..])),
        }
    }
    if steps.is_empty() {
        return Err("`$` alone would redact the whole body: name a field".into());
    }
    Ok(steps)
}

impl RedactPatterns {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies every pattern to `line` (a call line as JSON), adding what it redacts to
    /// `secrets`.
    pub(crate) fn apply(&self, line: &mut Value, secrets: &Secrets) {
        let paths: Vec<&[Step]> = self
            .0
            .iter()
            .filter_map(|p| match p {
                RedactPattern::JsonPath(steps) => Some(&steps[..]),
                _ => None,
            })
            .collect();
        let headers: Vec<&str> = self
            .0
            .iter()
            .filter_map(|p| match p {
                RedactPattern::Header(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let regexes: Vec<&Regex> = self
            .0
            .iter()
            .filter_map(|p| match p {
                RedactPattern::Regex(re) => Some(re),
                _ => None,
            })
            .collect();
        let mut found = Vec::new();
        // Streamed events first, each on its own JSON data (paths and regexes alike).
        for_each_exchange(line, |exchange| {
            if let Some(Value::Array(events)) = exchange.pointer_mut("/response/events") {
                for event in events {
                    if let Some(Value::String(raw)) = event.get_mut("raw") {
                        if let Some(new) = redact_event(raw, &paths, &regexes, &mut found) {
                            *raw = new;
                        }
                    }
                }
            }
        });
        for path in &paths {
            select(line, path, &mut found);
            for_each_exchange(line, |exchange| {
                for body in ["/request/body", "/request/body_as_sent", "/response/body"] {
                    if let Some(body) = exchange.pointer_mut(body) {
                        select(body, path, &mut found);
                    }
                }
            });
        }
        if !headers.is_empty() {
            for_each_exchange(line, |exchange| {
                for side in ["/request/headers", "/response/headers"] {
                    if let Some(Value::Object(map)) = exchange.pointer_mut(side) {
                        redact_headers(map, &headers, &mut found);
                    }
                }
            });
        }
        if !regexes.is_empty() {
            replace_in_strings(line, &regexes, true);
        }
        for value in found {
            secrets.add(&value);
        }
    }
}

/// Calls `f` on the line and on its upstream exchange (a translated call's other side):
/// the objects whose `request` and `response` hold headers, bodies and events.
fn for_each_exchange(line: &mut Value, mut f: impl FnMut(&mut Value)) {
    f(line);
    if let Some(upstream) = line.get_mut("upstream").filter(|u| u.is_object()) {
        f(upstream);
    }
}

/// The selected values, redacted; each redacted string is pushed to `found`.
fn select(value: &mut Value, steps: &[Step], found: &mut Vec<String>) {
    let Some((step, rest)) = steps.split_first() else {
        redact_value(value, found);
        return;
    };
    match (step, value) {
        (Step::Key(k), Value::Object(map)) => {
            if let Some(v) = map.get_mut(k) {
                select(v, rest, found);
            }
        }
        (Step::AnyKey, Value::Object(map)) => map.values_mut().for_each(|v| select(v, rest, found)),
        (Step::Index(n), Value::Array(items)) => {
            if let Some(v) = items.get_mut(*n) {
                select(v, rest, found);
            }
        }
        (Step::AnyIndex, Value::Array(items)) => items.iter_mut().for_each(|v| select(v, rest, found)),
        (Step::Descend(k), v) => descend(v, k, rest, found),
        _ => {}
    }
}

fn descend(value: &mut Value, key: &str, rest: &[Step], found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == key {
                    select(v, rest, found);
                } else {
                    descend(v, key, rest, found);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| descend(v, key, rest, found)),
        _ => {}
    }
}

/// A selected value: a scalar becomes `"[redacted]"`; in an object or array, each string.
fn redact_value(value: &mut Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if s != REDACTED {
                found.push(std::mem::replace(s, REDACTED.to_string()));
            }
        }
        Value::Number(_) | Value::Bool(_) => *value = Value::String(REDACTED.into()),
        Value::Object(map) => map.values_mut().for_each(|v| redact_value(v, found)),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, found)),
        Value::Null => {}
    }
}

fn redact_headers(map: &mut Map<String, Value>, names: &[&str], found: &mut Vec<String>) {
    for (name, value) in map.iter_mut() {
        if names.iter().any(|n| name.eq_ignore_ascii_case(n)) {
            redact_value(value, found);
        }
    }
}

/// Every regex match in every string below `value` becomes `[redacted]` (the `raw` text of
/// streamed events is left to [`redact_event`] when `skip_raw`).
fn replace_in_strings(value: &mut Value, regexes: &[&Regex], skip_raw: bool) {
    match value {
        Value::String(s) => {
            for re in regexes {
                if let std::borrow::Cow::Owned(new) = re.replace_all(s, REDACTED) {
                    *s = new;
                }
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if !(skip_raw && k == "raw") {
                    replace_in_strings(v, regexes, skip_raw);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_in_strings(v, regexes, skip_raw)),
        _ => {}
    }
}

/// One recorded SSE event with its `data:` JSON redacted, or `None` when nothing changed.
fn redact_event(raw: &str, paths: &[&[Step]], regexes: &[&Regex], found: &mut Vec<String>) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(raw.len());
    for line in raw.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let data = body.strip_prefix("data:").map(|d| d.strip_prefix(' ').unwrap_or(d));
        let parsed = data.and_then(|d| serde_json::from_str::<Value>(d).ok());
        match parsed {
            Some(mut json) => {
                let before = json.clone();
                for path in paths {
                    select(&mut json, path, found);
                }
                replace_in_strings(&mut json, regexes, false);
                if json == before {
                    out.push_str(line);
                } else {
                    changed = true;
                    out.push_str("data: ");
                    out.push_str(&json.to_string());
                    out.push_str(&line[body.len()..]);
                }
            }
            None => out.push_str(line),
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patterns(texts: &[&str]) -> RedactPatterns {
        RedactPatterns(texts.iter().map(|t| t.parse().unwrap()).collect())
    }

    #[test]
    fn bad_patterns_are_named_with_why() {
        for (text, why) in [
            ("messages.content", "not a pattern: give a JSON path"),
            ("$", "would redact the whole body"),
            ("$.messages[", "is never closed"),
            ("$.messages[x]", "is not [*], [N] or ['name']"),
            ("$.a..", "needs a field name"),
            ("re:(", "not a regex"),
            ("header:", "a header name"),
            ("header:x y", "a header name"),
        ] {
            let e = text.parse::<RedactPattern>().unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        assert_eq!(
            parse_path("$.messages[*].content").unwrap(),
            vec![Step::Key("messages".into()), Step::AnyIndex, Step::Key("content".into())]
        );
        assert_eq!(
            parse_path("$['x-y'][2].*..k").unwrap(),
            vec![Step::Key("x-y".into()), Step::Index(2), Step::AnyKey, Step::Descend("k".into())]
        );
    }

    #[test]
    fn paths_headers_and_regexes_reach_every_copy() {
        let mut line = json!({
            "messages": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}],
            "request": {"headers": {"X-Customer": "acme-corp"}, "body": {"messages": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}], "n": 7}},
            "response": {"headers": {"x-request-id": "req_123456"}, "events": [
                {"t": 1.0, "raw": "data: {\"choices\":[{\"delta\":{\"content\":\"call 555-0100\"}}]}\n\n"},
                {"t": 2.0, "raw": "data: [DONE]\n\n"}
            ]},
            "result": {"text": "call 555-0100"}
        });
        let secrets = Secrets::default();
        patterns(&["$.messages[*].content", "header:x-customer", "header:X-Request-Id", r"re:\d{3}-\d{4}"])
            .apply(&mut line, &secrets);
        assert_eq!(line["messages"][0]["content"], REDACTED);
        assert_eq!(line["request"]["body"]["messages"][0]["content"], REDACTED);
        assert_eq!(line["request"]["body"]["n"], 7, "what no pattern names is kept");
        assert_eq!(line["request"]["headers"]["X-Customer"], REDACTED);
        assert_eq!(line["response"]["headers"]["x-request-id"], REDACTED);
        assert_eq!(line["result"]["text"], "call [redacted]");
        let raw = line["response"]["events"][0]["raw"].as_str().unwrap();
        assert_eq!(raw, "data: {\"choices\":[{\"delta\":{\"content\":\"call [redacted]\"}}]}\n\n");
        assert_eq!(line["response"]["events"][1]["raw"], "data: [DONE]\n\n");
        // The redacted values are scrubbed from anything else in the line.
        let mut text = "echo: acme-corp, my card is 4111 1111 1111 1111".to_string();
        secrets.scrub(&mut text);
        assert_eq!(text, "echo: [redacted], [redacted]");
    }

    #[test]
    fn descent_and_numbers() {
        let mut v = json!({"a": {"api_token": 12345678, "b": [{"api_token": "x"}]}, "api_token": true});
        patterns(&["$..api_token"]).apply(&mut v, &Secrets::default());
        assert_eq!(v, json!({"a": {"api_token": REDACTED, "b": [{"api_token": REDACTED}]}, "api_token": REDACTED}));
    }
}

/// What patterns cost per line (run in release:
/// `cargo test --release --lib redact_patterns_cost -- --ignored --nocapture`).
#[cfg(test)]
mod cost {
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore]
    fn redact_patterns_cost() {
        // A line like a long agent conversation: ~1 MB, its messages twice (line and body).
        let turn = serde_json::json!({"role": "user", "content": "Please look at src/record/proxy.rs and tell me why the link fails; ran `cargo test`, 3 errors"});
        let messages = Value::Array(vec![turn; 1_000_000 / 2 / 130]);
        let line = serde_json::json!({"messages": messages, "request": {"headers": {"x-request-id": "r-1"}, "body": {"messages": messages}}});
        let runs = 10;
        let t = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(line.to_string());
        }
        let plain = t.elapsed() / runs;
        let rules: RedactPatterns = RedactPatterns(
            ["$.messages[*].content", "header:x-request-id", r"re:\d{3}-\d{4}"]
                .iter()
                .map(|p| p.parse().unwrap())
                .collect(),
        );
        let t = Instant::now();
        for _ in 0..runs {
            let mut v = line.clone();
            rules.apply(&mut v, &Secrets::default());
            std::hint::black_box(v.to_string());
        }
        let with = t.elapsed() / runs;
        eprintln!(
            "{} KB line: serialised {plain:?}; clone + 3 patterns + serialised {with:?}",
            line.to_string().len() / 1000
        );
    }
}
