//! Wire-level building blocks shared by record, replay and serve: the two APIs, their
//! error shapes, the outbound HTTP client, the server loop, SSE framing, and translation between Anthropic Messages and OpenAI Chat
//! Completions.

pub mod api;
pub mod client;
pub mod driven;
pub mod endpoint;
pub mod errors;
pub mod http1;
#[cfg(test)]
mod http1_props;
pub mod openai;
pub mod prefixed;
pub mod server;
pub mod sse;
pub mod translate;
pub mod usage;

pub use api::Api;
