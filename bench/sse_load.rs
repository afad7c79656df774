//! Load generator for the SSE benchmarks: C workers, each on one persistent HTTP/1.1
//! connection, send R streaming requests back to back and count the SSE events received
//! (blank-line-terminated blocks). Prints one JSON object with the totals.
//!
//! It only counts bytes (`memchr` over each frame for "\n\n"), so a single core can drive
//! far more events than the server under test is asked for. With `--ttft-marker` it also
//! times, per request, the first frame holding that text (TTFT) and every event's arrival
//! after the request was sent, and reports their distribution; `--events-out` keeps each
//! output event's wall-clock arrival, to join with the server's send times.
//!
//! cargo run --release --example sse-load -- --url http://127.0.0.1:19100/v1/chat/completions \
//!     --body '{"model":"m","messages":[...],"stream":true}' -c 64 -r 20

use std::time::Instant;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// Full URL of the streaming endpoint.
    #[arg(long)]
    url: String,
    /// JSON body to POST; without it the tool sends GET.
    #[arg(long)]
    body: Option<String>,
    /// Concurrent connections (one stream in flight on each).
    #[arg(short, long, default_value_t = 1)]
    concurrency: usize,
    /// Requests per connection.
    #[arg(short, long, default_value_t = 10)]
    requests: usize,
    /// Text that marks an output event (e.g. `"delta":{"content":`): enables timing.
    #[arg(long)]
    ttft_marker: Option<String>,
    /// With --ttft-marker: write one JSON line per request to this file, its
    /// `x-request-id` and the wall-clock arrival (Unix ms) of each output event, to be
    /// joined with a server's record of when it sent each one (`asb mock --truth-log`).
    #[arg(long)]
    events_out: Option<std::path::PathBuf>,
    /// Spread the connections' first requests evenly over this many ms (connection k
    /// starts at k/C of it), so equal-length streams stay out of step instead of all
    /// ending and starting again together.
    #[arg(long, default_value_t = 0.0)]
    stagger_ms: f64,
}

#[derive(Default)]
struct Totals {
    events: u64,
    bytes: u64,
    ok: u64,
    errors: u64,
    /// Per request: ms from send to the first frame holding the marker.
    ttfts_ms: Vec<f64>,
    /// Per event after the first output: ms from send to its arrival.
    event_offsets_ms: Vec<f64>,
    /// Per request: its `x-request-id` and its output events' arrivals (Unix ms).
    arrivals: Vec<(String, Vec<f64>)>,
}

/// Linear-interpolated percentile (numpy's default) of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let uri: hyper::Uri = args.url.parse()?;
    let authority = uri.authority().ok_or_else(|| anyhow::anyhow!("URL needs a host"))?.to_string();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..args.concurrency {
        let (uri, authority, body, n) = (uri.clone(), authority.clone(), args.body.clone(), args.requests);
        let ttft_marker = args.ttft_marker.clone();
        let delay = std::time::Duration::from_secs_f64(args.stagger_ms / 1000.0 * k as f64 / args.concurrency as f64);
        tasks.push(tokio::spawn(async move { worker(uri, authority, body, n, ttft_marker, delay).await }));
    }
    let mut t = Totals::default();
    for task in tasks {
        let w = task.await??;
        t.events += w.events;
        t.bytes += w.bytes;
        t.ok += w.ok;
        t.errors += w.errors;
        t.ttfts_ms.extend(w.ttfts_ms);
        t.event_offsets_ms.extend(w.event_offsets_ms);
        t.arrivals.extend(w.arrivals);
    }
    if let Some(path) = &args.events_out {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for (id, arrivals) in &t.arrivals {
            use std::io::Write;
            writeln!(out, "{}", serde_json::json!({"id": id, "arrivals_unix_ms": arrivals}))?;
        }
    }
    t.ttfts_ms.sort_by(f64::total_cmp);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "concurrency": args.concurrency, "requests": t.ok + t.errors, "ok": t.ok, "errors": t.errors,
            "events": t.events, "bytes": t.bytes, "seconds": secs,
            "events_per_s": t.events as f64 / secs, "requests_per_s": t.ok as f64 / secs,
            "ttft_ms": {"p50": percentile(&t.ttfts_ms, 50.0), "p90": percentile(&t.ttfts_ms, 90.0),
                        "p99": percentile(&t.ttfts_ms, 99.0), "mean": mean(&t.ttfts_ms), "n": t.ttfts_ms.len()},
            "event_offset_ms_mean": mean(&t.event_offsets_ms), "timed_events": t.event_offsets_ms.len(),
        })
    );
    Ok(())
}

async fn worker(
    uri: hyper::Uri,
    authority: String,
    body: Option<String>,
    n: usize,
    ttft_marker: Option<String>,
    delay: std::time::Duration,
) -> anyhow::Result<Totals> {
    let stream = TcpStream::connect(&authority).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    tokio::time::sleep(delay).await;
    let mut t = Totals::default();
    for _ in 0..n {
        let builder = Request::builder().uri(uri.path()).header("host", &authority);
        let req = match &body {
            Some(b) => builder
                .method("POST")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(b.clone())))?,
            None => builder.method("GET").body(Full::new(Bytes::new()))?,
        };
        let sent = std::time::Instant::now();
        let mut first_output: Option<f64> = None;
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(_) => {
                t.errors += 1;
                continue;
            }
        };
        let ok = resp.status().is_success();
        let id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let mut arrivals = Vec::new();
        let mut body = resp.into_body();
        // Count "\n\n" across frame boundaries: remember whether the last frame ended in '\n'.
        let mut last_newline = false;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                t.errors += 1;
                break;
            };
            if let Some(data) = frame.data_ref() {
                let mut events = memchr::memmem::find_iter(data, b"\n\n").count() as u64;
                if last_newline && data.first() == Some(&b'\n') {
                    events += 1;
                }
                t.events += events;
                if let Some(m) = &ttft_marker {
                    let ms = sent.elapsed().as_secs_f64() * 1000.0;
                    let now_unix_ms = unix_ms();
                    arrivals.extend(std::iter::repeat_n(
                        now_unix_ms,
                        memchr::memmem::find_iter(data, m.as_bytes()).count(),
                    ));
                    if first_output.is_none() && memchr::memmem::find(data, m.as_bytes()).is_some() {
                        first_output = Some(ms);
                        t.ttfts_ms.push(ms);
                    }
                    if first_output.is_some() {
                        t.event_offsets_ms.extend(std::iter::repeat_n(ms, events as usize));
                    }
                }
                last_newline = data.last() == Some(&b'\n');
                t.bytes += data.len() as u64;
            }
        }
        if ttft_marker.is_some() {
            t.arrivals.push((id, arrivals));
        }
        if ok {
            t.ok += 1;
        } else {
            t.errors += 1;
        }
    }
    Ok(t)
}

fn unix_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
