//! The passthrough body: hands the upstream's frames to the client untouched, the moment
//! they arrive, and keeps a reference to each (with its arrival time) for the recording.
//!
//! However the body ends, its call's guard ends the call once: at the end of the stream
//! (completed), on an upstream error (cut), or when hyper drops the body because the
//! client went away (client gone).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::ending::{Ending, UpstreamError};
use super::lifecycle::CallGuard;

pub(crate) struct TeeBody<B: Body> {
    inner: B,
    call: CallGuard,
}

impl<B: Body> TeeBody<B> {
    pub(crate) fn new(inner: B, call: CallGuard) -> Self {
        TeeBody { inner, call }
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
                    this.call.keep_client_frame(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.call.end(Ending::Upstream(UpstreamError::Cut(e.to_string())));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.call.end(Ending::Completed);
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
        let ending = if self.inner.is_end_stream() { Ending::Completed } else { Ending::ClientGone };
        self.call.end(ending);
    }
}
