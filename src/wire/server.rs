//! The HTTP server loop `asb record` and `asb serve` share, run like nginx with
//! `reuseport`: one single-threaded tokio runtime per core, each accepting on its own
//! socket bound to the same port (`SO_REUSEPORT`), the kernel spreading new connections
//! evenly between them.
//!
//! Why not one multi-threaded runtime: a connection accepted by one thread stays on it, so a
//! request, its answer and every streamed frame are handled without a wake-up crossing
//! threads (measured: ≈ 3 µs less per small call on loopback, and a p99 of streamed events
//! that no longer depends on which thread the scheduler picked), while the cores still
//! share the connections between them.
//!
//! Why not one socket shared by the threads: every thread then wakes for a new connection
//! and the one already running takes it, usually all of a burst (measured: 64 connections
//! opened together, 80–100 % on one of two threads), so that thread answers the burst's
//! requests one after the other while the other idles.
//!
//! Each connection first meets the server's [`Front`]: `asb record` reads requests there
//! and forwards the ones its hand-written passthrough takes, and gives the connection to
//! hyper at the first one it does not ([`crate::record::passthrough`]); `asb serve` gives
//! every connection to hyper at once ([`HyperOnly`]).
//!
//! Every connection is bounded in time ([`ConnTimeouts`], the `--header-timeout`,
//! `--idle-timeout` and `--body-timeout` flags), as nginx's `client_header_timeout`,
//! `keepalive_timeout` and `client_body_timeout`: a new connection's first request head
//! must arrive whole within the header timeout, a kept-alive connection is closed after the
//! idle timeout without a request, a later head must be whole within the header timeout of
//! its first byte, and a request body that stops arriving for the body timeout is cut
//! ([`read_body`]). `asb mock` serves its connections with the same guard ([`serve_guarded`]).

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Result};
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::prefixed::Prefixed;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body the servers send.
pub(crate) type ServerBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body sent in one piece.
pub(crate) fn full(bytes: Bytes) -> ServerBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

/// What a serving thread does with a connection before hyper (if ever) sees it.
pub(crate) trait Front: Clone + Send + 'static {
    /// Serves what it can of `stream`; returns it, with any bytes read but not used, when
    /// the rest is hyper's to serve. `stopping` turns true when the server stops: a
    /// connection between requests is then closed.
    fn take(
        self,
        stream: TcpStream,
        stopping: watch::Receiver<bool>,
    ) -> impl Future<Output = Option<Prefixed>> + Send + 'static;
}

/// Every connection goes straight to hyper.
#[derive(Clone)]
pub(crate) struct HyperOnly;

impl Front for HyperOnly {
    #[allow(clippy::manual_async_fn)]
    fn take(self, stream: TcpStream, _: watch::Receiver<bool>) -> impl Future<Output = Option<Prefixed>> + Send {
        async move { Some(Prefixed::new(Bytes::new(), stream)) }
    }
}

/// One listening socket per serving thread, all on the same address.
pub(crate) struct Listeners {
    addr: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
}

