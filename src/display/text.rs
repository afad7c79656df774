//! Texts for a terminal line or a report cell: cut to a width (from the right, or from the
//! left for paths), flattened to one line, wrapped, pluralised; and dates as asb prints them.

/// `1 call`, `2 calls`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `text` on one line (whitespace runs become one space), cut to `max` characters with `…`.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&flat, max)
}

/// `text` cut to `max` characters, ending in `…` when something was left out.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A path cut to `max` characters from the left (`…/dir/file.jsonl`): its end says most.
pub(crate) fn cut_left(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let mut out = String::from('…');
    out.extend(text.chars().skip(n + 1 - max.max(1)));
    out
}

/// `text` wrapped at spaces into lines of at most `width` characters (a longer word gets a
/// line of its own), each ending in a newline.
pub(crate) fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// An ISO-8601 time as asb prints it: `2025-06-01 12:00:00 UTC` (`-` when there is none).
pub(crate) fn date(iso: &str) -> String {
    if iso.is_empty() {
        return super::NONE.into();
    }
    let head: String = iso.chars().take(19).map(|c| if c == 'T' { ' ' } else { c }).collect();
    format!("{head} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_and_wraps() {
        assert_eq!(excerpt("a\n  b c", 10), "a b c");
        assert_eq!(excerpt("abcdefghij", 5), "abcd…");
        assert_eq!(cut_left("/tmp/a/rec.jsonl", 11), "…/rec.jsonl");
        assert_eq!(cut_left("rec.jsonl", 11), "rec.jsonl");
        assert_eq!(wrap("aa bb cc dddddd e", 5), "aa bb\ncc\ndddddd\ne\n");
        assert_eq!((plural(1, "call"), plural(0, "call")), ("1 call".into(), "0 calls".into()));
    }

    #[test]
    fn dates() {
        assert_eq!(date("2025-06-01T12:00:00.123Z"), "2025-06-01 12:00:00 UTC");
        assert_eq!(date("été"), "été UTC");
        assert_eq!(date(""), "-");
    }
}
