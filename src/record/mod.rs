//! `asb record`: a proxy between an agent and its LLM endpoint that writes every call —
//! request, response, stream events with their timing, usage — to a recording, and loses
//! none: a call that fails, is cut, or whose client goes away is written all the same.
//!
//! * [`config`] — flags and the effective upstream;
//! * [`proxy`] — routing, passthrough and translation;
//! * [`tee`] / [`translate_stream`] — the response bodies that stream to the client while
//!   recording;
//! * [`capture`] — a call in flight, and its line once it ends;
//! * [`headers`] — which headers pass, and which never reach the disk (agent threads:
//!   [`crate::recording::thread`]; the HTTP client: [`crate::wire::client`]).

pub mod capture;
pub mod config;
pub mod headers;
pub mod proxy;
pub mod tee;
pub mod translate_stream;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rand::RngExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::RecordArgs;

use capture::Recorder;
use config::Upstream;
use proxy::Proxy;

use crate::recording::writer::{RecordingWriter, Secrets};
use crate::wire::Api;

/// `asb record`: proxy and record until Ctrl+C, then print a summary.
///
/// Like nginx, the proxy runs one single-threaded runtime per core, all accepting on the
/// same socket: a connection stays on the thread that accepted it, so a stream's frames
/// never hop between threads (no cross-thread wake-ups on the per-event path), and the
/// cores still share the load.
pub async fn run(args: RecordArgs) -> Result<()> {
    let listener = std::net::TcpListener::bind((args.host, args.port)).map_err(|e| {
        anyhow!("cannot listen on {}:{} ({e}); stop the other process or pass a different --port", args.host, args.port)
    })?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let session = Arc::new(Session::open(&args)?);
    let recorder = Arc::clone(&session.recorder);
    print_banner(&session.upstream, &args, addr);

    let (stop_tx, stop_rx) = watch::channel(false);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads {
        let worker = Worker {
            listener: listener.try_clone()?,
            session: Arc::clone(&session),
            header_timeout: Duration::from_secs(args.upstream_timeout),
            drain: Duration::from_secs(args.drain_timeout),
            stop: stop_rx.clone(),
        };
        workers.push(std::thread::Builder::new().name(format!("asb-record-{i}")).spawn(move || worker.run())?);
    }
    drop(listener);

    tokio::signal::ctrl_c().await?;
    let _ = stop_tx.send(true);
    let waiting = recorder.in_flight();
    if waiting > 0 {
        eprintln!(
            "\nasb record: stopped accepting; {waiting} call(s) in flight, waiting up to {} s (Ctrl+C again to stop now)",
            args.drain_timeout
        );
    }
    let joined = tokio::task::spawn_blocking(move || {
        for w in workers {
            if let Ok(Err(e)) = w.join() {
                eprintln!("asb record: {e:#}");
            }
        }
    });
    tokio::select! {
        _ = joined => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    recorder.interrupt_all();
    let stats = recorder.writer.close()?;
    let t = &recorder.totals;
    eprintln!(
        "\nasb record: {} call(s) recorded ({} failed or interrupted), {} input + {} output tokens, {} lines to {}",
        t.calls.load(Ordering::Relaxed),
        t.errors.load(Ordering::Relaxed),
        t.input_tokens.load(Ordering::Relaxed),
        t.output_tokens.load(Ordering::Relaxed),
        stats.lines,
        args.output.display()
    );
    Ok(())
}

/// What recording needs besides a listener: the upstream, the recorder writing to the
/// output file, and the secrets it scrubs. `asb serve` opens one to record its misses.
pub struct Session {
    pub upstream: Upstream,
    pub recorder: Arc<Recorder>,
    pub secrets: Secrets,
}

impl Session {
    pub fn open(args: &RecordArgs) -> Result<Self> {
        let upstream = Upstream::from_args(args)?;
        let secrets = Secrets::default();
        if let Some(key) = &args.api_key {
            secrets.add(key);
        }
        let writer = RecordingWriter::open(&args.output, secrets.clone())?;
        let experiment_id: String = {
            let mut rng = rand::rng();
            (0..12).map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0')).collect()
        };
        Ok(Session { upstream, recorder: Arc::new(Recorder::new(writer, experiment_id)), secrets })
    }

    /// A proxy for the calling thread's runtime (its connection pool lives there).
    pub fn proxy(&self, header_timeout: Duration) -> Result<Arc<Proxy>> {
        Ok(Arc::new(Proxy {
            client: crate::wire::client::client()?,
            upstream: self.upstream.clone(),
            recorder: Arc::clone(&self.recorder),
            secrets: self.secrets.clone(),
            header_timeout,
        }))
    }
}

/// One proxy thread: its own runtime and upstream connection pool, the shared socket.
struct Worker {
    listener: std::net::TcpListener,
    session: Arc<Session>,
    header_timeout: Duration,
    drain: Duration,
    stop: watch::Receiver<bool>,
}

impl Worker {
    fn run(self) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(self.serve())
    }

    async fn serve(mut self) -> Result<()> {
        let listener = TcpListener::from_std(self.listener)?;
        let proxy = self.session.proxy(self.header_timeout)?;
        let graceful = GracefulShutdown::new();
        let server = auto::Builder::new(TokioExecutor::new());
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let proxy = Arc::clone(&proxy);
                    let service = service_fn(move |req| proxy::handle(Arc::clone(&proxy), req));
                    let conn = graceful.watch(server.serve_connection(TokioIo::new(stream), service).into_owned());
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                _ = self.stop.changed() => break,
            }
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(self.drain) => {
                // Calls still open are marked before this runtime drops them (which would
                // otherwise read as clients hanging up). All workers share the deadline.
                proxy.recorder.interrupt_all();
            }
        }
        Ok(())
    }
}

fn print_banner(upstream: &Upstream, args: &RecordArgs, addr: std::net::SocketAddr) {
    let url = format!("http://{addr}");
    println!("asb record: listening on {url}");
    match upstream.api {
        Api::OpenAi => println!(
            "  upstream: {} (OpenAI-compatible; Anthropic calls are translated to Chat Completions for model {})",
            upstream.base, upstream.model
        ),
        Api::Anthropic => println!("  upstream: {} (Anthropic; calls are forwarded byte for byte)", upstream.base),
    }
    if let Some((header, _)) = &upstream.auth {
        println!("  credentials: -k sent as `{header}` (never written to the recording)");
    } else {
        println!("  credentials: the client's own (never written to the recording)");
    }
    println!("  recording to: {} (appending)", args.output.display());
    println!("Point your agent at it:");
    println!("  ANTHROPIC_BASE_URL={url} claude");
    println!("  OPENAI_BASE_URL={url}/v1   (OpenAI SDK agents; their calls are forwarded byte for byte)");
    println!("Stop with Ctrl+C: calls in flight are finished or marked, then a summary is printed.");
}
