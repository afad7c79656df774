//! `asb diff A B [--json]`: what changed between two recordings of a session, call by call.
//!
//! Calls are aligned first, so one extra or missing call does not shift every later pair:
//!
//! * when every call of both files has a `thread_id`, threads are paired (same id; then
//!   threads whose first call has the same model and system prompt, in arrival order — a
//!   changed first user message changes the id), and the calls of a thread pair are
//!   aligned in turn order;
//! * otherwise (asb lines) the calls are aligned in arrival order as one sequence.
//!
//! Alignment is a longest common subsequence over a per-call signature (model + the newest
//! user message or tool result, see [`super::align`]). Each pair then reports its prompt
//! differences (messages added or changed, with a short text diff of the first change, and
//! request parameters), its response differences (outcome, text, tool calls) and its
//! timing A → B; calls left over are only in A or only in B. Timing never makes a pair
//! "changed": two runs always differ in time. Prompts are compared as `asb serve` matches
//! them (timestamps, UUIDs, Claude Code's billing-header values and `metadata.user_id`
//! normalised), so two runs of a session that differ only there compare equal.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::display::{cut, duration_ms, excerpt, plural, ratio};
use crate::recording::json_diff as leaf_diff;
use crate::recording::line::CallLine;
use crate::recording::message;
use crate::recording::normalize::Normalizer;
use crate::recording::reader::{CallsAt, NumberedCall};

use super::align::{align, Step};
use super::arrival::{self, Arrives};
use super::facts::MaybeF64;

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The first recording (the baseline).
    pub a: PathBuf,
    /// The second recording.
    pub b: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Request body fields compared as parameters; the conversation is compared as `messages`.
const CONVERSATION_FIELDS: &[&str] =
    &["messages", "system", "model", "max_tokens", "max_completion_tokens", "temperature", "stream"];
/// Parameter changes listed per pair.
const FIELDS_SHOWN: usize = 6;
/// Characters of context around a text change.
const CONTEXT: usize = 20;
const EXCERPT: usize = 60;

#[derive(Debug, Serialize)]
pub struct Report {
    pub a: FileInfo,
    pub b: FileInfo,
    /// Aligned thread by thread (both files have thread ids), else as one sequence.
    pub by_thread: bool,
    pub threads: Vec<ThreadReport>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub calls: usize,
}

#[derive(Debug, Serialize)]
pub struct ThreadReport {
    pub thread_a: Option<String>,
    pub thread_b: Option<String>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Pair(Box<PairDiff>),
    OnlyA(CallRef),
    OnlyB(CallRef),
}

/// Which call: enough to find it in its file.
#[derive(Debug, Clone, Serialize)]
pub struct CallRef {
    pub seq: u64,
    pub line: usize,
    pub model: String,
    pub thread_id: Option<String>,
    /// The newest user message or tool result, shortened.
    pub last_input: String,
}

#[derive(Debug, Serialize)]
pub struct PairDiff {
    pub a: CallRef,
    pub b: CallRef,
    /// Same prompt and same response (timing aside).
    pub equal: bool,
    pub prompt: PromptDiff,
    pub response: ResponseDiff,
    pub timing: TimingDiff,
}

#[derive(Debug, Serialize)]
pub struct PromptDiff {
    pub equal: bool,
    pub messages_a: usize,
    pub messages_b: usize,
    /// The first message that differs (or exists on one side only).
    pub first_difference: Option<MessageDiff>,
    /// Model and request parameters that differ.
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Serialize)]
pub struct MessageDiff {
    pub index: usize,
    pub role_a: Option<String>,
    pub role_b: Option<String>,
    /// Excerpts around the first differing character (whole start when one side is absent).
    pub a: Option<String>,
    pub b: Option<String>,
    pub at_char: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub a: String,
    pub b: String,
}

