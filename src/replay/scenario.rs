//! What `-w` names, loaded into tasks of replayable requests.
//!
//! Accepted, as AgenticSwarmBench (the original asb) resolves them: a recording (`.jsonl`,
//! ours or its: one task named after the file), a scenario directory (`scenario.json` + one
//! recording per task), a standalone manifest (`.json`, recordings relative to it), and a
//! built-in (`builtin:NAME`, or a bare NAME that is not a path).
//!
//! A line of ours carries the request exactly as the client sent it (tools, system,
//! thinking, headers): that is what is replayed. An AgenticSwarmBench line has only
//! OpenAI-format `messages`, `max_tokens` and `temperature`: those are replayed. Lines that
//! cannot be replayed (no JSON body) are listed, never dropped silently.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::answer_checks::Check;
use super::builtin::{self, Builtin};
use crate::recording::line::CallLine;
use crate::recording::reader::{for_each_raw_line, parse_line};
use crate::wire::api::Route;
use crate::wire::Api;

#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub name: String,
    pub description: String,
    /// The path, or `builtin:NAME`.
    pub source: String,
    /// The model the scenario was recorded with, if the manifest says.
    pub model: Option<String>,
    /// Realistic cache mode refuses a shared prefix shorter than this (characters).
    pub min_lcp_length: Option<usize>,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub name: String,
    pub entries: Vec<Entry>,
    /// Recorded calls that cannot be replayed, with where and why.
    pub skipped: Vec<String>,
    /// The manifest's answer checks for this task (`evaluate`).
    pub checks: Vec<Check>,
}

/// One recorded call, ready to be turned into a request.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub seq: u64,
    /// Line in its recording, 1-based.
    pub line: usize,
    pub thread: Option<String>,
    /// The model recorded on the line.
    pub model: String,
    pub request: RecordedRequest,
    /// Prompt tokens the recording's server reported (for slicing).
    pub recorded_prompt_tokens: Option<u64>,
    /// When the call arrived and when its answer ended, ms from the recorder's start
    /// (`start_offset_ms`, + `timing.end_ms`): the session's think time lies between them.
    /// AgenticSwarmBench's lines have neither.
    pub recorded_span_ms: Option<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub(crate) enum RecordedRequest {
    /// Our recordings: the body exactly as the client sent it, and its headers (secrets
    /// already gone).
    Body { api: Api, body: Value, headers: Map<String, Value> },
    /// AgenticSwarmBench's recordings: OpenAI-format messages and two sampling fields.
    Messages { messages: Vec<Value>, max_tokens: Option<u64>, temperature: Option<f64> },
}

impl Scenario {
    pub(crate) fn requests(&self) -> usize {
        self.tasks.iter().map(|t| t.entries.len()).sum()
    }
}

#[derive(Debug, Deserialize)]
struct Manifest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    model: Option<String>,
    min_lcp_length: Option<usize>,
    #[serde(default)]
    tasks: Vec<ManifestTask>,
}

#[derive(Debug, Deserialize)]
struct ManifestTask {
    id: Option<String>,
    name: Option<String>,
    recording: Option<String>,
    /// AgenticSwarmBench's answer checks (`evaluate` directives).
    #[serde(default)]
    evaluate: Vec<Value>,
}

