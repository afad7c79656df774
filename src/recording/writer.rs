//! Appends call lines to a recording from a background thread: each line is built (callers
//! may hand over the work of building it), serialised, scrubbed of secrets, written whole
//! with its newline and flushed, so a crash loses only the calls still in flight and never
//! leaves two lines interleaved.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use anyhow::{Context, Result};

use super::line::CallLine;

/// What was written, for the recorder's summary.
#[derive(Debug, Default, Clone)]
pub struct WriteStats {
    pub lines: u64,
    pub bytes: u64,
}

/// Builds a line on the writer's thread.
type LineJob = Box<dyn FnOnce() -> CallLine + Send>;

/// Values never to be written: API keys and the like. More can be added while writing.
#[derive(Clone, Default)]
pub struct Secrets(Arc<RwLock<Vec<String>>>);

impl Secrets {
    /// Adds a secret (values shorter than 4 characters are ignored: too likely to be text).
    pub fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        let mut list = self.0.write().unwrap_or_else(|p| p.into_inner());
        if !list.iter().any(|s| s == secret) {
            list.push(secret.to_string());
        }
    }

    fn scrub(&self, text: &mut String) {
        let list = self.0.read().unwrap_or_else(|p| p.into_inner());
        for secret in list.iter() {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), REDACTED);
            }
        }
    }
}

pub struct RecordingWriter {
    path: PathBuf,
    tx: Mutex<Option<mpsc::Sender<LineJob>>>,
    thread: Mutex<Option<JoinHandle<io::Result<WriteStats>>>>,
}

/// Replaced for every secret found in a line.
pub const REDACTED: &str = "[redacted]";

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
        let (tx, rx) = mpsc::channel::<LineJob>();
        let thread = std::thread::Builder::new()
            .name("asb-recording-writer".into())
            .spawn(move || write_loop(file, rx, &secrets))?;
        Ok(RecordingWriter { path: path.to_path_buf(), tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a line; it is on disk moments later.
    pub fn write(&self, line: CallLine) {
        self.write_with(move || line);
    }

    /// Queues a line that `build` makes on the writer's thread (keeping the caller's
    /// thread free of parsing and serialisation).
    pub fn write_with(&self, build: impl FnOnce() -> CallLine + Send + 'static) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let _ = tx.send(Box::new(build));
        }
    }

    /// Writes what is queued and closes the file; later writes are dropped.
    pub fn close(&self) -> Result<WriteStats> {
        drop(self.tx.lock().unwrap_or_else(|p| p.into_inner()).take());
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        match thread.map(JoinHandle::join) {
            Some(Ok(result)) => result.with_context(|| format!("writing {} failed", self.path.display())),
            Some(Err(_)) => anyhow::bail!("the recording writer thread failed"),
            None => Ok(WriteStats::default()),
        }
    }
}

fn write_loop(mut file: File, rx: mpsc::Receiver<LineJob>, secrets: &Secrets) -> io::Result<WriteStats> {
    yield_to_the_proxy();
    let mut stats = WriteStats::default();
    while let Ok(job) = rx.recv() {
        let line = job();
        let mut text = serde_json::to_string(&line).map_err(io::Error::other)?;
        secrets.scrub(&mut text);
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.flush()?;
        stats.lines += 1;
        stats.bytes += text.len() as u64;
    }
    file.sync_all()?;
    Ok(stats)
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
}
