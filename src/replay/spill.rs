//! A big run's full per-request samples (and sessions), written to disk as they finish instead of held:
//! one record per sample ([`SpillRecord`]: its fields as raw bytes) in a private temporary file (mode 0600, named
//! `.asb-replay-spill-*.bin`, in the run's output directory or `$TMPDIR`), read back
//! once to write the run JSON's `requests` (and a CSV), and removed when the run's
//! results are dropped — at the end, after an interrupt, or on an error.
//!
//! Records are kept in arrival order, each one's length held beside it (4 B a sample), so
//! a read takes exactly the bytes that were written and a record cut short or garbled is
//! an error naming the file and the record. [`Spill::reader`] follows any order (the run
//! JSON lists requests in start order) through one buffered reader, seeking only when the
//! next record is not the one after (arrivals are nearly in start order).
//!
//! Measured cost (`perf record` of 20,000 spilled requests of 64 gaps, 2026-12-03): ≈ 0.6 µs
//! a request to write (0.2 µs encoding, the rest the copy into the file), ≈ 0.35 µs to
//! read back. As one JSON line each they were ≈ 2.4 µs and ≈ 2.7 µs, and the session
//! figures' passes over the session spill ≈ 5.5 µs a session: a spilled run cost ≈ 10–14 µs
//! of CPU a request more than a held one, now ≈ 1–5 µs (`bench/replay_memory.sh`'s A/B).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use tempfile::NamedTempFile;

use super::spill_record::SpillRecord;

/// Records of type `T` (requests, sessions), one after the other.
pub(crate) struct Spill<T> {
    file: NamedTempFile,
    out: Option<BufWriter<File>>,
    /// Byte length of each record, in arrival order.
    lengths: Vec<u32>,
    /// The record being encoded (one buffer for all of them).
    record: Vec<u8>,
    kind: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Spill<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spill({}, {} samples)", self.file.path().display(), self.lengths.len())
    }
}

impl<T: SpillRecord> Spill<T> {
    /// A new spill file in `dir` (the output's directory), else in `$TMPDIR`.
    pub(crate) fn create(dir: Option<&Path>) -> Result<Spill<T>> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".asb-replay-spill-").suffix(".bin");
        let file = match dir {
            Some(d) => builder.tempfile_in(if d.as_os_str().is_empty() { Path::new(".") } else { d }),
            None => builder.tempfile(),
        }
        .context("cannot create the run's spill file")?;
        let out = BufWriter::with_capacity(1 << 20, file.reopen().context("cannot open the run's spill file")?);
        Ok(Spill { file, out: Some(out), lengths: Vec::new(), record: Vec::new(), kind: std::marker::PhantomData })
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> PathBuf {
        self.file.path().to_path_buf()
    }

    pub(crate) fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Appends `sample` as one record.
    pub(crate) fn push(&mut self, sample: &T) -> Result<()> {
        let out = self.out.as_mut().ok_or_else(|| anyhow!("the spill file is closed"))?;
        self.record.clear();
        sample.encode(&mut self.record);
        let length = u32::try_from(self.record.len()).map_err(|_| anyhow!("a sample of over 4 GB"))?;
        out.write_all(&self.record)
            .with_context(|| format!("cannot write the spill file {}", self.file.path().display()))?;
        self.lengths.push(length);
        Ok(())
    }

    /// Flushes what was written; no more records after this.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush().with_context(|| format!("cannot write the spill file {}", self.file.path().display()))?;
        }
        Ok(())
    }

    /// The records in arrival order, read straight through (no index).
    pub(crate) fn lines(&self) -> Result<impl Iterator<Item = Result<T>> + '_> {
        let path = self.file.path();
        let file = self.file.reopen().with_context(|| format!("cannot read the spill file {}", path.display()))?;
        let mut input = BufReader::with_capacity(1 << 16, file);
        let mut record = Vec::new();
        let mut i = 0;
        Ok(std::iter::from_fn(move || {
            let &length = self.lengths.get(i)?;
            let read = read_record(&mut input, length, &mut record);
            let sample =
                read.and_then(|()| T::decode(&record)).with_context(|| format!("{}: record {i}", path.display()));
            i += 1;
            Some(sample)
        }))
    }

    /// A reader of the samples, in any order.
    pub(crate) fn reader(&self) -> Result<SpillReader<'_, T>> {
        let mut offsets = Vec::with_capacity(self.lengths.len());
        let mut at = 0u64;
        for &n in &self.lengths {
            offsets.push(at);
            at += u64::from(n);
        }
        let file =
            self.file.reopen().with_context(|| format!("cannot read the spill file {}", self.file.path().display()))?;
        Ok(SpillReader {
            spill: self,
            offsets,
            input: BufReader::with_capacity(1 << 20, file),
            position: Some(0),
            record: Vec::new(),
        })
    }
}

