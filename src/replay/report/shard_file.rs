//! A shard's run JSON as the merge reads it: its fields and its columns
//! ([`crate::replay::run_columns`]), read up to the line that opens `requests`. The rest —
//! every request and session as a JSON row, nine tenths of the file — stays on disk, and is
//! read row by row only when the merged output needs every request (`-o merged.json`,
//! `.csv`: [`ShardRows`]).
//!
//! This relies on the layout [`crate::replay::run_json`] writes: top-level keys indented
//! by two spaces, `columns` the last before `"requests": [`, one row per line. A file laid
//! out otherwise (an older asb, a file rewritten by another tool) is read whole instead
//! ([`read`] returns `None`), with the same figures, only slower.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::replay::results::{RequestSample, RunResults, SessionSample, RESULTS_VERSION};
use crate::replay::run_columns::{Decoded, RunColumns};

const COLUMNS_KEY: &str = "  \"columns\": {";
const REQUESTS_KEY: &str = "  \"requests\": [";
const SESSIONS_KEY: &str = "  \"sessions\": [";

/// A shard's fields and columns; its rows left in the file.
#[derive(Debug)]
pub(crate) struct ShardFile {
    /// Its fields, without requests or sessions.
    pub run: RunResults,
    pub columns: Decoded,
    pub rows: RowsOnDisk,
}

/// Where a shard's rows are in its file.
#[derive(Debug, Clone)]
pub(crate) struct RowsOnDisk {
    path: PathBuf,
    /// Where the line after `"requests": [` starts, and whether that array was empty
    /// (`[]` on the key's line).
    after_requests_key: u64,
    no_requests: bool,
}

/// Reads `path` as far as its columns. `Ok(None)`: the file is not laid out as this asb
/// writes it (read it whole).
pub(crate) fn read(path: &Path) -> Result<Option<ShardFile>> {
    let file = path.display();
    let cannot = |e: std::io::Error| anyhow!("cannot read {file}: {e}");
    let mut input = File::open(path).map_err(cannot)?;
    // Read in big blocks straight into one buffer (reserved, not touched, up to the file's
    // size), looking for the line that opens `requests`.
    let size = input.metadata().map_or(0, |m| m.len()).min(1 << 30) as usize;
    let mut head: Vec<u8> = Vec::with_capacity(size + 1);
    let marker = format!("\n{REQUESTS_KEY}");
    let finder = memchr::memmem::Finder::new(marker.as_bytes());
    let mut read_more = |head: &mut Vec<u8>| -> Result<usize> {
        let before = head.len();
        head.resize(before + READ_BLOCK, 0);
        let n = input.read(&mut head[before..]).map_err(cannot)?;
        head.truncate(before + n);
        Ok(n)
    };
    let (key_line, line_end) = loop {
        let searched = head.len().saturating_sub(marker.len());
        let n = read_more(&mut head)?;
        if let Some(m) = finder.find(&head[searched..]).map(|m| searched + m + 1) {
            // The key's whole line (read on until its newline).
            let end = loop {
                if let Some(end) = memchr::memchr(b'\n', &head[m..]) {
                    break m + end + 1;
                }
                if read_more(&mut head)? == 0 {
                    return Ok(None);
                }
            };
            break (m, end);
        }
        if n == 0 {
            return Ok(None);
        }
    };
    let no_requests = !head[key_line + REQUESTS_KEY.len()..line_end].trim_ascii().is_empty();
    let columns_marker = format!("\n{COLUMNS_KEY}\n");
    let Some(columns_at) = memchr::memmem::rfind(&head[..key_line], columns_marker.as_bytes()).map(|c| c + 1) else {
        return Ok(None);
    };
    if memchr::memmem::find(&head[columns_at + 1..key_line - 1], b"\n  \"").is_some() {
        return Ok(None); // a key between the columns and the requests: not our layout
    }
    let mut fields = head[..columns_at].trim_ascii_end().strip_suffix(b",").unwrap_or_default().to_vec();
    fields.extend_from_slice(b"\n}");
    let columns = head[columns_at + COLUMNS_KEY.len() - 1..key_line].trim_ascii_end();
    let columns = columns.strip_suffix(b",").unwrap_or(columns);
    let Ok(run) = serde_json::from_slice::<RunResults>(&fields) else { return Ok(None) };
    if run.results_version > RESULTS_VERSION {
        bail!(
            "{file} has results_version {}, newer than this asb reads ({RESULTS_VERSION}): upgrade asb to read it",
            run.results_version
        );
    }
    let columns: RunColumns = serde_json::from_slice(columns).map_err(|e| anyhow!("{file}: columns: {e}"))?;
    if columns.version() != crate::replay::run_columns::VERSION {
        return Ok(None);
    }
    let columns = columns.decode().with_context(|| format!("{file}"))?;
    let rows = RowsOnDisk { path: path.to_path_buf(), after_requests_key: line_end as u64, no_requests };
    Ok(Some(ShardFile { run, columns, rows }))
}

/// Bytes read at a time while looking for the rows.
const READ_BLOCK: usize = 8 << 20;

impl RowsOnDisk {
    /// Its request rows, one at a time, in the file's (start) order.
    pub(crate) fn requests(&self) -> Result<ShardRows<RequestSample>> {
        ShardRows::open(&self.path, self.after_requests_key, self.no_requests)
    }