#[derive(Debug, Serialize)]
pub struct ResponseDiff {
    pub equal: bool,
    pub outcome_a: String,
    pub outcome_b: String,
    /// Both lines keep the answer (`result`): asb lines do not.
    pub known: bool,
    pub text_equal: Option<bool>,
    pub tool_calls_a: Vec<String>,
    pub tool_calls_b: Vec<String>,
    pub tool_calls_equal: Option<bool>,
    pub output_tokens_a: Option<u64>,
    pub output_tokens_b: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct TimingDiff {
    pub ttft_ms: Option<Change>,
    pub total_time_s: Option<Change>,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub a: f64,
    pub b: f64,
    /// b / a.
    pub ratio: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub pairs: usize,
    pub equal: usize,
    pub changed: usize,
    pub only_a: usize,
    pub only_b: usize,
}

/// `asb diff`. Of each call only a sketch is kept while the files stream by (what aligning
/// needs: arrival, thread, a hash of the signature); the lines of each pair are read again
/// as the report reaches it, and the report is written out entry by entry, never held.
pub fn run(args: DiffArgs) -> Result<ExitCode> {
    let mut strings = Strings::default();
    let a = super::load_with(&args.a, |offset, c| sketch(&mut strings, offset, &c))?;
    let b = super::load_with(&args.b, |offset, c| sketch(&mut strings, offset, &c))?;
    let (mut file_a, mut file_b) = (from_file(&args.a)?, from_file(&args.b)?);
    let (name_a, name_b) = (args.a.display().to_string(), args.b.display().to_string());
    let mut walk = Walk::new((&name_a, &a, &mut file_a), (&name_b, &b, &mut file_b))?;
    let mut stdout = crate::output::Emitter::default();
    if args.json {
        let mut text = Vec::new();
        let mut sink = |piece: &str| stdout.write(piece);
        let mut out = PieceWriter { piece: &mut text, sink: &mut sink };
        let walk = RefCell::new(&mut walk);
        serde_json::to_writer_pretty(&mut out, &LazyReport(&walk)).map_err(|e| anyhow!("{e}"))?;
        out.piece.push(b'\n');
        out.flush_piece()?;
    } else {
        render_walk(&mut walk, &mut |piece| stdout.write(piece))?;
    }
    Ok(ExitCode::SUCCESS)
}

// ---- what is kept of each call --------------------------------------------------------

/// What aligning keeps of a call.
#[derive(Debug, Clone)]
pub struct Sketch {
    pub line: usize,
    /// Where to find the whole call again: its line's byte offset (or its index in memory).
    pub at: u64,
    pub seq: u64,
    pub experiment_id: Rc<str>,
    pub thread_id: Option<Rc<str>>,
    pub start_offset_ms: MaybeF64,
    pub timestamp_ms: MaybeF64,
    pub duration_ms: MaybeF64,
    /// A hash of [`signature`].
    pub signature: u64,
}

/// Shares the strings calls repeat (run and thread ids).
#[derive(Debug, Default)]
pub struct Strings(HashSet<Rc<str>>);

impl Strings {
    fn shared(&mut self, text: &str) -> Rc<str> {
        if let Some(known) = self.0.get(text) {
            return known.clone();
        }
        let new: Rc<str> = Rc::from(text);
        self.0.insert(new.clone());
        new
    }
}

pub fn sketch(strings: &mut Strings, at: u64, c: &NumberedCall) -> Sketch {
    let mut hasher = std::hash::DefaultHasher::new();
    signature(&c.call).hash(&mut hasher);
    Sketch {
        line: c.line,
        at,
        seq: c.call.seq,
        experiment_id: strings.shared(&c.call.experiment_id),
        thread_id: c.call.thread_id.as_deref().map(|t| strings.shared(t)),
        start_offset_ms: MaybeF64::of(c.call.start_offset_ms),
        timestamp_ms: MaybeF64::of(c.call.timestamp_ms()),
        duration_ms: MaybeF64::of(c.call.duration_ms()),
        signature: hasher.finish(),
    }
}

impl Arrives for Sketch {
    fn experiment_id(&self) -> &str {
        &self.experiment_id
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn line(&self) -> usize {
        self.line
    }
    fn start_offset_ms(&self) -> Option<f64> {
        self.start_offset_ms.get()
    }
    fn timestamp_ms(&self) -> Option<f64> {
        self.timestamp_ms.get()
    }
    fn duration_ms(&self) -> Option<f64> {
        self.duration_ms.get()
    }
}

/// Gives the whole call of a sketch.
type Fetch<'f> = dyn FnMut(&Sketch) -> Result<NumberedCall> + 'f;

/// Reads a sketch's call again from its file.
fn from_file(path: &std::path::Path) -> Result<impl FnMut(&Sketch) -> Result<NumberedCall>> {
    let mut calls = CallsAt::open(path).map_err(|e| anyhow!("{e}"))?;
    Ok(move |s: &Sketch| {
        let call = calls.call_at(s.at, s.line).map_err(|e| anyhow!("{e}"))?;
        Ok(NumberedCall { line: s.line, call })
    })
}

// ---- alignment ------------------------------------------------------------------------

/// Calls of one agent thread in turn order (or a whole file, without thread ids).
struct Group<'a> {
    id: Option<Rc<str>>,
    /// Position among its file's threads, by first arrival.
    order: usize,
    calls: Vec<&'a Sketch>,
}

fn in_arrival_order(calls: &[Sketch]) -> Vec<&Sketch> {
    arrival::schedule(calls).calls.iter().map(|p| &calls[p.index]).collect()
}

/// Threads in order of first arrival, each in turn order (`thread_turn` numbers a thread's
/// calls in arrival order; arrival order also holds when two recorder runs share a thread).
fn threads(calls: &[Sketch]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Option<Rc<str>>, usize> = HashMap::new();
    for c in in_arrival_order(calls) {
        match index.get(&c.thread_id) {
            Some(&g) => groups[g].calls.push(c),
            None => {
                index.insert(c.thread_id.clone(), groups.len());
                groups.push(Group { id: c.thread_id.clone(), order: groups.len(), calls: vec![c] });
            }
        }
    }
    groups
}

/// Identifies a call for alignment: the model and the newest input, with the values that
/// change from run to run of the same session masked (tool-call ids; timestamps and UUIDs
/// as `asb serve` normalises them).
fn signature(c: &CallLine) -> (String, String) {
    let input = Normalizer::default().canonicalize(Value::String(mask_tool_ids(&c.last_input())));
    (c.model.clone(), input.as_str().unwrap_or_default().to_string())
}

/// `toolu_01ABC…` and `call_abc…` become `toolu_*` and `call_*`.
pub fn mask_tool_ids(text: &str) -> String {
    const PREFIXES: [&str; 2] = ["toolu_", "call_"];
    let id_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut after_id_char = false;
    while let Some(c) = rest.chars().next() {
        match PREFIXES.iter().find(|p| !after_id_char && rest.starts_with(**p)) {
            Some(prefix) => {
                let id_len = rest[prefix.len()..].find(|c: char| !id_char(c)).unwrap_or(rest.len() - prefix.len());
                out.push_str(prefix);
                out.push('*');
                rest = &rest[prefix.len() + id_len..];
                after_id_char = false;
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
                after_id_char = id_char(c);
            }
        }
    }
    out
}

/// Identifies a thread whose id differs: its first call's model and system prompt
/// (normalised, as Claude Code's billing header changes from run to run).
fn thread_signature(g: &Group, fetch: &mut Fetch) -> Result<(String, String)> {
    let first = fetch(g.calls[0])?.call;
    let system: String = first.messages.iter().filter(|m| message::role(m) == "system").map(message::text).collect();
    let system = Normalizer::default().canonicalize(Value::String(system));
    Ok((first.model.clone(), system.as_str().unwrap_or_default().to_string()))
}

/// A pair of groups to align (either side may be missing).
type GroupPair<'a> = (Option<Group<'a>>, Option<Group<'a>>);

/// Pairs of groups to align.
fn pair_groups<'a>(
    a: Vec<Group<'a>>,
    b: Vec<Group<'a>>,
    fetch_a: &mut Fetch,
    fetch_b: &mut Fetch,
) -> Result<Vec<GroupPair<'a>>> {
    let mut b_by_id: HashMap<Option<Rc<str>>, usize> = HashMap::new();
    for (j, g) in b.iter().enumerate() {
        b_by_id.entry(g.id.clone()).or_insert(j);
    }
    let mut a: Vec<Option<Group>> = a.into_iter().map(Some).collect();
    let mut b: Vec<Option<Group>> = b.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for ga in a.iter_mut() {
        let id = ga.as_ref().and_then(|g| g.id.clone());
        if let Some(gb) = b_by_id.remove(&id).map(|j| &mut b[j]) {
            out.push((ga.take(), gb.take()));
        }
    }
    let rest_a: Vec<Group> = a.into_iter().flatten().collect();
    let rest_b: Vec<Group> = b.into_iter().flatten().collect();
    let sig_a: Vec<_> = rest_a.iter().map(|g| thread_signature(g, fetch_a)).collect::<Result<_>>()?;
    let sig_b: Vec<_> = rest_b.iter().map(|g| thread_signature(g, fetch_b)).collect::<Result<_>>()?;
    let mut rest_a: Vec<Option<Group>> = rest_a.into_iter().map(Some).collect();
    let mut rest_b: Vec<Option<Group>> = rest_b.into_iter().map(Some).collect();
    for step in align(&sig_a, &sig_b, false) {
        out.push(match step {
            Step::Pair(i, j) => (rest_a[i].take(), rest_b[j].take()),
            Step::OnlyA(i) => (rest_a[i].take(), None),
            Step::OnlyB(j) => (None, rest_b[j].take()),
        });
    }
    // In A's arrival order; threads only in B where they arrived in B.
    out.sort_by_key(|(a, b)| a.as_ref().or(b.as_ref()).map_or(0, |g| g.order));
    Ok(out)
}

