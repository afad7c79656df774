//! The Markdown report (`asb report -o run.md`): the [`Document`] in the section order of
//! AgenticSwarmBench (the original asb) — configuration, verdict, key findings, results —
//! followed by the overall numbers, tasks, errors and every metric's formula. Text from the
//! run is escaped so an error body or a task name can neither break a table nor inject
//! HTML.

use std::fmt::Write as _;

use crate::replay::results::RunResults;

use super::document::{Document, Inline, Span, Table, VerdictView};

/// The report of `r`; `json_path` is printed as where the raw results are.
pub(crate) fn render(r: &RunResults, json_path: Option<&str>) -> String {
    let doc = Document::build(r, json_path);
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", doc.title);
    let _ = writeln!(out, "{}\n", text(&doc.subtitle));
    if let Some(label) = &doc.label {
        let _ = writeln!(out, "Run **{}**\n", text(label));
    }

    out.push_str("### Configuration\n\n");
    table(&mut out, &doc.configuration);

    out.push_str("## Verdict\n\n");
    verdict(&mut out, &doc.verdict);
    for note in &doc.notes {
        let _ = writeln!(out, "> {}\n", inline(note, false));
    }

    if !doc.findings.is_empty() {
        out.push_str("### Key findings\n\n");
        for finding in &doc.findings {
            let _ = writeln!(out, "- {}", inline(finding, false));
        }
        out.push('\n');
    }

    out.push_str("## Results\n\n");
    if doc.results.rows.is_empty() {
        out.push_str("No requests were sent.\n\n");
    } else {
        table(&mut out, &doc.results);
        for line in &doc.results_legend {
            let _ = writeln!(out, "{}\n", inline(line, false));
        }
    }

    out.push_str("## Overall\n\n");
    table(&mut out, &doc.overall);

    if !doc.distributions.rows.is_empty() {
        out.push_str("### Distributions over successful requests\n\n");
        table(&mut out, &doc.distributions);
    }

    if let Some(server) = &doc.server {
        out.push_str("## Server\n\n");
        for note in &server.notes {
            let _ = writeln!(out, "{}\n", inline(note, false));
        }
        for t in [&server.summary, &server.prefix, &server.clock].into_iter().flatten() {
            table(&mut out, t);
        }
    }

    out.push_str("## Tasks\n\n");
    if doc.tasks.rows.is_empty() {
        out.push_str("No tasks.\n\n");
    } else {
        table(&mut out, &doc.tasks);
    }

    if let Some((line, checks)) = &doc.answer_checks {
        out.push_str("## Answer checks\n\n");
        out.push_str(&format!("{line}.\n\n"));
        table(&mut out, checks);
    }

    out.push_str("## Errors\n\n");
    match &doc.errors {
        None => out.push_str("No errors.\n\n"),
        Some(errors) => table(&mut out, errors),
    }

    out.push_str("## Metric definitions\n\n");
    out.push_str("How every number above is computed (from the run's own `formulas`).\n\n");
    table(&mut out, &doc.definitions);
    out
}

fn verdict(out: &mut String, v: &VerdictView) {
    match v {
        VerdictView::NothingSent => out.push_str("No requests were sent - all were skipped or filtered out.\n\n"),
        VerdictView::NoSuccess => out.push_str("**No successful requests.** Check endpoint configuration.\n\n"),
        VerdictView::Graded { grade, bucket, experience, headline, basis } => {
            let _ = write!(out, "> {} **{}**", grade.icon(), grade.label());
            if let Some(b) = bucket {
                let _ = write!(out, " at {} context", code(b, false));
            }
            if let Some(e) = experience {
                let _ = write!(out, " — {}", text(e));
            }
            out.push_str("\n>\n> ");
            let parts: Vec<String> =
                headline.iter().map(|(v, what)| format!("**{}** {}", text(v), text(what))).collect();
            out.push_str(&parts.join(" · "));
            out.push_str("\n\n");
            if !basis.is_empty() {
                let _ = writeln!(out, "Verdict basis: {}\n", text(basis));
            }
        }
    }
}

fn table(out: &mut String, t: &Table) {
    let header: Vec<String> = t.header.iter().map(|h| text(h)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(t.header.len().max(1)));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| inline(c, true)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// Inline content as Markdown; `in_table` escapes `|` inside code spans too.
pub(crate) fn inline(i: &Inline, in_table: bool) -> String {
    i.0.iter()
        .map(|span| match span {
            Span::Text(s) => text(s),
            Span::Code(s) => code(s, in_table),
            Span::Strong(s) if s.trim().is_empty() => text(s),
            Span::Strong(s) => format!("**{}**", text(s)),
        })
        .collect()
}

/// Plain text: one line, Markdown's active characters backslash-escaped.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A code span holding `s` verbatim: fenced by one backtick more than its longest backtick
/// run, on one line; `|` escaped inside tables (GitHub's tables split on it even there).
pub(crate) fn code(s: &str, in_table: bool) -> String {
    let flat: String = s
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    if flat.trim().is_empty() {
        return "-".into();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in flat.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let body = if in_table { flat.replace('|', "\\|") } else { flat };
    let pad = if body.starts_with('`') || body.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{body}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{failed_run, sample_run};
    use super::*;

    #[test]
    fn the_label_names_the_run() {
        let mut run = super::super::fixtures::sample_run();
        run.label = Some("gpu_a <new>".into());
        let md = render(&run, None);
        assert!(md.contains("Run **gpu\\_a \\<new\\>**") || md.contains("Run **gpu\\_a &lt;new&gt;**"), "{md}");
        assert!(md.contains("| Label |"), "{md}");
        assert!(super::super::console::summary(&run).contains("[gpu_a <new>]"));
    }

    #[test]
    fn report_has_every_section_and_formula() {
        let run = sample_run();
        let md = render(&run, Some("runs/run.json"));
        for section in [
            "# asb replay report",
            "### Configuration",
            "## Verdict",
            "### Key findings",
            "## Results",
            "## Tasks",
            "## Errors",
            "## Metric definitions",
        ] {
            assert!(md.contains(section), "{section}");
        }
        for (key, formula) in &run.formulas {
            assert!(md.contains(&format!("`{key}`")), "{key}");
            assert!(md.contains(formula.as_str()), "{formula}");
        }
        assert!(md.contains("🟢 **GOOD for agentic swarm scenarios** at `medium` context"));
        assert!(md.contains("`runs/run.json`"));
        assert!(md.contains("TTFT scaling"));
        assert!(md.contains("Fix \\<the\\> bug"));
        // The error's pipe is escaped inside the code span, its HTML kept verbatim as code.
        assert!(md.contains("`HTTP 500: upstream \\| <b>overloaded</b>`"));
        assert!(!md.to_lowercase().contains("padding"));
        assert!(!md.contains("SwarmOne"));
        for line in md.lines().filter(|l| l.starts_with('|')) {
            assert!(line.ends_with('|'), "{line}");
        }
    }

    #[test]
    fn all_failed_run() {
        let md = render(&failed_run(), None);
        assert!(md.contains("**No successful requests.**"));
        assert!(md.contains("| FAIL |"));
        assert!(md.contains("| 0/2 |"));
        assert!(!md.contains("Key findings"));
        assert!(!md.contains("Experience"));
        assert!(md.contains("ConnectError"));
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a`b", false), "``a`b``");
        assert_eq!(code("`x`", true), "`` `x` ``");
        assert_eq!(code("a|b\nc", true), "`a\\|b c`");
        assert_eq!(code("", true), "-");
        assert_eq!(text("a_b*c\nd"), "a\\_b\\*c d");
    }
}