    /// Its session rows, one at a time: the array after the requests'.
    pub(crate) fn sessions(&self) -> Result<ShardRows<SessionSample>> {
        let mut requests = self.requests()?;
        requests.skip_rows()?;
        let mut line = String::new();
        let at = requests.position;
        let mut input = requests.input;
        input.read_line(&mut line).map_err(|e| anyhow!("cannot read {}: {e}", self.path.display()))?;
        match line.trim_end().strip_prefix(SESSIONS_KEY) {
            Some(rest) => ShardRows::open(&self.path, at + line.len() as u64, !rest.is_empty()),
            None => bail!("{}: expected `sessions` after the requests, found {:?}", self.path.display(), line.trim()),
        }
    }
}

/// The rows of one top-level array of a run JSON, parsed one line at a time.
pub(crate) struct ShardRows<T> {
    path: PathBuf,
    input: BufReader<File>,
    /// Byte offset of the next line.
    position: u64,
    line: String,
    done: bool,
    kind: std::marker::PhantomData<fn() -> T>,
}

impl<T: serde::de::DeserializeOwned> ShardRows<T> {
    /// The rows from byte `at` on (the line after the array's key); `empty`: the key's
    /// line held the whole (empty) array.
    fn open(path: &Path, at: u64, empty: bool) -> Result<ShardRows<T>> {
        let cannot = |e: std::io::Error| anyhow!("cannot read {}: {e}", path.display());
        let mut input = BufReader::with_capacity(1 << 20, File::open(path).map_err(cannot)?);
        input.seek(SeekFrom::Start(at)).map_err(cannot)?;
        Ok(ShardRows {
            path: path.to_path_buf(),
            input,
            position: at,
            line: String::new(),
            done: empty,
            kind: std::marker::PhantomData,
        })
    }

    /// The next row's line and the byte it starts at, None after the array's last.
    fn next_line(&mut self) -> Result<Option<(u64, &str)>> {
        if self.done {
            return Ok(None);
        }
        self.line.clear();
        let at = self.position;
        let n =
            self.input.read_line(&mut self.line).map_err(|e| anyhow!("cannot read {}: {e}", self.path.display()))?;
        self.position += n as u64;
        if n == 0 {
            self.done = true;
            bail!("{}: the file ends inside an array of rows", self.path.display());
        }
        let row = self.line.trim().trim_end_matches(',');
        if row.starts_with(']') {
            self.done = true;
            return Ok(None);
        }
        Ok(Some((at, row)))
    }

    /// Past the array's last row, without parsing the rows.
    fn skip_rows(&mut self) -> Result<()> {
        while self.next_line()?.is_some() {}
        Ok(())
    }

    /// The next row, None after the array's last.
    pub(crate) fn next_row(&mut self) -> Result<Option<T>> {
        let Some((at, row)) = self.next_line()? else { return Ok(None) };
        let parsed = serde_json::from_str(row);
        parsed.map(Some).map_err(|e| anyhow!("{}: the row at byte {at}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(dir: &Path) -> (PathBuf, String) {
        let run = super::super::fixtures::sample_run();
        let mut out = Vec::new();
        crate::replay::run_json::write(&mut out, &run).unwrap();
        let path = dir.join("run.json");
        let text = String::from_utf8(out).unwrap();
        std::fs::write(&path, &text).unwrap();
        (path, text)
    }

    #[test]
    fn reads_up_to_the_rows_and_the_rows_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = written(dir.path());
        let whole = super::super::load(&path).unwrap();
        let shard = read(&path).unwrap().expect("asb's own layout");
        assert_eq!(shard.columns.rows.len(), whole.requests.len());
        assert!(shard.run.requests.is_empty(), "the rows are left on disk");
        let mut rows = shard.rows.requests().unwrap();
        let mut seqs = Vec::new();
        while let Some(r) = rows.next_row().unwrap() {
            seqs.push(r.seq);
        }
        assert_eq!(seqs, whole.requests.iter().map(|r| r.seq).collect::<Vec<_>>());
        let mut sessions = shard.rows.sessions().unwrap();
        assert!(sessions.next_row().unwrap().is_none(), "the fixture has no sessions");
    }

    #[test]
    fn another_layout_is_read_whole_and_a_broken_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (path, text) = written(dir.path());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        assert!(read(&path).unwrap().is_none(), "one line: not our layout");

        let (path, text) = written(dir.path());
        let start = text.find("\"rows\": [\n      \"").unwrap() + "\"rows\": [\n      \"".len();
        std::fs::write(&path, format!("{}!!{}", &text[..start], &text[start + 2..])).unwrap();
        let e = format!("{:#}", read(&path).unwrap_err());
        assert!(e.contains("run.json") && e.contains("columns.rows[0]: not base64"), "{e}");

        let (path, text) = written(dir.path());
        let cut = text.find("\n  \"sessions\"").unwrap() - 40;
        std::fs::write(&path, &text[..cut]).unwrap();
        let shard = read(&path).unwrap().expect("the head is whole");
        let mut rows = shard.rows.requests().unwrap();
        let e = loop {
            match rows.next_row() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("a cut row must not pass"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(e.contains("run.json") && (e.contains("the row at byte") || e.contains("ends inside")), "{e}");
    }
}
