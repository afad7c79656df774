//! Wire-level building blocks shared by record, replay, serve and mock: the bottom of the
//! house, which knows the APIs and HTTP but nothing of recordings. Data flows up from here:
//! wire → recording → record / replay / serve.
//!
//! * [`api`] — the LLM APIs asb speaks ([`Api`]) and the one rule for which API and route a
//!   request path is;
//! * [`endpoint`] — endpoint URLs as users type them, the API an endpoint speaks, the header
//!   that carries its key;
//! * [`client`] / [`driven`] — outbound connections (TCP, rustls TLS) and hyper's HTTP/1.1
//!   client driven in the caller's own task (record's upstream, replay's target);
//! * [`server`] — the server loop record and serve share: one single-threaded runtime per
//!   core on a `SO_REUSEPORT` port;
//! * [`http1`] / [`prefixed`] — the recording proxy's hand-written HTTP/1.1 framing, and a
//!   connection handed on with the bytes already read from it;
//! * [`rx_timestamp`] — kernel receive timestamps on plain TCP (replay's frames, the
//!   mock's request arrivals);
//! * [`sse`] — incremental Server-Sent Events parsing over socket chunks;
//! * [`openai`] / [`usage`] — how an OpenAI answer (body or stream chunk) and either API's
//!   `usage` are read, one way for the recorder and the translators;
//! * [`responses`] — how an OpenAI Responses answer (body or stream event) is read;
//! * [`errors`] — API errors in the exact shape each provider's SDK parses;
//! * [`translate`] — Anthropic Messages ⇄ OpenAI Chat Completions and OpenAI Responses ⇄
//!   Chat Completions: requests, answers, streams, errors.

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
pub(crate) mod responses;
pub(crate) mod rx_timestamp;
pub(crate) mod server;
pub(crate) mod sse;
pub(crate) mod translate;
pub(crate) mod usage;

pub(crate) use api::Api;
