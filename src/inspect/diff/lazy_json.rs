//! `asb diff --json`: the `Report`'s JSON written while the walk
//! computes its entries, handed to the output in pieces, so a large comparison is never
//! held whole.

use std::cell::RefCell;

use anyhow::Result;
use serde::Serialize;

use super::walk::Walk;
use super::PIECE;

/// The walk, shared by the lazy parts of the JSON report.
type Shared<'w, 's, 'f> = &'w RefCell<&'w mut Walk<'s, 'f>>;

/// `Report`'s JSON, its entries computed while they are written.
pub(super) struct LazyReport<'w, 's, 'f>(pub(super) Shared<'w, 's, 'f>);

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

/// One `ThreadReport`'s JSON.
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

/// An `io::Write` that hands what is written to a sink in pieces of about [`PIECE`] bytes.
pub(super) struct PieceWriter<'p> {
    pub(super) piece: &'p mut Vec<u8>,
    pub(super) sink: &'p mut dyn FnMut(&str) -> Result<()>,
}

impl PieceWriter<'_> {
    pub(super) fn flush_piece(&mut self) -> Result<()> {
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
