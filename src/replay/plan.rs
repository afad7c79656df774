//! Everything decided before the first request: which entries each task replays (slice),
//! what each request's body is, how the cache mode poisons it, and in which order the
//! executions run. The dry run prints this plan; the run sends it.

use anyhow::{bail, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::poison::{chars_in, common_prefix_len, execution_mask, poison_segments, scenario_lcp};
use super::prompt_text;
use super::request::{build, BuildOptions, Built};
use super::scenario::Scenario;
use super::schedule::{execution_queue, Execution, Policy};
use super::slice::sliced_len;
use crate::recording::thread::thread_id;
use crate::wire::Api;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CacheMode {
    /// Keep the scenario's shared prefix cacheable; poison each execution's unique context.
    Realistic,
    /// Send as recorded: the optimistic, all-cached upper bound.
    Allwarm,
    /// Poison from the first space: nothing cacheable across executions.
    Allcold,
    /// AgenticSwarmBench 3.4.3's realistic, byte for byte: poisoning starts at the
    /// scenario's LCP (in characters) in every request, so requests shorter than it (side
    /// requests, sub-agents) and a one-task scenario's first request go unpoisoned.
    RealisticCompat,
}

impl CacheMode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CacheMode::Realistic => "realistic",
            CacheMode::Allwarm => "allwarm",
            CacheMode::Allcold => "allcold",
            CacheMode::RealisticCompat => "realistic-compat",
        }
    }
}

/// What the planner needs from the command line.
#[derive(Debug, Clone)]
pub(crate) struct PlanOptions {
    pub api: Api,
    pub build: BuildOptions,
    pub cache_mode: CacheMode,
    pub slice_tokens: Option<u64>,
    pub repetitions: u32,
    pub policy: Policy,
    pub seed: u64,
    /// `--extra-body`: merged last into every request.
    pub extra_body: Option<serde_json::Map<String, Value>>,
    /// `--model-context-length`: requests whose estimate is over it are not sent.
    pub model_context_length: Option<u64>,
}

/// One request of a task, built once; executions poison a copy.
#[derive(Debug, Clone)]
pub(crate) struct PlannedRequest {
    pub built: Built,
    /// chars/4 of the prompt text and tools.
    pub estimate: u64,
    /// Where poisoning may start (bytes into the prompt text); `None` = never poisoned.
    pub poison_from: Option<usize>,
    /// The agent thread: the recording's, else derived from the conversation's shape.
    pub thread: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The scenario after `--task` and `--slice-tokens`.
    pub scenario: Scenario,
    /// Entries per task before slicing.
    pub recorded_requests: Vec<usize>,
    /// `requests[task][turn]`.
    pub requests: Vec<Vec<PlannedRequest>>,
    pub queue: Vec<Execution>,
    pub api: Api,
    pub cache_mode: CacheMode,
    /// Shared prefix kept warm, in characters (realistic), 0 (allcold), None (allwarm).
    pub shared_prefix_chars: Option<usize>,
    pub cache_detail: String,
    /// Requests left out by `--model-context-length`: (task id, seq, estimate).
    pub over_context: Vec<(String, u64, u64)>,
}

impl Plan {
    pub(crate) fn new(mut scenario: Scenario, opts: &PlanOptions) -> Result<Plan> {
        let recorded_requests = scenario.tasks.iter().map(|t| t.entries.len()).collect();
        let mut requests = Vec::new();
        for task in &mut scenario.tasks {
            let mut planned = Vec::new();
            for entry in &task.entries {
                let mut built = build(entry, opts.api, &opts.build).map_err(|e| {
                    anyhow::anyhow!("task {} (line {}): cannot build the request: {e}", task.id, entry.line)
                })?;
                if let (Some(extra), Some(obj)) = (&opts.extra_body, built.body.as_object_mut()) {
                    for (k, v) in extra {
                        obj.insert(k.clone(), v.clone());
                    }
                }
                let estimate = prompt_text::estimate_tokens(&built.body, opts.api);
                let thread = entry.thread.clone().unwrap_or_else(|| thread_id(opts.api, &built.body));
                planned.push(PlannedRequest { built, estimate, poison_from: None, thread });
            }
            if let Some(budget) = opts.slice_tokens {
                let sizes: Vec<u64> = task
                    .entries
                    .iter()
                    .zip(&planned)
                    .map(|(e, p)| e.recorded_prompt_tokens.unwrap_or(0).max(p.estimate))
                    .collect();
                let keep = sliced_len(&sizes, budget);
                task.entries.truncate(keep);
                planned.truncate(keep);
            }
            requests.push(planned);
        }
        let queue = execution_queue(scenario.tasks.len(), opts.repetitions, opts.policy, opts.seed);
        let mut plan = Plan {
            scenario,
            recorded_requests,
            requests,
            queue,
            api: opts.api,
            cache_mode: opts.cache_mode,
            shared_prefix_chars: None,
            cache_detail: String::new(),
            over_context: Vec::new(),
        };
        plan.plan_cache()?;
        if let Some(limit) = opts.model_context_length {
            plan.leave_out_over(limit);
        }
        Ok(plan)
    }

