//! `asb diff A B [--json]`: what changed between two recordings of a session, call by call.
//!
//! Calls are aligned first, so one extra or missing call does not shift every later pair:
//!
//! * when every call of both files has a `thread_id`, threads are paired (same id; then
//!   threads whose first call has the same model and system prompt, in arrival order — a
//!   changed first user message changes the id), and the calls of a thread pair are
//!   aligned in turn order;
//! * otherwise (AgenticSwarmBench (the original asb)'s lines) the calls are aligned in
//!   arrival order as one sequence.
//!
//! Alignment is a longest common subsequence over a per-call signature (model + the newest
//! user message or tool result, see [`super::align`]). Each pair then reports its prompt
//! differences (messages added or changed, with a short text diff of the first change, and
//! request parameters), its response differences (outcome, text, tool calls) and its
//! timing A → B; calls left over are only in A or only in B. Timing never makes a pair
//! "changed": two runs always differ in time. Prompts are compared as `asb serve` matches
//! them (timestamps, UUIDs, Claude Code's billing-header values and `metadata.user_id`
//! normalised), so two runs of a session that differ only there compare equal.
//!
//! The command follows the shape of the other inspect commands: the calls are sketched
//! (`sketch`), their groups paired (`pairing`) and walked pair by pair ([`walk`]), each
//! pair compared ([`compare`]) into the [`report`] structs, which are rendered as text
//! ([`render`](mod@render)) or JSON (`lazy_json`), entry by entry.

pub(crate) mod compare;
mod lazy_json;
mod pairing;
pub(crate) mod render;
pub(crate) mod report;
mod sketch;
pub(crate) mod walk;

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Args;

use lazy_json::{LazyReport, PieceWriter};
use render::render_walk;
use sketch::{from_file, sketch, Strings};
use walk::Walk;

