//! The endpoint a replay sends to: which API it speaks and the exact URL, from `-e` as
//! users type it (AgenticSwarmBench (the original asb)'s rules, minus its
//! `…/v1/v1/messages` bug).

use anyhow::Result;

use crate::recording::redact;
use crate::wire::api::Route;
use crate::wire::endpoint::{
    auth_header, basic_auth, detect_api, normalize_base, split_query, with_query, UpstreamApi,
};
use crate::wire::Api;

#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub api: Api,
    /// Where every request is POSTed (without the endpoint's userinfo: safe to print).
    pub url: String,
    /// (header, value) carrying the key (-k's, else the endpoint's `user:password` as Basic
    /// auth, as curl sends it); never printed or saved.
    pub auth: Option<(String, String)>,
}

impl Target {
    pub(crate) fn new(
        endpoint: &str,
        api: Option<UpstreamApi>,
        key: Option<&str>,
        key_header: Option<&str>,
    ) -> Result<Self> {
        normalize_base(endpoint)?; // scheme and host checks, with the user's spelling in errors
        let (endpoint, userinfo) = redact::split_userinfo(endpoint.trim());
        let (url, query) = split_query(&endpoint);
        let trimmed = url.trim_end_matches('/');
        let api = match api {
            Some(a) => a.api(),
            None => Route::of(trimmed).and_then(Route::api).unwrap_or_else(|| detect_api(trimmed)),
        };
        let auth =
            auth_header(api, key, key_header).or_else(|| userinfo.map(|(user, password)| basic_auth(&user, &password)));
        let url = with_query(url_for(trimmed, api), query);
        Ok(Target { api, url, auth })
    }
}

/// A URL already on the API's route ([`Route::of`]: `…/chat/completions`, `…/v1/messages`)
/// is used as is. OpenAI: one ending in a version segment (`/v1`, `/v1beta/openai`, `/v2`)
/// gets `/chat/completions`; anything else gets `/v1/chat/completions`. Anthropic: `/v1` +
/// `/messages`, else `/v1/messages`. Responses: as OpenAI, with `/responses`.
fn url_for(trimmed: &str, api: Api) -> String {
    match api {
        _ if Route::of(trimmed) == Some(Route::Call(api)) => trimmed.to_string(),
        Api::OpenAi if ends_with_version(trimmed) => format!("{trimmed}/chat/completions"),
        Api::OpenAi => format!("{trimmed}/v1/chat/completions"),
        Api::Anthropic if trimmed.ends_with("/v1") => format!("{trimmed}/messages"),
        Api::Anthropic => format!("{trimmed}/v1/messages"),
        Api::Responses if ends_with_version(trimmed) => format!("{trimmed}/responses"),
        Api::Responses => format!("{trimmed}/v1/responses"),
    }
}

/// `…/v<digits>[letters][digits]` optionally followed by `/openai`.
fn ends_with_version(url: &str) -> bool {
    let url = url.strip_suffix("/openai").unwrap_or(url);
    let Some(last) = url.rsplit('/').next().and_then(|s| s.strip_prefix('v')) else {
        return false;
    };
    let digits = last.chars().take_while(char::is_ascii_digit).count();
    let letters = last[digits..].chars().take_while(char::is_ascii_lowercase).count();
    digits > 0 && last[digits + letters..].chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(endpoint: &str, api: Option<UpstreamApi>) -> (Api, String) {
        let t = Target::new(endpoint, api, None, None).unwrap();
        (t.api, t.url)
    }

    #[test]
    fn urls_as_asb_builds_them() {
        let o = Api::OpenAi;
        assert_eq!(url("http://h:8000", None), (o, "http://h:8000/v1/chat/completions".into()));
        assert_eq!(url("http://h:8000/v1/", None), (o, "http://h:8000/v1/chat/completions".into()));
        let gemini = "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions";
        assert_eq!(url(gemini, None).1, gemini);
        assert_eq!(url("https://g.example/v1beta/openai", None).1, "https://g.example/v1beta/openai/chat/completions");
        assert_eq!(
            url("https://myproxy/custom/path/chat/completions", None).1,
            "https://myproxy/custom/path/chat/completions"
        );
        assert_eq!(url("http://h/v2", None).1, "http://h/v2/chat/completions");
        let t = Target::new("http://u:p@h:8/v1", None, None, None).unwrap();
        assert_eq!(t.url, "http://h:8/v1/chat/completions");
        assert_eq!(t.auth, Some(("authorization".into(), "Basic dTpw".into())));
        let azure = "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21";
        assert_eq!(url(azure, None).1, azure);
        assert_eq!(
            url("http://h:8000/v1?api-version=2024", None).1,
            "http://h:8000/v1/chat/completions?api-version=2024"
        );
        let a = Some(UpstreamApi::Anthropic);
        assert_eq!(url("http://h/v1/?k=v", a).1, "http://h/v1/messages?k=v");
    }

    #[test]
    fn anthropic_urls_never_double_the_version() {
        let a = Some(UpstreamApi::Anthropic);
        assert_eq!(url("http://h:8000", a), (Api::Anthropic, "http://h:8000/v1/messages".into()));
        assert_eq!(url("https://host/v1", a).1, "https://host/v1/messages");
        assert_eq!(url("https://host/v1/messages", None), (Api::Anthropic, "https://host/v1/messages".into()));
        assert_eq!(url("https://api.anthropic.com", None).0, Api::Anthropic);
        assert!(Target::new("localhost:8000", None, None, None).is_err());
    }

    #[test]
    fn a_url_on_a_route_speaks_that_route_s_api() {
        // Anthropic's OpenAI-compatible endpoint: the path says Chat Completions.
        let compat = "https://api.anthropic.com/v1/chat/completions";
        assert_eq!(url(compat, None), (Api::OpenAi, compat.into()));
        assert_eq!(url("http://h/proxy/v1/messages/", None), (Api::Anthropic, "http://h/proxy/v1/messages".into()));
    }

    #[test]
    fn key_goes_in_the_api_s_header() {
        let t = Target::new("http://h", Some(UpstreamApi::Anthropic), Some("k"), None).unwrap();
        assert_eq!(t.auth, Some(("x-api-key".into(), "k".into())));
        let t = Target::new("http://h", None, Some("k"), None).unwrap();
        assert_eq!(t.auth, Some(("authorization".into(), "Bearer k".into())));
    }
}