/// The whole comparison of two recordings in memory.
pub fn compare(a: (&str, &[NumberedCall]), b: (&str, &[NumberedCall])) -> Result<Report> {
    let mut strings = Strings::default();
    let mut sketches = |calls: &[NumberedCall]| -> Vec<Sketch> {
        calls.iter().enumerate().map(|(i, c)| sketch(&mut strings, i as u64, c)).collect()
    };
    let (sketch_a, sketch_b) = (sketches(a.1), sketches(b.1));
    let mut fetch_a = |s: &Sketch| Ok(a.1[s.at as usize].clone());
    let mut fetch_b = |s: &Sketch| Ok(b.1[s.at as usize].clone());
    compare_sketches((a.0, &sketch_a, &mut fetch_a), (b.0, &sketch_b, &mut fetch_b))
}

/// One side of a comparison: its name, its calls' sketches, and where their whole calls are.
type Side<'s, 'f> = (&'s str, &'s [Sketch], &'s mut Fetch<'f>);

/// The whole comparison, reading the calls of each pair as it goes.
pub fn compare_sketches<'s, 'f>(a: Side<'s, 'f>, b: Side<'s, 'f>) -> Result<Report> {
    let mut walk = Walk::new(a, b)?;
    let mut threads = Vec::with_capacity(walk.groups.len());
    for g in 0..walk.groups.len() {
        let steps = walk.steps(g);
        let entries = steps.iter().map(|step| walk.entry(g, *step)).collect::<Result<Vec<_>>>()?;
        let (thread_a, thread_b) = walk.thread_ids(g);
        threads.push(ThreadReport { thread_a, thread_b, entries });
    }
    let summary = walk.summary();
    Ok(Report { a: walk.file_a, b: walk.file_b, by_thread: walk.by_thread, threads, summary })
}

/// The comparison of two recordings, walked group by group and step by step: each entry is
/// computed (its two calls read) when it is reached, so a consumer that writes entries out
/// as they come holds none of them.
pub struct Walk<'s, 'f> {
    file_a: FileInfo,
    file_b: FileInfo,
    by_thread: bool,
    groups: Vec<GroupPair<'s>>,
    fetch_a: &'s mut Fetch<'f>,
    fetch_b: &'s mut Fetch<'f>,
    counts: Summary,
}

