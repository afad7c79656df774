//! The canonical key a request is matched by: method, path, and the parsed JSON body with
//! sorted keys and array order kept (so `stream: true` and `stream: false` differ, and so
//! does any reordering of messages), after the volatile parts are normalised.
//!
//! Volatile parts, by default (what changes between two runs of the same agent session):
//! * ignore paths: `metadata.user_id` (Claude Code's device and session ids);
//! * value presets, applied to every string: ISO-8601 timestamps and dates, UUIDs, the
//!   `cc_version=…`/`cch=…` values of Claude Code's `x-anthropic-billing-header`, and the
//!   machine-specific paths in Claude Code's system prompt (the home directory and project
//!   slug of `…/.claude/projects/<slug>/`, the `Primary working directory:`), so a session
//!   recorded on one machine is served on another;
//! * more ignore paths with `--ignore a.b.c` (`*` matches any key or index).
//!
//! Before any of that, a request is looked up by its exact bytes ([`ExactKey`]): a client
//! that sends the very body it sent when recording (SDKs serialise the same call the same
//! way, and `asb record` keeps the body as it was sent) is matched
//! without building the canonical text, which on a 100 KB agent body is most of the call.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::Value;

/// What the canonical form leaves out or normalises.
#[derive(Debug, Clone)]
pub struct Normalizer {
    pub(super) ignore: Vec<Vec<String>>,
    pub(super) presets: bool,
    /// 0..ignore.len(): every ignore path, as the canonical writer starts with them.
    pub(super) all_paths: Vec<u32>,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(&[], true)
    }
}

impl Normalizer {
    /// `extra_ignore`: dotted paths (`metadata.user_id`, `messages.*.id`); `presets`: the
    /// value presets above.
    pub fn new(extra_ignore: &[String], presets: bool) -> Self {
        let mut ignore = vec![vec!["metadata".to_string(), "user_id".to_string()]];
        ignore.extend(extra_ignore.iter().map(|p| p.split('.').map(str::to_string).collect()));
        let all_paths = (0..ignore.len() as u32).collect();
        Normalizer { ignore, presets, all_paths }
    }

    /// The canonical body: ignored paths removed, presets applied.
    pub fn canonicalize(&self, mut v: Value) -> Value {
        for path in &self.ignore {
            remove_path(&mut v, path);
        }
        if self.presets {
            apply_presets(&mut v);
        }
        v
    }

    /// A request's key, from its body's bytes (a body that is not JSON is left out).
    pub fn key(&self, method: &str, path: &str, body: &[u8]) -> Key {
        key_of(method, path, self.canonical_text_of(body).as_deref())
    }
}

/// A request as it is matched: method, path and canonical body text (`None`: the body is
/// not JSON).
#[derive(Debug, Clone, Copy)]
pub struct CanonicalRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub text: Option<&'a [u8]>,
}

impl CanonicalRequest<'_> {
    pub fn key(&self) -> Key {
        key_of(self.method, self.path, self.text)
    }
}

/// What a request is matched by: a 128-bit hash (XXH3) of its method, path and canonical
/// body text. A hit is confirmed against the recorded canonical text before it is served
/// ([`super::cassette::Cassette::take`]), so the hash only has to be fast.
pub type Key = u128;

/// The key of method, path and a canonical body text ([`Normalizer::canonical_text_of`]).
pub fn key_of(method: &str, path: &str, canonical_text: Option<&[u8]>) -> Key {
    request_hash(method, path, canonical_text.unwrap_or_default())
}

/// A request's exact bytes, hashed the same way: method, path and body as received. Equal
/// bytes have equal canonical keys whatever the normaliser, so an exact hit needs no
/// canonical text; a different spelling of the same JSON (spacing, key order, a new
/// timestamp) misses here and is matched by [`Key`]. Unlike a key, an exact hit cannot be
/// confirmed (the recorded bytes are not kept): 128 bits make a false one out of reach.
pub type ExactKey = u128;

/// The [`ExactKey`] of a request.
pub fn exact_key_of(method: &str, path: &str, body: &[u8]) -> ExactKey {
    request_hash(method, path, body)
}

