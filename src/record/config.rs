//! `asb record` flags and the effective settings they resolve to (printed at start, so a
//! user sees exactly where traffic goes and how).

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::wire::Api;

/// Flags of `asb record` (the same as asb's, plus `--host` and `--upstream-timeout`).
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Upstream LLM endpoint URL (e.g. http://gpu-server:8000 or https://api.anthropic.com).
    #[arg(short = 'e', long, env = "ASB_ENDPOINT")]
    pub endpoint: String,
    /// Model for the upstream: translated Anthropic calls are sent with it (OpenAI-in and
    /// Anthropic-passthrough calls keep the client's model).
    #[arg(short = 'm', long, env = "ASB_MODEL")]
    pub model: String,
    /// API key for the upstream endpoint (also read from ASB_API_KEY). Never written to disk.
    #[arg(short = 'k', long, env = "ASB_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Header that carries the key: `authorization` sends `Bearer KEY`; anything else sends
    /// the key as that header's value. Default: x-api-key for Anthropic, authorization otherwise.
    #[arg(long)]
    pub api_key_header: Option<String>,
    /// Recording file (appended to if it exists).
    #[arg(short = 'o', long, default_value = "recording.jsonl")]
    pub output: PathBuf,
    /// Port the proxy listens on.
    #[arg(short = 'P', long, default_value_t = 19000)]
    pub port: u16,
    /// Address the proxy binds (loopback unless you say otherwise: it forwards credentials).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Upstream API; default: anthropic for *.anthropic.com, openai otherwise.
    #[arg(long, value_enum)]
    pub upstream_api: Option<UpstreamApi>,
    /// Seconds to wait for the upstream's response headers (prefill of long prompts is slow).
    #[arg(long, default_value_t = 600)]
    pub upstream_timeout: u64,
    /// On Ctrl+C, seconds to let calls in flight finish before marking them interrupted.
    #[arg(long, default_value_t = 30)]
    pub drain_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpstreamApi {
    Openai,
    Anthropic,
}

/// Where and how to reach the upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Scheme, host, port and any path prefix, without a trailing slash or `/v1…` suffix.
    pub base: String,
    pub api: Api,
    pub model: String,
    /// (header name, value) carrying the key, if one was given.
    pub auth: Option<(String, String)>,
}

impl Upstream {
    /// The upstream URL for a client path such as `/v1/messages?beta=true`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    pub fn from_args(args: &RecordArgs) -> Result<Self> {
        let base = normalize_base(&args.endpoint)?;
        let api = match args.upstream_api {
            Some(UpstreamApi::Openai) => Api::OpenAi,
            Some(UpstreamApi::Anthropic) => Api::Anthropic,
            None => detect_api(&base),
        };
        let auth = args.api_key.as_ref().filter(|k| !k.is_empty()).map(|key| {
            let header = args.api_key_header.clone().unwrap_or_else(|| match api {
                Api::Anthropic => "x-api-key".into(),
                Api::OpenAi => "authorization".into(),
            });
            let header = header.to_ascii_lowercase();
            let value = if header == "authorization" { format!("Bearer {key}") } else { key.clone() };
            (header, value)
        });
        Ok(Upstream { base, api, model: args.model.clone(), auth })
    }
}

/// Strips a trailing `/`, and one trailing `/v1/chat/completions`, `/v1/messages` or `/v1`
/// (clients add their own `/v1/...` paths), so `http://h:8000/v1` does not become `/v1/v1`.
pub fn normalize_base(endpoint: &str) -> Result<String> {
    let trimmed = endpoint.trim().trim_end_matches('/');
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

fn detect_api(base: &str) -> Api {
    let host = base.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_ascii_lowercase));
    match host {
        Some(h) if h == "anthropic.com" || h.ends_with(".anthropic.com") => Api::Anthropic,
        _ => Api::OpenAi,
    }
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
    }

    #[test]
    fn api_detection_and_auth() {
        assert_eq!(detect_api("https://api.anthropic.com"), Api::Anthropic);
        assert_eq!(detect_api("https://notanthropic.com"), Api::OpenAi);
        assert_eq!(detect_api("http://127.0.0.1:8000"), Api::OpenAi);
        let args = |key: Option<&str>, header: Option<&str>, endpoint: &str| RecordArgs {
            endpoint: endpoint.into(),
            model: "m".into(),
            api_key: key.map(Into::into),
            api_key_header: header.map(Into::into),
            output: "r.jsonl".into(),
            port: 0,
            host: "127.0.0.1".parse().unwrap(),
            upstream_api: None,
            upstream_timeout: 1,
            drain_timeout: 1,
        };
        let u = Upstream::from_args(&args(Some("k1"), None, "http://x")).unwrap();
        assert_eq!(u.auth, Some(("authorization".into(), "Bearer k1".into())));
        let u = Upstream::from_args(&args(Some("k1"), None, "https://api.anthropic.com")).unwrap();
        assert_eq!(u.auth, Some(("x-api-key".into(), "k1".into())));
        let u = Upstream::from_args(&args(Some("k1"), Some("X-Custom"), "http://x")).unwrap();
        assert_eq!(u.auth, Some(("x-custom".into(), "k1".into())));
        assert_eq!(Upstream::from_args(&args(None, None, "http://x")).unwrap().auth, None);
    }
}
