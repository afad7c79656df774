//! Incremental Server-Sent Events parsing over the byte chunks a socket hands us.
//!
//! Both OpenAI Chat Completions and Anthropic Messages stream their answers as SSE
//! (WHATWG HTML, "Server-sent events"). The stream is UTF-8 text made of lines; a line ends
//! with CRLF, LF or a lone CR. Lines group into events, and a blank line ends an event:
//!
//! ```text
//! event: message_start                         <- field `event`: the event's type
//! data: {"type":"message_start","message":...} <- field `data`: the payload
//! : keep-alive                                 <- a comment: any line starting with ':'
//!                                              <- blank line: dispatch the event
//! data: {"choices":[...]}                      <- OpenAI sends data lines only
//!
//! data: [DONE]                                 <- ...and ends with this marker
//!
//! ```
//!
//! A line is `name:value`, with one space after the colon dropped, or a bare `name` with an
//! empty value. `data` lines accumulate, joined with `\n`; `event`, `id` and `retry` set the
//! event's type, id and reconnection delay; other names are ignored. An event whose data
//! is empty is not dispatched, and a UTF-8 byte order mark may open the stream.
//!
//! Why hand-written rather than taken from a crate: `asb` measures streams as much as it
//! reads them, which asks three things of the parser:
//!
//! * **Byte-exact.** Every event carries the `[raw_start, raw_end)` range of the stream
//!   bytes it was parsed from, so a recorder can store exactly what the server sent.
//! * **Per frame.** [`SseParser::feed`] takes one network chunk and returns the events that
//!   chunk completed, so the caller can stamp each with the chunk's arrival time: the raw
//!   material of time-to-first-token and inter-token latency.
//! * **No line cap.** A single `data:` line can be megabytes long (a large tool-call
//!   argument in one delta); buffers grow as needed instead of failing at some limit.
//!
//! It is also the hot path of the benchmark client and the recording proxy, so lines that
//! arrive whole are parsed in place: the only copy is the data text that the event keeps.

use memchr::{memchr, memchr2};

/// The UTF-8 byte order mark, which the spec lets open a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A partial-line buffer that grew past this is released rather than reused once its line
/// is done, so one huge line does not pin megabytes for the rest of a long stream.
const RETAINED_LINE_CAPACITY: usize = 64 * 1024;

/// One dispatched SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event` field; `None` when absent or empty. The spec's default type `message` is
    /// left to the caller.
    pub event: Option<String>,
    /// The `data` lines, joined with `\n`.
    pub data: String,
    /// The `id` field of this event, if it had one. Unlike a browser, the parser does not
    /// carry an id over to later events.
    pub id: Option<String>,
    /// The `retry` field of this event in milliseconds, if it had a valid one.
    pub retry: Option<u64>,
    /// Stream offset of the first byte of the event's first line (comments included).
    pub raw_start: u64,
    /// Stream offset just past the blank line that dispatched the event. When that blank
    /// line's CRLF was split across chunks, the event is dispatched on the CR and the range
    /// stops there: the LF that follows belongs to no event.
    pub raw_end: u64,
}

