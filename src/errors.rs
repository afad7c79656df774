//! How the binary tells a person that something went wrong: one shape on stderr,
//! `asb: error: …` for a command that ends on it, `asb COMMAND: error: …` for one a running
//! server reports and goes on (or ends its thread) — so a log can be searched for `: error: `.

use std::fmt::Display;

/// Prints `{who}: error: {message}` to stderr; `who` is `asb` or `asb COMMAND`.
pub(crate) fn print(who: &str, message: impl Display) {
    eprintln!("{who}: error: {message}");
}

/// Prints `{who}: note: {message}` to stderr: something the user should know that does
/// not stop the command.
pub(crate) fn note(who: &str, message: impl Display) {
    eprintln!("{who}: note: {message}");
}
