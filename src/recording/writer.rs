//! Appends call lines to a recording, with durability as a designed property: a finished
//! call's line is handed to the kernel within 100 ms of the call's end (the watchdog's
//! period, its boost threshold, and draining a full queue at a fair share of a busy CPU;
//! the measured figures are in BENCHMARKS.md), so a `kill -9` (or a crash) loses only the
//! calls still in flight, never a torn line in the middle of the file, and a disk that
//! refuses a write is reported at once.
//!
//! How, step by step:
//!
//! 1. A finished call is queued as a job that builds its line (parsing, reassembly and
//!    serialisation happen off the proxy's threads). The queue is first in, first out,
//!    and a job is built and written by whoever pops it while holding the file: the file
//!    is in completion order exactly.
//! 2. The writer's thread runs under `SCHED_IDLE`: it takes the CPU only when the proxy's
//!    threads do not want it, so forwarding bytes is never delayed by recording them.
//! 3. Under a load that keeps every core busy an idle thread gets almost no CPU. A
//!    watchdog thread at normal priority looks at the oldest queued line every
//!    [`WATCH_EVERY`]; once it has waited [`BOOST_AFTER`], the writer is raised to normal
//!    priority until the queue is empty. Where raising is not permitted (an unprivileged
//!    process with `RLIMIT_NICE` at 0 cannot leave `SCHED_IDLE`), the writer runs at
//!    normal priority from the start: the bound matters more than politeness.
//! 4. Past [`MAX_QUEUED_LINES`] lines or [`MAX_QUEUED_BYTES`] queued, the caller drains
//!    the queue itself down to half that before going on: memory stays bounded, and the
//!    order is kept.
//! 5. A write that fails (a full disk, a file-size limit, an I/O error) is cut back to the
//!    last whole line (`ftruncate`), said on stderr at once, and the unwritten lines are
//!    kept in memory and retried every [`RETRY_EVERY`]; meanwhile [`RecordingWriter::refusing`]
//!    tells the proxy to refuse new calls (503), so nothing is answered that cannot be
//!    recorded. When the disk takes writes again, the kept lines go first, in order.
//! 6. With `fsync`, the file's data is synced after each batch the writer drains (group
//!    commit), through a second handle and without holding the file, so lines go on being
//!    written while the disk syncs: the same bound then holds for power loss, plus the
//!    time of one sync, at the cost measured in BENCHMARKS.md.
//!
//! A recording that ends with a torn line (a recorder killed mid-write) is repaired when
//! it is opened for appending: the partial line is removed (or, if it is a whole JSON
//! object that only lacks its newline, the newline is added), and the repair is said.
//!
//! A compressed recording (a new file named `*.gz` or `*.zst`, or an existing one whose
//! bytes are gzip or zstd) is written the same way, each line as one complete frame
//! ([`super::compression`]): the same bound holds, and a torn last frame is cut off when
//! the file is opened again (which decodes the file once to find it).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::compression::{self, Codec};
use super::line::CallLine;
pub(crate) use super::redact::Secrets;
use super::redact_patterns::RedactPatterns;

/// What was written, for the recorder's summary.
#[derive(Debug, Default, Clone)]
pub(crate) struct WriteStats {
    pub lines: u64,
    pub bytes: u64,
    /// The longest a line waited from its call's end until the kernel had it.
    pub max_lag: Duration,
}

/// Builds a line on whichever thread writes it.
type LineJob = Box<dyn FnOnce() -> CallLine + Send>;

/// How often the watchdog looks at the oldest queued line.
const WATCH_EVERY: Duration = Duration::from_millis(5);
/// How long the oldest queued line may wait before the writer is raised to normal priority.
const BOOST_AFTER: Duration = Duration::from_millis(10);
/// Lines queued beyond which callers drain the queue themselves.
const MAX_QUEUED_LINES: usize = 256;
/// Bytes of calls (as the caller weighs them) queued beyond which callers drain the queue.
const MAX_QUEUED_BYTES: usize = 64 << 20;
/// How often lines the disk refused are tried again.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// The watchdog sleeps (until the next call) after this long without one.
const WATCHDOG_IDLE: Duration = Duration::from_secs(1);

/// How the file is written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Durability {
    /// Sync the file's data after each batch of lines (power-loss durability).
    pub fsync: bool,
}

