//! The LLM APIs `asb` speaks, and the one rule that says which API and which route a
//! request is. Record (what to record, how to forward), serve and mock (which error shapes
//! to answer in), and replay (what a recorded line or a typed endpoint is) all ask here, so
//! a path one of them knows is known by all.
//!
//! The rule, for a request path (or a whole URL: its scheme and host are not looked at):
//!
//! * the query (`?beta=true`, as Claude Code sends) and a `#fragment` are dropped, then a
//!   trailing `/`;
//! * a route is known by how the path ends, whatever base path comes before it
//!   (`/proxy/v1/messages` is Messages behind a base path). Chat Completions ends in
//!   `/chat/completions`, since providers put their own version and base before it
//!   (Gemini's `/v1beta/openai/chat/completions`, Azure's
//!   `/openai/deployments/d/chat/completions`); the other routes end in their whole path,
//!   `/v1` included (OpenAI's Assistants API has `/v1/threads/t/messages`, which is not
//!   Anthropic Messages);
//! * the API of a request ([`Api::of_request`]) is its route's; for a path under a call's
//!   route (`/v1/messages/batches`, `/v1/chat/completions/{id}`) that call's API; else an
//!   `anthropic-version` header says Anthropic; else OpenAI. The path comes first: a
//!   header that contradicts it (`anthropic-version` on `/v1/chat/completions`) does not
//!   turn a Chat Completions call into an Anthropic one.
//!
//! The rule is method-blind: record routes only `POST`s, and says so itself.
//!
//! Adding an API's route is its [`Api`] variant and one row in `ROUTES` (OpenAI Responses,
//! `/v1/responses`, came that way; `/v1/responses/{id}` and its `input_items` are below
//! that route, so Responses too).

use http::HeaderMap;

/// Which provider's conventions a request or response follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Api {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Responses (`/v1/responses`), what Codex CLI speaks.
    Responses,
}

impl Api {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
            Api::Responses => "responses",
        }
    }

    /// The path of this API's calls (`/v1/chat/completions`, `/v1/messages`).
    pub(crate) fn path(self) -> &'static str {
        Route::Call(self).path()
    }

    /// The API a request speaks, from its path (or URL) and headers: see the module doc.
    pub(crate) fn of_request(path: &str, headers: &HeaderMap) -> Api {
        let path = route_part(path);
        if let Some(api) = Route::of(path).and_then(Route::api) {
            return api;
        }
        let under = ROUTES.iter().find_map(|row| match row.route {
            Route::Call(api) if continues(path, row.ends_with) => Some(api),
            _ => None,
        });
        match under {
            Some(api) => api,
            None if headers.contains_key("anthropic-version") => Api::Anthropic,
            None => Api::OpenAi,
        }
    }
}

/// A request's route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// An LLM call in an API's conventions: what record records, replay replays, serve
    /// serves.
    Call(Api),
    /// Anthropic's `count_tokens`.
    CountTokens,
    /// The model listing (either API's; a header tells which).
    Models,
}

/// One known route.
struct Row {
    route: Route,
    /// Its path as asb sends it.
    path: &'static str,
    /// How a path on this route ends (see the module doc).
    ends_with: &'static str,
}

/// Every route asb knows.
const ROUTES: &[Row] = &[
    Row { route: Route::Call(Api::OpenAi), path: "/v1/chat/completions", ends_with: "/chat/completions" },
    Row { route: Route::Call(Api::Anthropic), path: "/v1/messages", ends_with: "/v1/messages" },
    Row { route: Route::Call(Api::Responses), path: "/v1/responses", ends_with: "/v1/responses" },
    Row { route: Route::CountTokens, path: "/v1/messages/count_tokens", ends_with: "/v1/messages/count_tokens" },
    Row { route: Route::Models, path: "/v1/models", ends_with: "/v1/models" },
];

impl Route {
    /// The route of a request path (or URL), if asb knows it: see the module doc.
    pub(crate) fn of(path: &str) -> Option<Route> {
        let path = route_part(path);
        ROUTES.iter().find(|row| path.ends_with(row.ends_with)).map(|row| row.route)
    }

    /// The path asb sends for this route.
    pub(crate) fn path(self) -> &'static str {
        ROUTES.iter().find(|row| row.route == self).map_or("/", |row| row.path)
    }

    /// The API whose shapes this route answers in (`None`: either, by header).
    pub(crate) fn api(self) -> Option<Api> {
        match self {
            Route::Call(api) => Some(api),
            Route::CountTokens => Some(Api::Anthropic),
            Route::Models => None,
        }
    }

    /// The paths of every API's calls.
    pub(crate) fn call_paths() -> impl Iterator<Item = &'static str> {
        ROUTES.iter().filter(|row| matches!(row.route, Route::Call(_))).map(|row| row.path)
    }
}

/// The part of a path or URL that routes: no scheme and host, no query or fragment, no
/// trailing `/`.
fn route_part(path: &str) -> &str {
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |at| &rest[at..]),
        None => path,
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path[..end].trim_end_matches('/')
}

