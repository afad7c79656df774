//! Outbound connections (record's upstream, replay's target): TCP with `TCP_NODELAY`, and
//! TLS by rustls with the ring provider and the Mozilla root set (no C++ build, no system
//! certificate store needed). HTTP/1.1 runs on them in the caller's task
//! ([`super::driven`]); one request at a time per connection, as the agents' clients do.

use std::time::Duration;

use anyhow::Result;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

pub(crate) type Connector = HttpsConnector<HttpConnector>;

/// Opens TCP (+ TLS for https, offering HTTP/1.1 by ALPN) connections.
pub(crate) fn connector() -> Result<Connector> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}