pub(crate) struct RecordingWriter {
    path: PathBuf,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What the callers, the writer's thread and the watchdog share.
struct Shared {
    queue: Mutex<Queue>,
    /// The writer's thread waits here for jobs, and for the next retry.
    work: Condvar,
    /// The file; held from popping a job to writing its line, so lines keep queue order.
    pen: Mutex<Pen>,
    secrets: Secrets,
    /// `--redact` patterns, applied to each line before it is serialised.
    redact: RedactPatterns,
    /// The disk refused a write and lines are waiting for it (the proxy refuses calls).
    failing: AtomicBool,
    /// The writer's thread id, for raising its priority (0 until it starts).
    writer_tid: AtomicI32,
    /// The writer runs at normal priority just now.
    boosted: AtomicBool,
    /// Whether the writer may be put under `SCHED_IDLE` (it can be raised back).
    may_idle: bool,
    /// Time of the last queued job, ns since `epoch`; the watchdog sleeps when it is old.
    last_queued_ns: AtomicU64,
    watchdog_asleep: AtomicBool,
    epoch: Instant,
}

struct Queue {
    jobs: VecDeque<Job>,
    bytes: usize,
    closed: bool,
    writer_waiting: bool,
}

struct Job {
    build: LineJob,
    bytes: usize,
    queued: Instant,
}

/// The file and what is known about it.
struct Pen {
    file: File,
    /// How lines are encoded: as they are, or each as one compressed frame.
    codec: Codec,
    stats: WriteStats,
    /// With `fsync`: a second handle of the file, synced outside the pen.
    sync_handle: Option<Arc<File>>,
    /// The file's length after its last whole line.
    good_len: u64,
    /// Lines built but refused by the disk, oldest first.
    held: VecDeque<String>,
    /// Bytes written since the last sync.
    unsynced: bool,
    /// The error that made the disk refuse, while it does.
    refused: Option<String>,
}

impl RecordingWriter {
    /// Opens `path` for appending (creating it, private to its owner, and its parent
    /// directories). Any of `secrets` found anywhere in a line is replaced by
    /// `[redacted]` before writing.
    #[cfg(test)]
    pub(crate) fn open(path: &Path, secrets: Secrets) -> Result<Self> {
        Self::open_with(path, secrets, Durability::default(), RedactPatterns::default())
    }

