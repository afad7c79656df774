//! The recording format every capability reads and writes through (format v1,
//! docs/recording-format.md): one JSONL line per LLM call, a superset of asb's line.
//!
//! * [`line`] — the schema;
//! * [`reader`] / [`writer`] — file:line errors on the way in, whole flushed lines on the way out;
//! * [`assemble`] / [`usage`] — from wire events and bodies to a line's result, usage and timing;
//! * [`redact`] — what counts as a secret, for the recorder and `asb validate` alike;
//! * [`thread`] — which agent thread a call belongs to, from its conversation's shape.

pub mod assemble;
pub mod json_diff;
pub mod key_shapes;
pub mod line;
pub mod message;
pub mod normalize;
pub mod reader;
pub mod redact;
pub mod thread;
pub mod usage;
pub mod writer;

pub use line::{CallLine, Outcome, FORMAT_VERSION};
