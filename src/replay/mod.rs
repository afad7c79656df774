//! `asb replay`: sends a recording's traffic to an endpoint and reports what the endpoint
//! really does with it — TTFT, ITL, TPOT, decode and prefill rates, throughput — grouped
//! by context size.
//!
//! Pipeline: [`scenario`] (what `-w` names, loaded into tasks) → [`plan`] (slice, build
//! each request with [`request`], poison by cache mode with [`poison`], order executions
//! with [`schedule`]) → [`run`](mod@run) (the load model: sessions in flight or arriving, or
//! requests arriving; each [`session`] paces its calls by the recording's
//! [`call_graph`] and [`think_time`], to the [`pacer`]'s clock; [`client`] timestamps
//! every frame) → [`measure`] (one request's numbers) → [`load`] (schedule lag, window,
//! sessions) and [`aggregate`] (per bucket and overall, with the [`verdict`]) →
//! [`results`] (the JSON) → [`report`] (console, markdown, HTML, compare).
//!
//! `-e builtin` (or no `-e`) starts `asb mock` in this process, so a replay runs on a
//! laptop with no GPU and no network.

pub(crate) mod aggregate;
pub(crate) mod answer_checks;
pub(crate) mod args;
pub(crate) mod arrivals;
pub(crate) mod body_template;
pub(crate) mod builtin;
pub(crate) mod call_graph;
pub(crate) mod capacity;
pub(crate) mod catalog;
pub(crate) mod client;
pub(crate) mod conclude;
pub(crate) mod connection;
pub(crate) mod header;
pub(crate) mod history;
pub(crate) mod interned;
pub(crate) mod itl_histogram;
pub(crate) mod load;
pub(crate) mod measure;
pub(crate) mod pacer;
pub(crate) mod plan;
pub(crate) mod poison;
pub(crate) mod prompt_text;
pub(crate) mod python_random;
pub(crate) mod report;
pub(crate) mod request;
pub(crate) mod results;
pub(crate) mod retry;
pub(crate) mod run;
pub(crate) mod run_columns;
pub(crate) mod run_json;
pub(crate) mod sample_row;
pub(crate) mod sample_store;
pub(crate) mod scenario;
pub(crate) mod schedule;
pub(crate) mod server_metrics;
pub(crate) mod session;
pub(crate) mod session_row;
pub(crate) mod shard;
pub(crate) mod slice;
pub(crate) mod slo;
pub(crate) mod spill;
pub(crate) mod spill_record;
pub(crate) mod target;
pub(crate) mod think_time;
pub(crate) mod verbose;
pub(crate) mod verdict;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub(crate) use args::ReplayArgs;
use arrivals::{Arrivals, Process};
use history::HistoryMode;
use plan::{Plan, PlanOptions};
use request::BuildOptions;
use results::{RunResults, ScenarioInfo, Settings, TaskInfo, RESULTS_VERSION};
use schedule::Policy;
use target::Target;
use think_time::{Pace, ThinkTime};

/// Flags the embedded mock starts with before the user's `--mock-args`: a fast single-GPU
/// server's rates (20,000 tok/s prefill, 100 tok/s decode), answers ending after 128
/// tokens so recordings asking for tens of thousands finish in seconds.
const BUILTIN_MOCK_FLAGS: &[&str] = &["--answer-tokens", "128", "--prefill-tps", "20000", "--decode-tps", "100"];

/// The embedded mock's flags: [`BUILTIN_MOCK_FLAGS`], less those the user's `--mock-args`
/// set themselves (also as `--flag=value`, or through `--zero-delay`), then the user's.
fn builtin_mock_flags(user: &str) -> Vec<String> {
    let user: Vec<String> = user.split_whitespace().map(str::to_string).collect();
    let given = |name: &str| {
        user.iter().any(|u| u == name || u.starts_with(&format!("{name}=")))
            || (user.iter().any(|u| u == "--zero-delay") && ["--prefill-tps", "--decode-tps"].contains(&name))
    };
    let mut flags: Vec<String> = BUILTIN_MOCK_FLAGS
        .chunks(2)
        .filter(|pair| !given(pair[0]))
        .flat_map(|pair| pair.iter().map(|s| s.to_string()))
        .collect();
    flags.extend(user);
    flags
}