/// XXH3-128 of `METHOD path\nbody`.
fn request_hash(method: &str, path: &str, body: &[u8]) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    h.digest128()
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    match v {
        Value::Object(map) => {
            if rest.is_empty() {
                if first == "*" {
                    map.clear();
                } else {
                    map.remove(first);
                }
            } else if first == "*" {
                map.values_mut().for_each(|c| remove_path(c, rest));
            } else if let Some(child) = map.get_mut(first) {
                remove_path(child, rest);
            }
        }
        Value::Array(items) => {
            if first == "*" {
                if rest.is_empty() {
                    items.clear();
                } else {
                    items.iter_mut().for_each(|c| remove_path(c, rest));
                }
            } else if let Ok(i) = first.parse::<usize>() {
                if rest.is_empty() {
                    if i < items.len() {
                        items.remove(i);
                    }
                } else if let Some(child) = items.get_mut(i) {
                    remove_path(child, rest);
                }
            }
        }
        _ => {}
    }
}

fn apply_presets(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(n) = normalize_string(s) {
                *s = n;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(apply_presets),
        Value::Object(map) => map.values_mut().for_each(apply_presets),
        _ => {}
    }
}

/// The literal searches, built once.
static CC_VERSION: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("cc_version="));
static CCH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("cch="));
static CLAUDE_PROJECTS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("/.claude/projects/"));
static WORKING_DIRECTORY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("Primary working directory: "));

/// A volatile substring found in a string: where, how long, and what replaces it.
struct Found {
    start: usize,
    len: usize,
    /// Bytes kept before the replacement (`cc_version=` of `cc_version=2.1…`).
    keep: usize,
    with: &'static str,
}

/// Replaces volatile substrings; `None` when nothing changed.
///
/// Each preset is found by a fast search for what it must contain (a `-` at a fixed
/// offset for UUIDs and dates, a literal for the others), not by trying every position:
/// most strings are long prose or code with nothing to replace. Where matches overlap, the
/// leftmost wins, and at one position the order is UUID, date, billing value, home path,
/// working directory.
pub(super) fn normalize_string(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut found: Vec<(usize, u8, Found)> = Vec::new();
    for dash in memchr::memchr_iter(b'-', b) {
        if let Some(len) = dash.checked_sub(8).and_then(|i| uuid_at(b, i)) {
            found.push((dash - 8, 0, Found { start: dash - 8, len, keep: 0, with: "<uuid>" }));
        }
        if let Some(len) = dash.checked_sub(4).and_then(|i| date_at(b, i)) {
            found.push((dash - 4, 1, Found { start: dash - 4, len, keep: 0, with: "<date>" }));
        }
    }
    // The literal searches cost more to start than a one-byte search: each runs only where
    // the byte it cannot do without is there.
    let has = |byte: u8| memchr::memchr(byte, b).is_some();
    if has(b'=') {
        for finder in [&*CC_VERSION, &*CCH] {
            for i in finder.find_iter(b) {
                if let Some((keep, n)) = billing_value_at(b, i) {
                    found.push((i, 2, Found { start: i, len: keep + n, keep, with: "<v>" }));
                }
            }
        }
    }
    if has(b'/') && CLAUDE_PROJECTS.find(b).is_some() {
        for i in memchr::memchr_iter(b'/', b) {
            if let Some(len) = claude_home_at(b, i) {
                found.push((i, 3, Found { start: i, len, keep: 0, with: "<home>/.claude/projects/<project>" }));
            }
        }
    }
    if has(b':') {
        for i in WORKING_DIRECTORY.find_iter(b) {
            if let Some((keep, n)) = working_dir_at(b, i) {
                found.push((i, 4, Found { start: i, len: keep + n, keep, with: "<cwd>" }));
            }
        }
    }
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|(start, order, _)| (*start, *order));
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (_, _, f) in found {
        if f.start < at {
            continue;
        }
        out.push_str(&s[at..f.start + f.keep]);
        out.push_str(f.with);
        at = f.start + f.len;
    }
    out.push_str(&s[at..]);
    Some(out)
}

/// Bytes that end a path token in prose (`…memory at `/home/x/.claude/…`.`).
fn ends_token(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'`' | b'"' | b'\'' | b')')
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// A UUID (8-4-4-4-12 hex) starting at `i`.
fn uuid_at(b: &[u8], i: usize) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    if b.get(i + 8) != Some(&b'-') || !is_hex(b[i]) || (i > 0 && is_hex(b[i - 1])) {
        return None;
    }
    let mut j = i;
    for (g, len) in GROUPS.iter().enumerate() {
        if b.len() < j + len || !b[j..j + len].iter().all(|&c| is_hex(c)) {
            return None;
        }
        j += len;
        if g < 4 {
            if b.get(j) != Some(&b'-') {
                return None;
            }
            j += 1;
        }
    }
    (b.get(j).is_none_or(|c| !is_hex(*c))).then_some(j - i)
}

