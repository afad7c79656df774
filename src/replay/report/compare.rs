//! placeholder
use crate::replay::results::RunResults;
pub fn render(_b: &RunResults, _c: &RunResults) -> String { String::new() }
