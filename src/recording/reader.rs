//! Reads recordings (ours, format v1, and asb's) line by line. Every problem names the
//! file and line and says why; nothing is skipped silently.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::line::{CallLine, FORMAT_VERSION};

/// A problem with one line of a recording.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}:{line}: {reason}", path.display())]
pub struct LineError {
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read recording {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Line(#[from] LineError),
}

/// A call with the line it came from.
#[derive(Debug, Clone)]
pub struct NumberedCall {
    pub line: usize,
    pub call: CallLine,
}

/// Reads every line; returns the calls that parsed and the problems of those that did not.
pub fn read_lenient(path: &Path) -> Result<(Vec<NumberedCall>, Vec<LineError>), ReadError> {
    let (mut calls, mut problems) = (Vec::new(), Vec::new());
    for_each_line(path, |result| match result {
        Ok(call) => calls.push(call),
        Err(problem) => problems.push(problem),
    })?;
    Ok((calls, problems))
}

/// Streams the lines of a recording to `visit`, one at a time, so a caller that keeps only
/// part of each line never holds the whole file parsed.
pub fn for_each_line(path: &Path, mut visit: impl FnMut(Result<NumberedCall, LineError>)) -> Result<(), ReadError> {
    for_each_raw_line(path, |number, bytes| match parse_line(bytes) {
        Ok(None) => {}
        Ok(Some(call)) => visit(Ok(NumberedCall { line: number, call })),
        Err(reason) => visit(Err(line_error(path, number, bytes, reason))),
    })
}

/// Streams the raw bytes of every line (with its newline, if it has one) and its 1-based
/// number, for callers that parse lines their own way.
pub fn for_each_raw_line(path: &Path, mut visit: impl FnMut(usize, &[u8])) -> Result<(), ReadError> {
    let io_err = |source| ReadError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io_err)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        visit(number, &buf);
    }
}

/// The error for a line that did not parse, with a hint when it is a last line cut short.
pub fn line_error(path: &Path, number: usize, bytes: &[u8], reason: String) -> LineError {
    let reason = if bytes.last() == Some(&b'\n') {
        reason
    } else {
        format!("{reason} (the last line has no newline: was the recorder stopped mid-write?)")
    };
    LineError { path: path.to_path_buf(), line: number, reason }
}

/// Reads every line; the first problem is an error.
pub fn read(path: &Path) -> Result<Vec<CallLine>, ReadError> {
    let (calls, problems) = read_lenient(path)?;
    if let Some(first) = problems.into_iter().next() {
        return Err(first.into());
    }
    Ok(calls.into_iter().map(|c| c.call).collect())
}

/// Parses one line; blank lines are `None`.
pub fn parse_line(bytes: &[u8]) -> Result<Option<CallLine>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err("a recording line must be a JSON object".into());
    }
    if let Some(v) = value.get("format_version") {
        match v.as_u64() {
            Some(n) if n <= FORMAT_VERSION as u64 => {}
            Some(n) => {
                return Err(format!(
                    "unknown recording format version {n}: this asb reads version {FORMAT_VERSION} and asb's own lines; upgrade asb"
                ))
            }
            None => return Err(format!("format_version must be a number, got {v}")),
        }
    }
    let call: CallLine = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        format!("field `{path}`: {}", e.inner())
    })?;
    Ok(Some(call))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_asb_lines_with_defaults() {
        let f = write("{\"seq\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"model\": \"m\"}\n\n");
        let calls = read(f.path()).unwrap();
        assert_eq!(calls.len(), 1);
        assert!(calls[0].stream, "asb's loader defaults stream to true");
        assert_eq!(calls[0].format_version, None);
    }

    #[test]
    fn problems_name_file_line_and_field() {
        let f = write("{\"seq\": 1}\n{\"seq\": \"two\"}\nnot json\n[1]\n{\"format_version\": 9}\n{\"seq\": 3");
        let (calls, problems) = read_lenient(f.path()).unwrap();
        assert_eq!(calls.len(), 1);
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        assert!(problems[0].reason.contains("field `seq`"), "{}", problems[0].reason);
        assert!(problems[1].reason.contains("not valid JSON"));
        assert!(problems[3].reason.contains("unknown recording format version 9"));
        assert!(problems[4].reason.contains("no newline"));
        let msg = read(f.path()).unwrap_err().to_string();
        assert!(msg.starts_with(&format!("{}:2: ", f.path().display())), "{msg}");
    }

    #[test]
    fn asb_fixtures_all_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/asb");
        let Ok(dirs) = std::fs::read_dir(&root) else {
            return;
        };
        let mut seen = 0;
        for dir in dirs.flatten() {
            for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
                if file.path().extension().is_some_and(|e| e == "jsonl") {
                    let calls = read(&file.path()).unwrap();
                    assert!(!calls.is_empty());
                    seen += 1;
                }
            }
        }
        assert!(seen >= 10, "expected the asb fixtures beside the repo, found {seen}");
    }
}
