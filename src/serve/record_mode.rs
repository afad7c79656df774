//! The record modes (`--mode once|new_episodes|all -e URL -m MODEL`): calls with no
//! recorded answer go to the recording proxy of `asb record`, which appends them to the
//! served file. This file is serve's one way into record: [`Recorder`], record's entry
//! point for other commands, with the shared endpoint flags (record's own defaults for the
//! rest, so nothing of `asb record`'s settings is repeated here).

use anyhow::{anyhow, bail, Result};

use super::args::{Mode, ServeArgs};
pub(crate) use crate::record::{Recorder, ThreadRecorder};

/// The mode `--mode` comes to for this recording (`once`: `all` if it does not exist yet,
/// else `none`), and the recorder that records in it (none for `none`).
pub(crate) fn open(args: &ServeArgs) -> Result<(Option<Recorder>, Mode)> {
    let exists = args.recording.metadata().is_ok_and(|m| m.len() > 0);
    let mode = match args.mode {
        Mode::Once if exists => Mode::None,
        Mode::Once => Mode::All,
        m => m,
    };
    if mode == Mode::None {
        return Ok((None, mode));
    }
    if args.recording.is_dir() {
        bail!("--mode {:?} records into one file: pass a recording file, not a directory", args.mode);
    }
    if args.upstream.endpoint.is_none() || args.upstream.model.is_none() {
        bail!("--mode {:?} calls an upstream for what is not recorded: pass -e URL and -m MODEL", args.mode);
    }
    if mode == Mode::All {
        std::fs::write(&args.recording, b"")
            .map_err(|e| anyhow!("cannot start {} afresh: {e}", args.recording.display()))?;
    }
    Ok((Some(Recorder::open(&args.upstream, &args.recording, &args.redact)?), mode))
}
