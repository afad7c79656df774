//! The proxy's connections to its upstream: HTTP/1.1, kept alive in a pool of each proxy
//! thread, and driven inside the task that answers the client ([`crate::wire::driven`])
//! rather than in tasks of their own.
//!
//! Why not hyper's pooled client: there, each connection runs in its own task and hands
//! every chunk of a response to the client's task through a channel, one chunk per
//! wake-up, so chunks that arrived in one read still leave in one write each. Here the
//! answer's body polls the connection itself: what one read brought (a stream's head and
//! first events, or its last events and end) goes on to the client as one frame, and the
//! end of the stream is known with its last bytes — the way nginx forwards.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::HOST;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use tower_service::Service;

use super::pool::IdlePool;
use crate::wire::client::{connector, Connector};
use crate::wire::driven::{chain, drive, has_finished, poll_driver, Driver};

/// One thread's upstream connections.
pub(crate) struct UpstreamPool {
    connector: Connector,
    idle: IdlePool<Link>,
}

/// An open connection and its state machine.
struct Link {
    /// `scheme://authority` it is connected to.
    origin: String,
    sender: SendRequest<Full<Bytes>>,
    driver: Driver,
    closed: bool,
    reused: bool,
}

impl UpstreamPool {
    pub(crate) fn new() -> anyhow::Result<Self> {
        Ok(UpstreamPool { connector: connector()?, idle: IdlePool::default() })
    }

    /// Sends `method url` with `headers` and `body`; returns at the response headers. A
    /// kept-alive connection the upstream closed meanwhile (before answering) is replaced
    /// and the request sent again on a new one.
    pub(crate) async fn send(
        self: &Arc<Self>,
        method: &Method,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<UpstreamBody>, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad upstream URL {url:?}: {e}"))?;
        let origin = origin_of(&uri);
        // Origin-form on the wire (`POST /v1/… HTTP/1.1` and a Host header), as clients send.
        let target: Uri = uri.path_and_query().map_or("/", |p| p.as_str()).parse().unwrap_or_default();
        let host = uri.authority().and_then(|a| HeaderValue::try_from(a.as_str()).ok());
        let make = || {
            let mut req = Request::new(Full::new(body.clone()));
            *req.method_mut() = method.clone();
            *req.uri_mut() = target.clone();
            *req.headers_mut() = headers.clone();
            if let Some(host) = &host {
                req.headers_mut().insert(HOST, host.clone());
            }
            req
        };
        let mut request = make();
        loop {
            let mut link = match self.checkout(&origin) {
                Some(link) => link,
                None => self.connect(uri.clone(), &origin).await?,
            };
            if drive(&mut link.driver, &mut link.closed, link.sender.ready()).await.is_err() {
                if link.reused {
                    continue;
                }
                return Err("the upstream closed the connection at once".into());
            }
            match drive(&mut link.driver, &mut link.closed, link.sender.try_send_request(request)).await {
                Ok(resp) => {
                    let (parts, incoming) = resp.into_parts();
                    let pool = Arc::clone(self);
                    let body = UpstreamBody { incoming, link: Some(link), pool, pending: None, ended: false };
                    return Ok(Response::from_parts(parts, body));
                }
                Err(mut e) => {
                    let unsent = e.take_message();
                    if !(link.reused && (unsent.is_some() || e.error().is_incomplete_message())) {
                        return Err(chain(e.error()));
                    }
                    request = unsent.unwrap_or_else(make);
                }
            }
        }
    }

    /// The most recently used idle connection to `origin` that is still open.
    fn checkout(&self, origin: &str) -> Option<Link> {
        let open = |link: &mut Link| !has_finished(&mut link.driver, &mut link.closed);
        let mut link = self.idle.checkout(|link| link.origin == origin, open)?;
        link.reused = true;
        Some(link)
    }

    async fn connect(&self, uri: Uri, origin: &str) -> Result<Link, String> {
        let io = self.connector.clone().call(uri).await.map_err(|e| chain(&*e))?;
        let (sender, driver) = http1::handshake(io).await.map_err(|e| chain(&e))?;
        Ok(Link { origin: origin.to_string(), sender, driver: Box::pin(driver), closed: false, reused: false })
    }

    /// Takes back a connection whose answer ended, for the next request.
    fn release(&self, link: Link) {
        if !link.closed {
            self.idle.release(link);
        }
    }
}

fn origin_of(uri: &Uri) -> String {
    format!("{}://{}", uri.scheme_str().unwrap_or("http"), uri.authority().map_or("", |a| a.as_str()))
}

/// A response body read from its connection as the client's side polls it, all that is
/// readable at once in one frame.
pub(crate) struct UpstreamBody {
    incoming: Incoming,
    /// The connection, until the body ended (then it is back in the pool) or broke. A body
    /// dropped mid-answer (the client went away) closes it: it cannot carry another request.
    link: Option<Link>,
    pool: Arc<UpstreamPool>,
    /// A trailers frame or an error that came after data already merged into a frame.
    pending: Option<Result<Frame<Bytes>, hyper::Error>>,
    ended: bool,
}

