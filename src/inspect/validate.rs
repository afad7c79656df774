//! `asb validate FILE`: is a recording sound, and free of credentials?
//!
//! Three passes, every finding as `FILE:LINE: why`:
//!
//! 1. **Schema** — every line through [`parse_line`], so each bad line is reported with
//!    the reader's own reason (bad JSON, wrong field type, unknown format version, torn
//!    last line, a line longer than [`MAX_LINE_BYTES`](crate::recording::reader::MAX_LINE_BYTES)).
//! 2. **Consistency** — seq numbers unique within a recorder run; on format v1 lines,
//!    `request` and `outcome` present, usage adding up, and recorded SSE events that
//!    concatenate back into the stream (each `raw` exactly one event, times not going back).
//! 3. **Secrets** — what the recorder would have redacted, by the recorder's own rules
//!    ([`crate::recording::redact`]): credential-named headers not `[redacted]`,
//!    credential-named query parameters in request paths, errors and header values,
//!    userinfo in any URL, credential-named JSON fields at any depth; and strings anywhere
//!    in the line that look like keys ([`crate::recording::key_shapes`]: `sk-…`, `bearer …`, `basic …`),
//!    with their JSON path and the value masked. This pass reads the raw JSON rather than the parsed
//!    [`CallLine`]: a leak in a field the schema does not know, or on a line that does not
//!    parse, is still a leak.
//!
//! Any finding makes the exit code non-zero; the last line says `N lines, M problems`, or
//! `ok: N lines`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::Value;

use crate::display::plural;
use crate::recording::key_shapes;
use crate::recording::line::{absurd_event_time, show_event_time, MAX_EVENT_TIME_MS};
use crate::recording::line::{CallLine, HttpResponse, Outcome, FORMAT_VERSION};
#[cfg(test)]
use crate::recording::reader::NumberedCall;
use crate::recording::reader::{self, line_error, parse_line};
use crate::recording::redact::{self, REDACTED};
use crate::wire::sse::SseParser;

#[derive(Debug, Clone, Args)]
pub(crate) struct ValidateArgs {
    /// The recording (a JSONL file written by `asb record`, or one of AgenticSwarmBench's).
    pub file: PathBuf,
}

/// One problem with one line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub line: usize,
    pub message: String,
}

/// Strings that hold a request's path or an upstream URL: their query parameters are checked.
const URL_FIELDS: &[&str] = &["request.path", "upstream.request.path", "error"];

/// Where a line keeps header maps.
const HEADER_MAPS: &[&str] =
    &["request.headers", "response.headers", "upstream.request.headers", "upstream.response.headers"];

/// `asb validate`: one pass over the file, line by line. Of each call only its seq, its
/// recorder run and its line number are kept (for the seq check at the end), so the memory
/// a file takes does not grow with its lines' size.
pub(crate) fn run(args: ValidateArgs) -> Result<ExitCode> {
    let path = &args.file;
    let (mut lines, mut findings, mut seqs) = (0, Vec::new(), SeqCheck::default());
    reader::for_each_raw_line(path, |number, bytes| {
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(too_long) => {
                lines += 1;
                return findings.push(Finding { line: number, message: too_long.reason });
            }
        };
        match parse_line(bytes) {
            Ok(None) => {}
            Ok(Some(call)) => {
                lines += 1;
                seqs.add(number, &call);
                findings.extend(check_v1(&call).into_iter().map(|message| Finding { line: number, message }));
            }
            Err(reason) => {
                lines += 1;
                let message = line_error(path, number, bytes, reason).reason;
                findings.push(Finding { line: number, message });
            }
        }
        let text = String::from_utf8_lossy(bytes);
        findings.extend(scan_line(&text).into_iter().map(|message| Finding { line: number, message }));
    })
    .map_err(|e| anyhow!("{e}"))?;
    findings.extend(seqs.findings());
    findings.sort_by_key(|f| f.line);
    crate::output::emit(&report(path, lines, &findings))?;
    Ok(if findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The findings, then the summary line.
pub(crate) fn report(file: &Path, lines: usize, findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!("{}:{}: {}\n", file.display(), f.line, f.message));
    }
    if findings.is_empty() {
        out.push_str(&format!("ok: {}\n", plural(lines, "line")));
    } else {
        out.push_str(&format!("{}, {}\n", plural(lines, "line"), plural(findings.len(), "problem")));
    }
    out
}