impl SseEvent {
    /// The event type as the spec defines it: the `event` field, or `message` without one.
    #[cfg(test)]
    fn event_type(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// Whether `data` is OpenAI's end-of-stream marker: `[DONE]`, give or take ASCII whitespace.
pub(crate) fn is_done_marker(data: &str) -> bool {
    data.trim_ascii() == "[DONE]"
}

/// Parses one SSE stream, chunk by chunk, as the bytes arrive.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// The start of a line whose end has not arrived yet.
    partial_line: Vec<u8>,
    /// Fields of the event being assembled since the last blank line.
    fields: EventFields,
    /// Stream offset of the first byte of the current event's first line.
    event_start: u64,
    bytes_seen: u64,
    comments_seen: u64,
    /// The last chunk ended with a CR: an LF opening the next chunk is the second half of
    /// that CRLF, not a blank line of its own.
    skip_lf: bool,
    /// A line has been completed, so a byte order mark is no longer expected.
    past_first_line: bool,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the stream and appends every event it completed to `out`,
    /// in stream order. Bytes after the last line end are kept for the next call.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        if chunk.is_empty() {
            return;
        }
        let mut offset = self.bytes_seen; // stream offset of `rest[0]`
        self.bytes_seen += chunk.len() as u64;
        let mut rest = chunk;
        if std::mem::take(&mut self.skip_lf) && rest[0] == b'\n' {
            rest = &rest[1..];
            self.skip_crlf_tail(offset);
            offset += 1;
        }
        while let Some(end) = memchr2(b'\n', b'\r', rest) {
            let terminator = terminator_len(rest, end);
            self.skip_lf = rest[end] == b'\r' && end + 1 == rest.len();
            let next_line = offset + (end + terminator) as u64;
            self.complete_line(&rest[..end], next_line, out);
            rest = &rest[end + terminator..];
            offset = next_line;
        }
        self.partial_line.extend_from_slice(rest);
    }

    /// Ends the stream. As the spec says, an event still missing its blank line is
    /// discarded, with any partial line. Returns how many bytes that was: the stream bytes
    /// after the last blank line, comments included. Non-zero means the stream was cut.
    ///
    /// The counters are kept; bytes fed afterwards start a new event at the current offset.
    pub(crate) fn finish(&mut self) -> u64 {
        let undispatched = self.bytes_seen - self.event_start;
        self.fields = EventFields::default();
        self.partial_line.clear();
        self.partial_line.shrink_to(RETAINED_LINE_CAPACITY);
        self.skip_lf = false;
        self.event_start = self.bytes_seen;
        undispatched
    }

    /// How many bytes were fed so far.
    #[cfg(test)]
    fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }

    /// How many comment lines (`:` first) were completed so far. Servers send them as
    /// keep-alives.
    #[cfg(test)]
    fn comments_seen(&self) -> u64 {
        self.comments_seen
    }

    /// The LF at `lf_offset` completed a CRLF whose CR ended the previous chunk. If that CR
    /// ended a blank line, the next event starts after the LF, not on it.
    fn skip_crlf_tail(&mut self, lf_offset: u64) {
        if self.event_start == lf_offset {
            self.event_start = lf_offset + 1;
        }
    }

    /// Handles one complete line. `tail` is the part of it in the current chunk (all of it,
    /// unless earlier chunks left a partial line); `next_line` is the stream offset just
    /// past its terminator.
    fn complete_line(&mut self, tail: &[u8], next_line: u64, out: &mut Vec<SseEvent>) {
        if self.partial_line.is_empty() {
            self.interpret_line(tail, next_line, out);
            return;
        }
        let mut line = std::mem::take(&mut self.partial_line);
        line.extend_from_slice(tail);
        self.interpret_line(&line, next_line, out);
        if line.capacity() <= RETAINED_LINE_CAPACITY {
            line.clear();
            self.partial_line = line;
        }
    }

    /// Applies one line, without its terminator, to the event being assembled.
    fn interpret_line(&mut self, line: &[u8], next_line: u64, out: &mut Vec<SseEvent>) {
        let line = self.strip_bom(line);
        match line.first() {
            None => self.dispatch(next_line, out),
            Some(b':') => self.comments_seen += 1,
            Some(_) => {
                let (name, value) = split_field(line);
                self.fields.apply(name, value);
            }
        }
    }

    /// Drops a byte order mark from the stream's first line. It is not part of any event.
    fn strip_bom<'a>(&mut self, line: &'a [u8]) -> &'a [u8] {
        if self.past_first_line {
            return line;
        }
        self.past_first_line = true;
        match line.strip_prefix(BOM) {
            Some(rest) => {
                self.event_start += BOM.len() as u64;
                rest
            }
            None => line,
        }
    }

    /// A blank line ends the event: hand it out if it has data, and start the next one.
    fn dispatch(&mut self, next_line: u64, out: &mut Vec<SseEvent>) {
        let fields = std::mem::take(&mut self.fields);
        if fields.has_data {
            out.push(SseEvent {
                event: fields.event,
                data: fields.data,
                id: fields.id,
                retry: fields.retry,
                raw_start: self.event_start,
                raw_end: next_line,
            });
        }
        self.event_start = next_line;
    }
}

/// The fields of an event seen so far.
#[derive(Debug, Default)]
struct EventFields {
    event: Option<String>,
    data: String,
    /// At least one `data` line was seen; it may have been empty.
    has_data: bool,
    id: Option<String>,
    retry: Option<u64>,
}

impl EventFields {
    /// Applies one `name: value` line. Text is decoded lossily: bytes that are not UTF-8
    /// become U+FFFD rather than an error.
    fn apply(&mut self, name: &[u8], value: &[u8]) {
        match name {
            b"data" => self.push_data(value),
            b"event" => self.event = (!value.is_empty()).then(|| lossy_string(value)),
            // A NUL makes the spec ignore the line rather than set the id.
            b"id" if memchr(0, value).is_none() => self.id = Some(lossy_string(value)),
            b"retry" => {
                if let Some(millis) = parse_retry(value) {
                    self.retry = Some(millis);
                }
            }
            _ => {} // unknown fields are ignored
        }
    }

    fn push_data(&mut self, value: &[u8]) {
        if self.has_data {
            self.data.push('\n');
            push_lossy(&mut self.data, value);
        } else {
            // Most events have one data line: allocate it once, at its exact size.
            self.data = lossy_string(value);
            self.has_data = true;
        }
    }
}

