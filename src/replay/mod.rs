//! `asb replay`: sends a recording's traffic to an endpoint and measures what it does with it.

pub mod results;
