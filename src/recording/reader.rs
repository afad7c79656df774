//! Reads recordings (ours, format v1, and those of AgenticSwarmBench, the original asb)
//! line by line. Every problem names the file and line and says why; nothing is skipped
//! silently. No line longer than [`MAX_LINE_BYTES`] is ever held, and [`for_each_line_at`]
//! streams: a command that keeps a little of each call (`asb inspect`, `timeline`,
//! `validate`, `diff`) never holds the file. A `.jsonl.gz` or `.jsonl.zst` recording (told
//! by its first bytes, [`super::compression`]) reads the same, decompressed as it streams,
//! with the same bounds and `FILE:LINE` problems (a damaged or torn stream is one, at the
//! line where it stops).

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::compression::{self, Codec};
use super::line::{CallLine, FORMAT_VERSION};

/// A problem with one line of a recording.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}:{line}: {reason}", path.display())]
pub(crate) struct LineError {
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("cannot read recording {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Line(#[from] LineError),
}

/// A call with the line it came from.
#[derive(Debug, Clone)]
pub(crate) struct NumberedCall {
    pub line: usize,
    pub call: CallLine,
}

/// Reads every line; returns the calls that parsed and the problems of those that did not.
/// Holds every call: for small files and tests (commands stream with [`for_each_line`]).
#[cfg(test)]
fn read_lenient(path: &Path) -> Result<(Vec<NumberedCall>, Vec<LineError>), ReadError> {
    let (mut calls, mut problems) = (Vec::new(), Vec::new());
    for_each_line(path, |result| match result {
        Ok(call) => calls.push(call),
        Err(problem) => problems.push(problem),
    })?;
    Ok((calls, problems))
}

/// Streams the lines of a recording to `visit`, one at a time, so a caller that keeps only
/// part of each line never holds the whole file parsed.
#[cfg(test)]
fn for_each_line(path: &Path, mut visit: impl FnMut(Result<NumberedCall, LineError>)) -> Result<(), ReadError> {
    for_each_line_at(path, |_, result| visit(result))
}

/// Streams the lines of a recording to `visit`, one at a time, with the byte offset where
/// each line starts (for [`CallsAt`]).
pub(crate) fn for_each_line_at(
    path: &Path,
    mut visit: impl FnMut(u64, Result<NumberedCall, LineError>),
) -> Result<(), ReadError> {
    let mut lines = RawLines::open(path)?;
    while let Some(RawLine { number, start, bytes }) = lines.next_line()? {
        match bytes.map(|bytes| (bytes, parse_line(bytes))) {
            Err(too_long) => visit(start, Err(too_long)),
            Ok((_, Ok(None))) => {}
            Ok((_, Ok(Some(call)))) => visit(start, Ok(NumberedCall { line: number, call })),
            Ok((bytes, Err(reason))) => visit(start, Err(line_error(path, number, bytes, reason))),
        }
    }
    Ok(())
}

/// Reads calls again at the offsets [`for_each_line_at`] gave: for commands that keep a
/// little of each call and go back for the whole line of the few they show.
pub(crate) struct CallsAt {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
}

impl CallsAt {
    /// A compressed recording is decompressed once into an unnamed temporary file (offsets
    /// are those of the decompressed lines), so each call is one seek away as for plain JSONL.
    pub(crate) fn open(path: &Path) -> Result<Self, ReadError> {
        let io_err = |source| ReadError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io_err)?;
        let mut decoded = compression::decode(file.try_clone().map_err(io_err)?).map_err(io_err)?;
        let file = match decoded.codec {
            Codec::Plain => file,
            codec => {
                let mut copy = unnamed_temp_file().map_err(io_err)?;
                std::io::copy(&mut decoded.reader, &mut copy).map_err(|e| ReadError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::other(compression::decode_error_reason(codec, &e)),
                })?;
                copy
            }
        };
        Ok(CallsAt { path: path.to_path_buf(), reader: BufReader::with_capacity(64 << 10, file), buf: Vec::new() })
    }

    /// The call on line `number`, which starts at byte `offset`.
    pub(crate) fn call_at(&mut self, offset: u64, number: usize) -> Result<CallLine, ReadError> {
        let io_err = |source| ReadError::Io { path: self.path.clone(), source };
        self.reader.seek(SeekFrom::Start(offset)).map_err(io_err)?;
        if self.buf.capacity() > KEEP_BUFFER_BYTES {
            self.buf = Vec::new();
        }
        self.buf.clear();
        let read = read_bounded_line(&mut self.reader, &mut self.buf, MAX_LINE_BYTES, true, &mut 0)
            .map_err(|source| ReadError::Io { path: self.path.clone(), source })?;
        let problem = |reason: String| LineError { path: self.path.clone(), line: number, reason };
        match read {
            BoundedLine::Line => match parse_line(&self.buf) {
                Ok(Some(call)) => Ok(call),
                Ok(None) => Err(problem("blank line where a call was (did the file change?)".into()).into()),
                Err(reason) => Err(line_error(&self.path, number, &self.buf, reason).into()),
            },
            BoundedLine::End => Err(problem("the file ends before this line (did it change?)".into()).into()),
            BoundedLine::TooLong { .. } => Err(problem(too_long_reason()).into()),
        }
    }
}

