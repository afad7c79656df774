//! The signals that stop a long-running command: Ctrl+C (`SIGINT`), `SIGTERM` (`kill`,
//! `timeout`, `docker stop`, systemd) and `SIGHUP` (a closed terminal). Every server and
//! the replay client treat the three alike: the first one drains (calls in flight finish
//! or are marked, then the summary or report is written); a second one stops at once.
//!
//! A command a stop signal ended exits, after its drain and report, with the shell's code for
//! that signal (128 + its number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP), so a
//! script or CI job can tell "stopped" from "done" and from "failed"; [`exit_code`] says it.
//!
//! One place, so no command forgets one of them: a handler for Ctrl+C alone leaves the
//! other two at their default, which kills the process with nothing written.

use std::fmt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

/// The number of the first stop signal received (0: none yet).
static RECEIVED: AtomicU8 = AtomicU8::new(0);

/// The exit code of a command that a stop signal ended (`None`: none was received).
pub(crate) fn exit_code() -> Option<ExitCode> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        number => Some(ExitCode::from(128 + number)),
    }
}

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

impl Stop {
    /// Its signal number (the same on every Unix).
    fn number(self) -> u8 {
        match self {
            Stop::HangUp => 1,
            Stop::Interrupt => 2,
            Stop::Terminate => 15,
        }
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

    /// Waits for the next stop signal; the first one the process receives sets its exit code.
    pub(crate) async fn next(&mut self) -> Stop {
        let stop = self.wait().await;
        let _ = RECEIVED.compare_exchange(0, stop.number(), Ordering::SeqCst, Ordering::SeqCst);
        stop
    }

    async fn wait(&mut self) -> Stop {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_shells() {
        let codes: Vec<u8> =
            [Stop::Interrupt, Stop::Terminate, Stop::HangUp].iter().map(|s| 128 + s.number()).collect();
        assert_eq!(codes, [130, 143, 129]);
    }
}
