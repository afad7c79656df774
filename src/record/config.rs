//! `asb record` flags and the effective settings they resolve to (printed at start, so a
//! user sees exactly where traffic goes and how).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, FromArgMatches};

use crate::flags::{self, EndpointFlags, ListenFlags};
use crate::recording::redact;
use crate::wire::api::Route;
pub(crate) use crate::wire::endpoint::UpstreamApi;
use crate::wire::endpoint::{auth_header, basic_auth, detect_api, normalize_base, split_query, with_query};
use crate::wire::server::ConnTimeouts;
use crate::wire::Api;

/// Flags of `asb record` (the same as AgenticSwarmBench's, plus `--host` and
/// `--upstream-timeout`). The endpoint and listener groups are shared ([`crate::flags`]);
/// here `-e` and `-m` are required and, as the port, say what they mean for a recording
/// proxy.
#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("endpoint", |a| a.required(true).help(ENDPOINT_HELP)),
    mut_arg("model", |a| a.required(true).help(MODEL_HELP)),
    mut_arg("port", |a| flags::port_default("19000")(a).help("Port the proxy listens on")),
    mut_arg("host", flags::reworded(HOST_HELP)),
    mut_arg("upstream_api", flags::reworded("Upstream API; default: anthropic for *.anthropic.com, openai otherwise")),
)]
pub(crate) struct RecordArgs {
    #[command(flatten)]
    pub upstream: EndpointFlags,
    /// Recording file (appended to if it exists).
    #[arg(short = 'o', long, default_value = "recording.jsonl")]
    pub output: PathBuf,
    #[command(flatten)]
    pub listen: ListenFlags,
    #[command(flatten)]
    pub recording: RecordingFlags,
    /// On Ctrl+C, seconds to let calls in flight finish before marking them interrupted.
    #[arg(long, default_value_t = 30)]
    pub drain_timeout: u64,
    /// Do not ask the upstream for `GET /v1/models` at start (the check only warns).
    #[arg(long)]
    pub no_upstream_check: bool,
    #[command(flatten)]
    pub timeouts: ConnTimeouts,
}

const ENDPOINT_HELP: &str = "Upstream LLM endpoint URL (e.g. http://gpu-server:8000 or https://api.anthropic.com). \
A `user:password@` in it is sent as Basic auth (unless -k is given), and never printed or recorded";
const MODEL_HELP: &str = "Model for the upstream: translated Anthropic calls are sent with it (OpenAI-in and \
Anthropic-passthrough calls keep the client's model)";
const HOST_HELP: &str = "Address the proxy binds (loopback unless you say otherwise: it forwards credentials)";

/// How calls are recorded: the flags of `asb record` that `asb serve`'s record modes
/// record with too, at their defaults ([`RecordingFlags::default`]).
#[derive(Debug, Clone, Args)]
pub(crate) struct RecordingFlags {
    /// Seconds to wait for the upstream's response headers (prefill of long prompts is slow).
    #[arg(long, default_value_t = 600)]
    pub upstream_timeout: u64,
    /// Sync the recording to stable storage after each batch of lines, so a power loss
    /// (not only a crash) loses only the calls in flight. Costs throughput (BENCHMARKS.md).
    #[arg(long)]
    pub fsync: bool,
    /// Largest request body forwarded, in MiB; a larger one is answered 413 and recorded
    /// as `proxy_rejected`.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub max_request_mib: u64,
    /// Most of a response kept in the recording, in MiB; the client still gets all of it,
    /// and the line is marked `truncated`.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub max_response_mib: u64,
    /// No line per call on stderr (the summary at the end is still printed).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Keep this out of the recording too (repeatable): a JSON path tried on every body
    /// and streamed event (`$.messages[*].content`, `$..customer_id`), `header:NAME`, or
    /// `re:REGEX` (every match in every string). See docs/recording-format.md, "Secrets".
    #[arg(long = "redact", value_name = "PATTERN")]
    pub redact: Vec<crate::recording::redact_patterns::RedactPattern>,
}

impl Default for RecordingFlags {
    /// The defaults declared on the flags above, read from them (not written twice).
    fn default() -> Self {
        let command = Self::augment_args(clap::Command::new("asb record"));
        let matches = command.try_get_matches_from(["asb record"]);
        matches.and_then(|m| Self::from_arg_matches(&m)).expect("every recording flag has a default")
    }
}

