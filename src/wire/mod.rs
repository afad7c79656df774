//! Wire-level building blocks shared by record, replay and serve: the two APIs, their
//! error shapes, the outbound HTTP client, the server loop, SSE framing, and translation between Anthropic Messages and OpenAI Chat
//! Completions.

pub(crate) mod api;
pub(crate) mod client;
pub(crate) mod driven;
pub(crate) mod endpoint;
pub(crate) mod errors;
pub(crate) mod http1;
#[cfg(test)]
mod http1_props;
pub(crate) mod openai;
pub(crate) mod prefixed;
pub(crate) mod server;
pub(crate) mod sse;
pub(crate) mod translate;
pub(crate) mod usage;

pub(crate) use api::Api;