/// Fails before anything is sent when the report could not be written (a run's results
/// are not to be lost to a typo in `-o`): its folder is made, as `asb record -o` does, and
/// a file is created and removed in it.
pub(crate) fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("-o {}: is a directory; give a file name such as {}/report.md", path.display(), path.display());
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("-o {}: cannot create {}", path.display(), dir.display()))?;
    let probe = dir.join(format!(".asb-write-check-{}", std::process::id()));
    std::fs::File::create(&probe)
        .with_context(|| format!("-o {}: cannot write in {}", path.display(), dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Where the requests go: the user's endpoint, or `asb mock` started in this process.
pub(crate) struct Endpoint {
    /// As the header and the results name it.
    pub(crate) label: String,
    pub(crate) url: String,
    mock: Option<crate::mock::MockServer>,
}

impl Endpoint {
    pub(crate) async fn open(args: &ReplayArgs) -> Result<Endpoint> {
        let endpoint = args.target.endpoint.clone().filter(|e| !e.is_empty() && e != "builtin");
        if let Some(e) = endpoint {
            return Ok(Endpoint { label: shown_url(&e), url: e, mock: None });
        }
        let flags = builtin_mock_flags(args.mock_args.as_deref().unwrap_or(""));
        let server = crate::mock::start_from_flags(&flags).await?;
        let url = server.url();
        let label = format!("builtin (asb mock in-process at {url}, flags: {})", flags.join(" "));
        Ok(Endpoint { label, url, mock: Some(server) })
    }

    pub(crate) async fn close(self) {
        if let Some(server) = self.mock {
            server.stop().await;
        }
    }
}

/// A URL as printed and saved: a password in it (`user:pass@`) and key-like query values
/// (`?api_key=`) shown as `[redacted]`, as the recorder shows its upstream.
fn shown_url(url: &str) -> String {
    crate::recording::redact::redact_urls(url, true, |_| {}).into_owned()
}

/// Checks a replay's flags before anything starts.
pub(crate) fn check_args(args: &ReplayArgs) -> Result<()> {
    if let Some(part) = args.shard.filter(|s| s.count > 1) {
        let drawn = args.seed.is_none()
            && (args.policy == Policy::Random || args.session_rate.is_some() || args.request_rate.is_some());
        if drawn {
            bail!(
                "--shard {part}: give --seed, so every shard orders the executions and draws the arrivals alike \
                 (without it each would draw its own)"
            );
        }
    }
    if args.users.is_some() {
        bail!(
            "--users was removed (AgenticSwarmBench 3.1): identical payloads from N users gave the server a free \
             prefix-cache ride. Use --repetitions N --max-concurrent N: each repetition is poisoned differently."
        );
    }
    Ok(())
}

pub(crate) async fn run(args: ReplayArgs) -> Result<ExitCode> {
    check_args(&args)?;
    if let Some(path) = &args.output {
        check_writable(path)?;
    }
    let endpoint = Endpoint::open(&args).await?;
    let replayed = replay_once(&args, &endpoint, true, None).await;
    endpoint.close().await;
    let Some(results) = replayed? else {
        return Ok(ExitCode::SUCCESS);
    };
    let human = |text: &str| human_output(&args, text);
    human(&report::console::summary(&results));
    if let Some(path) = &args.output {
        for written in write_outputs(&results, path)? {
            human(&format!("Wrote {}\n", written.display()));
        }
    }
    if args.json {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        run_json::write(&mut out, &results)?;
        writeln!(out)?;
        out.flush()?;
    }
    let behind = results.load.as_ref().is_some_and(|l| l.behind_schedule.is_some());
    let slo_missed = results.slo.as_ref().is_some_and(|s| !s.met);
    let failed = results.summary.failed > 0 || results.aborted.is_some() || behind || slo_missed;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Human text goes to stdout, or to stderr when stdout carries `--json`.
fn human_output(args: &ReplayArgs, text: &str) {
    if args.json {
        eprint!("{text}");
    } else {
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
}

/// One replay against `endpoint`: prints the header (when `header`), then the dry run
/// (`None`) or the run's results. `asb capacity` runs one per step.
pub(crate) async fn replay_once(
    args: &ReplayArgs,
    endpoint: &Endpoint,
    header: bool,
    watch: Option<std::sync::Arc<std::sync::Mutex<capacity::early_stop::EarlyStop>>>,
) -> Result<Option<RunResults>> {
    let spec = args.scenario.clone().unwrap_or_else(|| format!("builtin:{}", builtin::DEFAULT));
    let scenario = scenario::load(&spec, args.task.as_deref())?;
    let extra_body = extra_body(args)?;
    let endpoint_label = endpoint.label.clone();
    let target = Target::new(
        &endpoint.url,
        args.target.upstream_api,
        args.target.api_key.as_deref(),
        args.target.api_key_header.as_deref(),
    )?;

    let seed = match (args.seed, args.policy) {
        (Some(s), _) => s,
        (None, Policy::Random) => schedule::random_seed(),
        (None, _) => 0,
    };
    let (load, think) = load_model(args, args.seed.unwrap_or(seed))?;
    let build = BuildOptions { model: args.target.model.clone(), max_tokens_cap: args.max_tokens };
    let plan = Plan::new(
        scenario,
        &PlanOptions {
            api: target.api,
            build,
            cache_mode: args.cache_mode,
            slice_tokens: args.slice_tokens,
            repetitions: args.repetitions,
            policy: args.policy,
            seed,
            extra_body,
            model_context_length: args.model_context_length,
        },
    )?;
    let settings = settings(args, &plan, seed, &load, think);
    let model = args.target.model.clone().unwrap_or_else(|| {
        let mut models: Vec<&str> =
            plan.requests.iter().flatten().filter_map(|r| r.built.body["model"].as_str()).collect();
        models.sort_unstable();
        models.dedup();
        format!("as recorded ({})", models.join(", "))
    });
    let human = |text: &str| human_output(args, text);
    let think_detail = think_detail(&plan, think);
    let load_lines = load_header(args, &load, think, &think_detail, &plan);
    if header {
        let shown_target = shown_url(&target.url);
        human(&header::header(
            &plan,
            &settings,
            args.history_mode,
            &endpoint_label,
            &shown_target,
            &model,
            &load_lines,
        ));
    }
    if args.dry_run {
        human(&header::dry_run(&plan));
        if !matches!(load, run::Load::RequestArrivals { .. }) {
            human(&header::dry_run_schedule(&plan, &run::timings(&plan, think), think));
        }
        if args.json {
            let plan_json = serde_json::json!({
                "dry_run": true, "endpoint": endpoint_label, "target_url": shown_url(&target.url), "model": model,
                "settings": settings, "scenario": scenario_info(&plan, &spec),
            });
            println!("{}", serde_json::to_string_pretty(&plan_json)?);
        }
        return Ok(None);
    }
    if plan.scheduled_requests() == 0 {
        bail!("nothing to send: the scenario has no replayable requests");
    }

    let info = scenario_info(&plan, &spec);
    let checked: Vec<(String, String, Vec<answer_checks::Check>)> =
        plan.scenario.tasks.iter().map(|t| (t.id.clone(), t.name.clone(), t.checks.clone())).collect();
    let (cache_mode, shared_prefix_chars) = (plan.cache_mode, plan.shared_prefix_chars);
    let server = server_metrics::Watch::before_run(
        args.reset_prefix_cache,
        args.server_metrics_options().as_ref(),
        &endpoint.url,
    )
    .await;
    if header {
        human(&server.describe());
    }
    let api = target.api;
    let target_url = shown_url(&target.url);
    let opts = run::RunOptions {
        load,
        think,
        duration: args.duration,
        history: args.history_mode,
        timeout: Duration::try_from_secs_f64(args.timeout.clamp(0.1, 86_400.0)).unwrap_or(Duration::from_secs(300)),
        max_retries: args.max_retries,
        max_consecutive_failures: args.max_consecutive_failures,
        progress: true,
        verbosity: verbose::Verbosity::of(args.verbose, args.verbose_text),
        shard: args.shard.unwrap_or(shard::Shard::WHOLE),
        start_at: args.start_at,
        // `asb capacity` pools its steps' requests: they stay whole.
        store: match &watch {
            Some(_) => sample_store::StoreOptions::held(),
            None => sample_store::StoreOptions::from_env(
                args.output.as_deref().and_then(Path::parent).map(Path::to_path_buf),
                args.slo.as_ref().is_some_and(|s| s.needs_gaps()),
            ),
        },
        watch,
    };
    let outcome = run::execute(plan, target, opts).await?;
    // The run's clock started `elapsed_s` before `execute` returned.
    let run_started = std::time::Instant::now()
        .checked_sub(Duration::from_secs_f64(outcome.elapsed_s))
        .unwrap_or_else(std::time::Instant::now);
    let mut load_summary = load::LoadSummary {
        model: load.describe(),
        think_time: think.to_string(),
        think_time_detail: think_detail,
        schedule_lag_ms: None,
        lag_tolerance_ms: args.max_schedule_lag_ms,
        behind_schedule: None,
        window: load::Window::default(),
        sessions: load::SessionStats::default(),
    };
    let end_ms = outcome.elapsed_s * 1000.0;
    let checked: Vec<answer_checks::CheckedTask<'_>> =
        checked.iter().map(|(id, name, checks)| answer_checks::CheckedTask { id, name, checks }).collect();
    let (requests, found, conclusion, answer_checks, itl_bound) = match outcome.samples {
        sample_store::Samples::Held(mut samples) => {
            load_summary.window = measurement_window(args, &mut samples, outcome.elapsed_s);
            let window = (load_summary.window.from_ms, load_summary.window.to_ms);
            let found =
                server.after_run(run_started, end_ms, window, &mut samples, cache_mode, shared_prefix_chars).await;
            let conclusion = conclude_with(&samples, &outcome.sessions, &mut load_summary, args.slo.as_ref(), None)?;
            let answer_checks = answer_checks::evaluate(&checked, &samples);
            (results::Requests::from(samples), found, conclusion, answer_checks, None)
        }
        sample_store::Samples::Spilled(mut spilled) => {
            load_summary.window = measurement_window(args, &mut spilled.rows, outcome.elapsed_s);
            let window = (load_summary.window.from_ms, load_summary.window.to_ms);
            let found =
                server.after_run(run_started, end_ms, window, &mut spilled.rows, cache_mode, shared_prefix_chars).await;
            if spilled.gaps_dropped {
                spilled.refill_itl_for_window()?;
            }
            let itl = spilled.gaps_dropped.then_some(spilled.itl.as_slice());
            let conclusion =
                conclude_with(&spilled.rows, &outcome.sessions, &mut load_summary, args.slo.as_ref(), itl)?;
            let answer_checks = answer_checks::evaluate(&checked, &spilled.answers);
            let bound = spilled.gaps_dropped.then(|| {
                format!(
                    "ITL figures from HDR histograms of every gap (more gaps than the {} held raw): count, mean, \
                     min and max exact; percentiles {}",
                    spilled.gap_cap(),
                    itl_histogram::BOUND
                )
            });
            (results::Requests::from_spill(spilled), found, conclusion, answer_checks, bound)
        }
    };
    let results = RunResults {
        results_version: RESULTS_VERSION,
        tool: format!("asb {}", env!("CARGO_PKG_VERSION")),
        label: args.label.clone(),
        started_at: outcome.started_at.to_string(),
        endpoint: endpoint_label,
        target_url: target_url.clone(),
        api: api.name().into(),
        model,
        scenario: info,
        settings,
        formulas: results::formulas(),
        summary: conclusion.summary,
        buckets: conclusion.buckets,
        load: Some(load_summary),
        slo: conclusion.slo,
        answer_checks,
        shard: args.shard.map(|part| shard::ShardInfo {
            index: part.index,
            count: part.count,
            host: shard::host_name(),
            start_at: args.start_at.map(|t| t.to_string()),
            started_late_ms: outcome.started_late_ms,
            must_match: shard_must_match(args, &target_url, seed),
        }),
        merged: None,
        requests,
        itl_bound,
        sessions: match outcome.sessions {
            sample_store::Sessions::Held(v) => v.into(),
            sample_store::Sessions::Spilled(s) => results::SessionList::from_spill(s),
        },
        aborted: outcome.aborted,
        server_metrics: found.server_metrics,
        prefix_cache: found.prefix_cache,
        clock_check: found.clock_check,
    };
    Ok(Some(results))
}

/// [`conclude::conclude`] over `samples` and the sessions, held or spilled (read back from
/// their spill file a pass at a time; an error reading it is the run's error).
fn conclude_with<S: sample_row::Sample + Clone + Sync>(
    samples: &[S],
    sessions: &sample_store::Sessions,
    load: &mut load::LoadSummary,
    slo: Option<&slo::Slo>,
    itl: Option<&[itl_histogram::ItlHistogram]>,
) -> Result<conclude::Conclusion> {
    match sessions {
        sample_store::Sessions::Held(held) => Ok(conclude::conclude(samples, || held.iter(), load, slo, itl)),
        sample_store::Sessions::Spilled(spilled) => {
            let conclusion = conclude::conclude(samples, || spilled.rows(), load, slo, itl);
            spilled.check()?;
            Ok(conclusion)
        }
    }
}

/// The settings every shard of a run must share, flag by flag (as the run JSON names them).
fn shard_must_match(args: &ReplayArgs, target_url: &str, seed: u64) -> std::collections::BTreeMap<String, String> {
    let text = |v: &dyn std::fmt::Debug| format!("{v:?}");
    // The embedded mock listens on a port of its own in every shard: its flags name it.
    let target = match args.target.endpoint.as_deref().filter(|e| !e.is_empty() && *e != "builtin") {
        Some(_) => target_url.to_string(),
        None => format!("builtin asb mock, --mock-args {:?}", args.mock_args.as_deref().unwrap_or("")),
    };
    [
        ("scenario", text(&args.scenario)),
        ("task", text(&args.task)),
        ("target", target),
        ("model", text(&args.target.model)),
        ("upstream_api", text(&args.target.upstream_api)),
        ("cache_mode", text(&args.cache_mode)),
        ("history_mode", text(&args.history_mode)),
        ("repetitions", args.repetitions.to_string()),
        ("policy", text(&args.policy)),
        ("seed", seed.to_string()),
        ("slice_tokens", text(&args.slice_tokens)),
        ("model_context_length", text(&args.model_context_length)),
        ("max_tokens", text(&args.max_tokens)),
        ("extra_body", text(&args.extra_body)),
        ("enable_thinking", args.enable_thinking.to_string()),
        ("timeout", args.timeout.to_string()),
        ("max_retries", args.max_retries.to_string()),
        ("max_consecutive_failures", text(&args.max_consecutive_failures)),
        ("max_concurrent", text(&args.max_concurrent)),
        ("sessions", text(&args.sessions)),
        ("think_time", text(&args.think_time.map(|t| t.to_string()))),
        ("session_rate", text(&args.session_rate)),
        ("request_rate", text(&args.request_rate)),
        ("arrival", text(&args.arrival)),
        ("burstiness", text(&args.burstiness)),
        ("max_sessions", text(&args.max_sessions)),
        ("duration", text(&args.duration)),
        ("warmup", text(&args.warmup)),
        ("cooldown", text(&args.cooldown)),
        ("slo", text(&args.slo.as_ref().map(|s| s.to_string()))),
        ("max_schedule_lag_ms", args.max_schedule_lag_ms.to_string()),
        ("start_at", text(&args.start_at.map(|t| t.to_string()))),
        ("shards", args.shard.map_or(1, |s| s.count).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `--extra-body` as a JSON object, with `--enable-thinking` merged into its
/// `chat_template_kwargs` (AgenticSwarmBench's rule).
fn extra_body(args: &ReplayArgs) -> Result<Option<serde_json::Map<String, serde_json::Value>>> {
    use serde_json::Value;
    let mut extra = match &args.extra_body {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Some(map),
            Ok(_) => bail!("--extra-body must be a JSON object"),
            Err(e) => bail!("--extra-body is not valid JSON: {e}"),
        },
    };
    if args.enable_thinking {
        let map = extra.get_or_insert_with(serde_json::Map::new);
        match map.entry("chat_template_kwargs").or_insert_with(|| Value::Object(serde_json::Map::new())) {
            Value::Object(kwargs) => {
                kwargs.insert("enable_thinking".into(), Value::Bool(true));
            }
            _ => bail!("--extra-body's chat_template_kwargs must be an object to combine with --enable-thinking"),
        }
    }
    Ok(extra)
}

/// The load model and think time the flags ask for (clap has refused the contradictory
/// combinations already).
fn load_model(args: &ReplayArgs, seed: u64) -> Result<(run::Load, ThinkTime)> {
    let part = args.shard.unwrap_or(shard::Shard::WHOLE);
    let arrivals = |rate: f64| Arrivals {
        process: args.arrival.unwrap_or(Process::Poisson),
        rate: part.rate(rate),
        burstiness: args.burstiness.unwrap_or(1.0),
        seed: part.seed(seed),
    };
    let sessions = |total: u64| -> Result<usize> {
        let share = part.share(total);
        if total < u64::from(part.count) {
            bail!(
                "--shard {part}: {total} session(s) in flight cannot be split over {} shards; give at least one per shard",
                part.count
            );
        }
        Ok(share.min(100_000) as usize)
    };
    if args.burstiness.is_some() && args.arrival != Some(Process::Gamma) {
        bail!("--burstiness is the shape of --arrival gamma; add --arrival gamma");
    }
    if args.arrival.is_some() && args.session_rate.is_none() && args.request_rate.is_none() {
        bail!("--arrival needs --session-rate or --request-rate");
    }
    let open_loop_sessions = args.sessions.is_some() || args.session_rate.is_some();
    let think = args.think_time.unwrap_or(if open_loop_sessions { ThinkTime::RECORDED } else { ThinkTime::NONE });
    let load = match (args.sessions, args.session_rate, args.request_rate) {
        (_, _, Some(rate)) => {
            if args.history_mode == HistoryMode::Live {
                bail!("--request-rate sends each request on its own; --history-mode live needs sessions (use --session-rate)");
            }
            if args.think_time.is_some_and(|t| t.pace != Pace::BackToBack) {
                bail!("--request-rate sends each request on its own, with no think time; use --session-rate for sessions that think");
            }
            run::Load::RequestArrivals {
                arrivals: arrivals(rate),
                max_in_flight: args.max_concurrent.unwrap_or(10_000).min(100_000) as usize,
            }
        }
        (_, Some(rate), None) => run::Load::SessionArrivals {
            arrivals: arrivals(rate),
            max_sessions: args.max_sessions.unwrap_or(10_000).min(100_000) as usize,
        },
        (Some(n), None, None) => run::Load::Sessions { sessions: sessions(n)? },
        (None, None, None) => run::Load::Sessions { sessions: sessions(args.max_concurrent.unwrap_or(10))? },
    };
    Ok((load, think))
}

/// The header's load lines: the load model, think time, run length and window, what the
/// latencies are measured from, and what a cycled scenario does to the prefix cache.
fn load_header(args: &ReplayArgs, load: &run::Load, think: ThinkTime, detail: &str, plan: &Plan) -> String {
    let mut out = format!("  Load: {}\n", load.describe());
    if !matches!(load, run::Load::RequestArrivals { .. }) {
        out.push_str(&format!("  Think time: {think} ({detail})\n"));
    }
    if let Some(d) = args.duration {
        out.push_str(&format!(
            "  Run length: {:.1} s, cycling through the scenario with fresh repetitions; then no new work, and drain\n",
            d.as_secs_f64()
        ));
        let cache = match plan.cache_mode {
            plan::CacheMode::Realistic | plan::CacheMode::RealisticCompat => {
                "each new session is a new repetition, poisoned apart: only the shared prefix stays warm, as with distinct users"
            }
            plan::CacheMode::Allcold => "every session poisoned from the first space: no prefix cache hits across sessions",
            plan::CacheMode::Allwarm => {
                "sessions repeat the recording verbatim: after the first pass the server's prefix cache may hold all of it (a cache-hit benchmark)"
            }
        };
        out.push_str(&format!("  Cache over the run: {cache}\n"));
    }
    if args.warmup.is_some() || args.cooldown.is_some() {
        let secs = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64());
        out.push_str(&format!(
            "  Window: requests intended to start after {:.1} s and before the end less {:.1} s are counted\n",
            secs(args.warmup),
            secs(args.cooldown)
        ));
    }
    out.push_str(&format!(
        "  Latency: from the send (t0) and from the intended send time; schedule lag p99 over {} ms fails the run\n",
        args.max_schedule_lag_ms
    ));
    out
}

/// Marks the requests counted in the summary: those intended to start after `--warmup`
/// and before the end (of `--duration`, else of the run) less `--cooldown`.
fn measurement_window<S: sample_row::Sample>(args: &ReplayArgs, samples: &mut [S], elapsed_s: f64) -> load::Window {
    let from = args.warmup.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let end = args.duration.map_or(elapsed_s, |d| d.as_secs_f64()) * 1000.0;
    let to = end - args.cooldown.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let rule = match (args.warmup, args.cooldown) {
        (None, None) => "the whole run (no --warmup or --cooldown)".to_string(),
        (w, c) => format!(
            "requests intended to start between {:.1} s (--warmup) and {:.1} s ({} end{})",
            from / 1000.0,
            to / 1000.0,
            if args.duration.is_some() { "--duration's" } else { "the run's" },
            c.map_or(String::new(), |c| format!(" less --cooldown {:.1} s", c.as_secs_f64()))
        )
        .replace(" (--warmup)", if w.is_some() { " (--warmup)" } else { "" }),
    };
    load::apply_window(samples, from, to.max(from), rule)
}

/// What `--think-time` means for this scenario: the recorded gaps it keeps, or why there
/// are none.
fn think_detail(plan: &Plan, think: ThinkTime) -> String {
    if think.pace == Pace::BackToBack {
        return "back to back: each call goes when the previous one of its session has ended".into();
    }
    let untimed: Vec<&str> = plan
        .scenario
        .tasks
        .iter()
        .filter(|t| t.entries.iter().any(|e| e.recorded_span_ms.is_none()))
        .map(|t| t.id.as_str())
        .collect();
    let mut gaps = Vec::new();
    for task in &plan.scenario.tasks {
        let spans: Vec<(f64, f64)> = task.entries.iter().filter_map(|e| e.recorded_span_ms).collect();
        gaps.extend(spans.windows(2).map(|w| think.gap_ms(w[1].0 - w[0].1)));
    }
    let mut text = match crate::stats::Distribution::of(gaps) {
        Some(d) => format!(
            "recorded gaps between consecutive calls after scale/cap: p50 {:.2} s, max {:.2} s",
            d.p50 / 1000.0,
            d.max / 1000.0
        ),
        None => "no recorded gaps".into(),
    };
    if !untimed.is_empty() {
        text.push_str(&format!(
            "; no recorded times in {} (AgenticSwarmBench lines): those calls run back to back",
            untimed.join(", ")
        ));
    }
    text
}

fn settings(args: &ReplayArgs, plan: &Plan, seed: u64, load: &run::Load, think: ThinkTime) -> Settings {
    let bodies = || plan.queue.iter().flat_map(|e| plan.requests[e.task].iter().map(|r| &r.built.body));
    let unset_max = if plan.api == crate::wire::Api::Anthropic {
        format!("{} (Anthropic requires one)", request::ANTHROPIC_DEFAULT_MAX_TOKENS)
    } else {
        "none sent (server default)".into()
    };
    Settings {
        cache_mode: plan.cache_mode.name().into(),
        cache_detail: plan.cache_detail.clone(),
        shared_prefix_chars: plan.shared_prefix_chars,
        history_mode: args.history_mode.name().into(),
        repetitions: args.repetitions,
        max_concurrent: load.slots(),
        load: load.describe(),
        think_time: think.to_string(),
        policy: args.policy.name().into(),
        seed: (args.policy == Policy::Random).then_some(seed),
        slice_tokens: args.slice_tokens,
        max_tokens: request::describe_values(
            bodies().map(|b| request::max_tokens(b).map(|n| n as f64)),
            args.max_tokens,
            &unset_max,
        ),
        temperature: request::describe_values(
            bodies().map(|b| b.get("temperature").and_then(serde_json::Value::as_f64)),
            None,
            "none sent (server default)",
        ),
        timeout_s: args.timeout,
        max_retries: args.max_retries,
        max_consecutive_failures: args.max_consecutive_failures,
        executions: plan.queue.len(),
        scheduled_requests: plan.scheduled_requests(),
        model_context_length: args.model_context_length,
        over_context: plan.over_context.len(),
    }
}

fn scenario_info(plan: &Plan, spec: &str) -> ScenarioInfo {
    let s = &plan.scenario;
    ScenarioInfo {
        name: s.name.clone(),
        source: if s.source.is_empty() { spec.to_string() } else { s.source.clone() },
        description: s.description.clone(),
        tasks: s
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| TaskInfo {
                id: t.id.clone(),
                name: t.name.clone(),
                requests: plan.requests[i].len(),
                recorded_requests: plan.recorded_requests[i],
            })
            .collect(),
        requests: plan.requests_per_pass(),
    }
}

/// `-o X.md` writes X.md and X.json; `X.html` writes X.html and X.json; `X.csv` writes
/// X.csv (one row per request) and X.json; `X.json` writes X.json; anything else X.json
/// (as AgenticSwarmBench). Returns the paths written.
pub(crate) fn write_outputs(results: &RunResults, path: &Path) -> Result<Vec<PathBuf>> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let json_path = path.with_extension("json");
    let mut written = Vec::new();
    let write = |p: &Path, text: &str| std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()));
    match ext.as_deref() {
        Some("md") => {
            write(path, &report::markdown::render(results, Some(&json_path.display().to_string())))?;
            written.push(path.to_path_buf());
        }
        Some("html" | "htm") => {
            write(path, &report::html::render(results))?;
            written.push(path.to_path_buf());
        }
        Some("csv") => {
            write(path, &report::csv::render(results))?;
            written.push(path.to_path_buf());
        }
        _ => {}
    }
    write_json(&json_path, results)?;
    written.push(json_path);
    Ok(written)
}

/// The run JSON, serialized straight into the file: a run of a million requests is never
/// held twice, as samples and as text (measured: peak RSS 293 → 138 MB for 100,000 one-token requests).
fn write_json(path: &Path, results: &RunResults) -> Result<()> {
    let cannot = || format!("cannot write {}", path.display());
    let file = std::fs::File::create(path).with_context(cannot)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    run_json::write(&mut out, results).with_context(cannot)?;
    out.flush().with_context(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_args_override_every_builtin_default() {
        let flags = builtin_mock_flags("--decode-tps 120 --answer-tokens=64");
        assert_eq!(flags, ["--prefill-tps", "20000", "--decode-tps", "120", "--answer-tokens=64"]);
        let cfg = crate::mock::config::config_from_flags(&flags).unwrap();
        assert_eq!(cfg.answer_tokens, Some(64));
        let flags = builtin_mock_flags("--zero-delay --prefill-tps 5");
        assert_eq!(flags, ["--answer-tokens", "128", "--zero-delay", "--prefill-tps", "5"]);
        assert!(crate::mock::config::config_from_flags(&flags).is_ok());
        assert_eq!(builtin_mock_flags(""), BUILTIN_MOCK_FLAGS);
    }
}
