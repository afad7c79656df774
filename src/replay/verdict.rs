//! The verdict of AgenticSwarmBench (the original asb), its grade of how a run felt to a
//! user, in one place for the run and its reports: the thresholds and grade, which bucket
//! the verdict is taken from, the icons and labels, and the "experience" words. The grade
//! applies the thresholds to a bucket's TTFT p50 and decode p50 (`decode_tok_per_s`), and
//! the reports say so.

use super::results::BucketStats;
use crate::stats::p50;

/// TTFT p50 at most this is good (ms, inclusive).
const TTFT_GOOD_MS: f64 = 3000.0;
/// TTFT p50 at most this is ok.
const TTFT_OK_MS: f64 = 10_000.0;
/// Decode p50 at least this is good (tok/s, inclusive).
const DECODE_GOOD: f64 = 30.0;
/// Decode p50 at least this is ok.
const DECODE_OK: f64 = 15.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grade {
    Good,
    Ok,
    Poor,
    Unknown,
}

impl Grade {
    /// The verdict string saved in the results (`good`, `ok`, `poor`, anything else unknown).
    pub(crate) fn parse(verdict: &str) -> Grade {
        match verdict.trim().to_ascii_lowercase().as_str() {
            "good" => Grade::Good,
            "ok" | "marginal" => Grade::Ok,
            "poor" => Grade::Poor,
            _ => Grade::Unknown,
        }
    }

    pub(crate) fn icon(self) -> &'static str {
        match self {
            Grade::Good => "🟢",
            Grade::Ok => "🟡",
            Grade::Poor => "🔴",
            Grade::Unknown => "⚪",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Grade::Good => "GOOD for agentic swarm scenarios",
            Grade::Ok => "MARGINAL for agentic swarm scenarios",
            Grade::Poor => "POOR for agentic swarm scenarios",
            Grade::Unknown => "UNKNOWN",
        }
    }
}

/// AgenticSwarmBench's grade: the worse of the TTFT grade and the decode grade; unknown
/// without both.
pub(crate) fn grade(ttft_p50_ms: Option<f64>, decode_p50: Option<f64>) -> Grade {
    let (Some(ttft), Some(decode)) = (ttft_p50_ms, decode_p50) else { return Grade::Unknown };
    if !ttft.is_finite() || !decode.is_finite() {
        return Grade::Unknown;
    }
    let by_ttft = if ttft <= TTFT_GOOD_MS {
        Grade::Good
    } else if ttft <= TTFT_OK_MS {
        Grade::Ok
    } else {
        Grade::Poor
    };
    let by_decode = if decode >= DECODE_GOOD {
        Grade::Good
    } else if decode >= DECODE_OK {
        Grade::Ok
    } else {
        Grade::Poor
    };
    by_ttft.max(by_decode)
}

/// A run where more than this share of requests failed is poor, whatever its timings.
const FAILURES_POOR: f64 = 0.05;

/// The failure gate, as the reports state it.
pub(crate) const FAILURE_GATE: &str =
    "the failure gate: any failed request caps the verdict at ok, more than 5 % failed is poor";

/// The best grade a run can have with `failed` of `requests` failed ([`Grade::Good`]: no cap).
pub(crate) fn failure_cap(failed: usize, requests: usize) -> Grade {
    match failed {
        0 => Grade::Good,
        _ if failed as f64 > FAILURES_POOR * requests as f64 => Grade::Poor,
        _ => Grade::Ok,
    }
}

/// A grade under a cap: a poor cap wins even where the timings give no grade.
pub(crate) fn capped(grade: Grade, cap: Grade) -> Grade {
    match (grade, cap) {
        (_, Grade::Poor) => Grade::Poor,
        (Grade::Unknown, _) => Grade::Unknown,
        (grade, cap) => grade.max(cap),
    }
}

/// The grade of a bucket from its TTFT p50 and decode p50.
pub(crate) fn bucket_grade(b: &BucketStats) -> Grade {
    if b.succeeded == 0 {
        return Grade::Poor;
    }
    grade(p50(&b.metrics.ttft_ms), p50(&b.metrics.decode_tok_per_s))
}

