//! The recordings a server answers from: one file served at the root, or a directory whose
//! recordings are served by name under `/c/NAME/…`, each loaded on first use and released
//! after it has been idle, so memory stays flat over a large test suite.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::cassette::Cassette;
use crate::recording::normalize::Normalizer;

pub(crate) type SharedCassette = Arc<Mutex<Cassette>>;

/// The file names of a recording called NAME in a directory, in the order they are looked for.
const RECORDING_SUFFIXES: [&str; 3] = [".jsonl", ".jsonl.zst", ".jsonl.gz"];

pub(crate) struct Library {
    root: PathBuf,
    pub normalizer: Normalizer,
    idle_release: Duration,
    /// A single file's recording (loaded at start, never released).
    file: Option<SharedCassette>,
    /// A directory's recordings in use, with when each was last used.
    loaded: Mutex<HashMap<String, (SharedCassette, Instant)>>,
}

/// Where a request goes: which recording, and the path within it.
pub(crate) struct Target<'a> {
    pub name: &'a str,
    pub path: &'a str,
}

impl Library {
    pub(crate) fn open(root: &Path, normalizer: Normalizer, idle_release: Duration) -> Result<Self> {
        let meta = std::fs::metadata(root).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", root.display()))?;
        // A single recording is loaded at once, so a broken file fails at start.
        let file = match meta.is_dir() {
            false => {
                if let Some(problem) = not_a_recording_file(root) {
                    bail!("{} {problem}", root.display());
                }
                Some(Arc::new(Mutex::new(Cassette::load(root, &normalizer)?)))
            }
            true => None,
        };
        let library = Library { root: root.to_path_buf(), normalizer, idle_release, file, loaded: Mutex::default() };
        if library.is_dir() && library.names().is_empty() {
            bail!("{} holds no *.jsonl (or .jsonl.zst, .jsonl.gz) recordings", root.display());
        }
        Ok(library)
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.file.is_none()
    }

    /// Names of the recordings in a directory (`NAME.jsonl`, or compressed
    /// `NAME.jsonl.zst` / `NAME.jsonl.gz`).
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.root)
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| {
                        let file = e.file_name().to_string_lossy().into_owned();
                        RECORDING_SUFFIXES.iter().find_map(|suffix| file.strip_suffix(suffix).map(str::to_string))
                    })
                    .filter(|name| !name.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names.dedup();
        names
    }

    /// Splits `/c/NAME/rest` (directory mode); a single file takes every path as is.
    pub(crate) fn route<'a>(&self, path_and_query: &'a str) -> Option<Target<'a>> {
        if !self.is_dir() {
            return Some(Target { name: "", path: path_and_query });
        }
        let rest = path_and_query.strip_prefix("/c/")?;
        Some(match rest.find('/') {
            Some(slash) => Target { name: &rest[..slash], path: &rest[slash..] },
            None => Target { name: rest, path: "/" },
        })
    }

    /// The recording called `name`, loading it if needed — on the blocking pool, so the
    /// other connections of this server thread are answered meanwhile.
    pub(crate) async fn get(&self, name: &str) -> Result<SharedCassette> {
        if let Some(file) = &self.file {
            return Ok(Arc::clone(file));
        }
        if let Some((c, used)) = self.loaded.lock().unwrap_or_else(|p| p.into_inner()).get_mut(name) {
            *used = Instant::now();
            return Ok(Arc::clone(c));
        }
        if name.is_empty() || name.contains('/') || name.contains("..") {
            bail!("no recording named {name:?}");
        }
        // NAME.jsonl, else its compressed form.
        let file = RECORDING_SUFFIXES
            .iter()
            .map(|suffix| self.root.join(format!("{name}{suffix}")))
            .find(|f| not_a_recording_file(f) != Some(NOT_FOUND))
            .unwrap_or_else(|| self.root.join(format!("{name}.jsonl")));
        if let Some(problem) = not_a_recording_file(&file) {
            match problem {
                NOT_FOUND => {
                    bail!("no recording named {name:?} in {} (have: {})", self.root.display(), self.names().join(", "))
                }
                _ => bail!("{} {problem}", file.display()),
            }
        }
        let normalizer = self.normalizer.clone();
        let cassette = tokio::task::spawn_blocking(move || Cassette::load(&file, &normalizer))
            .await
            .map_err(|e| anyhow::anyhow!("loading {name:?} failed: {e}"))??;
        // Two first calls at once may both have loaded it: the first one in serves both.
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let (c, used) =
            loaded.entry(name.to_string()).or_insert_with(|| (Arc::new(Mutex::new(cassette)), Instant::now()));
        *used = Instant::now();
        Ok(Arc::clone(c))
    }

    /// Every loaded recording back to unserved (one not loaded is fresh when it loads);
    /// how many recorded calls that is.
    pub(crate) fn reset(&self) -> usize {
        let lock = |c: &SharedCassette| c.lock().unwrap_or_else(|p| p.into_inner()).reset();
        let loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        self.file.iter().map(lock).chain(loaded.values().map(|(c, _)| lock(c))).sum()
    }

    /// Releases directory recordings idle for longer than the release delay.
    pub(crate) fn release_idle(&self) -> usize {
        if !self.is_dir() {
            return 0;
        }
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let before = loaded.len();
        loaded.retain(|_, (_, used)| used.elapsed() < self.idle_release);
        let released = before - loaded.len();
        drop(loaded);
        if released > 0 {
            give_back_freed_memory();
        }
        released
    }
}

