//! Where requests go: endpoint URLs as users type them, which API an endpoint speaks, the
//! header that carries the key, and how a plain-HTTP endpoint is reached by hand. Shared by
//! record (its upstream) and replay (its target).

use anyhow::{bail, Context, Result};
use clap::ValueEnum;

use super::api::Route;
use super::Api;
use crate::recording::redact;

/// `--upstream-api`: the API to speak to an endpoint, when its URL does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum UpstreamApi {
    Openai,
    Anthropic,
    /// OpenAI Responses (`/v1/responses`); such a server speaks Chat Completions too.
    Responses,
}

impl UpstreamApi {
    pub(crate) fn api(self) -> Api {
        match self {
            UpstreamApi::Openai => Api::OpenAi,
            UpstreamApi::Anthropic => Api::Anthropic,
            UpstreamApi::Responses => Api::Responses,
        }
    }
}

/// An endpoint split into its URL and its query (`?api-version=…`, as Azure OpenAI's
/// endpoints have), which is added to every request sent there ([`with_query`]); a
/// `#fragment` is dropped.
pub(crate) fn split_query(endpoint: &str) -> (&str, Option<&str>) {
    let endpoint = endpoint.trim();
    let endpoint = endpoint.split_once('#').map_or(endpoint, |(url, _)| url);
    match endpoint.split_once('?') {
        Some((url, query)) => (url, Some(query).filter(|q| !q.is_empty())),
        None => (endpoint, None),
    }
}

/// `url` with an endpoint's `query` added after the request's own (`?` or `&`); the
/// endpoint's parameters the request sets itself are left out (the request's win).
pub(crate) fn with_query(mut url: String, query: Option<&str>) -> String {
    let Some(query) = query else { return url };
    let own: Vec<&str> = url.split_once('?').map_or(vec![], |(_, q)| q.split('&').map(param_name).collect());
    let added: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !own.contains(&param_name(p))).collect();
    if added.is_empty() {
        return url;
    }
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&added.join("&"));
    url
}

fn param_name(param: &str) -> &str {
    param.split_once('=').map_or(param, |(name, _)| name)
}

/// Strips any query (see [`split_query`]), a trailing `/`, and a trailing call path of an
/// API ([`Api::path`]: `/v1/chat/completions`, `/v1/messages`) or `/v1` (clients add their
/// own `/v1/...` paths), so `http://h:8000/v1` does not become `/v1/v1`. A
/// `user:password@` is dropped, from the result and from error messages (take it first
/// with [`redact::split_userinfo`] to use it).
pub(crate) fn normalize_base(endpoint: &str) -> Result<String> {
    let (endpoint, _) = redact::split_userinfo(endpoint.trim());
    let endpoint = endpoint.as_str();
    let trimmed = split_query(endpoint).0.trim_end_matches('/');
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
    let suffix = Route::call_paths().chain(["/v1"]).find(|suffix| trimmed.ends_with(suffix));
    Ok(trimmed[..trimmed.len() - suffix.map_or(0, str::len)].to_string())
}

/// A plain-HTTP endpoint as a hand-written client reaches it (`asb record`'s passthrough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlainEndpoint {
    /// `host:port` to connect to.
    pub connect_to: String,
    /// The `host` header: the authority as the endpoint spelled it.
    pub host: String,
    /// The endpoint's path prefix ("" for none), put before each request's path.
    pub prefix: String,
}

impl PlainEndpoint {
    /// The endpoint `base` (a normalised `--endpoint`, see [`normalize_base`]), if it is
    /// plain HTTP.
    pub(crate) fn of(base: &str) -> Option<Self> {
        let rest = base.strip_prefix("http://")?;
        let (authority, prefix) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let uri: http::Uri = base.parse().ok()?;
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        let connect_to = match uri.port_u16() {
            Some(port) if host.contains(':') => format!("[{host}]:{port}"),
            Some(port) => format!("{host}:{port}"),
            None if host.contains(':') => format!("[{host}]:80"),
            None => format!("{host}:80"),
        };
        Some(PlainEndpoint { connect_to, host: authority.to_string(), prefix: prefix.to_string() })
    }
}

pub(crate) fn detect_api(base: &str) -> Api {
    let host = base.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_ascii_lowercase));
    match host {
        Some(h) if h == "anthropic.com" || h.ends_with(".anthropic.com") => Api::Anthropic,
        _ => Api::OpenAi,
    }
}

/// The (lower-case header, value) carrying `key`: `authorization` sends `Bearer KEY`, any
/// other header the key itself. Default header: x-api-key for Anthropic, authorization
/// otherwise. No key (or an empty one) sends nothing.
pub(crate) fn auth_header(api: Api, key: Option<&str>, header: Option<&str>) -> Option<(String, String)> {
    let key = key.filter(|k| !k.is_empty())?;
    let header = header
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| if api == Api::Anthropic { "x-api-key" } else { "authorization" }.into());
    let value = if header == "authorization" { format!("Bearer {key}") } else { key.to_string() };
    Some((header, value))
}

/// The (header, value) sending an endpoint URL's `user:password` as Basic auth, as curl
/// does: used when no key is given.
pub(crate) fn basic_auth(user: &str, password: &str) -> (String, String) {
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
        assert_eq!(normalize_base("http://h:8000/v1/?api-version=2024").unwrap(), "http://h:8000");
    }

    #[test]
    fn an_endpoint_query_goes_after_the_request_s_own() {
        assert_eq!(split_query("http://h/v1?api-version=2024#x"), ("http://h/v1", Some("api-version=2024")));
        assert_eq!(split_query("http://h/v1?"), ("http://h/v1", None));
        assert_eq!(split_query(" http://h "), ("http://h", None));
        let q = Some("api-version=2024&b=1");
        assert_eq!(with_query("http://h/v1/messages".into(), q), "http://h/v1/messages?api-version=2024&b=1");
        assert_eq!(
            with_query("http://h/v1/messages?beta=true".into(), q),
            "http://h/v1/messages?beta=true&api-version=2024&b=1"
        );
        assert_eq!(with_query("http://h/x?b=2".into(), q), "http://h/x?b=2&api-version=2024");
        assert_eq!(with_query("http://h/x".into(), None), "http://h/x");
    }

    #[test]
    fn plain_endpoints_and_their_prefix() {
        let u = PlainEndpoint::of("http://127.0.0.1:8000").unwrap();
        assert_eq!(
            (u.connect_to.as_str(), u.host.as_str(), u.prefix.as_str()),
            ("127.0.0.1:8000", "127.0.0.1:8000", "")
        );
        let u = PlainEndpoint::of("http://gpu/openai").unwrap();
        assert_eq!((u.connect_to.as_str(), u.host.as_str(), u.prefix.as_str()), ("gpu:80", "gpu", "/openai"));
        let u = PlainEndpoint::of("http://[::1]:9000").unwrap();
        assert_eq!(u.connect_to, "[::1]:9000");
        assert!(PlainEndpoint::of("https://api.anthropic.com").is_none());
    }

    #[test]
    fn api_detection() {
        assert_eq!(detect_api("https://api.anthropic.com"), Api::Anthropic);
        assert_eq!(detect_api("https://notanthropic.com"), Api::OpenAi);
        assert_eq!(detect_api("http://127.0.0.1:8000"), Api::OpenAi);
    }
}
