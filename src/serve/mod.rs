//! `asb serve`: answers OpenAI and Anthropic calls from recordings made by `asb record`,
//! offline and deterministic — a test double any language can point its SDK at, streaming
//! included (recorded SSE events are sent back byte for byte).
//!
//! * [`args`] — the flags;
//! * [`key`] — the request key: method, path and the body's canonical text
//!   ([`crate::recording::normalize`], volatile values normalised);
//! * [`cassette`] — one recording indexed by key, served in recorded order;
//! * [`library`] — one file, or a directory served by name and released when idle;
//! * [`handler`] — the handler: recorded answer, record mode or miss;
//! * [`admin`] — `POST /__asb/reset` and `GET /__asb/requests`;
//! * [`journal`] — the requests received since start or the last reset;
//! * [`pacing`] — recorded streams sent at once or at their recorded times;
//! * [`miss`] — the answer and report when nothing recorded matches;
//! * [`record_mode`] — `--mode once|new_episodes|all -e URL`: calls handed to the
//!   recording proxy of `asb record`, appended to the same file;
//! * this file — the command: start, banner, idle release, stop.

mod admin;
mod args;
pub(crate) mod cassette;
mod handler;
mod journal;
pub(crate) mod key;
pub(crate) mod library;
mod miss;
mod pacing;
mod record_mode;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

pub(crate) use args::{Mode, ServeArgs};

use handler::{handle, State};
use library::Library;

use crate::recording::normalize::Normalizer;
use crate::wire::server::{self, HyperOnly, PerCore, Shutdown};

/// `asb serve`: answer from recordings until Ctrl+C.
pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let (recording, mode) = record_mode::open(&args)?;
    // Bound before a large recording loads: a busy port fails at once, and a client that
    // connects during the load waits for its answer instead of being refused.
    let listener = server::bind("asb serve", args.listen.host, args.listen.port)?;
    let normalizer = Normalizer::new(&args.ignore, !args.no_presets);
    let library = match mode {
        Mode::All => None,
        _ => Some(Library::open(&args.recording, normalizer, Duration::from_secs(args.idle_release))?),
    };
    let url = format!("http://{}", listener.local_addr());
    println!("asb serve: listening on {url}");
    match &recording {
        Some(r) => println!(
            "  mode {:?}: {} is forwarded to {} and appended to {}",
            mode,
            if mode == Mode::All { "every call" } else { "a call that was not recorded" },
            r.upstream_url(),
            args.recording.display()
        ),
        None => {
            println!("  no upstream: a request that was not recorded gets an error naming the closest recorded one")
        }
    }
    if let Some(library) = library.as_ref().filter(|l| l.is_dir()) {
        let names = library.names();
        println!("  {} recordings in {}, each at {url}/c/NAME", names.len(), args.recording.display());
        if let Some(first) = names.first() {
            println!("  e.g. ANTHROPIC_BASE_URL={url}/c/{first}   OPENAI_BASE_URL={url}/c/{first}/v1");
        }
    } else {
        println!("  recording: {}", args.recording.display());
        println!("  ANTHROPIC_BASE_URL={url}   OPENAI_BASE_URL={url}/v1");
    }

    let state =
        Arc::new(State { library, pacing: args.pacing, repeats: args.allow_repeats, journal: Default::default() });
    let recording = recording.map(Arc::new);
    let shutdown = Shutdown {
        drain: Duration::ZERO,
        on_cut: match &recording {
            // Calls being recorded are marked before the server drops them.
            Some(r) => {
                let r = Arc::clone(r);
                Arc::new(move || r.interrupt_all())
            }
            None => Arc::new(|| {}),
        },
    };
    let server = {
        let (state, recording) = (Arc::clone(&state), recording.clone());
        PerCore::start("asb-serve", listener, shutdown, args.timeouts, move || {
            // Each thread's own recorder (its upstream connection pool lives on that thread).
            let recorder = recording.as_ref().map(|r| r.on_this_thread()).transpose()?;
            let state = Arc::clone(&state);
            Ok((HyperOnly, move |req| handle(Arc::clone(&state), recorder.clone(), req)))
        })?
    };
    let mut signals = crate::signals::StopSignals::new()?;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Some(library) = &state.library {
                    library.release_idle();
                }
            }
            _ = signals.next() => break,
        }
    }
    server.stop();
    tokio::task::spawn_blocking(move || server.join("asb serve")).await?;
    if let Some(recording) = recording {
        let lines = recording.close()?;
        eprintln!("asb serve: stopped; {lines} call(s) recorded to {}", args.recording.display());
    } else {
        eprintln!("asb serve: stopped");
    }
    Ok(())
}