    /// Where each request's poisoning starts, by cache mode.
    ///
    /// realistic: with several tasks the shared prefix is the longest common prefix of
    /// their first requests (AgenticSwarmBench); with one task AgenticSwarmBench's rule
    /// would make the whole first request "shared", so we take its system prompt instead.
    /// Each request is poisoned from where it leaves the shared prefix — so side requests
    /// and sub-agents that diverge earlier are poisoned too (AgenticSwarmBench never
    /// poisons them).
    fn plan_cache(&mut self) -> Result<()> {
        let api = self.api;
        let texts: Vec<Vec<String>> = self
            .requests
            .iter()
            .map(|task| task.iter().map(|r| prompt_text::concat(&r.built.body, api).0).collect())
            .collect();
        match self.cache_mode {
            CacheMode::Allwarm => {
                self.cache_detail = "no poisoning: requests sent as recorded, cache allowed".into();
            }
            CacheMode::Allcold => {
                for r in self.requests.iter_mut().flatten() {
                    r.poison_from = Some(0);
                }
                self.shared_prefix_chars = Some(0);
                self.cache_detail = "every request poisoned from its first space: no cache across executions".into();
            }
            CacheMode::RealisticCompat => {
                let firsts: Vec<&str> = texts.iter().filter_map(|t| t.first().map(String::as_str)).collect();
                let lcp_bytes = if texts.iter().any(Vec::is_empty) { 0 } else { scenario_lcp(firsts.iter().copied()) };
                let lcp_chars = firsts.first().map_or(0, |first| chars_in(first, lcp_bytes));
                self.check_min_lcp(lcp_chars)?;
                for (task, task_texts) in self.requests.iter_mut().zip(&texts) {
                    for (r, text) in task.iter_mut().zip(task_texts) {
                        // The LCP is a count of characters, applied to each request's own text.
                        r.poison_from = Some(text.char_indices().nth(lcp_chars).map_or(text.len(), |(at, _)| at));
                    }
                }
                self.shared_prefix_chars = Some(lcp_chars);
                self.cache_detail = format!(
                    "AgenticSwarmBench 3.4.3's realistic, byte for byte: every request poisoned from character {lcp_chars} \
                     (the common prefix of the tasks' first requests{}); requests shorter than that go unpoisoned",
                    if firsts.len() == 1 { ", here the whole first request" } else { "" }
                );
            }
            CacheMode::Realistic => {
                let firsts: Vec<&str> = texts.iter().filter_map(|t| t.first().map(String::as_str)).collect();
                let (prefix, how): (&str, &str) = if firsts.len() >= 2 {
                    (&firsts[0][..scenario_lcp(firsts.iter().copied())], "common prefix of the tasks' first requests")
                } else if let Some(first) = firsts.first() {
                    let (_, system_len) = prompt_text::concat(&self.requests[0][0].built.body, api);
                    (&first[..system_len.min(first.len())], "system prompt (one task)")
                } else {
                    ("", "empty scenario")
                };
                let shared_chars = chars_in(prefix, prefix.len());
                self.check_min_lcp(shared_chars)?;
                for (task, task_texts) in self.requests.iter_mut().zip(&texts) {
                    for (r, text) in task.iter_mut().zip(task_texts) {
                        r.poison_from = Some(common_prefix_len(text, prefix));
                    }
                }
                self.shared_prefix_chars = Some(shared_chars);
                self.cache_detail = format!(
                    "shared prefix of {shared_chars} chars ({how}) kept warm; each execution's unique context poisoned"
                );
            }
        }
        Ok(())
    }

