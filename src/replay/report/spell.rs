//! How the reports spell numbers — times, rates, token counts, dates — so the console,
//! Markdown, HTML and comparison all show the same value the same way. Missing values are
//! `-`; non-finite ones `?`.

use crate::inspect::display::{count, duration_ms, tokens};
use crate::stats::Distribution;

/// A missing value.
pub const NONE: &str = "-";

/// A time in milliseconds for people: `0.4ms`, `85ms`, `5.91s`.
pub fn ms(v: f64) -> String {
    duration_ms(v)
}

/// An inter-token gap: as [`ms`], but `<1ms` below one millisecond (chunks batched by the
/// network arrive microseconds apart; more digits would claim a precision that is not there).
pub fn itl(v: f64) -> String {
    if v.is_finite() && v < 1.0 {
        "<1ms".into()
    } else {
        ms(v)
    }
}

/// A rate with one decimal: `108.5`, `1,234.5`.
pub fn rate1(v: f64) -> String {
    if !v.is_finite() {
        return "?".into();
    }
    let tenths = (v.abs() * 10.0).round();
    let sign = if v < 0.0 && tenths > 0.0 { "-" } else { "" };
    format!("{sign}{}.{}", count((tenths / 10.0).trunc() as u64), (tenths % 10.0) as u64)
}

/// A rate, whole from 100 up: `9.5`, `373`, `12,345`.
pub fn rate0(v: f64) -> String {
    if !v.is_finite() {
        return "?".into();
    }
    if v.abs() < 100.0 {
        return format!("{v:.1}");
    }
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}{}", count(v.abs().round() as u64))
}

/// Any other number: 3 significant digits or so, thousands separated.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "?".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        rate0(v)
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A fraction as a percentage: `62.3%`.
pub fn percent(fraction: f64) -> String {
    if fraction.is_finite() {
        format!("{:.1}%", fraction * 100.0)
    } else {
        "?".into()
    }
}

/// A token count: `296`, `42.9k`.
pub fn toks(n: f64) -> String {
    if n.is_finite() && n >= 0.0 {
        tokens(n.round() as u64)
    } else {
        "?".into()
    }
}

/// An integer with thousands separators.
pub fn int(n: u64) -> String {
    count(n)
}

/// `value` spelled by `f`, or `-`.
pub fn opt(value: Option<f64>, f: fn(f64) -> String) -> String {
    value.map_or_else(|| NONE.to_string(), f)
}

/// The median of a distribution, if there is one.
pub fn p50(d: &Option<Distribution>) -> Option<f64> {
    d.as_ref().map(|d| d.p50)
}

/// An ISO-8601 time as asb prints it: `2025-06-01 12:00:00 UTC`.
pub fn date(iso: &str) -> String {
    if iso.is_empty() {
        return NONE.into();
    }
    let head: String = iso.chars().take(19).map(|c| if c == 'T' { ' ' } else { c }).collect();
    format!("{head} UTC")
}

/// Seconds for people: `850ms`, `12.34s`, `4m05s`.
pub fn seconds(s: f64) -> String {
    ms(s * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(itl(0.3), "<1ms");
        assert_eq!(itl(12.4), "12ms");
        assert_eq!(rate1(108.46), "108.5");
        assert_eq!(rate1(1234.56), "1,234.6");
        assert_eq!(rate1(-2.25), "-2.3");
        assert_eq!(rate0(372.6), "373");
        assert_eq!(rate0(9.54), "9.5");
        assert_eq!(rate0(f64::NAN), "?");
        assert_eq!(num(0.1234), "0.12");
        assert_eq!(num(12345.0), "12,345");
        assert_eq!(percent(0.6234), "62.3%");
        assert_eq!(opt(None, rate1), "-");
        assert_eq!(date("2025-06-01T12:00:00.123Z"), "2025-06-01 12:00:00 UTC");
        assert_eq!(date("été"), "été UTC");
    }
}