/// `YYYY-MM-DD`, optionally followed by `THH:MM[:SS[.frac]][Z|±HH:MM]`.
fn date_at(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i + 4) != Some(&b'-') || !b[i].is_ascii_digit() {
        return None;
    }
    let digits = |from: usize, n: usize| b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit);
    if i > 0 && b[i - 1].is_ascii_digit() {
        return None;
    }
    if !(digits(i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits(i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits(i + 8, 2))
    {
        return None;
    }
    let mut j = i + 10;
    if matches!(b.get(j), Some(b'T' | b' ')) && digits(j + 1, 2) && b.get(j + 3) == Some(&b':') && digits(j + 4, 2) {
        j += 6;
        if b.get(j) == Some(&b':') && digits(j + 1, 2) {
            j += 3;
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
        }
        if b.get(j) == Some(&b'Z') {
            j += 1;
        } else if matches!(b.get(j), Some(b'+' | b'-'))
            && digits(j + 1, 2)
            && b.get(j + 3) == Some(&b':')
            && digits(j + 4, 2)
        {
            j += 6;
        }
    }
    Some(j - i)
}

/// `cc_version=` or `cch=` (Claude Code's billing header): (prefix length, value length).
fn billing_value_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if b[i] != b'c' {
        return None;
    }
    for prefix in [&b"cc_version="[..], &b"cch="[..]] {
        if b[i..].starts_with(prefix) && (i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'_') {
            let start = i + prefix.len();
            let len = b[start..].iter().take_while(|&&c| c != b';' && !c.is_ascii_whitespace()).count();
            return Some((prefix.len(), len));
        }
    }
    None
}

/// An absolute path starting at `i` that runs into `/.claude/projects/<slug>` (Claude
/// Code's per-project memory directory under the user's home): the length up to the end
/// of the slug.
fn claude_home_at(b: &[u8], i: usize) -> Option<usize> {
    const MARK: &[u8] = b"/.claude/projects/";
    if b[i] != b'/' || (i > 0 && !matches!(b[i - 1], b' ' | b'`' | b'"' | b'\'' | b'(' | b'\n' | b'=')) {
        return None;
    }
    let token_end = b[i..].iter().position(|&c| ends_token(c));
    let token = &b[i..i + token_end.unwrap_or(b.len() - i)];
    let at = token.windows(MARK.len()).position(|w| w == MARK)?;
    let slug = token[at + MARK.len()..].iter().take_while(|&&c| c != b'/').count();
    Some(at + MARK.len() + slug)
}

/// `Primary working directory: <path>` (Claude Code's environment section): (prefix
/// length, path length to the end of the line).
fn working_dir_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    const PREFIX: &[u8] = b"Primary working directory: ";
    if b[i] != b'P' || !b[i..].starts_with(PREFIX) {
        return None;
    }
    let start = i + PREFIX.len();
    Some((PREFIX.len(), b[start..].iter().take_while(|&&c| c != b'\n').count()))
}

