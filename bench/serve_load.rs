//! Load client for the `asb serve` benchmark (bench/serve.sh). It replays the requests of a
//! recording — each line's `request.method`, `request.path` and `request.body` exactly as
//! recorded, in `seq` order — over raw HTTP/1.1 on persistent connections, and times each
//! call from the first byte written to the last byte of the response read. No HTTP library
//! on the client side: the request bytes are built once up front, the response is read
//! until `content-length` bytes of body arrived, so the client adds as little as possible.
//!
//!   serve-load latency     --addr A --recording F [--prefix /c/NAME] [--skip S] [--count N] [--warmup W]
//!       one connection, blocking socket, one call at a time: per-call latency percentiles.
//!   serve-load throughput  --addr A --recording F -c C [--skip S] [--count N] [--pid P]
//!       C connections on one client thread (tokio current_thread), each sending its share
//!       back to back: calls/s, latency percentiles, server CPU (from /proc/P/stat).
//!   serve-load first-answer --port P --recording F [--prefix /c/NAME] -- CMD ARGS...
//!       starts CMD, connects as soon as the port accepts, sends the first call: time from
//!       process start to the first answer (and from the first request, for directory
//!       mode's load-on-first-use); then sends every other call once and reads the server's
//!       VmHWM/VmRSS from /proc before stopping it with SIGINT.
//!   serve-load dir-walk    --addr A --dir D --pid P [--every 100]
//!       serves every recording of a directory in turn (all its calls, under /c/NAME/…),
//!       reading the server's VmRSS after every `--every` recordings.
//!
//! Prints one JSON object. Every answer must be 200; anything else counts as an error and
//! the first error body is reported.

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use serde::Deserialize;
use serde_json::{json, value::RawValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(clap::Args, Clone)]
struct Calls {
    /// Recording (JSONL, format v1) whose requests are replayed.
    #[arg(long)]
    recording: PathBuf,
    /// Path prefix (directory mode: /c/NAME).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Calls to skip from the start (in seq order).
    #[arg(long, default_value_t = 0)]
    skip: usize,
    /// Calls to send (default: all after --skip).
    #[arg(long)]
    count: Option<usize>,
}

#[derive(Subcommand)]
enum Mode {
    Latency {
        #[arg(long)]
        addr: String,
        #[command(flatten)]
        calls: Calls,
        /// Calls sent first and not timed.
        #[arg(long, default_value_t = 0)]
        warmup: usize,
    },
    Throughput {
        #[arg(long)]
        addr: String,
        #[command(flatten)]
        calls: Calls,
        #[arg(short, long)]
        concurrency: usize,
        /// Server PID, for its CPU time.
        #[arg(long)]
        pid: Option<u32>,
    },
    FirstAnswer {
        #[arg(long)]
        port: u16,
        #[command(flatten)]
        calls: Calls,
        /// The server command line.
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    DirWalk {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 100)]
        every: usize,
    },
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(default)]
    seq: u64,
    #[serde(borrow)]
    request: Option<Req<'a>>,
}

#[derive(Deserialize)]
struct Req<'a> {
    method: String,
    path: String,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

/// The requests of a recording as ready-to-write HTTP/1.1 bytes, in seq order.
fn load_calls(path: &Path, prefix: &str, skip: usize, count: Option<usize>) -> Result<Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut calls: Vec<(u64, Vec<u8>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), n + 1))?;
        let Some(r) = l.request else { continue };
        let body = r.body.map_or("", |b| b.get());
        let mut bytes = format!(
            "{} {prefix}{} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            r.method,
            r.path,
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        calls.push((l.seq, bytes));
    }
    calls.sort_by_key(|c| c.0);
    let calls: Vec<Vec<u8>> = calls.into_iter().skip(skip).map(|c| c.1).collect();
    let n = count.unwrap_or(calls.len());
    if calls.len() < n {
        bail!("{} has only {} calls after skipping {skip}, {n} wanted", path.display(), calls.len());
    }
    Ok(calls.into_iter().take(n).collect())
}

/// Parses a complete response at the start of `buf`: (status, total length), or None if
/// more bytes are needed.
fn parse_response(buf: &[u8]) -> Result<Option<(u16, usize)>> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..end])?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line"))?;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = Some(v.trim().parse::<usize>()?);
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not handled by this client");
            }
        }
    }
    let length = length.ok_or_else(|| anyhow!("response without content-length"))?;
    let total = end + 4 + length;
    Ok((buf.len() >= total).then_some((status, total)))
}

#[derive(Default)]
struct Outcome {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_ns: Vec<u64>,
}

