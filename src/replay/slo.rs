//! Service-level objectives (`--slo`) and goodput: which requests (and sessions) the
//! server served well enough, and whether the run as a whole met its limits.
//!
//! Syntax: limits separated by commas, each `METRIC[:STAT] OP VALUE[UNIT]`:
//! `ttft:p99<=2s,itl:p99<=150ms,tpot:p50<=50ms,e2e:p99<=60s,decode_tps:p50>=20`.
//! * METRIC: `ttft`, `e2e` (both from the intended send time: coordinated omission
//!   excluded), `itl`, `tpot` (ms; units `ms` (default) or `s`), `decode_tps` (tok/s);
//! * STAT: `p50`, `p90`, `p95`, `p99`, `pNN`, `mean` or `max` (default `p99`) — how the
//!   run-level check summarises the requests;
//! * OP: `<=` or `<` for latencies, `>=` or `>` for `decode_tps`.
//!
//! Two readings, as the peers define them (DistServe's goodput, AIPerf, vLLM):
//! * a **request meets the SLO** when it succeeded and each of its own values meets every
//!   limit (its own ITL is the STAT of its gaps); a value a request does not have (no
//!   TPOT for a one-token answer) does not count against it. Attainment, request goodput,
//!   token goodput and session goodput count such requests;
//! * the **run meets the SLO** when, for every limit, the STAT over all requests meets it —
//!   failed requests counted as the worst value (infinite latency, zero rate), so failing
//!   faster never looks better. `asb capacity` searches on this.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::sample_row::Sample;
use super::session_row::SessionFigures;
use crate::stats::percentile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Metric {
    Ttft,
    Itl,
    Tpot,
    E2e,
    DecodeTps,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Ttft => "ttft",
            Metric::Itl => "itl",
            Metric::Tpot => "tpot",
            Metric::E2e => "e2e",
            Metric::DecodeTps => "decode_tps",
        }
    }

    /// Higher is better (a rate), else lower is better (a latency).
    pub(crate) fn higher_is_better(self) -> bool {
        self == Metric::DecodeTps
    }

    fn unit(self) -> &'static str {
        if self.higher_is_better() {
            " tok/s"
        } else {
            " ms"
        }
    }

    /// The worst value, for a failed request.
    fn worst(self) -> f64 {
        if self.higher_is_better() {
            0.0
        } else {
            f64::INFINITY
        }
    }
}

/// How the run-level check summarises requests: a percentile (0–100), the mean or the max.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stat {
    Percentile(f64),
    Mean,
    Max,
}

