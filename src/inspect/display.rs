//! How numbers, durations and texts are shortened for a terminal line: the same spelling in
//! every command's output.

/// A duration for people: `0.4ms`, `85ms`, `5.91s`, `4m05s`, `1h02m`.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "?".into();
    }
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 60_000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0).round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0).round() as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// An integer with thousands separators: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A token count in at most 5 characters: `296`, `42.9k`, `1.2M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// `1 call`, `2 calls`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `text` on one line (whitespace runs become one space), cut to `max` characters with `…`.
pub fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&flat, max)
}

/// `text` cut to `max` characters, ending in `…` when something was left out.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A path cut to `max` characters from the left (`…/dir/file.jsonl`): its end says most.
pub fn cut_left(text: &str, max: usize) -> String {
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
pub fn wrap(text: &str, width: usize) -> String {
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

/// A ratio `b / a` as `×1.25`, or `-` when `a` is zero.
pub fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 && b.is_finite() {
        format!("×{:.2}", b / a)
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(duration_ms(0.42), "0.4ms");
        assert_eq!(duration_ms(85.2), "85ms");
        assert_eq!(duration_ms(5914.0), "5.91s");
        assert_eq!(duration_ms(245_000.0), "4m05s");
        assert_eq!(duration_ms(3_720_000.0), "1h02m");
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(123456), "123,456");
        assert_eq!((tokens(296), tokens(42_883), tokens(1_250_000)), ("296".into(), "42.9k".into(), "1.2M".into()));
        assert_eq!(excerpt("a\n  b c", 10), "a b c");
        assert_eq!(excerpt("abcdefghij", 5), "abcd…");
        assert_eq!(cut_left("/tmp/a/rec.jsonl", 11), "…/rec.jsonl");
        assert_eq!(cut_left("rec.jsonl", 11), "rec.jsonl");
        assert_eq!(ratio(2.0, 3.0), "×1.50");
        assert_eq!(wrap("aa bb cc dddddd e", 5), "aa bb\ncc\ndddddd\ne\n");
        assert_eq!(ratio(0.0, 3.0), "-");
        assert_eq!((plural(1, "call"), plural(0, "call")), ("1 call".into(), "0 calls".into()));
    }
}
