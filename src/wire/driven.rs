//! hyper's HTTP/1.1 client connection driven inside the caller's own task, not in a task
//! of its own. Replay's workers and the recording proxy both talk to their upstream this
//! way: the poll that reads a frame from the socket is the poll that hands it on (to the
//! worker's clock, or to the client), with no wake-up of another task in between.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;

/// hyper's connection state machine, whichever stream it runs on.
pub(crate) type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// Runs `fut` while polling the connection's driver first, so socket reads happen in the
/// same poll that consumes them. `closed` is set once the driver finished (the connection
/// closed; what it read is still deliverable).
pub(crate) async fn drive<F: Future>(driver: &mut Driver, closed: &mut bool, fut: F) -> F::Output {
    tokio::pin!(fut);
    if !*closed {
        tokio::select! {
            biased;
            _ = driver.as_mut() => finished(driver, closed),
            out = &mut fut => return out,
        }
    }
    fut.await
}

/// Lets the driver read and write what it can now, from a `poll` of the caller's own.
pub(crate) fn poll_driver(driver: &mut Driver, closed: &mut bool, cx: &mut Context<'_>) {
    if !*closed && driver.as_mut().poll(cx).is_ready() {
        finished(driver, closed);
    }
}

/// Drops a finished state machine: a request still queued on it then fails ("connection
/// closed") instead of waiting for a connection that is gone.
fn finished(driver: &mut Driver, closed: &mut bool) {
    *closed = true;
    *driver = Box::pin(std::future::ready(Ok(())));
}

/// An error and its causes, `a: b: c`.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Whether a connection's driver has finished, checked without waiting (for an idle
/// connection about to be reused: the server may have closed it meanwhile).
pub(crate) fn has_finished(driver: &mut Driver, closed: &mut bool) -> bool {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    poll_driver(driver, closed, &mut cx);
    *closed
}