impl<'s, 'f> Walk<'s, 'f> {
    pub fn new(a: Side<'s, 'f>, b: Side<'s, 'f>) -> Result<Self> {
        let ((name_a, a, fetch_a), (name_b, b, fetch_b)) = (a, b);
        let has_threads = |calls: &[Sketch]| !calls.is_empty() && calls.iter().all(|c| c.thread_id.is_some());
        let by_thread = has_threads(a) && has_threads(b);
        let groups = if by_thread {
            pair_groups(threads(a), threads(b), fetch_a, fetch_b)?
        } else {
            let whole = |calls| Group { id: None, order: 0, calls: in_arrival_order(calls) };
            vec![(Some(whole(a)), Some(whole(b)))]
        };
        Ok(Walk {
            file_a: FileInfo { path: name_a.into(), calls: a.len() },
            file_b: FileInfo { path: name_b.into(), calls: b.len() },
            by_thread,
            groups,
            fetch_a,
            fetch_b,
            counts: Summary::default(),
        })
    }

    /// The calls of group pair `g`, A's and B's.
    fn calls(&self, g: usize) -> (&[&'s Sketch], &[&'s Sketch]) {
        fn of<'g, 's>(g: &'g Option<Group<'s>>) -> &'g [&'s Sketch] {
            g.as_ref().map(|g| g.calls.as_slice()).unwrap_or_default()
        }
        (of(&self.groups[g].0), of(&self.groups[g].1))
    }

    fn thread_ids(&self, g: usize) -> (Option<String>, Option<String>) {
        let id = |g: &Option<Group>| g.as_ref().and_then(|g| g.id.as_deref()).map(str::to_string);
        (id(&self.groups[g].0), id(&self.groups[g].1))
    }

    /// The alignment of group pair `g`.
    fn steps(&self, g: usize) -> Vec<Step> {
        let (a_calls, b_calls) = self.calls(g);
        let sig_a: Vec<u64> = a_calls.iter().map(|c| c.signature).collect();
        let sig_b: Vec<u64> = b_calls.iter().map(|c| c.signature).collect();
        align(&sig_a, &sig_b, true)
    }

    /// One entry of group pair `g`, its calls read; counted in the summary.
    fn entry(&mut self, g: usize, step: Step) -> Result<Entry> {
        let (a_calls, b_calls) = self.calls(g);
        let (a_call, b_call) = match step {
            Step::Pair(i, j) => (Some(a_calls[i]), Some(b_calls[j])),
            Step::OnlyA(i) => (Some(a_calls[i]), None),
            Step::OnlyB(j) => (None, Some(b_calls[j])),
        };
        let a_call = a_call.map(|c| (self.fetch_a)(c)).transpose()?;
        let b_call = b_call.map(|c| (self.fetch_b)(c)).transpose()?;
        let entry = match (a_call, b_call) {
            (Some(a), Some(b)) => Entry::Pair(Box::new(compare_calls(&a, &b))),
            (Some(a), None) => Entry::OnlyA(call_ref(&a)),
            (None, Some(b)) => Entry::OnlyB(call_ref(&b)),
            (None, None) => return Err(anyhow!("an alignment step with no call")),
        };
        match &entry {
            Entry::Pair(p) if p.equal => self.counts.equal += 1,
            Entry::Pair(_) => self.counts.changed += 1,
            Entry::OnlyA(_) => self.counts.only_a += 1,
            Entry::OnlyB(_) => self.counts.only_b += 1,
        }
        Ok(entry)
    }

    /// The summary of the entries walked so far.
    fn summary(&self) -> Summary {
        let c = &self.counts;
        Summary { pairs: c.equal + c.changed, equal: c.equal, changed: c.changed, only_a: c.only_a, only_b: c.only_b }
    }
}

// ---- the report as JSON, entry by entry -----------------------------------------------

/// The walk, shared by the lazy parts of the JSON report.
type Shared<'w, 's, 'f> = &'w RefCell<&'w mut Walk<'s, 'f>>;

/// [`Report`]'s JSON, its entries computed while they are written.
struct LazyReport<'w, 's, 'f>(Shared<'w, 's, 'f>);

impl Serialize for LazyReport<'_, '_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (file_a, file_b, by_thread, groups) = {
            let walk = self.0.borrow();
            (walk.file_a.clone(), walk.file_b.clone(), walk.by_thread, walk.groups.len())
        };
        let mut report = serializer.serialize_struct("Report", 5)?;
        report.serialize_field("a", &file_a)?;
        report.serialize_field("b", &file_b)?;
        report.serialize_field("by_thread", &by_thread)?;
        let threads: Vec<LazyThread> = (0..groups).map(|g| LazyThread(self.0, g)).collect();
        report.serialize_field("threads", &threads)?;
        report.serialize_field("summary", &self.0.borrow().summary())?;
        report.end()
    }
}

/// One [`ThreadReport`]'s JSON.
struct LazyThread<'w, 's, 'f>(Shared<'w, 's, 'f>, usize);

impl Serialize for LazyThread<'_, '_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (thread_a, thread_b) = self.0.borrow().thread_ids(self.1);
        let mut thread = serializer.serialize_struct("ThreadReport", 3)?;
        thread.serialize_field("thread_a", &thread_a)?;
        thread.serialize_field("thread_b", &thread_b)?;
        thread.serialize_field("entries", &LazyEntries(self.0, self.1))?;
        thread.end()
    }
}