/// seq ≥ 1, and unique within each recorder run (`experiment_id`): a file appended to by
/// several runs numbers each run from 1. Keeps 16 bytes a call: its run, seq and line.
#[derive(Debug, Default)]
pub(crate) struct SeqCheck {
    /// Recorder runs by `experiment_id`, numbered in order of first appearance.
    runs: HashMap<String, u32>,
    run_ids: Vec<String>,
    /// (run, seq, line) of every call with a seq.
    calls: Vec<(u32, u64, u32)>,
    missing: Vec<usize>,
}

impl SeqCheck {
    pub(crate) fn add(&mut self, line: usize, call: &CallLine) {
        if call.seq == 0 {
            return self.missing.push(line);
        }
        let run = match self.runs.get(call.experiment_id.as_str()) {
            Some(run) => *run,
            None => {
                let run = self.run_ids.len() as u32;
                self.runs.insert(call.experiment_id.clone(), run);
                self.run_ids.push(call.experiment_id.clone());
                run
            }
        };
        self.calls.push((run, call.seq, u32::try_from(line).unwrap_or(u32::MAX)));
    }

    /// A finding for each call without a seq and each call repeating an earlier line's.
    pub(crate) fn findings(mut self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .missing
            .iter()
            .map(|&line| Finding { line, message: "seq is missing or 0 (calls are numbered from 1)".into() })
            .collect();
        self.calls.sort_unstable();
        // Each repeat names the line of the one before it.
        for pair in self.calls.windows(2) {
            let ((run, seq, before), (run_b, seq_b, line)) = (pair[0], pair[1]);
            if (run, seq) == (run_b, seq_b) {
                out.push(Finding {
                    line: line as usize,
                    message: format!(
                        "seq {seq} repeats line {before} (same experiment_id {:?})",
                        self.run_ids[run as usize]
                    ),
                });
            }
        }
        out.sort_by_key(|f| f.line);
        out
    }
}

/// [`SeqCheck`] over calls in memory.
#[cfg(test)]
fn check_seqs(calls: &[NumberedCall]) -> Vec<Finding> {
    let mut check = SeqCheck::default();
    for c in calls {
        check.add(c.line, &c.call);
    }
    check.findings()
}

/// The consistency rules of format v1 (nothing for AgenticSwarmBench (the original asb)'s
/// lines).
fn check_v1(call: &CallLine) -> Vec<String> {
    let mut out = Vec::new();
    if call.format_version != Some(FORMAT_VERSION) {
        return out;
    }
    if call.request.is_none() {
        out.push("format v1 line without `request`".into());
    }
    if call.outcome.is_none() {
        out.push("format v1 line without `outcome`".into());
    }
    if let Some(u) = &call.usage {
        let sum = u.input_uncached + u.cache_read + u.cache_creation;
        if u.input_tokens != sum {
            out.push(format!(
                "usage.input_tokens {} != input_uncached {} + cache_read {} + cache_creation {} (= {sum})",
                u.input_tokens, u.input_uncached, u.cache_read, u.cache_creation
            ));
        }
        if let Some(p) = call.prompt_tokens.filter(|p| u.source == "server" && *p != u.input_tokens) {
            out.push(format!(
                "prompt_tokens {p} != usage.input_tokens {} (both count every input token)",
                u.input_tokens
            ));
        }
    }
    if let Some(t) = &call.timing {
        if let Some(ttft) = t.ttft_ms.filter(|ttft| *ttft > t.end_ms) {
            out.push(format!("timing.ttft_ms {ttft} is after timing.end_ms {}", t.end_ms));
        }
    }
    if let Some(resp) = &call.response {
        out.extend(check_stream("response", resp));
        let answered = call.outcome == Some(Outcome::Completed) && (200..300).contains(&resp.status);
        if call.stream && answered && resp.events.is_none() && resp.body.is_none() && resp.body_text.is_none() {
            out.push("streamed call completed but the response has no events".into());
        }
    }
    if let Some(resp) = call.upstream.as_ref().and_then(|u| u.response.as_ref()) {
        out.extend(check_stream("upstream.response", resp));
    }
    out
}

