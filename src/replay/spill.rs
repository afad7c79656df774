//! A big run's full per-request samples (and sessions), written to disk as they finish instead of held:
//! one compact JSON line per sample in a private temporary file (mode 0600, named
//! `.asb-replay-spill-*.jsonl`, in the run's output directory or `$TMPDIR`), read back
//! once to write the run JSON's `requests` (and a CSV), and removed when the run's
//! results are dropped — at the end, after an interrupt, or on an error.
//!
//! Lines are kept in arrival order; [`Spill::reader`] follows any order (the run JSON lists
//! requests in start order) through one buffered reader, seeking only when the next line
//! is not the one after (arrivals are nearly in start order). Measured cost: ≈ 1.5 µs a
//! sample to write, ≈ 2 µs to read back (one-token samples, 900 bytes a line).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use tempfile::NamedTempFile;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Records of type `T` (requests, sessions), one JSON line each.
pub(crate) struct Spill<T> {
    file: NamedTempFile,
    out: Option<BufWriter<File>>,
    /// Byte length of each line (newline included), in arrival order.
    lengths: Vec<u32>,
    kind: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Spill<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spill({}, {} samples)", self.file.path().display(), self.lengths.len())
    }
}

impl<T: Serialize + DeserializeOwned> Spill<T> {
    /// A new spill file in `dir` (the output's directory), else in `$TMPDIR`.
    pub(crate) fn create(dir: Option<&Path>) -> Result<Spill<T>> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".asb-replay-spill-").suffix(".jsonl");
        let file = match dir {
            Some(d) => builder.tempfile_in(if d.as_os_str().is_empty() { Path::new(".") } else { d }),
            None => builder.tempfile(),
        }
        .context("cannot create the run's spill file")?;
        let out = BufWriter::with_capacity(1 << 20, file.reopen().context("cannot open the run's spill file")?);
        Ok(Spill { file, out: Some(out), lengths: Vec::new(), kind: std::marker::PhantomData })
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> PathBuf {
        self.file.path().to_path_buf()
    }

    pub(crate) fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Appends `sample` as one line.
    pub(crate) fn push(&mut self, sample: &T) -> Result<()> {
        let out = self.out.as_mut().ok_or_else(|| anyhow!("the spill file is closed"))?;
        let mut line = serde_json::to_vec(sample)?;
        line.push(b'\n');
        out.write_all(&line).with_context(|| format!("cannot write the spill file {}", self.file.path().display()))?;
        self.lengths.push(u32::try_from(line.len()).map_err(|_| anyhow!("a sample of over 4 GB"))?);
        Ok(())
    }

    /// Flushes what was written; no more lines after this.
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
        let mut line = Vec::new();
        let mut i = 0;
        Ok(std::iter::from_fn(move || {
            if i == self.lengths.len() {
                return None;
            }
            line.clear();
            let read = input.read_until(b'\n', &mut line);
            let record = match read {
                Ok(0) => Err(anyhow!("{}: ends before record {i}", path.display())),
                Ok(_) => serde_json::from_slice(&line).with_context(|| format!("{}: record {i}", path.display())),
                Err(e) => Err(anyhow!(e)).with_context(|| format!("cannot read the spill file {}", path.display())),
            };
            i += 1;
            Some(record)
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
            position: 0,
            line: Vec::new(),
        })
    }
}

/// Reads spilled samples by arrival index.
pub(crate) struct SpillReader<'a, T> {
    spill: &'a Spill<T>,
    offsets: Vec<u64>,
    input: BufReader<File>,
    position: u64,
    line: Vec<u8>,
}

impl<T: DeserializeOwned> SpillReader<'_, T> {
    /// The record that arrived `i`-th.
    pub(crate) fn get(&mut self, i: usize) -> Result<T> {
        let path = self.spill.file.path();
        let offset = *self.offsets.get(i).ok_or_else(|| anyhow!("no spilled sample {i}"))?;
        if offset != self.position {
            self.input
                .seek_relative(offset as i64 - self.position as i64)
                .with_context(|| format!("cannot read the spill file {}", path.display()))?;
        }
        self.line.clear();
        let n = self
            .input
            .read_until(b'\n', &mut self.line)
            .with_context(|| format!("cannot read the spill file {}", path.display()))?;
        self.position = offset + n as u64;
        serde_json::from_slice(&self.line).with_context(|| format!("{}: sample {i}", path.display()))
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
}
