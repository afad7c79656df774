//! One recording loaded for serving: every recorded call that has a response, indexed by
//! its canonical request key, served in recorded order and each at most once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::key::{exact_key_of, key_of, CanonicalRequest, ExactKey, Key};
use crate::recording::json_diff::{self, FieldDiff};
use crate::recording::line::{absurd_event_time, show_event_time};
use crate::recording::normalize::Normalizer;
use crate::recording::reader::{self, LineError};
use crate::recording::FORMAT_VERSION;

/// A recorded answer, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct RecordedAnswer {
    pub status: StatusCode,
    /// Response headers as recorded, minus those describing the old connection, plus
    /// `x-asb-serve: seq N` (built once, at load).
    pub headers: HeaderMap,
    pub body: AnswerBody,
}

#[derive(Debug, Clone)]
pub(crate) enum AnswerBody {
    /// SSE events verbatim, one after the other, then any tail (`all`: sent whole when not
    /// paced), and for each its arrival offset (ms from the request) and where it ends in
    /// `all` (sent piece by piece when paced).
    Events { all: Bytes, ends: Vec<(f64, usize)> },
    /// A whole body.
    Whole(Bytes),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub seq: u64,
    pub line: usize,
    pub method: String,
    pub path: String,
    pub key: Key,
    /// The body's bytes as recorded, hashed (`None`: no JSON body).
    pub exact: Option<ExactKey>,
    /// The canonical request body as compact sorted JSON, parsed again only for miss reports.
    pub canonical: Option<Box<[u8]>>,
    pub answer: RecordedAnswer,
}

/// The parts of a recording line that serving reads. serde skips everything else
/// (AgenticSwarmBench (the original asb)'s `messages` copy, the upstream exchange, the
/// result, usage) without building it, which is most of the loading time saved on large
/// recordings.
#[derive(Deserialize)]
struct ServedLine {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    format_version: Option<u64>,
    request: Option<ServedRequest>,
    response: Option<ServedResponse>,
}

#[derive(Deserialize)]
struct ServedRequest {
    method: String,
    path: String,
    body: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct ServedResponse {
    status: u16,
    #[serde(default)]
    headers: Map<String, Value>,
    body: Option<Box<RawValue>>,
    body_text: Option<String>,
    events: Option<Vec<ServedEvent>>,
    tail: Option<String>,
}

#[derive(Deserialize)]
struct ServedEvent {
    t: f64,
    raw: String,
}

/// What a request gets once every recording of it was served (`asb serve --allow-repeats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Repeats {
    /// An error naming the recordings already served (the default: a test that calls more
    /// often than when it was recorded is told so).
    #[default]
    Never,
    /// The last recording of it, again and again.
    Last,
    /// Its recordings again from the first, in order.
    Cycle,
}

/// What one line of a recording is to serving.
enum Parsed {
    Blank,
    /// A call with no recorded response (AgenticSwarmBench's lines, say).
    Unservable,
    Entry(Box<Entry>),
}

/// One line, or its problem — worded by the recording reader, as every command words it.
fn parse_entry(path: &Path, number: usize, bytes: &[u8], normalizer: &Normalizer) -> Result<Parsed, LineError> {
    let text = std::str::from_utf8(bytes).map(str::trim);
    if text.is_ok_and(str::is_empty) {
        return Ok(Parsed::Blank);
    }
    match serde_json::from_str::<ServedLine>(text.unwrap_or_default()) {
        Ok(line) if line.format_version.is_none_or(|v| v <= FORMAT_VERSION as u64) => {
            let absurd =
                line.response.as_ref().and_then(|r| r.events.as_ref()?.iter().find(|e| absurd_event_time(e.t)));
            if let Some(e) = absurd {
                // Served all the same: a paced answer waits at most `MAX_EVENT_DELAY` for it.
                eprintln!(
                    "asb serve: {}:{number}: event time {} ms is not plausible (negative, not a number or beyond a \
                     day); paced answers send it at once if negative, else after at most a day",
                    path.display(),
                    show_event_time(e.t)
                );
            }
            Ok(entry_of(line, number, normalizer).map_or(Parsed::Unservable, |e| Parsed::Entry(Box::new(e))))
        }
        outcome => {
            let ours = outcome.err().map(|e| e.to_string()).unwrap_or_default();
            let reason = reader::parse_line(bytes).err().unwrap_or(ours);
            Err(reader::line_error(path, number, bytes, reason))
        }
    }
}