/// Recorded SSE events concatenate back into the stream: each `raw` is exactly one event
/// (comments and keep-alives before it included), the `tail` none, and `t` never goes back.
/// Stops at the first break: after it, every later event would be off too.
fn check_stream(path: &str, resp: &HttpResponse) -> Option<String> {
    let events = resp.events.as_ref()?;
    let mut parser = SseParser::new();
    let mut parsed = Vec::new();
    let (mut offset, mut last_t) = (0u64, 0.0f64);
    for (i, e) in events.iter().enumerate() {
        if absurd_event_time(e.t) {
            return Some(format!(
                "{path}.events[{i}].t {} is not a plausible event time (ms after the request: negative, not a \
                 number, or beyond a day = {MAX_EVENT_TIME_MS})",
                show_event_time(e.t)
            ));
        }
        if e.t < last_t {
            return Some(format!("{path}.events[{i}].t {} is before the previous event's {last_t}", e.t));
        }
        last_t = e.t;
        parser.feed(e.raw.as_bytes(), &mut parsed);
        offset += e.raw.len() as u64;
        let why = match parsed.as_slice() {
            [one] if one.raw_end == offset => None,
            [] => Some("is not a complete SSE event (no blank line ends it)".to_string()),
            [_] => Some("has bytes after the end of its event".to_string()),
            many => Some(format!("holds {} SSE events, not one", many.len())),
        };
        if let Some(why) = why {
            return Some(format!("{path}.events[{i}].raw {why}: the events do not concatenate into the stream"));
        }
        parsed.clear();
    }
    if let Some(tail) = &resp.tail {
        parser.feed(tail.as_bytes(), &mut parsed);
        if !parsed.is_empty() {
            return Some(format!("{path}.tail holds {} complete SSE events (they belong in events)", parsed.len()));
        }
    }
    None
}

/// Secrets in one line: its JSON walked with paths, or (not JSON) its text.
fn scan_line(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return out;
    }
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(value) => scan_value(&value, "", &mut out),
        Err(_) => scan_string(text, "(the line)", false, &mut out),
    }
    out
}

