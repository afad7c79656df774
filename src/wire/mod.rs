//! Wire-level building blocks shared by record, replay and serve: SSE framing and the other
//! byte-exact pieces that sit between a socket and the event model.
//!
//! * [`sse`] — an incremental Server-Sent Events parser that keeps raw byte ranges.

pub mod sse;
