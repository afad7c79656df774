//! Property tests of the hand-written HTTP/1.1 framing ([`super::http1`]) on arbitrary
//! input: heads and bodies from a peer must never panic the proxy, and a well-formed chunked
//! body decodes to its payload however the network cuts it.

use proptest::prelude::*;
use proptest::sample::Index;

use super::http1::{parse_request, parse_response, BodyEnd, Framing, Parsed};

/// `input` cut at the given points (sorted, deduplicated), in order.
fn cut<'a>(input: &'a [u8], points: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = points.iter().map(|p| p.index(input.len() + 1)).collect();
    at.extend([0, input.len()]);
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| &input[w[0]..w[1]]).collect()
}

/// Feeds `pieces` until the body ends: (payload, bytes used, done). Checks on the way that
/// every answer stays inside its piece.
fn feed_all(end: &mut BodyEnd, pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), String> {
    let (mut payload, mut used) = (Vec::new(), 0);
    for piece in pieces {
        let fed = end.feed(piece)?;
        assert!(fed.used <= piece.len(), "used {} of a {}-byte piece", fed.used, piece.len());
        let mut last = 0;
        for r in &fed.payload {
            assert!(last <= r.start && r.start <= r.end && r.end <= fed.used, "{:?} in {}", fed.payload, fed.used);
            last = r.end;
            payload.extend_from_slice(&piece[r.clone()]);
        }
        used += fed.used;
        if fed.done {
            assert!(end.is_done());
            return Ok((payload, used, true));
        }
        assert_eq!(fed.used, piece.len(), "a body not done uses its whole piece");
    }
    Ok((payload, used, end.is_done()))
}

/// Pieces of HTTP framing, dropped into arbitrary bytes.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"HTTP/1.1 ",
    b"HTTP/1.0 200 OK\r\n",
    b"POST / HTTP/1.1\r\n",
    b"content-length: ",
    b"transfer-encoding: chunked\r\n",
    b"connection: close\r\n",
    b"ffffffffffffffff",
];

/// Bytes with the characters and words HTTP framing turns on over-represented.
fn framing_soup(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => any::<u8>().prop_map(|b| vec![b]),
            2 => proptest::sample::select(b"\r\n:; \t0123456789abcdefABCDEF".to_vec()).prop_map(|b| vec![b]),
            1 => proptest::sample::select(TOKENS).prop_map(|t| t.to_vec()),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

/// A head's worth of arbitrary header lines after a plausible start line.
fn head_soup(start: &'static str) -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec(("[a-zA-Z-]{0,12}", framing_soup(24)), 0..8), any::<bool>()).prop_map(
        move |(lines, finished)| {
            let mut out = start.as_bytes().to_vec();
            for (name, value) in lines {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(&value);
                out.extend_from_slice(b"\r\n");
            }
            if finished {
                out.extend_from_slice(b"\r\n");
            }
            out
        },
    )
}

/// A well-formed chunked body: its payload and its bytes.
fn chunked_body() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let chunk = (proptest::collection::vec(any::<u8>(), 1..40), any::<bool>(), any::<bool>(), any::<bool>());
    let trailers = proptest::collection::vec(("[a-z-]{1,10}", "[ -~]{0,12}"), 0..3);
    (proptest::collection::vec(chunk, 0..8), trailers, any::<bool>()).prop_map(|(chunks, trailers, bare_lf)| {
        let eol: &[u8] = if bare_lf { b"\n" } else { b"\r\n" };
        let (mut payload, mut body) = (Vec::new(), Vec::new());
        for (data, upper, extension, zeros) in chunks {
            let size = if upper { format!("{:X}", data.len()) } else { format!("{:x}", data.len()) };
            body.extend_from_slice(if zeros { b"00" } else { b"" });
            body.extend_from_slice(size.as_bytes());
            if extension {
                body.extend_from_slice(b";name=\"va;lue\"");
            }
            body.extend_from_slice(eol);
            body.extend_from_slice(&data);
            body.extend_from_slice(eol);
            payload.extend_from_slice(&data);
        }
        body.extend_from_slice(b"0");
        body.extend_from_slice(eol);
        for (name, value) in trailers {
            body.extend_from_slice(format!("{name}: {value}").as_bytes());
            body.extend_from_slice(eol);
        }
        body.extend_from_slice(eol);
        (payload, body)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes at all: a request head parses, is partial, or is hyper's; never a panic.
    #[test]
    fn any_request_bytes_parse_or_are_refused(input in framing_soup(200), head in head_soup("POST /v1/messages HTTP/1.1\r\n")) {
        for bytes in [&input, &head] {
            if let Parsed::Head(h) = parse_request(bytes) {
                prop_assert!(h.len <= bytes.len());
            }
        }
    }

    /// Any bytes at all: a response head parses, is partial, or is an error; never a panic.
    #[test]
    fn any_response_bytes_parse_or_are_refused(input in framing_soup(200), head in head_soup("HTTP/1.1 200 OK\r\n")) {
        for bytes in [&input, &head] {
            if let Ok(Some(h)) = parse_response(bytes) {
                prop_assert!(h.len <= bytes.len());
            }
        }
    }

    /// Any bytes as a body, in any framing, cut anywhere: never a panic, every answer inside
    /// its piece, and a length-framed body's payload is its first bytes.
    #[test]
    fn any_body_bytes_are_fed_without_panic(
        input in framing_soup(300),
        points in proptest::collection::vec(any::<Index>(), 0..12),
        length in 0u64..400,
        framing in 0..4u8,
    ) {
        let framing = match framing {
            0 => Framing::Empty,
            1 => Framing::Length(length),
            2 => Framing::Chunked,
            _ => Framing::UntilClose,
        };
        let pieces = cut(&input, &points);
        let fed = feed_all(&mut BodyEnd::new(framing), &pieces);
        match framing {
            Framing::Length(n) => {
                let (payload, used, done) = fed.unwrap();
                let n = (n as usize).min(input.len());
                prop_assert_eq!(&payload[..], &input[..n]);
                prop_assert_eq!(used, n);
                prop_assert_eq!(done, n as u64 == length);
            }
            Framing::UntilClose => prop_assert_eq!(fed.unwrap().0, input.clone()),
            _ => {}
        }
    }

    /// A well-formed chunked body decodes to its payload and ends at its last byte,
    /// whatever the cuts; bytes after it are not the body's.
    #[test]
    fn chunked_bodies_decode_whatever_the_cuts(
        (payload, body) in chunked_body(),
        points in proptest::collection::vec(any::<Index>(), 0..12),
        next in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut stream = body.clone();
        stream.extend_from_slice(&next);
        let pieces = cut(&stream, &points);
        let (decoded, used, done) = feed_all(&mut BodyEnd::new(Framing::Chunked), &pieces).unwrap();
        prop_assert!(done);
        prop_assert_eq!(used, body.len());
        prop_assert_eq!(decoded, payload);
    }
}
