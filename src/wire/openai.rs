//! How an OpenAI Chat Completions answer is read — a `chat.completion` body or one
//! `chat.completion.chunk` of a stream — by everyone who reads one: the recorder's
//! assembler (`recording::assemble`) and the translators to Anthropic
//! (`translate::response`, `translate::stream`). One set of rules, so that record's
//! translated answer and record's recording of the same call say the same thing.
//!
//! * **Which choice**: the one with `index` 0; a choice without an `index` counts as 0.
//!   Anthropic has no `n`, and with `n` > 1 every chunk carries some choice: only index 0
//!   is the answer.
//! * **Reasoning** has no official field: DeepSeek and llama.cpp use `reasoning_content`,
//!   vLLM (since late 2025) and Together use `reasoning`. The first non-empty of the two
//!   is read, `reasoning_content` first, never both (a server in transition may send the
//!   same text under both names).
//! * **Visible text** is `content`: a string, or content parts whose `text` (a refusal
//!   part's `refusal`) are joined; when there is none, a `refusal` string is visible text.
//! * **Tool calls** are `tool_calls[]`, and a legacy `function_call` is one more call
//!   without an id (in a stream, a fragment of call `index` 0). Empty ids are no ids. `arguments` is normally JSON text; some servers
//!   send the object itself, which reads as its JSON text. In a stream, which call a
//!   fragment continues is [`ToolCallSlots`]' rule.
//! * **Finish**: `finish_reason` verbatim, and vLLM's non-standard `stop_reason` (the
//!   stop string or token id that ended generation) kept whole.
//! * **`usage`**: an object, kept whole (vLLM's `continuous_usage_stats` repeat it,
//!   cumulative, on every chunk: the last one wins); [`super::usage`] reads its counts.
//! * **`error`**: any non-null `error` member makes the answer (or the stream) an error.
//!
//! Reading borrows strings from the JSON text where they have no escapes and skips every
//! other field unbuilt ([`lenient`]): the assembler runs this for every event of every
//! recorded and replayed stream. A field of another JSON type than the API's reads as
//! absent, so one odd field never hides the rest of a chunk.

mod lenient;

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use lenient::{scalars_are_absent, skip_map, Count, NonNull, Object, Objects, Text, WholeObject};

/// A `chat.completion` body or a `chat.completion.chunk`, as far as anyone reads it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Answer<'a> {
    #[serde(borrow, default)]
    choices: Objects<Choice<'a>>,
    #[serde(default)]
    usage: WholeObject,
    #[serde(default)]
    error: NonNull,
}

impl<'a> Answer<'a> {
    /// Reads JSON text; `None` when it is not a JSON object.
    pub(crate) fn from_json(text: &'a str) -> Option<Self> {
        serde_json::from_str::<Object<Answer<'a>>>(text).ok().and_then(|o| o.0)
    }

    /// Reads a parsed value; anything but an object reads as an empty answer.
    pub(crate) fn from_value(value: &'a Value) -> Self {
        Object::<Answer<'a>>::deserialize(value).ok().and_then(|o| o.0).unwrap_or_default()
    }

    /// The choice with `index` 0.
    pub(crate) fn first_choice(&self) -> Option<&Choice<'a>> {
        self.choices.0.iter().find(|choice| choice.index.0.unwrap_or(0) == 0)
    }

    /// The `usage` object, when there is one.
    pub(crate) fn usage(&self) -> Option<&Value> {
        self.usage.0.as_ref()
    }

    /// Takes the `usage` object out.
    pub(crate) fn take_usage(&mut self) -> Option<Value> {
        self.usage.0.take()
    }

    /// The `error` member, when it is not `null`.
    pub(crate) fn error(&self) -> Option<&Value> {
        self.error.0.as_ref()
    }
}

