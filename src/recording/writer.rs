//! Appends call lines to a recording from a background thread: each line is built (callers
//! may hand over the work of building it), serialised, scrubbed of secrets, written whole
//! with its newline and flushed, so a crash loses only the calls still in flight and never
//! leaves two lines interleaved.
//!
//! The thread runs at idle priority, so under a load that keeps every core busy it falls
//! behind; what it has not written yet is held in memory. Past [`MAX_QUEUED_LINES`] lines
//! or [`MAX_QUEUED_BYTES`] bytes queued, callers write their own lines instead: the proxy
//! then slows to the pace the machine can record at, and memory stays bounded.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

use super::line::CallLine;
pub use super::redact::{Secrets, REDACTED};

/// What was written, for the recorder's summary.
#[derive(Debug, Default, Clone)]
pub struct WriteStats {
    pub lines: u64,
    pub bytes: u64,
}

/// Builds a line on the writer's thread.
type LineJob = Box<dyn FnOnce() -> CallLine + Send>;

/// Lines queued for the writer's thread beyond which callers write their own.
pub const MAX_QUEUED_LINES: usize = 1024;
/// Bytes of calls (as the caller weighs them) queued beyond which callers write their own.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

pub struct RecordingWriter {
    path: PathBuf,
    tx: Mutex<Option<mpsc::Sender<(LineJob, usize)>>>,
    thread: Mutex<Option<JoinHandle<io::Result<()>>>>,
    out: Arc<Output>,
}

/// The file and what was written to it, shared by the writer's thread and the callers
/// that write their own lines.
struct Output {
    file: Mutex<(File, WriteStats)>,
    secrets: Secrets,
    /// Lines and bytes waiting for the writer's thread.
    queued_lines: AtomicUsize,
    queued_bytes: AtomicUsize,
    /// The first error of a line a caller wrote (the thread's own ends the thread).
    failed: Mutex<Option<io::Error>>,
}

impl Output {
    /// Serialises, scrubs and appends one whole line.
    fn append(&self, line: &CallLine) -> io::Result<()> {
        let mut text = serde_json::to_string(line).map_err(io::Error::other)?;
        self.secrets.scrub(&mut text);
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.0.write_all(text.as_bytes())?;
        file.0.flush()?;
        file.1.lines += 1;
        file.1.bytes += text.len() as u64;
        Ok(())
    }

    fn behind(&self) -> bool {
        self.queued_lines.load(Ordering::Relaxed) >= MAX_QUEUED_LINES
            || self.queued_bytes.load(Ordering::Relaxed) >= MAX_QUEUED_BYTES
    }
}

