//! `asb record`: a proxy between an agent and its LLM endpoint that writes every call —
//! request, response, stream events with their timing, usage — to a recording, and loses
//! none: a call that fails, is cut, or whose client goes away is written all the same.
//!
//! * [`config`] — flags and the effective upstream;
//! * [`front`] — each connection's first reader: the calls forwarded byte for byte to a
//!   plain-HTTP upstream go to [`passthrough`], the hand-written HTTP/1.1 fast path
//!   (its connections: [`plain_upstream`]); the rest to hyper;
//! * [`proxy`] — routing, passthrough and translation for everything else (through hyper);
//! * [`tee`] / [`translate_stream`] — the response bodies that stream to the client while
//!   recording;
//! * [`upstream`] — hyper's connections to the upstream, read by those bodies themselves;
//! * [`pool`] — the idle connections both kinds keep;
//! * [`lifecycle`] — a call's guard, which ends it exactly once with a typed [`ending`]
//!   (the one table of what each ending records);
//! * [`capture`] — a call in flight, and its line once it ends;
//! * [`call_log`] — a line per recorded call on stderr;
//! * [`headers`] — which headers pass, and which never reach the disk (agent threads:
//!   [`crate::recording::thread`]; TLS and sockets: [`crate::wire::client`]);
//! * this file — the command, the [`Session`] it records in, and [`Recorder`]: the one way
//!   into record from another command (`asb serve`'s record modes).

pub(crate) mod call_log;
pub(crate) mod capture;
pub(crate) mod config;
pub(crate) mod ending;
pub(crate) mod front;
pub(crate) mod headers;
pub(crate) mod lifecycle;
pub(crate) mod passthrough;
pub(crate) mod plain_upstream;
pub(crate) mod pool;
pub(crate) mod proxy;
pub(crate) mod tee;
pub(crate) mod translate_stream;
pub(crate) mod upstream;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http::request::Parts;
use http::Response;
use rand::RngExt;

pub(crate) use config::{RecordArgs, RecordingFlags};

use config::Upstream;
use front::Passthrough;
use plain_upstream::PlainPool;
use proxy::Proxy;

use crate::flags::EndpointFlags;
use crate::recording::redact::{self, Secrets};
use crate::recording::redact_patterns::{RedactPattern, RedactPatterns};
use crate::recording::writer::{Durability, RecordingWriter};
use crate::signals::StopSignals;
use crate::wire::api::Route;
use crate::wire::endpoint::PlainEndpoint;
use crate::wire::server::{self, PerCore, ServerBody, Shutdown};
use crate::wire::Api;

