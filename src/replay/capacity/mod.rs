//! `asb capacity`: how many concurrent agent sessions (or sessions arriving per second) a
//! server holds within an SLO. Each step is a full replay of the scenario at one load —
//! `--sessions N` (or `--session-rate R`) for `--step-duration`, the first
//! `--step-warmup` left out — judged on the run-level SLO ([`super::slo`]: latencies from
//! the intended send time). The [`search`] brackets the limit by doubling and bisects it.
//!
//! Noise: a step whose observed value lies within `--borderline` (10 %) of a limit is run
//! once more and judged on both runs' samples pooled, so one outlier cannot flip it. A
//! step that cannot be measured (the server unreachable, the run stopped, every request
//! failed) ends the search with that cause; `--budget` bounds the whole search.

pub(crate) mod early_stop;
pub(crate) mod report;
pub(crate) mod search;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use super::results::RunResults;
use super::slo::Slo;
use super::{replay_once, Endpoint, ReplayArgs};
use early_stop::EarlyStop;
use report::{CapacityResult, StepResult};
use search::Search;

/// What the search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum By {
    /// Concurrent sessions, closed loop (`--sessions N`).
    Sessions,
    /// Sessions arriving per second, open loop (`--session-rate R`).
    Rate,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CapacityArgs {
    #[command(flatten)]
    pub replay: ReplayArgs,
    /// What to search over: concurrent sessions, or the session arrival rate (sessions/s).
    #[arg(long, value_enum, default_value = "sessions")]
    pub by: By,
    /// The first load tried.
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub start: f64,
    /// The highest load tried.
    #[arg(long, default_value_t = 1024.0, value_parser = positive)]
    pub max: f64,
    /// Stop when the bracket is this narrow [default: 1 session, or 5 % of the start rate].
    #[arg(long, value_parser = positive)]
    pub resolution: Option<f64>,
    /// Length of each step (e.g. 60s, 2m).
    #[arg(long, default_value = "60s", value_parser = super::args::parse_duration)]
    pub step_duration: Duration,
    /// Left out of each step's figures: its ramp-up.
    #[arg(long, default_value = "10s", value_parser = super::args::parse_duration)]
    pub step_warmup: Duration,
    /// The longest the whole search may take; it stops with the bracket found so far.
    #[arg(long, default_value = "30m", value_parser = super::args::parse_duration)]
    pub budget: Duration,
    /// A step whose observed value is within this share of a limit is run again and judged
    /// on both runs pooled.
    #[arg(long, default_value_t = 0.1)]
    pub borderline: f64,
}

fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("expected a number above 0, got {s:?}")),
    }
}

/// The flags a step sets itself, which the user may not set.
fn check(args: &CapacityArgs) -> Result<Slo> {
    let r = &args.replay;
    let set_by_steps = [
        ("--sessions", r.sessions.is_some()),
        ("--session-rate", r.session_rate.is_some()),
        ("--request-rate", r.request_rate.is_some()),
        ("--max-concurrent", r.max_concurrent.is_some()),
        ("--duration", r.duration.is_some()),
        ("--warmup", r.warmup.is_some()),
        ("--json", r.json),
    ];
    if let Some((flag, _)) = set_by_steps.iter().find(|(_, given)| *given) {
        bail!("asb capacity sets {flag} for each step: use --by, --start, --max, --step-duration, --step-warmup");
    }
    if r.shard.is_some() || r.start_at.is_some() {
        bail!(
            "asb capacity judges each step in one process: --shard and --start-at are for asb replay \
             (shard a single load there and merge with asb report -i 'shard-*.json')"
        );
    }
    if args.step_warmup >= args.step_duration {
        bail!("--step-warmup must be shorter than --step-duration");
    }
    r.slo.clone().context("asb capacity needs --slo, e.g. --slo 'ttft:p99<=2s,decode_tps:p50>=20'")
}

