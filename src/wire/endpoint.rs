//! Where requests go: endpoint URLs as users type them, which API an endpoint speaks, and
//! the header that carries the key. Shared by record (its upstream) and replay (its target).

use anyhow::{bail, Context, Result};
use clap::ValueEnum;

use super::Api;
use crate::recording::redact;

/// `--upstream-api`: the API to speak to an endpoint, when its URL does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpstreamApi {
    Openai,
    Anthropic,
}

impl UpstreamApi {
    pub fn api(self) -> Api {
        match self {
            UpstreamApi::Openai => Api::OpenAi,
            UpstreamApi::Anthropic => Api::Anthropic,
        }
    }
}

/// Strips a trailing `/`, and one trailing `/v1/chat/completions`, `/v1/messages` or `/v1`
/// (clients add their own `/v1/...` paths), so `http://h:8000/v1` does not become `/v1/v1`.
/// A `user:password@` is dropped, from the result and from error messages (take it first
/// with [`redact::split_userinfo`] to use it).
pub fn normalize_base(endpoint: &str) -> Result<String> {
    let (endpoint, _) = redact::split_userinfo(endpoint.trim());
    let endpoint = endpoint.as_str();
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.is_empty() {
        bail!("--endpoint is empty");
    }
    let uri: http::Uri = trimmed.parse().with_context(|| format!("--endpoint {endpoint:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => bail!("--endpoint {endpoint:?} must start with http:// or https://"),
    }
    if uri.host().is_none() {
        bail!("--endpoint {endpoint:?} has no host");
    }
    let mut base = trimmed.to_string();
    for suffix in ["/v1/chat/completions", "/v1/messages", "/v1"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped.to_string();
            break;
        }
    }
    Ok(base)
}

pub fn detect_api(base: &str) -> Api {
    let host = base.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_ascii_lowercase));
    match host {
        Some(h) if h == "anthropic.com" || h.ends_with(".anthropic.com") => Api::Anthropic,
        _ => Api::OpenAi,
    }
}

/// The (lower-case header, value) carrying `key`: `authorization` sends `Bearer KEY`, any
/// other header the key itself. Default header: x-api-key for Anthropic, authorization
/// otherwise. No key (or an empty one) sends nothing.
pub fn auth_header(api: Api, key: Option<&str>, header: Option<&str>) -> Option<(String, String)> {
    let key = key.filter(|k| !k.is_empty())?;
    let header = header
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| if api == Api::Anthropic { "x-api-key" } else { "authorization" }.into());
    let value = if header == "authorization" { format!("Bearer {key}") } else { key.to_string() };
    Some((header, value))
}

/// The (header, value) sending an endpoint URL's `user:password` as Basic auth, as curl
/// does: used when no key is given.
pub fn basic_auth(user: &str, password: &str) -> (String, String) {
    let blob = redact::base64_encode(format!("{user}:{password}").as_bytes());
    ("authorization".to_string(), format!("Basic {blob}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_normalization() {
        assert_eq!(normalize_base("http://h:8000/").unwrap(), "http://h:8000");
        assert_eq!(normalize_base("http://h:8000/v1").unwrap(), "http://h:8000");
        assert_eq!(normalize_base("http://h:8000/v1/chat/completions").unwrap(), "http://h:8000");
        assert_eq!(normalize_base("https://api.anthropic.com/v1/messages").unwrap(), "https://api.anthropic.com");
        assert_eq!(normalize_base("http://h/proxy/v1").unwrap(), "http://h/proxy");
        assert!(normalize_base("").is_err());
        assert!(normalize_base("ftp://h").is_err());
        assert!(normalize_base("localhost:8000").is_err());
        assert_eq!(normalize_base("http://u:secret-pw@h:8000/v1").unwrap(), "http://h:8000");
        let e = normalize_base("ftp://u:secret-pw@h").unwrap_err().to_string();
        assert!(!e.contains("secret-pw") && e.contains("ftp://h"), "{e}");
    }

    #[test]
    fn api_detection() {
        assert_eq!(detect_api("https://api.anthropic.com"), Api::Anthropic);
        assert_eq!(detect_api("https://notanthropic.com"), Api::OpenAi);
        assert_eq!(detect_api("http://127.0.0.1:8000"), Api::OpenAi);
    }
}
