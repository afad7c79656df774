//! What a replay prints before it starts — where it sends, what and how (the effective
//! settings, so a run compared with another tool's is compared honestly) — and the dry
//! run's preview of the plan.

use std::fmt::Write;

use super::call_graph::TaskTiming;
use super::history::HistoryMode;
use super::plan::Plan;
use super::results::Settings;
use super::think_time::{Pace, ThinkTime};

/// The header: endpoint, model, scenario, schedule, cache and history modes, and what is
/// sent (max_tokens, temperature, retries, timeout).
pub(crate) fn header(
    plan: &Plan,
    settings: &Settings,
    history: HistoryMode,
    endpoint: &str,
    target_url: &str,
    model: &str,
    load: &str,
) -> String {
    let s = &plan.scenario;
    let mut out = String::from("asb replay\n");
    let _ = writeln!(out, "  Endpoint: {endpoint}");
    let _ = writeln!(out, "  Target: POST {target_url} ({})", api_label(plan));
    let _ = writeln!(out, "  Model: {model}");
    let _ = writeln!(
        out,
        "  Scenario: {} ({} tasks, {} requests per pass) from {}",
        s.name,
        s.tasks.len(),
        plan.requests_per_pass(),
        s.source
    );
    let seed = settings.seed.map(|s| format!(" seed={s}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "  Schedule: {} × {} reps (max {} concurrent){seed}",
        settings.policy, settings.repetitions, settings.max_concurrent
    );
    let _ = writeln!(out, "  Total executions: {} ({} requests)", settings.executions, settings.scheduled_requests);
    out.push_str(load);
    if let Some(n) = settings.slice_tokens {
        let _ = writeln!(out, "  Slice: ≤{n} cumulative prompt tokens per task");
    }
    if let Some(n) = settings.model_context_length {
        let _ = writeln!(
            out,
            "  Model context length: {n} tokens; {} request(s) per pass estimated above it are skipped (not sent)",
            plan.over_context.len()
        );
        for (task, seq, estimate) in plan.over_context.iter().take(5) {
            let _ = writeln!(out, "    skipped: task {task} seq {seq} (~{estimate} tokens)");
        }
        if plan.over_context.len() > 5 {
            let _ = writeln!(out, "    ... and {} more", plan.over_context.len() - 5);
        }
    }
    let checks: usize = s.tasks.iter().map(|t| t.checks.len()).sum();
    if checks > 0 {
        let tasks = s.tasks.iter().filter(|t| !t.checks.is_empty()).count();
        let _ =
            writeln!(out, "  Answer checks: {checks} on {tasks} task(s), run on the endpoint's answers after the run");
    }
    let _ = writeln!(out, "  Cache mode: {} ({})", settings.cache_mode, settings.cache_detail);
    let _ = writeln!(out, "  History mode: {} ({})", settings.history_mode, history.describe());
    let _ = writeln!(out, "  max_tokens: {}", settings.max_tokens);
    let _ = writeln!(out, "  temperature: {}", settings.temperature);
    let _ = writeln!(
        out,
        "  Streaming with usage; timeout {} s per request; up to {} retries (connect errors, 429, 5xx before output)",
        settings.timeout_s, settings.max_retries
    );
    let approx: u64 = plan.requests.iter().flatten().map(|r| r.estimate).sum();
    let _ = writeln!(out, "  Approx prompt tokens: {approx} per pass (chars/4)");
    for task in &s.tasks {
        for skipped in &task.skipped {
            let _ = writeln!(out, "  Not replayable, skipped: {skipped}");
        }
    }
    out.push_str(&"─".repeat(60));
    out.push('\n');
    out
}

fn api_label(plan: &Plan) -> &'static str {
    match plan.api {
        crate::wire::Api::OpenAi => "OpenAI Chat Completions",
        crate::wire::Api::Anthropic => "Anthropic Messages",
        crate::wire::Api::Responses => "OpenAI Responses",
    }
}

/// The dry run's schedule: per task (at most 5, 12 calls each), when each call goes —
/// what it waits for, the think time after it, and its recorded offset.
pub(crate) fn dry_run_schedule(plan: &Plan, timings: &[TaskTiming], think: ThinkTime) -> String {
    let mut out = format!("\n  Schedule per session (think time {think}):\n");
    for (t, task) in plan.scenario.tasks.iter().enumerate().take(5) {
        let Some(timing) = timings.get(t) else { continue };
        let note =
            if timing.timed || think.pace == Pace::BackToBack { "" } else { " (no recorded times: back to back)" };
        let _ = writeln!(out, "    Task {}{note}:", task.id);
        for (i, call) in timing.calls.iter().enumerate().take(12) {
            let thread: String = plan.requests[t][i].thread.chars().take(10).collect();
            let when = match think.pace {
                Pace::Timestamps => format!("at session start + {:.3} s", think.offset_ms(call.offset_ms) / 1000.0),
                _ if call.after.is_empty() => {
                    format!("at session start + {:.3} s", think.offset_ms(call.offset_ms) / 1000.0)
                }
                _ => call
                    .after
                    .iter()
                    .map(|a| format!("[{}] ends + {:.3} s", a.call + 1, think.gap_ms(a.gap_ms) / 1000.0))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let _ = writeln!(
                out,
                "      [{}] thread {thread}: {when} (recorded offset {:.3} s)",
                i + 1,
                call.offset_ms / 1000.0
            );
        }
        if timing.calls.len() > 12 {
            let _ = writeln!(out, "      ... and {} more", timing.calls.len() - 12);
        }
    }
    out
}

/// The dry run: the plan per task (at most 5 tasks × 3 requests shown), after slicing and
/// the cache mode — what would really be sent.
pub(crate) fn dry_run(plan: &Plan) -> String {
    let mut out = String::from("DRY RUN -- no requests will be sent\n");
    let _ = writeln!(out, "  Tasks: {}", plan.scenario.tasks.len());
    let _ = writeln!(out, "  Total requests: {}", plan.scheduled_requests());
    for (t, task) in plan.scenario.tasks.iter().enumerate().take(5) {
        let _ = writeln!(
            out,
            "\n  Task: {} ({} requests of {} recorded)",
            task.id,
            plan.requests[t].len(),
            plan.recorded_requests[t]
        );
        for (i, r) in plan.requests[t].iter().enumerate().take(3) {
            let (_, poisoned) = plan.body(t, 0, i);
            let max_out = super::request::max_tokens(&r.built.body).map_or("server default".into(), |n| n.to_string());
            let _ = writeln!(
                out,
                "    [{}] ~{} tokens, max_tokens={max_out}, cache poison: {poisoned} spaces doubled (execution 0)",
                i + 1,
                r.estimate
            );
        }
        if plan.requests[t].len() > 3 {
            let _ = writeln!(out, "    ... and {} more", plan.requests[t].len() - 3);
        }
    }
    if plan.scenario.tasks.len() > 5 {
        let _ = writeln!(out, "\n  ... and {} more tasks", plan.scenario.tasks.len() - 5);
    }
    out
}
