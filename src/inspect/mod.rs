//! Looking inside recordings: `asb inspect`, `asb timeline`, `asb validate` and `asb diff`.
//!
//! A recording is the record of what an agent asked and what it got back, with real arrival
//! offsets and first-token times. These commands answer the questions people ask of one
//! before replaying or serving it: what is in it (inspect), what ran when and what
//! overlapped (timeline), is it sound and free of credentials (validate), and what changed
//! between two sessions (diff). They only read; everything goes through
//! [`crate::recording::reader`], so the lines of AgenticSwarmBench (the original asb) (no
//! `format_version`) work everywhere, showing what such a line knows.
//!
//! * [`summary`] — `asb inspect`: counts, tokens, latency percentiles, tools, errors, threads;
//! * [`timeline`] — `asb timeline`: an ASCII waterfall of the calls at their real offsets;
//! * [`validate`] — `asb validate`: schema, v1 consistency and a scan for leaked secrets;
//! * [`diff`] — `asb diff`: two recordings aligned call by call;
//! * [`arrival`] — when each call ran (what a call says is read by [`crate::recording::line::CallLine`]);
//! * [`facts`] — the little of each call `inspect` and `timeline` keep (lines stream by);
//! * [`align`] — the alignment of two call sequences.
//!
//! Numbers and texts are spelled by [`crate::display`]; output goes through [`crate::output`].

pub(crate) mod align;
pub(crate) mod arrival;
pub(crate) mod diff;
pub(crate) mod facts;
pub(crate) mod summary;
pub(crate) mod timeline;
pub(crate) mod validate;

use std::path::Path;

use anyhow::{anyhow, Result};

use crate::recording::reader::{for_each_line_at, LineError, NumberedCall};

/// What `keep` keeps of every call of a recording (given with the byte offset of its line),
/// the lines streaming by: a caller that keeps a little of each call never holds the file
/// parsed. The first bad line is an error naming the file and line (with a pointer to
/// `asb validate` when there are more).
pub(crate) fn load_with<T>(path: &Path, mut keep: impl FnMut(u64, NumberedCall) -> T) -> Result<Vec<T>> {
    let (mut kept, mut first_problem, mut problems): (Vec<T>, Option<LineError>, usize) = (Vec::new(), None, 0);
    for_each_line_at(path, |offset, result| match result {
        Ok(call) if first_problem.is_none() => kept.push(keep(offset, call)),
        Ok(_) => {}
        Err(problem) => {
            problems += 1;
            first_problem.get_or_insert(problem);
        }
    })
    .map_err(|e| anyhow!("{e}"))?;
    match first_problem {
        None => Ok(kept),
        Some(first) if problems == 1 => Err(anyhow!("{first}")),
        Some(first) => {
            Err(anyhow!("{first} (and {} more bad lines: `asb validate {}` lists them)", problems - 1, path.display()))
        }
    }
}
