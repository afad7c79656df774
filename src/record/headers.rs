//! Which headers cross the proxy, and which are kept out of the recording.
//!
//! Forwarding: everything but hop-by-hop headers, `host` and `content-length` (recomputed),
//! and `accept-encoding` (the upstream then answers uncompressed, so the recording is
//! readable; on loopback and LAN this costs nothing that matters). When `-k` is given its
//! header replaces the client's own credentials.
//!
//! Recording: credential headers (by [`crate::recording::redact`]'s shape rules) are
//! written as `[redacted]`, never their value, and the value is registered with the
//! session's secrets so an echo of it anywhere in the line is scrubbed too.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::recording::redact::{self, Secrets, REDACTED};
use crate::wire::sse::lossy_string;

const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"];

fn named(name: &[u8], list: &[&str]) -> bool {
    list.iter().any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
}

/// Whether a client's request header goes upstream (any spelling of its name);
/// `replacing_auth`: `-k` was given, and its header replaces the client's credentials.
pub(crate) fn goes_upstream(name: &[u8], replacing_auth: bool) -> bool {
    !(named(name, HOP_BY_HOP)
        || named(name, &["host", "content-length", "accept-encoding"])
        || (replacing_auth && named(name, &["authorization", "x-api-key", "api-key"])))
}

/// Whether an upstream's response header goes on to the client (any spelling of its name).
pub(crate) fn goes_to_client(name: &[u8]) -> bool {
    !named(name, HOP_BY_HOP)
}

/// The client's headers as they go upstream.
pub(crate) fn upstream_request_headers(client: &HeaderMap, auth: Option<&(String, String)>) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len() + 1);
    for (name, value) in client {
        if goes_upstream(name.as_str().as_bytes(), auth.is_some()) {
            out.append(name.clone(), value.clone());
        }
    }
    if let Some((name, value)) = auth {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            out.insert(n, v);
        }
    }
    out
}

/// The upstream's response headers as they go back to the client.
pub(crate) fn client_response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream {
        if goes_to_client(name.as_str().as_bytes()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Whether a response's headers say it is an SSE stream.
pub(crate) fn is_event_stream(h: &HeaderMap) -> bool {
    h.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Headers as a recording keeps them: lower-case names, repeated values joined with ", ",
/// credentials redacted (and their values added to `secrets`), credential-named query
/// parameters in URL values redacted.
pub(crate) fn for_recording(headers: &HeaderMap, secrets: &Secrets) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in headers {
        let v = if redact::is_secret_header(name.as_str()) {
            if let Ok(text) = value.to_str() {
                redact::credential_parts(text, |s| secrets.add(s));
            }
            REDACTED.to_string()
        } else {
            let text = lossy_string(value.as_bytes());
            let redacted = match redact::redact_urls(&text, true, |s| secrets.add(s)) {
                std::borrow::Cow::Owned(redacted) => Some(redacted),
                std::borrow::Cow::Borrowed(_) => None,
            };
            redacted.unwrap_or(text)
        };
        match out.get_mut(name.as_str()) {
            Some(Value::String(existing)) if existing == REDACTED && v == REDACTED => {}
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&v);
            }
            _ => {
                out.insert(name.as_str().to_string(), Value::String(v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::try_from(*k).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarding_rules() {
        let client = map(&[
            ("host", "127.0.0.1:19000"),
            ("x-api-key", "client-key"),
            ("anthropic-version", "2023-06-01"),
            ("accept-encoding", "gzip"),
            ("connection", "keep-alive"),
            ("content-length", "10"),
        ]);
        let up = upstream_request_headers(&client, None);
        assert_eq!(up.get("x-api-key").unwrap(), "client-key");
        assert!(up.get("host").is_none() && up.get("accept-encoding").is_none() && up.get("connection").is_none());
        let auth = ("authorization".to_string(), "Bearer k".to_string());
        let up = upstream_request_headers(&client, Some(&auth));
        assert!(up.get("x-api-key").is_none());
        assert_eq!(up.get("authorization").unwrap(), "Bearer k");
        assert_eq!(up.get("anthropic-version").unwrap(), "2023-06-01");
        // The hand-written passthrough asks with names as the peer spelled them.
        assert!(!goes_upstream(b"Accept-Encoding", false) && !goes_upstream(b"Connection", false));
        assert!(goes_upstream(b"Authorization", false) && !goes_upstream(b"Authorization", true));
        assert!(goes_upstream(b"X-Stainless-Lang", true) && goes_upstream(b"Content-Type", false));
        assert!(!goes_to_client(b"Keep-Alive") && goes_to_client(b"X-Request-Id"));
    }

    #[test]
    fn recording_redacts_credentials() {
        let h = map(&[
            ("Authorization", "Bearer sk-1"),
            ("x-api-key", "k2"),
            ("x-goog-api-key", "k3"),
            ("anthropic-beta", "a"),
            ("anthropic-beta", "b"),
        ]);
        let secrets = Secrets::default();
        let rec = for_recording(&h, &secrets);
        let text = serde_json::to_string(&rec).unwrap();
        assert!(!text.contains("sk-1") && !text.contains("k2") && !text.contains("k3"), "{text}");
        assert_eq!(rec["anthropic-beta"], "a, b");
        let mut line = "keys sk-1 and k2".to_string();
        secrets.scrub(&mut line);
        assert_eq!(line, "keys [redacted] and k2", "values under 4 characters are not registered");
        let h = map(&[
            ("authorization", "bearer sk-long-1"),
            ("cookie", "a=cookie-1"),
            ("cookie", "b=cookie-2"),
            ("location", "https://h/x?access_token=loc-token-1&page=2"),
        ]);
        let rec = for_recording(&h, &secrets);
        assert_eq!(rec["cookie"], REDACTED, "one [redacted] for repeated credential headers");
        assert_eq!(rec["location"], "https://h/x?access_token=[redacted]&page=2");
        let mut line = "sk-long-1 a=cookie-1 loc-token-1".to_string();
        secrets.scrub(&mut line);
        assert_eq!(line, "[redacted] [redacted] [redacted]");
    }
}
