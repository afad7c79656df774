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

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Result};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::prefixed::Prefixed;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body the servers send.
pub type ServerBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body sent in one piece.
pub fn full(bytes: Bytes) -> ServerBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

/// What a serving thread does with a connection before hyper (if ever) sees it.
pub trait Front: Clone + Send + 'static {
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
pub struct HyperOnly;

impl Front for HyperOnly {
    #[allow(clippy::manual_async_fn)]
    fn take(self, stream: TcpStream, _: watch::Receiver<bool>) -> impl Future<Output = Option<Prefixed>> + Send {
        async move { Some(Prefixed::new(Bytes::new(), stream)) }
    }
}

/// One listening socket per serving thread, all on the same address.
pub struct Listeners {
    addr: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
}

impl Listeners {
    pub fn local_addr(&self) -> SocketAddr {
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
pub fn bind(what: &str, host: IpAddr, port: u16) -> Result<Listeners> {
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
pub struct PerCore {
    threads: Vec<JoinHandle<Result<()>>>,
    stop: watch::Sender<bool>,
    cut: Cut,
}

/// Ends a server's drain at once (a second Ctrl+C): the requests still in flight are cut
/// (after [`Shutdown::on_cut`]) and their connections closed.
#[derive(Clone)]
pub struct Cut(Arc<watch::Sender<bool>>);

impl Cut {
    pub fn now(&self) {
        let _ = self.0.send(true);
    }
}

/// What a server does besides answering: how long a stop waits for requests in flight,
/// and what runs on a thread whose requests did not finish in that time (before its
/// runtime drops them).
pub struct Shutdown {
    pub drain: Duration,
    pub on_cut: Arc<dyn Fn() + Send + Sync>,
}

impl PerCore {
    /// Starts one thread per socket of `listeners` named `name-N`, each accepting on its own.
    /// `handler` is called once on each thread, in its runtime (so what it builds, e.g. a
    /// connection pool, lives there), and gives that thread's [`Front`] and the function
    /// answering the requests hyper reads.
    pub fn start<M, H, F, R>(name: &str, listeners: Listeners, shutdown: Shutdown, handler: M) -> Result<Self>
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
                // Signals are the main thread's: a driver for them here would be polled for nothing.
                let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
                runtime.block_on(accept_loop(listener, &*handler, &shutdown, stop_rx, cut_rx))
            })?;
            threads.push(thread);
        }
        Ok(PerCore { threads, stop, cut: Cut(Arc::new(cut)) })
    }

    /// What ends the drain at once, usable while [`Self::join`] waits.
    pub fn cut(&self) -> Cut {
        self.cut.clone()
    }

    /// Stops accepting; requests in flight go on (up to the drain time).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits for every thread to finish its requests (after [`Self::stop`]); a thread's
    /// error is printed under `what`.
    pub fn join(self, what: &str) {
        for thread in self.threads {
            match thread.join() {
                Ok(Err(e)) => eprintln!("{what}: {e:#}"),
                Err(_) => eprintln!("{what}: a server thread panicked"),
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
                    let conn = server.serve_connection(TokioIo::new(rest), service_fn(handle)).into_owned();
                    let _ = watcher.watch(conn).await;
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