/// What serving keeps of one recorded call (`None`: it has no recorded response).
fn entry_of(line: ServedLine, number: usize, normalizer: &Normalizer) -> Option<Entry> {
    let (request, response) = (line.request?, line.response?);
    let body = match (response.events, response.body, response.body_text) {
        (Some(events), _, _) => {
            let size =
                events.iter().map(|e| e.raw.len()).sum::<usize>() + response.tail.as_ref().map_or(0, String::len);
            let mut all = Vec::with_capacity(size);
            let mut ends = Vec::with_capacity(events.len() + 1);
            for e in events {
                all.extend_from_slice(e.raw.as_bytes());
                ends.push((e.t, all.len()));
            }
            if let Some(tail) = response.tail {
                all.extend_from_slice(tail.as_bytes());
                ends.push((ends.last().map_or(0.0, |f| f.0), all.len()));
            }
            AnswerBody::Events { all: Bytes::from(all), ends }
        }
        (None, Some(json), _) => AnswerBody::Whole(Bytes::from(String::from(Box::<str>::from(json)))),
        (None, None, Some(text)) => AnswerBody::Whole(Bytes::from(text)),
        (None, None, None) => AnswerBody::Whole(Bytes::new()),
    };
    let mut headers: HeaderMap = response
        .headers
        .iter()
        .filter(|(k, _)| !DROPPED_HEADERS.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((HeaderName::try_from(k.as_str()).ok()?, HeaderValue::try_from(v.as_str()?).ok()?)))
        .collect();
    if let Ok(v) = HeaderValue::try_from(format!("seq {}", line.seq)) {
        headers.append(HeaderName::from_static("x-asb-serve"), v);
    }
    let request_body = request.body.as_deref().map(|b| b.get().as_bytes());
    let canonical = request_body.and_then(|b| normalizer.canonical_text_of(b)).map(Vec::into_boxed_slice);
    Some(Entry {
        seq: line.seq,
        line: number,
        key: key_of(&request.method, &request.path, canonical.as_deref()),
        exact: request_body.map(|b| exact_key_of(&request.method, &request.path, b)),
        method: request.method,
        path: request.path,
        canonical,
        answer: RecordedAnswer {
            status: StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK),
            headers,
            body,
        },
    })
}

/// Lines are parsed in batches of about this many bytes, split across the cores: the
/// memory held beyond the entries themselves stays bounded by the batch.
const BATCH_BYTES: usize = 8 << 20;

