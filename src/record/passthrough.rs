//! The recording proxy's fast path: a hand-written HTTP/1.1 passthrough for the calls it
//! forwards byte for byte (`POST /v1/chat/completions`, and `POST /v1/messages` to an
//! Anthropic upstream) when the upstream speaks plain HTTP — a GPU server on the LAN or
//! loopback, where the proxy's own cost shows.
//!
//! Why not hyper here: per small call, hyper's server and client together cost the proxy
//! about twice the CPU nginx spends proxying the same call (measured: ≈ 80–100 µs against
//! ≈ 45), and in a burst of 64 requests that is what the last of them waits for. This path
//! does what nginx does: it reads the request head and body, writes them upstream with
//! only the proxy's header changes ([`http1::upstream_request_head`]), and sends the
//! client the upstream's response bytes as each read brings them — status line, headers
//! and chunk framing included — while a decoder finds where the body ends and copies its
//! payload, with the read's arrival time, into the call's capture.
//!
//! Whatever is not that common shape (another route, a TLS upstream, `expect`, a chunked
//! request, HTTP/1.0, a huge head) goes to hyper with the bytes already read
//! ([`Prefixed`]), and hyper serves the rest of that connection.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::ReadHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::capture::{lock, new_capture, CallHandle, RawRequest, Recorder};
use super::headers;
use super::proxy::{is_event_stream, refusal_message, Proxy};
use super::upstream::{IDLE_TIMEOUT, MAX_IDLE};
use crate::recording::Outcome;
use crate::wire::api::Route;
use crate::wire::errors::ApiError;
use crate::wire::http1::{self, BodyEnd, Framing, Parsed, RequestHead, ResponseHead};
use crate::wire::prefixed::Prefixed;
use crate::wire::server::{self, Front};
use crate::wire::Api;

/// Bytes asked of the upstream per read.
const READ_SIZE: usize = 16 * 1024;
/// A request body up to this size goes upstream in one write with its head.
const ONE_WRITE: usize = 16 * 1024;

/// A plain-HTTP upstream, as the passthrough reaches it.
#[derive(Debug, Clone)]
pub struct PlainUpstream {
    /// `host:port` to connect to.
    connect_to: String,
    /// The `host` header: the authority as the endpoint spelled it.
    host: String,
    /// The endpoint's path prefix ("" for none), put before each request's path.
    prefix: String,
}

impl PlainUpstream {
    /// The upstream behind `base` (a normalised `--endpoint`), if it is plain HTTP.
    pub fn of(base: &str) -> Option<Self> {
        let rest = base.strip_prefix("http://")?;
        let (authority, prefix) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let uri: http::Uri = base.parse().ok()?;
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        let connect_to = match uri.port_u16() {
            Some(port) if host.contains(':') => format!("[{host}]:{port}"),
            Some(port) => format!("{host}:{port}"),
            None if host.contains(':') => format!("[{host}]:80"),
            None => format!("{host}:80"),
        };
        Some(PlainUpstream { connect_to, host: authority.to_string(), prefix: prefix.to_string() })
    }
}

/// This thread's idle connections to the plain upstream.
#[derive(Default)]
pub struct PlainPool {
    idle: Mutex<Vec<(TcpStream, Instant)>>,
}