/// Reads the next record, of the `length` bytes it was written with, into `record` (so a
/// read never takes more than was written; a file cut short is an error).
fn read_record(input: &mut BufReader<File>, length: u32, record: &mut Vec<u8>) -> Result<()> {
    record.resize(length as usize, 0);
    input.read_exact(record).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => anyhow!("the file ends inside the record"),
        _ => anyhow!(e).context("cannot read the spill file"),
    })
}

/// Reads spilled samples by arrival index.
pub(crate) struct SpillReader<'a, T> {
    spill: &'a Spill<T>,
    offsets: Vec<u64>,
    input: BufReader<File>,
    /// The file position the buffered reader is at, when known.
    position: Option<u64>,
    record: Vec<u8>,
}

impl<T: SpillRecord> SpillReader<'_, T> {
    /// The record that arrived `i`-th.
    pub(crate) fn get(&mut self, i: usize) -> Result<T> {
        let path = self.spill.file.path();
        let offset = *self.offsets.get(i).ok_or_else(|| anyhow!("no spilled sample {i}"))?;
        if self.position != Some(offset) {
            let seek = match self.position {
                Some(at) => self.input.seek_relative(offset as i64 - at as i64),
                None => self.input.seek(SeekFrom::Start(offset)).map(|_| ()),
            };
            seek.with_context(|| format!("cannot read the spill file {}", path.display()))?;
            self.position = Some(offset);
        }
        let length = self.spill.lengths[i];
        let read = read_record(&mut self.input, length, &mut self.record);
        // Where the reader is now (unknown after a failed read: the next one seeks from the start).
        self.position = read.is_ok().then(|| offset + u64::from(length));
        read.and_then(|()| T::decode(&self.record)).with_context(|| format!("{}: sample {i}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::results::RequestSample;

    #[test]
    fn samples_read_back_in_any_order_and_the_file_is_private_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::<RequestSample>::create(Some(dir.path())).unwrap();
        for i in 0..1000u64 {
            let s = RequestSample {
                seq: i,
                task_id: format!("t{}", i % 3),
                itl_ms: vec![i as f64; (i % 5) as usize],
                ..Default::default()
            };
            spill.push(&s).unwrap();
        }
        spill.finish().unwrap();
        let path = spill.path();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let order: Vec<usize> = (0..1000).rev().chain([5, 6, 7, 3]).collect();
        let mut reader = spill.reader().unwrap();
        let seen: Vec<(u64, usize)> =
            order.iter().map(|&i| reader.get(i).map(|s| (s.seq, s.itl_ms.len())).unwrap()).collect();
        drop(reader);
        assert_eq!(seen.len(), 1004);
        assert_eq!(seen[0], (999, 4));
        assert_eq!(&seen[1000..], [(5, 0), (6, 1), (7, 2), (3, 3)]);
        drop(spill);
        assert!(!path.exists());
    }

    #[test]
    fn a_garbled_or_cut_record_is_an_error_naming_it_and_the_others_still_read() {
        use crate::replay::results::SessionSample;
        use std::io::{Seek, SeekFrom, Write};
        let mut spill = Spill::<SessionSample>::create(None).unwrap();
        for i in 0..3 {
            spill.push(&SessionSample { session: i, task_id: "tâche".into(), ..Default::default() }).unwrap();
        }
        spill.finish().unwrap();
        // Record 1's task id (after its 8-byte session number and 4-byte length) made not UTF-8.
        let mut file = std::fs::OpenOptions::new().write(true).open(spill.path()).unwrap();
        file.seek(SeekFrom::Start(u64::from(spill.lengths[0]) + 12)).unwrap();
        file.write_all(&[0xff]).unwrap();
        let read: Vec<Result<SessionSample>> = spill.lines().unwrap().collect();
        assert_eq!(read.len(), 3);
        let e = format!("{:#}", read[1].as_ref().unwrap_err());
        assert!(e.contains(".asb-replay-spill-") && e.contains("record 1") && e.contains("not UTF-8"), "{e}");
        assert_eq!((read[0].as_ref().unwrap().session, read[2].as_ref().unwrap().session), (0, 2));
        let mut reader = spill.reader().unwrap();
        assert!(format!("{:#}", reader.get(1).unwrap_err()).contains("sample 1"));
        assert_eq!(reader.get(2).unwrap().session, 2);
        assert_eq!(reader.get(0).unwrap().session, 0);
        drop(reader);
        // A file cut inside its last record.
        file.set_len(spill.lengths.iter().map(|&n| u64::from(n)).sum::<u64>() - 1).unwrap();
        let e = format!("{:#}", spill.lines().unwrap().nth(2).unwrap().unwrap_err());
        assert!(e.contains("record 2") && e.contains("ends inside the record"), "{e}");
        assert!(format!("{:#}", spill.reader().unwrap().get(2).unwrap_err()).contains("ends inside the record"));
    }
}