fn scan_value(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            let headers = HEADER_MAPS.contains(&path);
            for (key, value) in map {
                let at = crate::recording::json_diff::join(path, key);
                if headers && redact::is_secret_header(key) {
                    let shown = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
                    if !shown.is_empty() && !redact::is_redacted(&shown) {
                        out.push(format!("{at}: credential header not {REDACTED}: {}", key_shapes::mask(&shown)));
                    }
                    continue;
                }
                if let Value::String(s) = value {
                    if !headers && redact::is_secret_field(key) && redact::worth_scrubbing(s) && !s.contains(REDACTED) {
                        out.push(format!("{at}: credential field not {REDACTED}: {}", key_shapes::mask(s)));
                        continue;
                    }
                    scan_string(s, &at, headers || URL_FIELDS.contains(&at.as_str()), out);
                    continue;
                }
                scan_value(value, &at, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                scan_value(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) => scan_string(s, path, false, out),
        _ => {}
    }
}

/// Key-shaped strings, and URL userinfo; `url_query`: the string is a path, an error or a
/// header value, whose credential-named query parameters are checked too.
fn scan_string(s: &str, path: &str, url_query: bool, out: &mut Vec<String>) {
    for m in key_shapes::find(s) {
        out.push(format!("{path}: looks like {}: {}", m.kind, key_shapes::mask(&s[m.start..m.start + m.len])));
    }
    for u in redact::find_in_urls(s, url_query) {
        let what = match u.what.as_str() {
            "userinfo" => "userinfo in a URL".to_string(),
            name => format!("query parameter `{name}` not {REDACTED}"),
        };
        out.push(format!("{path}: {what}: {}", key_shapes::mask(&s[u.start..u.end])));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::{HttpRequest, SseRecord, Usage};

    fn sse(raws: &[&str]) -> HttpResponse {
        HttpResponse {
            status: 200,
            events: Some(raws.iter().enumerate().map(|(i, r)| SseRecord { t: i as f64, raw: r.to_string() }).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn events_must_concatenate_one_by_one() {
        assert_eq!(check_stream("r", &sse(&["data: a\n\n", ": ping\n\ndata: b\n\n", "data: [DONE]\n\n"])), None);
        let split_crlf = sse(&["data: a\r\n\r", "\ndata: b\r\n\r\n"]);
        assert_eq!(check_stream("r", &split_crlf), None, "a CRLF split across frames is how the recorder cuts");
        let two = check_stream("r", &sse(&["data: a\n\ndata: b\n\n"])).unwrap();
        assert!(two.starts_with("r.events[0].raw holds 2 SSE events"), "{two}");
        let torn = check_stream("r", &sse(&["data: a\n\n", "data: b\n"])).unwrap();
        assert!(torn.starts_with("r.events[1].raw is not a complete SSE event"), "{torn}");
        let mut back = sse(&["data: a\n\n", "data: b\n\n"]);
        back.events.as_mut().unwrap()[0].t = 2.0;
        assert!(check_stream("r", &back).unwrap().contains("before the previous"));
        for absurd in [1e300, -1.0, f64::NAN, f64::INFINITY, 86_400_001.0] {
            let mut late = sse(&["data: a\n\n", "data: b\n\n"]);
            late.events.as_mut().unwrap()[1].t = absurd;
            let problem = check_stream("r", &late).unwrap();
            assert!(problem.starts_with("r.events[1].t ") && problem.contains("not a plausible"), "{problem}");
        }
        let mut tail = sse(&["data: a\n\n"]);
        tail.tail = Some("data: b\n\n".into());
        assert!(check_stream("r", &tail).unwrap().contains("tail holds 1 complete"));
        tail.tail = Some("data: b".into());
        assert_eq!(check_stream("r", &tail), None);
    }

    #[test]
    fn v1_rules_and_asb_lines() {
        let bad = CallLine {
            format_version: Some(1),
            prompt_tokens: Some(99),
            usage: Some(Usage {
                input_tokens: 100,
                input_uncached: 40,
                cache_read: 50,
                source: "server".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let found = check_v1(&bad);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].contains("without `request`") && found[1].contains("without `outcome`"));
        assert!(found[2].contains("usage.input_tokens 100 != input_uncached 40 + cache_read 50 + cache_creation 0"));
        assert!(found[3].contains("prompt_tokens 99"));
        let good = CallLine {
            format_version: Some(1),
            outcome: Some(Outcome::Completed),
            request: Some(HttpRequest::default()),
            ..Default::default()
        };
        assert!(check_v1(&good).is_empty());
        assert!(check_v1(&CallLine::default()).is_empty(), "asb lines have no v1 rules");
    }

    #[test]
    fn seqs_unique_per_recorder_run() {
        let call = |line, seq, run: &str| NumberedCall {
            line,
            call: CallLine { seq, experiment_id: run.into(), ..Default::default() },
        };
        let found = check_seqs(&[call(1, 1, "a"), call(2, 1, "b"), call(3, 2, "a"), call(4, 1, "a"), call(5, 0, "a")]);
        let lines: Vec<usize> = found.iter().map(|f| f.line).collect();
        assert_eq!(lines, vec![4, 5]);
        assert!(found[0].message.contains("seq 1 repeats line 1"));
    }

    #[test]
    fn secrets_found_with_their_path_and_masked() {
        let line = r#"{"seq":1,"request":{"headers":{"x-api-key":"sk-ant-api03-AAAAAAAAAAAAAAAA","authorization":"[redacted]"}},
            "messages":[{"role":"user","content":"my key is sk-proj-0123456789abcdefghijkl"}],"extra":{"aws":"AKIAIOSFODNN7EXAMPLE"}}"#;
        let found = scan_line(line);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], "request.headers.x-api-key: credential header not [redacted]: sk-a… (29 chars)");
        assert!(found[1].starts_with("messages[0].content: looks like an API key"), "{}", found[1]);
        assert!(found[2].starts_with("extra.aws: looks like an AWS access key id: AKIA…"), "{}", found[2]);
        assert!(found.iter().all(|f| !f.contains("AAAAAAAA") && !f.contains("0123456789")));
        assert_eq!(
            scan_line("not json sk-ant-api03-BBBBBBBBBBBB"),
            vec!["(the line): looks like an Anthropic API key: sk-a… (25 chars)"]
        );
        assert!(scan_line(r#"{"messages":[{"role":"user","content":"ask-me-anything-about-the-project-plan"}]}"#)
            .is_empty());
    }

    #[test]
    fn the_recorders_rules_by_placement() {
        let line = r#"{"request":{"path":"/v1/x?key=leak-0001&beta=true","headers":{"x-custom-auth":"leak-0002",
            "location":"https://h/?token=leak-0003","cookie":"[redacted], [redacted]","x-request-id":"req-1"},
            "body":{"a":[{"clientSecret":"leak-0004","max_tokens":"1234"}],"signature":"sig-abcdefgh"}},
            "error":"upstream http://u:leak-0005@h/v1?sig=leak-0006 unreachable",
            "messages":[{"content":"clone https://leak-0007@github.com/x and ?key=not-a-url-field"}]}"#;
        let found = scan_line(line);
        let at: Vec<&str> = found.iter().map(|f| f.split(':').next().unwrap()).collect();
        assert_eq!(
            at,
            [
                "request.path",
                "request.headers.x-custom-auth",
                "request.headers.location",
                "request.body.a[0].clientSecret",
                "error",
                "error",
                "messages[0].content"
            ],
            "{found:#?}"
        );
        assert!(found.iter().all(|f| !f.contains("0001") && !f.contains("0005")), "{found:#?}");
        let clean = r#"{"request":{"path":"/v1/x?key=[redacted]","headers":{"x-api-key":"[redacted]"},
            "body":{"password":"[redacted]","note":"Bearer [redacted]"}},"error":"http://[redacted]@h/?key=[redacted]"}"#;
        assert!(scan_line(clean).is_empty(), "{:?}", scan_line(clean));
    }
}