/// Appends `bytes` as text, with U+FFFD for whatever is not UTF-8.
///
/// Checking with `str::from_utf8` first matters: it is several times faster than
/// `String::from_utf8_lossy` on the valid text that nearly every line is.
fn push_lossy(text: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(valid) => text.push_str(valid),
        Err(_) => text.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// `bytes` as text, like [`push_lossy`], in a string of exactly the right size.
pub(crate) fn lossy_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(valid) => valid.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Length of the line terminator at `rest[end]`: 2 for CRLF, 1 for LF or a lone CR.
///
/// A CR that ends the chunk counts as a whole line end right away, so the event it may
/// complete is not held back until the next chunk; the caller then skips a leading LF.
fn terminator_len(rest: &[u8], end: usize) -> usize {
    if rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n') {
        2
    } else {
        1
    }
}

/// Splits `name:value` at the first colon, dropping one space after it. A line with no
/// colon is all name, with an empty value.
fn split_field(line: &[u8]) -> (&[u8], &[u8]) {
    match memchr(b':', line) {
        Some(colon) => {
            let value = &line[colon + 1..];
            (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
        }
        None => (line, &[]),
    }
}

/// A `retry` value must be ASCII digits only; anything else, or a number too large for
/// `u64`, is ignored.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one by one to a fresh parser.
    fn parse_chunks<C: AsRef<[u8]>>(chunks: &[C]) -> (Vec<SseEvent>, SseParser) {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk.as_ref(), &mut events);
        }
        (events, parser)
    }

    fn parse_whole(input: &[u8]) -> Vec<SseEvent> {
        parse_chunks(&[input]).0
    }

    fn parse_bytewise(input: &[u8]) -> Vec<SseEvent> {
        let bytes: Vec<[u8; 1]> = input.iter().map(|&byte| [byte]).collect();
        parse_chunks(&bytes).0
    }

    /// Every way of cutting `input` in two.
    fn parse_all_splits(input: &[u8]) -> Vec<Vec<SseEvent>> {
        (0..=input.len()).map(|cut| parse_chunks(&[&input[..cut], &input[cut..]]).0).collect()
    }

    fn data_of(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|event| event.data.as_str()).collect()
    }

    fn types_and_data(events: &[SseEvent]) -> Vec<(Option<&str>, &str)> {
        events.iter().map(|event| (event.event.as_deref(), event.data.as_str())).collect()
    }

    /// `chunked` came from `input` cut into pieces, `whole` from it in one piece. They must
    /// agree, except that an event whose closing CRLF was cut between CR and LF ends on
    /// the CR.
    fn assert_same_events(chunked: &[SseEvent], whole: &[SseEvent], input: &[u8]) {
        assert_eq!(chunked.len(), whole.len());
        for (cut, one) in chunked.iter().zip(whole) {
            let cut_crlf =
                cut.raw_end + 1 == one.raw_end && input[cut.raw_end as usize - 1..one.raw_end as usize] == *b"\r\n";
            assert!(cut.raw_end == one.raw_end || cut_crlf, "{cut:?} vs {one:?}");
            let as_whole = SseEvent { raw_end: one.raw_end, ..cut.clone() };
            assert_eq!(&as_whole, one);
        }
    }

    /// The raw bytes of each event, sliced out of the whole input.
    fn raw_slices<'a>(input: &'a [u8], events: &[SseEvent]) -> Vec<&'a [u8]> {
        events.iter().map(|event| &input[event.raw_start as usize..event.raw_end as usize]).collect()
    }

    // ---- line endings ----

    #[test]
    fn lf_endings() {
        let events = parse_whole(b"data: one\n\ndata: two\n\n");
        assert_eq!(data_of(&events), ["one", "two"]);
    }

    #[test]
    fn crlf_endings() {
        let events = parse_whole(b"data: one\r\n\r\ndata: two\r\n\r\n");
        assert_eq!(data_of(&events), ["one", "two"]);
    }

    #[test]
    fn cr_endings() {
        let events = parse_whole(b"data: one\r\rdata: two\r\r");
        assert_eq!(data_of(&events), ["one", "two"]);
    }

    #[test]
    fn mixed_endings_in_one_stream() {
        let events = parse_whole(b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r\n");
        assert_eq!(data_of(&events), ["a\nb\nc", "d"]);
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        // Were the LF taken as a blank line, "a" and "b" would be two events.
        let (events, _) = parse_chunks(&["data: a\r", "\ndata: b\r", "\n\r\n"]);
        assert_eq!(data_of(&events), ["a\nb"]);
    }

    #[test]
    fn event_is_dispatched_on_the_cr_without_waiting_for_its_lf() {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        parser.feed(b"data: a\r\n\r", &mut events);
        assert_eq!(data_of(&events), ["a"], "dispatched with the chunk holding the CR");
        parser.feed(b"\n", &mut events);
        assert_eq!(events.len(), 1, "the LF completes the CRLF, it is no blank line");
        parser.feed(b"data: b\r\n\r\n", &mut events);
        assert_eq!(data_of(&events), ["a", "b"]);
        assert_eq!(parser.finish(), 0);
    }

    #[test]
    fn lone_cr_then_lf_in_next_chunk_is_still_one_line_end_after_empty_chunks() {
        let (events, _) = parse_chunks(&["data: a\r", "", "\n", "\ndata: b\n\n"]);
        assert_eq!(data_of(&events), ["a", "b"]);
    }

    #[test]
    fn cr_at_chunk_end_followed_by_other_text_is_a_line_end() {
        let (events, _) = parse_chunks(&["data: a\r", "data: b\r", "\r"]);
        assert_eq!(data_of(&events), ["a\nb"]);
    }

    // ---- fields ----

    #[test]
    fn data_with_and_without_space_after_colon() {
        let events = parse_whole(b"data:{\"a\":1}\n\ndata: {\"a\":1}\n\n");
        assert_eq!(data_of(&events), ["{\"a\":1}", "{\"a\":1}"]);
    }

    #[test]
    fn only_one_space_after_the_colon_is_dropped() {
        let events = parse_whole(b"data:  two spaces \n\ndata:\tTab\n\n");
        assert_eq!(data_of(&events), [" two spaces ", "\tTab"]);
    }

    #[test]
    fn multiple_data_lines_are_joined_with_lf() {
        let events = parse_whole(b"data: first\ndata:second\ndata:  third\n\n");
        assert_eq!(data_of(&events), ["first\nsecond\n third"]);
    }

    #[test]
    fn empty_data_lines_still_count_as_data() {
        let events = parse_whole(b"data:\n\ndata\n\ndata:\ndata:\n\n");
        assert_eq!(data_of(&events), ["", "", "\n"]);
    }

    #[test]
    fn anthropic_style_event_names() {
        let input = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n\
                      event: ping\ndata: {\"type\": \"ping\"}\n\n";
        let events = parse_whole(input);
        assert_eq!(
            types_and_data(&events),
            [(Some("message_start"), "{\"type\":\"message_start\"}"), (Some("ping"), "{\"type\": \"ping\"}"),]
        );
        assert_eq!(events[0].event_type(), "message_start");
    }

    #[test]
    fn missing_or_empty_event_name_means_message() {
        let events = parse_whole(b"data: a\n\nevent:\ndata: b\n\nevent: x\nevent\ndata: c\n\n");
        assert_eq!(types_and_data(&events), [(None, "a"), (None, "b"), (None, "c")]);
        assert!(events.iter().all(|event| event.event_type() == "message"));
    }

    #[test]
    fn later_event_line_wins() {
        let events = parse_whole(b"event: a\nevent: b\ndata: x\n\n");
        assert_eq!(types_and_data(&events), [(Some("b"), "x")]);
    }

    #[test]
    fn fields_do_not_leak_into_the_next_event() {
        let events = parse_whole(b"event: a\nid: 1\nretry: 5\ndata: x\n\ndata: y\n\n");
        assert_eq!(events[1].event, None);
        assert_eq!(events[1].id, None);
        assert_eq!(events[1].retry, None);
    }

    #[test]
    fn id_and_retry() {
        let events = parse_whole(b"id: 42\nretry: 3000\ndata: x\n\nid:\ndata: y\n\n");
        assert_eq!(events[0].id.as_deref(), Some("42"));
        assert_eq!(events[0].retry, Some(3000));
        assert_eq!(events[1].id.as_deref(), Some(""), "an empty id resets it");
    }

    #[test]
    fn id_with_nul_is_ignored() {
        let events = parse_whole(b"id: good\nid: b\0d\ndata: x\n\n");
        assert_eq!(events[0].id.as_deref(), Some("good"));
    }

    #[test]
    fn invalid_retry_values_are_ignored() {
        for value in ["", "abc", "12a", "-5", "  5", "1.5", "99999999999999999999999"] {
            let input = format!("retry: 7\nretry:{value}\ndata: x\n\n");
            let events = parse_whole(input.as_bytes());
            assert_eq!(events[0].retry, Some(7), "retry:{value:?}");
        }
        let events = parse_whole(b"retry: 007\ndata: x\n\n");
        assert_eq!(events[0].retry, Some(7));
    }

    #[test]
    fn field_without_colon_has_empty_value() {
        let events = parse_whole(b"event: a\nevent\nid: 1\nid\ndata\n\n");
        assert_eq!(events[0].event, None);
        assert_eq!(events[0].id.as_deref(), Some(""));
        assert_eq!(events[0].data, "");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let events = parse_whole(b"foo: bar\nData: no\ndata : no\nx\ndata: yes\n\n");
        assert_eq!(data_of(&events), ["yes"]);
    }

    #[test]
    fn colon_inside_value_is_kept() {
        let events = parse_whole(b"data: a: b:c\nevent: x:y\n\n");
        assert_eq!(types_and_data(&events), [(Some("x:y"), "a: b:c")]);
    }

    // ---- comments and events without data ----

    #[test]
    fn comments_are_ignored_and_counted() {
        let (events, parser) = parse_chunks(&[": hello\n\n:\ndata: a\n: in the middle\ndata: b\n\n: ke", "ep\n"]);
        assert_eq!(data_of(&events), ["a\nb"]);
        assert_eq!(parser.comments_seen(), 4);
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        let events = parse_whole(b"event: ping\n\nid: 3\nretry: 10\n\n: only a comment\n\n\n\n");
        assert!(events.is_empty());
    }

    // ---- byte order mark ----

    #[test]
    fn bom_at_stream_start_is_skipped() {
        let input = b"\xEF\xBB\xBFdata: a\n\n";
        for events in parse_all_splits(input) {
            assert_eq!(data_of(&events), ["a"]);
            assert_eq!(raw_slices(input, &events), [&b"data: a\n\n"[..]]);
        }
    }

    #[test]
    fn bom_later_in_the_stream_is_part_of_the_line() {
        // A second BOM makes the field name "\u{FEFF}data": unknown, so ignored.
        let events = parse_whole(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n\xEF\xBB\xBFdata: c\n\n");
        assert_eq!(data_of(&events), ["b"]);
    }

    // ---- chunking ----

    #[test]
    fn several_events_in_one_chunk() {
        let events = parse_whole(b"data: 1\n\ndata: 2\n\nevent: e\ndata: 3\n\ndata: 4\n\n");
        assert_eq!(data_of(&events), ["1", "2", "3", "4"]);
    }

    #[test]
    fn event_spanning_chunks_byte_by_byte() {
        let input = b"\xEF\xBB\xBFevent: content_block_delta\r\nid: 9\r\nretry: 100\r\n\
                      data: {\"delta\":\r\ndata: \"hi\"}\r\n: c\r\n\r\ndata: next\r\r";
        let events = parse_bytewise(input);
        assert_same_events(&events, &parse_whole(input), input);
        assert_eq!(events[0].data, "{\"delta\":\n\"hi\"}");
        assert_eq!(events[0].id.as_deref(), Some("9"));
        assert_eq!(events[0].retry, Some(100));
        assert_eq!(events[1].data, "next");
    }

    #[test]
    fn every_two_way_split_matches_the_whole() {
        let input = b"data: a\r\n\r\nevent: x\rdata: b\r\rdata: c\n: z\n\n";
        let whole = parse_whole(input);
        assert_eq!(data_of(&whole), ["a", "b", "c"]);
        for (cut, events) in parse_all_splits(input).into_iter().enumerate() {
            assert_eq!(types_and_data(&events), types_and_data(&whole), "cut at {cut}");
        }
    }

    #[test]
    fn utf8_char_split_across_chunks() {
        let input = "data: é€😀 done\n\n".as_bytes();
        for events in parse_all_splits(input) {
            assert_eq!(data_of(&events), ["é€😀 done"]);
        }
        assert_eq!(data_of(&parse_bytewise(input)), ["é€😀 done"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let events = parse_whole(b"event: a\xFFb\ndata: \xC3(\xF0\x9F\ndata: ok\n\n");
        assert_eq!(events[0].event.as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(events[0].data, "\u{FFFD}(\u{FFFD}\nok");
    }

    #[test]
    fn five_megabyte_data_line() {
        let payload = "x".repeat(5 << 20) + "é";
        let input = format!("event: big\ndata: {payload}\n\ndata: after\n\n");
        let (events, parser) = parse_chunks(&input.as_bytes().chunks(16 * 1024).collect::<Vec<_>>());
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data.len(), payload.len());
        assert!(events[0].data == payload);
        assert_eq!(events[1].data, "after");
        assert!(parser.partial_line.capacity() <= RETAINED_LINE_CAPACITY);
        assert!(parse_whole(input.as_bytes())[0].data == payload);
    }

    #[test]
    fn empty_chunks_change_nothing() {
        let (events, parser) = parse_chunks(&["", "data: a", "", "\n", "", "\n", ""]);
        assert_eq!(data_of(&events), ["a"]);
        assert_eq!(parser.bytes_seen(), 9);
    }

    // ---- end of stream ----

    #[test]
    fn finish_reports_nothing_after_a_clean_end() {
        let (_, mut parser) = parse_chunks(&["data: a\n\n"]);
        assert_eq!(parser.finish(), 0);
        let (_, mut parser) = parse_chunks(&["data: a\r\n\r"]);
        assert_eq!(parser.finish(), 0);
        assert_eq!(SseParser::new().finish(), 0);
    }

    #[test]
    fn finish_discards_and_counts_a_trailing_incomplete_event() {
        let (events, mut parser) = parse_chunks(&["data: a\n\nevent: x\ndata: b\n", "data: c"]);
        assert_eq!(data_of(&events), ["a"]);
        assert_eq!(parser.finish(), "event: x\ndata: b\ndata: c".len() as u64);
        assert_eq!(parser.bytes_seen(), "data: a\n\nevent: x\ndata: b\ndata: c".len() as u64);
    }

    #[test]
    fn parser_goes_on_after_finish() {
        let (_, mut parser) = parse_chunks(&["data: lost\nda"]);
        assert_eq!(parser.finish(), 13);
        let mut events = Vec::new();
        parser.feed(b"data: new\n\n", &mut events);
        assert_eq!(data_of(&events), ["new"]);
        assert_eq!((events[0].raw_start, events[0].raw_end), (13, 24));
    }

    // ---- raw byte ranges ----

    #[test]
    fn raw_ranges_slice_out_each_event_verbatim() {
        let input = b"\n: keep-alive\n\nevent: a\r\n: note\r\ndata: 1\r\n\r\n\
                      event: no-data\n\ndata: 2\rdata: 3\r\r";
        let events = parse_whole(input);
        assert_eq!(
            raw_slices(input, &events),
            [&b"event: a\r\n: note\r\ndata: 1\r\n\r\n"[..], &b"data: 2\rdata: 3\r\r"[..]]
        );
        for split in parse_all_splits(input) {
            assert_same_events(&split, &events, input);
        }
    }

    #[test]
    fn raw_range_stops_at_a_cr_whose_lf_is_in_the_next_chunk() {
        let input = b"data: a\r\n\r\ndata: b\r\n\r\n";
        let (events, _) = parse_chunks(&[&input[..10], &input[10..]]);
        assert_eq!(raw_slices(input, &events), [&b"data: a\r\n\r"[..], b"data: b\r\n\r\n"]);
    }

    #[test]
    fn raw_ranges_tile_a_stream_of_data_events() {
        let input = OPENAI_STREAM.as_bytes();
        let events = parse_bytewise(input);
        assert_eq!(events[0].raw_start, 0);
        for pair in events.windows(2) {
            assert_eq!(pair[0].raw_end, pair[1].raw_start);
        }
        assert_eq!(events.last().unwrap().raw_end, input.len() as u64);
    }

    // ---- the [DONE] marker ----

    #[test]
    fn done_marker() {
        assert!(is_done_marker("[DONE]"));
        assert!(is_done_marker(" [DONE]\r\n"));
        assert!(!is_done_marker("[done]"));
        assert!(!is_done_marker("[DONE] extra"));
        assert!(!is_done_marker("{\"text\":\"[DONE]\"}"));
        assert!(!is_done_marker(""));
    }

    // ---- real-world streams ----

    const OPENAI_STREAM: &str = concat!(
        r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        "\n\n",
        r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        "\n\n",
        r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{"content":" there — ünïcode"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        "\n\n",
        r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
        "\n\n",
        r#"data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#,
        "\n\n",
        "data: [DONE]\n\n",
    );

    const ANTHROPIC_STREAM: &str = concat!(
        "event: message_start\r\n",
        r#"data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}}"#,
        "\r\n\r\n",
        "event: content_block_start\r\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\r\n\r\n",
        "event: ping\r\n",
        r#"data: {"type": "ping"}"#,
        "\r\n\r\n",
        "event: content_block_delta\r\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
        "\r\n\r\n",
        "event: content_block_delta\r\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", wörld 🌍"}}"#,
        "\r\n\r\n",
        "event: content_block_stop\r\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\r\n\r\n",
        "event: message_delta\r\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        "\r\n\r\n",
        "event: message_stop\r\n",
        r#"data: {"type":"message_stop"}"#,
        "\r\n\r\n",
    );

    #[test]
    fn openai_stream_ending_in_done() {
        let input = OPENAI_STREAM.as_bytes();
        let events = parse_whole(input);
        assert_eq!(events.len(), 6);
        assert!(events.iter().all(|event| event.event.is_none()));
        let (last, chunks) = events.split_last().unwrap();
        assert!(is_done_marker(&last.data));
        let content: String = chunks
            .iter()
            .map(|event| serde_json::from_str::<serde_json::Value>(&event.data).unwrap())
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(String::from))
            .collect();
        assert_eq!(content, "Hello there — ünïcode");
        assert_eq!(parse_bytewise(input), events);
        let mut parser = SseParser::new();
        parser.feed(input, &mut Vec::new());
        assert_eq!(parser.finish(), 0);
    }

    #[test]
    fn anthropic_stream_with_ping_and_message_delta() {
        let input = ANTHROPIC_STREAM.as_bytes();
        let events = parse_whole(input);
        let types: Vec<&str> = events.iter().map(SseEvent::event_type).collect();
        assert_eq!(
            types,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        for event in &events {
            let json: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            assert_eq!(json["type"], event.event_type());
        }
        let delta: serde_json::Value = serde_json::from_str(&events[6].data).unwrap();
        assert_eq!(delta["usage"]["output_tokens"], 15);
        // Network-sized chunks that cut lines, CRLFs and multi-byte characters.
        for size in [1, 2, 3, 7, 64, 100, 1500] {
            let (chunked, _) = parse_chunks(&input.chunks(size).collect::<Vec<_>>());
            assert_same_events(&chunked, &events, input);
        }
        assert_eq!(raw_slices(input, &events).concat(), input);
    }

    // ---- properties ----

    mod properties {
        use super::*;
        use futures_util::{FutureExt, StreamExt};
        use proptest::prelude::*;
        use proptest::sample::Index;

        /// The line endings a stream can use; `Mixed` picks one per line.
        #[derive(Debug, Clone, Copy)]
        enum Ending {
            Lf,
            CrLf,
            Cr,
        }

        impl Ending {
            fn bytes(self) -> &'static str {
                match self {
                    Ending::Lf => "\n",
                    Ending::CrLf => "\r\n",
                    Ending::Cr => "\r",
                }
            }
        }

        fn ending() -> impl Strategy<Value = Ending> {
            prop_oneof![Just(Ending::Lf), Just(Ending::CrLf), Just(Ending::Cr)]
        }

        /// Field text: any printable characters (multi-byte ones included), never CR or LF.
        fn text() -> impl Strategy<Value = String> {
            prop_oneof!["[a-z :{}\"]{0,12}", "\\PC{0,12}", "[ ]{0,2}[é€😀x]{0,4}"]
        }

        /// An event as a test wants it sent.
        #[derive(Debug, Clone)]
        struct ModelEvent {
            comment: Option<String>,
            event: Option<String>,
            id: Option<String>,
            retry: Option<u64>,
            data: Vec<String>,
            /// Whether to write `data:value` rather than `data: value`.
            tight: bool,
        }

        fn model_event() -> impl Strategy<Value = ModelEvent> {
            (
                proptest::option::of(text()),
                proptest::option::of("[a-z_]{1,20}"),
                proptest::option::of("[0-9a-f]{0,8}"),
                proptest::option::of(any::<u64>()),
                proptest::collection::vec(text(), 0..4),
                any::<bool>(),
            )
                .prop_map(|(comment, event, id, retry, data, tight)| ModelEvent {
                    comment,
                    event,
                    id,
                    retry,
                    data,
                    tight,
                })
        }

        impl ModelEvent {
            fn serialize(&self, ending: Ending) -> String {
                let end = ending.bytes();
                let mut out = String::new();
                if let Some(comment) = &self.comment {
                    out += &format!(":{comment}{end}");
                }
                if let Some(event) = &self.event {
                    out += &format!("event: {event}{end}");
                }
                if let Some(id) = &self.id {
                    out += &format!("id:{id}{end}");
                }
                if let Some(retry) = &self.retry {
                    out += &format!("retry: {retry}{end}");
                }
                for line in &self.data {
                    let separator = if self.tight && !line.starts_with(' ') { "" } else { " " };
                    out += &format!("data:{separator}{line}{end}");
                }
                out + end
            }

            fn expected(&self) -> Option<Fields> {
                (!self.data.is_empty()).then(|| Fields {
                    event: self.event.clone(),
                    data: self.data.join("\n"),
                    id: self.id.clone(),
                    retry: self.retry,
                })
            }
        }

        /// What an event says, without where it came from.
        #[derive(Debug, Clone, PartialEq, Eq)]
        struct Fields {
            event: Option<String>,
            data: String,
            id: Option<String>,
            retry: Option<u64>,
        }

        fn fields(events: &[SseEvent]) -> Vec<Fields> {
            events
                .iter()
                .map(|event| Fields {
                    event: event.event.clone(),
                    data: event.data.clone(),
                    id: event.id.clone(),
                    retry: event.retry,
                })
                .collect()
        }

        /// Cuts `input` at the given points into chunks.
        fn cut<'a>(input: &'a [u8], points: &[Index]) -> Vec<&'a [u8]> {
            let mut cuts: Vec<usize> = points.iter().map(|p| p.index(input.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut chunks = Vec::new();
            let mut start = 0;
            for end in cuts.into_iter().chain([input.len()]) {
                chunks.push(&input[start..end]);
                start = end;
            }
            chunks
        }

        /// The `sse-stream` crate's decoder, fed the same chunks. It also yields blocks
        /// without data and keeps an empty `event:`; the spec drops the first and reads the
        /// second as no type, so normalise both.
        fn oracle(chunks: &[&[u8]]) -> Vec<Fields> {
            let chunks: Vec<Result<bytes::Bytes, std::convert::Infallible>> =
                chunks.iter().map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk))).collect();
            let decoder = sse_stream::SseByteStream::new(futures_util::stream::iter(chunks));
            let decoded: Vec<_> = decoder.collect().now_or_never().expect("an in-memory stream is always ready");
            decoded
                .into_iter()
                .map(|block| block.expect("the oracle is only fed valid UTF-8"))
                .filter_map(|block| {
                    Some(Fields {
                        data: block.data?,
                        event: block.event.filter(|event| !event.is_empty()),
                        id: block.id,
                        retry: block.retry,
                    })
                })
                .collect()
        }

        /// One line of an arbitrary, not necessarily well-formed, stream.
        fn soup_line() -> impl Strategy<Value = String> {
            prop_oneof![
                text().prop_map(|value| format!("data: {value}")),
                text().prop_map(|value| format!("data:{value}")),
                Just("data".to_string()),
                text().prop_map(|value| format!("event:{value}")),
                Just("event".to_string()),
                text().prop_map(|value| format!("id: {value}")),
                text().prop_map(|value| format!("id: {value}\0")),
                "[0-9]{0,22}".prop_map(|value| format!("retry:{value}")),
                text().prop_map(|value| format!("retry: {value}")),
                text().prop_map(|value| format!(":{value}")),
                text().prop_map(|value| format!("unknown: {value}")),
                text(),
                Just(String::new()),
                Just(String::new()),
            ]
        }

        fn soup() -> impl Strategy<Value = Vec<u8>> {
            (any::<bool>(), proptest::collection::vec((soup_line(), ending()), 0..40)).prop_map(|(bom, lines)| {
                let mut out = if bom { "\u{FEFF}".to_string() } else { String::new() };
                for (line, ending) in lines {
                    out += &line;
                    out += ending.bytes();
                }
                out.into_bytes()
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Well-formed events come back as sent, whatever the chunking, and each
            /// one's raw range slices out exactly the bytes it was sent as.
            #[test]
            fn sent_events_come_back_whatever_the_chunking(
                events in proptest::collection::vec(model_event(), 0..12),
                ending in ending(),
                bom in any::<bool>(),
                points in proptest::collection::vec(any::<Index>(), 0..16),
            ) {
                let mut input = if bom { "\u{FEFF}".to_string() } else { String::new() };
                let mut expected = Vec::new();
                let mut expected_raw = Vec::new();
                for event in &events {
                    let start = input.len();
                    input += &event.serialize(ending);
                    if let Some(fields) = event.expected() {
                        expected.push(fields);
                        expected_raw.push((start as u64, input.len() as u64));
                    }
                }
                let input = input.as_bytes();
                let chunks = cut(input, &points);
                let (parsed, mut parser) = parse_chunks(&chunks);

                prop_assert_eq!(fields(&parsed), expected);
                // Only a stream of nothing but a BOM lacks a closing blank line.
                let trailing = if events.is_empty() { input.len() } else { 0 };
                prop_assert_eq!(parser.finish(), trailing as u64);
                prop_assert_eq!(parser.bytes_seen(), input.len() as u64);
                let chunk_ends: Vec<u64> = chunks
                    .iter()
                    .scan(0, |end, chunk| { *end += chunk.len() as u64; Some(*end) })
                    .collect();
                for (event, (start, end)) in parsed.iter().zip(expected_raw) {
                    // A CRLF cut between its CR and LF ends the event on the CR.
                    let split_crlf = matches!(ending, Ending::CrLf) && chunk_ends.contains(&(end - 1));
                    let end = if split_crlf { end - 1 } else { end };
                    prop_assert_eq!((event.raw_start, event.raw_end), (start, end));
                }
            }

            /// On arbitrary streams the parser agrees with itself across chunkings and with
            /// the `sse-stream` crate.
            #[test]
            fn matches_sse_stream_on_arbitrary_streams(
                input in soup(),
                points in proptest::collection::vec(any::<Index>(), 0..16),
            ) {
                let chunks = cut(&input, &points);
                let (chunked, _) = parse_chunks(&chunks);
                let whole = parse_whole(&input);
                prop_assert_eq!(fields(&chunked), fields(&whole));
                prop_assert_eq!(fields(&chunked), oracle(&chunks));
                prop_assert_eq!(fields(&whole), oracle(&[&input]));
            }

            /// Any bytes at all: no panic, the same events however they are cut, and raw
            /// ranges in order, inside the stream, each re-parsing to its own event.
            #[test]
            fn arbitrary_bytes_never_break_it(
                input in proptest::collection::vec(
                    prop_oneof![
                        3 => any::<u8>(),
                        1 => Just(b'\n'),
                        1 => Just(b'\r'),
                        1 => Just(b':'),
                        1 => proptest::sample::select(b"datevnirya ".to_vec()),
                    ],
                    0..300,
                ),
                points in proptest::collection::vec(any::<Index>(), 0..16),
            ) {
                let chunks = cut(&input, &points);
                let (chunked, mut parser) = parse_chunks(&chunks);
                prop_assert_eq!(&fields(&chunked), &fields(&parse_whole(&input)));
                let mut previous_end = 0;
                for event in &chunked {
                    prop_assert!(previous_end <= event.raw_start);
                    prop_assert!(event.raw_start < event.raw_end);
                    previous_end = event.raw_end;
                    let raw = &input[event.raw_start as usize..event.raw_end as usize];
                    let mut alone = parse_whole(raw);
                    prop_assert_eq!(alone.len(), 1);
                    let alone = alone.pop().unwrap();
                    prop_assert_eq!(
                        (alone.raw_start, alone.raw_end),
                        (0, raw.len() as u64)
                    );
                    prop_assert_eq!(fields(&[alone]), fields(std::slice::from_ref(event)));
                }
                prop_assert!(parser.finish() <= input.len() as u64 - previous_end);
            }
        }
    }
}