/// The entries of one thread, each computed and written before the next.
struct LazyEntries<'w, 's, 'f>(Shared<'w, 's, 'f>, usize);

impl Serialize for LazyEntries<'_, '_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let steps = self.0.borrow().steps(self.1);
        let mut seq = serializer.serialize_seq(Some(steps.len()))?;
        for step in steps {
            let entry = self.0.borrow_mut().entry(self.1, step).map_err(|e| S::Error::custom(format!("{e:#}")))?;
            seq.serialize_element(&entry)?;
        }
        seq.end()
    }
}

/// Output is handed to the sink in pieces of about this size.
const PIECE: usize = 64 * 1024;

/// An `io::Write` that hands what is written to a sink in pieces of about [`PIECE`] bytes.
struct PieceWriter<'p> {
    piece: &'p mut Vec<u8>,
    sink: &'p mut dyn FnMut(&str) -> Result<()>,
}

impl PieceWriter<'_> {
    fn flush_piece(&mut self) -> Result<()> {
        if !self.piece.is_empty() {
            (self.sink)(&String::from_utf8_lossy(self.piece))?;
            self.piece.clear();
        }
        Ok(())
    }
}

impl std::io::Write for PieceWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.piece.extend_from_slice(bytes);
        // Cut only between whole UTF-8 characters (serde_json writes a string in parts).
        if self.piece.len() >= PIECE && std::str::from_utf8(self.piece).is_ok() {
            self.flush_piece().map_err(std::io::Error::other)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn call_ref(c: &NumberedCall) -> CallRef {
    CallRef {
        seq: c.call.seq,
        line: c.line,
        model: c.call.model.clone(),
        thread_id: c.call.thread_id.clone(),
        last_input: excerpt(&c.call.last_input(), EXCERPT),
    }
}

// ---- one pair -------------------------------------------------------------------------

pub fn compare_calls(a: &NumberedCall, b: &NumberedCall) -> PairDiff {
    let prompt = compare_prompts(&a.call, &b.call);
    let response = compare_responses(&a.call, &b.call);
    PairDiff {
        a: call_ref(a),
        b: call_ref(b),
        equal: prompt.equal && response.equal,
        prompt,
        response,
        timing: TimingDiff {
            ttft_ms: change(a.call.first_token_ms(), b.call.first_token_ms()),
            total_time_s: change(a.call.duration_s(), b.call.duration_s()),
        },
    }
}

fn change(a: Option<f64>, b: Option<f64>) -> Option<Change> {
    let (a, b) = (a?, b?);
    Some(Change { a, b, ratio: (a > 0.0).then(|| b / a) })
}

/// Messages as `asb serve` matches them: timestamps, UUIDs and billing-header values
/// normalised.
fn canonical_messages(c: &CallLine) -> Vec<Value> {
    match Normalizer::default().canonicalize(Value::Array(c.messages.clone())) {
        Value::Array(messages) => messages,
        _ => Vec::new(),
    }
}

fn compare_prompts(a: &CallLine, b: &CallLine) -> PromptDiff {
    let (ma, mb) = (canonical_messages(a), canonical_messages(b));
    let first_difference =
        (0..ma.len().max(mb.len())).find(|&i| ma.get(i) != mb.get(i)).map(|i| message_diff(i, ma.get(i), mb.get(i)));
    let fields = compare_fields(a, b);
    PromptDiff {
        equal: first_difference.is_none() && fields.is_empty(),
        messages_a: a.messages.len(),
        messages_b: b.messages.len(),
        first_difference,
        fields,
    }
}

fn message_diff(index: usize, a: Option<&Value>, b: Option<&Value>) -> MessageDiff {
    let role = |m: Option<&Value>| m.map(|m| message::role(m).to_string());
    let (ta, tb) = (a.map(message::text), b.map(message::text));
    let (at_char, ea, eb) = match (&ta, &tb) {
        (Some(x), Some(y)) if x != y => {
            let (at, ex, ey) = text_change(x, y);
            (Some(at), Some(ex), Some(ey))
        }
        _ => (None, ta.map(|t| excerpt(&t, EXCERPT)), tb.map(|t| excerpt(&t, EXCERPT))),
    };
    MessageDiff { index, role_a: role(a), role_b: role(b), a: ea, b: eb, at_char }
}

/// Where two texts first differ, and an excerpt of each around it: a little context before,
/// the differing middle, a little after (on one line, cut with `…`).
pub fn text_change(a: &str, b: &str) -> (usize, String, String) {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
    let max_suffix = x.len().min(y.len()) - prefix;
    let suffix = x.iter().rev().zip(y.iter().rev()).take(max_suffix).take_while(|(p, q)| p == q).count();
    let start = prefix.saturating_sub(CONTEXT);
    let show = |chars: &[char]| {
        let end = (chars.len() - suffix + CONTEXT / 2).min(chars.len());
        let mut text = String::new();
        if start > 0 {
            text.push('…');
        }
        text.push_str(&excerpt(&chars[start..end].iter().collect::<String>(), EXCERPT));
        if end < chars.len() && !text.ends_with('…') {
            text.push('…');
        }
        text
    };
    (prefix, show(&x), show(&y))
}

/// Model and request parameters: asb's fields, then the request body's other fields.
fn compare_fields(a: &CallLine, b: &CallLine) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut field = |path: &str, x: Value, y: Value| {
        if x != y {
            out.push(FieldChange {
                path: path.into(),
                a: leaf_diff::show(&Some(x), 40),
                b: leaf_diff::show(&Some(y), 40),
            });
        }
    };
    field("model", a.model.clone().into(), b.model.clone().into());
    field("max_tokens", a.max_tokens.into(), b.max_tokens.into());
    field("temperature", a.temperature.into(), b.temperature.into());
    field("stream", a.stream.into(), b.stream.into());
    let body = |c: &CallLine| {
        let mut body = Normalizer::default().canonicalize(c.request.as_ref()?.body.clone()?);
        if let Some(map) = body.as_object_mut() {
            map.retain(|k, _| !CONVERSATION_FIELDS.contains(&k.as_str()));
        }
        Some(body)
    };
    if let (Some(x), Some(y)) = (body(a), body(b)) {
        for d in leaf_diff::diff(&x, &y) {
            out.push(FieldChange {
                path: format!("request.body.{}", d.path),
                a: leaf_diff::show(&d.expected, 40),
                b: leaf_diff::show(&d.received, 40),
            });
        }
    }
    out
}

