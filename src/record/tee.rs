//! The passthrough body: hands the upstream's frames to the client untouched, the moment
//! they arrive, and keeps a reference to each (with its arrival time) for the recording.
//!
//! However the body ends, the call is finished exactly once: at the end of the stream
//! (completed), on an upstream error (cut), or when hyper drops the body because the
//! client went away (client disconnected).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::capture::{lock, CallHandle, Recorder};
use crate::recording::Outcome;

pub struct TeeBody<B: Body> {
    inner: B,
    call: CallHandle,
    recorder: Arc<Recorder>,
    done: bool,
}

impl<B: Body> TeeBody<B> {
    pub fn new(inner: B, call: CallHandle, recorder: Arc<Recorder>) -> Self {
        TeeBody { inner, call, recorder, done: false }
    }

    fn end(&mut self, outcome: Outcome, error: Option<String>) {
        if !self.done {
            self.done = true;
            self.recorder.finish(&self.call, outcome, error);
        }
    }
}

impl<B> Body for TeeBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let mut call = lock(&this.call);
                    let t = call.ms_since_arrival();
                    call.keep_client_frame(t, data.clone());
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.end(Outcome::UpstreamCut, Some(format!("the upstream's answer broke off: {e}")));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.end(Outcome::Completed, None);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for TeeBody<B> {
    fn drop(&mut self) {
        // An empty body may be dropped unpolled: that is a complete answer.
        if self.inner.is_end_stream() {
            self.end(Outcome::Completed, None);
        }
        self.end(Outcome::ClientDisconnected, Some("the client closed the connection before the answer ended".into()));
    }
}
