//! A scenario's answer checks: AgenticSwarmBench's `evaluate` directives, run on the
//! endpoint's answers after the run.
//!
//! A manifest task may carry `evaluate: [{type: contains, value, case_sensitive?, seq?} |
//! {type: regex, pattern, seq?} | {type: llm, prompt, seq?}]`. A check with `seq` looks at
//! the answer to that recorded call only; without it, at every answer of the execution,
//! and passes when any matches. An execution passes when every check that ran passed.
//!
//! What differs from AgenticSwarmBench (the original asb), on purpose:
//! - checks survive poisoning and slicing (there, both drop `evaluate`, so checks only ran
//!   in `allwarm`), and run in either history mode (there, they forced `live`): the answer
//!   checked is the endpoint's in both modes;
//! - `llm` checks are reported as not run, with the reason, rather than skipped silently
//!   (AgenticSwarmBench accepted `--evaluate-llm` and never ran a judge either);
//! - a regex is Rust's `regex` syntax (Python's `re` minus look-around and backreferences):
//!   a pattern it cannot compile fails its check with "invalid regex" and the cause, as
//!   there.
//!
//! Only the answers of tasks that have checks are kept for this (the text, not the events).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::results::RequestSample;

/// One directive of a task's `evaluate` list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub kind: CheckKind,
    /// Only the answer to the recorded call with this `seq`.
    pub seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CheckKind {
    Contains {
        value: String,
        case_sensitive: bool,
    },
    Regex {
        pattern: String,
    },
    Llm {
        prompt: String,
    },
    /// A `type` this tool does not know: fails, saying so (as AgenticSwarmBench does).
    Unknown {
        kind: String,
    },
}

impl Check {
    /// Reads one directive; `at` names it in errors (`tasks[2].evaluate[0]`).
    pub(crate) fn from_json(value: &Value, at: &str) -> Result<Check, String> {
        let object = value.as_object().ok_or_else(|| format!("{at}: a check is a JSON object"))?;
        let text = |key: &str| -> Result<String, String> {
            match object.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(format!("{at}.{key}: expected a string, got {other}")),
                None => Err(format!("{at}: a {} check needs `{key}`", object["type"])),
            }
        };
        let seq = match object.get("seq") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| format!("{at}.seq: expected a whole number, got {v}"))?),
        };
        let kind = match object.get("type").and_then(Value::as_str) {
            Some("contains") => CheckKind::Contains {
                value: text("value")?,
                case_sensitive: match object.get("case_sensitive") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => return Err(format!("{at}.case_sensitive: expected true or false, got {other}")),
                },
            },
            Some("regex") => CheckKind::Regex { pattern: text("pattern")? },
            Some("llm") => CheckKind::Llm { prompt: text("prompt")? },
            Some(other) => CheckKind::Unknown { kind: other.to_string() },
            None => return Err(format!("{at}: a check needs a `type` (contains, regex or llm)")),
        };
        Ok(Check { kind, seq })
    }

    /// How the check reads in a report: `contains(Paris)`, `regex(3\s*x)`, `llm(…)`.
    fn label(&self) -> String {
        let base = match &self.kind {
            CheckKind::Contains { value, case_sensitive: true } => format!("contains({value})"),
            CheckKind::Contains { value, case_sensitive: false } => format!("contains({value}, any case)"),
            CheckKind::Regex { pattern } => format!("regex({pattern})"),
            CheckKind::Llm { prompt } => format!("llm({})", shortened(prompt, 40)),
            CheckKind::Unknown { kind } => format!("{kind}(?)"),
        };
        match self.seq {
            Some(seq) => format!("{base} at seq {seq}"),
            None => base,
        }
    }
}

fn shortened(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// What the checks found, over the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct AnswerChecks {
    /// Executions whose every check that ran passed, and executions judged (at least one
    /// check ran).
    pub passed: usize,
    pub judged: usize,
    pub executions: Vec<ExecutionChecks>,
}

/// The checks of one execution (task × repetition).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExecutionChecks {
    pub task_id: String,
    pub task_name: String,
    pub execution: u32,
    /// `None`: no check could run (only `llm` checks).
    pub passed: Option<bool>,
    pub checks: Vec<CheckOutcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CheckOutcome {
    /// `contains(Paris)`, `regex(…) at seq 3`.
    pub check: String,
    /// `None`: not run (an `llm` judge).
    pub passed: Option<bool>,
    /// `matched at seq 1`, `no match`, `seq 4 not seen`, `no applicable responses`, …
    pub detail: String,
}

