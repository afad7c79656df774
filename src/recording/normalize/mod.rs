//! Request normalisation: what of a request body is volatile between two runs of the same
//! agent session, and the canonical form with it left out. `asb serve` matches requests by
//! it (its key hashes the canonical text), and `asb diff` compares two sessions' calls
//! through it; both see the same request as the same.
//!
//! Volatile parts, by default (what changes between two runs of the same agent session):
//! * ignore paths: `metadata.user_id` (Claude Code's device and session ids);
//!   `prompt_cache_key` and `client_metadata` (Codex CLI's conversation id, and its turn,
//!   window and installation ids and the turn's start time, new on every run);
//! * value presets, applied to every string (`presets.rs`): ISO-8601 timestamps and dates,
//!   UUIDs, the `cc_version=…`/`cch=…` values of Claude Code's `x-anthropic-billing-header`,
//!   and the machine-specific paths in Claude Code's system prompt (the home directory and
//!   project slug of `…/.claude/projects/<slug>/`, the `Primary working directory:`), and
//!   the date in opencode's `Today's date: Thu Dec 03 2026`, so a session recorded on one
//!   machine and day is served on another;
//! * more ignore paths with `--ignore a.b.c` (`*` matches any key or index).
//!
//! Two ways to the canonical form: [`Normalizer::canonicalize`] on a parsed `Value`, and
//! [`Normalizer::canonical_text_of`] straight from the JSON bytes (`canonical.rs`), the same
//! text without building a `Value`.

mod canonical;
mod canonical_scan;
mod canonical_visitor;
mod presets;
mod scratch;
#[cfg(test)]
mod test_json;

use serde_json::Value;

use presets::normalize_string;

/// What the canonical form leaves out or normalises.
#[derive(Debug, Clone)]
pub(crate) struct Normalizer {
    ignore: Vec<Vec<String>>,
    presets: bool,
    /// 0..ignore.len(): every ignore path, as the canonical writer starts with them.
    all_paths: Vec<u32>,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(&[], true)
    }
}

impl Normalizer {
    /// `extra_ignore`: dotted paths (`metadata.user_id`, `messages.*.id`); `presets`: the
    /// value presets above.
    pub(crate) fn new(extra_ignore: &[String], presets: bool) -> Self {
        let mut ignore: Vec<Vec<String>> =
            [["metadata", "user_id"].as_slice(), &["prompt_cache_key"], &["client_metadata"]]
                .iter()
                .map(|path| path.iter().map(|s| s.to_string()).collect())
                .collect();
        ignore.extend(extra_ignore.iter().map(|p| p.split('.').map(str::to_string).collect()));
        let all_paths = (0..ignore.len() as u32).collect();
        Normalizer { ignore, presets, all_paths }
    }

    /// The canonical body: ignored paths removed, presets applied.
    pub(crate) fn canonicalize(&self, mut v: Value) -> Value {
        for path in &self.ignore {
            remove_path(&mut v, path);
        }
        if self.presets {
            apply_presets(&mut v);
        }
        v
    }

    /// The ignore paths of `live` (indices into `self.ignore`) that go on through `step` at
    /// `depth`, and whether one of them ends there (the value is left out). Allocates only
    /// while a path matches.
    fn follow(&self, live: &[u32], depth: usize, step: Step) -> (Vec<u32>, bool) {
        let mut next = Vec::new();
        let mut ends = false;
        for &i in live {
            let path = &self.ignore[i as usize];
            let Some(segment) = path.get(depth) else { continue };
            let matches = segment == "*"
                || match step {
                    Step::Key(k) => segment == k,
                    Step::Index(n) => segment.parse::<usize>() == Ok(n),
                };
            if matches {
                if path.len() == depth + 1 {
                    ends = true;
                } else {
                    next.push(i);
                }
            }
        }
        (next, ends)
    }
}

/// One step down a JSON document: into an object's key or an array's index.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    match v {
        Value::Object(map) => {
            if rest.is_empty() {
                if first == "*" {
                    map.clear();
                } else {
                    map.remove(first);
                }
            } else if first == "*" {
                map.values_mut().for_each(|c| remove_path(c, rest));
            } else if let Some(child) = map.get_mut(first) {
                remove_path(child, rest);
            }
        }
        Value::Array(items) => {
            if first == "*" {
                if rest.is_empty() {
                    items.clear();
                } else {
                    items.iter_mut().for_each(|c| remove_path(c, rest));
                }
            } else if let Ok(i) = first.parse::<usize>() {
                if rest.is_empty() {
                    if i < items.len() {
                        items.remove(i);
                    }
                } else if let Some(child) = items.get_mut(i) {
                    remove_path(child, rest);
                }
            }
        }
        _ => {}
    }
}

fn apply_presets(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(n) = normalize_string(s) {
                *s = n;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(apply_presets),
        Value::Object(map) => map.values_mut().for_each(apply_presets),
        _ => {}
    }
}

/// serde_json's compact form of a string or scalar. Writing these to memory cannot fail
/// (only maps with non-string keys can, and a `Value` has none).
fn write_compact<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(out, v);
}
