//! Every rule for keeping secrets out of a recording, in one place: the recorder applies
//! them while it writes (`asb record`, and `asb serve`'s record modes through record's
//! session), and `asb validate` flags what they would have caught in a recording that was
//! written without them (an older build, another tool, a hand edit). One module, so the
//! two can never disagree on what a secret looks like.
//!
//! Where a secret can hide, and what is done about it:
//!
//! * **Headers** named like a credential ([`is_secret_header`]: the name contains `key`,
//!   `token` (not `tokens`: counts), `secret`, `auth`, `password`, `passwd`, `credential`,
//!   `session`, `cookie` or `signature`; challenges and CORS flags excepted), request and
//!   response alike: recorded as `[redacted]`, and their values (plus the credential after
//!   an `authorization` scheme word in any casing, and for `Basic` the decoded password)
//!   registered in the session's [`Secrets`].
//! * **Query parameters** named like a credential ([`is_secret_query_param`]: the header
//!   rule, plus `sig`, `pwd`, `pass`) in a request path, or in a URL inside an error text or
//!   header value: their value becomes `[redacted]` ([`redact_query`], [`redact_urls`]) and
//!   is registered (as sent and percent-decoded).
//! * **Userinfo** in URLs (`http://user:PASS@host`): `-e`'s is never used in a printed or
//!   recorded URL (it is sent as Basic auth) and is registered; any other URL's userinfo is
//!   replaced wherever it is in a line ([`Secrets::scrub`]). For `http(s)`/`ws(s)` URLs
//!   the user alone counts (`https://TOKEN@host`); other schemes only with a password
//!   (`ssh://git@host` is not a secret).
//! * **JSON body fields** named like a key ([`is_secret_field`]: `api_key`, `apiKey`,
//!   `access_token`, `password`, `client_secret`, ..., at any depth of request bodies and
//!   JSON response bodies; not `signature`, which in Anthropic thinking blocks is content
//!   that must survive): string values registered. This happens where the line is built,
//!   on the writer's thread, never on the proxy's.
//!
//! Registered values are replaced by `[redacted]` everywhere in a line, after it is
//! serialised ([`Secrets::scrub`], called by the recording writer), so an echo by the
//! upstream, a prompt repeating a key, or the client's body bytes (`body_as_sent`) are all
//! covered. Values shorter than 4 characters, `true`/`false`/`null`/`none` and short
//! numbers are not registered: scrubbing them would shred ordinary text. The list is
//! bounded ([`MAX_SECRETS`], oldest dropped) and a scrub stays one pass over the line
//! however long the list (the `cost` tests measure it).
//!
//! Key-shaped strings in free text (`sk-…`, `bearer <token>`, `basic <base64>`) are not
//! redacted by the recorder; `asb validate` flags them ([`super::key_shapes`]).

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use http::HeaderMap;
use serde_json::Value;

/// Written in place of every secret.
pub(crate) const REDACTED: &str = "[redacted]";
/// Secrets a session remembers; past it the oldest are dropped (a client sending a fresh
/// signature per call must not grow the list forever).
const MAX_SECRETS: usize = 4096;
/// New secrets held for the next scrub beyond which the adding thread indexes them.
const MAX_PENDING: usize = 256;
/// Shorter values are not registered: too likely to be ordinary text.
const MIN_SECRET_LEN: usize = 4;
/// Longer body-field values are not registered (a blob, not a key).
const MAX_FIELD_SECRET_LEN: usize = 8192;

// ---- Names -------------------------------------------------------------------------------

/// Headers whose names have such a part and whose values are not secrets: challenges
/// (what a server asks for), CORS flags, and a per-request retry id.
const NOT_SECRET_HEADERS: &[&str] =
    &["www-authenticate", "proxy-authenticate", "authentication-info", "idempotency-key"];