    pub(crate) fn open_with(
        path: &Path,
        secrets: Secrets,
        durability: Durability,
        redact: RedactPatterns,
    ) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // A file-size limit (RLIMIT_FSIZE) then fails the write, which is reported and
        // retried, instead of killing the process with every line in memory.
        #[cfg(unix)]
        // SAFETY: sets a signal's disposition to "ignore"; no handler runs.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        }
        let mut options = OpenOptions::new();
        options.create(true).read(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).with_context(|| format!("cannot open recording {}", path.display()))?;
        let codec = codec_of(&mut file, path)?;
        let good_len = match codec {
            Codec::Plain => repair_torn_tail(&mut file, path)?,
            codec => repair_torn_frame(&mut file, path, codec)?,
        };
        let sync_handle = if durability.fsync { Some(Arc::new(file.try_clone()?)) } else { None };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { jobs: VecDeque::new(), bytes: 0, closed: false, writer_waiting: false }),
            work: Condvar::new(),
            pen: Mutex::new(Pen {
                file,
                codec,
                stats: WriteStats::default(),
                sync_handle,
                good_len,
                held: VecDeque::new(),
                unsynced: false,
                refused: None,
            }),
            secrets,
            redact,
            failing: AtomicBool::new(false),
            writer_tid: AtomicI32::new(0),
            boosted: AtomicBool::new(false),
            may_idle: priority::can_leave_idle(),
            last_queued_ns: AtomicU64::new(0),
            watchdog_asleep: AtomicBool::new(false),
            epoch: Instant::now(),
        });
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new().name("asb-recording-writer".into()).spawn(move || shared.write_loop())?
        };
        let watchdog = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new().name("asb-recording-watchdog".into()).spawn(move || shared.watch())?
        };
        Ok(RecordingWriter { path: path.to_path_buf(), shared, threads: Mutex::new(vec![writer, watchdog]) })
    }

    /// Why new calls are to be refused: the disk refuses the recording's lines just now.
    pub(crate) fn refusing(&self) -> Option<String> {
        if !self.shared.failing.load(Ordering::Relaxed) {
            return None;
        }
        lock(&self.shared.pen).refused.clone()
    }

    /// Queues a line; it is on disk moments later.
    #[cfg(test)]
    pub(crate) fn write(&self, line: CallLine) {
        self.write_with(0, move || line);
    }

    /// Queues a line that `build` makes on the thread that writes it (keeping the caller's
    /// thread free of parsing and serialisation); `bytes`: what the queued job holds.
    pub(crate) fn write_with(&self, bytes: usize, build: impl FnOnce() -> CallLine + Send + 'static) {
        let shared = &self.shared;
        let job = Job { build: Box::new(build), bytes, queued: Instant::now() };
        let behind = {
            let mut q = lock(&shared.queue);
            if q.closed {
                drop(q);
                // Too late for the writer's thread: written here, in the caller's time.
                shared.write_job(&mut lock(&shared.pen), job);
                return;
            }
            q.jobs.push_back(job);
            q.bytes += bytes;
            if q.writer_waiting {
                q.writer_waiting = false;
                shared.work.notify_one();
            }
            q.jobs.len() > MAX_QUEUED_LINES || q.bytes > MAX_QUEUED_BYTES
        };
        shared.last_queued_ns.store(shared.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if shared.watchdog_asleep.swap(false, Ordering::SeqCst) {
            if let Some(watchdog) = lock(&self.threads).get(1) {
                watchdog.thread().unpark();
            }
        }
        if behind {
            // The writer is not keeping up: raise it, and help it down to half the bound.
            shared.boost();
            shared.drain(MAX_QUEUED_LINES / 2, MAX_QUEUED_BYTES / 2);
        }
    }

    /// Writes what is queued and closes the file: the lines the disk still refuses are an
    /// error naming how many were lost.
    pub(crate) fn close(&self) -> Result<WriteStats> {
        {
            let mut q = lock(&self.shared.queue);
            q.closed = true;
            self.shared.work.notify_all();
        }
        let threads = std::mem::take(&mut *lock(&self.threads));
        for thread in threads {
            thread.thread().unpark();
            if thread.join().is_err() {
                anyhow::bail!("a recording writer thread failed");
            }
        }
        self.shared.drain(0, 0);
        self.shared.retry();
        let pen = lock(&self.shared.pen);
        if !pen.held.is_empty() {
            anyhow::bail!(
                "{} finished call(s) could not be written to {}: {}",
                pen.held.len(),
                self.path.display(),
                pen.refused.clone().unwrap_or_default()
            );
        }
        if let Err(e) = pen.file.sync_all() {
            return Err(e).with_context(|| format!("writing {} failed", self.path.display()));
        }
        Ok(pen.stats.clone())
    }
}

