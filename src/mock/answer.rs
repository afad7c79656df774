//! Decides *what* the mock answers: reasoning tokens, then either text or one tool call,
//! and why it stopped. Deterministic: the same request with the same `--seed` always gets
//! the same answer, whatever arrives around it.

use std::borrow::Cow;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::config::MockConfig;
use super::request::{GenRequest, ToolChoice};
use super::schema;
use super::tokenizer::{self, VOCABULARY};
use crate::wire::errors::ApiError;

/// Which output block a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Thinking,
    Text,
    ToolArgs,
}

#[derive(Debug, Clone)]
pub(crate) struct OutToken {
    pub part: Part,
    pub text: Cow<'static, str>,
}

#[derive(Debug, Clone)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
}

/// Why generation ended, in provider-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The model ended its turn (`stop` / `end_turn`).
    EndTurn,
    /// `max_tokens` reached (`length` / `max_tokens`).
    MaxTokens,
    /// A requested stop sequence was produced (`stop` / `stop_sequence`).
    StopSequence(String),
    /// It called a tool (`tool_calls` / `tool_use`).
    ToolUse,
}

impl Finish {
    pub(crate) fn openai(&self) -> &'static str {
        match self {
            Finish::EndTurn | Finish::StopSequence(_) => "stop",
            Finish::MaxTokens => "length",
            Finish::ToolUse => "tool_calls",
        }
    }

    pub(crate) fn anthropic(&self) -> &'static str {
        match self {
            Finish::EndTurn => "end_turn",
            Finish::MaxTokens => "max_tokens",
            Finish::StopSequence(_) => "stop_sequence",
            Finish::ToolUse => "tool_use",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub tokens: Vec<OutToken>,
    pub tool: Option<ToolCall>,
    pub finish: Finish,
}

impl Answer {
    pub(crate) fn thinking_tokens(&self) -> usize {
        self.tokens.iter().take_while(|t| t.part == Part::Thinking).count()
    }

    /// The concatenated text of one part.
    pub(crate) fn text_of(&self, part: Part) -> String {
        self.tokens.iter().filter(|t| t.part == part).map(|t| t.text.as_ref()).collect()
    }
}

/// Plans the answer to `req`. `seq` only names the tool call id. `Err`: the chosen tool's
/// schema asks for arguments beyond what the mock makes (see [`schema`]'s limits).
pub(crate) fn plan(req: &GenRequest, cfg: &MockConfig, seq: u64) -> Result<Answer, ApiError> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(answer_seed(cfg.seed, req));
    let mut tokens = Vec::new();
    let thinking = if req.thinking { cfg.thinking_tokens.min(req.max_tokens) } else { 0 };
    push_words(&mut tokens, &mut rng, Part::Thinking, thinking);
    let budget = req.max_tokens - thinking;

    let tool_index = match &req.tool_choice {
        _ if req.tools.is_empty() => None,
        ToolChoice::None => None,
        ToolChoice::Named(name) => req.tools.iter().position(|t| &t.name == name),
        ToolChoice::Any => Some(rng.random_range(0..req.tools.len())),
        ToolChoice::Auto => rng.random_bool(cfg.tool_call_rate).then(|| rng.random_range(0..req.tools.len())),
    };
    if let Some(i) = tool_index {
        let spec = &req.tools[i];
        let arguments = schema::example_for(&spec.schema, rng.random())
            .map_err(|e| ApiError::invalid(format!("tools[{i}]"), format!("tool `{}`: {e}", spec.name)))?
            .to_string();
        let arg_tokens: Vec<String> = tokenizer::tokens(&arguments).into_iter().map(str::to_string).collect();
        let finish = if arg_tokens.len() > budget { Finish::MaxTokens } else { Finish::ToolUse };
        tokens.extend(
            arg_tokens.into_iter().take(budget).map(|t| OutToken { part: Part::ToolArgs, text: Cow::Owned(t) }),
        );
        let tool = ToolCall { id: format!("call_mock_{seq}"), name: spec.name.clone() };
        return Ok(Answer { tokens, tool: Some(tool), finish });
    }

    let natural = cfg.answer_tokens.unwrap_or(usize::MAX);
    let n = budget.min(natural);
    let start = tokens.len();
    push_words(&mut tokens, &mut rng, Part::Text, n);
    let mut finish = if natural <= budget { Finish::EndTurn } else { Finish::MaxTokens };
    if !req.stop.is_empty() {
        let mut text = String::new();
        for i in start..tokens.len() {
            text.push_str(&tokens[i].text);
            // A stop sequence not found before this token can only end within it: only the
            // text's tail is searched, so the whole search is linear in the answer's length.
            let added = tokens[i].text.len();
            let ends_here = |s: &&String| {
                let mut from = text.len().saturating_sub(added + s.len().saturating_sub(1));
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                !s.is_empty() && text[from..].contains(s.as_str())
            };
            if let Some(stop) = req.stop.iter().find(ends_here) {
                // The token that completed the stop sequence is not sent, as providers do.
                finish = Finish::StopSequence(stop.clone());
                tokens.truncate(i);
                break;
            }
        }
    }
    Ok(Answer { tokens, tool: None, finish })
}

