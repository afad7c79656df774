//! Prefix-cache accounting: the cached prompt tokens each answer reported (OpenAI
//! `prompt_tokens_details.cached_tokens`, which llama.cpp and vLLM also send; Anthropic
//! `cache_read_input_tokens`), against what the cache mode should give, per request and per
//! session; and a warning when the cache was warm before the run began.
//!
//! Expected cached tokens of a request (an ideal prefix cache of unbounded size, counted
//! in the server's tokens):
//! * a later call of a session's thread: the previous call's prompt tokens of that thread
//!   (an agent's next call extends its last one), once that call's prefill was done
//!   (its first output arrived before this one was sent), at most this prompt;
//! * the first call of a thread: `realistic`: the shared prefix (its chars / 4, the
//!   scenario's estimate) once any request of the run has been sent before it; `allcold`:
//!   0; `allwarm`: the same call's prompt if an earlier execution of the task sent it;
//! * the run's first request: 0 in every mode.
//!
//! A server that caches less than this evicted (or never kept) what it could have kept; a
//! server that caches more held something from before the run. The run's first request
//! reporting cached tokens, or KV cache in use at the scrape before the run, is said
//! plainly: a warm start flatters TTFT (vllm#54227: 49× lower).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::reset::ResetReport;

/// Cached tokens within this many of the expected count are "as expected": servers cache
/// whole blocks (vLLM: 16 tokens) and recompute a prompt's last token or block.
pub(crate) const TOLERANCE_TOKENS: u64 = 64;
use crate::replay::plan::CacheMode;
use crate::replay::sample_row::Sample;

/// The prefix-cache section of the run JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct PrefixCacheReport {
    /// What `--reset-prefix-cache` did, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<ResetReport>,
    pub warnings: Vec<String>,
    /// Requests whose answer reported prompt tokens, and their sums.
    pub requests_with_usage: usize,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub expected_cached_tokens: u64,
    /// Σ cached / Σ prompt, and Σ expected / Σ prompt.
    pub reported_hit_rate: Option<f64>,
    pub expected_hit_rate: Option<f64>,
    /// Requests that reported fewer / more cached tokens than expected, by more than
    /// [`TOLERANCE_TOKENS`].
    pub below_expected: usize,
    pub above_expected: usize,
    /// Per session, in session order.
    pub sessions: Vec<SessionCache>,
}

/// One session's prompt tokens, as reported cached, and as expected cached.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct SessionCache {
    pub session: u64,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub expected_cached_tokens: u64,
}

/// What the scrape before the run saw.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Baseline {
    pub kv_cache_usage: Option<f64>,
    pub requests_running: Option<f64>,
}

