//! Numbers for people: durations (`85ms`, `5.91s`), counts with thousands separators,
//! token counts in five characters, rates, percentages and ratios.

/// A missing value.
pub(crate) const NONE: &str = "-";

/// A duration for people: `0.4ms`, `85ms`, `5.91s`, `4m05s`, `1h02m`.
pub(crate) fn duration_ms(ms: f64) -> String {
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

/// Seconds for people: `850ms`, `12.34s`, `4m05s`.
pub(crate) fn seconds(s: f64) -> String {
    duration_ms(s * 1000.0)
}

/// An inter-token gap: as [`duration_ms`], but `<1ms` below one millisecond (chunks batched
/// by the network arrive microseconds apart; more digits would claim a precision that is
/// not there).
pub(crate) fn itl(v: f64) -> String {
    if v.is_finite() && v < 1.0 {
        "<1ms".into()
    } else {
        duration_ms(v)
    }
}

/// An integer with thousands separators: `1,234,567`.
pub(crate) fn count(n: u64) -> String {
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
pub(crate) fn tokens(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// A token count that may be a mean, rounded and spelled as [`tokens`]; `?` when it is
/// not a count.
pub(crate) fn approx_tokens(n: f64) -> String {
    if n.is_finite() && n >= 0.0 {
        tokens(n.round() as u64)
    } else {
        "?".into()
    }
}

/// A rate with one decimal: `108.5`, `1,234.5`.
pub(crate) fn rate1(v: f64) -> String {
    if !v.is_finite() {
        return "?".into();
    }
    let tenths = (v.abs() * 10.0).round();
    let sign = if v < 0.0 && tenths > 0.0 { "-" } else { "" };
    format!("{sign}{}.{}", count((tenths / 10.0).trunc() as u64), (tenths % 10.0) as u64)
}

/// A rate, whole from 100 up: `9.5`, `373`, `12,345`.
pub(crate) fn rate0(v: f64) -> String {
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
pub(crate) fn num(v: f64) -> String {
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
pub(crate) fn percent(fraction: f64) -> String {
    if fraction.is_finite() {
        format!("{:.1}%", fraction * 100.0)
    } else {
        "?".into()
    }
}

/// A ratio `b / a` as `×1.25`, or `-` when `a` is zero.
pub(crate) fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 && b.is_finite() {
        format!("×{:.2}", b / a)
    } else {
        NONE.into()
    }
}

/// `value` spelled by `f`, or `-`.
pub(crate) fn opt(value: Option<f64>, f: fn(f64) -> String) -> String {
    value.map_or_else(|| NONE.to_string(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ms(0.42), "0.4ms");
        assert_eq!(duration_ms(85.2), "85ms");
        assert_eq!(duration_ms(5914.0), "5.91s");
        assert_eq!(duration_ms(245_000.0), "4m05s");
        assert_eq!(duration_ms(3_720_000.0), "1h02m");
        assert_eq!(seconds(0.85), "850ms");
        assert_eq!(itl(0.3), "<1ms");
        assert_eq!(itl(12.4), "12ms");
    }

    #[test]
    fn counts_and_rates() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(123456), "123,456");
        assert_eq!((tokens(296), tokens(42_883), tokens(1_250_000)), ("296".into(), "42.9k".into(), "1.2M".into()));
        assert_eq!((approx_tokens(42_883.4), approx_tokens(f64::NAN)), ("42.9k".into(), "?".into()));
        assert_eq!(rate1(108.46), "108.5");
        assert_eq!(rate1(1234.56), "1,234.6");
        assert_eq!(rate1(-2.25), "-2.3");
        assert_eq!(rate0(372.6), "373");
        assert_eq!(rate0(9.54), "9.5");
        assert_eq!(rate0(f64::NAN), "?");
        assert_eq!(num(0.1234), "0.12");
        assert_eq!(num(12345.0), "12,345");
        assert_eq!(percent(0.6234), "62.3%");
        assert_eq!(ratio(2.0, 3.0), "×1.50");
        assert_eq!(ratio(0.0, 3.0), "-");
        assert_eq!(opt(None, rate1), "-");
    }
}