#[derive(Debug, Clone, Args)]
pub(crate) struct DiffArgs {
    /// The first recording (the baseline).
    pub a: PathBuf,
    /// The second recording.
    pub b: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Output is handed to stdout in pieces of about this size.
const PIECE: usize = 64 * 1024;

/// `asb diff`. Of each call only a sketch is kept while the files stream by (what aligning
/// needs: arrival, thread, a hash of the signature); the lines of each pair are read again
/// as the report reaches it, and the report is written out entry by entry, never held.
pub(crate) fn run(args: DiffArgs) -> Result<ExitCode> {
    let mut strings = Strings::default();
    let a = super::load_with(&args.a, |offset, c| sketch(&mut strings, offset, &c))?;
    let b = super::load_with(&args.b, |offset, c| sketch(&mut strings, offset, &c))?;
    let (mut file_a, mut file_b) = (from_file(&args.a)?, from_file(&args.b)?);
    let (name_a, name_b) = (args.a.display().to_string(), args.b.display().to_string());
    let mut walk = Walk::new((&name_a, &a, &mut file_a), (&name_b, &b, &mut file_b))?;
    let mut stdout = crate::output::Emitter::default();
    if args.json {
        let mut text = Vec::new();
        let mut sink = |piece: &str| stdout.write(piece);
        let mut out = PieceWriter { piece: &mut text, sink: &mut sink };
        let walk = RefCell::new(&mut walk);
        serde_json::to_writer_pretty(&mut out, &LazyReport(&walk)).map_err(|e| anyhow!("{e}"))?;
        out.piece.push(b'\n');
        out.flush_piece()?;
    } else {
        render_walk(&mut walk, &mut |piece| stdout.write(piece))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::compare::compare_calls;
    use super::render::{render, response_line};
    use super::sketch::{mask_tool_ids, signature};
    use super::walk::compare;
    use crate::recording::line::CallLine;
    use crate::recording::line::{CallResult, HttpRequest, ToolCall};
    use crate::recording::reader::NumberedCall;
    use serde_json::json;
    use serde_json::Value;

    fn user(text: &str) -> Value {
        json!({"role": "user", "content": text})
    }

    fn numbered(seq: u64, thread: Option<&str>, turn: u64, messages: Vec<Value>) -> NumberedCall {
        NumberedCall {
            line: seq as usize,
            call: CallLine {
                seq,
                model: "m".into(),
                start_offset_ms: Some(seq as f64 * 100.0),
                thread_id: thread.map(str::to_string),
                thread_turn: Some(turn),
                messages,
                total_time_s: Some(0.1),
                result: Some(CallResult { text: "ok".into(), ..Default::default() }),
                ..Default::default()
            },
        }
    }

    fn session(changed: bool) -> Vec<NumberedCall> {
        let main1 = vec![user("List the files.")];
        let mut main2 = main1.clone();
        main2.extend([json!({"role": "assistant", "content": "a.txt"}), user("Count them.")]);
        let sub = if changed { "Summarise b.txt in one line" } else { "Summarise b.txt" };
        let mut calls = vec![
            numbered(1, Some("main"), 0, main1),
            numbered(2, Some("sub-a"), 0, vec![user("Summarise a.txt")]),
            numbered(3, Some(if changed { "sub-b2" } else { "sub-b" }), 0, vec![user(sub)]),
            numbered(4, Some("main"), 1, main2.clone()),
        ];
        if changed {
            let mut main3 = main2;
            main3.extend([json!({"role": "assistant", "content": "2"}), user("Thanks.")]);
            calls.push(numbered(5, Some("main"), 2, main3));
        }
        calls
    }

    #[test]
    fn a_recording_equals_itself() {
        let a = session(false);
        let r = compare(("a", &a), ("a", &a)).unwrap();
        assert!(r.by_thread);
        assert_eq!((r.summary.pairs, r.summary.equal, r.summary.only_a, r.summary.only_b), (4, 4, 0, 0));
        assert!(render(&r).contains("summary: 4 pairs (4 equal, 0 changed), 0 only in A, 0 only in B"));
    }

    #[test]
    fn extra_call_and_changed_prompt_are_found() {
        let (a, b) = (session(false), session(true));
        let r = compare(("a", &a), ("b", &b)).unwrap();
        assert_eq!((r.summary.pairs, r.summary.equal, r.summary.changed, r.summary.only_b), (4, 3, 1, 1));
        let text = render(&r);
        assert!(text.contains("thread sub-b → sub-b2"), "{text}");
        assert!(
            text.contains("message 0 (user) differs at char 15: \"Summarise b.txt\" → \"Summarise b.txt in one line\""),
            "{text}"
        );
        assert!(text.contains("+ #5 only in B  m  \"Thanks.\""), "{text}");
    }

    #[test]
    fn asb_lines_align_in_order_despite_an_insertion() {
        let strip = |mut calls: Vec<NumberedCall>| {
            for c in &mut calls {
                (c.call.thread_id, c.call.start_offset_ms, c.call.result) = (None, None, None);
            }
            calls
        };
        let a = strip(session(false));
        let mut b = strip(session(false));
        b.insert(1, numbered(9, None, 0, vec![user("an extra question")]));
        b[1].call.result = None;
        let r = compare(("a", &a), ("b", &b)).unwrap();
        assert!(!r.by_thread);
        assert_eq!((r.summary.equal, r.summary.changed, r.summary.only_b), (4, 0, 1), "{}", render(&r));
    }

    #[test]
    fn responses_and_parameters_compared() {
        let a = numbered(1, None, 0, vec![user("x")]);
        let mut b = a.clone();
        b.call.max_tokens = Some(10);
        b.call.result = Some(CallResult {
            tool_calls: vec![ToolCall { id: "z".into(), name: "Bash".into(), arguments: "{}".into() }],
            ..Default::default()
        });
        let p = compare_calls(&a, &b);
        assert!(!p.equal && !p.prompt.equal && !p.response.equal);
        assert_eq!(p.prompt.fields[0].path, "max_tokens");
        assert_eq!(response_line(&p.response), "text differs; tool calls none → Bash({})");
    }

    #[test]
    fn tool_ids_are_masked_in_signatures() {
        assert_eq!(
            mask_tool_ids(r#"{"tool_use_id": "toolu_019SwMTZ", "x": "call_ab-1 recall_x"}"#),
            r#"{"tool_use_id": "toolu_*", "x": "call_* recall_x"}"#
        );
        let mut a =
            numbered(1, None, 0, vec![json!({"role": "tool", "tool_call_id": "toolu_1", "content": "ok toolu_01A"})]);
        let b =
            numbered(1, None, 0, vec![json!({"role": "tool", "tool_call_id": "toolu_2", "content": "ok toolu_01B"})]);
        assert_eq!(signature(&a.call), signature(&b.call));
        a.call.messages[0]["content"] = json!("at 2026-01-01T00:00:00Z");
        assert_eq!(signature(&a.call).1, "at <date>");
    }

    #[test]
    fn volatile_values_do_not_make_a_change() {
        let system = |cch: &str| json!({"role": "system", "content": format!("x-anthropic-billing-header: cc_version=2.1; cch={cch};\nYou are Claude Code.")});
        let mut a = numbered(1, None, 0, vec![system("aaaaa"), user("at 2026-01-01T00:00:00Z")]);
        let mut b = numbered(1, None, 0, vec![system("bbbbb"), user("at 2026-02-02T10:00:00Z")]);
        a.call.request = Some(HttpRequest { body: Some(json!({"metadata": {"user_id": "u1"}})), ..Default::default() });
        b.call.request = Some(HttpRequest { body: Some(json!({"metadata": {"user_id": "u2"}})), ..Default::default() });
        assert!(compare_calls(&a, &b).prompt.equal);
        b.call.messages[1] = user("at 2026-02-02T10:00:00Z, please");
        let p = compare_calls(&a, &b).prompt;
        assert_eq!(p.first_difference.unwrap().b.as_deref(), Some("at <date>, please"));
    }
}