impl Listeners {
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// How many serving threads: one per core, at most 8.
fn thread_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

/// Binds `host:port` (port 0: any free one), one socket per serving thread; `what` names
/// the command in the error.
///
/// A port already in use is an error, even when its owner also set `SO_REUSEPORT` (another
/// `asb` on the same port would otherwise silently share its connections): the port is
/// first bound alone, then released and bound again by the threads' sockets.
pub(crate) fn bind(what: &str, host: IpAddr, port: u16) -> Result<Listeners> {
    let in_use = |e: std::io::Error| {
        anyhow!("{what}: cannot listen on {host}:{port} ({e}); stop the other process or pass a different --port")
    };
    let addr = std::net::TcpListener::bind((host, port)).and_then(|alone| alone.local_addr()).map_err(in_use)?;
    let sockets =
        (0..thread_count()).map(|_| reuseport_listener(addr)).collect::<std::io::Result<_>>().map_err(in_use)?;
    Ok(Listeners { addr, sockets })
}

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The accepting threads of one server, stopped together.
pub(crate) struct PerCore {
    threads: Vec<JoinHandle<Result<()>>>,
    stop: watch::Sender<bool>,
    cut: Cut,
}

/// Ends a server's drain at once (a second Ctrl+C): the requests still in flight are cut
/// (after [`Shutdown::on_cut`]) and their connections closed.
#[derive(Clone)]
pub(crate) struct Cut(Arc<watch::Sender<bool>>);

impl Cut {
    pub(crate) fn now(&self) {
        let _ = self.0.send(true);
    }
}

/// What a server does besides answering: how long a stop waits for requests in flight,
/// and what runs on a thread whose requests did not finish in that time (before its
/// runtime drops them).
pub(crate) struct Shutdown {
    pub drain: Duration,
    pub on_cut: Arc<dyn Fn() + Send + Sync>,
}

impl PerCore {
    /// Starts one thread per socket of `listeners` named `name-N`, each accepting on its own.
    /// `handler` is called once on each thread, in its runtime (so what it builds, e.g. a
    /// connection pool, lives there), and gives that thread's [`Front`] and the function
    /// answering the requests hyper reads.
    /// Every connection is bounded by `timeouts`.
    pub(crate) fn start<M, H, F, R>(
        name: &str,
        listeners: Listeners,
        shutdown: Shutdown,
        timeouts: ConnTimeouts,
        handler: M,
    ) -> Result<Self>
    where
        M: Fn() -> Result<(R, H)> + Send + Sync + 'static,
        R: Front,
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response<ServerBody>, Infallible>> + Send + 'static,
    {
        let (stop, stop_rx) = watch::channel(false);
        let (cut, cut_rx) = watch::channel(false);
        let handler = Arc::new(handler);
        let shutdown = Arc::new(shutdown);
        let mut threads = Vec::with_capacity(listeners.sockets.len());
        for (i, listener) in listeners.sockets.into_iter().enumerate() {
            let (handler, shutdown, stop_rx, cut_rx) =
                (Arc::clone(&handler), Arc::clone(&shutdown), stop_rx.clone(), cut_rx.clone());
            let thread = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                THREAD_TIMEOUTS.with(|t| t.set(timeouts));
                // Signals are the main thread's: a driver for them here would be polled for nothing.
                let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
                runtime.block_on(accept_loop(listener, &*handler, &shutdown, stop_rx, cut_rx))
            })?;
            threads.push(thread);
        }
        Ok(PerCore { threads, stop, cut: Cut(Arc::new(cut)) })
    }

    /// What ends the drain at once, usable while [`Self::join`] waits.
    pub(crate) fn cut(&self) -> Cut {
        self.cut.clone()
    }

    /// Stops accepting; requests in flight go on (up to the drain time).
    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits for every thread to finish its requests (after [`Self::stop`]); a thread's
    /// error is printed under `what`.
    pub(crate) fn join(self, what: &str) {
        for thread in self.threads {
            match thread.join() {
                Ok(Err(e)) => crate::errors::print(what, format_args!("{e:#}")),
                Err(_) => crate::errors::print(what, "a server thread panicked"),
                Ok(Ok(())) => {}
            }
        }
    }
}

async fn accept_loop<M, H, F, R>(
    listener: std::net::TcpListener,
    handler: &M,
    shutdown: &Shutdown,
    mut stop: watch::Receiver<bool>,
    mut cut: watch::Receiver<bool>,
) -> Result<()>
where
    M: Fn() -> Result<(R, H)>,
    R: Front,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<ServerBody>, Infallible>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let (front, handle) = handler()?;
    // Every connection's task holds a watcher, so the shutdown below waits for the ones
    // still in the front as well as those hyper serves.
    let graceful = GracefulShutdown::new();
    let server = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let (front, handle, server, watcher) = (front.clone(), handle.clone(), Arc::clone(&server), graceful.watcher());
                let stopping = stop.clone();
                tokio::spawn(async move {
                    let Some(rest) = front.take(stream, stopping).await else { return };
                    serve_guarded(&server, rest, timeouts(), handle, watcher).await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(shutdown.drain) => (shutdown.on_cut)(),
        _ = cut.wait_for(|now| *now) => (shutdown.on_cut)(),
    }
    Ok(())
}

