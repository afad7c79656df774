//! `--reset-prefix-cache`: empties the server's prefix cache before the run, so an earlier
//! run's warm cache does not flatter this one (vllm#52884: up to +86 % throughput;
//! vllm#54227: TTFT 49× lower). Tried in order, the first that exists wins:
//!
//! 1. `POST /reset_prefix_cache` (vLLM, `asb mock`);
//! 2. `POST /flush_cache` (SGLang);
//! 3. llama.cpp: `GET /slots`, then `POST /slots/{id}?action=erase` for every slot (the
//!    server must run with `--slot-save-path`, else it answers 501 and we say so). This
//!    empties the slots only: llama.cpp's host-memory prompt cache (`--cache-ram`, 8 GiB by
//!    default) has no API to clear it and can still restore a prompt seen before, so the
//!    message says so (found by CI: 143 tokens of an earlier test's prompt came back).
//!
//! It says what it did; a reset that could not be done is a warning, not an error.

use std::time::Duration;

use hyper::Method;
use serde::{Deserialize, Serialize};

use super::http::Http;

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER: usize = 1 << 20;

/// What `--reset-prefix-cache` did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ResetReport {
    pub done: bool,
    /// In words: the calls made and their answers.
    pub what: String,
}

/// Resets the prefix cache of the server at `base` (scheme and host).
pub(crate) async fn reset(base: &str) -> ResetReport {
    let http = match Http::new() {
        Ok(h) => h,
        Err(e) => return ResetReport { done: false, what: format!("no HTTP client: {e}") },
    };
    let mut tried = Vec::new();
    for path in ["/reset_prefix_cache", "/flush_cache"] {
        match http.call(Method::POST, &format!("{base}{path}"), TIMEOUT, MAX_ANSWER).await {
            Ok(a) if (200..300).contains(&a.status) => {
                return ResetReport { done: true, what: format!("POST {path}: HTTP {}", a.status) };
            }
            Ok(a) => tried.push(format!("POST {path}: HTTP {}{}", a.status, snippet(&a.body))),
            Err(e) => tried.push(format!("POST {path}: {e}")),
        }
    }
    match erase_slots(&http, base).await {
        Ok(what) => ResetReport { done: true, what },
        Err(e) => {
            tried.push(e);
            ResetReport { done: false, what: format!("no reset worked: {}", tried.join("; ")) }
        }
    }
}

/// llama.cpp: every slot's cache erased.
async fn erase_slots(http: &Http, base: &str) -> Result<String, String> {
    let slots = http.call(Method::GET, &format!("{base}/slots"), TIMEOUT, MAX_ANSWER).await?;
    if slots.status != 200 {
        return Err(format!("GET /slots: HTTP {}{}", slots.status, snippet(&slots.body)));
    }
    let ids: Vec<u64> = serde_json::from_slice::<serde_json::Value>(&slots.body)
        .ok()
        .and_then(|v| v.as_array().map(|a| a.iter().filter_map(|s| s["id"].as_u64()).collect()))
        .filter(|ids: &Vec<u64>| !ids.is_empty())
        .ok_or_else(|| "GET /slots: not a list of slots".to_string())?;
    let mut erased = 0;
    for id in &ids {
        let path = format!("/slots/{id}?action=erase");
        let a = http.call(Method::POST, &format!("{base}{path}"), TIMEOUT, MAX_ANSWER).await?;
        if a.status != 200 {
            return Err(format!("POST {path}: HTTP {}{}", a.status, snippet(&a.body)));
        }
        erased +=
            serde_json::from_slice::<serde_json::Value>(&a.body).ok().and_then(|v| v["n_erased"].as_u64()).unwrap_or(0);
    }
    Ok(format!(
        "POST /slots/{{id}}?action=erase for {} llama.cpp slot(s): {erased} cached tokens erased from the slots; \
         llama.cpp's host-memory prompt cache (--cache-ram) cannot be cleared this way and may still restore \
         prompts it has seen: start the server with --cache-ram 0 for a cold start",
        ids.len()
    ))
}

/// The start of an answer's body, to quote in a message.
fn snippet(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body).chars().take(160).collect();
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(" ({text})")
    }
}
