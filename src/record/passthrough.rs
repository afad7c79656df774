//! The recording proxy's fast path: one call forwarded byte for byte by hand, over
//! HTTP/1.1 to a plain-HTTP upstream — a GPU server on the LAN or loopback, where the
//! proxy's own cost shows. [`super::front`] reads the request and decides it goes here.
//!
//! Why not hyper here: per small call, hyper's server and client together cost the proxy
//! about twice the CPU nginx spends proxying the same call (measured: ≈ 80–100 µs against
//! ≈ 45), and in a burst of 64 requests that is what the last of them waits for. This path
//! does what nginx does: it writes the request upstream with only the proxy's header
//! changes ([`http1::upstream_request_head`]), and sends the client the upstream's
//! response bytes as each read brings them — status line, headers and chunk framing
//! included — while a decoder finds where the body ends and copies its payload, with the
//! read's arrival time, into the call's capture. The call's [`CallGuard`] ends it once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::capture::{new_capture, RawRequest};
use super::ending::{proxy_error, Ending, UpstreamError};
use super::headers;
use super::lifecycle::CallGuard;
use super::plain_upstream::{AnswerHead, READ_SIZE};
use super::proxy::Proxy;
use crate::wire::http1::{self, BodyEnd, Framing, RequestHead};
use crate::wire::Api;

/// One passthrough call.
pub(crate) struct Call<'a> {
    pub proxy: &'a Arc<Proxy>,
    /// When its head was read.
    pub arrival: Instant,
    pub api: Api,
}

/// How forwarding an answer ended.
struct Forwarded {
    ending: Ending,
    /// The upstream connection can carry another request (unless it is to close).
    reusable: bool,
    /// The client shut down its sending side meanwhile.
    half_closed: bool,
}

impl Call<'_> {
    /// Forwards and records the call; returns whether the client connection stays open.
    pub(crate) async fn run(
        self,
        client: &mut TcpStream,
        client_buf: &mut BytesMut,
        head: RequestHead,
        raw_head: Bytes,
        body: Bytes,
        stopping: &watch::Receiver<bool>,
    ) -> bool {
        let proxy = self.proxy;
        proxy.secrets.add_from_headers(&head.headers);
        let Some(plain) = &proxy.plain else { return false };
        let path = format!("{}{}", plain.prefix, head.target);
        let auth = proxy.upstream.auth.as_ref().map(|(name, value)| (name.as_str(), value.as_str()));
        let keep = |name: &[u8]| headers::goes_upstream(name, auth.is_some());
        let up_head = http1::upstream_request_head(&raw_head, &path, &plain.host, keep, auth, body.len());
        let keep_client = !head.close;
        let request = RawRequest {
            method: head.method.to_string(),
            path: head.target,
            headers: head.headers,
            body: body.clone(),
        };
        let capture =
            new_capture(&proxy.recorder, self.arrival, (self.api, self.api), proxy.upstream.model.clone(), request);
        let mut call = CallGuard::begin(&proxy.recorder, capture);

        let (mut reader, mut writer) = client.split();
        let mut half_closed = false;
        let sent = tokio::time::timeout(proxy.header_timeout, proxy.plain_pool.send(plain, &up_head, &body));
        let answer = tokio::select! {
            answer = sent => answer,
            _ = hung_up(&mut reader, client_buf, &mut half_closed) => {
                call.end(Ending::ClientGone);
                return false;
            }
        };
        let AnswerHead { conn: mut upstream, head: resp, buf: mut read } = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(why)) => {
                let url = proxy.upstream.shown_url(&call.capture().client.request.path);
                let error = UpstreamError::Unreachable { url, why };
                return self.unreachable(&mut writer, call, error, keep_client).await;
            }
            Err(_) => {
                let url = proxy.upstream.shown_url(&call.capture().client.request.path);
                let error = UpstreamError::Silent { url, secs: proxy.header_timeout.as_secs() };
                return self.unreachable(&mut writer, call, error, keep_client).await;
            }
        };
        // A server that is stopping says so on its last answer, so a kept-alive client
        // sends its next request elsewhere rather than into a closing connection.
        let keep_client = keep_client && !half_closed && !*stopping.borrow() && resp.framing != Framing::UntilClose;
        // `transfer-encoding` too: the chunks go on as the upstream framed them.
        let keep = |name: &[u8]| headers::goes_to_client(name) || name.eq_ignore_ascii_case(b"transfer-encoding");
        let mut out = http1::client_response_head(&read[..resp.len], keep, !keep_client);
        read.advance(resp.len);
        let mut end = BodyEnd::new(resp.framing);
        let upstream_closes = resp.close;
        call.note_client_head(resp.status, resp.headers);
        let client_side = ClientSide { reader: &mut reader, writer: &mut writer, buf: client_buf, half_closed };
        let Forwarded { ending, reusable, half_closed } =
            forward(&call, &mut end, &mut upstream, &mut read, &mut out, client_side).await;
        let completed = ending == Ending::Completed;
        call.end(ending);
        if completed && reusable && !upstream_closes {
            proxy.plain_pool.release(upstream);
        }
        completed && keep_client && !half_closed
    }

    /// The upstream could not be reached: the client gets a 502 in its API's shape.
    async fn unreachable(
        &self,
        writer: &mut WriteHalf<'_>,
        mut call: CallGuard,
        error: UpstreamError,
        keep_client: bool,
    ) -> bool {
        let status = error.status();
        let ending = Ending::Upstream(error);
        let response = proxy_error(self.api, status, &ending);
        let bytes = http1::whole_response(status, response.headers(), response.body().as_bytes(), !keep_client);
        call.end_answered(&response, ending);
        writer.write_all(&bytes).await.is_ok() && keep_client
    }

    /// A request whose declared body is over `--max-request-mib`: answered 413 without
    /// reading the body, and recorded (without it) as rejected.
    pub(crate) async fn too_large(self, client: &mut TcpStream, head: RequestHead) {
        let proxy = self.proxy;
        let limit_mib = proxy.max_request_bytes >> 20;
        let message = format!(
            "the request body of {} bytes is over the recorder's limit of {limit_mib} MiB (--max-request-mib)",
            head.content_length
        );
        let request = RawRequest {
            method: head.method.to_string(),
            path: head.target,
            headers: head.headers,
            body: Bytes::new(),
        };
        let capture =
            new_capture(&proxy.recorder, self.arrival, (self.api, self.api), proxy.upstream.model.clone(), request);
        let mut call = CallGuard::begin(&proxy.recorder, capture);
        let ending = Ending::Rejected(message);
        let response = proxy_error(self.api, 413, &ending);
        let bytes = http1::whole_response(413, response.headers(), response.body().as_bytes(), true);
        call.end_answered(&response, ending);
        if client.write_all(&bytes).await.is_ok() {
            lingering_close(client).await;
        }
    }
}

