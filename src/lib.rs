//! `asb`: record coding-agent LLM traffic, replay it against any endpoint as a serving
//! benchmark, and serve it back offline as a deterministic test double.
//!
//! One folder per capability. Data flows one way: [`wire`] → [`recording`] → [`record`] /
//! [`replay`] / [`serve`] → metrics ([`stats`], replay's measurements) → report (replay's
//! reports, the inspect commands' text): nothing reads back against the flow, and the
//! floor below uses no capability. A capability uses another only through one entry point:
//! serve records through [`record`]'s `Recorder`, replay starts its embedded mock with
//! [`mock`]'s `start_from_flags`.
//!
//! The floor, shared by every capability:
//!
//! * [`wire`] — the APIs' wire formats: which API and route a request is, SSE framing, the
//!   outbound client and the server loop, translation between the two APIs.
//! * [`recording`] — the recording format every capability reads and writes through: the
//!   line schema, reader and writer, assembling a call from the wire, redaction, threads,
//!   request normalisation.
//! * [`stats`] — distributions and percentiles, computed one way for every command.
//! * [`display`] — how values are spelled for people (numbers, durations, dates, cut and
//!   wrapped text), the same in every command and report.
//! * [`output`] — a command's stdout, which stays quiet when the reader goes away (`| head`).
//! * [`flags`] — the flag groups several commands take (endpoint, listener), declared once.
//! * [`signals`] — the stop signals (INT, TERM, HUP) every long-running command drains on.
//! * [`config_file`] — `--config FILE.yml`: flag values from a file (AgenticSwarmBench's).
//!
//! The capabilities, one per command or family of commands:
//!
//! * [`record`] — `asb record`: the recording proxy between an agent and its LLM endpoint.
//! * [`replay`] — `asb replay`, `asb report`, `asb compare`, `asb scenarios`: sends a
//!   recording's traffic to an endpoint, measures TTFT, ITL, decode and prefill rates by
//!   context size, and reports them.
//! * [`serve`] — `asb serve`: answers calls from recordings, an offline, deterministic
//!   test double.
//! * [`mock`] — `asb mock`: a calibrated synthetic OpenAI/Anthropic endpoint with known
//!   timings and a prefix-cache model: the no-GPU default target of replay and the ground
//!   truth for metric tests.
//! * [`inspect`] — `asb inspect`, `asb timeline`, `asb validate`, `asb diff`: looks inside
//!   recordings.
//! * [`cli`] — the command line: parses flags and hands them to one capability.
//!
//! These pages are for contributors: read them with `cargo doc --document-private-items`
//! (only `cli` is public, so the map above links to private modules on purpose).

#![allow(rustdoc::private_intra_doc_links)]

pub mod cli;
mod config_file;
mod display;
mod errors;
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
