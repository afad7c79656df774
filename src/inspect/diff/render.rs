//! `asb diff`'s text: the files, each thread pair's entries one line or a few each, and the
//! summary; written entry by entry from a walk (or, in tests, from a whole `Report`).

use std::fmt::Write as _;

use anyhow::Result;

use crate::display::{duration_ms, plural, ratio};

use super::super::align::Step;
use super::report::{Entry, FileInfo, PromptDiff, ResponseDiff, Summary, TimingDiff};
#[cfg(test)]
use super::report::{Report, ThreadReport};
use super::walk::Walk;
use super::PIECE;

/// Parameter changes listed per pair.
const FIELDS_SHOWN: usize = 6;

/// The human-readable report.
#[cfg(test)]
pub(crate) fn render(r: &Report) -> String {
    let mut out = render_head(&r.a, &r.b, r.by_thread);
    for t in &r.threads {
        let _ = writeln!(out);
        if r.by_thread {
            let _ = writeln!(out, "{}", thread_header(t));
        }
        for e in &t.entries {
            render_entry(&mut out, e);
        }
    }
    out.push_str(&render_summary(&r.summary));
    out
}

/// The report of a walk, handed to `sink` piece by piece as the entries are computed.
pub(crate) fn render_walk(walk: &mut Walk, sink: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
    let mut out = render_head(&walk.file_a, &walk.file_b, walk.by_thread);
    for g in 0..walk.groups.len() {
        let steps = walk.steps(g);
        let _ = writeln!(out);
        if walk.by_thread {
            let (thread_a, thread_b) = walk.thread_ids(g);
            let in_a = steps.iter().filter(|s| !matches!(s, Step::OnlyB(_))).count();
            let in_b = steps.iter().filter(|s| !matches!(s, Step::OnlyA(_))).count();
            let _ = writeln!(out, "{}", thread_line(&thread_a, &thread_b, in_a, in_b));
        }
        for step in steps {
            render_entry(&mut out, &walk.entry(g, step)?);
            if out.len() >= PIECE {
                sink(&out)?;
                out.clear();
            }
        }
    }
    out.push_str(&render_summary(&walk.summary()));
    sink(&out)
}

fn render_head(a: &FileInfo, b: &FileInfo, by_thread: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "asb diff  A = {} ({})", a.path, plural(a.calls, "call"));
    let _ = writeln!(out, "          B = {} ({})", b.path, plural(b.calls, "call"));
    let how = if by_thread {
        "aligned thread by thread, in turn order"
    } else {
        "aligned in arrival order (not every call has a thread_id)"
    };
    let _ = writeln!(out, "{how}; = equal  ~ changed  - only in A  + only in B");
    out
}

fn render_summary(s: &Summary) -> String {
    format!(
        "\nsummary: {} pairs ({} equal, {} changed), {} only in A, {} only in B\n",
        s.pairs, s.equal, s.changed, s.only_a, s.only_b
    )
}

#[cfg(test)]
fn thread_header(t: &ThreadReport) -> String {
    let count = |kind: fn(&Entry) -> bool| t.entries.iter().filter(|e| kind(e)).count();
    let in_a = count(|e| !matches!(e, Entry::OnlyB(_)));
    let in_b = count(|e| !matches!(e, Entry::OnlyA(_)));
    thread_line(&t.thread_a, &t.thread_b, in_a, in_b)
}

fn thread_line(thread_a: &Option<String>, thread_b: &Option<String>, in_a: usize, in_b: usize) -> String {
    match (thread_a, thread_b) {
        (Some(a), Some(b)) if a == b => format!("thread {a} ({in_a} → {in_b} calls)"),
        (Some(a), Some(b)) => format!("thread {a} → {b} ({in_a} → {in_b} calls; first message differs)"),
        (Some(a), None) => format!("thread {a}: only in A ({})", plural(in_a, "call")),
        (None, Some(b)) => format!("thread {b}: only in B ({})", plural(in_b, "call")),
        (None, None) => "calls without thread".into(),
    }
}