pub(crate) async fn run(args: CapacityArgs) -> Result<ExitCode> {
    super::check_args(&args.replay)?;
    let slo = check(&args)?;
    let output = args.replay.output.clone();
    if let Some(path) = &output {
        super::check_writable(path)?;
    }
    let resolution = args.resolution.unwrap_or(match args.by {
        By::Sessions => 1.0,
        By::Rate => args.start * 0.05,
    });
    let mut search = Search::new(args.start, args.max, resolution, args.by == By::Sessions);
    println!("{}", report::plan_text(&args, &slo, resolution));
    if args.replay.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let endpoint = Endpoint::open(&args.replay).await?;
    let outcome = steps(&args, &slo, &endpoint, &mut search, output.as_deref()).await;
    let label = endpoint.label.clone();
    endpoint.close().await;
    let (steps, stopped, elapsed_s) = outcome?;
    let result = CapacityResult::new(&args, &slo, &search, steps, stopped, elapsed_s, &label);
    print!("{}", report::console(&result));
    if let Some(path) = &output {
        for written in report::write(&result, path)? {
            println!("Wrote {}", written.display());
        }
    }
    Ok(if result.error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// How the search ended, when it ended early.
enum Stop {
    Budget,
    Error(String),
}

/// Runs steps until the search is done, the budget is spent or a step cannot be measured.
async fn steps(
    args: &CapacityArgs,
    slo: &Slo,
    endpoint: &Endpoint,
    search: &mut Search,
    output: Option<&Path>,
) -> Result<(Vec<StepResult>, Option<(bool, String)>, f64)> {
    let started = Instant::now();
    let mut done = Vec::new();
    let mut stopped = None;
    while let Some(load) = search.next() {
        let step_time = args.step_duration.as_secs_f64() * 1.1;
        if started.elapsed().as_secs_f64() + step_time > args.budget.as_secs_f64() {
            stopped = Some(Stop::Budget);
            break;
        }
        let n = done.len() + 1;
        eprintln!(
            "asb capacity: step {n}: {} | elapsed {:.0} s of {:.0} s | bracket {}",
            report::load_text(args.by, load),
            started.elapsed().as_secs_f64(),
            args.budget.as_secs_f64(),
            report::bracket_text(search)
        );
        let (first_run, stopped_early) = match step(args, slo, endpoint, load).await? {
            Ok(run) => run,
            Err(why) => {
                stopped = Some(Stop::Error(format!("step {n} ({}): {why}", report::load_text(args.by, load))));
                break;
            }
        };
        if let Some(why) = &stopped_early {
            eprintln!("asb capacity: step {n} stopped early, {why}");
        }
        let mut runs = vec![first_run];
        let first = judge(slo, &runs);
        let borderline = first.limits.iter().any(|l| l.margin.is_some_and(|m| m < args.borderline));
        if borderline && stopped_early.is_none() {
            eprintln!(
                "asb capacity: step {n} is borderline (within {:.0} % of a limit): run again",
                args.borderline * 100.0
            );
            match step(args, slo, endpoint, load).await? {
                // The repeat is judged pooled with the first run, to its end.
                Ok((run, _)) => runs.push(run),
                Err(why) => {
                    stopped =
                        Some(Stop::Error(format!("step {n} ({}), repeat: {why}", report::load_text(args.by, load))));
                    break;
                }
            }
        }
        let verdict = judge(slo, &runs);
        let behind = runs.iter().find_map(|r| r.load.as_ref().and_then(|l| l.behind_schedule.clone()));
        let passed = verdict.met && behind.is_none() && stopped_early.is_none();
        search.record(load, passed);
        let json = match output {
            Some(path) => Some(write_step(path, n, &runs)?),
            None => None,
        };
        let result = StepResult::new(
            load,
            passed,
            &runs,
            verdict,
            stopped_early.map(|why| format!("stopped early, {why}")).or(behind),
            json,
        );
        eprintln!("asb capacity: {}", report::step_line(args.by, &result));
        done.push(result);
    }
    let stopped = stopped.map(|s| match s {
        Stop::Budget => (false, "the time budget (--budget) was spent".to_string()),
        Stop::Error(why) => (true, why),
    });
    Ok((done, stopped, started.elapsed().as_secs_f64()))
}

/// One replay at `load`, stopped early when clearly failing ([`early_stop`]: the reason is
/// returned beside the run); `Err(why)` when it cannot be measured.
async fn step(
    args: &CapacityArgs,
    slo: &Slo,
    endpoint: &Endpoint,
    load: f64,
) -> Result<Result<(RunResults, Option<String>), String>> {
    let mut r = args.replay.clone();
    match args.by {
        By::Sessions => r.sessions = Some(load as u64),
        By::Rate => r.session_rate = Some(load),
    }
    r.duration = Some(args.step_duration);
    r.warmup = Some(args.step_warmup);
    r.output = None;
    let from = args.step_warmup.as_secs_f64() * 1000.0;
    let to = args.step_duration.as_secs_f64() * 1000.0 - r.cooldown.map_or(0.0, |c| c.as_secs_f64() * 1000.0);
    let watch = Arc::new(Mutex::new(EarlyStop::new(slo, r.max_schedule_lag_ms, (from, to.max(from)))));
    let Some(run) = replay_once(&r, endpoint, false, Some(watch.clone())).await? else {
        bail!("a dry run has no steps");
    };
    let stopped = watch.lock().unwrap_or_else(|p| p.into_inner()).stopped.clone();
    if let Some(why) = &run.aborted {
        return Ok(Err(why.clone()));
    }
    if run.summary.requests > 0 && run.summary.succeeded == 0 {
        let error = run.summary.errors.first().map_or("no output".to_string(), |e| e.error.clone());
        return Ok(Err(format!("every request failed: {error}")));
    }
    if run.summary.requests == 0 {
        return Ok(Err("no request was intended inside the window: lengthen --step-duration".into()));
    }
    Ok(Ok((run, stopped)))
}

/// The SLO over the runs' window requests and sessions pooled (one run: its own report).
fn judge(slo: &Slo, runs: &[RunResults]) -> super::slo::SloReport {
    let duration: f64 = runs.iter().map(|r| r.summary.duration_s).sum();
    // Session numbers restart in each run: pool them apart.
    let mut sessions = Vec::new();
    let mut pooled = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let offset = (i as u64) << 40;
        let window = run.load.as_ref().map(|l| (l.window.from_ms, l.window.to_ms));
        sessions.extend(run.sessions.iter().filter(|s| window.is_none_or(|(a, b)| (a..=b).contains(&s.due_ms))).map(
            |s| {
                let mut s = s.clone();
                s.session += offset;
                s
            },
        ));
        pooled.extend(run.requests.iter().filter(|q| q.in_window).map(|q| {
            let mut q = q.clone();
            q.session += offset;
            q
        }));
    }
    slo.evaluate(&pooled, &sessions, duration)
}

/// Writes a step's runs as `STEM-steps/step-NN[-K].json` beside the output: compact, and
/// streamed to the file (a 100,000-request step is ≈ 250 MB of pretty JSON, whose
/// formatting and copying took most of the step's time beyond its window).
fn write_step(output: &Path, n: usize, runs: &[RunResults]) -> Result<PathBuf> {
    let stem = output.file_stem().and_then(|s| s.to_str()).unwrap_or("capacity");
    let dir = output.with_file_name(format!("{stem}-steps"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut first = None;
    for (k, run) in runs.iter().enumerate() {
        let name = if k == 0 { format!("step-{n:02}.json") } else { format!("step-{n:02}-repeat-{k}.json") };
        let path = dir.join(name);
        let file = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        serde_json::to_writer(&mut out, &crate::replay::run_json::OnDisk::of(run))
            .map_err(anyhow::Error::from)
            .and_then(|()| std::io::Write::flush(&mut out).map_err(anyhow::Error::from))
            .with_context(|| format!("cannot write {}", path.display()))?;
        first.get_or_insert(path);
    }
    first.context("a step without runs")
}
