//! The signals that stop a long-running command: Ctrl+C (`SIGINT`), `SIGTERM` (`kill`,
//! `timeout`, `docker stop`, systemd) and `SIGHUP` (a closed terminal). Every server and
//! the replay client treat the three alike: the first one drains (calls in flight finish
//! or are marked, then the summary or report is written); a second one stops at once.
//!
//! One place, so no command forgets one of them: a handler for Ctrl+C alone leaves the
//! other two at their default, which kills the process with nothing written.

use std::fmt;

/// A stop signal that was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Interrupt,
    Terminate,
    HangUp,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stop::Interrupt => "Ctrl+C (SIGINT)",
            Stop::Terminate => "SIGTERM",
            Stop::HangUp => "SIGHUP",
        })
    }
}

/// Listens for the stop signals from the moment it is made (a signal that comes between
/// two waits is not missed).
pub(crate) struct StopSignals {
    #[cfg(unix)]
    streams: [tokio::signal::unix::Signal; 3],
}

impl StopSignals {
    /// Installs the handlers; call it inside a tokio runtime.
    pub(crate) fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                streams: [
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::hangup())?,
                ],
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    /// Waits for the next stop signal.
    pub(crate) async fn next(&mut self) -> Stop {
        #[cfg(unix)]
        {
            let [int, term, hup] = &mut self.streams;
            tokio::select! {
                _ = int.recv() => Stop::Interrupt,
                _ = term.recv() => Stop::Terminate,
                _ = hup.recv() => Stop::HangUp,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Stop::Interrupt
        }
    }
}
