//! The canonical text of a request body by a hand-written scan of its bytes: the fast way
//! for the bodies agents send. It writes exactly what the serde visitor of
//! [`super::canonical_visitor`] writes (the property tests below hold it to that), and gives up —
//! the visitor then writes the text — on what it does not handle itself: a key with
//! escapes, a key twice in one object, nesting deeper than 100, and anything that is not
//! well-formed JSON (the visitor then says so). A number other than a plain integer is read
//! and written by serde_json alone.
//!
//! Why by hand: every call `asb serve` answers goes through this, and on a small call the
//! serde visitor's generic parsing was ≈ 2 µs of ≈ 30. The scan reads each byte once,
//! copies strings without escapes as they are (serde_json would write the same bytes), and
//! decodes only strings with escapes.

use std::borrow::Cow;

use super::scratch::Scratch;
use super::{normalize_string, write_compact, Normalizer, Step};

/// Nesting deeper than this is left to serde_json (whose limit is 128).
const MAX_DEPTH: usize = 100;

/// Writes the canonical text of `json` to `out`; `None` when the scan gave up (`out` then
/// holds a partial text).
pub(super) fn canonical_text(
    normalizer: &Normalizer,
    json: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Option<()> {
    scratch.fields.clear();
    let mut scan = Scan { input: json, pos: 0, out, scratch, normalizer };
    scan.value(0, &normalizer.all_paths)?;
    scan.skip_whitespace();
    (scan.pos == json.len()).then_some(())
}

struct Scan<'a, 'o> {
    input: &'a [u8],
    pos: usize,
    out: &'o mut Vec<u8>,
    scratch: &'o mut Scratch,
    normalizer: &'o Normalizer,
}

impl<'a> Scan<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// One value at nesting `depth`, under the ignore paths `live` that lead to it.
    fn value(&mut self, depth: usize, live: &[u32]) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.object(depth, live),
            b'[' => self.array(depth, live),
            b'"' => {
                let text = self.string()?;
                self.write_string(text);
                Some(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// After an item of an array or object: `Some(true)` past the `close` that ends it,
    /// `Some(false)` past the comma before the next item.
    fn end_of_item(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        let byte = self.peek()?;
        self.pos += 1;
        match byte {
            b',' => Some(false),
            _ if byte == close => Some(true),
            _ => None,
        }
    }

    /// A value that an ignore path leaves out: read, not written.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        let mark = self.out.len();
        self.value(depth, &[])?;
        self.out.truncate(mark);
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.input.get(self.pos..end)? == word).then_some(())?;
        self.pos = end;
        self.out.extend_from_slice(word);
        Some(())
    }

    /// A plain integer is written as it came (serde_json writes the same digits); any
    /// other number as serde_json reads and writes it alone.
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        let mut end = start + usize::from(self.input[start] == b'-');
        let digits = end;
        while let Some(b'0'..=b'9') = self.input.get(end) {
            end += 1;
        }
        let plain = match self.input.get(end) {
            Some(b'.' | b'e' | b'E') => false,
            // 18 digits always fit an i64; "-0" and leading zeros are serde_json's to judge.
            _ => {
                (1..=18).contains(&(end - digits))
                    && (self.input[digits] != b'0' || end - digits == 1)
                    && self.input[start..end] != *b"-0"
            }
        };
        if !plain {
            while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.input.get(end) {
                end += 1;
            }
        }
        if !matches!(self.input.get(end), None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}')) {
            return None;
        }
        let token = &self.input[start..end];
        self.pos = end;
        if plain {
            self.out.extend_from_slice(token);
        } else {
            write_compact(&serde_json::from_slice::<serde_json::Number>(token).ok()?, self.out);
        }
        Some(())
    }

    /// A string at `pos` (its opening quote): borrowed when it has no escapes, decoded when
    /// it has. `None` for a control character or a string that does not end.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos;
        let mut end = start + 1;
        let mut escaped = false;
        loop {
            end += memchr::memchr2(b'"', b'\\', self.input.get(end..)?)?;
            if self.input[end] == b'"' {
                break;
            }
            escaped = true;
            end += 2;
        }
        self.pos = end + 1;
        if escaped {
            // serde_json decodes it (and refuses control characters).
            return serde_json::from_slice::<String>(&self.input[start..=end]).ok().map(Cow::Owned);
        }
        let text = &self.input[start + 1..end];
        if text.iter().any(|&b| b < 0x20) {
            return None;
        }
        std::str::from_utf8(text).ok().map(Cow::Borrowed)
    }

    /// A string value, with the presets applied as the visitor applies them. One that came
    /// without escapes has nothing to escape: its bytes are what serde_json would write.
    fn write_string(&mut self, text: Cow<'_, str>) {
        match (self.normalizer.presets.then(|| normalize_string(&text)).flatten(), text) {
            (Some(normalized), _) => write_compact(&normalized, self.out),
            (None, Cow::Borrowed(text)) => {
                self.out.push(b'"');
                self.out.extend_from_slice(text.as_bytes());
                self.out.push(b'"');
            }
            (None, Cow::Owned(text)) => write_compact(&text, self.out),
        }
    }

    fn array(&mut self, depth: usize, live: &[u32]) -> Option<()> {
        self.pos += 1;
        self.out.push(b'[');
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            self.out.push(b']');
            return Some(());
        }
        let mut first = true;
        for index in 0.. {
            let (live, skip) = self.normalizer.follow(live, depth, Step::Index(index));
            if skip {
                self.skip_value(depth + 1)?;
            } else {
                if !first {
                    self.out.push(b',');
                }
                self.value(depth + 1, &live)?;
                first = false;
            }
            if self.end_of_item(b']')? {
                break;
            }
        }
        self.out.push(b']');
        Some(())
    }

    /// Fields are written in arrival order with their places noted, then put in key order
    /// if they were not in it (as the visitor does).
    fn object(&mut self, depth: usize, live: &[u32]) -> Option<()> {
        self.pos += 1;
        self.out.push(b'{');
        let start = self.out.len();
        let base = self.scratch.fields.len();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
            self.out.push(b'}');
            return Some(());
        }
        let mut sorted = true;
        let mut previous: Option<&'a str> = None;
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            let Cow::Borrowed(key) = self.string()? else { return None };
            self.skip_whitespace();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            let (live, skip) = self.normalizer.follow(live, depth, Step::Key(key));
            if skip {
                self.skip_value(depth + 1)?;
            } else {
                if let Some(previous) = previous {
                    if previous == key {
                        return None;
                    }
                    sorted &= previous < key;
                    self.out.push(b',');
                }
                let field = self.out.len();
                self.out.push(b'"');
                self.out.extend_from_slice(key.as_bytes());
                self.out.push(b'"');
                let key_end = self.out.len();
                self.out.push(b':');
                self.value(depth + 1, &live)?;
                self.scratch.fields.push((field, key_end, self.out.len()));
                previous = Some(key);
            }
            if self.end_of_item(b'}')? {
                break;
            }
        }
        if !sorted {
            let out = &mut *self.out;
            let fields = &mut self.scratch.fields[base..];
            let key = |&(field, key_end, _): &(usize, usize, usize)| &out[field + 1..key_end - 1];
            fields.sort_unstable_by(|a, b| key(a).cmp(key(b)));
            if fields.windows(2).any(|w| key(&w[0]) == key(&w[1])) {
                return None;
            }
            self.scratch.rewrite_in_order(out, start, base);
        }
        self.scratch.fields.truncate(base);
        self.out.push(b'}');
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::test_json::json_value;

    /// The scan's text (`None`: it gave up) and the visitor's.
    fn both(n: &Normalizer, json: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let mut scratch = Scratch::default();
        let mut scanned = Vec::new();
        let scanned = canonical_text(n, json, &mut scanned, &mut scratch).map(|()| scanned);
        let mut visited = Vec::new();
        let visited = n.canonical_text_by_visitor(json, &mut visited, &mut scratch).map(|()| visited);
        (scanned, visited)
    }

    #[test]
    fn an_agents_body_is_scanned_not_handed_over() {
        let n = Normalizer::new(&["metadata.user_id".to_string()], true);
        let body = json!({"model": "claude-x", "max_tokens": 32000, "temperature": 0.7, "stream": true,
            "system": [{"type": "text", "text": "You are Claude Code.\n\tcwd: /home/u/p\n\"quoted\" é 2026-11-24T10:11:12Z"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi\n"}]}],
            "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {"b": {}, "a": []}}}],
            "metadata": {"user_id": "u-1"}, "top_p": 1e-7, "n": -3, "big": 1.5e300});
        for text in [body.to_string(), serde_json::to_string_pretty(&body).unwrap()] {
            let (scanned, visited) = both(&n, text.as_bytes());
            assert!(scanned.is_some(), "the scan gave up on {text}");
            assert_eq!(scanned, visited);
        }
    }

    #[test]
    fn what_it_leaves_to_the_visitor() {
        let n = Normalizer::default();
        for text in
            [r#"{"a":1,"a":2}"#, r#"{"b":1,"a":2,"b":3}"#, r#"{"k\u0041":1}"#, "01", "[1,]", "{\"a\" 1}", "\"\x01\""]
        {
            let (scanned, _) = both(&n, text.as_bytes());
            assert_eq!(scanned, None, "{text}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(both(&n, deep.as_bytes()).0, None);
        // …and the whole way still gives the visitor's answer.
        assert_eq!(n.canonical_text_of(br#"{"k\u0041":1}"#).as_deref(), Some(&br#"{"kA":1}"#[..]));
    }

    proptest! {
        #[test]
        fn scans_what_serde_writes_as_the_visitor_does(v in json_value(true), pretty in any::<bool>(), presets in any::<bool>(),
                                                       ignore in prop::sample::select(vec!["", "a", "a.b", "*.id", "b.*", "*.*.c", "c.1"])) {
            let extra: Vec<String> = if ignore.is_empty() { vec![] } else { vec![ignore.to_string()] };
            let n = Normalizer::new(&extra, presets);
            let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            let (scanned, visited) = both(&n, text.as_bytes());
            prop_assert!(scanned.is_some());
            prop_assert_eq!(scanned, visited);
        }

        #[test]
        fn on_any_text_it_gives_up_or_agrees(text in "[ \\[\\]{}\":,0-9.eE+\\-aeflnrstu\\\\]{0,40}") {
            let n = Normalizer::default();
            let (scanned, visited) = both(&n, text.as_bytes());
            if scanned.is_some() {
                prop_assert_eq!(scanned, visited);
            }
        }
    }
}
