//! The outbound HTTP client (record's upstream, replay's target): pooled keep-alive
//! connections, HTTP/1.1 and HTTP/2, TLS by rustls with the ring provider and the Mozilla root set (no C++ build,
//! no system certificate store needed), `TCP_NODELAY` on every socket.

use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub type Connector = HttpsConnector<HttpConnector>;

/// A pooled client speaking HTTP/1.1 or HTTP/2 (by ALPN over TLS).
pub fn client() -> Result<HttpClient> {
    let https = connector(true)?;
    Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(90)).build(https))
}

/// Opens TCP (+ TLS for https) connections; `http2` offers h2 by ALPN, otherwise only
/// HTTP/1.1 is offered (for callers that run the HTTP/1.1 handshake themselves).
pub fn connector(http2: bool) -> Result<Connector> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1();
    Ok(if http2 { builder.enable_http2().wrap_connector(http) } else { builder.wrap_connector(http) })
}
