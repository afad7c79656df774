//! `--think-time`: what a session does between its calls. A coding agent runs tools
//! between two LLM calls (reads files, runs tests); the recording keeps that gap, and a
//! replay that drops it loads the server with a different workload than the agent did.
//!
//! * `none` — back to back: each call goes when the previous one of its session ended
//!   (AgenticSwarmBench's closed loop; `asb replay` without `--sessions`).
//! * `recorded` — each call goes when the calls it waited for in the recording have ended
//!   here, plus the gap the recording shows ([`super::call_graph`]); sub-agents overlap
//!   as recorded. Closed loop inside the session: a slow server delays what follows.
//! * `timestamps` — open loop inside the session: each call goes at the session's start
//!   plus its recorded offset, however slow the server is (under `--history-mode live` a
//!   call still waits for its thread's previous answer, which it needs).
//!
//! `scale=X` multiplies every gap (or offset) by X; `cap=SECONDS` shortens longer gaps to
//! SECONDS. They combine with a mode: `recorded,scale=0.5,cap=30`; alone they imply
//! `recorded`.

use std::fmt;
use std::str::FromStr;

/// How a session paces its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    BackToBack,
    Recorded,
    Timestamps,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ThinkTime {
    pub pace: Pace,
    /// Multiplies every recorded gap or offset.
    pub scale: f64,
    /// The longest gap kept, in ms (offsets in `timestamps` mode are not capped).
    pub cap_ms: Option<f64>,
}

impl ThinkTime {
    pub(crate) const NONE: ThinkTime = ThinkTime { pace: Pace::BackToBack, scale: 1.0, cap_ms: None };
    pub(crate) const RECORDED: ThinkTime = ThinkTime { pace: Pace::Recorded, scale: 1.0, cap_ms: None };

    /// The wait this run makes for a recorded gap of `recorded_ms`.
    pub(crate) fn gap_ms(&self, recorded_ms: f64) -> f64 {
        match self.pace {
            Pace::BackToBack => 0.0,
            Pace::Recorded | Pace::Timestamps => {
                let scaled = recorded_ms.max(0.0) * self.scale;
                self.cap_ms.map_or(scaled, |cap| scaled.min(cap))
            }
        }
    }

    /// A call's offset from its session's start in `timestamps` mode.
    pub(crate) fn offset_ms(&self, recorded_ms: f64) -> f64 {
        recorded_ms.max(0.0) * self.scale
    }
}

impl fmt::Display for ThinkTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.pace {
            Pace::BackToBack => "none",
            Pace::Recorded => "recorded",
            Pace::Timestamps => "timestamps",
        })?;
        if self.pace != Pace::BackToBack {
            if self.scale != 1.0 {
                write!(f, ",scale={}", self.scale)?;
            }
            if let Some(cap) = self.cap_ms {
                write!(f, ",cap={}", cap / 1000.0)?;
            }
        }
        Ok(())
    }
}

impl FromStr for ThinkTime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut pace = None;
        let mut out = ThinkTime::RECORDED;
        for token in s.split(',').map(str::trim) {
            let number = |value: &str, what: &str| -> Result<f64, String> {
                match value.parse::<f64>() {
                    Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                    _ => Err(format!("--think-time: {what} must be a number ≥ 0, got {token:?}")),
                }
            };
            match token.split_once('=') {
                None => {
                    let p = match token {
                        "none" => Pace::BackToBack,
                        "recorded" => Pace::Recorded,
                        "timestamps" => Pace::Timestamps,
                        _ => return Err(unknown(token)),
                    };
                    if pace.replace(p).is_some() {
                        return Err(format!("--think-time: {token:?}: give one of none, recorded, timestamps"));
                    }
                }
                Some(("scale", v)) => out.scale = number(v, "scale")?,
                Some(("cap", v)) => out.cap_ms = Some(number(v, "cap (seconds)")? * 1000.0),
                Some(_) => return Err(unknown(token)),
            }
        }
        out.pace = pace.unwrap_or(Pace::Recorded);
        if out.pace == Pace::BackToBack && (out.scale != 1.0 || out.cap_ms.is_some()) {
            return Err("--think-time none takes no scale or cap".into());
        }
        Ok(out)
    }
}

fn unknown(token: &str) -> String {
    format!(
        "--think-time: unknown {token:?}; expected none, recorded, timestamps, scale=X, cap=SECONDS \
         (combined with commas, e.g. recorded,scale=0.5,cap=30)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes_and_modifiers() {
        assert_eq!("none".parse(), Ok(ThinkTime::NONE));
        assert_eq!("recorded".parse(), Ok(ThinkTime::RECORDED));
        let t: ThinkTime = "recorded, scale=0.5,cap=30".parse().unwrap();
        assert_eq!((t.pace, t.scale, t.cap_ms), (Pace::Recorded, 0.5, Some(30_000.0)));
        let t: ThinkTime = "scale=2".parse().unwrap();
        assert_eq!((t.pace, t.scale), (Pace::Recorded, 2.0));
        let t: ThinkTime = "timestamps,scale=0.1".parse().unwrap();
        assert_eq!((t.pace, t.scale, t.cap_ms), (Pace::Timestamps, 0.1, None));
        assert_eq!(t.to_string(), "timestamps,scale=0.1");
        assert_eq!("cap=1.5".parse::<ThinkTime>().unwrap().to_string(), "recorded,cap=1.5");
    }

    #[test]
    fn bad_syntax_names_the_token() {
        for (bad, needle) in [
            ("sometimes", "\"sometimes\""),
            ("scale=-1", "\"scale=-1\""),
            ("cap=soon", "\"cap=soon\""),
            ("none,recorded", "\"recorded\""),
            ("none,scale=2", "none takes no scale"),
            ("speed=2", "\"speed=2\""),
        ] {
            let err = bad.parse::<ThinkTime>().unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn gaps_are_scaled_then_capped() {
        let t: ThinkTime = "scale=0.5,cap=2".parse().unwrap();
        assert_eq!(t.gap_ms(1000.0), 500.0);
        assert_eq!(t.gap_ms(10_000.0), 2000.0);
        assert_eq!(t.gap_ms(-5.0), 0.0);
        assert_eq!(ThinkTime::NONE.gap_ms(1000.0), 0.0);
        assert_eq!(t.offset_ms(10_000.0), 5000.0, "offsets are scaled, not capped");
    }
}
