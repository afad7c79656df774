//! `asb record`: a proxy between an agent and its LLM endpoint that writes every call —
//! request, response, stream events with their timing, usage — to a recording, and loses
//! none: a call that fails, is cut, or whose client goes away is written all the same.
//!
//! * [`config`] — flags and the effective upstream;
//! * [`passthrough`] — the hand-written HTTP/1.1 fast path for calls forwarded byte for
//!   byte to a plain-HTTP upstream;
//! * [`proxy`] — routing, passthrough and translation for everything else (through hyper);
//! * [`tee`] / [`translate_stream`] — the response bodies that stream to the client while
//!   recording;
//! * [`upstream`] — the connections to the upstream, read by those bodies themselves;
//! * [`capture`] — a call in flight, and its line once it ends;
//! * [`headers`] — which headers pass, and which never reach the disk (agent threads:
//!   [`crate::recording::thread`]; TLS and sockets: [`crate::wire::client`]).

pub mod capture;
pub mod config;
pub mod headers;
pub mod passthrough;
pub mod proxy;
pub mod tee;
pub mod translate_stream;
pub mod upstream;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rand::RngExt;

pub use config::RecordArgs;

use capture::Recorder;
use config::Upstream;
use passthrough::{Passthrough, PlainPool, PlainUpstream};
use proxy::Proxy;

use crate::recording::writer::{RecordingWriter, Secrets};
use crate::wire::server::{self, PerCore, Shutdown};
use crate::wire::Api;

/// `asb record`: proxy and record until Ctrl+C, then print a summary.
///
/// The proxy runs one single-threaded runtime per core, each on its own socket of the
/// same port ([`crate::wire::server`]): a stream's frames never hop between threads.
pub async fn run(args: RecordArgs) -> Result<()> {
    let listener = server::bind("asb record", args.host, args.port)?;
    let session = Arc::new(Session::open(&args)?);
    let recorder = Arc::clone(&session.recorder);
    print_banner(&session.upstream, &args, listener.local_addr());

    let shutdown = Shutdown {
        drain: Duration::from_secs(args.drain_timeout),
        // Calls still open are marked before a runtime drops them (which would otherwise
        // read as clients hanging up). All threads share the deadline.
        on_cut: {
            let recorder = Arc::clone(&recorder);
            Arc::new(move || recorder.interrupt_all())
        },
    };
    let header_timeout = Duration::from_secs(args.upstream_timeout);
    let server = PerCore::start("asb-record", listener, shutdown, args.timeouts, move || {
        let proxy = session.proxy(header_timeout)?;
        let front = Passthrough(Arc::clone(&proxy));
        Ok((front, move |req| proxy::handle(Arc::clone(&proxy), req)))
    })?;

    tokio::signal::ctrl_c().await?;
    server.stop();
    let waiting = recorder.in_flight();
    if waiting > 0 {
        eprintln!(
            "\nasb record: stopped accepting; {waiting} call(s) in flight, waiting up to {} s (Ctrl+C again to stop now)",
            args.drain_timeout
        );
    }
    let joined = tokio::task::spawn_blocking(move || server.join("asb record"));
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

    /// A proxy for the calling thread's runtime (its connection pool lives there; call it
    /// from inside that runtime).
    pub fn proxy(&self, header_timeout: Duration) -> Result<Arc<Proxy>> {
        // A timer always due before any call's header timeout: arming that timeout then
        // never brings the runtime's next wake-up forward, which costs a wake-up of its
        // driver (an eventfd write and one more epoll_wait) per call.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(header_timeout).await;
            }
        });
        Ok(Arc::new(Proxy {
            connections: Arc::new(upstream::UpstreamPool::new()?),
            // An endpoint with a query (`?api-version=…`) goes through hyper's side, whose
            // URLs carry it (`Upstream::url`); the hand-written passthrough's do not yet.
            plain: self.upstream.query.is_none().then(|| PlainUpstream::of(&self.upstream.base)).flatten(),
            plain_pool: PlainPool::default(),
            upstream: self.upstream.clone(),
            recorder: Arc::clone(&self.recorder),
            secrets: self.secrets.clone(),
            header_timeout,
        }))
    }
}

fn print_banner(upstream: &Upstream, args: &RecordArgs, addr: std::net::SocketAddr) {
    let url = format!("http://{addr}");
    println!("asb record: listening on {url}");
    match upstream.api {
        Api::OpenAi => println!(
            "  upstream: {} (OpenAI-compatible; Anthropic calls are translated to Chat Completions for model {})",
            upstream.url(""),
            upstream.model
        ),
        Api::Anthropic => println!("  upstream: {} (Anthropic; calls are forwarded byte for byte)", upstream.url("")),
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