/// How long a connection may take over each part of a request (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, clap::Args)]
pub(crate) struct ConnTimeouts {
    /// Seconds a client has to send a whole request head: a new connection's first from the
    /// connection's start, a kept-alive connection's next from its first byte (a client
    /// sending nothing, or a head byte by byte, is cut then).
    #[arg(long = "header-timeout", value_name = "SECS", default_value = "20", value_parser = parse_timeout)]
    pub header: Duration,
    /// Seconds a kept-alive connection may wait for its next request after an answer
    /// before it is closed.
    #[arg(long = "idle-timeout", value_name = "SECS", default_value = "90", value_parser = parse_timeout)]
    pub idle: Duration,
    /// Seconds a request body may stop arriving before the request is cut (408).
    #[arg(long = "body-timeout", value_name = "SECS", default_value = "30", value_parser = parse_timeout)]
    pub body: Duration,
}

impl Default for ConnTimeouts {
    fn default() -> Self {
        ConnTimeouts { header: Duration::from_secs(20), idle: Duration::from_secs(90), body: Duration::from_secs(30) }
    }
}

/// The longest timeout accepted: one day.
const MAX_TIMEOUT_S: f64 = 86_400.0;

/// A timeout flag: seconds, fractions allowed, more than 0 and at most a day.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= MAX_TIMEOUT_S => {
            Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
        }
        _ => Err(format!("expected seconds, more than 0 and at most {MAX_TIMEOUT_S} (a day), got {s:?}")),
    }
}

/// The largest request body the servers read: 64 MiB (Anthropic's own limit is 32 MB).
pub(crate) const MAX_REQUEST_BODY: usize = 64 << 20;

/// Why a request body could not be read, with the status it is answered with.
#[derive(Debug)]
pub(crate) struct BodyError {
    pub status: u16,
    pub message: String,
}