fn tool_calls(c: &CallLine) -> Vec<String> {
    c.result.iter().flat_map(|r| &r.tool_calls).map(|t| cut(&format!("{}({})", t.name, t.arguments), EXCERPT)).collect()
}

fn compare_responses(a: &CallLine, b: &CallLine) -> ResponseDiff {
    let (outcome_a, outcome_b) = (a.outcome_str(), b.outcome_str());
    let known = a.result.is_some() && b.result.is_some();
    let (ra, rb) = (a.result.as_ref(), b.result.as_ref());
    let text_equal = known.then(|| ra.map(|r| &r.text) == rb.map(|r| &r.text));
    let calls_of = |c: &CallLine| -> Vec<(String, String)> {
        c.result.iter().flat_map(|r| &r.tool_calls).map(|t| (t.name.clone(), t.arguments.clone())).collect()
    };
    let tool_calls_equal = known.then(|| calls_of(a) == calls_of(b));
    ResponseDiff {
        equal: outcome_a == outcome_b && text_equal != Some(false) && tool_calls_equal != Some(false),
        outcome_a: outcome_a.into(),
        outcome_b: outcome_b.into(),
        known,
        text_equal,
        tool_calls_a: tool_calls(a),
        tool_calls_b: tool_calls(b),
        tool_calls_equal,
        output_tokens_a: a.output_tokens(),
        output_tokens_b: b.output_tokens(),
    }
}

// ---- text -----------------------------------------------------------------------------

/// The human-readable report.
pub fn render(r: &Report) -> String {
    let mut out = render_head(&r.a, &r.b, r.by_thread);
    for t in &r.threads {
        let _ = writeln!(out);
        if r.by_thread {
            let _ = writeln!(out, "{}", thread_header(t));
        }
        for e in &t.entries {
            render_entry(&mut out, e);
        }
    }
    out.push_str(&render_summary(&r.summary));
    out
}

/// [`render`] of a walk, handed to `sink` piece by piece as the entries are computed.
pub fn render_walk(walk: &mut Walk, sink: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
    let mut out = render_head(&walk.file_a, &walk.file_b, walk.by_thread);
    for g in 0..walk.groups.len() {
        let steps = walk.steps(g);
        let _ = writeln!(out);
        if walk.by_thread {
            let (thread_a, thread_b) = walk.thread_ids(g);
            let in_a = steps.iter().filter(|s| !matches!(s, Step::OnlyB(_))).count();
            let in_b = steps.iter().filter(|s| !matches!(s, Step::OnlyA(_))).count();
            let _ = writeln!(out, "{}", thread_line(&thread_a, &thread_b, in_a, in_b));
        }
        for step in steps {
            render_entry(&mut out, &walk.entry(g, step)?);
            if out.len() >= PIECE {
                sink(&out)?;
                out.clear();
            }
        }
    }
    out.push_str(&render_summary(&walk.summary()));
    sink(&out)
}

fn render_head(a: &FileInfo, b: &FileInfo, by_thread: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "asb diff  A = {} ({})", a.path, plural(a.calls, "call"));
    let _ = writeln!(out, "          B = {} ({})", b.path, plural(b.calls, "call"));
    let how = if by_thread {
        "aligned thread by thread, in turn order"
    } else {
        "aligned in arrival order (not every call has a thread_id)"
    };
    let _ = writeln!(out, "{how}; = equal  ~ changed  - only in A  + only in B");
    out
}

fn render_summary(s: &Summary) -> String {
    format!(
        "\nsummary: {} pairs ({} equal, {} changed), {} only in A, {} only in B\n",
        s.pairs, s.equal, s.changed, s.only_a, s.only_b
    )
}

fn thread_header(t: &ThreadReport) -> String {
    let count = |kind: fn(&Entry) -> bool| t.entries.iter().filter(|e| kind(e)).count();
    let in_a = count(|e| !matches!(e, Entry::OnlyB(_)));
    let in_b = count(|e| !matches!(e, Entry::OnlyA(_)));
    thread_line(&t.thread_a, &t.thread_b, in_a, in_b)
}

