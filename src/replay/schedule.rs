//! The replay's execution queue, the order in which executions are scheduled: which (task,
//! repetition) pairs run, in which order. Workers pop from the head of this queue, so the
//! order decides how the users' conversations overlap on the server.
//!
//! `random` shuffles with a port of CPython's `random.Random(seed).shuffle`, so a given
//! seed yields the same order as AgenticSwarmBench (the original asb)'s
//! `build_execution_queue`.

use serde::{Deserialize, Serialize};

use super::python_random::PythonRandom;

/// How executions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Policy {
    /// Every task's repetition 0, then every task's repetition 1, … (AgenticSwarmBench's default).
    #[value(name = "round_robin")]
    RoundRobin,
    /// All repetitions of the first task, then of the second, …
    #[value(name = "sequential")]
    Sequential,
    /// The sequential order shuffled with a seed.
    #[value(name = "random")]
    Random,
}

impl Policy {
    /// The name asb prints and accepts: `round_robin`, `sequential` or `random`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round_robin",
            Policy::Sequential => "sequential",
            Policy::Random => "random",
        }
    }
}

/// One run of one task: `task` indexes the scenario's (sliced, filtered) task list,
/// `execution` is the repetition, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Execution {
    pub task: usize,
    pub execution: u32,
}

/// The `tasks × repetitions` executions in `policy` order; `seed` is used by
/// [`Policy::Random`] only (CPython `random.Random(seed).shuffle` of the sequential order).
pub(crate) fn execution_queue(tasks: usize, repetitions: u32, policy: Policy, seed: u64) -> Vec<Execution> {
    match policy {
        Policy::Sequential => sequential(tasks, repetitions),
        Policy::RoundRobin => {
            (0..repetitions).flat_map(|execution| (0..tasks).map(move |task| Execution { task, execution })).collect()
        }
        Policy::Random => {
            let mut queue = sequential(tasks, repetitions);
            PythonRandom::from_int_seed(seed).shuffle(&mut queue);
            queue
        }
    }
}

fn sequential(tasks: usize, repetitions: u32) -> Vec<Execution> {
    (0..tasks).flat_map(|task| (0..repetitions).map(move |execution| Execution { task, execution })).collect()
}

/// A fresh seed from the operating system's entropy (through `rand`'s thread RNG), for a
/// `random` schedule run without `--seed`; print it so the run can be repeated.
pub(crate) fn random_seed() -> u64 {
    rand::random::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    fn pairs(queue: &[Execution]) -> Vec<(usize, u32)> {
        queue.iter().map(|e| (e.task, e.execution)).collect()
    }

    #[test]
    fn sequential_runs_each_task_to_the_end() {
        let queue = execution_queue(2, 3, Policy::Sequential, 0);
        assert_eq!(pairs(&queue), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
    }

    #[test]
    fn round_robin_cycles_through_tasks() {
        let queue = execution_queue(3, 2, Policy::RoundRobin, 0);
        assert_eq!(pairs(&queue), [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]);
    }

    /// Vectors from CPython 3.11: the sequential `[(t, e) …]` list after
    /// `random.Random(seed).shuffle(list)`.
    #[test]
    fn random_matches_cpython_shuffle() {
        type Order = &'static [(usize, u32)];
        let cases: [(usize, u32, u64, Order); 4] = [
            (3, 2, 7, &[(2, 0), (0, 0), (2, 1), (1, 1), (0, 1), (1, 0)]),
            (
                4,
                3,
                42,
                &[(2, 1), (1, 2), (0, 2), (2, 2), (3, 0), (2, 0), (3, 2), (1, 0), (1, 1), (0, 0), (0, 1), (3, 1)],
            ),
            (2, 1, 0, &[(0, 0), (1, 0)]),
            (5, 2, (1 << 63) + 11, &[(3, 0), (4, 0), (0, 0), (1, 0), (4, 1), (0, 1), (1, 1), (3, 1), (2, 0), (2, 1)]),
        ];
        for (tasks, repetitions, seed, expected) in cases {
            let queue = execution_queue(tasks, repetitions, Policy::Random, seed);
            assert_eq!(pairs(&queue), expected, "seed {seed}");
            assert_eq!(queue, execution_queue(tasks, repetitions, Policy::Random, seed), "reproducible");
        }
    }

    #[test]
    fn every_policy_runs_each_repetition_once() {
        for policy in [Policy::RoundRobin, Policy::Sequential, Policy::Random] {
            let mut queue = pairs(&execution_queue(4, 3, policy, 99));
            queue.sort_unstable();
            let expected: Vec<(usize, u32)> = (0..4).flat_map(|t| (0..3).map(move |e| (t, e))).collect();
            assert_eq!(queue, expected, "{}", policy.name());
        }
    }

    #[test]
    fn nothing_to_run_gives_an_empty_queue() {
        for policy in [Policy::RoundRobin, Policy::Sequential, Policy::Random] {
            assert!(execution_queue(0, 3, policy, 1).is_empty());
            assert!(execution_queue(3, 0, policy, 1).is_empty());
        }
    }

    #[test]
    fn names_on_the_command_line_and_in_json() {
        for (policy, name) in
            [(Policy::RoundRobin, "round_robin"), (Policy::Sequential, "sequential"), (Policy::Random, "random")]
        {
            assert_eq!(policy.name(), name);
            assert_eq!(Policy::from_str(name, false), Ok(policy));
            assert_eq!(serde_json::to_value(policy).ok(), Some(serde_json::Value::from(name)));
            assert_eq!(serde_json::from_value::<Policy>(name.into()).ok(), Some(policy));
        }
        assert!(Policy::from_str("round-robin", false).is_err());
    }

    #[test]
    fn random_seeds_vary() {
        let seeds: std::collections::HashSet<u64> = (0..8).map(|_| random_seed()).collect();
        assert!(seeds.len() > 1);
    }
}
