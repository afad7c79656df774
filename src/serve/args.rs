//! `asb serve` flags: what to serve and how, and the record modes' upstream — the same
//! `-e`/`-m`/`-k` group as `asb record`'s ([`crate::flags`]), so `ASB_ENDPOINT` and
//! `ASB_MODEL` are read here as there.

use std::path::PathBuf;

use clap::Args;

use super::cassette::Repeats;
use super::pacing::{parse_pacing, Pacing};
use crate::flags::{self, EndpointFlags, ListenFlags};
use crate::wire::server::ConnTimeouts;

#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("port", flags::port_default("19200")),
    mut_arg("endpoint", flags::reworded("Upstream for the record modes (as `asb record -e`)")),
    mut_arg("model", flags::reworded("Model for translated calls in the record modes (as `asb record -m`)"))
)]
pub(crate) struct ServeArgs {
    /// A recording made by `asb record`, or a directory of them (served under /c/NAME/...).
    #[arg(short = 'w', long = "recording", alias = "scenario")]
    pub recording: PathBuf,
    #[command(flatten)]
    pub listen: ListenFlags,
    /// Stream pacing: instant (all events at once), recorded (the recorded event times),
    /// or scale=X (recorded times × X).
    #[arg(long, default_value = "instant", value_parser = parse_pacing)]
    pub pacing: Pacing,
    /// What a call gets once every recording of it was served: never (an error naming
    /// them), last (the last recording again), cycle (its recordings again, in order).
    /// With last or cycle a test suite can run twice against one server.
    #[arg(long, value_enum, default_value = "never", value_name = "WHAT")]
    pub allow_repeats: Repeats,
    /// Leave this body path out of matching (dotted, `*` for any key or index); repeatable.
    #[arg(long = "ignore")]
    pub ignore: Vec<String>,
    /// Match volatile values (timestamps, UUIDs, Claude Code's billing-header hashes) exactly.
    #[arg(long)]
    pub no_presets: bool,
    /// Directory mode: release a recording after this many idle seconds.
    #[arg(long, default_value_t = 30)]
    pub idle_release: u64,
    /// none: never call out. once: record everything if the recording does not exist yet,
    /// else as none. new_episodes: answer what was recorded, forward and record (append) the
    /// rest. all: forward and record everything (the recording starts afresh).
    #[arg(long, value_enum, default_value = "none")]
    pub mode: Mode,
    /// Record modes: keep this out of the recording too (repeatable), as `asb record
    /// --redact`: a JSON path (`$.messages[*].content`), `header:NAME`, or `re:REGEX`.
    #[arg(long = "redact", value_name = "PATTERN")]
    pub redact: Vec<crate::recording::redact_patterns::RedactPattern>,
    #[command(flatten)]
    pub upstream: EndpointFlags,
    #[command(flatten)]
    pub timeouts: ConnTimeouts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    None,
    Once,
    #[value(name = "new_episodes")]
    NewEpisodes,
    All,
}
