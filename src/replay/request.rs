//! Turns a recorded call into the request replay sends: the recorded request (tools,
//! system, thinking and sampling kept), the model from `-m`, streaming with usage on.
//! Nothing is capped or forced behind the user's back (AgenticSwarmBench (the original asb)
//! caps max_tokens at 4096 and forces temperature 0.7); `--max-tokens` caps only when
//! asked, and the header prints what was sent.
//!
//! | recorded as                            | OpenAI target                                | Anthropic target                        | Responses target |
//! |----------------------------------------|----------------------------------------------|-----------------------------------------|------------------|
//! | Anthropic body (ours)                  | translated to Chat Completions               | the body as sent, `anthropic-beta` kept | to Chat, then to Responses |
//! | OpenAI body (ours)                     | the body as sent                             | translated to Messages                  | translated to Responses |
//! | Responses body (ours)                  | translated to Chat Completions               | to Chat, then to Messages               | the body as sent |
//! | AgenticSwarmBench line (messages only) | `{model, messages, max_tokens, temperature}` | translated to Messages                  | translated to Responses |
//!
//! A Responses target gets `stream: true` and no `stream_options` (its stream always
//! ends with the usage); `--max-tokens` caps its `max_output_tokens`.

use serde_json::{json, Map, Value};

use super::scenario::{Entry, RecordedRequest};
use crate::wire::translate::{
    anthropic_to_openai_request, chat_to_responses_request, openai_to_anthropic_request, responses_to_chat_request,
};
use crate::wire::Api;

/// Anthropic requires max_tokens; a recording without one is sent with this (and the
/// header says so).
pub(crate) const ANTHROPIC_DEFAULT_MAX_TOKENS: u64 = 4096;
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// One request, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub body: Value,
    /// Extra headers (Anthropic version and beta flags); content-type and auth are added
    /// by the client.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BuildOptions {
    /// `-m`; without it each request keeps its recorded model.
    pub model: Option<String>,
    /// `--max-tokens`: an explicit cap (min with the recorded value).
    pub max_tokens_cap: Option<u64>,
}

pub(crate) fn build(entry: &Entry, api: Api, opts: &BuildOptions) -> Result<Built, String> {
    let model = opts.model.as_deref().filter(|m| !m.is_empty());
    let mut headers = Vec::new();
    let mut body = match (&entry.request, api) {
        (RecordedRequest::Body { api: Api::Responses, body, .. }, to) => {
            across_responses(Api::Responses, body, to, model).map_err(|e| e.to_string())?
        }
        (RecordedRequest::Body { api: from, body, .. }, Api::Responses) => {
            across_responses(*from, body, Api::Responses, model).map_err(|e| e.to_string())?
        }
        (RecordedRequest::Body { api: Api::Anthropic, body, .. }, Api::OpenAi) => {
            anthropic_to_openai_request(body, model).map_err(|e| e.to_string())?
        }
        (RecordedRequest::Body { api: Api::OpenAi, body, .. }, Api::OpenAi) => with_model(body.clone(), model),
        (RecordedRequest::Body { api: Api::Anthropic, body, headers: recorded }, Api::Anthropic) => {
            for name in ["anthropic-version", "anthropic-beta"] {
                if let Some(v) = recorded.get(name).and_then(Value::as_str) {
                    headers.push((name.to_string(), v.to_string()));
                }
            }
            with_model(body.clone(), model)
        }
        (RecordedRequest::Body { api: Api::OpenAi, body, .. }, Api::Anthropic) => {
            openai_to_anthropic_request(body, model).map_err(|e| e.to_string())?
        }
        (RecordedRequest::Messages { messages, max_tokens, temperature }, _) => {
            let mut b = Map::new();
            b.insert("model".into(), model.unwrap_or(&entry.model).into());
            b.insert("messages".into(), Value::Array(messages.clone()));
            if let Some(n) = max_tokens {
                b.insert("max_tokens".into(), (*n).into());
            }
            if let Some(t) = temperature {
                b.insert("temperature".into(), json!(t));
            }
            let b = Value::Object(b);
            match api {
                Api::OpenAi => b,
                Api::Anthropic => openai_to_anthropic_request(&b, None).map_err(|e| e.to_string())?,
                Api::Responses => chat_to_responses_request(&b, None).map_err(|e| e.to_string())?,
            }
        }
    };
    if api == Api::Anthropic && !headers.iter().any(|(n, _)| n == "anthropic-version") {
        headers.push(("anthropic-version".into(), ANTHROPIC_VERSION.into()));
    }
    let obj = body.as_object_mut().ok_or("the request body is not a JSON object")?;
    obj.insert("stream".into(), true.into());
    match api {
        Api::OpenAi => {
            let options = obj.entry("stream_options").or_insert_with(|| json!({}));
            if let Some(o) = options.as_object_mut() {
                o.insert("include_usage".into(), true.into());
            } else {
                *options = json!({"include_usage": true});
            }
        }
        Api::Anthropic => {
            obj.entry("max_tokens").or_insert(ANTHROPIC_DEFAULT_MAX_TOKENS.into());
        }
        Api::Responses => {}
    }
    if let Some(cap) = opts.max_tokens_cap {
        let keys: &[&str] =
            if api == Api::Responses { &["max_output_tokens"] } else { &["max_tokens", "max_completion_tokens"] };
        for key in keys {
            if let Some(v) = obj.get_mut(*key) {
                *v = v.as_u64().map_or(cap, |n| n.min(cap)).into();
            }
        }
        if !keys.iter().any(|k| obj.contains_key(*k)) {
            obj.insert(keys[0].into(), cap.into());
        }
    }
    Ok(Built { body, headers })
}