/// Whether `name` (any casing) contains a part that makes it a credential: `key`, `token`
/// (not `tokens`: rate-limit counters are named so), `secret`, `session`, `signature`,
/// `auth`, `password`, `passwd`, `credential`, `cookie`. Per call on the proxy's thread for
/// every request header: only the parts starting with each byte are tried there.
fn has_secret_part(name: &str) -> bool {
    let n = name.as_bytes();
    let at =
        |i: usize, part: &str| n.len() - i >= part.len() && n[i..i + part.len()].eq_ignore_ascii_case(part.as_bytes());
    (0..n.len()).any(|i| match n[i].to_ascii_lowercase() {
        b'k' => at(i, "key"),
        b't' => at(i, "token") && !n.get(i + 5).is_some_and(|b| b.eq_ignore_ascii_case(&b's')),
        b's' => at(i, "secret") || at(i, "session") || at(i, "signature"),
        b'a' => at(i, "auth"),
        b'p' => at(i, "password") || at(i, "passwd"),
        b'c' => at(i, "credential") || at(i, "cookie"),
        _ => false,
    })
}

/// Whether a header (request or response, any casing) carries a credential.
pub(crate) fn is_secret_header(name: &str) -> bool {
    has_secret_part(name)
        && !NOT_SECRET_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h))
        && !name.get(..15).is_some_and(|p| p.eq_ignore_ascii_case("access-control-"))
}

/// Whether a query parameter carries a credential.
fn is_secret_query_param(name: &str) -> bool {
    has_secret_part(name) || ["sig", "pwd", "pass"].iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// Ends of JSON field names (lower-cased, `_` and `-` dropped) that hold a credential.
const SECRET_FIELD_ENDS: &[&str] = &[
    "apikey",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "privatekey",
    "secretkey",
    "accesskey",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "apitoken",
    "bearertoken",
    "sessiontoken",
    "securitytoken",
    "credential",
    "credentials",
    "authorization",
    "cookie",
];

/// Whether a JSON object field holds a credential (`api_key`, `apiKey`, `client_secret`...).
pub(crate) fn is_secret_field(name: &str) -> bool {
    let n: String = name.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    SECRET_FIELD_ENDS.iter().any(|end| n.ends_with(end))
}

/// Whether a value is worth registering: long enough, and not a word or number every line
/// has.
pub(crate) fn worth_scrubbing(value: &str) -> bool {
    let v = value.trim();
    v.len() >= MIN_SECRET_LEN
        && v != REDACTED
        && !["true", "false", "null", "none"].iter().any(|w| v.eq_ignore_ascii_case(w))
        && !(v.len() < 8 && v.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a recorded value was redacted (`[redacted]`, or several joined with `, `).
pub(crate) fn is_redacted(value: &str) -> bool {
    value.split(", ").all(|part| part == REDACTED)
}

// ---- Credentials inside values -------------------------------------------------------------

/// What to register for a credential header's value: the value, the credential after a
/// scheme word in any casing (`bearer`, `Basic`, `token`...), and for Basic the decoded
/// `user:password` and the password.
pub(crate) fn credential_parts(value: &str, mut found: impl FnMut(&str)) {
    let value = value.trim();
    found(value);
    let Some((scheme, rest)) = value.split_once([' ', '\t']) else { return };
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
        return;
    }
    let credential = rest.trim();
    found(credential);
    if scheme.eq_ignore_ascii_case("basic") {
        if let Some(decoded) = base64_decode(credential).and_then(|b| String::from_utf8(b).ok()) {
            found(&decoded);
            if let Some((_, password)) = decoded.split_once(':') {
                found(password);
            }
        }
    }
}

// ---- Query parameters -----------------------------------------------------------------------

/// `path` (path and query) with the value of every credential-named query parameter
/// replaced by `[redacted]`; `found` gets each value, as sent and percent-decoded.
pub(crate) fn redact_query(path: &str, mut found: impl FnMut(&str)) -> Cow<'_, str> {
    let Some(q) = path.find('?') else { return Cow::Borrowed(path) };
    let end = path[q..].find('#').map_or(path.len(), |i| q + i);
    let mut out = String::with_capacity(path.len());
    out.push_str(&path[..=q]);
    let mut changed = false;
    for (i, param) in path[q + 1..end].split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match param.split_once('=') {
            Some((name, value)) if is_secret_query_param(name) && !value.is_empty() && value != REDACTED => {
                found(value);
                found(&percent_decode(value));
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
                changed = true;
            }
            _ => out.push_str(param),
        }
    }
    out.push_str(&path[end..]);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(path)
    }
}