impl Outcome {
    fn note(&mut self, status: u16, response: &[u8]) {
        if status == 200 {
            self.ok += 1;
        } else {
            self.errors += 1;
            if self.first_error.is_none() {
                self.first_error = Some(String::from_utf8_lossy(&response[..response.len().min(600)]).into_owned());
            }
        }
    }
    fn merge(&mut self, o: Outcome) {
        self.ok += o.ok;
        self.errors += o.errors;
        self.first_error = self.first_error.take().or(o.first_error);
        self.latencies_ns.extend(o.latencies_ns);
    }
    fn summary(&mut self) -> serde_json::Value {
        self.latencies_ns.sort_unstable();
        let v = &self.latencies_ns;
        let pct = |p: f64| -> f64 {
            if v.is_empty() {
                return f64::NAN;
            }
            let rank = p / 100.0 * (v.len() - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            (v[lo] as f64 + (v[hi] as f64 - v[lo] as f64) * (rank - lo as f64)) / 1000.0
        };
        let mean = v.iter().sum::<u64>() as f64 / v.len().max(1) as f64 / 1000.0;
        json!({"ok": self.ok, "errors": self.errors, "first_error": self.first_error, "timed": v.len(),
               "latency_us": {"p50": pct(50.0), "p90": pct(90.0), "p99": pct(99.0), "p999": pct(99.9),
                              "max": v.last().map(|&x| x as f64 / 1000.0), "mean": mean}})
    }
}

/// One blocking connection; sends each call and reads its full answer.
struct Conn {
    s: StdStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: &str) -> Result<Self> {
        let s = StdStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn { s, buf: Vec::with_capacity(1 << 16) })
    }
    /// Returns (status, response bytes).
    fn call(&mut self, req: &[u8]) -> Result<(u16, &[u8])> {
        self.s.write_all(req)?;
        self.buf.clear();
        let mut chunk = [0u8; 65536];
        loop {
            if let Some((status, total)) = parse_response(&self.buf)? {
                if total != self.buf.len() {
                    bail!("server sent more than one response");
                }
                return Ok((status, &self.buf[..total]));
            }
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                bail!("server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn latency(addr: &str, calls: &[Vec<u8>], warmup: usize) -> Result<serde_json::Value> {
    let mut conn = Conn::open(addr)?;
    let mut out = Outcome::default();
    for (i, req) in calls.iter().enumerate() {
        let t0 = Instant::now();
        let (status, resp) = conn.call(req)?;
        let ns = t0.elapsed().as_nanos() as u64;
        out.note(status, resp);
        if i >= warmup {
            out.latencies_ns.push(ns);
        }
    }
    Ok(out.summary())
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    Some(f[11].parse::<u64>().ok()? + f[12].parse::<u64>().ok()?)
}

fn self_cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

async fn throughput_worker(addr: String, calls: Vec<Vec<u8>>) -> Result<Outcome> {
    let mut s = tokio::net::TcpStream::connect(&addr).await?;
    s.set_nodelay(true)?;
    let mut out = Outcome::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 65536];
    for req in &calls {
        let t0 = Instant::now();
        s.write_all(req).await?;
        buf.clear();
        let (status, total) = loop {
            if let Some(r) = parse_response(&buf)? {
                break r;
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                bail!("server closed the connection");
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        out.latencies_ns.push(t0.elapsed().as_nanos() as u64);
        out.note(status, &buf[..total]);
    }
    Ok(out)
}

fn throughput(addr: &str, calls: Vec<Vec<u8>>, c: usize, pid: Option<u32>) -> Result<serde_json::Value> {
    let n = calls.len();
    let mut shares: Vec<Vec<Vec<u8>>> = vec![Vec::new(); c];
    for (i, call) in calls.into_iter().enumerate() {
        shares[i % c].push(call);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cpu0 = pid.and_then(cpu_ticks);
    let self0 = self_cpu_secs();
    let t0 = Instant::now();
    let mut out = rt.block_on(async {
        let tasks: Vec<_> = shares.into_iter().map(|s| tokio::spawn(throughput_worker(addr.to_string(), s))).collect();
        let mut all = Outcome::default();
        for t in tasks {
            all.merge(t.await??);
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let client_cpu = self_cpu_secs() - self0;
    let server_cpu = match (cpu0, pid.and_then(cpu_ticks)) {
        (Some(a), Some(b)) => Some((b - a) as f64 / 100.0),
        _ => None,
    };
    let mut j = out.summary();
    j["concurrency"] = json!(c);
    j["calls"] = json!(n);
    j["seconds"] = json!(secs);
    j["calls_per_s"] = json!(out.ok as f64 / secs);
    j["client_cpu_s"] = json!(client_cpu);
    j["server_cpu_s"] = json!(server_cpu);
    j["server_cpu_us_per_call"] = json!(server_cpu.map(|s| s * 1e6 / n as f64));
    Ok(j)
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok())
}

fn first_answer(port: u16, calls: &[Vec<u8>], cmd: &[String]) -> Result<serde_json::Value> {
    let addr = format!("127.0.0.1:{port}");
    let t0 = Instant::now();
    let mut child = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", cmd[0]))?;
    let pid = child.id();
    let run = || -> Result<serde_json::Value> {
        let mut conn = loop {
            match Conn::open(&addr) {
                Ok(c) => break c,
                Err(_) => {
                    if let Some(st) = child_exited(pid) {
                        bail!("server exited ({st}) before listening");
                    }
                    if t0.elapsed() > Duration::from_secs(120) {
                        bail!("server never listened on {addr}");
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        };
        let listening = t0.elapsed();
        let t_req = Instant::now();
        let (status, resp) = conn.call(&calls[0])?;
        let first = t_req.elapsed();
        let total_first = t0.elapsed();
        let mut out = Outcome::default();
        out.note(status, resp);
        let hwm_first = proc_status_kb(pid, "VmHWM:");
        let t_rest = Instant::now();
        for req in &calls[1..] {
            let t = Instant::now();
            let (status, resp) = conn.call(req)?;
            out.latencies_ns.push(t.elapsed().as_nanos() as u64);
            out.note(status, resp);
        }
        let rest_secs = t_rest.elapsed().as_secs_f64();
        let mut j = out.summary();
        j["calls"] = json!(calls.len());
        j["listening_ms"] = json!(listening.as_secs_f64() * 1e3);
        j["first_request_to_answer_ms"] = json!(first.as_secs_f64() * 1e3);
        j["start_to_first_answer_ms"] = json!(total_first.as_secs_f64() * 1e3);
        j["rest_seconds"] = json!(rest_secs);
        j["vm_hwm_kb_after_first"] = json!(hwm_first);
        j["vm_hwm_kb"] = json!(proc_status_kb(pid, "VmHWM:"));
        j["vm_rss_kb"] = json!(proc_status_kb(pid, "VmRSS:"));
        Ok(j)
    };
    let result = run();
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    result
}

fn child_exited(pid: u32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = s[s.rfind(')')? + 2..].chars().next()?;
    (state == 'Z').then(|| "zombie".to_string())
}

fn dir_walk(addr: &str, dir: &Path, pid: u32, every: usize) -> Result<serde_json::Value> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".jsonl")).map(str::to_string))
        .collect();
    names.sort();
    let mut conn = Conn::open(addr)?;
    let mut out = Outcome::default();
    let mut samples = vec![json!({"recordings": 0, "vm_rss_kb": proc_status_kb(pid, "VmRSS:")})];
    let t0 = Instant::now();
    let mut calls_sent = 0usize;
    for (i, name) in names.iter().enumerate() {
        let calls = load_calls(&dir.join(format!("{name}.jsonl")), &format!("/c/{name}"), 0, None)?;
        for req in &calls {
            let (status, resp) = conn.call(req)?;
            out.note(status, resp);
            calls_sent += 1;
        }
        if (i + 1) % every == 0 || i + 1 == names.len() {
            samples.push(json!({"recordings": i + 1, "seconds": t0.elapsed().as_secs_f64(),
                                "vm_rss_kb": proc_status_kb(pid, "VmRSS:")}));
        }
    }
    let walk_secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(2500));
    let mut j = out.summary();
    j["recordings"] = json!(names.len());
    j["calls"] = json!(calls_sent);
    j["seconds"] = json!(walk_secs);
    j["samples"] = json!(samples);
    j["vm_rss_kb_after_idle"] = json!(proc_status_kb(pid, "VmRSS:"));
    j["vm_hwm_kb"] = json!(proc_status_kb(pid, "VmHWM:"));
    Ok(j)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let j = match cli.mode {
        Mode::Latency { addr, calls, warmup } => {
            let reqs = load_calls(&calls.recording, &calls.prefix, calls.skip, calls.count)?;
            latency(&addr, &reqs, warmup)?
        }
        Mode::Throughput { addr, calls, concurrency, pid } => {
            let reqs = load_calls(&calls.recording, &calls.prefix, calls.skip, calls.count)?;
            throughput(&addr, reqs, concurrency, pid)?
        }
        Mode::FirstAnswer { port, calls, cmd } => {
            let reqs = load_calls(&calls.recording, &calls.prefix, calls.skip, calls.count)?;
            first_answer(port, &reqs, &cmd)?
        }
        Mode::DirWalk { addr, dir, pid, every } => dir_walk(&addr, &dir, pid, every)?,
    };
    println!("{j}");
    Ok(())
}