/// A recorded body sent to an endpoint of another API when one side is Responses: through
/// Chat Completions, the API every translation meets at.
fn across_responses(
    from: Api,
    body: &Value,
    to: Api,
    model: Option<&str>,
) -> Result<Value, crate::wire::translate::error::TranslateError> {
    if from == to {
        return Ok(with_model(body.clone(), model));
    }
    let chat = match from {
        Api::OpenAi => with_model(body.clone(), model),
        Api::Anthropic => anthropic_to_openai_request(body, model)?,
        Api::Responses => responses_to_chat_request(body, model)?,
    };
    match to {
        Api::OpenAi => Ok(chat),
        Api::Anthropic => openai_to_anthropic_request(&chat, None),
        Api::Responses => chat_to_responses_request(&chat, None),
    }
}

fn with_model(mut body: Value, model: Option<&str>) -> Value {
    if let (Some(m), Some(obj)) = (model, body.as_object_mut()) {
        obj.insert("model".into(), m.into());
    }
    body
}

/// max_tokens as sent, for a body of either API.
pub(crate) fn max_tokens(body: &Value) -> Option<u64> {
    body.get("max_tokens").or_else(|| body.get("max_completion_tokens")).and_then(Value::as_u64)
}

/// "as recorded (64–32000)", "as recorded (256)", "… 3 unset: server default", "capped at N".
pub(crate) fn describe_values(
    values: impl IntoIterator<Item = Option<f64>>,
    cap: Option<u64>,
    when_unset: &str,
) -> String {
    let mut set: Vec<f64> = Vec::new();
    let mut unset = 0;
    for v in values {
        match v {
            Some(v) => set.push(v),
            None => unset += 1,
        }
    }
    let range = match (set.iter().copied().reduce(f64::min), set.iter().copied().reduce(f64::max)) {
        (Some(lo), Some(hi)) if lo == hi => format!("{lo}"),
        (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
        _ => String::new(),
    };
    let mut out = match cap {
        Some(c) => format!("capped at {c} by --max-tokens"),
        None => "as recorded".to_string(),
    };
    if !range.is_empty() {
        out.push_str(&format!(" ({range} sent)"));
    }
    if unset > 0 {
        out.push_str(&format!("; {unset} request(s) without one: {when_unset}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(request: RecordedRequest) -> Entry {
        Entry {
            seq: 1,
            line: 1,
            thread: None,
            model: "rec-model".into(),
            request,
            recorded_prompt_tokens: None,
            recorded_span_ms: None,
        }
    }

    fn asb_line() -> Entry {
        entry(RecordedRequest::Messages {
            messages: vec![json!({"role": "system", "content": "S"}), json!({"role": "user", "content": "Q"})],
            max_tokens: Some(64000),
            temperature: Some(1.0),
        })
    }

    #[test]
    fn asb_lines_keep_their_sampling_with_no_cap() {
        let b =
            build(&asb_line(), Api::OpenAi, &BuildOptions { model: Some("m".into()), ..Default::default() }).unwrap();
        assert_eq!(b.body["max_tokens"], 64000);
        assert_eq!(b.body["temperature"], 1.0);
        assert_eq!(b.body["model"], "m");
        assert_eq!(b.body["stream"], true);
        assert_eq!(b.body["stream_options"]["include_usage"], true);
        let b = build(&asb_line(), Api::OpenAi, &BuildOptions::default()).unwrap();
        assert_eq!(b.body["model"], "rec-model", "no -m keeps the recorded model");
    }

    #[test]
    fn anthropic_path_translates_and_sets_version() {
        let b = build(&asb_line(), Api::Anthropic, &BuildOptions::default()).unwrap();
        assert_eq!(b.body["system"], "S");
        assert_eq!(b.body["messages"][0]["role"], "user");
        assert_eq!(b.body["max_tokens"], 64000);
        assert!(b.headers.contains(&("anthropic-version".into(), ANTHROPIC_VERSION.into())));
    }

    #[test]
    fn our_anthropic_body_is_sent_as_recorded_with_its_beta_header() {
        let body = json!({"model": "claude", "max_tokens": 100, "system": "S", "tools": [{"name": "t", "input_schema": {"type": "object"}}],
            "messages": [{"role": "user", "content": "hi"}], "stream": false});
        let mut headers = Map::new();
        headers.insert("anthropic-beta".into(), "x-2025".into());
        let e = entry(RecordedRequest::Body { api: Api::Anthropic, body: body.clone(), headers });
        let b = build(&e, Api::Anthropic, &BuildOptions { model: Some("m".into()), ..Default::default() }).unwrap();
        assert_eq!(b.body["tools"], body["tools"]);
        assert_eq!((b.body["model"].as_str(), b.body["stream"].as_bool()), (Some("m"), Some(true)));
        assert!(b.headers.contains(&("anthropic-beta".into(), "x-2025".into())));
        // The same call on the OpenAI path keeps its tools, translated.
        let b = build(&e, Api::OpenAi, &BuildOptions::default()).unwrap();
        assert_eq!(b.body["tools"][0]["function"]["name"], "t");
        assert_eq!(b.body["messages"][0], json!({"role": "system", "content": "S"}));
    }

    #[test]
    fn max_tokens_cap_only_when_asked() {
        let opts = BuildOptions { max_tokens_cap: Some(128), ..Default::default() };
        assert_eq!(build(&asb_line(), Api::OpenAi, &opts).unwrap().body["max_tokens"], 128);
        let e = entry(RecordedRequest::Messages {
            messages: vec![json!({"role": "user", "content": "Q"})],
            max_tokens: None,
            temperature: None,
        });
        assert_eq!(build(&e, Api::OpenAi, &opts).unwrap().body["max_tokens"], 128);
        assert!(build(&e, Api::OpenAi, &BuildOptions::default()).unwrap().body.get("max_tokens").is_none());
        assert_eq!(build(&e, Api::Anthropic, &BuildOptions::default()).unwrap().body["max_tokens"], 4096);
    }

    #[test]
    fn descriptions_say_what_was_sent() {
        assert_eq!(describe_values([Some(256.0), Some(256.0)], None, "server default"), "as recorded (256 sent)");
        assert_eq!(
            describe_values([Some(64.0), Some(32000.0), None], None, "server default"),
            "as recorded (64–32000 sent); 1 request(s) without one: server default"
        );
        assert_eq!(describe_values([Some(10.0)], Some(10), "x"), "capped at 10 by --max-tokens (10 sent)");
    }
}
