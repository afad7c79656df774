//! `asb record`: a proxy between an agent and its LLM endpoint that writes every call —
//! request, response, stream events with their timing, usage — to a recording, and loses
//! none: a call that fails, is cut, or whose client goes away is written all the same.
//!
//! * [`config`] — flags and the effective upstream;
//! * [`proxy`] — routing, passthrough and translation;
//! * [`tee`] / [`translate_stream`] — the response bodies that stream to the client while
//!   recording;
//! * [`capture`] — a call in flight, and its line once it ends;
//! * [`headers`], [`thread`], [`upstream`] — header rules, agent threads, the HTTP client.

pub mod capture;
pub mod config;
pub mod headers;
pub mod proxy;
pub mod tee;
pub mod thread;
pub mod translate_stream;
pub mod upstream;

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

pub use config::RecordArgs;

use capture::Recorder;
use config::Upstream;
use proxy::Proxy;

use crate::recording::writer::{RecordingWriter, Secrets};
use crate::wire::Api;

/// `asb record`: proxy and record until Ctrl+C, then print a summary.
pub async fn run(args: RecordArgs) -> Result<()> {
    let upstream = Upstream::from_args(&args)?;
    let secrets = Secrets::default();
    if let Some(key) = &args.api_key {
        secrets.add(key);
    }
    let listener = TcpListener::bind((args.host, args.port)).await.map_err(|e| {
        anyhow!("cannot listen on {}:{} ({e}); stop the other process or pass a different --port", args.host, args.port)
    })?;
    let addr = listener.local_addr()?;
    let writer = RecordingWriter::open(&args.output, secrets.clone())?;
    let experiment_id: String = {
        let mut rng = rand::rng();
        (0..12).map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0')).collect()
    };
    let recorder = Arc::new(Recorder::new(writer, experiment_id));
    let proxy = Arc::new(Proxy {
        client: upstream::client()?,
        upstream,
        recorder: Arc::clone(&recorder),
        secrets,
        header_timeout: Duration::from_secs(args.upstream_timeout),
    });
    print_banner(&proxy.upstream, &args, addr);

    let graceful = GracefulShutdown::new();
    let server = auto::Builder::new(TokioExecutor::new());
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let proxy = Arc::clone(&proxy);
                let service = service_fn(move |req| proxy::handle(Arc::clone(&proxy), req));
                let conn = server.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let waiting = recorder.in_flight();
    if waiting > 0 {
        eprintln!(
            "\nasb record: stopped accepting; {waiting} call(s) in flight, waiting up to {} s (Ctrl+C again to stop now)",
            args.drain_timeout
        );
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(args.drain_timeout)) => {}
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
