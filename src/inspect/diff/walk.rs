//! The comparison of two recordings, walked group pair by group pair and step by step:
//! each entry's two calls are read and compared when the walk reaches it. `asb diff` writes
//! each entry out as it comes; in tests, `compare` walks it all into a `Report`.

use anyhow::{anyhow, Result};

#[cfg(test)]
use crate::recording::reader::NumberedCall;

use super::super::align::{align, Step};
use super::compare::{call_ref, compare_calls};
use super::pairing::{in_arrival_order, pair_groups, threads, Group, GroupPair};
use super::report::{Entry, FileInfo, Summary};
#[cfg(test)]
use super::report::{Report, ThreadReport};
#[cfg(test)]
use super::sketch::{sketch, Strings};
use super::sketch::{Fetch, Sketch};

/// The whole comparison of two recordings in memory.
#[cfg(test)]
pub(crate) fn compare(a: (&str, &[NumberedCall]), b: (&str, &[NumberedCall])) -> Result<Report> {
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
#[cfg(test)]
fn compare_sketches<'s, 'f>(a: Side<'s, 'f>, b: Side<'s, 'f>) -> Result<Report> {
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
pub(crate) struct Walk<'s, 'f> {
    pub(super) file_a: FileInfo,
    pub(super) file_b: FileInfo,
    pub(super) by_thread: bool,
    pub(super) groups: Vec<GroupPair<'s>>,
    pub(super) fetch_a: &'s mut Fetch<'f>,
    pub(super) fetch_b: &'s mut Fetch<'f>,
    pub(super) counts: Summary,
}

impl<'s, 'f> Walk<'s, 'f> {
    pub(crate) fn new(a: Side<'s, 'f>, b: Side<'s, 'f>) -> Result<Self> {
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
    pub(super) fn calls(&self, g: usize) -> (&[&'s Sketch], &[&'s Sketch]) {
        fn of<'g, 's>(g: &'g Option<Group<'s>>) -> &'g [&'s Sketch] {
            g.as_ref().map(|g| g.calls.as_slice()).unwrap_or_default()
        }
        (of(&self.groups[g].0), of(&self.groups[g].1))
    }

    pub(super) fn thread_ids(&self, g: usize) -> (Option<String>, Option<String>) {
        let id = |g: &Option<Group>| g.as_ref().and_then(|g| g.id.as_deref()).map(str::to_string);
        (id(&self.groups[g].0), id(&self.groups[g].1))
    }

    /// The alignment of group pair `g`.
    pub(super) fn steps(&self, g: usize) -> Vec<Step> {
        let (a_calls, b_calls) = self.calls(g);
        let sig_a: Vec<u64> = a_calls.iter().map(|c| c.signature).collect();
        let sig_b: Vec<u64> = b_calls.iter().map(|c| c.signature).collect();
        align(&sig_a, &sig_b, true)
    }

    /// One entry of group pair `g`, its calls read; counted in the summary.
    pub(super) fn entry(&mut self, g: usize, step: Step) -> Result<Entry> {
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
    pub(super) fn summary(&self) -> Summary {
        let c = &self.counts;
        Summary { pairs: c.equal + c.changed, equal: c.equal, changed: c.changed, only_a: c.only_a, only_b: c.only_b }
    }
}