    /// `--model-context-length`: leaves out the requests estimated over `limit` tokens,
    /// after the cache mode is planned (as AgenticSwarmBench skips them at send time, the
    /// shared prefix is still taken from the first requests).
    fn leave_out_over(&mut self, limit: u64) {
        for (task, planned) in self.scenario.tasks.iter_mut().zip(&mut self.requests) {
            let mut kept = (Vec::new(), Vec::new());
            for (entry, request) in std::mem::take(&mut task.entries).into_iter().zip(std::mem::take(planned)) {
                if request.estimate > limit {
                    self.over_context.push((task.id.clone(), entry.seq, request.estimate));
                } else {
                    kept.0.push(entry);
                    kept.1.push(request);
                }
            }
            (task.entries, *planned) = kept;
        }
    }

    /// A scenario's `min_lcp_length`: realistic modes refuse a shared prefix shorter.
    fn check_min_lcp(&self, shared_chars: usize) -> Result<()> {
        match self.scenario.min_lcp_length {
            Some(min) if shared_chars < min => bail!(
                "the scenario's shared prefix is {shared_chars} chars, below its min_lcp_length of {min}: \
                 realistic mode would not keep a real shared prefix warm (use --cache-mode allcold or allwarm)"
            ),
            _ => Ok(()),
        }
    }

    /// The body to send for `turn` of `execution` of `task`, and how many spaces the
    /// cache mode inserted. Deterministic: the same (task, execution) gives the same bytes.
    pub(crate) fn body(&self, task: usize, execution: u32, turn: usize) -> (Value, usize) {
        let planned = &self.requests[task][turn];
        let mut body = planned.built.body.clone();
        let Some(start) = planned.poison_from else {
            return (body, 0);
        };
        let mask = execution_mask(&self.scenario.tasks[task].id, execution);
        let mut segments = prompt_text::segments_mut(&mut body, self.api);
        let inserted = poison_segments(&mut segments, start, &mask);
        (body, inserted)
    }

    /// Requests per pass over the scenario.
    pub(crate) fn requests_per_pass(&self) -> usize {
        self.requests.iter().map(Vec::len).sum()
    }

