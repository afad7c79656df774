//! placeholder
use crate::replay::results::RunResults;
pub fn render(_r: &RunResults) -> String { String::new() }
