//! The key a request is matched by: method, path, and the canonical text of its JSON body
//! (sorted keys, array order kept, so `stream: true` and `stream: false` differ, and so does
//! any reordering of messages), after the volatile parts are normalised
//! ([`crate::recording::normalize`]).
//!
//! Before any of that, a request is looked up by its exact bytes ([`ExactKey`]): a client
//! that sends the very body it sent when recording (SDKs serialise the same call the same
//! way, and `asb record` keeps the body as it was sent) is matched
//! without building the canonical text, which on a 100 KB agent body is most of the call.

#[cfg(test)]
use crate::recording::normalize::Normalizer;

/// A request's key, from its body's bytes (a body that is not JSON is left out).
#[cfg(test)]
pub(crate) fn request_key(normalizer: &Normalizer, method: &str, path: &str, body: &[u8]) -> Key {
    key_of(method, path, normalizer.canonical_text_of(body).as_deref())
}

/// A request as it is matched: method, path and canonical body text (`None`: the body is
/// not JSON).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CanonicalRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub text: Option<&'a [u8]>,
}

impl CanonicalRequest<'_> {
    pub(crate) fn key(&self) -> Key {
        key_of(self.method, self.path, self.text)
    }
}

/// What a request is matched by: a 128-bit hash (XXH3) of its method, path and canonical
/// body text. A hit is confirmed against the recorded canonical text before it is served
/// ([`super::cassette::Cassette::take`]), so the hash only has to be fast.
pub(crate) type Key = u128;

/// The key of method, path and a canonical body text ([`Normalizer::canonical_text_of`](crate::recording::normalize::Normalizer::canonical_text_of)).
pub(crate) fn key_of(method: &str, path: &str, canonical_text: Option<&[u8]>) -> Key {
    request_hash(method, path, canonical_text.unwrap_or_default())
}

/// A request's exact bytes, hashed the same way: method, path and body as received. Equal
/// bytes have equal canonical keys whatever the normaliser, so an exact hit needs no
/// canonical text; a different spelling of the same JSON (spacing, key order, a new
/// timestamp) misses here and is matched by [`Key`]. Unlike a key, an exact hit cannot be
/// confirmed (the recorded bytes are not kept): 128 bits make a false one out of reach.
pub(crate) type ExactKey = u128;

/// The [`ExactKey`] of a request.
pub(crate) fn exact_key_of(method: &str, path: &str, body: &[u8]) -> ExactKey {
    request_hash(method, path, body)
}

/// XXH3-128 of `METHOD path\nbody`.
fn request_hash(method: &str, path: &str, body: &[u8]) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    h.digest128()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn key(n: &Normalizer, method: &str, path: &str, body: &Value) -> Key {
        request_key(n, method, path, body.to_string().as_bytes())
    }

    #[test]
    fn key_order_does_not_matter_but_array_order_and_stream_do() {
        let n = Normalizer::default();
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "a"}], "stream": true});
        let b = json!({"stream": true, "messages": [{"content": "a", "role": "user"}], "model": "m"});
        assert_eq!(key(&n, "POST", "/v1/messages", &a), key(&n, "POST", "/v1/messages", &b));
        let c = json!({"model": "m", "messages": [{"role": "user", "content": "a"}], "stream": false});
        assert_ne!(key(&n, "POST", "/v1/messages", &a), key(&n, "POST", "/v1/messages", &c));
        assert_ne!(key(&n, "POST", "/v1/messages", &a), key(&n, "POST", "/v1/chat/completions", &a));
    }

    #[test]
    fn volatile_values_are_normalised() {
        let n = Normalizer::default();
        let run1 = json!({"system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.123; cc_entrypoint=sdk-cli; cch=abc12;"},
            {"type": "text", "text": "CWD: /tmp/a\nDate: 2026-11-24"}],
            "metadata": {"user_id": "{\"device_id\":\"d1\",\"session_id\":\"6f1c2a3b-1111-2222-3333-444455556666\"}"},
            "messages": [{"role": "user", "content": "at 2026-11-24T10:11:12.123Z id 6f1c2a3b-1111-2222-3333-444455556666"}]});
        let run2 = json!({"system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.ed9; cc_entrypoint=sdk-cli; cch=zz99;"},
            {"type": "text", "text": "CWD: /tmp/a\nDate: 2026-11-25"}],
            "metadata": {"user_id": "other"},
            "messages": [{"role": "user", "content": "at 2026-12-01T00:00:00+01:00 id 00000000-aaaa-bbbb-cccc-000000000000"}]});
        assert_eq!(key(&n, "POST", "/p", &run1), key(&n, "POST", "/p", &run2));
        let strict = Normalizer::new(&[], false);
        assert_ne!(key(&strict, "POST", "/p", &run1), key(&strict, "POST", "/p", &run2));
    }

    #[test]
    fn ignore_paths_with_wildcards() {
        let n = Normalizer::new(&["messages.*.id".to_string()], false);
        let a = json!({"messages": [{"id": 1, "c": "x"}, {"id": 2, "c": "y"}]});
        let b = json!({"messages": [{"id": 7, "c": "x"}, {"id": 8, "c": "y"}]});
        assert_eq!(key(&n, "POST", "/p", &a), key(&n, "POST", "/p", &b));
    }
}