/// What [`find_in_urls`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlSecret {
    /// Byte range of the secret in the text.
    pub start: usize,
    pub end: usize,
    /// `userinfo` or the query parameter's name.
    pub what: String,
}

/// Ends a URL's authority or a query value in running text (JSON escapes included).
fn ends_url_part(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b')' | b'}')
}

/// Secrets in URLs inside `text`: userinfo (with `query`, also credential-named query
/// parameters' values), left to right. Values already `[redacted]` are skipped.
pub(crate) fn find_in_urls(text: &str, query: bool) -> Vec<UrlSecret> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(bytes, b"://") {
        let scheme_start =
            bytes[..at].iter().rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'+')).map_or(0, |i| i + 1);
        let scheme = &text[scheme_start..at];
        let start = at + 3;
        let len = bytes[start..].iter().position(|b| ends_url_part(*b) || matches!(b, b'/' | b'?' | b'#'));
        let authority = &text[start..start + len.unwrap_or(bytes.len() - start)];
        let Some(userinfo_len) = authority.rfind('@') else { continue };
        let userinfo = &authority[..userinfo_len];
        let web = ["http", "https", "ws", "wss"].iter().any(|s| scheme.eq_ignore_ascii_case(s));
        let has_password = userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty());
        if !userinfo.is_empty() && userinfo != REDACTED && (web || has_password) {
            out.push(UrlSecret { start, end: start + userinfo_len, what: "userinfo".into() });
        }
    }
    if query {
        let mut i = 0;
        while let Some(off) = memchr::memchr2(b'?', b'&', &bytes[i..]) {
            let name_start = i + off + 1;
            i = name_start;
            let name_len = bytes[name_start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                .count();
            if name_len == 0 || bytes.get(name_start + name_len) != Some(&b'=') {
                continue;
            }
            let name = &text[name_start..name_start + name_len];
            let value_start = name_start + name_len + 1;
            let value_len =
                bytes[value_start..].iter().take_while(|b| !ends_url_part(**b) && !matches!(b, b'&' | b'#')).count();
            let value = &text[value_start..value_start + value_len];
            if is_secret_query_param(name) && !value.is_empty() && value != REDACTED {
                out.push(UrlSecret { start: value_start, end: value_start + value_len, what: name.to_string() });
            }
            i = value_start + value_len;
        }
    }
    out.sort_by_key(|s| s.start);
    out
}

/// `text` with what [`find_in_urls`] finds replaced by `[redacted]`; `found` gets each
/// value (and for userinfo, the user and the password, percent-decoded).
pub(crate) fn redact_urls(text: &str, query: bool, mut found: impl FnMut(&str)) -> Cow<'_, str> {
    let secrets = find_in_urls(text, query);
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for s in secrets {
        if s.start < copied {
            continue;
        }
        let value = &text[s.start..s.end];
        found(value);
        if s.what == "userinfo" {
            let (user, password) = value.split_once(':').unwrap_or((value, ""));
            found(&percent_decode(user));
            found(&percent_decode(password));
        } else {
            found(&percent_decode(value));
        }
        out.push_str(&text[copied..s.start]);
        out.push_str(REDACTED);
        copied = s.end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// An endpoint URL as given (`http://user:pass@host/v1`) split into the URL without its
/// userinfo and the (percent-decoded) user and password, if it had any. Text that is not
/// a URL comes back as is.
pub(crate) fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Some(at) = url.find("://") else { return (url.to_string(), None) };
    let start = at + 3;
    let len = url[start..].find(['/', '?', '#']).unwrap_or(url.len() - start);
    let Some(userinfo_len) = url[start..start + len].rfind('@') else { return (url.to_string(), None) };
    let userinfo = &url[start..start + userinfo_len];
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let without = format!("{}{}", &url[..start], &url[start + userinfo_len + 1..]);
    (without, Some((percent_decode(user), percent_decode(password))))
}

