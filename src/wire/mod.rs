//! Wire-level building blocks shared by record, replay and serve: the two APIs, SSE
//! framing, and translation between Anthropic Messages and OpenAI Chat Completions.

pub mod api;
pub mod errors;

pub use api::Api;
