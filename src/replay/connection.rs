//! One worker's connection to the target: opened once, kept alive, reopened only when
//! the server closes it. A replay worker models one user's client, so its requests go
//! one after another over this one HTTP/1.1 connection (asb's model), and the time to
//! (re)connect is measured apart from the request it precedes — TTFT starts when the
//! request is written on a ready connection.

use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use tower_service::Service;

use crate::wire::client::{connector, Connector};

pub struct Connection {
    connector: Connector,
    uri: Uri,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Time spent opening the current connection, until a request claims it.
    unclaimed_connect_ms: f64,
}

/// Why a request could not be sent; `connect` failures happened before any byte went out.
pub struct SendError {
    pub message: String,
}

impl Connection {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse().map_err(|e| anyhow::anyhow!("target URL {url:?}: {e}"))?;
        Ok(Connection { connector: connector(false)?, uri, sender: None, unclaimed_connect_ms: 0.0 })
    }

    /// Makes sure a connection is open (opening one if needed).
    pub async fn ready(&mut self) -> Result<(), SendError> {
        if let Some(sender) = &mut self.sender {
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Ok(());
            }
            self.sender = None;
        }
        let start = Instant::now();
        let io = self
            .connector
            .call(self.uri.clone())
            .await
            .map_err(|e| SendError { message: format!("cannot connect to {}: {}", self.uri, chain(&*e)) })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| SendError { message: format!("HTTP handshake with {} failed: {}", self.uri, chain(&e)) })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        self.unclaimed_connect_ms += start.elapsed().as_secs_f64() * 1000.0;
        Ok(())
    }

    /// The ms spent opening connections since the last call: reported with the request
    /// that follows, never inside its TTFT.
    pub fn take_connect_ms(&mut self) -> f64 {
        std::mem::take(&mut self.unclaimed_connect_ms)
    }

    /// Sends on the ready connection (call [`Self::ready`] first).
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, SendError> {
        let Some(sender) = &mut self.sender else {
            return Err(SendError { message: "no connection".into() });
        };
        sender.send_request(request).await.map_err(|e| {
            self.sender = None;
            SendError { message: format!("request failed: {}", chain(&e)) }
        })
    }
}

/// An error and its causes, `a: b: c`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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