    pub(crate) fn scheduled_requests(&self) -> usize {
        self.queue.iter().map(|e| self.requests[e.task].len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::scenario::{Entry, RecordedRequest, Task};
    use serde_json::json;

    fn entry(messages: Value) -> Entry {
        Entry {
            seq: 1,
            line: 1,
            thread: None,
            model: "m".into(),
            request: RecordedRequest::Messages {
                messages: messages.as_array().unwrap().clone(),
                max_tokens: Some(10),
                temperature: None,
            },
            recorded_prompt_tokens: Some(1000),
            recorded_span_ms: None,
        }
    }

    fn scenario(tasks: Vec<(&str, Vec<Entry>)>) -> Scenario {
        Scenario {
            name: "s".into(),
            description: String::new(),
            source: "test".into(),
            model: None,
            min_lcp_length: None,
            tasks: tasks
                .into_iter()
                .map(|(id, entries)| Task { id: id.into(), name: id.into(), entries, skipped: vec![], checks: vec![] })
                .collect(),
        }
    }

    fn opts(mode: CacheMode) -> PlanOptions {
        PlanOptions {
            api: Api::OpenAi,
            build: BuildOptions::default(),
            cache_mode: mode,
            slice_tokens: None,
            repetitions: 2,
            policy: Policy::RoundRobin,
            seed: 0,
            extra_body: None,
            model_context_length: None,
        }
    }

    const SYSTEM: &str = "You are a careful coding agent with a long shared system prompt.";

    fn two_tasks() -> Scenario {
        let conv = |q: &str| json!([{"role": "system", "content": SYSTEM}, {"role": "user", "content": format!("Task {q} is to fix the parser and add tests for it now")}]);
        scenario(vec![("a", vec![entry(conv("one"))]), ("b", vec![entry(conv("two"))])])
    }

    fn text(body: &Value) -> String {
        prompt_text::concat(body, Api::OpenAi).0
    }

    #[test]
    fn realistic_keeps_the_shared_prefix_and_separates_executions() {
        let plan = Plan::new(two_tasks(), &opts(CacheMode::Realistic)).unwrap();
        let lcp = SYSTEM.len() + "Task ".len();
        assert_eq!(plan.shared_prefix_chars, Some(lcp));
        let (rep0, n0) = plan.body(0, 0, 0);
        let (rep1, n1) = plan.body(0, 1, 0);
        assert!(n0 > 0 && n1 > 0);
        let (t0, t1) = (text(&rep0), text(&rep1));
        assert_eq!(&t0[..lcp], &t1[..lcp], "the shared prefix is identical across repetitions");
        assert_ne!(t0, t1, "repetitions differ after it");
        assert_eq!(plan.body(0, 0, 0).0, rep0, "deterministic per (task, execution)");
        assert_eq!(t0.replace("  ", " "), text(&plan.requests[0][0].built.body));
    }

    #[test]
    fn allwarm_sends_as_recorded_and_allcold_poisons_the_system_prompt() {
        let warm = Plan::new(two_tasks(), &opts(CacheMode::Allwarm)).unwrap();
        assert_eq!(warm.body(1, 1, 0), (warm.requests[1][0].built.body.clone(), 0));
        let cold = Plan::new(two_tasks(), &opts(CacheMode::Allcold)).unwrap();
        let t = text(&cold.body(0, 0, 0).0);
        let first_double = t.find("  ").unwrap();
        assert!(first_double < SYSTEM.len(), "allcold poisons inside the system prompt");
    }

    #[test]
    fn one_task_shares_its_system_prompt_only() {
        let s = scenario(vec![(
            "only",
            vec![entry(
                json!([{"role": "system", "content": SYSTEM}, {"role": "user", "content": "fix the bug in the parser please"}]),
            )],
        )]);
        let plan = Plan::new(s, &opts(CacheMode::Realistic)).unwrap();
        assert_eq!(plan.shared_prefix_chars, Some(SYSTEM.len()));
        let t = text(&plan.body(0, 0, 0).0);
        assert!(t.starts_with(SYSTEM) && t.len() > text(&plan.requests[0][0].built.body).len());
    }

    #[test]
    fn min_lcp_length_is_enforced_in_realistic_mode_only() {
        let mut s = two_tasks();
        s.min_lcp_length = Some(10_000);
        let e = Plan::new(s.clone(), &opts(CacheMode::Realistic)).unwrap_err().to_string();
        assert!(e.contains("below its min_lcp_length of 10000"), "{e}");
        assert!(Plan::new(s, &opts(CacheMode::Allcold)).is_ok());
    }

    /// AgenticSwarmBench's realistic poisoning written out on code points as its docs
    /// describe it: isolated spaces of S from character `lcp`, the masked ones doubled,
    /// each extra space put in the message that holds its twin.
    fn reference_poison(messages: &[&str], lcp: usize, mask: &[bool; 64]) -> Vec<String> {
        let s: Vec<char> = messages.concat().chars().collect();
        let space = |i: Option<usize>| i.and_then(|i| s.get(i)) == Some(&' ');
        let positions: Vec<usize> = (lcp..s.len())
            .filter(|&i| s[i] == ' ' && !space(i.checked_sub(1)) && !space(Some(i + 1)))
            .take(64)
            .collect();
        let doubled: Vec<usize> = positions.iter().zip(mask).filter(|(_, &m)| m).map(|(&p, _)| p).collect();
        let mut out = Vec::new();
        let mut at = 0;
        for m in messages {
            let mut text = String::new();
            for c in m.chars() {
                text.push(c);
                if doubled.contains(&at) {
                    text.push(' ');
                }
                at += 1;
            }
            out.push(text);
        }
        out
    }

    fn contents(body: &Value) -> Vec<String> {
        body["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn realistic_compat_is_agenticswarmbench_byte_for_byte() {
        let system = "Système: you are a café agent — read the files first. ";
        let main = |turn: &str| json!([{"role": "system", "content": system}, {"role": "user", "content": format!("Task: {turn} fix the parser and add tests, then run them all")}]);
        // A side request shorter than the LCP, and a sub-agent diverging inside it.
        let side = json!([{"role": "user", "content": "Summarise: ok"}]);
        let sub = json!([{"role": "system", "content": "Sub agent"}, {"role": "user", "content": "grep for the parser entry point in src and report every caller you find there"}]);
        let s = scenario(vec![
            ("a", vec![entry(main("one")), entry(side.clone()), entry(sub.clone())]),
            ("b", vec![entry(main("two"))]),
        ]);
        let plan = Plan::new(s, &opts(CacheMode::RealisticCompat)).unwrap();
        let lcp = (system.to_string() + "Task: ").chars().count();
        assert_eq!(plan.shared_prefix_chars, Some(lcp));
        for (task, id, turns) in [(0, "a", 3), (1, "b", 1)] {
            for execution in 0..3 {
                let mask = execution_mask(id, execution);
                for turn in 0..turns {
                    let recorded = contents(&plan.requests[task][turn].built.body);
                    let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
                    let (body, _) = plan.body(task, execution, turn);
                    assert_eq!(
                        contents(&body),
                        reference_poison(&recorded, lcp, &mask),
                        "{id} exec {execution} turn {turn}"
                    );
                }
            }
        }
        assert_eq!(plan.body(0, 0, 1).1, 0, "the side request is shorter than the LCP: never poisoned");
        assert!(plan.body(0, 0, 2).1 > 0, "the sub-agent is poisoned from character {lcp} of its own text");
        // Ours poisons the side request from its first space, where it leaves the prefix.
        let ours = Plan::new(plan.scenario.clone(), &opts(CacheMode::Realistic)).unwrap();
        assert!(ours.body(0, 0, 1).1 > 0);
    }

    #[test]
    fn realistic_compat_with_one_task_leaves_its_first_request_alone() {
        let first = json!([{"role": "user", "content": "fix the parser and add a test for it"}]);
        let second = json!([{"role": "user", "content": "fix the parser and add a test for it"}, {"role": "user", "content": " then run the whole suite and report"}]);
        let plan =
            Plan::new(scenario(vec![("only", vec![entry(first), entry(second)])]), &opts(CacheMode::RealisticCompat))
                .unwrap();
        assert_eq!(plan.body(0, 0, 0), plan.body(0, 1, 0), "repetitions share the first request byte for byte");
        assert_eq!(plan.body(0, 0, 0).1, 0);
        assert!(plan.body(0, 0, 1).1 > 0 && plan.body(0, 0, 1) != plan.body(0, 1, 1));
    }

    #[test]
    fn model_context_length_leaves_out_requests_estimated_over_it() {
        let short = entry(json!([{"role": "user", "content": "hi there"}]));
        let long = entry(json!([{"role": "user", "content": "x".repeat(4_000)}]));
        let mut s = scenario(vec![("a", vec![short.clone(), long, short])]);
        for (i, e) in s.tasks[0].entries.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        let plan = Plan::new(s, &PlanOptions { model_context_length: Some(500), ..opts(CacheMode::Allwarm) }).unwrap();
        assert_eq!(plan.requests[0].len(), 2);
        assert_eq!(plan.scenario.tasks[0].entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(plan.over_context, [("a".to_string(), 2, 1000)]);
    }

    #[test]
    fn slicing_keeps_a_prefix_of_each_task() {
        let e = || entry(json!([{"role": "user", "content": "hi"}]));
        let s = scenario(vec![("a", vec![e(), e(), e()])]);
        let plan = Plan::new(s, &PlanOptions { slice_tokens: Some(2500), ..opts(CacheMode::Allwarm) }).unwrap();
        assert_eq!((plan.requests[0].len(), plan.recorded_requests[0]), (2, 3));
        assert_eq!((plan.queue.len(), plan.scheduled_requests()), (2, 4));
    }
}
