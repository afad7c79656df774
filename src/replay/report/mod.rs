//! `asb report` and `asb compare`: a saved replay run ([`RunResults`]) turned into something
//! to read — the end-of-run console summary, a Markdown report, one self-contained HTML
//! file with plots, or the JSON again — and two runs set side by side.
//!
//! Every report prints each metric's formula (from [`RunResults::formulas`]) so a number is
//! never shown without saying how it was computed. The structure follows the reports of
//! AgenticSwarmBench (the original asb) (verdict, key findings, per-bucket results), but
//! the text describes what a replay did: recorded requests sent as recorded, not synthetic
//! padding.
//!
//! * [`console`] — the plain-text summary printed at the end of a run.
//! * [`document`] — the report's content, built once for Markdown and HTML alike.
//! * [`markdown`], [`html`] — that content in each format; HTML adds SVG plots.
//! * [`compare`] — baseline against candidate, bucket by bucket.

pub(crate) mod bootstrap;
pub(crate) mod compare;
pub(crate) mod console;
pub(crate) mod csv;
pub(crate) mod document;
pub(crate) mod html;
pub(crate) mod markdown;
pub(crate) mod merge;
pub(crate) mod plots;
pub(crate) mod server;
pub(crate) mod shard_file;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use serde::Deserialize;

use super::results::{RunResults, RESULTS_VERSION};

/// Reads a run JSON written by `asb replay`. Errors name the file: a missing file, bad JSON
/// (with line and column), a `results_version` newer than this asb reads, or a field of the
/// wrong shape (with its path, e.g. `buckets[1].metrics.ttft_ms.p50`).
pub(crate) fn load(path: &Path) -> Result<RunResults> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("cannot read {file}: {e}"))?;

    // The plain reader first, then its version (a separate pass over the file for the
    // version alone was a fifth of a merge's time); the version probe and the
    // path-tracking reader only to say what is wrong.
    if let Ok(run) = serde_json::from_str::<RunResults>(&text) {
        if run.results_version > RESULTS_VERSION {
            bail!(
                "{file} has results_version {}, newer than this asb reads ({RESULTS_VERSION}): upgrade asb to read it",
                run.results_version
            );
        }
        return Ok(run);
    }

    // The version first: a newer file should say so, not fail on a field it added.
    #[derive(Deserialize)]
    struct VersionProbe {
        results_version: Option<serde_json::Value>,
    }
    let probe: VersionProbe =
        serde_json::from_str(&text).map_err(|e| anyhow!("{file} is not valid results JSON: {e}"))?;
    match probe.results_version {
        None => bail!("{file} has no `results_version`: it is not a run saved by `asb replay`"),
        Some(v) => match v.as_u64() {
            Some(n) if n <= u64::from(RESULTS_VERSION) => {}
            Some(n) => bail!(
                "{file} has results_version {n}, newer than this asb reads ({RESULTS_VERSION}): upgrade asb to read it"
            ),
            None => bail!("{file}: `results_version` must be a whole number, got {v}"),
        },
    }

    let mut de = serde_json::Deserializer::from_str(&text);
    let run: RunResults = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| anyhow!("{file}: field `{}`: {}", e.path(), e.inner()))?;
    de.end().map_err(|e| anyhow!("{file}: {e}"))?;
    Ok(run)
}

/// What `asb report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Markdown,
    Html,
    Json,
    /// One row per request.
    Csv,
    /// The end-of-run summary, as plain text.
    Console,
}