fn thread_line(thread_a: &Option<String>, thread_b: &Option<String>, in_a: usize, in_b: usize) -> String {
    match (thread_a, thread_b) {
        (Some(a), Some(b)) if a == b => format!("thread {a} ({in_a} → {in_b} calls)"),
        (Some(a), Some(b)) => format!("thread {a} → {b} ({in_a} → {in_b} calls; first message differs)"),
        (Some(a), None) => format!("thread {a}: only in A ({})", plural(in_a, "call")),
        (None, Some(b)) => format!("thread {b}: only in B ({})", plural(in_b, "call")),
        (None, None) => "calls without thread".into(),
    }
}

fn render_entry(out: &mut String, e: &Entry) {
    match e {
        Entry::OnlyA(c) => {
            let _ = writeln!(out, "- #{} only in A  {}  {:?}", c.seq, c.model, c.last_input);
        }
        Entry::OnlyB(c) => {
            let _ = writeln!(out, "+ #{} only in B  {}  {:?}", c.seq, c.model, c.last_input);
        }
        Entry::Pair(p) => {
            let mark = if p.equal { '=' } else { '~' };
            let _ = writeln!(out, "{mark} #{} → #{}  {}  {:?}", p.a.seq, p.b.seq, p.b.model, p.b.last_input);
            if !p.prompt.equal {
                let _ = writeln!(out, "    prompt:   {}", prompt_line(&p.prompt));
            }
            if !p.response.equal {
                let _ = writeln!(out, "    response: {}", response_line(&p.response));
            }
            let _ = writeln!(out, "    timing:   {}", timing_line(&p.timing));
        }
    }
}

fn prompt_line(p: &PromptDiff) -> String {
    let mut parts = Vec::new();
    let delta = p.messages_b as i64 - p.messages_a as i64;
    if delta != 0 {
        let s = if delta.abs() == 1 { "" } else { "s" };
        parts.push(format!("{delta:+} message{s} ({} → {})", p.messages_a, p.messages_b));
    }
    if let Some(m) = &p.first_difference {
        parts.push(match (&m.a, &m.b, m.at_char) {
            (Some(a), Some(b), Some(at)) => format!(
                "message {} ({}) differs at char {at}: {a:?} → {b:?}",
                m.index,
                m.role_b.as_deref().unwrap_or("?")
            ),
            (Some(a), Some(b), None) => format!(
                "message {} role {} → {}: {a:?} → {b:?}",
                m.index,
                m.role_a.as_deref().unwrap_or("?"),
                m.role_b.as_deref().unwrap_or("?")
            ),
            (None, Some(b), _) => {
                format!("first new message {} ({}): {b:?}", m.index, m.role_b.as_deref().unwrap_or("?"))
            }
            (Some(a), None, _) => {
                format!("first dropped message {} ({}): {a:?}", m.index, m.role_a.as_deref().unwrap_or("?"))
            }
            (None, None, _) => format!("message {} differs", m.index),
        });
    }
    let shown: Vec<String> =
        p.fields.iter().take(FIELDS_SHOWN).map(|f| format!("{} {} → {}", f.path, f.a, f.b)).collect();
    if !shown.is_empty() {
        let more = p.fields.len().saturating_sub(FIELDS_SHOWN);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        parts.push(format!("{}{more}", shown.join(", ")));
    }
    parts.join("; ")
}

fn response_line(r: &ResponseDiff) -> String {
    let mut parts = Vec::new();
    if r.outcome_a != r.outcome_b {
        parts.push(format!("outcome {} → {}", r.outcome_a, r.outcome_b));
    }
    if r.text_equal == Some(false) {
        parts.push("text differs".into());
    }
    if r.tool_calls_equal == Some(false) {
        let list = |calls: &[String]| if calls.is_empty() { "none".to_string() } else { calls.join(", ") };
        parts.push(format!("tool calls {} → {}", list(&r.tool_calls_a), list(&r.tool_calls_b)));
    }
    parts.join("; ")
}

