//! Hand-written HTTP/1.1 framing for the recording proxy's passthrough
//! ([`crate::record::passthrough`]): heads parsed with httparse and written on with only
//! the changes a proxy must make (each other header line goes on as the peer spelled it),
//! and an incremental decoder that finds where a chunked body ends and which of its bytes
//! are payload, while the bytes themselves are forwarded untouched.
//!
//! Only the common shape is handled here: HTTP/1.1 requests with a `content-length` body
//! (what the OpenAI and Anthropic SDKs send). Anything else (`transfer-encoding` on a
//! request, `expect`, `upgrade`, HTTP/1.0, a head too large) is [`Parsed::Other`] and goes
//! to hyper, which knows every corner of the protocol.

use std::ops::Range;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// Header lines read per head; a head with more goes to hyper.
const MAX_HEADERS: usize = 100;
/// A request head still incomplete after this many bytes goes to hyper.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What the start of a buffer holds.
#[derive(Debug)]
pub(crate) enum Parsed<T> {
    /// Not a whole head yet.
    Partial,
    Head(T),
    /// A request this module does not handle (or a malformed one): hyper's to answer.
    Other,
}

/// A request head in the shape the passthrough handles.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub method: Method,
    /// Path and query, as sent.
    pub target: String,
    pub headers: HeaderMap,
    /// Bytes of the head, blank line included.
    pub len: usize,
    pub content_length: usize,
    /// The client asked to close the connection after this exchange.
    pub close: bool,
}

/// Parses the request head at the start of `buf`.
pub(crate) fn parse_request(buf: &[u8]) -> Parsed<RequestHead> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => return Parsed::Partial,
        _ => return Parsed::Other,
    };
    let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else { return Parsed::Other };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Parsed::Other };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    let mut content_length = None;
    let mut close = false;
    for h in req.headers.iter() {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(h.name.as_bytes()), HeaderValue::from_bytes(h.value))
        else {
            return Parsed::Other;
        };
        match name.as_str() {
            "transfer-encoding" | "expect" | "upgrade" => return Parsed::Other,
            "content-length" => match (parse_length(h.value), content_length) {
                (Some(n), None) => content_length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => return Parsed::Other,
            },
            "connection" => close |= has_token(h.value, "close"),
            _ => {}
        }
        headers.append(name, value);
    }
    let Ok(content_length) = usize::try_from(content_length.unwrap_or(0)) else { return Parsed::Other };
    Parsed::Head(RequestHead { method, target: target.to_string(), headers, len, content_length, close })
}

/// How a response body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Until the upstream closes the connection.
    UntilClose,
}

/// A response head as the upstream sent it.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub headers: HeaderMap,
    /// Bytes of the head, blank line included.
    pub len: usize,
    pub framing: Framing,
    /// The upstream will close the connection after this response.
    pub close: bool,
}

/// Parses the response head at the start of `buf`; `Err` for one that is not HTTP.
pub(crate) fn parse_response(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => return Ok(None),
        Ok(httparse::Status::Partial) => return Err("the upstream's response head is larger than 64 KiB".into()),
        Err(e) => return Err(format!("the upstream's answer is not HTTP/1.1: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    let (mut length, mut chunked, mut coded) = (None, false, false);
    let mut close = resp.version == Some(0);
    for h in resp.headers.iter() {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(h.name.as_bytes()), HeaderValue::from_bytes(h.value))
        else {
            return Err(format!("the upstream sent an invalid header line ({:?})", h.name));
        };
        match name.as_str() {
            "content-length" => {
                let n = parse_length(h.value).ok_or("the upstream sent an invalid content-length")?;
                if length.is_some_and(|m| m != n) {
                    return Err("the upstream sent two different content-lengths".into());
                }
                length = Some(n);
            }
            // Only the last coding tells whether the body is chunked.
            "transfer-encoding" => {
                coded = true;
                chunked = h
                    .value
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| trim(last).eq_ignore_ascii_case(b"chunked"));
            }
            "connection" => {
                if has_token(h.value, "close") {
                    close = true;
                } else if has_token(h.value, "keep-alive") {
                    close = false;
                }
            }
            _ => {}
        }
        headers.append(name, value);
    }
    let framing = match (status, coded, chunked, length) {
        (100..=199 | 204 | 304, ..) => Framing::Empty,
        (_, true, true, _) => Framing::Chunked,
        (_, true, false, _) => Framing::UntilClose,
        (_, false, _, Some(0)) => Framing::Empty,
        (_, false, _, Some(n)) => Framing::Length(n),
        (_, false, _, None) => Framing::UntilClose,
    };
    Ok(Some(ResponseHead { status, headers, len, framing, close: close || framing == Framing::UntilClose }))
}