/// A task with checks, as the evaluation needs it.
pub(crate) struct CheckedTask<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub checks: &'a [Check],
}

/// Runs every task's checks on the answers of each of its executions that sent at least
/// one request, in (task, execution) order.
pub(crate) fn evaluate(tasks: &[CheckedTask<'_>], requests: &[RequestSample]) -> Option<AnswerChecks> {
    if tasks.iter().all(|t| t.checks.is_empty()) {
        return None;
    }
    let mut result = AnswerChecks::default();
    for task in tasks.iter().filter(|t| !t.checks.is_empty()) {
        let mut executions: Vec<u32> = requests.iter().filter(|r| r.task_id == task.id).map(|r| r.execution).collect();
        executions.sort_unstable();
        executions.dedup();
        for execution in executions {
            let mut answers: Vec<&RequestSample> =
                requests.iter().filter(|r| r.task_id == task.id && r.execution == execution).collect();
            answers.sort_by_key(|r| r.turn);
            let checks: Vec<CheckOutcome> = task.checks.iter().map(|c| run_check(c, &answers)).collect();
            let ran: Vec<bool> = checks.iter().filter_map(|c| c.passed).collect();
            let passed = (!ran.is_empty()).then(|| ran.iter().all(|&p| p));
            result.judged += usize::from(passed.is_some());
            result.passed += usize::from(passed == Some(true));
            result.executions.push(ExecutionChecks {
                task_id: task.id.to_string(),
                task_name: task.name.to_string(),
                execution,
                passed,
                checks,
            });
        }
    }
    Some(result)
}

/// One check on one execution's answers (in turn order).
fn run_check(check: &Check, answers: &[&RequestSample]) -> CheckOutcome {
    let outcome = |passed: Option<bool>, detail: String| CheckOutcome { check: check.label(), passed, detail };
    let matcher: Box<dyn Fn(&str) -> bool> = match &check.kind {
        CheckKind::Contains { value, case_sensitive: true } => {
            let value = value.clone();
            Box::new(move |text: &str| text.contains(&value))
        }
        CheckKind::Contains { value, case_sensitive: false } => {
            let value = value.to_lowercase();
            Box::new(move |text: &str| text.to_lowercase().contains(&value))
        }
        CheckKind::Regex { pattern } => match regex::Regex::new(pattern) {
            Ok(re) => Box::new(move |text: &str| re.is_match(text)),
            Err(e) => return outcome(Some(false), format!("invalid regex: {}", first_line(&e.to_string()))),
        },
        CheckKind::Llm { .. } => {
            return outcome(None, "not run: replay runs no LLM judge (AgenticSwarmBench never ran one either)".into())
        }
        CheckKind::Unknown { kind } => {
            return outcome(Some(false), format!("unknown check type {kind:?} (contains, regex or llm)"))
        }
    };
    fn text(r: &RequestSample) -> &str {
        r.answer_text.as_deref().unwrap_or("")
    }
    if let Some(seq) = check.seq {
        return match answers.iter().find(|r| r.seq == seq) {
            None => outcome(Some(false), format!("seq {seq} not seen")),
            Some(r) if matcher(text(r)) => outcome(Some(true), format!("matched at seq {seq}")),
            Some(r) if !r.ok => outcome(Some(false), format!("no match (seq {seq} failed)")),
            Some(_) => outcome(Some(false), "no match".into()),
        };
    }
    if answers.is_empty() {
        return outcome(Some(false), "no applicable responses".into());
    }
    match answers.iter().find(|r| matcher(text(r))) {
        Some(r) => outcome(Some(true), format!("matched at seq {}", r.seq)),
        None => outcome(Some(false), "no match".into()),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Check {
        Check::from_json(&v, "evaluate[0]").unwrap()
    }

    fn answer(task: &str, execution: u32, turn: usize, seq: u64, text: &str, ok: bool) -> RequestSample {
        RequestSample {
            task_id: task.into(),
            execution,
            turn,
            seq,
            ok,
            answer_text: Some(text.into()),
            ..Default::default()
        }
    }

    fn run(checks: &[Check], requests: &[RequestSample]) -> AnswerChecks {
        evaluate(&[CheckedTask { id: "t", name: "Task", checks }], requests).unwrap()
    }

    #[test]
    fn reads_the_directives_agenticswarmbench_ships() {
        assert_eq!(
            check(json!({"type": "contains", "value": "Paris"})),
            Check { kind: CheckKind::Contains { value: "Paris".into(), case_sensitive: true }, seq: None }
        );
        assert_eq!(
            check(json!({"type": "regex", "pattern": "3\\s*[×x*]\\s*10|299", "seq": 2})),
            Check { kind: CheckKind::Regex { pattern: "3\\s*[×x*]\\s*10|299".into() }, seq: Some(2) }
        );
        assert_eq!(check(json!({"type": "judge"})).kind, CheckKind::Unknown { kind: "judge".into() });
        for (bad, says) in [
            (json!("contains"), "a check is a JSON object"),
            (json!({"value": "x"}), "needs a `type`"),
            (json!({"type": "contains"}), "needs `value`"),
            (json!({"type": "contains", "value": 3}), "evaluate[0].value: expected a string"),
            (json!({"type": "regex", "pattern": "x", "seq": -1}), "evaluate[0].seq"),
        ] {
            let e = Check::from_json(&bad, "evaluate[0]").unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn without_seq_any_answer_of_the_execution_may_match() {
        let contains = check(json!({"type": "contains", "value": "Paris"}));
        let r = run(
            std::slice::from_ref(&contains),
            &[
                answer("t", 0, 0, 1, "Lyon", true),
                answer("t", 0, 1, 2, "It is Paris.", true),
                answer("t", 1, 0, 1, "paris", true),
            ],
        );
        assert_eq!((r.passed, r.judged), (1, 2));
        assert_eq!(r.executions[0].checks[0].detail, "matched at seq 2");
        assert_eq!(r.executions[1].checks[0].detail, "no match", "case-sensitive by default");
        let any_case = check(json!({"type": "contains", "value": "Paris", "case_sensitive": false}));
        assert_eq!(run(&[any_case], &[answer("t", 0, 0, 1, "PARIS", true)]).passed, 1);
    }

    #[test]
    fn with_seq_only_that_answer_counts() {
        let at_2 = check(json!({"type": "regex", "pattern": "^4\\d$", "seq": 2}));
        let r = run(
            std::slice::from_ref(&at_2),
            &[answer("t", 0, 0, 1, "42", true), answer("t", 0, 1, 2, "7", true), answer("t", 1, 0, 1, "42", true)],
        );
        assert_eq!(r.executions[0].checks[0].detail, "no match");
        assert_eq!(r.executions[1].checks[0].detail, "seq 2 not seen", "sliced away or never sent");
        let failed = run(&[at_2], &[answer("t", 0, 0, 2, "", false)]);
        assert_eq!(failed.executions[0].checks[0].detail, "no match (seq 2 failed)");
    }

    #[test]
    fn an_execution_passes_when_every_check_that_ran_passed() {
        let checks = [
            check(json!({"type": "contains", "value": "22"})),
            check(json!({"type": "llm", "prompt": "Is it right?"})),
            check(json!({"type": "regex", "pattern": "(unclosed"})),
        ];
        let r = run(&checks, &[answer("t", 0, 0, 1, "22", true)]);
        let outcomes = &r.executions[0].checks;
        assert_eq!(outcomes[0].passed, Some(true));
        assert_eq!(outcomes[1].passed, None, "an llm judge is not run, and says so");
        assert!(outcomes[1].detail.starts_with("not run"));
        assert_eq!(outcomes[2].passed, Some(false));
        assert!(outcomes[2].detail.starts_with("invalid regex"), "{}", outcomes[2].detail);
        assert_eq!((r.passed, r.judged, r.executions[0].passed), (0, 1, Some(false)));
        let only_llm = run(&checks[1..2], &[answer("t", 0, 0, 1, "yes", true)]);
        assert_eq!((only_llm.judged, only_llm.executions[0].passed), (0, None));
    }

    #[test]
    fn tasks_without_checks_give_no_section() {
        assert!(evaluate(&[CheckedTask { id: "t", name: "t", checks: &[] }], &[]).is_none());
    }
}