impl Shared {
    /// The writer's thread: builds and writes queued lines in order; while the disk
    /// refuses, tries the held lines again every [`RETRY_EVERY`].
    fn write_loop(&self) {
        self.writer_tid.store(priority::current_tid(), Ordering::Relaxed);
        if self.may_idle {
            priority::set_idle(0, true);
        }
        loop {
            self.drain(0, 0);
            if self.boosted.swap(false, Ordering::Relaxed) && self.may_idle {
                priority::set_idle(0, true);
            }
            let mut q = lock(&self.queue);
            if self.failing.load(Ordering::Relaxed) {
                if !q.closed {
                    q = self.work.wait_timeout(q, RETRY_EVERY).unwrap_or_else(|p| p.into_inner()).0;
                }
                let closed = q.closed;
                drop(q);
                self.retry();
                if closed && self.failing.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            while q.jobs.is_empty() && !q.closed {
                q.writer_waiting = true;
                q = self.work.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.jobs.is_empty() && q.closed {
                return;
            }
        }
    }

    /// Tries the lines the disk refused again.
    fn retry(&self) {
        let mut pen = lock(&self.pen);
        pen.retry();
        self.failing.store(!pen.held.is_empty(), Ordering::Relaxed);
        let due = pen.due_sync();
        drop(pen);
        sync(due);
    }

    /// Builds and writes queued lines, oldest first, until at most `lines` and `bytes` are
    /// left; then syncs when asked to.
    fn drain(&self, lines: usize, bytes: usize) {
        let mut pen = lock(&self.pen);
        loop {
            let job = {
                let mut q = lock(&self.queue);
                if q.jobs.len() <= lines && q.bytes <= bytes {
                    break;
                }
                let Some(job) = q.jobs.pop_front() else { break };
                q.bytes -= job.bytes;
                job
            };
            self.write_job(&mut pen, job);
        }
        let due = pen.due_sync();
        drop(pen);
        sync(due);
    }

    fn write_job(&self, pen: &mut Pen, job: Job) {
        let line = (job.build)();
        let text = if self.redact.is_empty() {
            serde_json::to_string(&line)
        } else {
            serde_json::to_value(&line).map(|mut value| {
                self.redact.apply(&mut value, &self.secrets);
                value.to_string()
            })
        };
        let mut text = match text {
            Ok(text) => text,
            Err(e) => {
                crate::errors::print(
                    "asb record",
                    format_args!("a call's line could not be serialised ({e}); call seq {} skipped", line.seq),
                );
                return;
            }
        };
        self.secrets.scrub(&mut text);
        text.push('\n');
        pen.append(text);
        if pen.held.is_empty() {
            pen.stats.max_lag = pen.stats.max_lag.max(job.queued.elapsed());
        }
        self.failing.store(!pen.held.is_empty(), Ordering::Relaxed);
    }

    /// Raises the writer to normal priority (once), so its queue drains at a fair share.
    fn boost(&self) {
        if self.may_idle && !self.boosted.swap(true, Ordering::Relaxed) {
            priority::set_idle(self.writer_tid.load(Ordering::Relaxed), false);
        }
    }

    /// The watchdog: raises the writer when the oldest queued line has waited
    /// [`BOOST_AFTER`]; sleeps when no call has come for [`WATCHDOG_IDLE`].
    fn watch(&self) {
        loop {
            std::thread::sleep(WATCH_EVERY);
            let (oldest, closed) = {
                let q = lock(&self.queue);
                (q.jobs.front().map(|j| j.queued.elapsed()), q.closed)
            };
            if closed {
                return;
            }
            if oldest.is_some_and(|age| age >= BOOST_AFTER) {
                self.boost();
            }
            let since_last =
                self.epoch.elapsed().saturating_sub(Duration::from_nanos(self.last_queued_ns.load(Ordering::Relaxed)));
            if oldest.is_none() && since_last >= WATCHDOG_IDLE {
                self.watchdog_asleep.store(true, Ordering::SeqCst);
                let q = lock(&self.queue);
                let (empty, closed) = (q.jobs.is_empty(), q.closed);
                drop(q);
                if closed {
                    return;
                }
                if empty {
                    std::thread::park();
                }
                self.watchdog_asleep.store(false, Ordering::SeqCst);
            }
        }
    }
}

impl Pen {
    /// Appends one whole line, or holds it when the disk refuses (after the lines already
    /// held, which go first).
    fn append(&mut self, text: String) {
        if !self.held.is_empty() {
            self.held.push_back(text);
            return;
        }
        if let Err(e) = self.write_whole(text.as_bytes()) {
            self.held.push_back(text);
            self.refuse(e);
        }
    }

    /// Writes the line `text` whole (as one frame when compressing); on failure the file is
    /// cut back to its last whole line.
    fn write_whole(&mut self, text: &[u8]) -> io::Result<()> {
        let framed;
        let bytes = match self.codec {
            Codec::Plain => text,
            codec => {
                framed = codec.frame(text)?;
                &framed[..]
            }
        };
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.good_len += bytes.len() as u64;
                self.stats.lines += 1;
                self.stats.bytes += bytes.len() as u64;
                self.unsynced = true;
                Ok(())
            }
            Err(e) => {
                // A part may have been written: never leave it for the next line to be glued to.
                let _ = self.file.set_len(self.good_len);
                Err(e)
            }
        }
    }

    fn refuse(&mut self, e: io::Error) {
        let first = self.refused.is_none();
        self.refused = Some(e.to_string());
        if first {
            crate::errors::print(
                "asb record",
                format_args!(
                    "the recording cannot be written ({e}). New calls are refused with 503 \
                 until it can; {} finished call(s) wait in memory and are written first when the disk takes \
                 them again.",
                    self.held.len()
                ),
            );
        }
    }

    /// Tries the held lines again, oldest first.
    fn retry(&mut self) {
        let held_before = self.held.len();
        while let Some(text) = self.held.pop_front() {
            if let Err(e) = self.write_whole(text.as_bytes()) {
                self.held.push_front(text);
                self.refused = Some(e.to_string());
                return;
            }
        }
        if held_before > 0 {
            self.refused = None;
            eprintln!("asb record: the recording can be written again: {held_before} waiting line(s) written; calls are accepted again.");
        }
    }