impl UpstreamBody {
    fn end(&mut self) {
        self.ended = true;
        if let Some(link) = self.link.take() {
            self.pool.release(link);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(pending) = this.pending.take() {
            return Poll::Ready(Some(pending));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        let mut merged = Merged::default();
        loop {
            if let Some(link) = &mut this.link {
                poll_driver(&mut link.driver, &mut link.closed, cx);
            }
            match Pin::new(&mut this.incoming).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => merged.push(data),
                    Err(trailers) => {
                        this.pending = Some(Ok(trailers));
                        break;
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    // A broken connection goes nowhere near the pool.
                    this.link = None;
                    this.pending = Some(Err(e));
                    break;
                }
                Poll::Ready(None) => {
                    this.end();
                    break;
                }
                Poll::Pending => {
                    if merged.is_empty() {
                        return Poll::Pending;
                    }
                    break;
                }
            }
        }
        match merged.into_bytes() {
            Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
            None => Poll::Ready(this.pending.take()),
        }
    }

    fn is_end_stream(&self) -> bool {
        // An empty answer (a 204, a HEAD's) is complete before it is ever polled.
        self.pending.is_none() && (self.ended || self.incoming.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.ended {
            SizeHint::with_exact(0)
        } else {
            self.incoming.size_hint()
        }
    }
}

/// Data frames read in one go: the first kept as it is, more copied after it.
#[derive(Default)]
struct Merged {
    first: Option<Bytes>,
    more: Option<BytesMut>,
}

impl Merged {
    fn push(&mut self, data: Bytes) {
        match (&self.first, &mut self.more) {
            (None, _) => self.first = Some(data),
            (Some(first), None) => {
                let mut all = BytesMut::with_capacity(first.len() + data.len());
                all.extend_from_slice(first);
                all.extend_from_slice(&data);
                self.more = Some(all);
            }
            (Some(_), Some(all)) => all.extend_from_slice(&data),
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn into_bytes(self) -> Option<Bytes> {
        match self.more {
            Some(all) => Some(all.freeze()),
            None => self.first,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// Reads one request head (these tests send no body).
    async fn read_head(socket: &mut TcpStream) -> bool {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        true
    }

    /// A server answering each connection's first request with `answer` in one write; with
    /// `drop_second`, it reads the second request and hangs up without answering (the race
    /// a kept-alive connection can lose). Returns the URL and the connection count.
    async fn server(answer: &'static [u8], drop_second: bool) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/chat/completions", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    while read_head(&mut socket).await {
                        if drop_second && socket.write_all(answer).await.is_ok() {
                            let _ = read_head(&mut socket).await;
                            return;
                        }
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, connections)
    }

    const STREAM: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n\
        9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n9\r\ndata: c\n\n\r\n0\r\n\r\n";

    async fn call(pool: &Arc<UpstreamPool>, url: &str) -> Vec<Bytes> {
        let resp = pool.send(&Method::POST, url, &HeaderMap::new(), Bytes::new()).await.unwrap();
        let mut body = resp.into_body();
        let mut frames = Vec::new();
        while let Some(frame) = body.frame().await {
            frames.push(frame.unwrap().into_data().unwrap());
        }
        assert!(body.is_end_stream());
        frames
    }

    #[tokio::test]
    async fn what_one_read_brought_is_one_frame_and_the_connection_is_reused() {
        let (url, connections) = server(STREAM, false).await;
        let pool = Arc::new(UpstreamPool::new().unwrap());
        for _ in 0..3 {
            let frames = call(&pool, &url).await;
            assert_eq!(frames, vec![Bytes::from_static(b"data: a\n\ndata: b\n\ndata: c\n\n")]);
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_request_the_kept_alive_connection_dropped_goes_again_on_a_new_one() {
        let (url, connections) = server(STREAM, true).await;
        let pool = Arc::new(UpstreamPool::new().unwrap());
        for _ in 0..4 {
            let frames = tokio::time::timeout(Duration::from_secs(5), call(&pool, &url)).await.unwrap();
            assert_eq!(frames.concat(), b"data: a\n\ndata: b\n\ndata: c\n\n");
        }
        assert_eq!(connections.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn an_empty_answer_is_complete_before_it_is_polled() {
        let (url, _) = server(b"HTTP/1.1 204 No Content\r\n\r\n", false).await;
        let pool = Arc::new(UpstreamPool::new().unwrap());
        let resp = pool.send(&Method::POST, &url, &HeaderMap::new(), Bytes::new()).await.unwrap();
        assert!(resp.body().is_end_stream());
    }

    #[tokio::test]
    async fn a_fresh_connection_that_fails_is_an_error_not_a_retry() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/chat/completions", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = read_head(&mut socket).await;
            }
        });
        let pool = Arc::new(UpstreamPool::new().unwrap());
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            pool.send(&Method::POST, &url, &HeaderMap::new(), Bytes::new()),
        )
        .await
        .unwrap();
        assert!(outcome.is_err());
    }
}