/// Where a manifest's recordings are read from.
enum Files {
    Dir(PathBuf),
    Builtin(&'static Builtin),
}

impl Files {
    /// The entries of recording `name` (and the lines skipped).
    fn entries(&self, name: &str) -> Result<(Vec<Entry>, Vec<String>)> {
        match self {
            Files::Dir(dir) => parse_recording_file(&dir.join(name)),
            Files::Builtin(b) => {
                let text = b.file(name).ok_or_else(|| anyhow!("built-in scenario {} has no file {name}", b.name))?;
                parse_recording(text.as_bytes(), &format!("builtin:{}/{name}", b.name))
            }
        }
    }
}

/// Loads what `-w` names; `task` keeps only the task with that id.
/// Only that task's recording is read, so a manifest naming a missing file still
/// replays its other tasks one by one.
pub(crate) fn load(spec: &str, task: Option<&str>) -> Result<Scenario> {
    let mut scenario = resolve(spec, task)?;
    if let Some(id) = task {
        let available = scenario.tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ");
        scenario.tasks.retain(|t| t.id == id);
        if scenario.tasks.is_empty() {
            bail!("task '{id}' not found in scenario '{}'. Available tasks: {available}", scenario.name);
        }
    }
    Ok(scenario)
}

fn resolve(spec: &str, task: Option<&str>) -> Result<Scenario> {
    if let Some(name) = spec.strip_prefix("builtin:") {
        return load_builtin(name, task);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        let manifest = path.join("scenario.json");
        if !manifest.is_file() {
            bail!(
                "scenario directory {} has no scenario.json manifest (a directory of recordings needs one: see docs/replay.md)",
                path.display()
            );
        }
        return load_manifest(&manifest, Files::Dir(path.to_path_buf()), path.display().to_string(), task);
    }
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "json") {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            return load_manifest(path, Files::Dir(dir), path.display().to_string(), task);
        }
        return load_recording(path);
    }
    if builtin::find(spec).is_some() {
        return load_builtin(spec, task);
    }
    bail!(
        "scenario '{spec}' not found: give a recording (.jsonl), a scenario directory, a manifest (.json), or a built-in ({})",
        builtin::names()
    )
}

fn load_builtin(name: &str, task: Option<&str>) -> Result<Scenario> {
    let b = builtin::find(name).ok_or_else(|| {
        anyhow!("no built-in scenario '{name}'; built-ins: {} (see `asb scenarios`)", builtin::names())
    })?;
    let manifest = b.file("scenario.json").ok_or_else(|| anyhow!("built-in {name} has no manifest"))?;
    let origin = format!("builtin:{name}/scenario.json");
    scenario_from_manifest(manifest, &origin, Files::Builtin(b), format!("builtin:{name}"), task)
}