/// Parses a batch of (line number, bytes) on up to `threads` threads, results in order.
fn parse_batch(
    path: &Path,
    batch: &[(usize, Vec<u8>)],
    threads: usize,
    normalizer: &Normalizer,
) -> Vec<Result<Parsed, LineError>> {
    let per_thread = batch.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = batch
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().map(|(n, bytes)| parse_entry(path, *n, bytes, normalizer)).collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|p| p.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// What a lookup found.
pub(crate) enum Lookup<'a> {
    Found(&'a Entry),
    /// The request was recorded, but every recording of it was already served.
    Exhausted {
        served: Vec<u64>,
    },
    Missing,
}

pub(crate) struct Cassette {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    by_key: HashMap<Key, Recorded>,
    /// Recorded bodies' exact bytes → their key (see [`ExactKey`]).
    by_exact: HashMap<ExactKey, Key>,
}

/// The recordings of one request: entry indices in recorded order, and how many were served.
#[derive(Default)]
struct Recorded {
    entries: Vec<usize>,
    served: usize,
}

/// Response headers that belong to the recorded connection, not to the answer.
const DROPPED_HEADERS: &[&str] = &["content-length", "transfer-encoding", "connection", "keep-alive", "date"];

impl Cassette {
    /// Loads `path` line by line, keeping of each call only what serving needs: its key,
    /// the canonical body as compact text (for miss reports), and the recorded answer.
    pub(crate) fn load(path: &Path, normalizer: &Normalizer) -> Result<Self> {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        let mut unservable = 0;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let mut batch: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut batch_bytes = 0;
        let mut take = |batch: &mut Vec<(usize, Vec<u8>)>| {
            for result in parse_batch(path, batch, threads, normalizer) {
                match result {
                    Err(problem) => problems.push(problem),
                    Ok(_) if !problems.is_empty() => {}
                    Ok(Parsed::Entry(entry)) => entries.push(*entry),
                    Ok(Parsed::Unservable) => unservable += 1,
                    Ok(Parsed::Blank) => {}
                }
            }
            batch.clear();
        };
        let mut too_long = Vec::new();
        reader::for_each_raw_line(path, |number, bytes| {
            let bytes = match bytes {
                Ok(bytes) => bytes,
                Err(problem) => return too_long.push(problem),
            };
            batch.push((number, bytes.to_vec()));
            batch_bytes += bytes.len();
            if batch_bytes >= BATCH_BYTES {
                take(&mut batch);
                batch_bytes = 0;
            }
        })?;
        take(&mut batch);
        if !too_long.is_empty() {
            problems.extend(too_long);
            problems.sort_by_key(|p| p.line);
        }
        if let Some(first) = problems.first() {
            let more =
                if problems.len() > 1 { format!(" (and {} more problems)", problems.len() - 1) } else { String::new() };
            bail!("{first}{more}");
        }
        if entries.is_empty() {
            bail!(
                "{}: no call in this recording can be served ({} without a recorded response; \
                 AgenticSwarmBench's recordings keep no responses: record with `asb record`)",
                path.display(),
                unservable
            );
        }
        // Served in recorded order: the order calls arrived, not the order they ended.
        entries.sort_by_key(|e: &Entry| e.seq);
        let mut by_key: HashMap<Key, Recorded> = HashMap::new();
        let mut by_exact = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_key.entry(e.key).or_default().entries.push(i);
            if let Some(exact) = e.exact {
                by_exact.insert(exact, e.key);
            }
        }
        Ok(Cassette { path: path.to_path_buf(), entries, by_key, by_exact })
    }

    /// Every recorded call back to unserved, as at load (`POST /__asb/reset`); how many
    /// recorded calls there are.
    pub(crate) fn reset(&mut self) -> usize {
        self.by_key.values_mut().for_each(|r| r.served = 0);
        self.entries.len()
    }

    /// The key of a request whose bytes equal a recorded request's (`None`: none does, and
    /// its key must be computed from its canonical text).
    pub(crate) fn recorded_key(&self, exact: &ExactKey) -> Option<Key> {
        self.by_exact.get(exact).copied()
    }

    /// The next unserved recording of `key`; once all are served, what `repeats` says.
    /// `canonical`: the request that `key` was computed from, checked against the
    /// recording before it is served (`None`: the key came from [`Self::recorded_key`],
    /// i.e. from the recording itself).
    pub(crate) fn take(&mut self, key: &Key, canonical: Option<&CanonicalRequest>, repeats: Repeats) -> Lookup<'_> {
        let Some(recorded) = self.by_key.get_mut(key) else { return Lookup::Missing };
        if let (Some(request), Some(&first)) = (canonical, recorded.entries.first()) {
            let e = &self.entries[first];
            if (e.method.as_str(), e.path.as_str(), e.canonical.as_deref())
                != (request.method, request.path, request.text)
            {
                // Two different requests with one 128-bit hash: no answer rather than a wrong one.
                return Lookup::Missing;
            }
        }
        let n = recorded.entries.len();
        let i = match (recorded.served < n, repeats) {
            (true, _) | (false, Repeats::Cycle) => recorded.entries[recorded.served % n],
            (false, Repeats::Last) => recorded.entries[n - 1],
            (false, Repeats::Never) => {
                return Lookup::Exhausted { served: recorded.entries.iter().map(|&i| self.entries[i].seq).collect() }
            }
        };
        recorded.served += 1;
        Lookup::Found(&self.entries[i])
    }

    /// The recorded call on the same method and path whose body differs in the fewest
    /// fields from `incoming`.
    pub(crate) fn closest(
        &self,
        method: &str,
        path: &str,
        incoming: Option<&Value>,
    ) -> Option<(&Entry, Vec<FieldDiff>)> {
        let null = Value::Null;
        self.entries
            .iter()
            .filter(|e| e.method == method && e.path == path)
            .map(|e| {
                let recorded: Value =
                    e.canonical.as_deref().and_then(|t| serde_json::from_slice(t).ok()).unwrap_or(Value::Null);
                (e, json_diff::diff(&recorded, incoming.unwrap_or(&null)))
            })
            .min_by_key(|(_, d)| d.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::key::request_key;

    fn line(seq: u64, path: &str, body: &str) -> String {
        format!(
            r#"{{"format_version":1,"seq":{seq},"request":{{"method":"POST","path":"{path}","body":{body}}},"response":{{"status":200,"headers":{{}},"body":{{"n":{seq}}}}}}}"#
        )
    }

    fn served_seq(c: &mut Cassette, key: &Key) -> Option<u64> {
        match c.take(key, None, Repeats::Never) {
            Lookup::Found(e) => Some(e.seq),
            _ => None,
        }
    }

    #[test]
    fn recorded_bytes_are_matched_exactly_and_any_other_spelling_by_the_canonical_key() {
        const CHAT: &str = "/v1/chat/completions";
        let compact = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        let spaced = r#"{"messages": [{"content": "hi", "role": "user"}], "model": "m"}"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let lines = [line(1, CHAT, compact), line(2, "/v1/other", compact), line(3, CHAT, spaced)];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let normalizer = Normalizer::default();
        let mut c = Cassette::load(&path, &normalizer).unwrap();

        // Both recorded spellings are known by their bytes, on their own path only.
        let chat_key = request_key(&normalizer, "POST", CHAT, compact.as_bytes());
        assert_eq!(c.recorded_key(&exact_key_of("POST", CHAT, compact.as_bytes())), Some(chat_key));
        assert_eq!(c.recorded_key(&exact_key_of("POST", CHAT, spaced.as_bytes())), Some(chat_key));
        let other_key = c.recorded_key(&exact_key_of("POST", "/v1/other", compact.as_bytes()));
        assert_eq!(other_key, Some(request_key(&normalizer, "POST", "/v1/other", compact.as_bytes())));
        assert_ne!(other_key, Some(chat_key));
        assert_eq!(c.recorded_key(&exact_key_of("GET", CHAT, compact.as_bytes())), None);
        // A third spelling is not known by its bytes, but has the same canonical key.
        let third = r#"{ "model":"m", "messages":[{"role":"user","content":"hi"}] }"#;
        assert_eq!(c.recorded_key(&exact_key_of("POST", CHAT, third.as_bytes())), None);
        assert_eq!(request_key(&normalizer, "POST", CHAT, third.as_bytes()), chat_key);

        // A key is confirmed against the recorded canonical text: a request whose hash
        // collided with a recorded one's is not given its answer.
        let text = normalizer.canonical_text_of(third.as_bytes()).unwrap();
        let request = CanonicalRequest { method: "POST", path: CHAT, text: Some(&text) };
        assert!(matches!(c.take(&request.key(), Some(&request), Repeats::Never), Lookup::Found(e) if e.seq == 1));
        let other = CanonicalRequest { text: Some(br#"{"model":"other"}"#), ..request };
        assert!(matches!(c.take(&request.key(), Some(&other), Repeats::Never), Lookup::Missing));
        let elsewhere = CanonicalRequest { path: "/v1/other", ..request };
        assert!(matches!(c.take(&request.key(), Some(&elsewhere), Repeats::Never), Lookup::Missing));

        // Either way in, one queue in recorded order.
        assert_eq!(served_seq(&mut c, &chat_key), Some(3));
        assert_eq!(served_seq(&mut c, &chat_key), None);
    }
}
