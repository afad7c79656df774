//! The scraper's and the cache reset's HTTP: one small request at a time on a pooled
//! connection (not a replay worker's), bounded in time and in answer size, with failures
//! said in words.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Method;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::wire::client::{connector, Connector};

/// What a request got.
pub(crate) struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

pub(crate) struct Http {
    client: Client<Connector, Empty<Bytes>>,
}

impl Http {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build(connector()?);
        Ok(Http { client })
    }

    /// `method url`, the whole exchange within `timeout`, at most `max_bytes` of body.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Answer, String> {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", "text/plain;version=0.0.4;q=1, */*;q=0.1")
            .body(Empty::new())
            .map_err(|e| format!("bad URL {url}: {e}"))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = Limited::new(response.into_body(), max_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        format!("the answer is larger than {} KiB", max_bytes / 1024)
                    } else {
                        format!("reading the answer: {e}")
                    }
                })?
                .to_bytes();
            Ok(Answer { status, content_type, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