impl Stat {
    fn of(self, values: &mut [f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(match self {
            Stat::Percentile(p) => percentile(values, p),
            Stat::Mean => values.iter().sum::<f64>() / values.len() as f64,
            Stat::Max => values[values.len() - 1],
        })
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stat::Percentile(p) => write!(f, "p{p}"),
            Stat::Mean => f.write_str("mean"),
            Stat::Max => f.write_str("max"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Limit {
    pub metric: Metric,
    pub stat: Stat,
    /// `<=`/`>=` (true) or `<`/`>` (false).
    pub inclusive: bool,
    /// ms for latencies, tok/s for rates.
    pub value: f64,
}

impl Limit {
    pub(crate) fn meets(&self, x: f64) -> bool {
        match (self.metric.higher_is_better(), self.inclusive) {
            (true, true) => x >= self.value,
            (true, false) => x > self.value,
            (false, true) => x <= self.value,
            (false, false) => x < self.value,
        }
    }

    /// How close `x` is to the limit, relative (0 = on it): borderline steps are repeated.
    pub(crate) fn margin(&self, x: f64) -> f64 {
        if !x.is_finite() {
            return f64::INFINITY;
        }
        (x - self.value).abs() / self.value.abs().max(1e-9)
    }

    /// This request's own value of the metric (None: it has none).
    pub(crate) fn of_request<S: Sample>(&self, r: &S) -> Option<f64> {
        match self.metric {
            Metric::Ttft => r.ttft_from_due_ms().or(r.ttft_ms()),
            Metric::E2e => r.e2e_from_due_ms().or(r.e2e_ms()),
            Metric::Tpot => r.tpot_ms(),
            Metric::DecodeTps => r.decode_tok_per_s(),
            Metric::Itl => self.stat.of(&mut r.itl_ms().to_vec()),
        }
    }

    /// Every value the run-level statistic is taken over: one per request (ITL: every gap),
    /// the worst value for each failed request.
    fn run_values<S: Sample>(&self, requests: &[S]) -> Vec<f64> {
        let mut values = Vec::new();
        for r in requests {
            if !r.ok() {
                values.push(self.metric.worst());
            } else if self.metric == Metric::Itl {
                values.extend(r.itl_ms().iter().copied());
            } else if let Some(v) = self.of_request(r) {
                values.push(v);
            }
        }
        values
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match (self.metric.higher_is_better(), self.inclusive) {
            (true, true) => ">=",
            (true, false) => ">",
            (false, true) => "<=",
            (false, false) => "<",
        };
        let value =
            if self.metric.higher_is_better() { format!("{}", self.value) } else { format!("{}ms", self.value) };
        write!(f, "{}:{}{op}{value}", self.metric.name(), self.stat)
    }
}

/// A parsed `--slo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Slo {
    pub limits: Vec<Limit>,
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.limits.iter().map(Limit::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Slo {
    type Err = String;

    fn from_str(s: &str) -> Result<Slo, String> {
        let limits =
            s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(parse_limit).collect::<Result<_, _>>()?;
        let slo = Slo { limits };
        if slo.limits.is_empty() {
            return Err("--slo: no limit given; e.g. ttft:p99<=2s,decode_tps:p50>=20".into());
        }
        Ok(slo)
    }
}

fn parse_limit(token: &str) -> Result<Limit, String> {
    let bad = |why: &str| format!("--slo: {token:?}: {why}");
    let op_at = token.find(['<', '>']).ok_or_else(|| bad("no comparison (<=, <, >=, >)"))?;
    let (lhs, rest) = token.split_at(op_at);
    let (op, value) = match rest.get(..2) {
        Some("<=") | Some(">=") => rest.split_at(2),
        _ => rest.split_at(1),
    };
    let (metric, stat) = match lhs.trim().split_once(':') {
        Some((m, s)) => (m.trim(), Some(s.trim())),
        None => (lhs.trim(), None),
    };
    let metric = match metric {
        "ttft" => Metric::Ttft,
        "itl" => Metric::Itl,
        "tpot" => Metric::Tpot,
        "e2e" => Metric::E2e,
        "decode_tps" => Metric::DecodeTps,
        other => return Err(bad(&format!("unknown metric {other:?}; one of ttft, itl, tpot, e2e, decode_tps"))),
    };
    let stat = match stat {
        None => Stat::Percentile(99.0),
        Some("mean") => Stat::Mean,
        Some("max") => Stat::Max,
        Some(p) => match p.strip_prefix('p').and_then(|n| n.parse::<f64>().ok()) {
            Some(n) if (0.0..=100.0).contains(&n) => Stat::Percentile(n),
            _ => return Err(bad(&format!("unknown statistic {p:?}; p50, p90, p99, pNN, mean or max"))),
        },
    };
    let inclusive = op.ends_with('=');
    if op.starts_with('<') == metric.higher_is_better() {
        let want = if metric.higher_is_better() { ">= or >" } else { "<= or <" };
        return Err(bad(&format!("{} is limited with {want}", metric.name())));
    }
    let value = value.trim();
    let (number, scale) = if metric.higher_is_better() {
        (value.strip_suffix("tok/s").unwrap_or(value), 1.0)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (value, 1.0)
    };
    let value = match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => x * scale,
        _ => return Err(bad(&format!("{value:?} is not a number{}", metric.unit()))),
    };
    Ok(Limit { metric, stat, inclusive, value })
}

/// One limit's run-level result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LimitResult {
    pub limit: String,
    /// The statistic over the requests (None when no request had the metric).
    pub observed: Option<f64>,
    pub met: bool,
    /// Relative distance of the observed value from the limit.
    pub margin: Option<f64>,
    /// Requests whose own value meets this limit.
    pub requests_meeting: usize,
}

/// SLO attainment and goodput of a run (or its window).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SloReport {
    pub slo: String,
    /// Where the latencies are measured from.
    pub latency_origin: String,
    pub limits: Vec<LimitResult>,
    /// Every limit met at the run level.
    pub met: bool,
    pub requests: usize,
    /// Requests that succeeded and meet every limit.
    pub requests_meeting: usize,
    /// requests_meeting / requests.
    pub attainment: Option<f64>,
    /// requests_meeting / duration_s.
    pub request_goodput: f64,
    /// Σ completion_tokens of the requests meeting every limit / duration_s.
    pub token_goodput: f64,
    pub sessions: usize,
    /// Completed sessions whose every request met every limit.
    pub sessions_meeting: usize,
    /// sessions_meeting / duration_s.
    pub session_goodput: f64,
}

impl Slo {
    /// Judges requests by their own inter-token gaps (a big run then keeps every raw gap).
    pub(crate) fn needs_gaps(&self) -> bool {
        self.limits.iter().any(|l| l.metric == Metric::Itl)
    }

    /// Does request `r` meet every limit?
    pub(crate) fn request_meets<S: Sample>(&self, r: &S) -> bool {
        r.ok() && self.limits.iter().all(|l| l.of_request(r).is_none_or(|v| l.meets(v)))
    }

    /// The report over `requests` (the window) and `sessions`, `duration_s` long.
    pub(crate) fn evaluate<S: Sample, T: SessionFigures>(
        &self,
        requests: &[S],
        sessions: impl IntoIterator<Item = T>,
        duration_s: f64,
    ) -> SloReport {
        let per_s = |x: f64| if duration_s > 0.0 { x / duration_s } else { 0.0 };
        let limits: Vec<LimitResult> = self
            .limits
            .iter()
            .map(|l| {
                let observed = l.stat.of(&mut l.run_values(requests));
                LimitResult {
                    limit: l.to_string(),
                    observed,
                    met: observed.is_none_or(|v| l.meets(v)),
                    margin: observed.map(|v| l.margin(v)),
                    requests_meeting: requests
                        .iter()
                        .filter(|r| r.ok() && l.of_request(*r).is_none_or(|v| l.meets(v)))
                        .count(),
                }
            })
            .collect();
        let meeting: Vec<&S> = requests.iter().filter(|r| self.request_meets(*r)).collect();
        // Per session: has requests in the window, and all of them meet the SLO. One pass
        // (a scan of every request per session was quadratic: minutes on a 100,000-request step).
        let mut all_meet: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
        for r in requests {
            *all_meet.entry(r.session()).or_insert(true) &= self.request_meets(r);
        }
        let counted = |s: &T| s.completed() && all_meet.get(&s.session()).copied().unwrap_or(false);
        let (mut session_count, mut sessions_meeting) = (0, 0);
        for s in sessions {
            session_count += 1;
            sessions_meeting += usize::from(counted(&s));
        }
        SloReport {
            slo: self.to_string(),
            latency_origin: "TTFT and E2E from the intended send time (scheduled_ms): coordinated omission excluded"
                .into(),
            met: limits.iter().all(|l| l.met),
            limits,
            requests: requests.len(),
            requests_meeting: meeting.len(),
            attainment: (!requests.is_empty()).then(|| meeting.len() as f64 / requests.len() as f64),
            request_goodput: per_s(meeting.len() as f64),
            token_goodput: per_s(meeting.iter().map(|r| r.completion_tokens()).sum::<u64>() as f64),
            sessions: session_count,
            sessions_meeting,
            session_goodput: per_s(sessions_meeting as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::results::{RequestSample, SessionSample};

    #[test]
    fn parses_the_documented_example() {
        let slo: Slo = "ttft:p99<=2s,itl:p99<=150ms,tpot:p50<=50ms,e2e:p99<=60s,decode_tps:p50>=20".parse().unwrap();
        assert_eq!(slo.limits.len(), 5);
        assert_eq!(
            slo.limits[0],
            Limit { metric: Metric::Ttft, stat: Stat::Percentile(99.0), inclusive: true, value: 2000.0 }
        );
        assert_eq!(slo.limits[4].value, 20.0);
        assert_eq!(
            slo.to_string(),
            "ttft:p99<=2000ms,itl:p99<=150ms,tpot:p50<=50ms,e2e:p99<=60000ms,decode_tps:p50>=20"
        );
        let l: Slo = "e2e<30000, decode_tps:mean>10tok/s, ttft:max<=500".parse().unwrap();
        assert_eq!(l.limits[0].stat, Stat::Percentile(99.0));
        assert!(!l.limits[0].inclusive);
        assert_eq!((l.limits[1].stat, l.limits[1].value), (Stat::Mean, 10.0));
        assert_eq!((l.limits[2].stat, l.limits[2].value), (Stat::Max, 500.0));
    }

    #[test]
    fn bad_syntax_names_the_token() {
        for (bad, needle) in [
            ("ttft=2s", "\"ttft=2s\": no comparison"),
            ("latency:p99<=2s", "unknown metric \"latency\""),
            ("ttft:p101<=2s", "unknown statistic \"p101\""),
            ("ttft:p99>=2s", "ttft is limited with <= or <"),
            ("decode_tps:p50<=20", "decode_tps is limited with >= or >"),
            ("ttft:p99<=fast", "\"fast\" is not a number ms"),
            ("", "no limit given"),
        ] {
            let err = bad.parse::<Slo>().unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    fn request(session: u64, ttft: f64, decode: f64, ok: bool) -> RequestSample {
        RequestSample {
            session,
            ok,
            ttft_ms: Some(ttft),
            ttft_from_due_ms: Some(ttft),
            decode_tok_per_s: Some(decode),
            itl_ms: vec![10.0, 20.0],
            completion_tokens: 10,
            ..Default::default()
        }
    }

    /// Hand-computed: 4 requests in 2 s, one too slow, one failed.
    #[test]
    fn goodput_counts_what_met_every_limit() {
        let slo: Slo = "ttft:p50<=1000ms,decode_tps:p50>=20".parse().unwrap();
        let rs = vec![request(0, 500.0, 30.0, true), request(0, 1500.0, 30.0, true), request(1, 400.0, 25.0, true), {
            let mut r = request(1, 0.0, 0.0, false);
            r.ttft_ms = None;
            r.ttft_from_due_ms = None;
            r.decode_tok_per_s = None;
            r
        }];
        let sessions = [0, 1, 2].map(|s| SessionSample { session: s, completed: true, ..Default::default() });
        let mut with_third = rs.clone();
        with_third.push(request(2, 300.0, 40.0, true));
        let report = slo.evaluate(&with_third, &sessions, 2.0);
        assert_eq!(report.requests_meeting, 3);
        assert_eq!(report.attainment, Some(0.6));
        assert_eq!(report.request_goodput, 1.5);
        assert_eq!(report.token_goodput, 15.0);
        assert_eq!((report.sessions_meeting, report.session_goodput), (1, 0.5), "only session 2 met every limit");
        // Run level: TTFT p50 over [300, 400, 500, 1500, ∞] = 500 → met; decode p50 over
        // [0, 25, 30, 30, 40] = 30 → met.
        assert_eq!(report.limits[0].observed, Some(500.0));
        assert_eq!(report.limits[1].observed, Some(30.0));
        assert!(report.met);
        let strict: Slo = "ttft:p90<=1000ms".parse().unwrap();
        assert!(!strict.evaluate(&with_third, &sessions, 2.0).met, "the failed request counts as infinitely slow");
    }
}