/// One `choices[]` entry.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Choice<'a> {
    #[serde(default)]
    index: Count,
    #[serde(borrow, default)]
    delta: Object<Message<'a>>,
    #[serde(borrow, default)]
    message: Object<Message<'a>>,
    #[serde(borrow, default)]
    finish_reason: Text<'a>,
    #[serde(default)]
    stop_reason: NonNull,
}

impl<'a> Choice<'a> {
    /// A chunk's `delta`.
    pub(crate) fn delta(&self) -> Option<&Message<'a>> {
        self.delta.0.as_ref()
    }

    /// A body's `message`.
    pub(crate) fn message(&self) -> Option<&Message<'a>> {
        self.message.0.as_ref()
    }

    /// `finish_reason`, verbatim (`stop`, `length`, `tool_calls`, …).
    pub(crate) fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.0.as_deref()
    }

    /// vLLM's `stop_reason`: the stop string (or token id) that ended generation.
    pub(crate) fn matched_stop(&self) -> Option<&Value> {
        self.stop_reason.0.as_ref()
    }
}

/// A body's `message` or a chunk's `delta`: both carry the same fields.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Message<'a> {
    #[serde(borrow, default)]
    content: Content<'a>,
    #[serde(borrow, default)]
    refusal: Text<'a>,
    #[serde(borrow, default)]
    reasoning_content: Text<'a>,
    #[serde(borrow, default)]
    reasoning: Text<'a>,
    #[serde(borrow, default)]
    tool_calls: Objects<ToolCallPart<'a>>,
    #[serde(borrow, default)]
    function_call: Object<Function<'a>>,
}

impl<'a> Message<'a> {
    /// The non-empty reasoning text: `reasoning_content`, else `reasoning`.
    pub(crate) fn reasoning(&self) -> Option<&str> {
        self.reasoning_content.non_empty().or_else(|| self.reasoning.non_empty())
    }

    /// The non-empty visible text: `content` (string or joined parts), else `refusal`.
    pub(crate) fn visible_text(&self) -> Option<&str> {
        self.content.0.non_empty().or_else(|| self.refusal.non_empty())
    }

    /// The tool calls (or, in a delta, tool-call fragments), the legacy `function_call` last.
    pub(crate) fn tool_calls(&self) -> impl Iterator<Item = ToolCall<'_>> {
        let calls = self.tool_calls.0.iter().map(|call| ToolCall {
            index: call.index.0.unwrap_or(0),
            id: call.id.non_empty(),
            function: call.function.0.as_ref(),
        });
        let legacy =
            self.function_call.0.as_ref().map(|function| ToolCall { index: 0, id: None, function: Some(function) });
        calls.chain(legacy)
    }
}

/// One tool call of a message, or one fragment of one in a delta.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ToolCall<'m> {
    /// `index` (0 when absent): which call a stream fragment belongs to.
    pub index: u64,
    /// A non-empty `id`.
    pub id: Option<&'m str>,
    function: Option<&'m Function<'m>>,
}

impl<'m> ToolCall<'m> {
    /// `function.name` (empty when absent).
    pub(crate) fn name(&self) -> &'m str {
        self.function.and_then(|f| f.name.0.as_deref()).unwrap_or("")
    }

    /// `function.arguments` as sent.
    pub(crate) fn arguments(&self) -> &'m Arguments<'m> {
        self.function.map_or(&Arguments::Absent, |f| &f.arguments)
    }
}

#[derive(Debug, Default, Deserialize)]
struct ToolCallPart<'a> {
    #[serde(default)]
    index: Count,
    #[serde(borrow, default)]
    id: Text<'a>,
    #[serde(borrow, default)]
    function: Object<Function<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Function<'a> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    arguments: Arguments<'a>,
}

/// A tool call's `arguments`: JSON text as the API says, or another JSON value as some
/// servers send (an object, mostly).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) enum Arguments<'a> {
    /// Absent or `null`.
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Json(Value),
}