/// The request head to send upstream: `POST path`, the upstream's `host`, the client's
/// header lines that `keep` (given each name as sent) lets through, as the client spelled
/// them, then `extra` (a header of the proxy's own) and the body's `content-length`.
pub(crate) fn upstream_request_head(
    raw: &[u8],
    path: &str,
    host: &str,
    keep: impl Fn(&[u8]) -> bool,
    extra: Option<(&str, &str)>,
    content_length: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, line) in header_lines(raw) {
        if keep(name) {
            out.extend_from_slice(line);
        }
    }
    if let Some((name, value)) = extra {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(content_length.to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// The response head to send the client: the upstream's status code and reason on an
/// HTTP/1.1 status line, and the header lines `keep` lets through, as the upstream spelled
/// them. `close`: the connection ends after this response.
pub(crate) fn client_response_head(raw: &[u8], keep: impl Fn(&[u8]) -> bool, close: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 24);
    let status_line_end = raw.iter().position(|&b| b == b'\n').map_or(raw.len(), |i| i + 1);
    let status_line = &raw[..status_line_end];
    let rest = status_line.iter().position(|&b| b == b' ').map_or(&b"\r\n"[..], |i| &status_line[i..]);
    out.extend_from_slice(b"HTTP/1.1");
    out.extend_from_slice(rest);
    for (name, line) in header_lines(raw) {
        if keep(name) {
            out.extend_from_slice(line);
        }
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A whole response from the proxy itself (its errors): status, headers, body.
pub(crate) fn whole_response(status: u16, headers: &HeaderMap, body: &[u8], close: bool) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Each header line of a head (status or request line skipped): its name, and the whole
/// line with its line break. Heads given here were parsed by httparse already.
fn header_lines(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    raw.split_inclusive(|&b| b == b'\n').skip(1).filter_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        Some((&line[..colon], line))
    })
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let v = trim(value);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &v[start..end]
}

/// Where a response body ends, fed the bytes as they arrive.
#[derive(Debug)]
pub(crate) enum BodyEnd {
    Length { left: u64 },
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// What one piece of a body held.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Bytes of the piece that belong to this body (anything after them does not).
    pub used: usize,
    /// Payload bytes among them (for a chunked body, without the chunks' framing).
    pub payload: Vec<Range<usize>>,
    /// The body ended within the piece.
    pub done: bool,
}

impl BodyEnd {
    pub(crate) fn new(framing: Framing) -> Self {
        match framing {
            Framing::Empty => BodyEnd::Length { left: 0 },
            Framing::Length(n) => BodyEnd::Length { left: n },
            Framing::Chunked => BodyEnd::Chunked(ChunkedDecoder::default()),
            Framing::UntilClose => BodyEnd::UntilClose,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        match self {
            BodyEnd::Length { left } => *left == 0,
            BodyEnd::Chunked(d) => d.is_done(),
            BodyEnd::UntilClose => false,
        }
    }

    pub(crate) fn feed(&mut self, piece: &[u8]) -> Result<Fed, String> {
        match self {
            BodyEnd::Length { left } => {
                let used = (*left).min(piece.len() as u64) as usize;
                *left -= used as u64;
                Ok(Fed { used, payload: all_of(used), done: *left == 0 })
            }
            BodyEnd::Chunked(d) => d.feed(piece),
            BodyEnd::UntilClose => Ok(Fed { used: piece.len(), payload: all_of(piece.len()), done: false }),
        }
    }
}

/// The payload of a body sent as is: its first `len` bytes.
fn all_of(len: usize) -> Vec<Range<usize>> {
    std::iter::once(0..len).collect()
}

/// An incremental `transfer-encoding: chunked` decoder (RFC 9112 §7.1): chunk-size lines
/// (extensions skipped), data, and the trailer section after the last chunk. A bare LF is
/// accepted where CRLF is due, as hyper does.
#[derive(Debug, Default)]
pub(crate) struct ChunkedDecoder {
    state: Chunk,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size; `digits` so far.
    #[default]
    Start,
    Size {
        size: u64,
        digits: u8,
    },
    /// Skipping a chunk extension up to the line's end.
    Extension {
        size: u64,
    },
    /// After the size line's CR.
    SizeLf {
        size: u64,
    },
    Data {
        left: u64,
    },
    DataCr,
    DataLf,
    /// In the trailer section; `at_line_start` when the next byte begins a line.
    Trailer {
        at_line_start: bool,
    },
    TrailerLf,
    Done,
}

impl ChunkedDecoder {
    pub(crate) fn is_done(&self) -> bool {
        self.state == Chunk::Done
    }

    pub(crate) fn feed(&mut self, piece: &[u8]) -> Result<Fed, String> {
        let mut fed = Fed::default();
        let mut i = 0;
        while i < piece.len() && self.state != Chunk::Done {
            let b = piece[i];
            self.state = match self.state {
                Chunk::Start => Chunk::Size { size: hex(b).ok_or_else(|| bad(b))? as u64, digits: 1 },
                Chunk::Size { size, digits } => match (hex(b), b) {
                    (Some(d), _) if digits < 15 => Chunk::Size { size: size << 4 | d as u64, digits: digits + 1 },
                    (Some(_), _) => return Err("a chunk size beyond 15 hex digits".into()),
                    (None, b';' | b' ' | b'\t') => Chunk::Extension { size },
                    (None, b'\r') => Chunk::SizeLf { size },
                    (None, b'\n') => after_size_line(size),
                    _ => return Err(bad(b)),
                },
                Chunk::Extension { size } => match b {
                    b'\r' => Chunk::SizeLf { size },
                    b'\n' => after_size_line(size),
                    _ => Chunk::Extension { size },
                },
                Chunk::SizeLf { size } if b == b'\n' => after_size_line(size),
                Chunk::Data { left } => {
                    let take = left.min((piece.len() - i) as u64) as usize;
                    fed.payload.push(i..i + take);
                    i += take;
                    self.state =
                        if take as u64 == left { Chunk::DataCr } else { Chunk::Data { left: left - take as u64 } };
                    continue;
                }
                Chunk::DataCr if b == b'\r' => Chunk::DataLf,
                Chunk::DataCr | Chunk::DataLf if b == b'\n' => Chunk::Start,
                Chunk::Trailer { at_line_start: true } if b == b'\r' => Chunk::TrailerLf,
                Chunk::Trailer { .. } | Chunk::TrailerLf if b == b'\n' => {
                    if self.state == (Chunk::Trailer { at_line_start: false }) {
                        Chunk::Trailer { at_line_start: true }
                    } else {
                        Chunk::Done
                    }
                }
                Chunk::Trailer { .. } => Chunk::Trailer { at_line_start: false },
                _ => return Err(bad(b)),
            };
            i += 1;
        }
        fed.used = i;
        fed.done = self.state == Chunk::Done;
        Ok(fed)
    }
}

fn after_size_line(size: u64) -> Chunk {
    if size == 0 {
        Chunk::Trailer { at_line_start: true }
    } else {
        Chunk::Data { left: size }
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn bad(b: u8) -> String {
    format!("the upstream's chunked body is malformed (unexpected byte {:?})", b as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` cut at every `step` bytes; returns the payload and the bytes used.
    fn decode(body: &[u8], step: usize) -> (Vec<u8>, usize, bool) {
        let mut end = BodyEnd::new(Framing::Chunked);
        let (mut payload, mut used, mut done) = (Vec::new(), 0, false);
        for piece in body.chunks(step) {
            if done {
                break;
            }
            let fed = end.feed(piece).unwrap();
            for r in fed.payload {
                payload.extend_from_slice(&piece[r]);
            }
            used += fed.used;
            done = fed.done;
        }
        (payload, used, done)
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_reads_cut() {
        let body = b"9\r\ndata: a\n\n\r\n1c;ext=1\r\ndata: bbbbbbbbbbbbbbbbbbbb\n\n\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let message = body.len() - 4;
        for step in 1..=body.len() {
            let (payload, used, done) = decode(body, step);
            assert_eq!(payload, b"data: a\n\ndata: bbbbbbbbbbbbbbbbbbbb\n\n", "step {step}");
            assert!(done, "step {step}");
            assert_eq!(used, message, "step {step}");
        }
        // Bare LFs, upper-case hex, no trailers.
        let (payload, used, done) = decode(b"A\nabcdefghij\n0\n\n", 3);
        assert_eq!((payload.as_slice(), used, done), (&b"abcdefghij"[..], 16, true));
    }

    #[test]
    fn a_malformed_or_unfinished_chunked_body_is_told() {
        assert!(BodyEnd::new(Framing::Chunked).feed(b"zz\r\n").is_err());
        assert!(BodyEnd::new(Framing::Chunked).feed(b"3\r\nabcX").is_err());
        assert!(BodyEnd::new(Framing::Chunked).feed(b"ffffffffffffffff\r\n").is_err());
        let (_, _, done) = decode(b"3\r\nabc\r\n", 2);
        assert!(!done);
    }

    #[test]
    fn request_heads_the_passthrough_takes_and_those_it_leaves_to_hyper() {
        let raw = b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Api-Key: k\r\nConnection: close\r\n\r\nhello";
        let Parsed::Head(head) = parse_request(raw) else { panic!() };
        assert_eq!(
            (head.method, head.target.as_str(), head.content_length, head.close),
            (Method::POST, "/v1/chat/completions?x=1", 5, true)
        );
        assert_eq!(&raw[head.len..], b"hello");
        assert_eq!(head.headers["x-api-key"], "k");
        assert!(matches!(parse_request(&raw[..30]), Parsed::Partial));
        for other in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            b"POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GARBAGE\r\n\r\n",
        ] {
            assert!(matches!(parse_request(other), Parsed::Other), "{}", String::from_utf8_lossy(other));
        }
        assert!(matches!(parse_request(&vec![b'a'; MAX_HEAD_BYTES + 1]), Parsed::Other));
    }

    #[test]
    fn response_framing() {
        let framing = |raw: &str| parse_response(raw.as_bytes()).unwrap().unwrap().framing;
        assert_eq!(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Framing::Chunked);
        assert_eq!(framing("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"), Framing::Chunked);
        assert_eq!(framing("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n"), Framing::UntilClose);
        assert_eq!(framing("HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n"), Framing::Length(12));
        assert_eq!(framing("HTTP/1.1 204 No Content\r\ncontent-length: 12\r\n\r\n"), Framing::Empty);
        assert_eq!(framing("HTTP/1.1 200 OK\r\n\r\n"), Framing::UntilClose);
        let head = parse_response(b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n").unwrap().unwrap();
        assert!(head.close);
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
    }

    #[test]
    fn heads_are_rewritten_line_by_line_as_spelled() {
        let raw = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:19000\r\nContent-Type: application/json\r\nX-Drop: 1\r\ncontent-length: 2\r\n\r\n";
        let keep = |n: &[u8]| {
            !n.eq_ignore_ascii_case(b"host")
                && !n.eq_ignore_ascii_case(b"x-drop")
                && !n.eq_ignore_ascii_case(b"content-length")
        };
        let up = upstream_request_head(
            raw,
            "/p/v1/chat/completions",
            "gpu:8000",
            keep,
            Some(("authorization", "Bearer k")),
            2,
        );
        assert_eq!(
            String::from_utf8(up).unwrap(),
            "POST /p/v1/chat/completions HTTP/1.1\r\nhost: gpu:8000\r\nContent-Type: application/json\r\nauthorization: Bearer k\r\ncontent-length: 2\r\n\r\n"
        );

        let raw =
            b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\nKeep-Alive: timeout=5\r\nX-Request-Id: r1\r\n\r\n";
        let keep = |n: &[u8]| !n.eq_ignore_ascii_case(b"keep-alive");
        assert_eq!(
            String::from_utf8(client_response_head(raw, keep, false)).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Request-Id: r1\r\n\r\n"
        );
        assert!(String::from_utf8(client_response_head(raw, keep, true))
            .unwrap()
            .ends_with("connection: close\r\n\r\n"));
    }
}