/// Closes a connection whose request body was not read, as nginx's `lingering_close`
/// does: the sending side first, then what the client still sends is read and dropped for
/// up to two seconds. Closing with unread bytes would reset the connection, and the client
/// could lose the answer it was sent.
pub(crate) async fn lingering_close(client: &mut TcpStream) {
    let _ = client.shutdown().await;
    let mut sink = vec![0u8; 64 * 1024];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// The client's half of a connection while an answer is forwarded to it.
struct ClientSide<'a, 'c> {
    reader: &'a mut ReadHalf<'c>,
    writer: &'a mut WriteHalf<'c>,
    /// Bytes the client sent meanwhile (a pipelined request).
    buf: &'a mut BytesMut,
    /// The client has shut down its sending side (it still reads the answer).
    half_closed: bool,
}

/// Sends the client the response head (`out`) and the body as the upstream delivers it,
/// recording each read's payload with its arrival time.
async fn forward(
    call: &CallGuard,
    end: &mut BodyEnd,
    upstream: &mut TcpStream,
    read: &mut BytesMut,
    out: &mut Vec<u8>,
    client: ClientSide<'_, '_>,
) -> Forwarded {
    let ClientSide { reader, writer, buf: client_buf, mut half_closed } = client;
    let mut reusable = true;
    let cut = |why: String| Ending::Upstream(UpstreamError::Cut(why));
    let ending = 'forwarding: {
        // The bytes that came with the head go with it in one write.
        if !read.is_empty() {
            match take_piece(call, end, read) {
                Ok((used, extra)) => {
                    out.extend_from_slice(&read[..used]);
                    reusable &= !extra;
                }
                Err(e) => break 'forwarding cut(e),
            }
            read.clear();
        }
        if writer.write_all(out).await.is_err() {
            break 'forwarding Ending::ClientGone;
        }
        while !end.is_done() {
            read.reserve(READ_SIZE);
            tokio::select! {
                biased;
                got = upstream.read_buf(read) => match got {
                    Ok(0) if matches!(end, BodyEnd::UntilClose) => {
                        reusable = false;
                        break 'forwarding Ending::Completed;
                    }
                    Ok(0) => break 'forwarding cut("the upstream closed the connection".into()),
                    Err(e) => break 'forwarding cut(e.to_string()),
                    Ok(_) => {
                        let used = match take_piece(call, end, read) {
                            Ok((used, extra)) => {
                                reusable &= !extra;
                                used
                            }
                            Err(e) => break 'forwarding cut(e),
                        };
                        if writer.write_all(&read[..used]).await.is_err() {
                            break 'forwarding Ending::ClientGone;
                        }
                        read.clear();
                    }
                },
                _ = hung_up(reader, client_buf, &mut half_closed) => break 'forwarding Ending::ClientGone,
            }
        }
        Ending::Completed
    };
    Forwarded { ending, reusable, half_closed }
}

/// Feeds one read to the body's decoder and records its payload; returns the bytes that
/// belong to this answer and whether more followed them (an upstream out of step).
fn take_piece(call: &CallGuard, end: &mut BodyEnd, piece: &[u8]) -> Result<(usize, bool), String> {
    let fed = end.feed(piece)?;
    // Past the recorder's limit the payload is counted, not copied.
    call.capture().keep_client_slices(piece, &fed.payload);
    Ok((fed.used, fed.used < piece.len()))
}

/// Resolves when the client's connection fails; what it sends meanwhile (a pipelined
/// request) is kept in `buf`. A client that shuts down its sending side after its request
/// (an HTTP half-close) is still answered: `half_closed` turns true and nothing more is
/// read; a client that went away altogether is then noticed when its answer cannot be
/// written.
async fn hung_up(reader: &mut ReadHalf<'_>, buf: &mut BytesMut, half_closed: &mut bool) {
    loop {
        if *half_closed || buf.len() >= http1::MAX_HEAD_BYTES {
            return std::future::pending().await;
        }
        match reader.read_buf(buf).await {
            Ok(0) => *half_closed = true,
            Err(_) => return,
            Ok(_) => {}
        }
    }
}
