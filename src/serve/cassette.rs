//! One recording loaded for serving: every recorded call that has a response, indexed by
//! its canonical request key, served in recorded order and each at most once.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use bytes::Bytes;
use serde_json::Value;

use super::key::{key_of_text, write_sorted, Normalizer};
use crate::recording::reader::{self, NumberedCall};

/// A recorded answer, ready to send.
#[derive(Debug, Clone)]
pub struct RecordedAnswer {
    pub status: u16,
    /// Response headers as recorded, minus those describing the old connection.
    pub headers: Vec<(String, String)>,
    pub body: AnswerBody,
}

#[derive(Debug, Clone)]
pub enum AnswerBody {
    /// SSE events verbatim with their arrival offsets (ms from the request), then any tail.
    Events(Vec<(f64, Bytes)>),
    /// A whole body.
    Whole(Bytes),
}

#[derive(Debug)]
pub struct Entry {
    pub seq: u64,
    pub line: usize,
    pub method: String,
    pub path: String,
    pub key: String,
    /// The canonical request body as compact sorted JSON, parsed again only for miss reports.
    pub canonical: Option<String>,
    pub answer: RecordedAnswer,
}

/// What serving keeps of one recorded call (`None`: it has no recorded response).
fn entry_of(numbered: NumberedCall, normalizer: &Normalizer) -> Option<Entry> {
    let call = numbered.call;
    let (request, response) = (call.request?, call.response?);
    let body = match (response.events, response.body, response.body_text) {
        (Some(events), _, _) => {
            let mut frames: Vec<(f64, Bytes)> = events.into_iter().map(|e| (e.t, Bytes::from(e.raw))).collect();
            if let Some(tail) = response.tail {
                let t = frames.last().map_or(0.0, |f| f.0);
                frames.push((t, Bytes::from(tail)));
            }
            AnswerBody::Events(frames)
        }
        (None, Some(json), _) => AnswerBody::Whole(Bytes::from(json.to_string())),
        (None, None, Some(text)) => AnswerBody::Whole(Bytes::from(text)),
        (None, None, None) => AnswerBody::Whole(Bytes::new()),
    };
    let headers = response
        .headers
        .iter()
        .filter(|(k, _)| !DROPPED_HEADERS.contains(&k.as_str()))
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    let canonical = request.body.as_ref().map(|b| {
        let mut text = String::new();
        write_sorted(&normalizer.canonical_body(b), &mut text);
        text.shrink_to_fit();
        text
    });
    Some(Entry {
        seq: call.seq,
        line: numbered.line,
        key: key_of_text(&request.method, &request.path, canonical.as_deref()),
        method: request.method,
        path: request.path,
        canonical,
        answer: RecordedAnswer { status: response.status, headers, body },
    })
}

/// What a lookup found.
pub enum Lookup<'a> {
    Found(&'a Entry),
    /// The request was recorded, but every recording of it was already served.
    Exhausted {
        served: Vec<u64>,
    },
    Missing,
}

pub struct Cassette {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    /// Calls in the file that cannot be served (no recorded response, e.g. asb's lines).
    pub unservable: usize,
    by_key: HashMap<String, VecDeque<usize>>,
    served: HashMap<String, Vec<u64>>,
}

/// Response headers that belong to the recorded connection, not to the answer.
const DROPPED_HEADERS: &[&str] = &["content-length", "transfer-encoding", "connection", "keep-alive", "date"];

impl Cassette {
    /// Loads `path` line by line, keeping of each call only what serving needs: its key,
    /// the canonical body as compact text (for miss reports), and the recorded answer.
    pub fn load(path: &Path, normalizer: &Normalizer) -> Result<Self> {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        let mut unservable = 0;
        reader::for_each_line(path, |line| match line {
            Err(problem) => problems.push(problem),
            Ok(_) if !problems.is_empty() => {}
            Ok(numbered) => match entry_of(numbered, normalizer) {
                Some(entry) => entries.push(entry),
                None => unservable += 1,
            },
        })?;
        if let Some(first) = problems.first() {
            let more =
                if problems.len() > 1 { format!(" (and {} more problems)", problems.len() - 1) } else { String::new() };
            bail!("{first}{more}");
        }
        if entries.is_empty() {
            bail!(
                "{}: no call in this recording can be served ({} without a recorded response; \
                 asb's own recordings keep no responses: record with `asb record`)",
                path.display(),
                unservable
            );
        }
        // Served in recorded order: the order calls arrived, not the order they ended.
        entries.sort_by_key(|e: &Entry| e.seq);
        let mut by_key: HashMap<String, VecDeque<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_key.entry(e.key.clone()).or_default().push_back(i);
        }
        Ok(Cassette { path: path.to_path_buf(), entries, unservable, by_key, served: HashMap::new() })
    }

    /// The next unserved recording of `key`.
    pub fn take(&mut self, key: &str) -> Lookup<'_> {
        match self.by_key.get_mut(key) {
            Some(queue) => match queue.pop_front() {
                Some(i) => {
                    self.served.entry(key.to_string()).or_default().push(self.entries[i].seq);
                    Lookup::Found(&self.entries[i])
                }
                None => Lookup::Exhausted { served: self.served.get(key).cloned().unwrap_or_default() },
            },
            None => Lookup::Missing,
        }
    }

    /// The recorded call on the same method and path whose body differs in the fewest
    /// fields from `incoming`.
    pub fn closest(
        &self,
        method: &str,
        path: &str,
        incoming: Option<&Value>,
    ) -> Option<(&Entry, Vec<super::diff::FieldDiff>)> {
        let null = Value::Null;
        self.entries
            .iter()
            .filter(|e| e.method == method && e.path == path)
            .map(|e| {
                let recorded: Value =
                    e.canonical.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null);
                (e, super::diff::diff(&recorded, incoming.unwrap_or(&null)))
            })
            .min_by_key(|(_, d)| d.len())
    }
}
