//! Wire-level building blocks shared by record, replay and serve: pure translations
//! between the provider protocols, with no networking.
//!
//! * [`translate`] — Anthropic Messages ⇄ OpenAI Chat Completions, so an Anthropic client
//!   (Claude Code) can run unchanged against an OpenAI-compatible server.

pub mod translate;
