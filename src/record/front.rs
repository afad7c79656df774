//! The [`Front`] of `asb record`'s server threads: reads each request head of a client
//! connection itself, and serves the common calls — `POST /v1/chat/completions`, and
//! `POST /v1/messages` to an Anthropic upstream, to a plain-HTTP upstream — with the
//! hand-written passthrough ([`super::passthrough`]).
//!
//! Whatever is not that common shape (another route, a TLS upstream, `expect`, a chunked
//! request, HTTP/1.0, a huge head) goes to hyper with the bytes already read
//! ([`Prefixed`]), and hyper serves the rest of that connection ([`super::proxy`]).

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::ending::refusal_message;
use super::passthrough::{lingering_close, Call};
use super::proxy::{translates, Proxy};
use crate::wire::api::Route;
use crate::wire::errors::ApiError;
use crate::wire::http1::{self, Parsed, RequestHead};
use crate::wire::prefixed::Prefixed;
use crate::wire::server::{self, Front};
use crate::wire::Api;

/// The [`Front`] of `asb record`'s server threads.
#[derive(Clone)]
pub(crate) struct Passthrough(pub Arc<Proxy>);

impl Front for Passthrough {
    fn take(
        self,
        stream: TcpStream,
        stopping: watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = Option<Prefixed>> + Send + 'static {
        serve_connection(self.0, stream, stopping)
    }
}

/// Serves a client connection's requests while they are passthrough calls; returns the
/// connection for hyper at the first that is not.
async fn serve_connection(
    proxy: Arc<Proxy>,
    mut client: TcpStream,
    mut stopping: watch::Receiver<bool>,
) -> Option<Prefixed> {
    if proxy.plain.is_none() {
        return Some(Prefixed::new(Bytes::new(), client));
    }
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut head_timer = server::HeadTimer::new_connection();
    loop {
        let head = loop {
            match http1::parse_request(&buf) {
                Parsed::Head(head) => break head,
                Parsed::Other => return Some(Prefixed::new(buf.freeze(), client)),
                Parsed::Partial => {}
            }
            if buf.is_empty() && *stopping.borrow() {
                return None;
            }
            tokio::select! {
                read = head_timer.read(buf.is_empty(), client.read_buf(&mut buf)) => match read {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                },
                _ = stopping.changed(), if buf.is_empty() => return None,
            }
        };
        let arrival = Instant::now();
        let Some(api) = route(&proxy, &head) else {
            return Some(Prefixed::new(buf.freeze(), client));
        };
        let call = Call { proxy: &proxy, arrival, api };
        // Refused before the body is read: the connection closes after the answer.
        if head.content_length > proxy.max_request_bytes {
            call.too_large(&mut client, head).await;
            return None;
        }
        if let Some(why) = proxy.recorder.writer.refusing() {
            if client.write_all(&refusal(api, &why)).await.is_ok() {
                lingering_close(&mut client).await;
            }
            return None;
        }
        let whole = head.len + head.content_length;
        while buf.len() < whole {
            // What arrives, not what the head declares: a peer's number is not an allocation.
            buf.reserve((whole - buf.len()).min(1 << 20));
            match server::body_read(client.read_buf(&mut buf)).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
        let raw_head = buf.split_to(head.len).freeze();
        let body = buf.split_to(head.content_length).freeze();
        if !call.run(&mut client, &mut buf, head, raw_head, body, &stopping).await || *stopping.borrow() {
            return None;
        }
        head_timer = server::HeadTimer::after_answer();
    }
}

/// The 503 for a call that arrives while the recording cannot be written (the call is not
/// forwarded: it could not be recorded).
fn refusal(api: Api, why: &str) -> Vec<u8> {
    let response = ApiError::new(503, refusal_message(why)).to_response(api, "asb-record");
    http1::whole_response(503, response.headers(), response.body().as_bytes(), true)
}

/// The API of a passthrough call (a `POST` on a call's route, forwarded byte for byte), or
/// `None` for a request hyper is to serve.
fn route(proxy: &Proxy, head: &RequestHead) -> Option<Api> {
    if head.method != http::Method::POST {
        return None;
    }
    match Route::of(&head.target) {
        Some(Route::Call(api)) if !translates(api, proxy.upstream.api) => Some(api),
        _ => None,
    }
}