/// A file in the temporary directory that has no name (removed once open): it is gone when
/// it is closed, whatever happens to the process.
fn unnamed_temp_file() -> std::io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("asb-{}-{}.jsonl", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let path = std::env::temp_dir().join(name);
    let mut options = std::fs::OpenOptions::new();
    options.create_new(true).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

fn too_long_reason() -> String {
    format!("line longer than {} MiB (the longest line a reader holds)", MAX_LINE_BYTES >> 20)
}

/// The longest line a reader holds: 256 MiB, room for a call line whose request and
/// response each hold a 64 MiB body twice escaped. A longer line is a [`LineError`]
/// ("line longer than 256 MiB"); the reader skips to its newline without holding it (a
/// file that is not a regular file, `/dev/zero` say, stops there: its line may never end).
pub(crate) const MAX_LINE_BYTES: usize = 256 << 20;

/// A line held after reading is given back to the allocator above this size, so one long
/// line does not keep its buffer for the rest of the file.
const KEEP_BUFFER_BYTES: usize = 4 << 20;

/// Streams the raw bytes of every line (with its newline, if it has one) and its 1-based
/// number, for callers that parse lines their own way. A line longer than
/// [`MAX_LINE_BYTES`] comes as its [`LineError`], never held.
pub(crate) fn for_each_raw_line(
    path: &Path,
    mut visit: impl FnMut(usize, Result<&[u8], LineError>),
) -> Result<(), ReadError> {
    let mut lines = RawLines::open(path)?;
    while let Some(line) = lines.next_line()? {
        visit(line.number, line.bytes);
    }
    Ok(())
}

/// The call on line `number` of a recording (`None` past the end, or on a blank line).
pub(crate) fn call_at_line(path: &Path, number: usize) -> Result<Option<CallLine>, ReadError> {
    let mut lines = RawLines::open(path)?;
    while let Some(line) = lines.next_line()? {
        if line.number == number {
            let bytes = line.bytes?;
            return parse_line(bytes).map_err(|reason| line_error(path, number, bytes, reason).into());
        }
    }
    Ok(None)
}

/// The lines of a recording, one at a time, each at most [`MAX_LINE_BYTES`] long.
pub(crate) struct RawLines {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    codec: Codec,
    /// A regular file's over-long line is skipped to its end; another file's stops reading.
    regular: bool,
    buf: Vec<u8>,
    number: usize,
    done: bool,
    /// Byte offset of the next line.
    next_start: u64,
}

/// One line of [`RawLines`].
pub(crate) struct RawLine<'a> {
    /// 1-based.
    pub number: usize,
    /// Byte offset of its start.
    pub start: u64,
    /// Its bytes, with its newline if it has one, or why they are not held.
    pub bytes: Result<&'a [u8], LineError>,
}

