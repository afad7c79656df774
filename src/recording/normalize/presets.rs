//! The value presets: volatile substrings of any string in a request (timestamps and dates,
//! UUIDs, Claude Code's billing-header values and machine-specific paths, opencode's
//! `Today's date:`), found and replaced by a placeholder, so two runs of the same session
//! read the same.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// The literal searches, built once.
static CC_VERSION: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("cc_version="));
static CCH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("cch="));
static CLAUDE_PROJECTS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("/.claude/projects/"));
static WORKING_DIRECTORY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("Primary working directory: "));
static TODAYS_DATE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(TODAYS_DATE_PREFIX));

/// opencode's environment section: `Today's date: Thu Dec 03 2026` (JavaScript's
/// `Date.toDateString()`).
const TODAYS_DATE_PREFIX: &str = "Today's date: ";

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
/// working directory, opencode's date.
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
        for i in TODAYS_DATE.find_iter(b) {
            if let Some((keep, n)) = todays_date_at(b, i) {
                found.push((i, 5, Found { start: i, len: keep + n, keep, with: "<date>" }));
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

/// `Today's date: Www Mmm DD YYYY` (opencode's environment section, JavaScript's
/// `Date.toDateString()`): (prefix length, date length).
fn todays_date_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    const WEEKDAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let prefix = TODAYS_DATE_PREFIX.as_bytes();
    if b[i] != b'T' || !b[i..].starts_with(prefix) {
        return None;
    }
    let d = b.get(i + prefix.len()..i + prefix.len() + 15)?;
    let digits = |r: std::ops::Range<usize>| d[r].iter().all(u8::is_ascii_digit);
    let shape = WEEKDAYS.contains(&&d[0..3])
        && d[3] == b' '
        && MONTHS.contains(&&d[4..7])
        && d[7] == b' '
        && digits(8..10)
        && d[10] == b' '
        && digits(11..15);
    let ends = b.get(i + prefix.len() + 15).is_none_or(|c| !c.is_ascii_alphanumeric());
    (shape && ends).then_some((prefix.len(), 15))
}

#[cfg(test)]
mod tests {
    use super::super::Normalizer;
    use super::*;
    use serde_json::json;

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
            } else if let Some((keep, n)) = todays_date_at(b, i) {
                out.push_str(&s[i..i + keep]);
                out.push_str("<date>");
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
                "f", "1", "9", "`", "/", "=", "(", "c", "P", "é", "x_", "0000", "Today's date: ", "Thu Dec 03 2026",
                "Wed Jan 1 2026", "T",
            ]), 0..40)
        ) {
            let s: String = pieces.concat();
            proptest::prop_assert_eq!(normalize_string(&s), scan_every_position(&s));
        }
    }

    #[test]
    fn opencode_s_date_is_normalised_and_nothing_like_it() {
        let env = |date: &str| format!("  Platform: linux\n  Today's date: {date}\n</env>");
        assert_eq!(normalize_string(&env("Thu Dec 03 2026")), Some(env("<date>")));
        assert_eq!(normalize_string(&env("Fri Dec 04 2026")), normalize_string(&env("Thu Dec 03 2026")));
        for other in ["Thu Dec 3 2026", "Thu Dez 03 2026", "Thu Dec 03 20266", "soon"] {
            assert_eq!(normalize_string(&env(other)), None, "{other}");
        }
    }

    #[test]
    fn dates_need_their_digits() {
        assert_eq!(normalize_string("2026-1-1"), None);
        assert_eq!(normalize_string("v2026-11-24x").as_deref(), Some("v<date>x"));
    }
}
