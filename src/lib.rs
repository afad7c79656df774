//! `asb`: record coding-agent LLM traffic, replay it against any endpoint as a serving
//! benchmark, and serve it back offline as a deterministic test double.
//!
//! One folder per capability; data flows one way, wire → events → recording →
//! replay/serve → metrics → report:
//!
//! * [`wire`] — byte-level building blocks: the incremental SSE parser that record, replay
//!   and serve all read streams with.
//! * [`mock`] — a calibrated synthetic OpenAI/Anthropic endpoint with known timings and a
//!   prefix-cache model: the no-GPU default target and the ground truth for metric tests.
//! * [`cli`] — the command line: parses flags and hands them to one capability.

pub mod cli;
pub mod mock;
pub mod wire;