/// serde_json's compact form of a string or scalar. Writing these to memory cannot fail
/// (only maps with non-string keys can, and a `Value` has none).
pub(super) fn write_compact<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(n: &Normalizer, method: &str, path: &str, body: &Value) -> Key {
        n.key(method, path, body.to_string().as_bytes())
    }

    #[test]
    fn key_order_does_not_matter_but_array_order_and_stream_do() {
        let n = Normalizer::default();
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "a"}], "stream": true});
        let b = json!({"stream": true, "messages": [{"content": "a", "role": "user"}], "model": "m"});
        assert_eq!(key(&n, "POST", "/v1/messages", &a), key(&n, "POST", "/v1/messages", &b));
        let c = json!({"model": "m", "messages": [{"role": "user", "content": "a"}], "stream": false});
        assert_ne!(key(&n, "POST", "/v1/messages", &a), key(&n, "POST", "/v1/messages", &c));
        assert_ne!(key(&n, "POST", "/v1/messages", &a), key(&n, "POST", "/v1/chat/completions", &a));
    }

    #[test]
    fn volatile_values_are_normalised() {
        let n = Normalizer::default();
        let run1 = json!({"system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.123; cc_entrypoint=sdk-cli; cch=abc12;"},
            {"type": "text", "text": "CWD: /tmp/a\nDate: 2026-11-24"}],
            "metadata": {"user_id": "{\"device_id\":\"d1\",\"session_id\":\"6f1c2a3b-1111-2222-3333-444455556666\"}"},
            "messages": [{"role": "user", "content": "at 2026-11-24T10:11:12.123Z id 6f1c2a3b-1111-2222-3333-444455556666"}]});
        let run2 = json!({"system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.ed9; cc_entrypoint=sdk-cli; cch=zz99;"},
            {"type": "text", "text": "CWD: /tmp/a\nDate: 2026-11-25"}],
            "metadata": {"user_id": "other"},
            "messages": [{"role": "user", "content": "at 2026-12-01T00:00:00+01:00 id 00000000-aaaa-bbbb-cccc-000000000000"}]});
        assert_eq!(key(&n, "POST", "/p", &run1), key(&n, "POST", "/p", &run2));
        let strict = Normalizer::new(&[], false);
        assert_ne!(key(&strict, "POST", "/p", &run1), key(&strict, "POST", "/p", &run2));
    }

    #[test]
    fn machine_paths_in_claude_code_s_system_prompt_are_normalised() {
        let prompt = |home: &str, cwd: &str| {
            let slug = cwd.replace('/', "-");
            json!({"system": [{"type": "text", "text": format!(
                "memory at `{home}/.claude/projects/{slug}/memory/`. This directory exists.\n - Primary working directory: {cwd}\n - Platform: linux"
            )}]})
        };
        let n = Normalizer::default();
        let a = n.canonicalize(prompt("/home/alice", "/work/app"));
        let b = n.canonicalize(prompt("/tmp/ci-home-x1", "/builds/repo/app"));
        assert_eq!(a, b);
        assert_eq!(
            a["system"][0]["text"],
            "memory at `<home>/.claude/projects/<project>/memory/`. This directory exists.\n - Primary working directory: <cwd>\n - Platform: linux"
        );
        // A path that is not Claude Code's project directory is left alone.
        let other = json!({"text": "see /etc/hosts and /home/a/.claude/settings.json"});
        assert_eq!(n.canonicalize(other.clone()), other);
    }

    /// The presets applied position by position, the plain way: what the fast search must
    /// agree with.
    fn scan_every_position(s: &str) -> Option<String> {
        let b = s.as_bytes();
        let (mut out, mut i, mut changed) = (String::new(), 0, false);
        while i < b.len() {
            if let Some(n) = uuid_at(b, i) {
                out.push_str("<uuid>");
                i += n;
            } else if let Some(n) = date_at(b, i) {
                out.push_str("<date>");
                i += n;
            } else if let Some((keep, n)) = billing_value_at(b, i) {
                out.push_str(&s[i..i + keep]);
                out.push_str("<v>");
                i += keep + n;
            } else if let Some(n) = claude_home_at(b, i) {
                out.push_str("<home>/.claude/projects/<project>");
                i += n;
            } else if let Some((keep, n)) = working_dir_at(b, i) {
                out.push_str(&s[i..i + keep]);
                out.push_str("<cwd>");
                i += keep + n;
            } else {
                let ch = s[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
                continue;
            }
            changed = true;
        }
        changed.then_some(out)
    }

    proptest::proptest! {
        #[test]
        fn fast_search_finds_what_a_scan_of_every_position_finds(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "2026-11-24", "T10:11:12.5Z", "+02:00", "123e4567-e89b-12d3-a456-426614174000", "cc_version=2.1.1",
                "cch=ab1;", "/home/u/.claude/projects/-w-x/", "Primary working directory: /w", "\n", " ", "-", "a",
                "f", "1", "9", "`", "/", "=", "(", "c", "P", "é", "x_", "0000",
            ]), 0..40)
        ) {
            let s: String = pieces.concat();
            proptest::prop_assert_eq!(normalize_string(&s), scan_every_position(&s));
        }
    }

    #[test]
    fn ignore_paths_with_wildcards() {
        let n = Normalizer::new(&["messages.*.id".to_string()], false);
        let a = json!({"messages": [{"id": 1, "c": "x"}, {"id": 2, "c": "y"}]});
        let b = json!({"messages": [{"id": 7, "c": "x"}, {"id": 8, "c": "y"}]});
        assert_eq!(key(&n, "POST", "/p", &a), key(&n, "POST", "/p", &b));
        assert_eq!(normalize_string("2026-1-1"), None);
        assert_eq!(normalize_string("v2026-11-24x").as_deref(), Some("v<date>x"));
    }
}
