//! `asb scenarios`: the built-in scenarios, with what is in each (tasks, requests,
//! approximate prompt tokens), as a table or JSON.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::builtin::BUILTINS;
use super::scenario::{self, RecordedRequest};

#[derive(Debug, Clone, Args)]
pub(crate) struct ScenariosArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Listed {
    name: String,
    source: String,
    description: String,
    model: Option<String>,
    tasks: usize,
    requests: usize,
    /// chars/4 of the recorded message contents (AgenticSwarmBench (the original asb)'s
    /// estimate).
    approx_tokens: u64,
}

pub(crate) fn run(args: ScenariosArgs) -> Result<ExitCode> {
    let mut listed = Vec::new();
    for b in BUILTINS {
        let s = scenario::load(&format!("builtin:{}", b.name), None)?;
        let approx_tokens = s.tasks.iter().flat_map(|t| &t.entries).map(|e| approx_tokens(&e.request)).sum();
        listed.push(Listed {
            name: format!("builtin:{}", b.name),
            source: s.source.clone(),
            description: s.description.clone(),
            model: s.model.clone(),
            tasks: s.tasks.len(),
            requests: s.requests(),
            approx_tokens,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<28} {:<22} {:>6} {:>9} {:>14}", "Name", "Model", "Tasks", "Requests", "Approx tokens");
    for l in &listed {
        println!(
            "{:<28} {:<22} {:>6} {:>9} {:>14}",
            l.name,
            l.model.as_deref().unwrap_or("-"),
            l.tasks,
            l.requests,
            l.approx_tokens
        );
        if !l.description.is_empty() {
            println!("    {}", l.description);
        }
    }
    println!("\nReplay one: asb replay -w builtin:NAME (-e URL -m MODEL, or no -e for the embedded mock)");
    Ok(ExitCode::SUCCESS)
}

fn approx_tokens(request: &RecordedRequest) -> u64 {
    let (api, body) = match request {
        RecordedRequest::Body { api, body, .. } => (*api, body.clone()),
        RecordedRequest::Messages { messages, .. } => {
            (crate::wire::Api::OpenAi, serde_json::json!({ "messages": messages }))
        }
    };
    super::prompt_text::estimate_tokens(&body, api)
}
