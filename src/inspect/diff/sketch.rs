//! What `asb diff` keeps of each call while the files stream by: where to find it again,
//! when it arrived, its thread, and a hash of its signature (the model and the newest input,
//! with what changes from run to run masked), which is what calls are aligned by.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use anyhow::{anyhow, Result};
use serde_json::Value;

use crate::recording::line::CallLine;
use crate::recording::normalize::Normalizer;
use crate::recording::reader::{CallsAt, NumberedCall};

use super::super::arrival::Arrives;
use super::super::facts::MaybeF64;

/// What aligning keeps of a call.
#[derive(Debug, Clone)]
pub(crate) struct Sketch {
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
pub(crate) struct Strings(HashSet<Rc<str>>);

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

pub(crate) fn sketch(strings: &mut Strings, at: u64, c: &NumberedCall) -> Sketch {
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
pub(super) type Fetch<'f> = dyn FnMut(&Sketch) -> Result<NumberedCall> + 'f;

/// Reads a sketch's call again from its file.
pub(super) fn from_file(path: &std::path::Path) -> Result<impl FnMut(&Sketch) -> Result<NumberedCall>> {
    let mut calls = CallsAt::open(path).map_err(|e| anyhow!("{e}"))?;
    Ok(move |s: &Sketch| {
        let call = calls.call_at(s.at, s.line).map_err(|e| anyhow!("{e}"))?;
        Ok(NumberedCall { line: s.line, call })
    })
}

/// Identifies a call for alignment: the model and the newest input, with the values that
/// change from run to run of the same session masked (tool-call ids; timestamps and UUIDs
/// as `asb serve` normalises them).
pub(super) fn signature(c: &CallLine) -> (String, String) {
    let input = Normalizer::default().canonicalize(Value::String(mask_tool_ids(&c.last_input())));
    (c.model.clone(), input.as_str().unwrap_or_default().to_string())
}

/// `toolu_01ABC…` and `call_abc…` become `toolu_*` and `call_*`.
pub(crate) fn mask_tool_ids(text: &str) -> String {
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