/// AgenticSwarmBench's experience words: `Instant, fast streaming`. The decode half is left
/// out without a decode rate; nothing without a TTFT.
pub(crate) fn experience(ttft_p50_ms: Option<f64>, decode_p50: Option<f64>) -> Option<String> {
    let ttft = ttft_p50_ms.filter(|v| v.is_finite())?;
    let waiting = match ttft {
        t if t < 1000.0 => "Instant",
        t if t < 3000.0 => "Responsive",
        t if t < 5000.0 => "Slight pause",
        t if t < 10_000.0 => "Noticeable wait",
        _ => "Disruptive",
    };
    let streaming = decode_p50.filter(|v| v.is_finite()).map(|d| match d {
        d if d > 50.0 => "fast streaming",
        d if d > 30.0 => "smooth streaming",
        d if d > 15.0 => "slow streaming",
        _ => "sluggish",
    });
    Some(match streaming {
        Some(s) => format!("{waiting}, {s}"),
        None => waiting.to_string(),
    })
}

/// A bucket's experience words.
pub(crate) fn bucket_experience(b: &BucketStats) -> Option<String> {
    experience(p50(&b.metrics.ttft_ms), p50(&b.metrics.decode_tok_per_s))
}

/// The bucket whose numbers headline the verdict, as AgenticSwarmBench picks it: the first
/// `medium` or `long` bucket with a success, else the first bucket with a success (buckets
/// in size order here; AgenticSwarmBench takes the first seen).
pub(crate) fn headline_bucket(buckets: &[BucketStats]) -> Option<&BucketStats> {
    let ok = || buckets.iter().filter(|b| b.succeeded > 0);
    ok().find(|b| b.name == "medium" || b.name == "long").or_else(|| ok().next())
}

/// What the per-bucket grades and experience words are taken from, for the reports to say.
pub(crate) const BUCKET_GRADE_BASIS: &str = "per-bucket grade and experience: AgenticSwarmBench's thresholds on the bucket's TTFT p50 \
     (good ≤ 3000 ms, ok ≤ 10000 ms) and decode p50 (decode_tok_per_s; good ≥ 30, ok ≥ 15 tok/s), the worse of the two; \
     experience: TTFT < 1 s Instant, < 3 s Responsive, < 5 s Slight pause, < 10 s Noticeable wait, else Disruptive; \
     decode > 50 fast, > 30 smooth, > 15 slow streaming, else sluggish";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_and_the_worse_wins() {
        assert_eq!(grade(Some(3000.0), Some(30.0)), Grade::Good);
        assert_eq!(grade(Some(3000.1), Some(30.0)), Grade::Ok);
        assert_eq!(grade(Some(100.0), Some(14.9)), Grade::Poor);
        assert_eq!(grade(Some(10_000.0), Some(15.0)), Grade::Ok);
        assert_eq!(grade(None, Some(50.0)), Grade::Unknown);
        assert_eq!(grade(Some(f64::NAN), Some(50.0)), Grade::Unknown);
    }

    #[test]
    fn experience_words() {
        assert_eq!(experience(Some(67.0), Some(108.0)).as_deref(), Some("Instant, fast streaming"));
        assert_eq!(experience(Some(4000.0), Some(20.0)).as_deref(), Some("Slight pause, slow streaming"));
        assert_eq!(experience(Some(20_000.0), None).as_deref(), Some("Disruptive"));
        assert_eq!(experience(None, Some(20.0)), None);
        assert_eq!(Grade::parse("ok").label(), "MARGINAL for agentic swarm scenarios");
        assert_eq!(Grade::parse("what").icon(), "⚪");
    }

    #[test]
    fn headline_prefers_medium_or_long() {
        use crate::replay::report::fixtures;
        let run = fixtures::sample_run();
        assert_eq!(headline_bucket(&run.buckets).map(|b| b.name.as_str()), Some("medium"));
        assert!(headline_bucket(&fixtures::failed_run().buckets).is_none());
    }
}