/// Fills every request's `expected_cached_tokens`, sums them per session, and says what
/// the server's cache did.
pub(crate) fn account<S: Sample>(
    requests: &mut [S],
    mode: CacheMode,
    shared_prefix_chars: Option<usize>,
    baseline: Baseline,
    reset: Option<ResetReport>,
) -> PrefixCacheReport {
    let mut order: Vec<u32> = (0..requests.len() as u32).collect();
    order.sort_by(|&a, &b| requests[a as usize].start_ms().total_cmp(&requests[b as usize].start_ms()));
    let shared_tokens = shared_prefix_chars.unwrap_or(0) as u64 / 4;
    // Each request's previous call in its (session, thread) that reported usage: found by
    // sorting rather than kept in a map per (session, thread), which a run of a million
    // one-call sessions made a 150 MB map.
    const NONE: u32 = u32::MAX;
    let mut previous = vec![NONE; requests.len()];
    let mut threads: Vec<u32> =
        (0..requests.len() as u32).filter(|&i| requests[i as usize].prompt_tokens().is_some()).collect();
    threads.sort_by(|&a, &b| {
        let (a, b) = (&requests[a as usize], &requests[b as usize]);
        (a.session(), a.thread()).cmp(&(b.session(), b.thread())).then(a.start_ms().total_cmp(&b.start_ms()))
    });
    for pair in threads.windows(2) {
        let (a, b) = (&requests[pair[0] as usize], &requests[pair[1] as usize]);
        if (a.session(), a.thread()) == (b.session(), b.thread()) {
            previous[pair[1] as usize] = pair[0];
        }
    }
    drop(threads);
    // (task, turn) sent by some execution already (allwarm).
    let mut sent_turns: HashMap<(String, usize), u64> = HashMap::new();
    for (rank, i) in order.iter().map(|&i| i as usize).enumerate() {
        let r = &requests[i];
        let Some(prompt) = r.prompt_tokens() else { continue };
        let expected = match previous[i] {
            _ if rank == 0 => 0,
            NONE => match mode {
                CacheMode::Realistic | CacheMode::RealisticCompat => shared_tokens.min(prompt),
                CacheMode::Allcold => 0,
                CacheMode::Allwarm => sent_turns.get(&(r.task_id().to_owned(), r.turn())).map_or(0, |&p| p.min(prompt)),
            },
            p => {
                let prev = &requests[p as usize];
                match prev.ttft_ms().map(|t| prev.start_ms() + t) {
                    Some(first_output) if first_output <= r.start_ms() => prev.prompt_tokens().unwrap_or(0).min(prompt),
                    _ => 0,
                }
            }
        };
        sent_turns.entry((r.task_id().to_owned(), r.turn())).or_insert(prompt);
        requests[i].set_expected_cached_tokens(Some(expected));
    }
    // Freed before the per-session sums: those are the accounting's peak (a million
    // one-call sessions are 32 MB of sums).
    drop((order, previous));

    let mut report = PrefixCacheReport { reset, ..Default::default() };
    // Per session, in session order: indices sorted by session rather than a map (a
    // million sessions in a BTreeMap cost twice their 32 bytes each).
    let mut by_session: Vec<u32> =
        (0..requests.len() as u32).filter(|&i| requests[i as usize].prompt_tokens().is_some()).collect();
    by_session.sort_by_key(|&i| requests[i as usize].session());
    let distinct =
        by_session.windows(2).filter(|w| requests[w[0] as usize].session() != requests[w[1] as usize].session());
    // Sized once: a doubling copy would hold the old half beside the new whole.
    let mut sessions: Vec<SessionCache> = Vec::with_capacity(distinct.count() + 1);
    for r in by_session.into_iter().map(|i| &requests[i as usize]) {
        let (prompt, cached, expected) =
            (r.prompt_tokens().unwrap_or(0), r.cached_tokens().unwrap_or(0), r.expected_cached_tokens().unwrap_or(0));
        if sessions.last().is_none_or(|s| s.session != r.session()) {
            sessions.push(SessionCache { session: r.session(), ..Default::default() });
        }
        let s = sessions.last_mut().expect("pushed above");
        s.prompt_tokens += prompt;
        s.cached_tokens += cached;
        s.expected_cached_tokens += expected;
        report.requests_with_usage += 1;
        report.prompt_tokens += prompt;
        report.cached_tokens += cached;
        report.expected_cached_tokens += expected;
        report.below_expected += usize::from(cached + TOLERANCE_TOKENS < expected);
        report.above_expected += usize::from(cached > expected + TOLERANCE_TOKENS);
    }
    let rate = |n: u64| (report.prompt_tokens > 0).then(|| n as f64 / report.prompt_tokens as f64);
    report.reported_hit_rate = rate(report.cached_tokens);
    report.expected_hit_rate = rate(report.expected_cached_tokens);
    report.sessions = sessions;

    // On a cold cache, whichever request the server took first found nothing cached; that
    // request was sent before any answer's first output. So if every request sent before
    // the first output reports cached tokens, the cache was warm before the run.
    let first_output = requests.iter().filter_map(|r| Some(r.start_ms() + r.ttft_ms()?)).fold(f64::INFINITY, f64::min);
    let opening: Vec<&S> =
        requests.iter().filter(|r| r.start_ms() <= first_output && r.prompt_tokens().is_some()).collect();
    let least = opening.iter().min_by_key(|r| r.cached_tokens().unwrap_or(0));
    if let Some(r) = least.filter(|r| r.cached_tokens().unwrap_or(0) > 0) {
        report.warnings.push(format!(
            "the server's prefix cache was warm at the start: every request sent before the first answer began \
             reported cached tokens (the least: {} turn {}, {} of its {} prompt tokens), though nothing of this run \
             could have put them there; TTFT is flattered (use --reset-prefix-cache)",
            r.task_id(),
            r.turn(),
            r.cached_tokens().unwrap_or(0),
            r.prompt_tokens().unwrap_or(0)
        ));
    }
    if let Some(kv) = baseline.kv_cache_usage.filter(|&u| u > 0.0) {
        report.warnings.push(format!(
            "the server already held KV cache before the first request ({:.1} % in use at the scrape before the run{}): \
             a warm or busy server (use --reset-prefix-cache, or wait until it is idle)",
            kv * 100.0,
            baseline
                .requests_running
                .filter(|&n| n > 0.0)
                .map_or(String::new(), |n| format!(", {n} requests running"))
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::results::RequestSample;

    fn req(session: u64, turn: usize, start: f64, prompt: u64, cached: u64) -> RequestSample {
        RequestSample {
            task_id: "t".into(),
            session,
            turn,
            start_ms: start,
            ttft_ms: Some(10.0),
            prompt_tokens: Some(prompt),
            cached_tokens: Some(cached),
            ok: true,
            ..Default::default()
        }
    }

    #[test]
    fn expected_follows_the_thread_and_the_cache_mode() {
        let mut requests = vec![
            req(0, 0, 0.0, 1000, 0),
            req(0, 1, 100.0, 1500, 992),
            req(1, 0, 50.0, 1000, 400),
            req(1, 1, 200.0, 1600, 0),
        ];
        let report = account(&mut requests, CacheMode::Realistic, Some(2000), Baseline::default(), None);
        let expected: Vec<Option<u64>> = requests.iter().map(|r| r.expected_cached_tokens).collect();
        assert_eq!(expected, [Some(0), Some(1000), Some(500), Some(1000)]);
        let per_session: Vec<(u64, u64)> =
            report.sessions.iter().map(|s| (s.cached_tokens, s.expected_cached_tokens)).collect();
        assert_eq!(per_session, [(992, 1000), (400, 1500)]);
        // 992 of 1000 is within a block of the expected: only 400 of 500 and 0 of 1000 fall short.
        assert_eq!((report.below_expected, report.above_expected), (2, 0));
        assert_eq!(report.reported_hit_rate, Some(1392.0 / 5100.0));
        assert!(report.warnings.is_empty());

        let mut requests = vec![req(0, 0, 0.0, 1000, 0), req(1, 0, 50.0, 1000, 400)];
        account(&mut requests, CacheMode::Allcold, Some(0), Baseline::default(), None);
        assert_eq!(requests[1].expected_cached_tokens, Some(0));
        account(&mut requests, CacheMode::Allwarm, None, Baseline::default(), None);
        assert_eq!(requests[1].expected_cached_tokens, Some(1000));
    }

    #[test]
    fn a_request_that_overtook_the_first_is_no_warm_start() {
        // Sent together: the server took the second first, so the first found its blocks.
        let mut requests = vec![req(0, 0, 0.0, 1000, 992), req(1, 0, 0.5, 1000, 0)];
        let report = account(&mut requests, CacheMode::Realistic, Some(4000), Baseline::default(), None);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn a_warm_start_is_warned_about() {
        let mut requests = vec![req(0, 0, 0.0, 1000, 960)];
        let baseline = Baseline { kv_cache_usage: Some(0.25), requests_running: Some(0.0) };
        let report = account(&mut requests, CacheMode::Allcold, Some(0), baseline, None);
        assert_eq!(report.warnings.len(), 2);
        assert!(report.warnings[0].contains("960 of its 1000 prompt tokens"), "{}", report.warnings[0]);
        assert!(report.warnings[1].contains("25.0 % in use"), "{}", report.warnings[1]);
    }
}
