//! Strings that look like credentials in free text, for `asb validate`'s secret scan: the
//! key shapes beside the redaction rules ([`crate::recording::redact`]), so what counts as
//! a secret is said on the floor, once.
//!
//! The recorder redacts credential headers and scrubs their values from the rest of a line,
//! but a key can still get in another way: an agent that read a `.env` file, a key pasted
//! into a prompt, a recording edited by hand. These patterns find the common shapes:
//!
//! * `sk-ant-…` — Anthropic keys;
//! * `sk-` + 20 or more key characters — OpenAI-style keys;
//! * `Bearer ` (any casing) + a token (see `looks_like_token`);
//! * `Basic ` (any casing) + base64 of `user:password`;
//! * `AKIA` + 16 upper-case letters or digits — AWS access key ids;
//! * other providers' fixed prefixes ([`PREFIXED`]): Google API keys (`AIza…`), GitHub
//!   tokens (`ghp_…`, `github_pat_…`), Slack tokens (`xoxb-…`), Stripe keys (`sk_live_…`),
//!   Hugging Face (`hf_…`), Groq (`gsk_…`), xAI (`xai-…`), Google OAuth access tokens
//!   (`ya29.…`), each with the length its provider issues;
//! * a JSON Web Token (`eyJ….eyJ….sig`), and a PEM private key's `-----BEGIN … PRIVATE KEY-----`.
//!
//! Matches must start at a word boundary (`task-…` is not a key). Hand-written matchers
//! rather than a regex engine: a few fixed shapes, and no new dependency. What the recorder
//! redacts by name (headers, query parameters, body fields, URL userinfo) is defined in
//! [`crate::recording::redact`], which `asb validate` applies too.

use super::redact;

/// A credential-looking substring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Match {
    /// Byte offset in the scanned text.
    pub start: usize,
    pub len: usize,
    pub kind: &'static str,
}

/// Keys known by a fixed prefix: (prefix, fewest key characters after it, kind). Key
/// characters are letters, digits, `-` and `_` (`.` too after `ya29.`).
const PREFIXED: &[(&str, usize, &str)] = &[
    ("AIza", 35, "a Google API key"),
    ("ghp_", 36, "a GitHub token"),
    ("gho_", 36, "a GitHub token"),
    ("ghu_", 36, "a GitHub token"),
    ("ghs_", 36, "a GitHub token"),
    ("ghr_", 36, "a GitHub token"),
    ("github_pat_", 22, "a GitHub token"),
    ("xoxb-", 10, "a Slack token"),
    ("xoxp-", 10, "a Slack token"),
    ("xoxa-", 10, "a Slack token"),
    ("xoxr-", 10, "a Slack token"),
    ("xoxs-", 10, "a Slack token"),
    ("sk_live_", 16, "a Stripe secret key"),
    ("rk_live_", 16, "a Stripe restricted key"),
    ("sk_test_", 16, "a Stripe test key"),
    ("hf_", 30, "a Hugging Face token"),
    ("gsk_", 40, "a Groq API key"),
    ("xai-", 40, "an xAI API key"),
    ("ya29.", 20, "a Google OAuth access token"),
];

const ANTHROPIC_MIN: usize = 8;
const SK_MIN: usize = 20;
const AWS_LEN: usize = 16;

fn key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn token_char(b: u8) -> bool {
    key_char(b) || matches!(b, b'.' | b'~' | b'+' | b'/' | b'=')
}

/// Length of the run of bytes from `at` that satisfy `ok`.
fn run_len(bytes: &[u8], at: usize, ok: impl Fn(u8) -> bool) -> usize {
    bytes[at.min(bytes.len())..].iter().take_while(|b| ok(**b)).count()
}

/// Every credential-looking substring of `text`, left to right, not overlapping.
pub(crate) fn find(text: &str) -> Vec<Match> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || !key_char(bytes[i - 1]);
        match at_boundary.then(|| match_at(bytes, i)).flatten() {
            Some(m) => {
                i += m.len;
                out.push(m);
            }
            None => i += 1,
        }
    }
    out
}