impl PlainPool {
    /// The most recently used idle connection that is still open.
    fn checkout(&self) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((conn, since)) = idle.pop() {
            // Open and silent: a read would block. Closed (0) or unexpected bytes: dropped.
            let silent = matches!(conn.try_read(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            if silent && since.elapsed() < IDLE_TIMEOUT {
                return Some(conn);
            }
        }
        None
    }

    fn release(&self, conn: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push((conn, Instant::now()));
    }

    /// Sends a request (`head` and `body`) and reads up to the end of the response head;
    /// a kept-alive connection the upstream closed meanwhile is replaced and the request
    /// sent again on a new one.
    async fn send(&self, to: &PlainUpstream, head: &[u8], body: &[u8]) -> Result<Answer, String> {
        loop {
            let (mut conn, reused) = match self.checkout() {
                Some(conn) => (conn, true),
                None => (connect(to).await?, false),
            };
            let mut buf = BytesMut::with_capacity(READ_SIZE);
            match exchange_head(&mut conn, head, body, &mut buf).await {
                Ok(head) => return Ok(Answer { conn, head, buf }),
                // Nothing came back on a connection that sat idle: it was closed under us.
                Err(_) if reused && buf.is_empty() => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

async fn connect(to: &PlainUpstream) -> Result<TcpStream, String> {
    let conn = match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&to.connect_to)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(format!("cannot connect to {}: {e}", to.connect_to)),
        Err(_) => return Err(format!("cannot connect to {}: no answer within 10 s", to.connect_to)),
    };
    let _ = conn.set_nodelay(true);
    Ok(conn)
}

/// The upstream's answer up to its head: the connection, the head, and what was read
/// (the head's bytes, then perhaps the first of the body).
struct Answer {
    conn: TcpStream,
    head: ResponseHead,
    buf: BytesMut,
}

/// Writes the request and reads the response head (interim 1xx heads skipped).
async fn exchange_head(
    conn: &mut TcpStream,
    head: &[u8],
    body: &[u8],
    buf: &mut BytesMut,
) -> Result<ResponseHead, String> {
    let written = if body.len() <= ONE_WRITE {
        conn.write_all(&[head, body].concat()).await
    } else {
        match conn.write_all(head).await {
            Ok(()) => conn.write_all(body).await,
            Err(e) => Err(e),
        }
    };
    written.map_err(|e| format!("sending the request failed: {e}"))?;
    loop {
        if let Some(head) = http1::parse_response(buf)? {
            if (100..200).contains(&head.status) && head.status != 101 {
                buf.advance(head.len);
                continue;
            }
            if head.status == 101 {
                return Err("the upstream switched protocols, which a recorded call cannot".into());
            }
            return Ok(head);
        }
        buf.reserve(READ_SIZE);
        match conn.read_buf(buf).await {
            Ok(0) => return Err("the upstream closed the connection before answering".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("reading the answer failed: {e}")),
        }
    }
}

/// The [`Front`] of `asb record`'s server threads.
#[derive(Clone)]
pub struct Passthrough(pub Arc<Proxy>);

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

/// The API of a passthrough call, or `None` for a request hyper is to serve.
fn route(proxy: &Proxy, head: &RequestHead) -> Option<Api> {
    if head.method != http::Method::POST {
        return None;
    }
    match Route::of(&head.target) {
        Some(Route::Call(Api::OpenAi)) => Some(Api::OpenAi),
        Some(Route::Call(Api::Anthropic)) if proxy.upstream.api == Api::Anthropic => Some(Api::Anthropic),
        _ => None,
    }
}

/// One passthrough call.
struct Call<'a> {
    proxy: &'a Arc<Proxy>,
    /// When its head was read.
    arrival: Instant,
    api: Api,
}

/// How a call's forwarding ended.
enum Ending {
    /// The whole answer reached the client; the upstream connection can carry another
    /// request unless it is to close.
    Completed {
        reusable: bool,
    },
    UpstreamCut(String),
    ClientGone,
}

impl Call<'_> {
    /// Forwards and records the call; returns whether the client connection stays open.
    async fn run(
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
        let mut call = Finisher { recorder: &proxy.recorder, handle: proxy.recorder.begin(capture), done: false };

        let (mut reader, mut writer) = client.split();
        let mut half_closed = false;
        let sent = tokio::time::timeout(proxy.header_timeout, proxy.plain_pool.send(plain, &up_head, &body));
        let answer = tokio::select! {
            answer = sent => answer,
            _ = hung_up(&mut reader, client_buf, &mut half_closed) => {
                call.finish(Outcome::ClientDisconnected, Some("the client closed the connection before the answer ended".into()));
                return false;
            }
        };
        let Answer { conn: mut upstream, head: resp, buf: mut read } = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                let url = proxy.upstream.shown_url(&lock(&call.handle).client.request.path);
                return self
                    .unreachable(&mut writer, call, format!("upstream {url} unreachable: {e}"), keep_client)
                    .await;
            }
            Err(_) => {
                let url = proxy.upstream.shown_url(&lock(&call.handle).client.request.path);
                let message = format!("upstream {url} sent no answer within {} s", proxy.header_timeout.as_secs());
                return self.unreachable(&mut writer, call, message, keep_client).await;
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
        {
            let mut c = lock(&call.handle);
            let t = c.ms_since_arrival();
            c.client.status = Some(resp.status);
            c.client.streamed = is_event_stream(&resp.headers);
            c.client.headers = resp.headers;
            c.client.ttfb_ms = Some(t);
        }
        let client_side = ClientSide { reader: &mut reader, writer: &mut writer, buf: client_buf, half_closed };
        let (ending, half_closed) =
            forward(&call.handle, &mut end, &mut upstream, &mut read, &mut out, client_side).await;
        match ending {
            Ending::Completed { reusable } => {
                call.finish(Outcome::Completed, None);
                if reusable && !upstream_closes {
                    proxy.plain_pool.release(upstream);
                }
                keep_client && !half_closed
            }
            Ending::UpstreamCut(e) => {
                call.finish(Outcome::UpstreamCut, Some(format!("the upstream's answer broke off: {e}")));
                false
            }
            Ending::ClientGone => {
                call.finish(
                    Outcome::ClientDisconnected,
                    Some("the client closed the connection before the answer ended".into()),
                );
                false
            }
        }
    }

    /// The upstream could not be reached: the client gets a 502 in its API's shape.
    async fn unreachable(
        &self,
        writer: &mut tokio::net::tcp::WriteHalf<'_>,
        mut call: Finisher<'_>,
        message: String,
        keep_client: bool,
    ) -> bool {
        let response = ApiError::new(502, format!("asb record: {message}")).to_response(self.api, "asb-record");
        let bytes = http1::whole_response(502, response.headers(), response.body().as_bytes(), !keep_client);
        lock(&call.handle).answered_by_proxy(&response);
        call.finish(Outcome::UpstreamUnreachable, Some(message));
        writer.write_all(&bytes).await.is_ok() && keep_client
    }

    /// A request whose declared body is over `--max-request-mib`: answered 413 without
    /// reading the body, and recorded (without it) as rejected.
    async fn too_large(self, client: &mut TcpStream, head: RequestHead) {
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
        let mut call = Finisher { recorder: &proxy.recorder, handle: proxy.recorder.begin(capture), done: false };
        let response = ApiError::new(413, format!("asb record: {message}")).to_response(self.api, "asb-record");
        let bytes = http1::whole_response(413, response.headers(), response.body().as_bytes(), true);
        lock(&call.handle).answered_by_proxy(&response);
        call.finish(Outcome::ProxyRejected, Some(message));
        if client.write_all(&bytes).await.is_ok() {
            lingering_close(client).await;
        }
    }
}

/// Closes a connection whose request body was not read, as nginx's `lingering_close`
/// does: the sending side first, then what the client still sends is read and dropped for
/// up to two seconds. Closing with unread bytes would reset the connection, and the client
/// could lose the answer it was sent.
async fn lingering_close(client: &mut TcpStream) {
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
    writer: &'a mut tokio::net::tcp::WriteHalf<'c>,
    /// Bytes the client sent meanwhile (a pipelined request).
    buf: &'a mut BytesMut,
    /// The client has shut down its sending side (it still reads the answer).
    half_closed: bool,
}

/// Sends the client the response head (`out`) and the body as the upstream delivers it,
/// recording each read's payload with its arrival time; also says whether the client
/// half-closed meanwhile.
async fn forward(
    call: &CallHandle,
    end: &mut BodyEnd,
    upstream: &mut TcpStream,
    read: &mut BytesMut,
    out: &mut Vec<u8>,
    client: ClientSide<'_, '_>,
) -> (Ending, bool) {
    let ClientSide { reader, writer, buf: client_buf, mut half_closed } = client;
    let mut reusable = true;
    // The bytes that came with the head go with it in one write.
    if !read.is_empty() {
        match take_piece(call, end, read) {
            Ok((used, extra)) => {
                out.extend_from_slice(&read[..used]);
                reusable &= !extra;
            }
            Err(e) => return (Ending::UpstreamCut(e), half_closed),
        }
        read.clear();
    }
    if writer.write_all(out).await.is_err() {
        return (Ending::ClientGone, half_closed);
    }
    while !end.is_done() {
        read.reserve(READ_SIZE);
        tokio::select! {
            biased;
            got = upstream.read_buf(read) => match got {
                Ok(0) if matches!(end, BodyEnd::UntilClose) => return (Ending::Completed { reusable: false }, half_closed),
                Ok(0) => return (Ending::UpstreamCut("the upstream closed the connection".into()), half_closed),
                Err(e) => return (Ending::UpstreamCut(e.to_string()), half_closed),
                Ok(_) => {
                    let used = match take_piece(call, end, read) {
                        Ok((used, extra)) => {
                            reusable &= !extra;
                            used
                        }
                        Err(e) => return (Ending::UpstreamCut(e), half_closed),
                    };
                    if writer.write_all(&read[..used]).await.is_err() {
                        return (Ending::ClientGone, half_closed);
                    }
                    read.clear();
                }
            },
            _ = hung_up(reader, client_buf, &mut half_closed) => return (Ending::ClientGone, half_closed),
        }
    }
    (Ending::Completed { reusable }, half_closed)
}

/// Feeds one read to the body's decoder and records its payload; returns the bytes that
/// belong to this answer and whether more followed them (an upstream out of step).
fn take_piece(call: &CallHandle, end: &mut BodyEnd, piece: &[u8]) -> Result<(usize, bool), String> {
    let fed = end.feed(piece)?;
    let mut c = lock(call);
    let len = fed.payload.iter().map(|r| r.len()).sum();
    if !c.client.has_room(len, c.keep_limit) {
        // Past the limit the payload is counted, not copied.
        c.client.dropped += len as u64;
        return Ok((fed.used, fed.used < piece.len()));
    }
    let payload: Bytes = match fed.payload.as_slice() {
        [] => Bytes::new(),
        [one] => Bytes::copy_from_slice(&piece[one.clone()]),
        many => {
            let mut all = Vec::with_capacity(many.iter().map(|r| r.len()).sum());
            for r in many {
                all.extend_from_slice(&piece[r.clone()]);
            }
            all.into()
        }
    };
    if !payload.is_empty() {
        let t = c.ms_since_arrival();
        c.keep_client_frame(t, payload);
    }
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

/// Finishes a call exactly once; a call dropped unfinished (its server thread stopped
/// at the drain deadline) is marked interrupted.
struct Finisher<'a> {
    recorder: &'a Recorder,
    handle: CallHandle,
    done: bool,
}

impl Finisher<'_> {
    fn finish(&mut self, outcome: Outcome, error: Option<String>) {
        if !self.done {
            self.done = true;
            self.recorder.finish(&self.handle, outcome, error);
        }
    }
}

impl Drop for Finisher<'_> {
    fn drop(&mut self) {
        self.finish(Outcome::Interrupted, Some("the recorder was stopped while this call was in flight".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_upstreams_and_their_prefix() {
        let u = PlainUpstream::of("http://127.0.0.1:8000").unwrap();
        assert_eq!(
            (u.connect_to.as_str(), u.host.as_str(), u.prefix.as_str()),
            ("127.0.0.1:8000", "127.0.0.1:8000", "")
        );
        let u = PlainUpstream::of("http://gpu/openai").unwrap();
        assert_eq!((u.connect_to.as_str(), u.host.as_str(), u.prefix.as_str()), ("gpu:80", "gpu", "/openai"));
        let u = PlainUpstream::of("http://[::1]:9000").unwrap();
        assert_eq!(u.connect_to, "[::1]:9000");
        assert!(PlainUpstream::of("https://api.anthropic.com").is_none());
    }
}