/// `asb record`: proxy and record until Ctrl+C, then print a summary.
///
/// The proxy runs one single-threaded runtime per core, each on its own socket of the
/// same port ([`crate::wire::server`]): a stream's frames never hop between threads.
pub(crate) async fn run(args: RecordArgs) -> Result<()> {
    let listener = server::bind("asb record", args.listen.host, args.listen.port)?;
    let session = Arc::new(Session::open(&args.upstream, &args.output, &args.recording)?);
    let recorder = Arc::clone(&session.recorder);
    print_banner(&session.upstream, &args, listener.local_addr());
    if !args.no_upstream_check {
        tokio::spawn(check_upstream(session.upstream.clone()));
    }

    let shutdown = Shutdown {
        drain: Duration::from_secs(args.drain_timeout),
        // Calls still open are marked before a runtime drops them (which would otherwise
        // read as clients hanging up). All threads share the deadline.
        on_cut: {
            let recorder = Arc::clone(&recorder);
            Arc::new(move || recorder.interrupt_all())
        },
    };
    let header_timeout = Duration::from_secs(args.recording.upstream_timeout);
    let server = PerCore::start("asb-record", listener, shutdown, args.timeouts, move || {
        let proxy = session.proxy(header_timeout)?;
        let front = Passthrough(Arc::clone(&proxy));
        Ok((front, move |req| proxy::handle(Arc::clone(&proxy), req)))
    })?;

    let mut signals = StopSignals::new()?;
    let first = signals.next().await;
    server.stop();
    let waiting = recorder.in_flight();
    if waiting > 0 {
        eprintln!(
            "\nasb record: {first}: stopped accepting; {waiting} call(s) in flight, waiting up to {} s (Ctrl+C again to stop now)",
            args.drain_timeout
        );
    }
    let cut = server.cut();
    let mut joined = tokio::task::spawn_blocking(move || server.join("asb record"));
    tokio::select! {
        _ = &mut joined => {}
        again = signals.next() => {
            eprintln!("asb record: {again}: stopping now; calls still in flight are marked interrupted");
            cut.now();
            let _ = joined.await;
        }
    }
    recorder.interrupt_all();
    let stats = recorder.writer.close()?;
    let t = &recorder.totals;
    eprintln!(
        "\nasb record: {} call(s) recorded ({} failed or interrupted), {} input + {} output tokens, {} lines to {} \
         (each written within {:.1} ms of its call's end)",
        t.calls.load(Ordering::Relaxed),
        t.errors.load(Ordering::Relaxed),
        t.input_tokens.load(Ordering::Relaxed),
        t.output_tokens.load(Ordering::Relaxed),
        stats.lines,
        args.output.display(),
        stats.max_lag.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// Recording inside another command's server (`asb serve`'s record modes): the one way
/// into record from outside it. A session as `asb record` runs one, with record's own
/// defaults ([`RecordingFlags::default`]), so the caller repeats none of its settings;
/// each server thread records through its own [`ThreadRecorder`].
pub(crate) struct Recorder {
    session: Session,
    header_timeout: Duration,
}

impl Recorder {
    /// Records the calls it is handed to the upstream `flags` name, appending them to
    /// `output`, with `redact` (serve's `--redact`) applied to each line.
    pub(crate) fn open(flags: &EndpointFlags, output: &Path, redact: &[RedactPattern]) -> Result<Self> {
        let how = RecordingFlags { redact: redact.to_vec(), ..RecordingFlags::default() };
        let session = Session::open(flags, output, &how)?;
        Ok(Recorder { session, header_timeout: Duration::from_secs(how.upstream_timeout) })
    }

    /// Where calls go (safe to print).
    pub(crate) fn upstream_url(&self) -> String {
        self.session.upstream.url("")
    }

    /// The recorder for the calling thread's runtime (its upstream connections live on that
    /// thread; call it from inside that runtime).
    pub(crate) fn on_this_thread(&self) -> Result<ThreadRecorder> {
        Ok(ThreadRecorder(self.session.proxy(self.header_timeout)?))
    }

    /// Marks the calls being recorded as interrupted (before the server drops them).
    pub(crate) fn interrupt_all(&self) {
        self.session.recorder.interrupt_all();
    }

    /// Ends the recording: calls still open are marked, the file closed; the calls written.
    pub(crate) fn close(&self) -> Result<u64> {
        self.interrupt_all();
        Ok(self.session.recorder.writer.close()?.lines)
    }
}

/// A [`Recorder`] on one server thread.
#[derive(Clone)]
pub(crate) struct ThreadRecorder(Arc<Proxy>);

impl ThreadRecorder {
    /// Forwards a call (its body already read) to the upstream, recording it, as
    /// `asb record` would.
    pub(crate) async fn handle(&self, parts: Parts, body: Bytes, arrival: Instant) -> Response<ServerBody> {
        proxy::handle_buffered(&self.0, parts, body, arrival).await
    }
}

/// What recording needs besides a listener: the upstream, the recorder writing to the
/// output file, and the secrets it scrubs.
struct Session {
    upstream: Upstream,
    recorder: Arc<capture::Recorder>,
    secrets: Secrets,
    /// Largest request body forwarded (`--max-request-mib`).
    max_request_bytes: usize,
}

impl Session {
    /// The session recording calls to the upstream `flags` name into `output`, as `how`
    /// says.
    fn open(flags: &EndpointFlags, output: &Path, how: &RecordingFlags) -> Result<Self> {
        let upstream = Upstream::from_flags(flags)?;
        let secrets = Secrets::default();
        if let Some(key) = &flags.api_key {
            secrets.add(key);
        }
        // The endpoint's userinfo (as typed and decoded), and the header it becomes.
        redact::redact_urls(flags.endpoint()?, false, |s| secrets.add(s));
        if let Some((_, value)) = &upstream.auth {
            redact::credential_parts(value, |s| secrets.add(s));
        }
        let redact = RedactPatterns(how.redact.clone());
        let writer = RecordingWriter::open_with(output, secrets.clone(), Durability { fsync: how.fsync }, redact)?;
        let experiment_id: String = {
            let mut rng = rand::rng();
            (0..12).map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0')).collect()
        };
        let keep_limit = usize::try_from(how.max_response_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let call_log = if how.quiet { None } else { Some(call_log::CallLog::start()?) };
        let recorder = Arc::new(capture::Recorder::new(writer, secrets.clone(), experiment_id, keep_limit, call_log));
        let max_request_bytes = usize::try_from(how.max_request_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        Ok(Session { upstream, recorder, secrets, max_request_bytes })
    }

    /// A proxy for the calling thread's runtime (its connection pool lives there; call it
    /// from inside that runtime).
    fn proxy(&self, header_timeout: Duration) -> Result<Arc<Proxy>> {
        // A timer always due before any deadline a call arms (the upstream's header
        // timeout, the client connection's header, idle and body timeouts): arming one then
        // never brings the runtime's next wake-up forward, which costs a wake-up of its
        // driver (an eventfd write and one more epoll_wait) per call.
        let limits = server::timeouts();
        let period =
            [header_timeout, limits.header, limits.idle, limits.body].into_iter().min().unwrap_or(header_timeout);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
            }
        });
        Ok(Arc::new(Proxy {
            connections: Arc::new(upstream::UpstreamPool::new()?),
            // An endpoint with a query (`?api-version=…`) goes through hyper's side, whose
            // URLs carry it (`Upstream::url`); the hand-written passthrough's do not yet.
            plain: self.upstream.query.is_none().then(|| PlainEndpoint::of(&self.upstream.base)).flatten(),
            plain_pool: PlainPool::default(),
            upstream: self.upstream.clone(),
            recorder: Arc::clone(&self.recorder),
            secrets: self.secrets.clone(),
            header_timeout,
            max_request_bytes: self.max_request_bytes,
        }))
    }
}

/// Asks the upstream for its model list once at start, so that a wrong `-e` shows at once
/// rather than as the agent's first 502 (the proxy starts either way: an upstream may come
/// up later).
async fn check_upstream(upstream: Upstream) {
    let Ok(pool) = upstream::UpstreamPool::new().map(Arc::new) else { return };
    // What a forwarded call carries: -k's header (or the endpoint's userinfo as Basic auth).
    let headers = headers::upstream_request_headers(&http::HeaderMap::new(), upstream.auth.as_ref());
    let url = upstream.url(Route::Models.path());
    let started = std::time::Instant::now();
    let asked = pool.send(&http::Method::GET, &url, &headers, bytes::Bytes::new());
    match tokio::time::timeout(Duration::from_secs(5), asked).await {
        Ok(Ok(resp)) => {
            let status = resp.status().as_u16();
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let note = match status {
                401 | 403 if upstream.auth.is_none() => " (no -k: the agent's own key is forwarded)",
                401 | 403 => " (check -k / --api-key-header)",
                _ => "",
            };
            println!("  upstream check: GET /v1/models answered {status} in {ms:.0} ms{note}");
        }
        Ok(Err(e)) => eprintln!(
            "asb record: WARNING: the upstream does not answer ({e}); calls get a 502 until it does (check -e)"
        ),
        Err(_) => eprintln!("asb record: WARNING: the upstream sent no answer to GET /v1/models within 5 s (check -e)"),
    }
}

fn print_banner(upstream: &Upstream, args: &RecordArgs, addr: std::net::SocketAddr) {
    let url = format!("http://{addr}");
    println!("asb record: listening on {url}");
    match upstream.api {
        Api::OpenAi => println!(
            "  upstream: {} (OpenAI-compatible; Anthropic and Responses calls are translated to Chat Completions for model {})",
            upstream.url(""),
            upstream.model
        ),
        Api::Anthropic => println!("  upstream: {} (Anthropic; calls are forwarded byte for byte)", upstream.url("")),
        Api::Responses => println!(
            "  upstream: {} (OpenAI Responses; Responses and Chat calls are forwarded byte for byte, \
             Anthropic calls translated to Chat Completions for model {})",
            upstream.url(""),
            upstream.model
        ),
    }
    let userinfo = redact::split_userinfo(args.upstream.endpoint.as_deref().unwrap_or("").trim()).1.is_some();
    if let Some((header, _)) =
        upstream.auth.as_ref().filter(|_| args.upstream.api_key.as_deref().is_some_and(|k| !k.is_empty()))
    {
        println!("  credentials: -k sent as `{header}` (never written to the recording)");
        if userinfo {
            println!("  the user:password in -e is not used: -k replaces it");
        }
    } else if userinfo {
        println!("  credentials: -e's user:password sent as Basic auth (never printed or written)");
    } else {
        println!("  credentials: the client's own (never written to the recording)");
    }
    println!("  recording to: {} (appending)", args.output.display());
    println!("Point your agent at it:");
    println!("  ANTHROPIC_BASE_URL={url} claude");
    println!("  OPENAI_BASE_URL={url}/v1   (OpenAI SDK agents; their calls are forwarded byte for byte)");
    println!(
        "Stop with Ctrl+C (or SIGTERM, SIGHUP): calls in flight are finished or marked, then a summary is printed."
    );
}
