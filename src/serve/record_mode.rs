//! The record modes (`--mode once|new_episodes|all -e URL -m MODEL`): calls with no
//! recorded answer go to the recording proxy of `asb record`, which appends them to the
//! served file. This file is serve's one way into record: [`record::Session::open`] with
//! the shared endpoint flags and record's own defaults ([`RecordingFlags::default`]), so
//! nothing of `asb record`'s settings is repeated here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use http::request::Parts;
use http::Response;

use super::args::{Mode, ServeArgs};
use crate::record::{self, proxy, RecordingFlags};

/// The recording proxy a thread forwards calls through ([`RecordMode::proxy`]).
pub(crate) use crate::record::proxy::Proxy;
use crate::wire::server::ServerBody;

/// A recording session in serve's process, as `asb record` would run it.
pub(crate) struct RecordMode {
    session: record::Session,
    how: RecordingFlags,
}

impl RecordMode {
    /// The mode `--mode` comes to for this recording (`once`: `all` if it does not exist
    /// yet, else `none`), and the session that records in it (none for `none`).
    pub(crate) fn open(args: &ServeArgs) -> Result<(Option<Self>, Mode)> {
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
        let how = RecordingFlags::default();
        let session = record::Session::open(&args.upstream, &args.recording, &how)?;
        Ok((Some(RecordMode { session, how }), mode))
    }

    /// Where calls go (safe to print).
    pub(crate) fn upstream_url(&self) -> String {
        self.session.upstream.url("")
    }

    /// The recording proxy for the calling thread's runtime (its upstream connection pool
    /// lives on that thread).
    pub(crate) fn proxy(&self) -> Result<Arc<Proxy>> {
        self.session.proxy(Duration::from_secs(self.how.upstream_timeout))
    }

    /// Marks the calls being recorded as interrupted (before the server drops them).
    pub(crate) fn interrupt_all(&self) {
        self.session.recorder.interrupt_all();
    }

    /// Ends the recording: calls still open are marked, the file closed; the calls written.
    pub(crate) fn close(&self) -> Result<u64> {
        self.interrupt_all();
        Ok(self.session.recorder.writer.close()?.lines)
    }
}

/// Forwards a call with no recorded answer, recording it.
pub(crate) async fn forward(proxy: &Arc<Proxy>, parts: Parts, body: Bytes, arrival: Instant) -> Response<ServerBody> {
    proxy::handle_buffered(proxy, parts, body, arrival).await
}