/// Words from the vocabulary; the first word of a part drops its leading space.
fn push_words(out: &mut Vec<OutToken>, rng: &mut Xoshiro256PlusPlus, part: Part, n: usize) {
    out.reserve(n);
    for i in 0..n {
        let word = VOCABULARY[rng.random_range(0..VOCABULARY.len())];
        let word = if i == 0 { word.trim_start() } else { word };
        out.push(OutToken { part, text: Cow::Borrowed(word) });
    }
}

/// Seed for the answer: the configured seed mixed with what the request asks.
fn answer_seed(seed: u64, req: &GenRequest) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    seed.hash(&mut h);
    req.model.hash(&mut h);
    req.prompt.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::request::ToolSpec;
    use serde_json::json;

    fn cfg(flags: &[&str]) -> MockConfig {
        crate::mock::config::test_config(flags)
    }

    fn req(max_tokens: usize) -> GenRequest {
        GenRequest {
            model: "m".into(),
            stream: true,
            include_usage: true,
            continuous_usage: false,
            max_tokens,
            stop: vec![],
            tools: vec![],
            tool_choice: ToolChoice::Auto,
            thinking: false,
            prompt: "<|user|>\nhello\n".into(),
        }
    }

    #[test]
    fn text_answer_has_max_tokens_tokens_and_is_deterministic() {
        let c = cfg(&[]);
        let a = plan(&req(50), &c, 1).unwrap();
        assert_eq!(a.tokens.len(), 50);
        assert_eq!(a.finish, Finish::MaxTokens);
        assert_eq!(tokenizer::count(&a.text_of(Part::Text)), 50);
        assert_eq!(a.text_of(Part::Text), plan(&req(50), &c, 2).unwrap().text_of(Part::Text));
        let other_seed = plan(&req(50), &cfg(&["--seed", "9"]), 1).unwrap();
        assert_ne!(a.text_of(Part::Text), other_seed.text_of(Part::Text));
    }

    #[test]
    fn answer_tokens_ends_the_turn_early() {
        let a = plan(&req(50), &cfg(&["--answer-tokens", "7"]), 1).unwrap();
        assert_eq!((a.tokens.len(), a.finish), (7, Finish::EndTurn));
    }

    #[test]
    fn stop_sequence_cuts_before_it() {
        let c = cfg(&[]);
        let full = plan(&req(200), &c, 1).unwrap().text_of(Part::Text);
        let mut r = req(200);
        r.stop = vec![" code".into()];
        let a = plan(&r, &c, 1).unwrap();
        assert_eq!(a.finish, Finish::StopSequence(" code".into()));
        assert!(!a.text_of(Part::Text).contains(" code"));
        assert!(full.starts_with(&a.text_of(Part::Text)));

        // Sequences across token boundaries cut where a search of the whole text would.
        let plain = plan(&req(200), &c, 1).unwrap();
        for (from, to) in [(3, 17), (40, 41), (100, 160)] {
            let stop = full[from..to].to_string();
            let mut text = String::new();
            let naive = plain.tokens.iter().position(|t| {
                text.push_str(&t.text);
                text.contains(&stop)
            });
            let mut r = req(200);
            r.stop = vec![String::new(), "never there".into(), stop.clone()];
            let a = plan(&r, &c, 1).unwrap();
            assert_eq!(Some(a.tokens.len()), naive, "{stop:?}");
            assert_eq!(a.finish, Finish::StopSequence(stop));
        }
    }

    #[test]
    fn stop_sequences_are_searched_in_linear_time() {
        let mut r = req(131_072);
        r.stop = vec!["zzzzqq".into(), "yyyyqq".into(), "xxxxqq".into(), "wwwwqq".into()];
        let started = std::time::Instant::now();
        let a = plan(&r, &cfg(&[]), 1).unwrap();
        assert_eq!(a.tokens.len(), 131_072);
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn forced_tool_call_has_valid_arguments_and_thinking_comes_first() {
        let mut r = req(500);
        r.tools = vec![ToolSpec {
            name: "Bash".into(),
            schema: json!({"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}),
        }];
        r.tool_choice = ToolChoice::Any;
        r.thinking = true;
        let a = plan(&r, &cfg(&["--thinking-tokens", "5"]), 3).unwrap();
        assert_eq!(a.finish, Finish::ToolUse);
        assert_eq!(a.thinking_tokens(), 5);
        let tool = a.tool.clone().unwrap();
        assert_eq!(tool.name, "Bash");
        let parsed: serde_json::Value = serde_json::from_str(&a.text_of(Part::ToolArgs)).unwrap();
        assert!(parsed["command"].is_string());
    }

    #[test]
    fn tool_rate_zero_never_calls_and_none_forbids() {
        let mut r = req(20);
        r.tools = vec![ToolSpec { name: "t".into(), schema: json!({}) }];
        assert!(plan(&r, &cfg(&[]), 1).unwrap().tool.is_none());
        r.tool_choice = ToolChoice::None;
        assert!(plan(&r, &cfg(&["--tool-call-rate", "1"]), 1).unwrap().tool.is_none());
        r.tool_choice = ToolChoice::Auto;
        assert!(plan(&r, &cfg(&["--tool-call-rate", "1"]), 1).unwrap().tool.is_some());
    }
}