/// Where and how to reach the upstream.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    /// Scheme, host, port and any path prefix, without a trailing slash or `/v1…` suffix,
    /// nor the endpoint's userinfo (safe to print).
    pub base: String,
    /// The endpoint's query (`api-version=…`), added to every upstream URL.
    pub query: Option<String>,
    pub api: Api,
    pub model: String,
    /// (header name, value) carrying the key, if one was given: -k's, else the endpoint's
    /// userinfo as Basic auth (as curl sends it).
    pub auth: Option<(String, String)>,
}

impl Upstream {
    /// The upstream URL for a client path such as `/v1/messages?beta=true`, with the
    /// endpoint's query after the client's.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        with_query(format!("{}{}", self.base, path_and_query), self.query.as_deref())
    }

    /// The same URL as messages show it: query values that look like secrets redacted
    /// (the client reads the message, and the recording keeps it).
    pub(crate) fn shown_url(&self, path_and_query: &str) -> String {
        crate::recording::redact::redact_urls(&self.url(path_and_query), true, |_| {}).into_owned()
    }

    /// The upstream `-e`, `-m`, `-k`, `--api-key-header` and `--upstream-api` name (`-e`
    /// and `-m` are required).
    pub(crate) fn from_flags(flags: &EndpointFlags) -> Result<Self> {
        let typed = flags.endpoint()?;
        let (endpoint, userinfo) = redact::split_userinfo(typed.trim());
        let base = normalize_base(&endpoint)?;
        // An endpoint typed with the Responses path says its API; any other the host does.
        let responses = Route::of(&endpoint) == Some(Route::Call(Api::Responses));
        let api = flags.upstream_api.map(UpstreamApi::api).unwrap_or_else(|| {
            if responses {
                Api::Responses
            } else {
                detect_api(&base)
            }
        });
        let auth = auth_header(api, flags.api_key.as_deref(), flags.api_key_header.as_deref())
            .or_else(|| userinfo.map(|(user, password)| basic_auth(&user, &password)));
        let query = split_query(typed).1.map(str::to_string);
        Ok(Upstream { base, query, api, model: flags.model()?.to_string(), auth })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_follows_api_and_header() {
        let args = |key: Option<&str>, header: Option<&str>, endpoint: &str| EndpointFlags {
            endpoint: Some(endpoint.into()),
            model: Some("m".into()),
            api_key: key.map(Into::into),
            api_key_header: header.map(Into::into),
            upstream_api: None,
        };
        let u = Upstream::from_flags(&args(Some("k1"), None, "http://x")).unwrap();
        assert_eq!(u.auth, Some(("authorization".into(), "Bearer k1".into())));
        let u = Upstream::from_flags(&args(Some("k1"), None, "https://api.anthropic.com")).unwrap();
        assert_eq!(u.auth, Some(("x-api-key".into(), "k1".into())));
        let u = Upstream::from_flags(&args(Some("k1"), Some("X-Custom"), "http://x")).unwrap();
        assert_eq!(u.auth, Some(("x-custom".into(), "k1".into())));
        assert_eq!(Upstream::from_flags(&args(None, None, "http://x")).unwrap().auth, None);
        // Userinfo: out of the base, sent as Basic auth unless -k is given.
        let u = Upstream::from_flags(&args(None, None, "http://us%65r:p%40ss@x:8/v1")).unwrap();
        assert_eq!(u.base, "http://x:8");
        assert_eq!(u.auth, Some(("authorization".into(), format!("Basic {}", redact::base64_encode(b"user:p@ss")))));
        assert_eq!(u.url("/v1/messages"), "http://x:8/v1/messages");
        let u = Upstream::from_flags(&args(Some("k1"), None, "http://user:pass@x")).unwrap();
        assert_eq!((u.base.as_str(), u.auth), ("http://x", Some(("authorization".into(), "Bearer k1".into()))));
        let azure = Upstream::from_flags(&args(None, None, "http://x/v1?api-version=2024")).unwrap();
        assert_eq!(azure.url("/v1/chat/completions"), "http://x/v1/chat/completions?api-version=2024");
    }
}