impl RawLines {
    pub(crate) fn open(path: &Path) -> Result<Self, ReadError> {
        let io_err = |source| ReadError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io_err)?;
        let regular = file.metadata().map_err(io_err)?.is_file();
        let compression::Decoded { reader, codec } = compression::decode(file).map_err(io_err)?;
        Ok(RawLines {
            path: path.to_path_buf(),
            reader,
            codec,
            regular,
            buf: Vec::new(),
            number: 0,
            done: false,
            next_start: 0,
        })
    }

    /// The next line's number and bytes (with its newline, if it has one), or why it is
    /// not held; `None` at the end.
    pub(crate) fn next_line(&mut self) -> Result<Option<RawLine<'_>>, ReadError> {
        if self.done {
            return Ok(None);
        }
        if self.buf.capacity() > KEEP_BUFFER_BYTES {
            self.buf = Vec::new();
        }
        self.buf.clear();
        let start = self.next_start;
        let read =
            read_bounded_line(&mut self.reader, &mut self.buf, MAX_LINE_BYTES, self.regular, &mut self.next_start);
        self.number += 1;
        let number = self.number;
        let read = match (read, self.codec) {
            (Ok(read), _) => read,
            (Err(source), Codec::Plain) => return Err(ReadError::Io { path: self.path.clone(), source }),
            // A damaged compressed stream: a problem at the line where it stops, and the end.
            (Err(e), codec) => {
                self.done = true;
                let reason = compression::decode_error_reason(codec, &e);
                return Ok(Some(RawLine {
                    number,
                    start,
                    bytes: Err(LineError { path: self.path.clone(), line: number, reason }),
                }));
            }
        };
        match read {
            BoundedLine::End => {
                self.done = true;
                Ok(None)
            }
            BoundedLine::Line => Ok(Some(RawLine { number, start, bytes: Ok(&self.buf) })),
            BoundedLine::TooLong { ended } => {
                let mut reason = too_long_reason();
                if !ended {
                    reason.push_str("; not a regular file, so reading stopped there");
                    self.done = true;
                }
                let bytes = Err(LineError { path: self.path.clone(), line: number, reason });
                Ok(Some(RawLine { number, start, bytes }))
            }
        }
    }
}

/// What [`read_bounded_line`] read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BoundedLine {
    /// Nothing left.
    End,
    /// A line (in the buffer, with its newline if it has one).
    Line,
    /// A line longer than the limit, not held; `ended` when its newline or the end of the
    /// input was reached (a line of a non-regular file stops at the limit: it may not end).
    TooLong { ended: bool },
}

/// Reads one line into `buf` (with its newline), holding at most `limit` bytes of it besides
/// the newline. On a longer line the buffer is emptied and, with `skip_rest`, the rest of
/// the line read and dropped; without, reading stops at the limit. See [`BoundedLine`].
/// Adds the bytes it read to `consumed`.
fn read_bounded_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
    skip_rest: bool,
    consumed: &mut u64,
) -> std::io::Result<BoundedLine> {
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (too_long, buf.is_empty()) {
                (true, _) => BoundedLine::TooLong { ended: true },
                (false, true) => BoundedLine::End,
                (false, false) => BoundedLine::Line,
            });
        }
        let (take, ended) = match memchr::memchr(b'\n', available) {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let content = take - usize::from(ended);
        if !too_long && buf.len() + content > limit {
            too_long = true;
            *buf = Vec::new();
        }
        if !too_long {
            buf.extend_from_slice(&available[..take]);
        }
        reader.consume(take);
        *consumed += take as u64;
        if ended {
            return Ok(if too_long { BoundedLine::TooLong { ended: true } } else { BoundedLine::Line });
        }
        if too_long && !skip_rest {
            return Ok(BoundedLine::TooLong { ended: false });
        }
    }
}

/// The error for a line that did not parse, with a hint when it is a last line cut short.
pub(crate) fn line_error(path: &Path, number: usize, bytes: &[u8], reason: String) -> LineError {
    let reason = if bytes.last() == Some(&b'\n') {
        reason
    } else {
        format!("{reason} (the last line has no newline: was the recorder stopped mid-write?)")
    };
    LineError { path: path.to_path_buf(), line: number, reason }
}

/// Reads every line; the first problem is an error.
#[cfg(test)]
pub(crate) fn read(path: &Path) -> Result<Vec<CallLine>, ReadError> {
    let (calls, problems) = read_lenient(path)?;
    if let Some(first) = problems.into_iter().next() {
        return Err(first.into());
    }
    Ok(calls.into_iter().map(|c| c.call).collect())
}