/// Whether `path` goes on below a route ending in `ends_with` (`…/v1/messages/batches`).
fn continues(path: &str, ends_with: &str) -> bool {
    path.match_indices(ends_with).any(|(at, _)| path[at + ends_with.len()..].starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: Option<Route> = Some(Route::Call(Api::OpenAi));
    const MESSAGES: Option<Route> = Some(Route::Call(Api::Anthropic));

    #[test]
    fn every_route_is_known_by_its_own_path() {
        for row in ROUTES {
            assert_eq!(Route::of(row.path), Some(row.route), "{}", row.path);
            assert_eq!(row.route.path(), row.path);
            assert!(row.path.ends_with(row.ends_with), "{}", row.path);
        }
        assert_eq!(Api::OpenAi.path(), "/v1/chat/completions");
        assert_eq!(Api::Anthropic.path(), "/v1/messages");
        assert_eq!(Api::Responses.path(), "/v1/responses");
        assert_eq!(Route::call_paths().collect::<Vec<_>>(), ["/v1/chat/completions", "/v1/messages", "/v1/responses"]);
    }

    #[test]
    fn a_query_or_a_fragment_is_not_part_of_the_route() {
        // Claude Code's path: once missed by a rule that compared whole paths.
        assert_eq!(Route::of("/v1/messages?beta=true"), MESSAGES);
        assert_eq!(Route::of("/v1/chat/completions?api-version=2024"), CHAT);
        assert_eq!(Route::of("/v1/messages/count_tokens?beta=true"), Some(Route::CountTokens));
        assert_eq!(Route::of("/v1/models#x"), Some(Route::Models));
        assert_eq!(Route::of("/v1/other?p=/v1/messages"), None);
    }

    #[test]
    fn a_trailing_slash_is_not_part_of_the_route() {
        assert_eq!(Route::of("/v1/messages/"), MESSAGES);
        assert_eq!(Route::of("/v1/chat/completions/?x=1"), CHAT);
        assert_eq!(Route::of("/v1/models/"), Some(Route::Models));
    }

    #[test]
    fn a_base_path_before_the_route_is_allowed() {
        assert_eq!(Route::of("/proxy/v1/messages"), MESSAGES);
        assert_eq!(Route::of("/proxy/v1/messages/count_tokens"), Some(Route::CountTokens));
        assert_eq!(Route::of("/proxy/v1/chat/completions"), CHAT);
        assert_eq!(Route::of("/v1beta/openai/chat/completions"), CHAT);
        assert_eq!(Route::of("/openai/deployments/d/chat/completions?api-version=2024-10-21"), CHAT);
    }

    #[test]
    fn near_misses_are_not_routes() {
        // OpenAI's Assistants API: not Anthropic Messages.
        assert_eq!(Route::of("/v1/threads/t/messages"), None);
        assert_eq!(Route::of("/messages"), None);
        assert_eq!(Route::of("/v1/messages/batches"), None);
        assert_eq!(Route::of("/v1/xmessages"), None);
        assert_eq!(Route::of("/v1/chat/completions/abc"), None);
        assert_eq!(Route::of("/"), None);
        assert_eq!(Route::of(""), None);
    }

    #[test]
    fn a_whole_url_routes_by_its_path() {
        assert_eq!(Route::of("https://host/v1/messages"), MESSAGES);
        assert_eq!(Route::of("https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=1"), CHAT);
        assert_eq!(Route::of("http://h:8000/v1"), None);
        // A host is not a path.
        assert_eq!(Route::of("http://v1/messages.example"), None);
        assert_eq!(Route::of("http://h"), None);
    }

    #[test]
    fn the_api_of_a_request_is_its_route_s_then_its_header_s() {
        let none = HeaderMap::new();
        let mut anthropic = HeaderMap::new();
        anthropic.insert("anthropic-version", http::HeaderValue::from_static("2023-06-01"));
        assert_eq!(Api::of_request("/v1/messages?beta=true", &none), Api::Anthropic);
        assert_eq!(Api::of_request("/v1/messages/count_tokens", &none), Api::Anthropic);
        assert_eq!(Api::of_request("/proxy/v1/messages/", &none), Api::Anthropic);
        assert_eq!(Api::of_request("/v1/chat/completions", &none), Api::OpenAi);
        // The path wins over a header that contradicts it.
        assert_eq!(Api::of_request("/v1/chat/completions", &anthropic), Api::OpenAi);
        // Below a call's route: that call's API.
        assert_eq!(Api::of_request("/v1/messages/batches", &none), Api::Anthropic);
        assert_eq!(Api::of_request("/v1/chat/completions/abc/messages", &none), Api::OpenAi);
        // No route says: the header, else OpenAI.
        assert_eq!(Api::of_request("/v1/models", &anthropic), Api::Anthropic);
        assert_eq!(Api::of_request("/v1/models", &none), Api::OpenAi);
        assert_eq!(Api::of_request("/v2/unknown", &anthropic), Api::Anthropic);
        assert_eq!(Api::of_request("/", &none), Api::OpenAi);
        assert_eq!(Api::of_request("/v1/threads/t/messages", &none), Api::OpenAi);
    }

    #[test]
    fn responses_is_known_by_its_path_under_any_base() {
        let none = HeaderMap::new();
        let responses = Some(Route::Call(Api::Responses));
        assert_eq!(Route::of("/v1/responses"), responses);
        assert_eq!(Route::of("/proxy/v1/responses/?x=1"), responses);
        assert_eq!(Route::of("/v1/responses/resp_1"), None);
        assert_eq!(Api::of_request("/v1/responses/resp_1/input_items", &none), Api::Responses);
        assert_eq!(Api::of_request("http://h:1/api/v1/responses", &none), Api::Responses);
    }
}
