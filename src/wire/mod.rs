//! Wire-level building blocks shared by record, replay and serve: the two APIs, their
//! error shapes, SSE framing, and translation between Anthropic Messages and OpenAI Chat
//! Completions.

pub mod api;
pub mod errors;
pub mod sse;
pub mod translate;

pub use api::Api;
