//! Which calls of two recordings are aligned with which: threads paired (same id; then
//! threads whose first call has the same model and system prompt, in arrival order), or the
//! whole files as one sequence when a file has no thread ids.

use std::collections::HashMap;
use std::rc::Rc;

use anyhow::Result;
use serde_json::Value;

use crate::recording::message;
use crate::recording::normalize::Normalizer;

use super::super::align::{align, Step};
use super::super::arrival;
use super::sketch::{Fetch, Sketch};

/// Calls of one agent thread in turn order (or a whole file, without thread ids).
pub(super) struct Group<'a> {
    pub(super) id: Option<Rc<str>>,
    /// Position among its file's threads, by first arrival.
    pub(super) order: usize,
    pub(super) calls: Vec<&'a Sketch>,
}

pub(super) fn in_arrival_order(calls: &[Sketch]) -> Vec<&Sketch> {
    arrival::schedule(calls).calls.iter().map(|p| &calls[p.index]).collect()
}

/// Threads in order of first arrival, each in turn order (`thread_turn` numbers a thread's
/// calls in arrival order; arrival order also holds when two recorder runs share a thread).
pub(super) fn threads(calls: &[Sketch]) -> Vec<Group<'_>> {
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

/// Identifies a thread whose id differs: its first call's model and system prompt
/// (normalised, as Claude Code's billing header changes from run to run).
fn thread_signature(g: &Group, fetch: &mut Fetch) -> Result<(String, String)> {
    let first = fetch(g.calls[0])?.call;
    let system: String = first.messages.iter().filter(|m| message::role(m) == "system").map(message::text).collect();
    let system = Normalizer::default().canonicalize(Value::String(system));
    Ok((first.model.clone(), system.as_str().unwrap_or_default().to_string()))
}

/// A pair of groups to align (either side may be missing).
pub(super) type GroupPair<'a> = (Option<Group<'a>>, Option<Group<'a>>);

/// Pairs of groups to align.
pub(super) fn pair_groups<'a>(
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