fn render_entry(out: &mut String, e: &Entry) {
    match e {
        Entry::OnlyA(c) => {
            let _ = writeln!(out, "- #{} only in A  {}  {:?}", c.seq, c.model, c.last_input);
        }
        Entry::OnlyB(c) => {
            let _ = writeln!(out, "+ #{} only in B  {}  {:?}", c.seq, c.model, c.last_input);
        }
        Entry::Pair(p) => {
            let mark = if p.equal { '=' } else { '~' };
            let _ = writeln!(out, "{mark} #{} → #{}  {}  {:?}", p.a.seq, p.b.seq, p.b.model, p.b.last_input);
            if !p.prompt.equal {
                let _ = writeln!(out, "    prompt:   {}", prompt_line(&p.prompt));
            }
            if !p.response.equal {
                let _ = writeln!(out, "    response: {}", response_line(&p.response));
            }
            let _ = writeln!(out, "    timing:   {}", timing_line(&p.timing));
        }
    }
}

fn prompt_line(p: &PromptDiff) -> String {
    let mut parts = Vec::new();
    let delta = p.messages_b as i64 - p.messages_a as i64;
    if delta != 0 {
        let s = if delta.abs() == 1 { "" } else { "s" };
        parts.push(format!("{delta:+} message{s} ({} → {})", p.messages_a, p.messages_b));
    }
    if let Some(m) = &p.first_difference {
        parts.push(match (&m.a, &m.b, m.at_char) {
            (Some(a), Some(b), Some(at)) => format!(
                "message {} ({}) differs at char {at}: {a:?} → {b:?}",
                m.index,
                m.role_b.as_deref().unwrap_or("?")
            ),
            (Some(a), Some(b), None) => format!(
                "message {} role {} → {}: {a:?} → {b:?}",
                m.index,
                m.role_a.as_deref().unwrap_or("?"),
                m.role_b.as_deref().unwrap_or("?")
            ),
            (None, Some(b), _) => {
                format!("first new message {} ({}): {b:?}", m.index, m.role_b.as_deref().unwrap_or("?"))
            }
            (Some(a), None, _) => {
                format!("first dropped message {} ({}): {a:?}", m.index, m.role_a.as_deref().unwrap_or("?"))
            }
            (None, None, _) => format!("message {} differs", m.index),
        });
    }
    let shown: Vec<String> =
        p.fields.iter().take(FIELDS_SHOWN).map(|f| format!("{} {} → {}", f.path, f.a, f.b)).collect();
    if !shown.is_empty() {
        let more = p.fields.len().saturating_sub(FIELDS_SHOWN);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        parts.push(format!("{}{more}", shown.join(", ")));
    }
    parts.join("; ")
}

pub(super) fn response_line(r: &ResponseDiff) -> String {
    let mut parts = Vec::new();
    if r.outcome_a != r.outcome_b {
        parts.push(format!("outcome {} → {}", r.outcome_a, r.outcome_b));
    }
    if r.text_equal == Some(false) {
        parts.push("text differs".into());
    }
    if r.tool_calls_equal == Some(false) {
        let list = |calls: &[String]| if calls.is_empty() { "none".to_string() } else { calls.join(", ") };
        parts.push(format!("tool calls {} → {}", list(&r.tool_calls_a), list(&r.tool_calls_b)));
    }
    parts.join("; ")
}

fn timing_line(t: &TimingDiff) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &t.ttft_ms {
        parts.push(format!("ttft {} → {} ({})", duration_ms(c.a), duration_ms(c.b), ratio(c.a, c.b)));
    }
    if let Some(c) = &t.total_time_s {
        parts.push(format!("total {:.3}s → {:.3}s ({})", c.a, c.b, ratio(c.a, c.b)));
    }
    if parts.is_empty() {
        return "not recorded".into();
    }
    parts.join(", ")
}