// ---- Encodings ------------------------------------------------------------------------------

/// `%XX` decoded (invalid escapes kept as they are); the bytes read as UTF-8, lossily.
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (for `Authorization: Basic`).
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional; `None` for anything else.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let v = BASE64.iter().position(|b| *b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

// ---- The session's secrets ------------------------------------------------------------------

/// Values never to be written: keys, tokens, passwords the session has seen. Shared by the
/// proxy's threads (which add what arrives in headers) and the recording writer (which adds
/// what lines hold, and scrubs them). Bounded by [`MAX_SECRETS`], oldest dropped first.
///
/// Adding is cheap and lock-light, for the proxy's hot path: a value already known costs a
/// read lock and a hash lookup; a new one goes to a pending list that the next scrub
/// indexes. A scrub costs one pass over the line whatever the number of secrets: candidate
/// positions are found by a table of the secrets' first two bytes, then their first four.
#[derive(Clone, Default)]
pub(crate) struct Secrets(Arc<Shared>);

#[derive(Default)]
struct Shared {
    /// Added, not yet indexed (the next scrub indexes them).
    pending: Mutex<Vec<Box<str>>>,
    /// What scrubs use; replaced copy-on-write, so a scrub reads it without holding a lock.
    index: RwLock<Arc<Index>>,
}

#[derive(Clone)]
struct Index {
    /// Secrets by their first 4 bytes, longest first.
    by_prefix: HashMap<[u8; 4], Vec<Arc<str>>>,
    /// How many secrets start with each 2 bytes (the scan's first filter).
    first_two: Vec<u16>,
    /// Oldest first, for dropping past the bound.
    order: VecDeque<Arc<str>>,
}

impl Default for Index {
    fn default() -> Self {
        Index { by_prefix: HashMap::new(), first_two: vec![0; 1 << 16], order: VecDeque::new() }
    }
}

fn prefix4(b: &[u8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}

fn prefix2(b: &[u8]) -> usize {
    usize::from(u16::from_le_bytes([b[0], b[1]]))
}

impl Index {
    fn contains(&self, secret: &str) -> bool {
        self.by_prefix.get(&prefix4(secret.as_bytes())).is_some_and(|v| v.iter().any(|s| &**s == secret))
    }

    fn insert(&mut self, secret: &str) {
        if self.contains(secret) {
            return;
        }
        if self.order.len() >= MAX_SECRETS {
            if let Some(old) = self.order.pop_front() {
                self.remove(&old);
            }
        }
        let secret: Arc<str> = Arc::from(secret);
        let bucket = self.by_prefix.entry(prefix4(secret.as_bytes())).or_default();
        let at = bucket.iter().position(|s| s.len() < secret.len()).unwrap_or(bucket.len());
        bucket.insert(at, Arc::clone(&secret));
        self.first_two[prefix2(secret.as_bytes())] += 1;
        self.order.push_back(secret);
    }

    fn remove(&mut self, secret: &str) {
        let key = prefix4(secret.as_bytes());
        if let Some(bucket) = self.by_prefix.get_mut(&key) {
            bucket.retain(|s| &**s != secret);
            if bucket.is_empty() {
                self.by_prefix.remove(&key);
            }
        }
        let count = &mut self.first_two[prefix2(secret.as_bytes())];
        *count = count.saturating_sub(1);
    }
}

impl Secrets {
    /// Adds a secret (and its JSON-escaped spelling, if different). Values that are not
    /// [`worth_scrubbing`] are ignored.
    pub(crate) fn add(&self, secret: &str) {
        let secret = secret.trim();
        if !worth_scrubbing(secret) {
            return;
        }
        self.add_one(secret);
        if secret.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            if let Ok(quoted) = serde_json::to_string(secret) {
                self.add_one(&quoted[1..quoted.len() - 1]);
            }
        }
    }

    fn add_one(&self, secret: &str) {
        if self.0.index.read().unwrap_or_else(|p| p.into_inner()).contains(secret) {
            return;
        }
        let mut pending = self.0.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !pending.iter().any(|s| &**s == secret) {
            pending.push(secret.into());
        }
        // Calls that are forwarded but not recorded add without a scrub to index them.
        if pending.len() >= MAX_PENDING {
            let batch = std::mem::take(&mut *pending);
            drop(pending);
            self.index_batch(batch);
        }
    }

    fn index_batch(&self, batch: Vec<Box<str>>) {
        if batch.is_empty() {
            return;
        }
        let mut index = self.0.index.write().unwrap_or_else(|p| p.into_inner());
        let index = Arc::make_mut(&mut index);
        for s in batch {
            index.insert(&s);
        }
    }

    /// Registers the values of a request's or response's credential headers
    /// ([`is_secret_header`], [`credential_parts`]). Runs on the proxy's thread per call:
    /// no allocation for what is already known.
    pub(crate) fn add_from_headers(&self, headers: &HeaderMap) {
        for (name, value) in headers {
            if is_secret_header(name.as_str()) {
                if let Ok(v) = value.to_str() {
                    credential_parts(v, |s| self.add(s));
                }
            }
        }
    }

    /// Registers the string values of credential-named fields ([`is_secret_field`]) at
    /// any depth of a JSON value.
    pub(crate) fn add_from_json(&self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if s.len() <= MAX_FIELD_SECRET_LEN && is_secret_field(k) => self.add(s),
                        _ => self.add_from_json(v),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.add_from_json(v)),
            _ => {}
        }
    }

    /// How many secrets are known (pending ones included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index_now().order.len()
    }

    /// The index with every pending secret in it.
    fn index_now(&self) -> Arc<Index> {
        let pending = std::mem::take(&mut *self.0.pending.lock().unwrap_or_else(|p| p.into_inner()));
        self.index_batch(pending);
        Arc::clone(&self.0.index.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces every known secret in `text` by `[redacted]` (leftmost, longest first),
    /// and the userinfo of any URL ([`find_in_urls`]).
    pub(crate) fn scrub(&self, text: &mut String) {
        let index = self.index_now();
        let known = match index.order.len() {
            0 => None,
            1..=FEW_SECRETS => replace_few(&index, text),
            _ => replace_known(&index, text),
        };
        if let Some(scrubbed) = known {
            *text = scrubbed;
        }
        if let Cow::Owned(scrubbed) = redact_urls(text, false, |_| {}) {
            *text = scrubbed;
        }
    }
}

/// Up to this many secrets, a scrub searches for each in turn (a vectorised search per
/// secret beats one byte-by-byte pass); past it, one pass over the line with the index.
const FEW_SECRETS: usize = 32;

/// [`replace_known`] for a few secrets: each searched for on its own, then the matches
/// replaced leftmost first, the longest of those starting at the same place.
fn replace_few(index: &Index, text: &str) -> Option<String> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for secret in &index.order {
        found.extend(memchr::memmem::find_iter(text.as_bytes(), secret.as_bytes()).map(|at| (at, secret.len())));
    }
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|&(at, len)| (at, std::cmp::Reverse(len)));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, len) in found {
        if at >= copied {
            out.push_str(&text[copied..at]);
            out.push_str(REDACTED);
            copied = at + len;
        }
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// `text` with the index's secrets replaced, or `None` when it has none of them.
fn replace_known(index: &Index, text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut copied, mut i) = (0, 0);
    while i + MIN_SECRET_LEN <= bytes.len() {
        if index.first_two[prefix2(&bytes[i..])] != 0 {
            let found = index
                .by_prefix
                .get(&prefix4(&bytes[i..]))
                .and_then(|bucket| bucket.iter().find(|s| bytes[i..].starts_with(s.as_bytes())));
            if let Some(secret) = found {
                // A secret is valid UTF-8, so it starts and ends on character boundaries.
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..i]);
                out.push_str(REDACTED);
                i += secret.len();
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.map(|mut out| {
        out.push_str(&text[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn scrubbed(secrets: &Secrets, text: &str) -> String {
        let mut t = text.to_string();
        secrets.scrub(&mut t);
        t
    }

    #[test]
    fn header_names_by_shape() {
        for name in [
            "authorization",
            "Proxy-Authorization",
            "x-api-key",
            "api-key",
            "apikey",
            "x-apikey",
            "x-custom-auth",
            "x-password",
            "x-passwd",
            "x-goog-api-key",
            "x-session-token",
            "x-amz-security-token",
            "cookie",
            "set-cookie",
            "x-signature",
            "x-client-credential",
            "x-my-secret",
            "X-Access-Token",
        ] {
            assert!(is_secret_header(name), "{name} is a credential header");
        }
        for name in [
            "content-type",
            "content-length",
            "accept",
            "accept-encoding",
            "user-agent",
            "anthropic-version",
            "anthropic-beta",
            "x-stainless-lang",
            "x-stainless-package-version",
            "x-stainless-retry-count",
            "x-request-id",
            "request-id",
            "host",
            "connection",
            "keep-alive",
            "x-ratelimit-remaining-tokens",
            "anthropic-ratelimit-input-tokens-remaining",
            "www-authenticate",
            "access-control-allow-credentials",
            "idempotency-key",
            "openai-processing-ms",
        ] {
            assert!(!is_secret_header(name), "{name} is not a credential header");
        }
    }

    #[test]
    fn query_params_and_fields_by_shape() {
        for name in ["key", "api_key", "access_token", "Token", "secret", "password", "signature", "sig", "auth", "pwd"]
        {
            assert!(is_secret_query_param(name), "{name}");
        }
        for name in ["beta", "api-version", "model", "limit", "tokens"] {
            assert!(!is_secret_query_param(name), "{name}");
        }
        for name in
            ["api_key", "apiKey", "access_token", "password", "secret", "client_secret", "x-api-key", "privateKey"]
        {
            assert!(is_secret_field(name), "{name}");
        }
        for name in [
            "signature",
            "max_tokens",
            "key",
            "token",
            "content",
            "thinking",
            "user_id",
            "budget_tokens",
            "tool_use_id",
        ] {
            assert!(!is_secret_field(name), "{name}");
        }
    }

    #[test]
    fn query_values_redacted_and_found() {
        let mut found = Vec::new();
        let path = "/v1/chat/completions?key=abc%2Fdef&beta=true&Sig=xyz1234&api_key=[redacted]&x#frag";
        let out = redact_query(path, |s| found.push(s.to_string()));
        assert_eq!(out, "/v1/chat/completions?key=[redacted]&beta=true&Sig=[redacted]&api_key=[redacted]&x#frag");
        assert_eq!(found, ["abc%2Fdef", "abc/def", "xyz1234", "xyz1234"]);
        assert!(matches!(redact_query("/v1/messages?beta=true", |_| {}), Cow::Borrowed(_)));
        assert!(matches!(redact_query("/v1/messages", |_| {}), Cow::Borrowed(_)));
    }

    #[test]
    fn urls_in_text() {
        let text = "upstream http://u:p%40ss@h:1/v1?token=t0k3n&beta=1 unreachable; see ssh://git@github.com/x \
                    and https://GHTOKEN@github.com/y, \"https://h/?api_key=[redacted]\"";
        let mut found = Vec::new();
        let out = redact_urls(text, true, |s| found.push(s.to_string()));
        assert_eq!(
            out,
            "upstream http://[redacted]@h:1/v1?token=[redacted]&beta=1 unreachable; see ssh://git@github.com/x \
             and https://[redacted]@github.com/y, \"https://h/?api_key=[redacted]\""
        );
        assert!(found.contains(&"p@ss".to_string()) && found.contains(&"t0k3n".to_string()));
        assert!(found.contains(&"GHTOKEN".to_string()));
        assert!(find_in_urls("https://registry.npmjs.org/@scope/pkg and mailto:a@b.c", true).is_empty());
        assert_eq!(
            split_userinfo("http://us%65r:pa:ss@h:8/v1"),
            ("http://h:8/v1".to_string(), Some(("user".to_string(), "pa:ss".to_string())))
        );
        assert_eq!(split_userinfo("http://h/@x"), ("http://h/@x".to_string(), None));
    }

    #[test]
    fn credentials_after_any_scheme() {
        let parts = |v: &str| {
            let mut out = Vec::new();
            credential_parts(v, |s| out.push(s.to_string()));
            out
        };
        assert_eq!(parts("bearer tok123"), ["bearer tok123", "tok123"]);
        assert_eq!(parts("BEARER  tok123 "), ["BEARER  tok123", "tok123"]);
        let blob = base64_encode(b"dave:pw:1");
        assert_eq!(parts(&format!("basic {blob}")), [format!("basic {blob}"), blob, "dave:pw:1".into(), "pw:1".into()]);
        assert_eq!(parts("raw-key-value"), ["raw-key-value"]);
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert!(base64_decode("not base64!").is_none());
    }

    #[test]
    fn secrets_scrub_leftmost_longest_and_registered_from_headers_and_json() {
        let secrets = Secrets::default();
        secrets.add("abcd");
        secrets.add("abcdefgh");
        secrets.add("xyz"); // too short
        secrets.add("true");
        secrets.add("29000");
        secrets.add("q\"uote");
        assert_eq!(
            scrubbed(&secrets, "1 abcdefgh 2 abcdx xyz true 29000"),
            "1 [redacted] 2 [redacted]x xyz true 29000"
        );
        assert_eq!(scrubbed(&secrets, r#"{"a":"q\"uote"}"#), r#"{"a":"[redacted]"}"#);
        assert_eq!(scrubbed(&secrets, "ü abcd ü"), "ü [redacted] ü");
        let mut h = HeaderMap::new();
        h.insert(HeaderName::from_static("authorization"), HeaderValue::from_static("bearer tok-0001"));
        h.insert(HeaderName::from_static("x-custom-auth"), HeaderValue::from_static("cust-0002"));
        h.insert(HeaderName::from_static("x-request-id"), HeaderValue::from_static("req-0003"));
        secrets.add_from_headers(&h);
        let json = serde_json::json!({"a": [{"apiKey": "fld-0004"}], "signature": "sig-0005", "password": 12345678});
        secrets.add_from_json(&json);
        assert_eq!(
            scrubbed(&secrets, "tok-0001 cust-0002 req-0003 fld-0004 sig-0005"),
            "[redacted] [redacted] req-0003 [redacted] sig-0005"
        );
        assert_eq!(scrubbed(&secrets, "see http://u:pw@h/"), "see http://[redacted]@h/");
    }

    #[test]
    fn both_scrub_strategies_agree() {
        let mut index = Index::default();
        for s in ["abcd", "abcdefgh", "cdefXY", "bcdeZZ", "ü-secret"] {
            index.insert(s);
        }
        for text in ["abcdefgh abcdefXY abcdeZZ xabcd ü-secret ab", "none here", "abcdabcd", "cdefXYabcd"] {
            assert_eq!(replace_few(&index, text), replace_known(&index, text), "{text}");
        }
        assert_eq!(replace_known(&index, "abcdefXY").unwrap(), "[redacted]efXY");
    }

    #[test]
    fn secrets_are_bounded_oldest_dropped() {
        let secrets = Secrets::default();
        for i in 0..MAX_SECRETS + 10 {
            secrets.add(&format!("secret-{i:06}"));
        }
        assert!(secrets.0.pending.lock().unwrap().len() < MAX_PENDING, "without scrubs, pending stays bounded");
        assert_eq!(secrets.len(), MAX_SECRETS);
        assert_eq!(scrubbed(&secrets, "secret-000000"), "secret-000000");
        assert_eq!(scrubbed(&secrets, "secret-000010 secret-004105"), "[redacted] [redacted]");
        // Adding what is known changes nothing.
        secrets.add("secret-004105");
        assert_eq!(secrets.len(), MAX_SECRETS);
    }
}

/// The scrub's cost per line, by number of secrets (run in release:
/// `cargo test --release --lib scrub_cost -- --ignored --nocapture`).
#[cfg(test)]
mod cost {
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore]
    fn scrub_cost() {
        // A line like a long agent conversation: ~1 MB of JSON text.
        let turn = r#"{"role":"user","content":"Please look at src/record/proxy.rs and tell me why the https://docs.example.com/page?x=1 link fails; ran `cargo test` and got 3 errors"},"#;
        let line = format!("{{\"messages\":[{}]}}", turn.repeat(1_000_000 / turn.len()));
        for n in [0, 10, 32, 33, 100, MAX_SECRETS] {
            let secrets = Secrets::default();
            let list: Vec<String> = (0..n).map(|i| format!("sk-secret-{i:08}-abcdef")).collect();
            list.iter().for_each(|s| secrets.add(s));
            let mut text = line.clone();
            secrets.scrub(&mut text); // indexes the pending list
            let runs = 20;
            let t = Instant::now();
            for _ in 0..runs {
                let mut text = line.clone();
                secrets.scrub(&mut text);
            }
            let ours = t.elapsed() / runs;
            // The list it replaces: one `contains` per secret.
            let t = Instant::now();
            let old_runs = if n > 100 { 2 } else { runs };
            for _ in 0..old_runs {
                let mut text = line.clone();
                for s in &list {
                    if text.contains(s.as_str()) {
                        text = text.replace(s.as_str(), REDACTED);
                    }
                }
            }
            let old = t.elapsed() / old_runs;
            eprintln!("{n} secrets, {} KB line: scrub {ours:?} (a contains() per secret: {old:?})", line.len() / 1000);
        }
    }

    #[test]
    #[ignore]
    fn header_registration_cost() {
        // What a Claude Code request carries.
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("host", "127.0.0.1:19000"),
            ("accept", "application/json"),
            ("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"),
            ("anthropic-dangerous-direct-browser-access", "true"),
            ("anthropic-version", "2023-06-01"),
            ("authorization", "Bearer sk-ant-oat01-0123456789abcdefghijklmnopqrstuvwxyz"),
            ("content-type", "application/json"),
            ("user-agent", "claude-cli/2.0.0 (external, cli)"),
            ("x-app", "cli"),
            ("x-stainless-arch", "x64"),
            ("x-stainless-lang", "js"),
            ("x-stainless-os", "Linux"),
            ("x-stainless-package-version", "0.60.0"),
            ("x-stainless-retry-count", "0"),
            ("x-stainless-runtime", "node"),
            ("x-stainless-runtime-version", "v22.0.0"),
            ("x-stainless-timeout", "600"),
            ("content-length", "123456"),
            ("connection", "keep-alive"),
        ] {
            h.insert(http::HeaderName::from_static(k), http::HeaderValue::from_static(v));
        }
        let secrets = Secrets::default();
        secrets.add_from_headers(&h);
        secrets.len();
        let runs = 1_000_000;
        let t = Instant::now();
        for _ in 0..runs {
            secrets.add_from_headers(std::hint::black_box(&h));
        }
        eprintln!("add_from_headers, {} headers, key known: {:?} per call", h.len(), t.elapsed() / runs);
        let t = Instant::now();
        for _ in 0..runs {
            for (name, _) in std::hint::black_box(&h) {
                std::hint::black_box(is_secret_header(name.as_str()));
            }
        }
        eprintln!("  of which is_secret_header for each: {:?} per call", t.elapsed() / runs);
        // What it replaces: a lower-cased copy of each name, the values copied, a write lock.
        let old_list = std::sync::RwLock::new(Vec::<String>::new());
        let t = Instant::now();
        for _ in 0..runs {
            for (name, value) in std::hint::black_box(&h) {
                let n = name.as_str().to_ascii_lowercase();
                let secret = matches!(n.as_str(), "authorization" | "x-api-key" | "cookie")
                    || n.contains("token")
                    || n.contains("secret")
                    || n.ends_with("-key");
                if let (true, Ok(v)) = (secret, value.to_str()) {
                    for v in [v.to_string(), v.strip_prefix("Bearer ").unwrap_or(v).to_string()] {
                        let mut list = old_list.write().unwrap();
                        if !list.contains(&v) {
                            list.push(v);
                        }
                    }
                }
            }
        }
        eprintln!("  the fixed list it replaces: {:?} per call", t.elapsed() / runs);
    }
}