    /// The file to sync, when `fsync` is on and lines were written since the last sync:
    /// synced by the caller after it lets go of the pen, so writing goes on meanwhile.
    fn due_sync(&mut self) -> Option<Arc<File>> {
        if !std::mem::take(&mut self.unsynced) {
            return None;
        }
        self.sync_handle.clone()
    }
}

/// Syncs the file's data (what was written before the call is on stable storage after it).
fn sync(file: Option<Arc<File>>) {
    if let Some(file) = file {
        if let Err(e) = file.sync_data() {
            crate::errors::print("asb record", format_args!("syncing the recording failed: {e}"));
        }
    }
}

/// The codec of the recording open as `file`: its bytes', or for an empty file its name's.
fn codec_of(file: &mut File, path: &Path) -> Result<Codec> {
    let mut head = [0u8; 4];
    let mut got = 0;
    file.seek(SeekFrom::Start(0)).with_context(|| format!("cannot read {}", path.display()))?;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    Ok(if got == 0 { Codec::for_new_file(path) } else { Codec::from_magic(&head[..got]) })
}

/// The most a torn last frame is cut off without asking: more than this after the last whole
/// frame is damage, not a write cut short (a frame holds one line, of at most 256 MiB, and
/// compressed lines are a fraction of that).
const MAX_TORN_FRAME: u64 = 64 << 20;

/// Makes a compressed recording that ends with a torn frame whole again (cut back to the
/// end of its last complete frame, said on stderr), and returns its length.
fn repair_torn_frame(file: &mut File, path: &Path, codec: Codec) -> Result<u64> {
    let len = file.metadata()?.len();
    let good = compression::end_of_whole_frames(file, codec)
        .with_context(|| format!("cannot read {}", path.display()))?
        .unwrap_or(len);
    if len - good > MAX_TORN_FRAME {
        anyhow::bail!(
            "{}: {} bytes after its last whole {codec} frame, more than a torn write leaves: not appending to it \
             (a damaged file? move it aside, or read what is whole with `asb validate`)",
            path.display(),
            len - good
        );
    }
    if good < len {
        file.set_len(good).with_context(|| format!("cannot repair the end of {}", path.display()))?;
        eprintln!(
            "asb record: {}: removed an incomplete last {codec} frame of {} bytes (a recorder stopped mid-write)",
            path.display(),
            len - good
        );
    }
    Ok(good)
}