const NOT_FOUND: &str = "does not exist";

/// Why `path` cannot be read as a recording without even opening it (`None`: it is a
/// regular file, or a link to one). A FIFO is never opened: that would wait for a writer.
fn not_a_recording_file(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        // Linux's ELOOP: std's ErrorKind::FilesystemLoop is not stable yet.
        Err(e) if e.raw_os_error() == Some(40) => return Some("is a symlink loop, not a recording"),
        Err(_) if std::fs::symlink_metadata(path).is_ok() => {
            return Some("is a symlink to a file that does not exist (or cannot be read)")
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(NOT_FOUND),
        Err(_) => return Some("cannot be read"),
    };
    let kind = meta.file_type();
    match () {
        _ if kind.is_file() => None,
        _ if kind.is_dir() => Some("is a directory, not a recording"),
        _ if kind.is_fifo() => Some("is a FIFO, not a recording"),
        _ if kind.is_socket() => Some("is a socket, not a recording"),
        _ => Some("is a device, not a recording"),
    }
}

/// Recordings are loaded on the blocking pool's threads, so glibc spreads them over several
/// malloc arenas and keeps what they freed: without this, the server's RSS would keep the
/// high-water mark of every recording ever loaded, not of those loaded now.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; any pad value is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_no_recordings_say_what_they_are() {
        let dir = std::env::temp_dir().join(format!("asb-library-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let at = |name: &str| dir.join(name);
        std::fs::write(at("ok.jsonl"), "").unwrap();
        let _ = std::fs::remove_file(at("loop.jsonl"));
        std::os::unix::fs::symlink(at("loop.jsonl"), at("loop.jsonl")).unwrap();
        let _ = std::fs::remove_file(at("dangling.jsonl"));
        std::os::unix::fs::symlink(at("nowhere"), at("dangling.jsonl")).unwrap();
        let fifo = std::ffi::CString::new(at("fifo.jsonl").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert_eq!(not_a_recording_file(&at("ok.jsonl")), None);
        assert_eq!(not_a_recording_file(&at("loop.jsonl")), Some("is a symlink loop, not a recording"));
        assert!(not_a_recording_file(&at("dangling.jsonl")).unwrap().contains("does not exist"));
        assert_eq!(not_a_recording_file(&at("fifo.jsonl")), Some("is a FIFO, not a recording"));
        assert_eq!(not_a_recording_file(&at("missing.jsonl")), Some(NOT_FOUND));
        assert_eq!(not_a_recording_file(&dir), Some("is a directory, not a recording"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
