//! The recording format every capability reads and writes through (format v1,
//! docs/recording-format.md): one JSONL line per LLM call, a superset of
//! AgenticSwarmBench's line (the original asb). It sits on [`crate::wire`] and under every
//! capability: wire → recording → record / replay / serve.
//!
//! * [`line`](mod@line) — the schema;
//! * [`reader`] / [`writer`] — file:line errors on the way in, whole flushed lines on the way out;
//!   [`compression`] — `.jsonl.gz` / `.jsonl.zst` under both, a frame per line;
//! * [`assemble`] / [`usage`] — from wire events and bodies to a line's result, usage and timing;
//! * [`message`] — one chat message of a recorded conversation, read for people;
//! * [`thread`] — which agent thread a call belongs to, from its conversation's shape;
//! * [`normalize`] — what of a request is volatile between runs, and its canonical form
//!   (serve matches by it, diff compares through it);
//! * [`json_diff`] — leaf differences between two JSON values, with dotted paths;
//! * [`redact`] / [`key_shapes`] — what counts as a secret: the redaction rules for the
//!   recorder and `asb validate`, and the credential shapes validate scans free text for;
//!   [`redact_patterns`] — what a user adds with `--redact` (JSON paths, headers, regexes).

pub(crate) mod assemble;
pub(crate) mod compression;
pub(crate) mod json_diff;
pub(crate) mod key_shapes;
pub(crate) mod line;
pub(crate) mod message;
pub(crate) mod normalize;
pub(crate) mod reader;
pub(crate) mod redact;
pub(crate) mod redact_patterns;
pub(crate) mod thread;
pub(crate) mod usage;
pub(crate) mod writer;

pub(crate) use line::{Outcome, FORMAT_VERSION};
