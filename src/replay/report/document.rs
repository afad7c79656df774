//! The content of a replay report, independent of its format: configuration, verdict, key
//! findings, per-bucket results, overall numbers, tasks, errors and the metric definitions.
//! Markdown and HTML both render this one [`Document`], so they cannot say different things;
//! text from the run (task names, errors, endpoint) stays plain text here and each renderer
//! escapes it for its format.

use std::collections::BTreeMap;

use crate::replay::answer_checks::AnswerChecks;
use crate::replay::load::LoadSummary;
use crate::replay::results::{BucketStats, Metrics, RunResults};
use crate::replay::sample_row::Sample;
use crate::replay::slo::SloReport;
use crate::stats::Distribution;

use crate::display::{approx_tokens, count, date, duration_ms, itl, num, opt, percent, rate0, rate1, seconds, NONE};
use crate::replay::verdict::{self, Grade};
use crate::stats::p50;

/// A run of inline text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Span {
    Text(String),
    /// Identifiers and data shown verbatim (model, paths, metric names, formulas, errors).
    Code(String),
    Strong(String),
}

/// Inline content: a table cell, a finding, a line.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Inline(pub Vec<Span>);

impl Inline {
    pub(crate) fn text(s: impl Into<String>) -> Inline {
        Inline(vec![Span::Text(s.into())])
    }
    pub(crate) fn code(s: impl Into<String>) -> Inline {
        Inline(vec![Span::Code(s.into())])
    }
    pub(crate) fn strong(s: impl Into<String>) -> Inline {
        Inline(vec![Span::Strong(s.into())])
    }
    pub(crate) fn then_text(mut self, s: impl Into<String>) -> Inline {
        self.0.push(Span::Text(s.into()));
        self
    }
    fn then_code(mut self, s: impl Into<String>) -> Inline {
        self.0.push(Span::Code(s.into()));
        self
    }
    fn then_strong(mut self, s: impl Into<String>) -> Inline {
        self.0.push(Span::Strong(s.into()));
        self
    }
}

impl From<String> for Inline {
    fn from(s: String) -> Inline {
        Inline::text(s)
    }
}

