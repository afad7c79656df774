//! The recording format every capability reads and writes through (format v1,
//! docs/recording-format.md): one JSONL line per LLM call, a superset of asb's line.
//!
//! * [`line`] — the schema;
//! * [`reader`] / [`writer`] — file:line errors on the way in, whole flushed lines on the way out;
//! * [`assemble`] / [`usage`] — from wire events and bodies to a line's result, usage and timing;
//! * [`redact`] — what counts as a secret, for the recorder and `asb validate` alike;
//! * [`thread`] — which agent thread a call belongs to, from its conversation's shape.

pub(crate) mod assemble;
pub(crate) mod json_diff;
pub(crate) mod key_shapes;
pub(crate) mod line;
pub(crate) mod message;
pub(crate) mod normalize;
pub(crate) mod reader;
pub(crate) mod redact;
pub(crate) mod thread;
pub(crate) mod usage;
pub(crate) mod writer;

pub(crate) use line::{Outcome, FORMAT_VERSION};