fn match_at(bytes: &[u8], i: usize) -> Option<Match> {
    let rest = &bytes[i..];
    if rest.starts_with(b"sk-ant-") {
        let n = run_len(bytes, i + 7, key_char);
        return (n >= ANTHROPIC_MIN).then_some(Match { start: i, len: 7 + n, kind: "an Anthropic API key" });
    }
    if rest.starts_with(b"sk-") {
        let n = run_len(bytes, i + 3, key_char);
        return (n >= SK_MIN).then_some(Match { start: i, len: 3 + n, kind: "an API key (sk-…)" });
    }
    if rest.get(..7).is_some_and(|w| w.eq_ignore_ascii_case(b"bearer ")) {
        let n = run_len(bytes, i + 7, token_char);
        let token = std::str::from_utf8(&bytes[i + 7..i + 7 + n]).unwrap_or("");
        return looks_like_token(token).then_some(Match { start: i, len: 7 + n, kind: "a bearer token" });
    }
    if rest.get(..6).is_some_and(|w| w.eq_ignore_ascii_case(b"basic ")) {
        let n = run_len(bytes, i + 6, |b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        let blob = std::str::from_utf8(&bytes[i + 6..i + 6 + n]).unwrap_or("");
        let ends = bytes.get(i + 6 + n).is_none_or(|b| !token_char(*b));
        return (ends && basic_password(blob).is_some()).then_some(Match {
            start: i,
            len: 6 + n,
            kind: "basic auth credentials",
        });
    }
    for (prefix, min, kind) in PREFIXED {
        if rest.starts_with(prefix.as_bytes()) {
            let dotted = prefix.ends_with('.');
            let n = run_len(bytes, i + prefix.len(), |b| key_char(b) || (dotted && b == b'.'));
            return (n >= *min).then_some(Match { start: i, len: prefix.len() + n, kind });
        }
    }
    if rest.starts_with(b"eyJ") {
        return jwt_len(rest).map(|len| Match { start: i, len, kind: "a JSON Web Token" });
    }
    if rest.starts_with(b"-----BEGIN ") {
        let line = &rest[..rest.len().min(80)];
        let end = memchr::memmem::find(line, b"PRIVATE KEY-----")?;
        let label = &line[11..end];
        return label.iter().all(|b| b.is_ascii_uppercase() || *b == b' ').then_some(Match {
            start: i,
            len: end + 16,
            kind: "a private key",
        });
    }
    if rest.starts_with(b"AKIA") {
        let n = run_len(bytes, i + 4, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let ends = bytes.get(i + 4 + n).is_none_or(|b| !b.is_ascii_alphanumeric());
        return (n == AWS_LEN && ends).then_some(Match { start: i, len: 4 + n, kind: "an AWS access key id" });
    }
    None
}

/// The length of a JWT at the start of `text`: three base64url parts joined by dots, the
/// first two JSON objects (`eyJ`), each part 10 characters or more.
fn jwt_len(text: &[u8]) -> Option<usize> {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut at = 0;
    for part in 0..3 {
        if part < 2 && !text[at..].starts_with(b"eyJ") {
            return None;
        }
        let n = run_len(text, at, b64);
        if n < 10 {
            return None;
        }
        at += n;
        if part < 2 {
            if text.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
    }
    Some(at)
}

/// Whether the word after `bearer` in running text looks like a token rather than a word:
/// 20 or more token characters, or 12 or more with a digit in them.
fn looks_like_token(token: &str) -> bool {
    token.len() >= 20 || (token.len() >= 12 && token.bytes().any(|b| b.is_ascii_digit()))
}

/// The password in a Basic credential (base64 of `user:password`, 8 characters or more).
fn basic_password(blob: &str) -> Option<String> {
    if blob.len() < 8 {
        return None;
    }
    let decoded = String::from_utf8(redact::base64_decode(blob)?).ok()?;
    let (_, password) = decoded.split_once(':')?;
    (!password.is_empty() && !decoded.chars().any(char::is_control)).then(|| password.to_string())
}

/// A secret shown safely: its first 4 characters, then its length.
pub(crate) fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}… ({} chars)", secret.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(&'static str, &str)> {
        find(text).into_iter().map(|m| (m.kind, &text[m.start..m.start + m.len])).collect()
    }

    #[test]
    fn finds_the_common_key_shapes() {
        assert_eq!(
            kinds("key=sk-ant-api03-AAAAAAAAAAAA."),
            vec![("an Anthropic API key", "sk-ant-api03-AAAAAAAAAAAA")]
        );
        assert_eq!(
            kinds("\"sk-proj-0123456789abcdefghij\""),
            vec![("an API key (sk-…)", "sk-proj-0123456789abcdefghij")]
        );
        assert_eq!(
            kinds("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"),
            vec![("a bearer token", "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")]
        );
        assert_eq!(kinds("id AKIAIOSFODNN7EXAMPLE,"), vec![("an AWS access key id", "AKIAIOSFODNN7EXAMPLE")]);
        assert_eq!(kinds("use bearer leaktoken0008xyz"), vec![("a bearer token", "bearer leaktoken0008xyz")]);
        assert_eq!(kinds("BASIC dTpsZWFrLTAwMDk="), vec![("basic auth credentials", "BASIC dTpsZWFrLTAwMDk=")]);
    }

    #[test]
    fn finds_other_providers_keys() {
        let cases = [
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "a Google API key"),
            ("ghp_0123456789abcdefghijklmnopqrstuvwxyz", "a GitHub token"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "a GitHub token"),
            ("xoxb-1234567890-abcdefghij", "a Slack token"),
            ("sk_live_0123456789abcdefABCD", "a Stripe secret key"),
            ("hf_abcdefghijklmnopqrstuvwxyz0123456", "a Hugging Face token"),
            ("gsk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH", "a Groq API key"),
            ("xai-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH", "an xAI API key"),
            ("ya29.a0AfH6SMBx0123456789abcdefg", "a Google OAuth access token"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "a JSON Web Token",
            ),
            ("-----BEGIN RSA PRIVATE KEY-----", "a private key"),
            ("-----BEGIN PRIVATE KEY-----", "a private key"),
        ];
        for (key, kind) in cases {
            let text = format!("config: \"{key}\", more");
            assert_eq!(kinds(&text), vec![(kind, key)], "{key}");
        }
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for text in [
            "risk-assessment-for-the-whole-project-plan",
            "sk-short",
            "sk-ant-x",
            "Bearer [redacted]",
            "Bearer short",
            "the bearer of bad news",
            "a basic understanding of src/components/header.ts",
            "basic [redacted]",
            "BEARER [redacted]",
            "AKIAIOSFODNN7EXAMPLEX",
            "AKIAshort",
            "ghp_short",
            "hf_token",
            "the AIza prefix",
            "eyJhbGciOiJIUzI1NiJ9 alone",
            "-----BEGIN CERTIFICATE-----",
            "xoxb-",
            "sk_live_x",
            "[redacted]",
            "",
        ] {
            assert!(find(text).is_empty(), "{text}: {:?}", find(text));
        }
    }

    #[test]
    fn masks_all_but_four_characters() {
        assert_eq!(mask("sk-ant-api03-AAAA"), "sk-a… (17 chars)");
        assert_eq!(mask("ab"), "ab… (2 chars)");
    }
}
