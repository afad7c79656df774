//! A command's output to stdout, safe when the reader goes away: `asb inspect … | head`
//! closes the pipe early, and the rest of the output is dropped rather than reported as an
//! error (or a panic, as `println!` would). Every command that prints a report writes here.

use std::io::Write;

use anyhow::{anyhow, Result};

/// Writes a command's output to stdout. A reader that went away (`| head`) is not an error.
pub(crate) fn emit(text: &str) -> Result<()> {
    Emitter::default().write(text)
}

/// Writes a command's output to stdout piece by piece; once the reader went away
/// (`| head`), the rest is dropped, not an error.
#[derive(Debug, Default)]
pub(crate) struct Emitter {
    gone: bool,
}

impl Emitter {
    pub(crate) fn write(&mut self, text: &str) -> Result<()> {
        if self.gone {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.gone = true;
                Ok(())
            }
            Err(e) => Err(anyhow!("cannot write the output: {e}")),
            Ok(()) => Ok(()),
        }
    }
}