impl RecordingWriter {
    /// Opens `path` for appending (creating it and its parent directories). Any of
    /// `secrets` found anywhere in a line is replaced by `[redacted]` before writing.
    pub fn open(path: &Path, secrets: Secrets) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open recording {}", path.display()))?;
        let out = Arc::new(Output {
            file: Mutex::new((file, WriteStats::default())),
            secrets,
            queued_lines: AtomicUsize::new(0),
            queued_bytes: AtomicUsize::new(0),
            failed: Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel();
        let thread = {
            let out = Arc::clone(&out);
            std::thread::Builder::new().name("asb-recording-writer".into()).spawn(move || write_loop(&out, rx))?
        };
        Ok(RecordingWriter {
            path: path.to_path_buf(),
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            out,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a line; it is on disk moments later.
    pub fn write(&self, line: CallLine) {
        self.write_with(0, move || line);
    }

    /// Queues a line that `build` makes on the writer's thread (keeping the caller's
    /// thread free of parsing and serialisation); `bytes`: what the queued job holds.
    /// When the thread is too far behind, the caller builds and writes the line itself.
    pub fn write_with(&self, bytes: usize, build: impl FnOnce() -> CallLine + Send + 'static) {
        {
            let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let Some(tx) = tx.as_ref() else { return };
            if !self.out.behind() {
                self.out.queued_lines.fetch_add(1, Ordering::Relaxed);
                self.out.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
                let _ = tx.send((Box::new(build), bytes));
                return;
            }
        }
        // Built outside the queue's lock, so callers on other threads are not held up.
        if let Err(e) = self.out.append(&build()) {
            self.out.failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
        }
    }

    /// Writes what is queued and closes the file; later writes are dropped.
    pub fn close(&self) -> Result<WriteStats> {
        drop(self.tx.lock().unwrap_or_else(|p| p.into_inner()).take());
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        let failed = |e: io::Error| Err(e).with_context(|| format!("writing {} failed", self.path.display()));
        match thread.map(JoinHandle::join) {
            Some(Ok(Err(e))) => return failed(e),
            Some(Err(_)) => anyhow::bail!("the recording writer thread failed"),
            Some(Ok(Ok(()))) | None => {}
        }
        if let Some(e) = self.out.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return failed(e);
        }
        let file = self.out.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.0.sync_all() {
            return failed(e);
        }
        Ok(file.1.clone())
    }
}

fn write_loop(out: &Output, rx: mpsc::Receiver<(LineJob, usize)>) -> io::Result<()> {
    yield_to_the_proxy();
    while let Ok((job, bytes)) = rx.recv() {
        let line = job();
        out.queued_lines.fetch_sub(1, Ordering::Relaxed);
        out.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        out.append(&line)?;
    }
    Ok(())
}

/// Building and writing lines can wait; forwarding bytes cannot. On Linux the writer
/// thread runs under `SCHED_IDLE`: it gets the CPU when the proxy's threads do not want it
/// and yields at once when they wake, so a busy machine keeps the streams' timing and the
/// recording catches up when there is room (it is still scheduled, with a small share,
/// under sustained load).
fn yield_to_the_proxy() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id with a valid parameter.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::pid_t;
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_whole_lines_and_redacts_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/rec.jsonl");
        let secrets = Secrets::default();
        secrets.add("sk-secret-123");
        let w = RecordingWriter::open(&path, secrets).unwrap();
        let mut line = CallLine { seq: 1, model: "m".into(), ..Default::default() };
        line.error = Some("upstream said: bad key sk-secret-123".into());
        w.write(line.clone());
        line.seq = 2;
        w.write(line);
        let stats = w.close().unwrap();
        assert_eq!(stats.lines, 2);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(!text.contains("sk-secret-123"));
        assert!(text.contains(REDACTED));
        // Appending to an existing recording keeps what was there.
        let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
        w.write(CallLine { seq: 3, ..Default::default() });
        w.close().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    #[test]
    fn a_writer_too_far_behind_has_callers_write_their_own_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
        // The writer's thread is kept busy with the first line until the gate opens.
        let (open_gate, gate) = mpsc::channel::<()>();
        w.write_with(10, move || {
            let _ = gate.recv();
            CallLine { seq: 1, ..Default::default() }
        });
        for seq in 2..=MAX_QUEUED_LINES as u64 {
            w.write(CallLine { seq, ..Default::default() });
        }
        let lines = || std::fs::read_to_string(&path).unwrap().lines().map(str::to_string).collect::<Vec<_>>();
        assert!(lines().is_empty());
        // One more is written at once, by this thread.
        w.write(CallLine { seq: 5000, ..Default::default() });
        let written = lines();
        assert_eq!(written.len(), 1);
        assert!(written[0].contains("\"seq\":5000"), "{}", written[0]);
        // Too many bytes queued has the same effect.
        let w2 = RecordingWriter::open(&dir.path().join("rec2.jsonl"), Secrets::default()).unwrap();
        let (open_gate2, gate2) = mpsc::channel::<()>();
        w2.write_with(MAX_QUEUED_BYTES, move || {
            let _ = gate2.recv();
            CallLine { seq: 1, ..Default::default() }
        });
        w2.write(CallLine { seq: 2, ..Default::default() });
        assert_eq!(std::fs::read_to_string(dir.path().join("rec2.jsonl")).unwrap().lines().count(), 1);
        // Nothing is lost once the writer catches up.
        open_gate.send(()).unwrap();
        open_gate2.send(()).unwrap();
        assert_eq!(w.close().unwrap().lines, MAX_QUEUED_LINES as u64 + 1);
        assert_eq!(lines().len(), MAX_QUEUED_LINES + 1);
        assert_eq!(w2.close().unwrap().lines, 2);
    }
}