/// Reads a whole request body: at most `max` bytes (413 beyond; the servers' default is
/// [`MAX_REQUEST_BODY`]), and cut (408) when no byte of it arrives for `stall` (a client
/// that declared a length and stopped sending). A body that came in one piece is taken as
/// it is, with no copy.
pub(crate) async fn read_body<B>(mut body: B, stall: Duration, max: usize) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let too_large = |n: u64| BodyError {
        status: 413,
        message: format!("the request body ({n} bytes or more) is larger than the {max} bytes accepted"),
    };
    if body.size_hint().lower() > max as u64 {
        return Err(too_large(body.size_hint().lower()));
    }
    let mut parts: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    loop {
        let frame = match tokio::time::timeout(stall, body.frame()).await {
            Err(_) => {
                return Err(BodyError {
                    status: 408,
                    message: format!(
                        "the request body stopped arriving for {} s (--body-timeout) after {total} bytes",
                        stall.as_secs_f64()
                    ),
                })
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(BodyError { status: 400, message: format!("cannot read the request body: {e}") })
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        total += data.len();
        if total > max {
            return Err(too_large(total as u64));
        }
        parts.push(data);
        if body.is_end_stream() {
            break;
        }
    }
    Ok(match parts.len() {
        0 => Bytes::new(),
        1 => parts.pop().unwrap_or_default(),
        _ => Bytes::from(parts.concat()),
    })
}

thread_local! {
    /// The timeouts of the server whose thread this is (set by [`PerCore::start`]).
    static THREAD_TIMEOUTS: Cell<ConnTimeouts> = Cell::new(ConnTimeouts::default());
}

/// The timeouts of the server running on this thread (defaults off a server thread).
pub(crate) fn timeouts() -> ConnTimeouts {
    THREAD_TIMEOUTS.with(Cell::get)
}

fn timed_out(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}

/// For a [`Front`] that reads request heads itself: bounds the wait for one head with the
/// thread's timeouts. One per head: [`HeadTimer::new_connection`] for a connection's first
/// (its whole head is due within the header timeout of the accept), then
/// [`HeadTimer::after_answer`] for each next one (nothing due for the idle timeout; once
/// bytes are there, the rest within the header timeout of the first read that saw them).
/// Read through [`HeadTimer::read`]; a read past its deadline gives a `TimedOut` error.
pub(crate) struct HeadTimer {
    since: Instant,
    head_since: Option<Instant>,
    limits: ConnTimeouts,
}

impl HeadTimer {
    pub(crate) fn new_connection() -> Self {
        let now = Instant::now();
        HeadTimer { since: now, head_since: Some(now), limits: timeouts() }
    }

    pub(crate) fn after_answer() -> Self {
        HeadTimer { since: Instant::now(), head_since: None, limits: timeouts() }
    }

    pub(crate) async fn read<F: Future<Output = io::Result<usize>>>(
        &mut self,
        empty: bool,
        read: F,
    ) -> io::Result<usize> {
        let (deadline, what) = if empty && self.head_since.is_none() {
            (self.since + self.limits.idle, "no request within --idle-timeout")
        } else {
            (
                *self.head_since.get_or_insert_with(Instant::now) + self.limits.header,
                "request head not whole within --header-timeout",
            )
        };
        tokio::time::timeout_at(deadline, read).await.unwrap_or_else(|_| Err(timed_out(what.to_string())))
    }
}

/// For a [`Front`] reading a request body itself: one read, cut (`TimedOut`) when nothing
/// arrives within the thread's body timeout.
pub(crate) async fn body_read<F: Future<Output = io::Result<usize>>>(read: F) -> io::Result<usize> {
    tokio::time::timeout(timeouts().body, read)
        .await
        .unwrap_or_else(|_| Err(timed_out("request body stalled past --body-timeout".to_string())))
}

/// What a connection's request side tells its [`Guarded`] reader: how many requests are
/// being answered (no deadline then), and how many were answered so far.
#[derive(Default)]
struct Activity {
    in_flight: AtomicU32,
    answered: AtomicU32,
}

/// One request being answered, from the call of the service until its answer's body is
/// sent or dropped (or the request is given up before an answer).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.answered.fetch_add(1, Ordering::AcqRel);
    }
}

