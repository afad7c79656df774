//! One worker's connection to the target: opened once, kept alive, reopened only when the
//! server closes it. A replay worker models one user's client, so its requests go one after
//! another over this one HTTP/1.1 connection (AgenticSwarmBench (the original asb)'s
//! model), and the time to (re)connect is measured apart from the request it precedes —
//! TTFT starts when the request is written on a ready connection.
//!
//! hyper's connection state machine is driven inside the worker's own task ([`drive`])
//! rather than in a spawned task: when a frame arrives, the same poll that reads it from
//! the socket hands it to the worker, which timestamps it — no hop through another task
//! and no second wake-up between the socket and the clock. On plain `http://` the
//! socket also reports when the kernel received each read ([`crate::wire::rx_timestamp`]).

use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::wire::client::{connector, Connector};
pub(crate) use crate::wire::driven::chain;
use crate::wire::driven::{drive, Driver};
use crate::wire::rx_timestamp::{RxClock, TimestampedTcp};

const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) struct Connection {
    connector: Connector,
    uri: Uri,
    link: Option<Link>,
    /// Time spent opening the current connection, until a request claims it.
    unclaimed_connect_ms: f64,
}

struct Link {
    sender: SendRequest<Full<Bytes>>,
    driver: Driver,
    /// Kernel receive times of this connection's reads (plain TCP on Linux).
    rx: Option<RxClock>,
    /// The driver finished (the connection closed); what it read is still deliverable.
    closed: bool,
    /// Requests sent on this connection.
    served: u64,
}

/// Why a request could not be sent.
pub(crate) struct SendError {
    pub message: String,
    /// The server had closed the reused connection before answering (none of the request
    /// written, or written and dropped unanswered): it can go again on a new connection.
    pub resendable: bool,
}

impl Connection {
    pub(crate) fn new(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().map_err(|e| anyhow::anyhow!("target URL {url:?}: {e}"))?;
        Ok(Connection { connector: connector()?, uri, link: None, unclaimed_connect_ms: 0.0 })
    }

    /// Makes sure a connection is open (opening one if needed).
    pub(crate) async fn ready(&mut self) -> Result<(), SendError> {
        if let Some(Link { sender, driver, closed, .. }) = &mut self.link {
            if !*closed && drive(driver, closed, sender.ready()).await.is_ok() {
                return Ok(());
            }
            self.link = None;
        }
        let start = Instant::now();
        let uri = &self.uri;
        let handshake_error = |e: hyper::Error| SendError {
            message: format!("HTTP handshake with {uri} failed: {}", chain(&e)),
            resendable: false,
        };
        let (sender, driver, rx): (_, Driver, _) = if uri.scheme_str() == Some("http") {
            let (io, rx) = TimestampedTcp::new(connect_tcp(uri).await?);
            let (sender, driver) = http1::handshake(io).await.map_err(handshake_error)?;
            (sender, Box::pin(driver), Some(rx))
        } else {
            let io = self.connector.call(uri.clone()).await.map_err(|e| SendError {
                message: format!("cannot connect to {uri}: {}", chain(&*e)),
                resendable: false,
            })?;
            let (sender, driver) = http1::handshake(io).await.map_err(handshake_error)?;
            (sender, Box::pin(driver), None)
        };
        self.link = Some(Link { sender, driver, rx, closed: false, served: 0 });
        self.unclaimed_connect_ms += start.elapsed().as_secs_f64() * 1000.0;
        Ok(())
    }

    /// When the kernel received the latest bytes read on this connection (ns since the
    /// Unix epoch), when known.
    pub(crate) fn last_rx_ns(&self) -> Option<u64> {
        self.link.as_ref().and_then(|l| l.rx.as_ref()).and_then(RxClock::last_ns)
    }

    /// Drops the connection (after a request was abandoned mid-answer).
    pub(crate) fn reset(&mut self) {
        self.link = None;
    }

    /// The ms spent opening connections since the last call: reported with the request
    /// that follows, never inside its TTFT.
    pub(crate) fn take_connect_ms(&mut self) -> f64 {
        std::mem::take(&mut self.unclaimed_connect_ms)
    }

    /// Sends on the ready connection (call [`Self::ready`] first); returns at the
    /// response headers.
    pub(crate) async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, SendError> {
        let Some(Link { sender, driver, closed, served, .. }) = &mut self.link else {
            return Err(SendError { message: "no connection".into(), resendable: false });
        };
        let result = drive(driver, closed, sender.try_send_request(request)).await;
        let reused = std::mem::replace(served, *served + 1) > 0;
        result.map_err(|mut e| {
            self.link = None;
            let unsent = e.take_message().is_some();
            let resendable = unsent || (reused && e.error().is_incomplete_message());
            SendError { message: format!("request failed: {}", chain(e.error())), resendable }
        })
    }

    /// The next frame of a response body received on this connection.
    pub(crate) async fn frame(&mut self, body: &mut Incoming) -> Option<Result<Frame<Bytes>, hyper::Error>> {
        match &mut self.link {
            Some(Link { driver, closed, .. }) => drive(driver, closed, body.frame()).await,
            None => body.frame().await,
        }
    }
}

/// A plain TCP connection to `uri`'s host and port, `TCP_NODELAY` set.
async fn connect_tcp(uri: &Uri) -> Result<TcpStream, SendError> {
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let failed = |e: String| SendError { message: format!("cannot connect to {uri}: {e}"), resendable: false };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| failed(format!("no answer in {} s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| failed(e.to_string()))?;
    tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
    Ok(tcp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers one request per connection, then hangs up (as llama.cpp's
    /// server sometimes does with a kept-alive connection).
    async fn one_answer_per_connection() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/chat/completions", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced_not_waited_on() {
        let url = one_answer_per_connection().await;
        let mut conn = Connection::new(&url).unwrap();
        for _ in 0..5 {
            let request = Request::post("/v1/chat/completions").body(Full::new(Bytes::from_static(b""))).unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(5), async {
                conn.ready().await.map_err(|e| e.message)?;
                let mut response = conn.send(request).await.map_err(|e| e.message)?;
                while conn.frame(response.body_mut()).await.is_some() {}
                Ok::<_, String>(())
            })
            .await
            .expect("a closed connection must be replaced, not waited on")
            .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