impl From<&str> for Inline {
    fn from(s: &str) -> Inline {
        Inline::text(s)
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Inline>>,
}

/// The verdict section.
#[derive(Debug, Clone)]
pub(crate) enum VerdictView {
    /// No request was sent at all.
    NothingSent,
    /// Requests were sent and none succeeded.
    NoSuccess,
    Graded {
        grade: Grade,
        /// The bucket the headline numbers come from.
        bucket: Option<String>,
        experience: Option<String>,
        /// `(value, what)`: `("67ms", "TTFT p50")`.
        headline: Vec<(String, String)>,
        /// The run's `verdict_basis`.
        basis: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub title: String,
    /// `scenario → model`.
    pub subtitle: String,
    /// The run's `--label`, if it has one.
    pub label: Option<String>,
    pub configuration: Table,
    pub verdict: VerdictView,
    /// Notes that hold whatever the verdict: early stop, estimated counts.
    pub notes: Vec<Inline>,
    /// Empty when nothing succeeded (the section is left out, as AgenticSwarmBench does).
    pub findings: Vec<Inline>,
    pub results: Table,
    /// Which metric each results column is, and how the grades were taken.
    pub results_legend: Vec<Inline>,
    pub overall: Table,
    pub distributions: Table,
    pub tasks: Table,
    /// The scenario's answer checks: a line saying how many executions passed, and one
    /// row per execution; `None` when no task has checks.
    pub answer_checks: Option<(String, Table)>,
    /// `None` when no request failed.
    pub errors: Option<Table>,
    /// What the server saw (its metrics, the prefix cache, its clock); `None` when
    /// nothing is known about it.
    pub server: Option<super::server::ServerSection>,
    pub definitions: Table,
}

pub(crate) const TITLE: &str = "asb replay report";

impl Document {
    /// The report of `r`; `json_path` is where the raw results were saved, if known.
    pub(crate) fn build(r: &RunResults, json_path: Option<&str>) -> Document {
        Document {
            title: TITLE.into(),
            subtitle: format!("{} → {}", r.scenario.name, r.model),
            label: r.label.clone(),
            configuration: configuration(r, json_path),
            verdict: verdict_view(r),
            notes: notes(r),
            findings: if r.summary.succeeded > 0 { findings(r) } else { Vec::new() },
            results: results(r),
            results_legend: results_legend(),
            overall: overall(r),
            distributions: distributions(&r.summary.metrics),
            tasks: tasks(r),
            answer_checks: answer_checks(r),
            errors: errors(r),
            server: super::server::section(r),
            definitions: definitions(&r.formulas),
        }
    }
}

fn row(label: &str, value: impl Into<Inline>) -> Vec<Inline> {
    vec![Inline::text(label), value.into()]
}

fn configuration(r: &RunResults, json_path: Option<&str>) -> Table {
    let s = &r.settings;
    let scenario = &r.scenario;
    let mut rows = Vec::new();
    if let Some(label) = &r.label {
        rows.push(row("Label", Inline::strong(label)));
    }
    rows.extend([
        row("Model", Inline::code(&r.model)),
        row("Endpoint", Inline::code(&r.endpoint)),
        row("Target URL", Inline::code(&r.target_url)),
        row(
            "API",
            match r.api.as_str() {
                "openai" => "openai (Chat Completions)".to_string(),
                "anthropic" => "anthropic (Messages)".to_string(),
                "responses" => "responses (OpenAI Responses)".to_string(),
                other => other.to_string(),
            },
        ),
        row(
            "Scenario",
            if scenario.description.is_empty() {
                Inline::code(&scenario.name)
            } else {
                Inline::code(&scenario.name).then_text(format!(" — {}", scenario.description))
            },
        ),
        row("Scenario source", Inline::code(&scenario.source)),
        row(
            "Tasks",
            format!(
                "{} task(s), {} request(s) per pass ({} recorded before slicing)",
                scenario.tasks.len(),
                scenario.requests,
                scenario.tasks.iter().map(|t| t.recorded_requests).sum::<usize>()
            ),
        ),
        row("Date", date(&r.started_at)),
        row("Tool", Inline::code(&r.tool)),
        row("Cache mode", Inline::code(&s.cache_mode).then_text(format!(" — {}", s.cache_detail))),
        row(
            "Shared prefix kept warm",
            match s.shared_prefix_chars {
                Some(n) => format!("{} chars", count(n as u64)),
                None => format!("{NONE} (no prefix split)"),
            },
        ),
        row("History mode", Inline::code(&s.history_mode)),
        row("Repetitions", s.repetitions.to_string()),
        row("Max concurrent", s.max_concurrent.to_string()),
        row("Policy", Inline::code(&s.policy)),
        row("Seed", s.seed.map_or_else(|| NONE.to_string(), |n| n.to_string())),
        row(
            "Slice",
            match s.slice_tokens {
                Some(n) => format!("≤ {} prompt tokens per recording", count(n)),
                None => "none (whole recordings)".to_string(),
            },
        ),
        row("Max tokens", s.max_tokens.clone()),
        row("Temperature", s.temperature.clone()),
        row("Timeout", format!("{} s", num(s.timeout_s))),
        row("Max retries", s.max_retries.to_string()),
        row(
            "Max consecutive failures",
            s.max_consecutive_failures.map_or_else(|| "no limit".to_string(), |n| n.to_string()),
        ),
        row("Executions", format!("{} (tasks × repetitions)", s.executions)),
        row("Scheduled requests", s.scheduled_requests.to_string()),
    ]);
    if let Some(why) = &r.aborted {
        rows.push(row("Stopped early", why.clone()));
    }
    if let Some(path) = json_path {
        rows.push(row("Raw results", Inline::code(path)));
    }
    rows.push(row("Results version", r.results_version.to_string()));
    Table { header: vec!["Setting".into(), "Value".into()], rows }
}

fn verdict_view(r: &RunResults) -> VerdictView {
    if r.summary.requests == 0 && r.requests.is_empty() {
        return VerdictView::NothingSent;
    }
    if r.summary.succeeded == 0 {
        return VerdictView::NoSuccess;
    }
    let bucket = verdict::headline_bucket(&r.buckets);
    let mut headline = Vec::new();
    if let Some(b) = bucket {
        let m = &b.metrics;
        if let Some(v) = p50(&m.ttft_ms) {
            headline.push((duration_ms(v), "TTFT p50".to_string()));
        }
        if let Some(v) = p50(&m.decode_tok_per_s) {
            headline.push((rate1(v), "decode tok/s/request p50".to_string()));
        }
        if let Some(v) = p50(&m.prefill_tok_per_s) {
            headline.push((rate0(v), "prefill tok/s p50 (uncached tokens)".to_string()));
        }
        headline.push((rate0(b.aggregate_tok_per_s), "tok/s aggregate".to_string()));
    }
    VerdictView::Graded {
        grade: Grade::parse(&r.summary.verdict),
        bucket: bucket.map(|b| b.name.clone()),
        experience: bucket.and_then(verdict::bucket_experience),
        headline,
        basis: r.summary.verdict_basis.clone(),
    }
}

fn notes(r: &RunResults) -> Vec<Inline> {
    let mut notes = Vec::new();
    if let Some(why) = &r.aborted {
        notes.push(Inline::strong("The run stopped early: ").then_text(why.clone()));
    }
    if let Some(behind) = r.load.as_ref().and_then(|l| l.behind_schedule.as_ref()) {
        notes.push(Inline::strong("The load asked for was not delivered: ").then_text(behind.clone()));
    }
    let estimated = r.summary.estimated_output_counts;
    if estimated > 0 {
        notes.push(Inline::text(format!(
            "{estimated} successful request(s) had no server usage: their output token counts are estimates \
             (chars/4 per output-bearing event), and so are the rates computed from them."
        )));
    }
    if let Some(bound) = &r.itl_bound {
        notes.push(
            Inline::strong("Inter-token latency carries a bound: ")
                .then_text(format!("{bound}. Every other figure is exact, computed from every request's raw values.")),
        );
    }
    if let Some(rows) = r.requests.rows() {
        notes.push(Inline::text(format!(
            "The plots draw {} of the run's {} requests, evenly spaced through it; the tables and figures are \
             computed from all of them.",
            r.requests.len(),
            rows.rows.len()
        )));
    }
    if let Some(m) = &r.merged {
        notes.push(
            Inline::strong(format!("Merged from {} of {} shards: ", m.present.len(), m.shards))
                .then_text(merged_detail(m)),
        );
    }
    if let Some(s) = &r.shard {
        notes.push(Inline::strong(format!("Shard {}/{} of a run: ", s.index, s.count)).then_text(format!(
            "this part alone (on {}); merge the shards with `asb report -i 'shard-*.json'`",
            if s.host.is_empty() { "an unnamed host" } else { &s.host }
        )));
    }
    notes
}

/// A merged run's shards in words: hosts, start spread, what is missing, what is exact.
pub(crate) fn merged_detail(m: &crate::replay::report::merge::MergeInfo) -> String {
    let missing = if m.missing.is_empty() {
        String::new()
    } else {
        format!("shard(s) {} missing; ", m.missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
    };
    format!("{missing}hosts {}; starts {:.0} ms apart at most; {}.", m.hosts.join(", "), m.start_spread_ms, m.exactness)
}

fn findings(r: &RunResults) -> Vec<Inline> {
    let mut out = Vec::new();
    let ttfts: Vec<(&str, f64)> =
        r.buckets.iter().filter_map(|b| p50(&b.metrics.ttft_ms).map(|v| (b.name.as_str(), v))).collect();
    match (ttfts.first(), ttfts.last()) {
        (Some(first), Some(last)) if ttfts.len() > 1 => {
            let scaling = if first.1 > 0.0 { format!("×{:.2}", last.1 / first.1) } else { "-".to_string() };
            out.push(Inline::text("TTFT scaling: p50 ").then_strong(scaling).then_text(format!(
                " from {} ({}) to {} ({}).",
                first.0,
                duration_ms(first.1),
                last.0,
                duration_ms(last.1)
            )));
        }
        (Some(only), _) => out.push(Inline::text(format!(
            "TTFT p50 {} in the only bucket with successes ({}).",
            duration_ms(only.1),
            only.0
        ))),
        _ => {}
    }
    let decodes: Vec<(&str, f64)> =
        r.buckets.iter().filter_map(|b| p50(&b.metrics.decode_tok_per_s).map(|v| (b.name.as_str(), v))).collect();
    let lowest = decodes.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let highest = decodes.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(lo), Some(hi)) = (lowest, highest) {
        if decodes.len() > 1 {
            out.push(
                Inline::text("Decode range: p50 ")
                    .then_strong(format!("{}–{} tok/s", rate1(lo.1), rate1(hi.1)))
                    .then_text(format!(" across buckets (lowest {}, highest {}).", lo.0, hi.0)),
            );
        } else {
            out.push(Inline::text(format!("Decode p50 {} tok/s ({}).", rate1(lo.1), lo.0)));
        }
    }
    match r.summary.cache_hit_rate {
        Some(rate) => out.push(Inline::text("Cache hit rate ").then_strong(percent(rate)).then_text(format!(
            " ({} of {} prompt tokens reported cached by the server).",
            count(r.summary.cached_tokens),
            count(r.summary.input_tokens)
        ))),
        None => out.push(Inline::text("Cache hit rate unknown: the server reported no cached-token counts.")),
    }
    let s = &r.summary;
    if s.failed > 0 {
        let mut finding = Inline::text(format!("{} of {} requests failed", s.failed, s.requests));
        if let Some(top) = s.errors.first() {
            finding = finding.then_text(format!("; most common ({}×): ", top.count)).then_code(top.error.clone());
        }
        out.push(finding);
    } else {
        out.push(Inline::text(format!("No failed requests ({} of {} succeeded).", s.succeeded, s.requests)));
    }
    if s.retries > 0 {
        out.push(Inline::text(format!("Retries: {} extra attempt(s) after failed tries.", s.retries)));
    }
    out
}

/// Whether any bucket has a success: the Experience column is shown only then.
fn any_success(r: &RunResults) -> bool {
    r.buckets.iter().any(|b| b.succeeded > 0)
}

fn results(r: &RunResults) -> Table {
    let mut header: Vec<String> = [
        "",
        "Context",
        "Requests",
        "Mean prompt",
        "Max prompt",
        "TTFT p50",
        "TTFT p90",
        "TTFT p99",
        "ITL p50",
        "ITL p99",
        "TPOT p50",
        "Decode p50",
        "asb decode p50",
        "Prefill p50",
        "Agg tok/s",
        "Output tok",
        "Completed",
    ]
    .map(String::from)
    .to_vec();
    let experience = any_success(r);
    if experience {
        header.push("Experience".into());
    }
    let rows = r.buckets.iter().map(|b| bucket_row(b, experience)).collect();
    Table { header, rows }
}

fn bucket_row(b: &BucketStats, experience: bool) -> Vec<Inline> {
    let m = &b.metrics;
    let completed = format!("{}/{}", b.succeeded, b.requests);
    let mut cells: Vec<String> = vec![
        verdict::bucket_grade(b).icon().into(),
        b.name.clone(),
        b.requests.to_string(),
        approx_tokens(b.mean_prompt_tokens),
        approx_tokens(b.max_prompt_tokens as f64),
    ];
    if b.succeeded == 0 {
        cells.push("FAIL".into());
        cells.extend(std::iter::repeat_n(NONE.to_string(), 10));
    } else {
        cells.extend([
            opt(p50(&m.ttft_ms), duration_ms),
            opt(m.ttft_ms.as_ref().map(|d| d.p90), duration_ms),
            opt(m.ttft_ms.as_ref().map(|d| d.p99), duration_ms),
            opt(p50(&m.itl_ms), itl),
            opt(m.itl_ms.as_ref().map(|d| d.p99), itl),
            opt(p50(&m.tpot_ms), duration_ms),
            opt(p50(&m.decode_tok_per_s), rate1),
            opt(p50(&m.asb_decode_tok_per_s), rate1),
            opt(p50(&m.prefill_tok_per_s), rate0),
            rate0(b.aggregate_tok_per_s),
            count(b.output_tokens),
        ]);
    }
    cells.push(completed);
    if experience {
        cells.push(verdict::bucket_experience(b).unwrap_or_else(|| NONE.to_string()));
    }
    let mut row: Vec<Inline> = cells.into_iter().map(Inline::text).collect();
    if let Some(name) = row.get_mut(1) {
        *name = Inline::code(b.name.clone());
    }
    row
}

fn results_legend() -> Vec<Inline> {
    vec![
        Inline::text("Over each bucket's successful requests: TTFT ")
            .then_code("ttft_ms")
            .then_text(", ITL ")
            .then_code("itl_ms")
            .then_text(" (every gap of the bucket pooled), TPOT ")
            .then_code("tpot_ms")
            .then_text(", Decode ")
            .then_code("decode_tok_per_s")
            .then_text(", asb decode ")
            .then_code("asb_decode_tok_per_s")
            .then_text(", Prefill ")
            .then_code("prefill_tok_per_s")
            .then_text(" (tok/s), Agg ")
            .then_code("aggregate_tok_per_s")
            .then_text(", Output tok = Σ ")
            .then_code("completion_tokens")
            .then_text(" of the successes; prompts are ")
            .then_code("prompt_tokens")
            .then_text(" (else ")
            .then_code("context_tokens_estimate")
            .then_text("). Formulas: Metric definitions below."),
        Inline::text(format!("{}.", capitalise(verdict::BUCKET_GRADE_BASIS))),
    ]
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `key = formula`, or `-` when the run has no such formula.
fn formula(formulas: &BTreeMap<String, String>, key: &str) -> Inline {
    match formulas.get(key) {
        Some(f) => Inline::code(format!("{key} = {f}")),
        None => Inline::text(NONE),
    }
}

fn overall(r: &RunResults) -> Table {
    let s = &r.summary;
    let f = &r.formulas;
    let share =
        |n: usize| if s.requests > 0 { format!(" ({})", percent(n as f64 / s.requests as f64)) } else { String::new() };
    let rows = vec![
        vec![
            Inline::text("Requests"),
            Inline::text(s.requests.to_string()),
            Inline::text("sent (retries not counted)"),
        ],
        vec![
            Inline::text("Succeeded"),
            Inline::text(format!("{}{}", s.succeeded, share(s.succeeded))),
            Inline::text("no error and at least one output token"),
        ],
        vec![Inline::text("Failed"), Inline::text(format!("{}{}", s.failed, share(s.failed))), Inline::text(NONE)],
        vec![
            Inline::text("Retries"),
            Inline::text(s.retries.to_string()),
            Inline::text("extra attempts, all requests"),
        ],
        vec![Inline::text("Duration"), Inline::text(seconds(s.duration_s)), formula(f, "duration_s")],
        vec![
            Inline::text("Request throughput"),
            Inline::text(format!("{} req/s", num(s.request_throughput))),
            formula(f, "request_throughput"),
        ],
        vec![
            Inline::text("Output throughput"),
            Inline::text(format!("{} tok/s", rate1(s.output_tok_per_s))),
            formula(f, "output_tok_per_s"),
        ],
        vec![
            Inline::text("Total throughput"),
            Inline::text(format!("{} tok/s", rate1(s.total_tok_per_s))),
            formula(f, "total_tok_per_s"),
        ],
        vec![Inline::text("Concurrency"), Inline::text(num(s.concurrency)), formula(f, "concurrency")],
        vec![Inline::text("Input tokens"), Inline::text(count(s.input_tokens)), formula(f, "prompt_tokens")],
        vec![Inline::text("Cached tokens"), Inline::text(count(s.cached_tokens)), Inline::text("server usage")],
        vec![Inline::text("Output tokens"), Inline::text(count(s.output_tokens)), formula(f, "completion_tokens")],
        vec![
            Inline::text("Cache hit rate"),
            Inline::text(opt(s.cache_hit_rate, percent)),
            formula(f, "cache_hit_rate"),
        ],
        vec![
            Inline::text("Estimated output counts"),
            Inline::text(s.estimated_output_counts.to_string()),
            Inline::text("successes without server usage (chars/4 estimate)"),
        ],
    ];
    let mut rows = rows;
    if let Some(load) = &r.load {
        rows.extend(load_rows(load, f));
    }
    if let Some(slo) = &r.slo {
        rows.extend(slo_rows(slo, f));
    }
    Table { header: vec!["Metric".into(), "Value".into(), "Formula".into()], rows }
}

/// `--slo`: met or not, each limit, attainment and goodput.
fn slo_rows(slo: &SloReport, f: &BTreeMap<String, String>) -> Vec<Vec<Inline>> {
    let mut rows = vec![vec![
        Inline::text("SLO"),
        Inline::strong(if slo.met { "met" } else { "not met" }).then_text(format!(" ({})", slo.slo)),
        formula(f, "slo met").then_text(format!("; {}", slo.latency_origin)),
    ]];
    for l in &slo.limits {
        rows.push(vec![
            Inline::code(l.limit.clone()),
            Inline::text(format!(
                "observed {}: {}",
                l.observed.map_or(NONE.to_string(), num),
                if l.met { "met" } else { "missed" }
            )),
            Inline::text(format!("{} requests meet it on their own", l.requests_meeting)),
        ]);
    }
    rows.extend([
        vec![
            Inline::text("SLO attainment"),
            Inline::text(format!("{} ({} of {})", opt(slo.attainment, percent), slo.requests_meeting, slo.requests)),
            formula(f, "slo attainment"),
        ],
        vec![
            Inline::text("Request goodput"),
            Inline::text(format!("{} req/s", num(slo.request_goodput))),
            formula(f, "request goodput"),
        ],
        vec![
            Inline::text("Token goodput"),
            Inline::text(format!("{} tok/s", rate1(slo.token_goodput))),
            formula(f, "token goodput"),
        ],
        vec![
            Inline::text("Session goodput"),
            Inline::text(format!(
                "{} sessions/s ({} of {} sessions)",
                num(slo.session_goodput),
                slo.sessions_meeting,
                slo.sessions
            )),
            formula(f, "session goodput"),
        ],
    ]);
    rows
}

/// The load the run delivered: model, think time, schedule lag, window, sessions.
fn load_rows(load: &LoadSummary, f: &BTreeMap<String, String>) -> Vec<Vec<Inline>> {
    let p50_p99 = |d: &Option<Distribution>, unit: fn(f64) -> String| match d {
        Some(d) => format!("p50 {}, p99 {} (n = {})", unit(d.p50), unit(d.p99), d.count),
        None => NONE.to_string(),
    };
    let w = &load.window;
    let sessions = &load.sessions;
    let mut rows = vec![
        vec![
            Inline::text("Load"),
            Inline::text(load.model.clone()),
            Inline::text("--sessions, --session-rate, --request-rate"),
        ],
        vec![
            Inline::text("Think time"),
            Inline::text(load.think_time.clone()),
            Inline::text(load.think_time_detail.clone()),
        ],
        vec![
            Inline::text("Schedule lag"),
            Inline::text(p50_p99(&load.schedule_lag_ms, duration_ms)),
            formula(f, "lag_ms").then_text(format!(
                "; behind schedule when more than 1 % of requests (and at least two) lag over {} ms",
                load.lag_tolerance_ms
            )),
        ],
        vec![
            Inline::text("Window"),
            Inline::text(format!("{} of {} requests", w.requests_in, w.requests_total)),
            Inline::text(w.rule.clone()),
        ],
    ];
    if sessions.started > 0 {
        rows.extend([
            vec![
                Inline::text("Sessions"),
                Inline::text(format!("{} started, {} completed", sessions.started, sessions.completed)),
                Inline::text("completed: every call sent"),
            ],
            vec![
                Inline::text("Session duration"),
                Inline::text(p50_p99(&sessions.duration_s, seconds)),
                Inline::text("intended start → last answer's end, completed sessions"),
            ],
            vec![
                Inline::text("Think time per session"),
                Inline::text(format!(
                    "scheduled {}; measured {}",
                    p50_p99(&sessions.think_scheduled_s, seconds),
                    p50_p99(&sessions.think_measured_s, seconds)
                )),
                Inline::text("Σ gaps applied; Σ time from the end of what a call waited for to its send"),
            ],
            vec![
                Inline::text("Session cache hit rate"),
                Inline::text(p50_p99(&sessions.cache_hit_rate, percent)),
                formula(f, "session cache_hit_rate"),
            ],
        ]);
    }
    rows
}

/// Every distribution of `m` with its key, in the order of [`Metrics`].
fn named_distributions(m: &Metrics) -> Vec<(&'static str, &Distribution)> {
    [
        ("ttft_ms", &m.ttft_ms),
        ("itl_ms", &m.itl_ms),
        ("tpot_ms", &m.tpot_ms),
        ("e2e_ms", &m.e2e_ms),
        ("ttft_from_due_ms", &m.ttft_from_due_ms),
        ("e2e_from_due_ms", &m.e2e_from_due_ms),
        ("decode_tok_per_s", &m.decode_tok_per_s),
        ("asb_decode_tok_per_s", &m.asb_decode_tok_per_s),
        ("prefill_tok_per_s", &m.prefill_tok_per_s),
        ("prefill_total_tok_per_s", &m.prefill_total_tok_per_s),
        ("prompt_tokens", &m.prompt_tokens),
        ("completion_tokens", &m.completion_tokens),
    ]
    .into_iter()
    .filter_map(|(k, d)| d.as_ref().map(|d| (k, d)))
    .collect()
}

fn distributions(m: &Metrics) -> Table {
    let header = ["Metric", "n", "mean", "stdev", "min", "p50", "p90", "p95", "p99", "max"].map(String::from).to_vec();
    let rows = named_distributions(m)
        .into_iter()
        .map(|(key, d)| {
            let mut row = vec![Inline::code(key), Inline::text(d.count.to_string())];
            row.extend([d.mean, d.stdev, d.min, d.p50, d.p90, d.p95, d.p99, d.max].map(|v| Inline::text(num(v))));
            row
        })
        .collect();
    Table { header, rows }
}

/// One task's requests, as the per-task table shows them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskRow {
    pub id: String,
    pub name: String,
    pub executions: usize,
    pub requests: usize,
    pub ok: usize,
    pub ttft_p50_ms: Option<f64>,
    pub decode_p50: Option<f64>,
}

/// Per task, from the raw requests: the scenario's tasks in order, then any task id found
/// only in the requests. A spilled run's from its compact rows (every request).
fn task_rows(r: &RunResults) -> Vec<TaskRow> {
    match r.requests.rows() {
        Some(rows) => task_rows_of(r, rows.rows),
        None => task_rows_of(r, &r.requests),
    }
}

fn task_rows_of<S: Sample>(r: &RunResults, requests: &[S]) -> Vec<TaskRow> {
    let mut ids: Vec<(&str, &str)> = r.scenario.tasks.iter().map(|t| (t.id.as_str(), t.name.as_str())).collect();
    for req in requests {
        if !ids.iter().any(|(id, _)| *id == req.task_id()) {
            ids.push((req.task_id(), ""));
        }
    }
    ids.into_iter()
        .map(|(id, name)| {
            let mine: Vec<&S> = requests.iter().filter(|q| q.task_id() == id).collect();
            let mut executions: Vec<u32> = mine.iter().map(|q| q.execution()).collect();
            executions.sort_unstable();
            executions.dedup();
            let ok = || mine.iter().filter(|q| q.ok());
            TaskRow {
                id: id.to_string(),
                name: name.to_string(),
                executions: executions.len(),
                requests: mine.len(),
                ok: ok().count(),
                ttft_p50_ms: Distribution::of(ok().filter_map(|q| q.ttft_ms())).map(|d| d.p50),
                decode_p50: Distribution::of(ok().filter_map(|q| q.decode_tok_per_s())).map(|d| d.p50),
            }
        })
        .collect()
}

fn tasks(r: &RunResults) -> Table {
    let header = ["Task", "Name", "Executions", "Requests", "OK", "TTFT p50", "Decode p50"].map(String::from).to_vec();
    let rows = task_rows(r)
        .into_iter()
        .map(|t| {
            vec![
                Inline::code(t.id),
                Inline::text(if t.name.is_empty() { NONE.to_string() } else { t.name }),
                Inline::text(t.executions.to_string()),
                Inline::text(t.requests.to_string()),
                Inline::text(format!("{}/{}", t.ok, t.requests)),
                Inline::text(opt(t.ttft_p50_ms, duration_ms)),
                Inline::text(opt(t.decode_p50, rate1)),
            ]
        })
        .collect();
    Table { header, rows }
}

/// How many executions passed their answer checks, in one line.
pub(crate) fn answer_checks_line(checks: &AnswerChecks) -> String {
    let share = if checks.judged > 0 {
        format!(" ({:.1} %)", 100.0 * checks.passed as f64 / checks.judged as f64)
    } else {
        String::new()
    };
    let unjudged = checks.executions.len() - checks.judged;
    let not_run = if unjudged > 0 { format!("; {unjudged} with only checks that are not run") } else { String::new() };
    format!(
        "Answer checks (the scenario's evaluate directives, on the endpoint's answers): {} of {} executions passed{share}{not_run}",
        checks.passed, checks.judged
    )
}

fn answer_checks(r: &RunResults) -> Option<(String, Table)> {
    let checks = r.answer_checks.as_ref()?;
    let header = ["Task", "Execution", "Result", "Checks"].map(String::from).to_vec();
    let rows = checks
        .executions
        .iter()
        .map(|e| {
            let result = match e.passed {
                Some(true) => Inline::text("pass"),
                Some(false) => Inline::strong("FAIL"),
                None => Inline::text("not judged"),
            };
            let detail = e
                .checks
                .iter()
                .map(|c| {
                    let mark = match c.passed {
                        Some(true) => "pass",
                        Some(false) => "FAIL",
                        None => "not run",
                    };
                    format!("{mark}: {}: {}", c.check, c.detail)
                })
                .collect::<Vec<_>>()
                .join("; ");
            vec![Inline::code(e.task_id.clone()), Inline::text(e.execution.to_string()), result, Inline::text(detail)]
        })
        .collect();
    Some((answer_checks_line(checks), Table { header, rows }))
}

fn errors(r: &RunResults) -> Option<Table> {
    if r.summary.errors.is_empty() {
        return None;
    }
    let rows = r
        .summary
        .errors
        .iter()
        .map(|e| vec![Inline::text(e.count.to_string()), Inline::code(e.error.clone())])
        .collect();
    Some(Table { header: vec!["Count".into(), "Error (first 200 characters)".into()], rows })
}

fn definitions(formulas: &BTreeMap<String, String>) -> Table {
    let rows = formulas.iter().map(|(k, v)| vec![Inline::code(k.clone()), Inline::code(v.clone())]).collect();
    Table { header: vec!["Metric".into(), "Formula".into()], rows }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{failed_run, sample_run};
    use super::*;

    #[test]
    fn tasks_come_from_the_requests() {
        let rows = task_rows(&sample_run());
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].id.as_str(), rows[0].requests, rows[0].ok, rows[0].executions), ("build-api", 3, 3, 1));
        assert_eq!(rows[0].ttft_p50_ms, Some(150.0));
        assert_eq!((rows[1].requests, rows[1].ok), (2, 1));
        assert_eq!(rows[1].ttft_p50_ms, Some(1100.0));
    }

    #[test]
    fn all_failed_has_no_findings_and_fail_rows() {
        let doc = Document::build(&failed_run(), None);
        assert!(matches!(doc.verdict, VerdictView::NoSuccess));
        assert!(doc.findings.is_empty());
        assert!(!doc.results.header.iter().any(|h| h == "Experience"));
        assert!(doc.results.rows[0].contains(&Inline::text("FAIL")));
        assert_eq!(doc.results.rows[0].len(), doc.results.header.len());
    }

    #[test]
    fn rows_match_headers() {
        let doc = Document::build(&sample_run(), Some("run.json"));
        for table in [&doc.results, &doc.overall, &doc.distributions, &doc.tasks, &doc.definitions] {
            assert!(table.rows.iter().all(|r| r.len() == table.header.len()), "{:?}", table.header);
        }
        assert!(matches!(&doc.verdict, VerdictView::Graded { bucket: Some(b), .. } if b == "medium"));
    }
}
