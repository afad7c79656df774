//! `asb`: record coding-agent LLM traffic, replay it against any endpoint as a serving
//! benchmark, and serve it back offline as a deterministic test double.
//!
//! One folder per capability; data flows one way, wire → events → recording →
//! replay/serve → metrics → report:
//!
//! * [`mock`] — a calibrated synthetic OpenAI/Anthropic endpoint with known timings and a
//!   prefix-cache model: the no-GPU default target and the ground truth for metric tests.
//! * [`record`] — the recording proxy between an agent and its LLM endpoint.
//! * [`serve`] — answers calls from recordings: an offline, deterministic test double.
//! * [`inspect`] — looks inside recordings: summary, timeline, validation, diff.
//! * [`stats`] — distributions and percentiles, computed one way for every command.
//! * [`recording`] — the recording format every capability reads and writes through.
//! * [`wire`] — the APIs' wire formats: SSE framing, translation between the two APIs.
//! * [`signals`] — the stop signals (INT, TERM, HUP) every long-running command drains on.
//! * [`cli`] — the command line: parses flags and hands them to one capability.

pub mod cli;
mod display;
mod flags;
mod inspect;
mod mock;
mod output;
mod record;
mod recording;
mod replay;
mod serve;
mod signals;
mod stats;
mod wire;