/// Makes a recording that ends with a torn line whole again, and returns its length: a
/// last line without its newline is completed when it is a whole JSON object, else
/// removed (a recorder killed mid-write), and either repair is said on stderr.
fn repair_torn_tail(file: &mut File, path: &Path) -> Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    let context = || format!("cannot read the end of {}", path.display());
    // Find the last newline, reading backwards in blocks.
    let mut end_of_last_line = 0u64;
    let mut pos = len;
    let mut block = vec![0u8; 64 * 1024];
    let mut last_byte_is_newline = None;
    while pos > 0 {
        let n = block.len().min(pos as usize);
        pos -= n as u64;
        file.seek(SeekFrom::Start(pos)).with_context(context)?;
        file.read_exact(&mut block[..n]).with_context(context)?;
        last_byte_is_newline.get_or_insert(block[n - 1] == b'\n');
        if let Some(i) = memchr::memrchr(b'\n', &block[..n]) {
            end_of_last_line = pos + i as u64 + 1;
            break;
        }
    }
    if last_byte_is_newline == Some(true) {
        return Ok(len);
    }
    let tail_len = len - end_of_last_line;
    let whole = tail_len <= 256 << 20 && {
        let mut tail = Vec::with_capacity(tail_len as usize);
        file.seek(SeekFrom::Start(end_of_last_line)).with_context(context)?;
        file.take(tail_len).read_to_end(&mut tail).with_context(context)?;
        serde_json::from_slice::<serde_json::Value>(&tail).is_ok_and(|v| v.is_object())
    };
    let repair = || format!("cannot repair the end of {}", path.display());
    if whole {
        file.write_all(b"\n").with_context(repair)?;
        eprintln!("asb record: {}: its last line had no newline; added one", path.display());
        Ok(len + 1)
    } else {
        file.set_len(end_of_last_line).with_context(repair)?;
        eprintln!(
            "asb record: {}: removed an incomplete last line of {tail_len} bytes (a recorder stopped mid-write)",
            path.display()
        );
        Ok(end_of_last_line)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Scheduling policy of the writer's thread (Linux; elsewhere it runs at normal priority).
mod priority {
    /// The calling thread's id.
    pub(crate) fn current_tid() -> i32 {
        #[cfg(target_os = "linux")]
        // SAFETY: gettid has no arguments and cannot fail.
        unsafe {
            libc::syscall(libc::SYS_gettid) as i32
        }
        #[cfg(not(target_os = "linux"))]
        0
    }

    /// Puts thread `tid` (0: the calling one) under `SCHED_IDLE`, or back to normal.
    pub(crate) fn set_idle(tid: i32, idle: bool) -> bool {
        #[cfg(target_os = "linux")]
        {
            let policy = if idle { libc::SCHED_IDLE } else { libc::SCHED_OTHER };
            // Zeroed, not a struct literal: musl's sched_param has more fields than glibc's
            // (the static build of the container image uses musl). Priority 0 is what both
            // policies take.
            // SAFETY: sched_param is plain integers, valid all zero; a plain system call.
            unsafe {
                let param: libc::sched_param = std::mem::zeroed();
                libc::sched_setscheduler(tid, policy, &param) == 0
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (tid, idle);
            false
        }
    }

    /// Whether a thread put under `SCHED_IDLE` can be raised back (root, `CAP_SYS_NICE` or
    /// `RLIMIT_NICE` allow it): tried on a thread of its own.
    pub(crate) fn can_leave_idle() -> bool {
        std::thread::spawn(|| set_idle(0, true) && set_idle(0, false)).join().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::redact::REDACTED;
    use std::sync::mpsc;

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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "a recording is private to its owner");
        }
        // Appending to an existing recording keeps what was there.
        let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
        w.write(CallLine { seq: 3, ..Default::default() });
        w.close().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    fn seqs(path: &Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn a_writer_too_far_behind_has_callers_drain_the_queue_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
        // The writer's thread is kept busy with the first line until the gate opens: it
        // holds the file, so a caller that must help waits for it (the order is kept).
        let (open_gate, gate) = mpsc::channel::<()>();
        let (started, is_started) = mpsc::channel::<()>();
        w.write_with(10, move || {
            let _ = started.send(());
            let _ = gate.recv();
            CallLine { seq: 1, ..Default::default() }
        });
        is_started.recv().unwrap();
        for seq in 2..=MAX_QUEUED_LINES as u64 + 1 {
            w.write(CallLine { seq, ..Default::default() });
        }
        assert!(std::fs::read_to_string(&path).unwrap().is_empty());
        // One more line is past the bound: this caller drains, once the file is free.
        let helper = {
            let w = Arc::new(w);
            let w2 = Arc::clone(&w);
            let t = std::thread::spawn(move || w2.write(CallLine { seq: 5000, ..Default::default() }));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!t.is_finished(), "the caller waits for the file rather than writing out of order");
            open_gate.send(()).unwrap();
            t.join().unwrap();
            w
        };
        let written = seqs(&path);
        assert!(written.len() >= MAX_QUEUED_LINES / 2, "{}", written.len());
        let stats = helper.close().unwrap();
        assert_eq!(stats.lines, MAX_QUEUED_LINES as u64 + 2);
        let mut expected: Vec<u64> = (1..=MAX_QUEUED_LINES as u64 + 1).collect();
        expected.push(5000);
        assert_eq!(seqs(&path), expected, "completion order, nothing lost");
    }

    #[test]
    fn a_line_waits_at_most_the_bound_even_when_the_writer_is_starved() {
        // Every core is kept busy by spinning threads at normal priority; the writer's
        // thread, under SCHED_IDLE, would get almost nothing without the watchdog.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        let spinners: Vec<_> = (0..cores)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let mut worst = Duration::ZERO;
        for seq in 1..=20u64 {
            let queued = Instant::now();
            w.write(CallLine { seq, ..Default::default() });
            while seqs(&path).len() < seq as usize {
                std::thread::sleep(Duration::from_millis(1));
                assert!(queued.elapsed() < Duration::from_secs(10), "line {seq} never written");
            }
            worst = worst.max(queued.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        spinners.into_iter().for_each(|t| t.join().unwrap());
        w.close().unwrap();
        // Loose here (a test machine is noisy; the bound is measured in bench/): what
        // matters is that it is not the seconds an idle thread waits under load.
        assert!(worst < Duration::from_secs(2), "worst wait {worst:?}");
    }

    #[test]
    fn a_torn_last_line_is_removed_and_a_whole_one_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        std::fs::write(&path, "{\"seq\":1}\n{\"seq\":2,\"mod").unwrap();
        let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
        w.write(CallLine { seq: 3, ..Default::default() });
        w.close().unwrap();
        assert_eq!(seqs(&path), vec![1, 3]);
        std::fs::write(&path, "{\"seq\":1}\n{\"seq\":2}").unwrap();
        let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
        w.write(CallLine { seq: 3, ..Default::default() });
        w.close().unwrap();
        assert_eq!(seqs(&path), vec![1, 2, 3]);
    }

    #[test]
    fn compressed_recordings_are_a_frame_per_line_and_a_torn_frame_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["rec.jsonl.zst", "rec.jsonl.gz"] {
            let path = dir.path().join(name);
            let secrets = Secrets::default();
            secrets.add("sk-secret-123");
            let w = RecordingWriter::open(&path, secrets).unwrap();
            for seq in 1..=3 {
                let line = CallLine { seq, error: Some("key sk-secret-123".into()), ..Default::default() };
                w.write(line);
            }
            w.close().unwrap();
            let read = |path: &Path| crate::recording::reader::read(path).unwrap();
            let calls = read(&path);
            assert_eq!(calls.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 2, 3], "{name}");
            assert!(calls.iter().all(|c| c.error.as_deref() == Some("key [redacted]")));
            let bytes = std::fs::read(&path).unwrap();
            let codec = Codec::from_magic(&bytes);
            assert_eq!(codec, Codec::for_new_file(&path));
            // A recorder killed mid-write: the last frame is torn; reopening cuts it off
            // and appends after the whole ones.
            let torn = codec.frame(b"{\"seq\":4,\"model\":\"cut short by a kill\"}\n").unwrap();
            let mut with_torn = bytes.clone();
            with_torn.extend_from_slice(&torn[..torn.len() / 2]);
            std::fs::write(&path, &with_torn).unwrap();
            let problem = crate::recording::reader::read(&path).unwrap_err().to_string();
            assert!(problem.contains(":4: the ") && problem.contains("ends inside a frame"), "{problem}");
            let w = RecordingWriter::open(&path, Secrets::default()).unwrap();
            w.write(CallLine { seq: 5, ..Default::default() });
            w.close().unwrap();
            assert_eq!(read(&path).iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 2, 3, 5], "{name}");
            // An existing file keeps its codec whatever its name says.
            let plain_named_zst = dir.path().join(format!("plain-{name}"));
            std::fs::write(&plain_named_zst, "{\"seq\":1}\n").unwrap();
            let w = RecordingWriter::open(&plain_named_zst, Secrets::default()).unwrap();
            w.write(CallLine { seq: 2, ..Default::default() });
            w.close().unwrap();
            assert_eq!(seqs(&plain_named_zst), vec![1, 2]);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_refused_write_leaves_no_torn_line_and_the_held_lines_follow_when_it_is_taken() {
        // /dev/full refuses every write (ENOSPC), as a full disk does.
        let w = RecordingWriter::open(Path::new("/dev/full"), Secrets::default()).unwrap();
        w.write(CallLine { seq: 1, ..Default::default() });
        let deadline = Instant::now() + Duration::from_secs(5);
        while w.refusing().is_none() {
            assert!(Instant::now() < deadline, "the refusal was not noticed");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(w.refusing().unwrap().contains("No space left"), "{:?}", w.refusing());
        let err = w.close().unwrap_err().to_string();
        assert!(err.contains("1 finished call(s) could not be written"), "{err}");

        // A pen whose disk comes back: the held lines go first, in order.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let file = OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let mut pen = Pen {
            file,
            codec: Codec::Plain,
            stats: WriteStats::default(),
            sync_handle: None,
            good_len: 0,
            held: VecDeque::from(["{\"seq\":1}\n".to_string()]),
            unsynced: false,
            refused: Some("full".into()),
        };
        pen.append("{\"seq\":2}\n".into());
        assert_eq!(pen.held.len(), 2, "a line behind held ones waits its turn");
        pen.retry();
        assert!(pen.held.is_empty() && pen.refused.is_none());
        assert_eq!(seqs(&path), vec![1, 2]);
    }
}