impl Format {
    /// The format an output file's extension asks for: `.md` Markdown, `.html`/`.htm` HTML,
    /// `.json` JSON, `.csv` CSV; anything else Markdown (AgenticSwarmBench's default). No file: the console summary.
    fn for_output(output: Option<&Path>) -> Format {
        let Some(path) = output else { return Format::Console };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "html" | "htm" => Format::Html,
            "json" => Format::Json,
            "csv" => Format::Csv,
            _ => Format::Markdown,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ReportArgs {
    /// The run JSON written by `asb replay`; several (or a quoted pattern such as
    /// 'shards/*.json'): the shards of one `--shard` run, merged into one.
    #[arg(short = 'i', long, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    /// Write the report here instead of printing it.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Output format [default: from the output's extension (.md, .html, .json, .csv); console without -o].
    #[arg(short = 'f', long)]
    pub format: Option<Format>,
}

/// `asb report`: renders a saved run in the chosen format, to stdout or to `-o`.
pub(crate) fn run_report(args: ReportArgs) -> Result<ExitCode> {
    let inputs = expand_patterns(&args.input)?;
    let (run, input) = if let [one] = inputs.as_slice() {
        (load(one)?, one.display().to_string())
    } else {
        let runs = load_all(&inputs)?;
        let (merged, warnings) = merge::merge(runs)?;
        for w in warnings {
            crate::errors::note("asb report", w);
        }
        (merged, format!("{} shards", inputs.len()))
    };
    let format = args.format.unwrap_or_else(|| Format::for_output(args.output.as_deref()));
    let text = match format {
        Format::Markdown => markdown::render(&run, Some(&input)),
        Format::Html => html::render(&run),
        Format::Json => {
            // Streamed: a merged run of millions of requests is never held as text.
            let cannot = |e: &dyn std::fmt::Display| anyhow!("cannot write JSON: {e}");
            let mut out: Box<dyn std::io::Write> = match args.output.as_deref() {
                Some(path) => Box::new(std::io::BufWriter::with_capacity(
                    1 << 20,
                    std::fs::File::create(path).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            crate::replay::run_json::write(&mut out, &run).map_err(|e| cannot(&e))?;
            writeln!(out).and_then(|()| out.flush()).map_err(|e| cannot(&e))?;
            if let Some(path) = &args.output {
                eprintln!("asb: wrote {}", path.display());
            }
            return Ok(ExitCode::SUCCESS);
        }
        Format::Csv => csv::render(&run),
        Format::Console => console::summary(&run),
    };
    write_or_print(&text, args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the shards' files, as many at once as there are cores: each only as far as its
/// columns ([`shard_file`]), or whole when it has none (an older asb's).
fn load_all(inputs: &[PathBuf]) -> Result<Vec<merge::Shard>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(inputs.len()).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut loaded: Vec<Option<Result<merge::Shard>>> = (0..inputs.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut loaded);
    let read = |path: &Path| -> Result<merge::Shard> {
        let file = path.display().to_string();
        Ok(match shard_file::read(path)? {
            Some(s) => merge::Shard { file, run: s.run, columns: s.columns, rows: merge::ShardRowsAt::Disk(s.rows) },
            None => merge::Shard::of_run(file, load(path)?),
        })
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(path) = inputs.get(i) else { break };
                let shard = read(path);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(shard);
            });
        }
    });
    loaded.into_iter().map(|shard| shard.unwrap_or_else(|| Err(anyhow!("not read")))).collect()
}

/// `-i` values, a pattern (`*`, `?`, `[…]`) that names no file expanded to the files it
/// matches, in name order.
fn expand_patterns(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let text = input.to_string_lossy();
        if input.exists() || !text.contains(['*', '?', '[']) {
            out.push(input.clone());
            continue;
        }
        let mut matched: Vec<PathBuf> =
            glob::glob(&text).map_err(|e| anyhow!("-i {text}: not a pattern: {e}"))?.filter_map(Result::ok).collect();
        if matched.is_empty() {
            bail!("-i {text}: no file matches");
        }
        matched.sort();
        out.extend(matched);
    }
    Ok(out)
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CompareArgs {
    /// BASELINE then CANDIDATE run JSONs (or give them with -b and -c).
    #[arg(value_name = "RUN", num_args = 0..=2)]
    pub runs: Vec<PathBuf>,
    /// The baseline run JSON (AgenticSwarmBench's spelling of the flag).
    #[arg(short = 'b', long)]
    pub baseline: Option<PathBuf>,
    /// The candidate run JSON (AgenticSwarmBench's spelling of the flag).
    #[arg(short = 'c', long)]
    pub candidate: Option<PathBuf>,
    /// Write the comparison here instead of printing it: HTML with plots for .html/.htm,
    /// else Markdown.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

impl CompareArgs {
    /// Baseline and candidate: from -b/-c where given, the rest from the positional paths in
    /// order.
    pub(crate) fn paths(&self) -> Result<(PathBuf, PathBuf)> {
        let mut positional = self.runs.iter().cloned();
        let baseline = self.baseline.clone().or_else(|| positional.next());
        let candidate = self.candidate.clone().or_else(|| positional.next());
        let extra = positional.count();
        match (baseline, candidate) {
            (Some(_), Some(_)) if extra > 0 => {
                bail!("compare takes two runs: a baseline and a candidate ({extra} more path(s) given)")
            }
            (Some(b), Some(c)) => Ok((b, c)),
            (None, _) => bail!("compare needs a baseline run: `asb compare BASELINE CANDIDATE` (or -b and -c)"),
            (_, None) => bail!("compare needs a candidate run: `asb compare BASELINE CANDIDATE` (or -b and -c)"),
        }
    }
}

/// `asb compare`: baseline against candidate, as Markdown (HTML for a `.html` output), to
/// stdout or to `-o`.
pub(crate) fn run_compare(args: CompareArgs) -> Result<ExitCode> {
    let (baseline, candidate) = args.paths()?;
    if let Some(text) = compare_capacities(&baseline, &candidate)? {
        write_or_print(&text, args.output.as_deref())?;
        return Ok(ExitCode::SUCCESS);
    }
    let base = load(&baseline)?;
    let cand = load(&candidate)?;
    let text = match Format::for_output(args.output.as_deref()) {
        Format::Html => compare::render_html(&base, &cand),
        _ => compare::render(&base, &cand),
    };
    write_or_print(&text, args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Two results of `asb capacity`: their comparison (None when neither is one; an error
/// when only one is).
fn compare_capacities(baseline: &Path, candidate: &Path) -> Result<Option<String>> {
    use crate::replay::capacity::report::{compare, parse};
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| anyhow!("cannot read {}: {e}", p.display()));
    let (b, c) = (read(baseline)?, read(candidate)?);
    match (parse(&b), parse(&c)) {
        (None, None) => Ok(None),
        (Some(b), Some(c)) => {
            let b = b.map_err(|e| anyhow!("{}: {e}", baseline.display()))?;
            let c = c.map_err(|e| anyhow!("{}: {e}", candidate.display()))?;
            Ok(Some(compare(&b, &c)))
        }
        _ => bail!("compare two replay runs or two capacity results, not one of each"),
    }
}

fn write_or_print(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        None => crate::output::emit(text),
        Some(path) => {
            std::fs::write(path, text).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("asb: wrote {}", path.display());
            Ok(())
        }
    }
}

/// Runs built by hand for the report tests: numbers small enough to check by eye.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::replay::results::*;

    /// The statistics of `requests`' successes, as the replay computes them.
    fn metrics_of(requests: &[&RequestSample]) -> Metrics {
        crate::replay::aggregate::metrics(requests.iter().copied(), None)
    }

    /// A successful request: `ttft` ms to the first output, `n_out` tokens `itl` ms apart.
    pub(crate) fn ok_request(task: &str, turn: usize, bucket: &str, prompt: u64, ttft: f64, itl: f64) -> RequestSample {
        let n_out: u64 = 5;
        let gaps = vec![itl; (n_out - 1) as usize];
        let decode_ms = itl * (n_out - 1) as f64;
        let start = 1000.0 * turn as f64;
        RequestSample {
            task_id: task.into(),
            turn,
            seq: turn as u64,
            slot: turn % 2,
            scheduled_ms: start,
            start_ms: start,
            attempts: 1,
            status: Some(200),
            ttft_ms: Some(ttft),
            e2e_ms: Some(ttft + decode_ms),
            total_ms: Some(ttft + decode_ms + 1.0),
            itl_ms: gaps,
            content_events: n_out,
            events: n_out + 2,
            prompt_tokens: Some(prompt),
            cached_tokens: Some(prompt / 2),
            completion_tokens: n_out,
            completion_source: "usage".into(),
            context_tokens_estimate: prompt,
            bucket: bucket.into(),
            tpot_ms: Some(itl),
            decode_tok_per_s: Some((n_out - 1) as f64 / decode_ms * 1000.0),
            asb_decode_tok_per_s: Some(n_out as f64 / (decode_ms + 1.0) * 1000.0),
            prefill_tok_per_s: Some((prompt - prompt / 2) as f64 / ttft * 1000.0),
            prefill_total_tok_per_s: Some(prompt as f64 / ttft * 1000.0),
            stop_reason: Some("stop".into()),
            ok: true,
            ..RequestSample::default()
        }
    }

    pub(crate) fn failed_request(task: &str, turn: usize, bucket: &str, error: &str) -> RequestSample {
        RequestSample {
            task_id: task.into(),
            turn,
            seq: turn as u64,
            slot: turn % 2,
            scheduled_ms: 1000.0 * turn as f64,
            start_ms: 1000.0 * turn as f64 + 5.0,
            attempts: 2,
            status: Some(500),
            total_ms: Some(12.0),
            context_tokens_estimate: 100,
            completion_source: "estimate".into(),
            bucket: bucket.into(),
            error: Some(error.into()),
            ok: false,
            ..RequestSample::default()
        }
    }

    fn bucket(name: &str, lower: u64, upper: Option<u64>, requests: &[&RequestSample]) -> BucketStats {
        let succeeded = requests.iter().filter(|r| r.ok).count();
        let output_tokens: u64 = requests.iter().filter(|r| r.ok).map(|r| r.completion_tokens).sum();
        let prompts: Vec<u64> = requests.iter().map(|r| r.prompt_tokens.unwrap_or(r.context_tokens_estimate)).collect();
        BucketStats {
            name: name.into(),
            lower,
            upper,
            requests: requests.len(),
            succeeded,
            failed: requests.len() - succeeded,
            max_prompt_tokens: prompts.iter().copied().max().unwrap_or(0),
            mean_prompt_tokens: prompts.iter().sum::<u64>() as f64 / prompts.len().max(1) as f64,
            wall_time_s: 2.0,
            aggregate_tok_per_s: output_tokens as f64 / 2.0,
            output_tokens,
            metrics: metrics_of(requests),
        }
    }

    /// A run from the requests given, with the summary and buckets derived from them.
    pub(crate) fn run_of(requests: Vec<RequestSample>) -> RunResults {
        let mut buckets = Vec::new();
        for (name, lower, upper) in [("fresh", 0, Some(10_000)), ("medium", 30_000, Some(55_000))] {
            let members: Vec<&RequestSample> = requests.iter().filter(|r| r.bucket == name).collect();
            if !members.is_empty() {
                buckets.push(bucket(name, lower, upper, &members));
            }
        }
        let all: Vec<&RequestSample> = requests.iter().collect();
        let succeeded = requests.iter().filter(|r| r.ok).count();
        let mut errors: Vec<ErrorCount> = Vec::new();
        for e in requests.iter().filter_map(|r| r.error.as_deref()) {
            match errors.iter_mut().find(|c| c.error == e) {
                Some(c) => c.count += 1,
                None => errors.push(ErrorCount { error: e.into(), count: 1 }),
            }
        }
        let output_tokens: u64 = requests.iter().filter(|r| r.ok).map(|r| r.completion_tokens).sum();
        let input_tokens: u64 = requests.iter().filter_map(|r| r.prompt_tokens).sum();
        let cached_tokens: u64 = requests.iter().filter_map(|r| r.cached_tokens).sum();
        RunResults {
            results_version: RESULTS_VERSION,
            tool: "asb 0.1.0".into(),
            label: None,
            started_at: "2025-06-01T12:00:00Z".into(),
            endpoint: "http://127.0.0.1:8000".into(),
            target_url: "http://127.0.0.1:8000/v1/chat/completions".into(),
            api: "openai".into(),
            model: "test-model".into(),
            scenario: ScenarioInfo {
                name: "two-tasks".into(),
                source: "builtin:two-tasks".into(),
                description: "Two small tasks".into(),
                tasks: vec![
                    TaskInfo {
                        id: "build-api".into(),
                        name: "Build the API".into(),
                        requests: 3,
                        recorded_requests: 3,
                    },
                    TaskInfo { id: "fix-bug".into(), name: "Fix <the> bug".into(), requests: 2, recorded_requests: 4 },
                ],
                requests: 5,
            },
            settings: Settings {
                cache_mode: "realistic".into(),
                cache_detail: "shared prefix kept warm, unique context made unique".into(),
                shared_prefix_chars: Some(1200),
                history_mode: "recorded".into(),
                repetitions: 1,
                max_concurrent: 2,
                load: "2 sessions at once, closed loop (a session ends, the next starts)".into(),
                think_time: "none".into(),
                policy: "round_robin".into(),
                seed: None,
                slice_tokens: None,
                max_tokens: "as recorded (64–4096)".into(),
                temperature: "as recorded".into(),
                timeout_s: 300.0,
                max_retries: 2,
                max_consecutive_failures: None,
                executions: 2,
                scheduled_requests: requests.len(),
                model_context_length: None,
                over_context: 0,
            },
            formulas: formulas(),
            load: None,
            slo: None,
            answer_checks: None,
            shard: None,
            merged: None,
            sessions: Vec::new().into(),
            summary: Summary {
                verdict: if succeeded > 0 { "good".into() } else { "unknown".into() },
                verdict_basis: "medium bucket: TTFT p50 and decode p50".into(),
                requests: requests.len(),
                succeeded,
                failed: requests.len() - succeeded,
                retries: requests.iter().map(|r| u64::from(r.attempts.saturating_sub(1))).sum(),
                duration_s: 5.0,
                request_throughput: succeeded as f64 / 5.0,
                output_tok_per_s: output_tokens as f64 / 5.0,
                total_tok_per_s: (output_tokens + input_tokens) as f64 / 5.0,
                concurrency: 1.2,
                input_tokens,
                cached_tokens,
                output_tokens,
                cache_hit_rate: (input_tokens > 0).then(|| cached_tokens as f64 / input_tokens as f64),
                estimated_output_counts: 0,
                metrics: metrics_of(&all),
                errors,
            },
            buckets,
            requests: requests.into(),
            itl_bound: None,
            aborted: None,
            server_metrics: None,
            prefix_cache: None,
            clock_check: None,
        }
    }

    /// Two buckets (fresh, medium), two tasks, one failure in medium.
    pub(crate) fn sample_run() -> RunResults {
        run_of(vec![
            ok_request("build-api", 0, "fresh", 2_000, 100.0, 0.8),
            ok_request("build-api", 1, "fresh", 6_000, 150.0, 0.5),
            ok_request("build-api", 2, "medium", 40_000, 900.0, 20.0),
            ok_request("fix-bug", 3, "medium", 45_000, 1100.0, 25.0),
            failed_request("fix-bug", 4, "medium", "HTTP 500: upstream | <b>overloaded</b>"),
        ])
    }

    /// Every request failed.
    pub(crate) fn failed_run() -> RunResults {
        run_of(vec![
            failed_request("build-api", 0, "fresh", "ConnectError: connection refused"),
            failed_request("fix-bug", 1, "fresh", "ConnectError: connection refused"),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn save(run: &RunResults) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), serde_json::to_string(&crate::replay::run_json::OnDisk::of(run)).unwrap()).unwrap();
        file
    }

    #[test]
    fn round_trip_through_the_file() {
        let run = fixtures::sample_run();
        let file = save(&run);
        let back = load(file.path()).unwrap();
        let value = |r: &RunResults| serde_json::to_value(crate::replay::run_json::OnDisk::of(r)).unwrap();
        assert_eq!(value(&back), value(&run));
        assert_eq!(back.requests.len(), run.requests.len());
    }

    #[test]
    fn load_errors_name_the_file() {
        let mut run = fixtures::sample_run();
        run.results_version = RESULTS_VERSION + 1;
        let file = save(&run);
        let err = format!("{:#}", load(file.path()).unwrap_err());
        assert!(err.contains(&file.path().display().to_string()), "{err}");
        assert!(err.contains("newer") && err.contains("upgrade"), "{err}");

        let missing = std::path::Path::new("/nonexistent/run.json");
        assert!(format!("{:#}", load(missing).unwrap_err()).contains("/nonexistent/run.json"));

        let bad = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(bad.path(), "{\"results_version\": 1,").unwrap();
        let err = format!("{:#}", load(bad.path()).unwrap_err());
        assert!(err.contains(&bad.path().display().to_string()) && err.contains("not valid"), "{err}");

        // A field of the wrong type: the message gives its path.
        let mut value = serde_json::to_value(fixtures::sample_run()).unwrap();
        value["buckets"][1]["requests"] = serde_json::json!("many");
        std::fs::write(bad.path(), value.to_string()).unwrap();
        let err = format!("{:#}", load(bad.path()).unwrap_err());
        assert!(err.contains("buckets[1].requests"), "{err}");

        std::fs::write(bad.path(), "{}").unwrap();
        assert!(format!("{:#}", load(bad.path()).unwrap_err()).contains("results_version"));
    }

    #[test]
    fn format_follows_the_output_extension() {
        use std::path::Path;
        assert_eq!(Format::for_output(None), Format::Console);
        assert_eq!(Format::for_output(Some(Path::new("r.md"))), Format::Markdown);
        assert_eq!(Format::for_output(Some(Path::new("r.HTML"))), Format::Html);
        assert_eq!(Format::for_output(Some(Path::new("r.htm"))), Format::Html);
        assert_eq!(Format::for_output(Some(Path::new("r.json"))), Format::Json);
        assert_eq!(Format::for_output(Some(Path::new("r.csv"))), Format::Csv);
        assert_eq!(Format::for_output(Some(Path::new("report"))), Format::Markdown);
    }

    #[derive(Parser)]
    struct CompareCli {
        #[command(flatten)]
        args: CompareArgs,
    }

    fn compare_paths(argv: &[&str]) -> Result<(PathBuf, PathBuf)> {
        let cli = CompareCli::try_parse_from(std::iter::once("compare").chain(argv.iter().copied()))?;
        cli.args.paths()
    }

    #[test]
    fn compare_takes_positional_or_flagged_paths() {
        let expected = (PathBuf::from("a.json"), PathBuf::from("b.json"));
        assert_eq!(compare_paths(&["a.json", "b.json"]).unwrap(), expected);
        assert_eq!(compare_paths(&["-b", "a.json", "-c", "b.json"]).unwrap(), expected);
        assert_eq!(compare_paths(&["--candidate", "b.json", "a.json"]).unwrap(), expected);
        assert_eq!(compare_paths(&["-b", "a.json", "b.json"]).unwrap(), expected);
        assert!(compare_paths(&["a.json"]).is_err());
        assert!(compare_paths(&["-b", "a.json", "-c", "b.json", "x.json"]).is_err());
    }

    #[test]
    fn report_writes_each_format() {
        let file = save(&fixtures::sample_run());
        let dir = tempfile::tempdir().unwrap();
        for (name, needle) in [("r.md", "# asb replay report"), ("r.html", "<svg"), ("r.json", "\"results_version\"")] {
            let out = dir.path().join(name);
            let args = ReportArgs { input: vec![file.path().into()], output: Some(out.clone()), format: None };
            run_report(args).unwrap();
            assert!(std::fs::read_to_string(&out).unwrap().contains(needle), "{name}");
        }
        let out = dir.path().join("cmp.md");
        let args = CompareArgs {
            runs: vec![file.path().into(), file.path().into()],
            baseline: None,
            candidate: None,
            output: Some(out.clone()),
        };
        run_compare(args.clone()).unwrap();
        assert!(std::fs::read_to_string(&out).unwrap().contains("Tied"));
        // An HTML output gets HTML, not Markdown.
        let html = dir.path().join("cmp.html");
        run_compare(CompareArgs { output: Some(html.clone()), ..args }).unwrap();
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg") && !page.contains("| Metric |"));
    }
}