fn timing_line(t: &TimingDiff) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &t.ttft_ms {
        parts.push(format!("ttft {} → {} ({})", duration_ms(c.a), duration_ms(c.b), ratio(c.a, c.b)));
    }
    if let Some(c) = &t.total_time_s {
        parts.push(format!("total {:.3}s → {:.3}s ({})", c.a, c.b, ratio(c.a, c.b)));
    }
    if parts.is_empty() {
        return "not recorded".into();
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::line::{CallResult, HttpRequest, ToolCall};
    use serde_json::json;

    fn user(text: &str) -> Value {
        json!({"role": "user", "content": text})
    }

    fn numbered(seq: u64, thread: Option<&str>, turn: u64, messages: Vec<Value>) -> NumberedCall {
        NumberedCall {
            line: seq as usize,
            call: CallLine {
                seq,
                model: "m".into(),
                start_offset_ms: Some(seq as f64 * 100.0),
                thread_id: thread.map(str::to_string),
                thread_turn: Some(turn),
                messages,
                total_time_s: Some(0.1),
                result: Some(CallResult { text: "ok".into(), ..Default::default() }),
                ..Default::default()
            },
        }
    }

    fn session(changed: bool) -> Vec<NumberedCall> {
        let main1 = vec![user("List the files.")];
        let mut main2 = main1.clone();
        main2.extend([json!({"role": "assistant", "content": "a.txt"}), user("Count them.")]);
        let sub = if changed { "Summarise b.txt in one line" } else { "Summarise b.txt" };
        let mut calls = vec![
            numbered(1, Some("main"), 0, main1),
            numbered(2, Some("sub-a"), 0, vec![user("Summarise a.txt")]),
            numbered(3, Some(if changed { "sub-b2" } else { "sub-b" }), 0, vec![user(sub)]),
            numbered(4, Some("main"), 1, main2.clone()),
        ];
        if changed {
            let mut main3 = main2;
            main3.extend([json!({"role": "assistant", "content": "2"}), user("Thanks.")]);
            calls.push(numbered(5, Some("main"), 2, main3));
        }
        calls
    }

    #[test]
    fn a_recording_equals_itself() {
        let a = session(false);
        let r = compare(("a", &a), ("a", &a)).unwrap();
        assert!(r.by_thread);
        assert_eq!((r.summary.pairs, r.summary.equal, r.summary.only_a, r.summary.only_b), (4, 4, 0, 0));
        assert!(render(&r).contains("summary: 4 pairs (4 equal, 0 changed), 0 only in A, 0 only in B"));
    }

    #[test]
    fn extra_call_and_changed_prompt_are_found() {
        let (a, b) = (session(false), session(true));
        let r = compare(("a", &a), ("b", &b)).unwrap();
        assert_eq!((r.summary.pairs, r.summary.equal, r.summary.changed, r.summary.only_b), (4, 3, 1, 1));
        let text = render(&r);
        assert!(text.contains("thread sub-b → sub-b2"), "{text}");
        assert!(
            text.contains("message 0 (user) differs at char 15: \"Summarise b.txt\" → \"Summarise b.txt in one line\""),
            "{text}"
        );
        assert!(text.contains("+ #5 only in B  m  \"Thanks.\""), "{text}");
    }

    #[test]
    fn asb_lines_align_in_order_despite_an_insertion() {
        let strip = |mut calls: Vec<NumberedCall>| {
            for c in &mut calls {
                (c.call.thread_id, c.call.start_offset_ms, c.call.result) = (None, None, None);
            }
            calls
        };
        let a = strip(session(false));
        let mut b = strip(session(false));
        b.insert(1, numbered(9, None, 0, vec![user("an extra question")]));
        b[1].call.result = None;
        let r = compare(("a", &a), ("b", &b)).unwrap();
        assert!(!r.by_thread);
        assert_eq!((r.summary.equal, r.summary.changed, r.summary.only_b), (4, 0, 1), "{}", render(&r));
    }

    #[test]
    fn responses_and_parameters_compared() {
        let a = numbered(1, None, 0, vec![user("x")]);
        let mut b = a.clone();
        b.call.max_tokens = Some(10);
        b.call.result = Some(CallResult {
            tool_calls: vec![ToolCall { id: "z".into(), name: "Bash".into(), arguments: "{}".into() }],
            ..Default::default()
        });
        let p = compare_calls(&a, &b);
        assert!(!p.equal && !p.prompt.equal && !p.response.equal);
        assert_eq!(p.prompt.fields[0].path, "max_tokens");
        assert_eq!(response_line(&p.response), "text differs; tool calls none → Bash({})");
    }

    #[test]
    fn tool_ids_are_masked_in_signatures() {
        assert_eq!(
            mask_tool_ids(r#"{"tool_use_id": "toolu_019SwMTZ", "x": "call_ab-1 recall_x"}"#),
            r#"{"tool_use_id": "toolu_*", "x": "call_* recall_x"}"#
        );
        let mut a =
            numbered(1, None, 0, vec![json!({"role": "tool", "tool_call_id": "toolu_1", "content": "ok toolu_01A"})]);
        let b =
            numbered(1, None, 0, vec![json!({"role": "tool", "tool_call_id": "toolu_2", "content": "ok toolu_01B"})]);
        assert_eq!(signature(&a.call), signature(&b.call));
        a.call.messages[0]["content"] = json!("at 2026-01-01T00:00:00Z");
        assert_eq!(signature(&a.call).1, "at <date>");
    }

    #[test]
    fn volatile_values_do_not_make_a_change() {
        let system = |cch: &str| json!({"role": "system", "content": format!("x-anthropic-billing-header: cc_version=2.1; cch={cch};\nYou are Claude Code.")});
        let mut a = numbered(1, None, 0, vec![system("aaaaa"), user("at 2026-01-01T00:00:00Z")]);
        let mut b = numbered(1, None, 0, vec![system("bbbbb"), user("at 2026-02-02T10:00:00Z")]);
        a.call.request = Some(HttpRequest { body: Some(json!({"metadata": {"user_id": "u1"}})), ..Default::default() });
        b.call.request = Some(HttpRequest { body: Some(json!({"metadata": {"user_id": "u2"}})), ..Default::default() });
        assert!(compare_calls(&a, &b).prompt.equal);
        b.call.messages[1] = user("at 2026-02-02T10:00:00Z, please");
        let p = compare_calls(&a, &b).prompt;
        assert_eq!(p.first_difference.unwrap().b.as_deref(), Some("at <date>, please"));
    }

    #[test]
    fn text_changes_show_context() {
        let (at, a, b) =
            text_change("The quick brown fox jumps over the lazy dog", "The quick brown cat jumps over the lazy dog");
        assert_eq!(at, 16);
        assert_eq!((a.as_str(), b.as_str()), ("The quick brown fox jumps ove…", "The quick brown cat jumps ove…"));
        let long = "x".repeat(100);
        let (at, a, _) = text_change(&format!("{long}A"), &format!("{long}B"));
        assert_eq!((at, a.as_str()), (100, "…xxxxxxxxxxxxxxxxxxxxA"));
    }
}