impl Arguments<'_> {
    /// The arguments as JSON text (a value is serialised; absent is empty).
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Arguments::Absent => Cow::Borrowed(""),
            Arguments::Text(text) => Cow::Borrowed(text),
            Arguments::Json(value) => Cow::Owned(value.to_string()),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Arguments<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArgumentsVisitor;
        impl<'de> Visitor<'de> for ArgumentsVisitor {
            type Value = Arguments<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Arguments::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Arguments::Text(Cow::Owned(s.to_owned())))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Arguments::Absent)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Arguments::Absent)
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(Arguments::Json(b.into()))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Ok(Arguments::Json(n.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(Arguments::Json(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
                Ok(Arguments::Json(n.into()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(Arguments::Json)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(Arguments::Json)
            }
        }
        deserializer.deserialize_any(ArgumentsVisitor)
    }
}

/// `content`: a string, or the joined texts of content parts; anything else is absent.
#[derive(Debug, Default)]
struct Content<'a>(Text<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = Content<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut joined = String::new();
                while let Some(Object(part)) = seq.next_element::<Object<ContentPart<'de>>>()? {
                    if let Some(text) = part.as_ref().and_then(ContentPart::text) {
                        joined.push_str(text);
                    }
                }
                Ok(Content(Text(Some(Cow::Owned(joined)))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Content::default())
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Content(Text(Some(Cow::Borrowed(s)))))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Content(Text(Some(Cow::Owned(s.to_owned())))))
            }
            scalars_are_absent!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
        }
        deserializer.deserialize_any(ContentVisitor)
    }
}

/// One content part: its `text`, or a refusal part's `refusal`.
#[derive(Debug, Default, Deserialize)]
struct ContentPart<'a> {
    #[serde(borrow, default)]
    text: Text<'a>,
    #[serde(borrow, default)]
    refusal: Text<'a>,
}

impl ContentPart<'_> {
    fn text(&self) -> Option<&str> {
        self.text.0.as_deref().or(self.refusal.0.as_deref())
    }
}

/// Which call each `tool_calls[]` fragment of a stream continues: the latest call with the
/// fragment's `index` and, when the fragment names an id, that id. Most servers send the
/// id only with a call's first fragment; a server that numbers every call `index: 0`
/// still tells its calls apart by their ids. Calls are numbered (ordinals) in the order
/// they first appear.
#[derive(Debug, Default, Clone)]
pub(crate) struct ToolCallSlots {
    /// Per call, by ordinal: its `index` and the id its first fragment named.
    keys: Vec<(u64, Option<String>)>,
}

impl ToolCallSlots {
    /// The ordinal of the call `fragment` belongs to, and whether it starts a new call.
    pub(crate) fn place(&mut self, fragment: &ToolCall<'_>) -> (usize, bool) {
        let (index, id) = (fragment.index, fragment.id);
        let known = self.keys.iter().rposition(|(i, known)| *i == index && (id.is_none() || known.as_deref() == id));
        match known {
            Some(ordinal) => (ordinal, false),
            None => {
                self.keys.push((index, id.map(str::to_owned)));
                (self.keys.len() - 1, true)
            }
        }
    }