/// A JSON file given as a scenario that is something else: a replay's own results, or any
/// object without the manifest's `tasks` (it would read as a scenario of no tasks).
fn not_a_manifest(value: &Value, origin: &str) -> Result<()> {
    let Some(object) = value.as_object() else {
        bail!("{origin}: a scenario manifest is a JSON object with a `tasks` array, not {}", kind_of(value));
    };
    if object.contains_key("results_version") || (object.contains_key("summary") && object.contains_key("requests")) {
        bail!(
            "{origin} is the result of a replay, not a scenario: replay a recording (.jsonl) or a scenario \
             manifest; to look at a result, `asb report -i {origin}`"
        );
    }
    match object.get("tasks") {
        Some(Value::Array(tasks)) if !tasks.is_empty() => Ok(()),
        Some(Value::Array(_)) => bail!("{origin}: the scenario manifest's `tasks` array is empty"),
        Some(other) => bail!("{origin}: `tasks` must be an array of tasks, not {}", kind_of(other)),
        None => {
            let keys: Vec<&str> = object.keys().map(String::as_str).take(8).collect();
            bail!(
                "{origin} is not a scenario manifest: it has no `tasks` array (its keys: {}); a recording is \
                 given as .jsonl",
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
            )
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn load_manifest(path: &Path, files: Files, source: String, task: Option<&str>) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read manifest {}", path.display()))?;
    scenario_from_manifest(&text, &path.display().to_string(), files, source, task)
}

fn scenario_from_manifest(
    text: &str,
    origin: &str,
    files: Files,
    source: String,
    only: Option<&str>,
) -> Result<Scenario> {
    let value: Value = serde_json::from_str(text).map_err(|e| anyhow!("{origin}: not valid JSON: {e}"))?;
    not_a_manifest(&value, origin)?;
    let manifest: Manifest = serde_path_to_error::deserialize(value)
        .map_err(|e| anyhow!("{origin}: field `{}`: {}", e.path(), e.inner()))?;
    let default_name = match &files {
        Files::Dir(dir) => dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        Files::Builtin(b) => b.name.to_string(),
    };
    let mut tasks = Vec::new();
    for (i, t) in manifest.tasks.iter().enumerate() {
        let recording = t
            .recording
            .as_deref()
            .ok_or_else(|| anyhow!("{origin}: task at index {i} is missing its required 'recording' field"))?;
        let stem = Path::new(recording).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let id = t.id.clone().unwrap_or_else(|| stem.clone());
        let (entries, skipped) =
            if only.is_none_or(|o| o == id) { files.entries(recording)? } else { (Vec::new(), Vec::new()) };
        let checks = t
            .evaluate
            .iter()
            .enumerate()
            .map(|(j, c)| Check::from_json(c, &format!("tasks[{i}].evaluate[{j}]")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("{origin}: {e}"))?;
        tasks.push(Task { id, name: t.name.clone().unwrap_or(stem), entries, skipped, checks });
    }
    Ok(Scenario {
        name: manifest.name.unwrap_or(default_name),
        description: manifest.description,
        source,
        model: manifest.model,
        min_lcp_length: manifest.min_lcp_length,
        tasks,
    })
}

/// A lone recording: one task, id `default` as in AgenticSwarmBench, named after the file.
fn load_recording(path: &Path) -> Result<Scenario> {
    let (entries, skipped) = parse_recording_file(path)?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Scenario {
        name: stem.clone(),
        description: String::new(),
        source: path.display().to_string(),
        model: None,
        min_lcp_length: None,
        tasks: vec![Task { id: "default".into(), name: stem, entries, skipped, checks: Vec::new() }],
    })
}

/// [`parse_recording`] of a file, its lines streamed through the recording reader (so each
/// is bounded by [`MAX_LINE_BYTES`](crate::recording::reader::MAX_LINE_BYTES)).
fn parse_recording_file(path: &Path) -> Result<(Vec<Entry>, Vec<String>)> {
    let (mut entries, mut skipped, mut problem) = (Vec::new(), Vec::new(), None);
    let origin = path.display().to_string();
    for_each_raw_line(path, |line, bytes| {
        if problem.is_some() {
            return;
        }
        let call = match bytes.map(|bytes| (bytes, parse_line(bytes))) {
            Ok((_, Ok(Some(call)))) => call,
            Ok((_, Ok(None))) => return,
            Ok((_, Err(reason))) => return problem = Some(format!("{origin}:{line}: {reason}")),
            Err(too_long) => return problem = Some(too_long.to_string()),
        };
        match entry(call, line) {
            Ok(e) => entries.push(e),
            Err(why) => skipped.push(format!("{origin}:{line}: {why}")),
        }
    })
    .map_err(|e| anyhow!("{e}"))?;
    match problem {
        Some(problem) => bail!("{problem}"),
        None => Ok((entries, skipped)),
    }
}

/// Every line of a recording, in file order. A malformed line is an error naming
/// `origin:line`; a well-formed line that cannot be replayed goes to the skipped list.
fn parse_recording(bytes: &[u8], origin: &str) -> Result<(Vec<Entry>, Vec<String>)> {
    let (mut entries, mut skipped) = (Vec::new(), Vec::new());
    for (i, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let call = match parse_line(raw) {
            Ok(Some(call)) => call,
            Ok(None) => continue,
            Err(reason) => bail!("{origin}:{line}: {reason}"),
        };
        match entry(call, line) {
            Ok(e) => entries.push(e),
            Err(why) => skipped.push(format!("{origin}:{line}: {why}")),
        }
    }
    Ok((entries, skipped))
}

fn entry(call: CallLine, line: usize) -> Result<Entry, String> {
    // Only the provider's own count: a usage reconstructed from content events knows
    // nothing of the prompt.
    let server_usage = call.usage.as_ref().filter(|u| u.source == "server");
    let recorded_prompt_tokens = server_usage.map(|u| u.input_tokens).or(call.prompt_tokens);
    let request = match call.request {
        Some(req) => {
            let Some(body @ Value::Object(_)) = req.body else {
                return Err("the recorded request has no JSON body to replay".into());
            };
            let Some(Route::Call(api)) = Route::of(&req.path) else {
                return Err(format!(
                    "{} is not an LLM call (replayable: /v1/messages, /v1/chat/completions)",
                    req.path
                ));
            };
            RecordedRequest::Body { api, body, headers: req.headers }
        }
        None => {
            if call.messages.is_empty() {
                return Err("the line has no messages".into());
            }
            RecordedRequest::Messages {
                messages: call.messages,
                max_tokens: call.max_tokens,
                temperature: call.temperature,
            }
        }
    };
    let recorded_span_ms = match (call.start_offset_ms, &call.timing) {
        (Some(start), Some(timing)) if start.is_finite() && start >= 0.0 && timing.end_ms.is_finite() => {
            Some((start, start + timing.end_ms.max(0.0)))
        }
        _ => None,
    };
    Ok(Entry {
        seq: call.seq,
        line,
        thread: call.thread_id,
        model: call.model,
        request,
        recorded_prompt_tokens,
        recorded_span_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/asb")
    }

    #[test]
    fn builtin_trivial_qa_loads_with_manifest_names() {
        let s = load("builtin:trivial-qa", None).unwrap();
        assert_eq!(s.name, "trivial-qa");
        assert_eq!(s.tasks.len(), 5);
        assert_eq!(s.tasks[0].id, "capital-of-france");
        assert_eq!(s.requests(), 5);
        let RecordedRequest::Messages { max_tokens, .. } = &s.tasks[0].entries[0].request else { panic!() };
        assert_eq!(*max_tokens, Some(256));
        // A bare name that is not a path is a built-in too, as in AgenticSwarmBench.
        assert_eq!(load("trivial-qa", Some("largest-planet")).unwrap().tasks.len(), 1);
    }

    #[test]
    fn unknown_task_and_scenario_say_what_exists() {
        let e = load("builtin:trivial-qa", Some("nope")).unwrap_err().to_string();
        assert!(e.contains("Available tasks: capital-of-france, largest-planet"), "{e}");
        let e = load("no/such/thing.jsonl", None).unwrap_err().to_string();
        assert!(e.contains("not found") && e.contains("trivial-qa"), "{e}");
    }

    #[test]
    fn asb_fixture_directories_load() {
        let dir = fixtures().join("cpp-builds-gemma-4-31b");
        if !dir.is_dir() {
            return;
        }
        let s = load(dir.to_str().unwrap(), None).unwrap();
        assert_eq!(s.min_lcp_length, Some(12000));
        assert_eq!(s.tasks.iter().map(|t| t.entries.len()).collect::<Vec<_>>(), vec![42, 8, 15]);
        let manifest = fixtures().join("trivial-qa/scenario.json");
        assert_eq!(load(manifest.to_str().unwrap(), None).unwrap().tasks.len(), 5);
        let one = fixtures().join("trivial-qa/boiling-point.jsonl");
        let s = load(one.to_str().unwrap(), None).unwrap();
        assert_eq!((s.name.as_str(), s.tasks[0].id.as_str()), ("boiling-point", "default"));
    }

    #[test]
    fn bad_lines_name_file_and_line_and_unreplayable_ones_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "{\"seq\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n\n{oops\n").unwrap();
        let e = load(path.to_str().unwrap(), None).unwrap_err().to_string();
        assert!(e.contains("r.jsonl:3: not valid JSON"), "{e}");
        std::fs::write(&path, b"{\"seq\":1,\"messages\":[]}\n{\"seq\":2,\"messages\":[{\"content\":\"h\xff\"}]}\n")
            .unwrap();
        let e = load(path.to_str().unwrap(), None).unwrap_err().to_string();
        assert!(e.contains("r.jsonl:2: not UTF-8"), "{e}");

        let ours = r#"{"format_version":1,"seq":1,"request":{"method":"POST","path":"/v1/messages?beta=true","headers":{},"body":{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}}}
{"format_version":1,"seq":2,"request":{"method":"POST","path":"/v1/messages","headers":{},"body_text":"not json"}}
"#;
        std::fs::write(&path, ours).unwrap();
        let s = load(path.to_str().unwrap(), None).unwrap();
        assert_eq!(s.tasks[0].entries.len(), 1);
        assert!(matches!(s.tasks[0].entries[0].request, RecordedRequest::Body { api: Api::Anthropic, .. }));
        assert_eq!(s.tasks[0].skipped.len(), 1);
        assert!(s.tasks[0].skipped[0].contains("r.jsonl:2: the recorded request has no JSON body"));
    }

    #[test]
    fn a_directory_without_manifest_or_a_task_without_recording_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path().to_str().unwrap(), None).unwrap_err().to_string();
        assert!(e.contains("no scenario.json"), "{e}");
        std::fs::write(dir.path().join("scenario.json"), r#"{"tasks":[{"id":"a"}]}"#).unwrap();
        let e = load(dir.path().to_str().unwrap(), None).unwrap_err().to_string();
        assert!(e.contains("task at index 0 is missing its required 'recording'"), "{e}");
    }
}