/// Parses one line; blank lines are `None`.
pub(crate) fn parse_line(bytes: &[u8]) -> Result<Option<CallLine>, String> {
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
                    "unknown recording format version {n}: this asb reads versions up to {FORMAT_VERSION} and AgenticSwarmBench's lines; upgrade asb"
                ))
            }
            None => return Err(format!("format_version must be a number, got {v}")),
        }
    }
    let is_a_call = CALL_FIELDS.iter().any(|field| value.get(field).is_some());
    let call: CallLine = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        format!("field `{path}`: {}", e.inner())
    })?;
    if !is_a_call {
        // Every field of a line has a default: `{"foo": 1}` would read as an empty call.
        return Err(format!("not a recorded call (it has none of {})", CALL_FIELDS.join(", ")));
    }
    Ok(Some(call))
}

/// A recorded call has at least one of these: our lines have all but `messages` and `model`
/// optional, AgenticSwarmBench's have `messages` and `model`.
const CALL_FIELDS: [&str; 5] = ["request", "response", "messages", "model", "format_version"];

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
        let f = write(
            "{\"seq\": 1, \"model\": \"m\"}\n{\"seq\": \"two\"}\nnot json\n[1]\n{\"format_version\": 9}\n{\"seq\": 3",
        );
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
    fn a_json_object_with_no_call_field_is_not_a_call() {
        assert_eq!(
            parse_line(br#"{"foo": 1}"#).unwrap_err(),
            "not a recorded call (it has none of request, response, messages, model, format_version)"
        );
        assert!(parse_line(br#"{"seq": 1, "model": "m"}"#).is_ok_and(|c| c.is_some()));
        assert!(parse_line(br#"{"seq": "two"}"#).unwrap_err().starts_with("field `seq`"));
    }

    #[test]
    fn a_line_past_the_limit_is_skipped_not_held() {
        let text = b"{\"seq\":1}\n0123456789abcdef\n{\"seq\":3}";
        let mut reader = std::io::BufReader::with_capacity(4, &text[..]);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        loop {
            buf.clear();
            match read_bounded_line(&mut reader, &mut buf, 10, true, &mut 0).unwrap() {
                BoundedLine::End => break,
                other => got.push((other, String::from_utf8(buf.clone()).unwrap())),
            }
        }
        assert_eq!(
            got,
            vec![
                (BoundedLine::Line, "{\"seq\":1}\n".into()),
                (BoundedLine::TooLong { ended: true }, String::new()),
                (BoundedLine::Line, "{\"seq\":3}".into()),
            ]
        );
        // Without skipping (a device, a pipe), reading stops at the limit.
        let mut endless = std::io::BufReader::with_capacity(4, std::io::repeat(b'0'));
        buf.clear();
        assert_eq!(
            read_bounded_line(&mut endless, &mut buf, 10, false, &mut 0).unwrap(),
            BoundedLine::TooLong { ended: false }
        );
    }

    #[test]
    fn deep_nesting_is_a_line_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000) + "\n";
        let f = write(&format!("{{\"seq\":1,\"model\":\"m\"}}\n{deep}{}\n", "{\"a\":".repeat(100_000)));
        let (calls, problems) = read_lenient(f.path()).unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(problems.iter().map(|p| p.line).collect::<Vec<_>>(), vec![2, 3]);
        assert!(problems.iter().all(|p| p.reason.contains("recursion limit")), "{problems:?}");
    }

    #[test]
    fn a_device_without_newlines_ends_with_a_line_error() {
        // /dev/zero never ends: the first line stops at the limit.
        let path = Path::new("/dev/zero");
        if !path.exists() {
            return;
        }
        let mut problems = Vec::new();
        for_each_raw_line(path, |_, line| problems.extend(line.err())).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 1);
        assert!(problems[0].reason.starts_with("line longer than 256 MiB"), "{}", problems[0].reason);
        assert!(problems[0].reason.contains("not a regular file"), "{}", problems[0].reason);
    }

    #[test]
    fn asb_fixtures_all_parse() {
        // Other tools' recordings: $ASB_FIXTURES, default ../shared/fixtures (absent on a
        // clone with nothing beside it: said, then passed over).
        let fixtures = std::env::var_os("ASB_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
        let root = fixtures.join("asb");
        let Ok(dirs) = std::fs::read_dir(&root) else {
            eprintln!("skipped: AgenticSwarmBench fixtures not found at {} (set ASB_FIXTURES)", root.display());
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

    mod props {
        //! Arbitrary bytes through the readers: never a panic, every line accounted for.
        use super::*;
        use proptest::prelude::*;

        /// Bytes with JSON's and the schema's words over-represented.
        fn line_soup() -> impl Strategy<Value = Vec<u8>> {
            const WORDS: &[&str] = &[
                "{",
                "}",
                "[",
                "]",
                ":",
                ",",
                "\"",
                "\\",
                "\n",
                "\r",
                " ",
                "null",
                "true",
                "1",
                "-0.5e9",
                "\"seq\"",
                "\"format_version\"",
                "\"messages\"",
                "\"request\"",
                "\"response\"",
                "\"events\"",
                "\"usage\"",
                "\"timing\"",
                "\"outcome\"",
                "\"completed\"",
                "\"\\u00e9\"",
                "\u{e9}",
                "\u{1F600}",
            ];
            proptest::collection::vec(
                prop_oneof![
                    2 => any::<u8>().prop_map(|b| vec![b]),
                    3 => proptest::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec()),
                ],
                0..120,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any bytes: a call, a blank line, or a reason; never a panic.
            #[test]
            fn parse_line_never_panics(bytes in line_soup(), raw in proptest::collection::vec(any::<u8>(), 0..64)) {
                for input in [&bytes, &raw] {
                    if let Err(reason) = parse_line(input) {
                        prop_assert!(!reason.is_empty());
                    }
                }
            }

        }

        proptest! {
            // A file a case: fewer cases keep it near a second.
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// Any file: every line is visited once, in order, as a call or a FILE:LINE
            /// problem (blank lines aside).
            #[test]
            fn any_file_is_read_line_by_line(lines in proptest::collection::vec(line_soup(), 0..12), newline_at_end in any::<bool>()) {
                let mut content = lines.join(&b'\n');
                if newline_at_end {
                    content.push(b'\n');
                }
                let mut f = tempfile::NamedTempFile::new().unwrap();
                f.write_all(&content).unwrap();
                let mut seen = Vec::new();
                for_each_line(f.path(), |r| seen.push(r.map(|c| c.line).unwrap_or_else(|p| p.line))).unwrap();
                let expected: Vec<usize> = content
                    .split_inclusive(|&b| b == b'\n')
                    .enumerate()
                    .filter(|(_, l)| !std::str::from_utf8(l).is_ok_and(|t| t.trim().is_empty()))
                    .map(|(i, _)| i + 1)
                    .collect();
                prop_assert_eq!(seen, expected);
            }

        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Lines come back byte for byte whatever the buffer's size; a line over the
            /// limit comes back as too long, in its place.
            #[test]
            fn bounded_lines_whatever_the_buffer(
                content in proptest::collection::vec(prop_oneof![4 => any::<u8>(), 1 => Just(b'\n')], 0..200),
                capacity in 1usize..16,
                limit in 0usize..24,
            ) {
                let mut reader = std::io::BufReader::with_capacity(capacity, &content[..]);
                let (mut buf, mut consumed) = (Vec::new(), 0u64);
                let mut got = Vec::new();
                loop {
                    buf.clear();
                    match read_bounded_line(&mut reader, &mut buf, limit, true, &mut consumed).unwrap() {
                        BoundedLine::End => break,
                        BoundedLine::Line => got.push(Some(buf.clone())),
                        BoundedLine::TooLong { ended } => {
                            prop_assert!(ended);
                            got.push(None);
                        }
                    }
                }
                prop_assert_eq!(consumed, content.len() as u64);
                let expected: Vec<Option<Vec<u8>>> = content
                    .split_inclusive(|&b| b == b'\n')
                    .map(|l| (l.len() - usize::from(l.ends_with(b"\n")) <= limit).then(|| l.to_vec()))
                    .collect();
                prop_assert_eq!(got, expected);
            }
        }
    }
}