    /// No call has started.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(value: &Value) -> Message<'_> {
        Message::deserialize(value).unwrap()
    }

    #[test]
    fn first_choice_is_index_zero() {
        let body = json!({"choices": [{"index": 1, "finish_reason": "one"}, {"index": 0, "finish_reason": "zero"}]});
        assert_eq!(Answer::from_value(&body).first_choice().unwrap().finish_reason(), Some("zero"));
        let unnumbered = json!({"choices": [{"finish_reason": "two"}]});
        assert_eq!(Answer::from_value(&unnumbered).first_choice().unwrap().finish_reason(), Some("two"));
        for none in [json!({"choices": []}), json!({"choices": null}), json!(7), json!([[{"index": 0}]])] {
            assert!(Answer::from_value(&none).first_choice().is_none(), "{none}");
        }
        assert!(Answer::from_json("[[{\"index\": 0}]]").is_none());
        assert!(Answer::from_json("not json").is_none());
    }

    #[test]
    fn reasoning_reads_both_names_once() {
        assert_eq!(message(&json!({"reasoning": "a"})).reasoning(), Some("a"));
        assert_eq!(message(&json!({"reasoning_content": "b", "reasoning": "b"})).reasoning(), Some("b"));
        assert_eq!(message(&json!({"reasoning_content": "", "reasoning": "c"})).reasoning(), Some("c"));
        assert_eq!(message(&json!({"reasoning_content": null})).reasoning(), None);
        assert_eq!(Message::default().reasoning(), None);
    }

    #[test]
    fn visible_text_handles_strings_parts_and_refusals() {
        assert_eq!(message(&json!({"content": "hi"})).visible_text(), Some("hi"));
        assert_eq!(message(&json!({"content": ""})).visible_text(), None);
        assert_eq!(message(&json!({"content": null})).visible_text(), None);
        assert_eq!(message(&json!({"content": 5})).visible_text(), None);
        let parts = json!({"content": [{"type": "text", "text": "a"}, "odd", {"type": "text", "text": "b"}]});
        assert_eq!(message(&parts).visible_text(), Some("ab"));
        let refusal_part = json!({"content": [{"type": "refusal", "refusal": "No."}]});
        assert_eq!(message(&refusal_part).visible_text(), Some("No."));
        let refusal = json!({"content": null, "refusal": "I can't help with that."});
        assert_eq!(message(&refusal).visible_text(), Some("I can't help with that."));
    }

    #[test]
    fn tool_calls_with_text_object_and_legacy_arguments() {
        let m = json!({"tool_calls": [
            {"index": 1, "id": "c1", "function": {"name": "Bash", "arguments": "{\"a\":1}"}},
            {"id": "", "function": {"arguments": {"k": [1]}}},
            null
        ], "function_call": {"name": "Old", "arguments": null}});
        let m = message(&m);
        let calls: Vec<_> =
            m.tool_calls().map(|c| (c.index, c.id, c.name(), c.arguments().text().into_owned())).collect();
        assert_eq!(
            calls,
            [
                (1, Some("c1"), "Bash", "{\"a\":1}".into()),
                (0, None, "", "{\"k\":[1]}".into()),
                (0, None, "Old", String::new())
            ]
        );
    }

    #[test]
    fn fragments_continue_by_index_or_by_a_new_id() {
        let mut slots = ToolCallSlots::default();
        let part = |index, id| ToolCall { index, id, function: None };
        assert!(slots.is_empty());
        assert_eq!(slots.place(&part(0, Some("a"))), (0, true));
        assert_eq!(slots.place(&part(0, None)), (0, false));
        assert_eq!(slots.place(&part(0, Some("b"))), (1, true));
        assert_eq!(slots.place(&part(0, None)), (1, false));
        assert_eq!(slots.place(&part(0, Some("a"))), (0, false));
        assert_eq!(slots.place(&part(3, None)), (2, true));
    }

    #[test]
    fn chunks_read_from_text_borrow_and_keep_usage_and_errors() {
        let text = r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null,"stop_reason":null}],
                       "usage":{"prompt_tokens":3},"error":null}"#;
        let answer = Answer::from_json(text).unwrap();
        let choice = answer.first_choice().unwrap();
        assert_eq!(choice.delta().unwrap().visible_text(), Some("x"));
        assert_eq!((choice.finish_reason(), choice.matched_stop()), (None, None));
        assert_eq!(answer.usage(), Some(&json!({"prompt_tokens": 3})));
        assert!(answer.error().is_none());
        let failed = Answer::from_json(r#"{"error":{"message":"boom"},"usage":"lots"}"#).unwrap();
        assert_eq!((failed.error(), failed.usage()), (Some(&json!({"message": "boom"})), None));
    }
}