/// A connection's bytes with the idle and header deadlines: a read waiting past them
/// fails with `TimedOut` and hyper closes the connection. While a request is being
/// answered no deadline runs here (its body is bounded by [`read_body`], its answer by
/// the handler). An HTTP/2 connection (prior knowledge) reads frames at any time: only the
/// idle deadline applies to it, from its start or its last answer while none is in flight.
pub(crate) struct Guarded<IO> {
    io: IO,
    limits: ConnTimeouts,
    activity: Arc<Activity>,
    seen_answered: u32,
    idle_since: Instant,
    head_since: Option<Instant>,
    first_read: bool,
    http2: bool,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<IO> Guarded<IO> {
    /// A connection just accepted (or just handed over by a [`Front`] with a head to
    /// serve): its first request head is due within the header timeout.
    fn new(io: IO, limits: ConnTimeouts, activity: Arc<Activity>) -> Self {
        let now = Instant::now();
        Guarded {
            io,
            limits,
            activity,
            seen_answered: 0,
            idle_since: now,
            head_since: Some(now),
            first_read: true,
            http2: false,
            timer: None,
        }
    }

    /// Whether a request is being answered; a new answer since last time starts an idle wait.
    fn busy(&mut self) -> bool {
        let answered = self.activity.answered.load(Ordering::Acquire);
        if answered != self.seen_answered {
            self.seen_answered = answered;
            self.idle_since = Instant::now();
            self.head_since = None;
        }
        self.activity.in_flight.load(Ordering::Acquire) > 0
    }

    fn on_bytes(&mut self, got: &[u8]) {
        if std::mem::take(&mut self.first_read) && got.starts_with(b"PRI * HTTP/2") {
            self.http2 = true;
            self.head_since = None;
        }
        if !self.http2 && !self.busy() && self.head_since.is_none() {
            self.head_since = Some(Instant::now());
        }
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.busy() {
            return Poll::Pending;
        }
        let (deadline, what) = match self.head_since {
            Some(t) => (t + self.limits.header, "request head not whole within --header-timeout"),
            None => (self.idle_since + self.limits.idle, "no request within --idle-timeout"),
        };
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out(what.to_string()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.on_bytes(&buf.filled()[before..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.poll_deadline(cx),
            failed => failed,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// An answer's body that tells the connection's [`Guarded`] reader when it is done
/// (sent or dropped): the connection is then waiting for its next request.
pub(crate) struct Answered<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for Answered<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serves one connection with hyper under `limits` (see [`Guarded`]); `handle` answers
/// its requests. Ends when the connection does, or when `watcher`'s shutdown closes it.
pub(crate) async fn serve_guarded<IO, H, F, B, E>(
    server: &auto::Builder<TokioExecutor>,
    io: IO,
    limits: ConnTimeouts,
    handle: H,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Send + 'static,
    F: Future<Output = Result<Response<B>, E>> + Send + 'static,
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    E: Into<BoxError>,
{
    let activity = Arc::new(Activity::default());
    let io = Guarded::new(io, limits, Arc::clone(&activity));
    let service = service_fn(move |req| {
        let in_flight = InFlight::new(&activity);
        let answer = handle(req);
        async move { answer.await.map(|resp| resp.map(|body| Answered { body, _in_flight: in_flight })) }
    });
    let conn = server.serve_connection(TokioIo::new(io), service).into_owned();
    let _ = watcher.watch(conn).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use http_body_util::StreamBody;

    #[test]
    fn timeouts_are_seconds_up_to_a_day() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("86400"), Ok(Duration::from_secs(86_400)));
        for bad in ["0", "-1", "NaN", "inf", "1e300", "86401", "soon"] {
            let e = parse_timeout(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    fn body_of(parts: &[&'static str], then_stall: bool) -> impl Body<Data = Bytes, Error = Infallible> + Unpin {
        let frames = futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok::<_, Infallible>(Frame::data(Bytes::from_static(p.as_bytes()))))
                .collect::<Vec<_>>(),
        );
        let tail = if then_stall {
            futures_util::stream::pending().left_stream()
        } else {
            futures_util::stream::empty().right_stream()
        };
        StreamBody::new(frames.chain(tail))
    }

    #[tokio::test]
    async fn a_body_is_read_whole_or_cut_when_it_stalls() {
        let stall = Duration::from_millis(50);
        assert_eq!(
            read_body(body_of(&["ab", "cd"], false), stall, MAX_REQUEST_BODY).await.unwrap(),
            Bytes::from("abcd")
        );
        let e = read_body(body_of(&["ab"], true), stall, MAX_REQUEST_BODY).await.unwrap_err();
        assert_eq!(e.status, 408);
        assert!(e.message.contains("after 2 bytes") && e.message.contains("--body-timeout"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_body_larger_than_the_limit_is_refused() {
        let big: &'static str = Box::leak("x".repeat(MAX_REQUEST_BODY / 2 + 1).into_boxed_str());
        let e = read_body(body_of(&[big, big], false), Duration::from_secs(1), MAX_REQUEST_BODY).await.unwrap_err();
        assert_eq!(e.status, 413, "{}", e.message);
        assert!(read_body(Full::new(Bytes::from_static(b"x")), Duration::from_secs(1), MAX_REQUEST_BODY).await.is_ok());
    }
}
