//! A request body serialized once, with the places where the cache poison may add a space
//! marked, so each execution's poisoned body is one copy of bytes with at most 64 spaces
//! spliced in, not a deep copy of the JSON tree serialized again.
//!
//! Why: the poison ([`super::poison`]) depends on the execution only through its 64-bit
//! mask; the isolated spaces it may double are the same in every execution. Cloning a
//! `serde_json::Value` of a few hundred KB of prompt, scanning it and serializing it again
//! costs milliseconds per request on the send path; a splice is a `memcpy`. Bodies the
//! cache mode leaves alone (allwarm) are shared, not copied at all (`Bytes` is counted).
//! Measured per request (callgrind, `BENCHMARKS.md`, "CPU per request").
//!
//! How the slots are found in the serialized bytes without re-implementing JSON string
//! escaping: each slot gets a marker character from Unicode's private-use area
//! (U+E000 + bit, never escaped by `serde_json`), the marked body is serialized once, and
//! the markers are taken out again, remembering where each was. A body that already
//! contains such a character (it could be mistaken for a marker) gets no template: it is
//! built the slow way, [`super::plan::Plan::body`], which remains the definition; the
//! tests below compare the two byte for byte.

use bytes::Bytes;
use serde_json::Value;

use super::poison::{twin_slots, MASK_BITS};
use super::prompt_text;
use crate::wire::Api;

/// The first marker: bit k is U+E000 + k, UTF-8 `EE 80 (80 + k)`.
const MARKER_BASE: u32 = 0xE000;
/// Every marker starts with these two bytes.
const MARKER_LEAD: [u8; 2] = [0xEE, 0x80];

/// One planned request's body, serialized, with its twin slots.
#[derive(Debug, Clone)]
pub(crate) struct BodyTemplate {
    bytes: Bytes,
    /// (offset in `bytes`, mask bit), by increasing offset.
    slots: Vec<(usize, usize)>,
}

impl BodyTemplate {
    /// The template of `body` poisoned from `poison_from` (`None`: never poisoned), or
    /// `None` when the body holds a character that could be taken for a marker.
    pub(crate) fn new(body: &Value, api: Api, poison_from: Option<usize>) -> Option<BodyTemplate> {
        let plain = serde_json::to_vec(body).ok()?;
        let Some(start) = poison_from else {
            return Some(BodyTemplate { bytes: Bytes::from(plain), slots: Vec::new() });
        };
        if plain.windows(2).any(|w| w == MARKER_LEAD) {
            return None;
        }
        let mut marked = body.clone();
        let mut segments = prompt_text::segments_mut(&mut marked, api);
        let slots = twin_slots(&segments.iter().map(|s| s.as_str()).collect::<Vec<_>>(), start);
        if slots.is_empty() {
            return Some(BodyTemplate { bytes: Bytes::from(plain), slots: Vec::new() });
        }
        for slot in slots.iter().rev() {
            let marker = char::from_u32(MARKER_BASE + slot.bit as u32)?;
            segments.get_mut(slot.segment)?.insert(slot.offset, marker);
        }
        let serialized = serde_json::to_vec(&marked).ok()?;
        let mut bytes = Vec::with_capacity(plain.len());
        let mut found = Vec::with_capacity(slots.len());
        let mut i = 0;
        while i < serialized.len() {
            if serialized[i..].starts_with(&MARKER_LEAD) {
                let bit = usize::from(*serialized.get(i + 2)?).checked_sub(0x80)?;
                found.push((bytes.len(), bit));
                i += 3;
            } else {
                bytes.push(serialized[i]);
                i += 1;
            }
        }
        // Markers are found in document order, which is not bit order when the keys are
        // (Anthropic's `system` may come after `messages`).
        found.sort_unstable();
        (bytes == plain && found.len() == slots.len() && found.iter().all(|&(_, bit)| bit < MASK_BITS))
            .then(|| BodyTemplate { bytes: Bytes::from(bytes), slots: found })
    }

    /// The body as sent under `mask`: a space spliced in at each slot whose bit is set.
    /// Unpoisoned bodies are shared, not copied.
    pub(crate) fn render(&self, mask: &[bool; MASK_BITS]) -> Bytes {
        let chosen = self.slots.iter().filter(|&&(_, bit)| mask[bit]);
        if chosen.clone().next().is_none() {
            return self.bytes.clone();
        }
        let mut out = Vec::with_capacity(self.bytes.len() + MASK_BITS);
        let mut from = 0;
        for &(offset, _) in chosen {
            out.extend_from_slice(&self.bytes[from..offset]);
            out.push(b' ');
            from = offset;
        }
        out.extend_from_slice(&self.bytes[from..]);
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::poison::{execution_mask, poison_segments};
    use proptest::prelude::*;
    use serde_json::json;

    /// The definition: poison a copy of the tree, serialize it ([`super::super::plan::Plan::body`]).
    fn slow(body: &Value, api: Api, start: Option<usize>, mask: &[bool; MASK_BITS]) -> Vec<u8> {
        let mut body = body.clone();
        if let Some(start) = start {
            poison_segments(&mut prompt_text::segments_mut(&mut body, api), start, mask);
        }
        serde_json::to_vec(&body).unwrap()
    }

    fn fast(body: &Value, api: Api, start: Option<usize>, mask: &[bool; MASK_BITS]) -> Vec<u8> {
        BodyTemplate::new(body, api, start).expect("a template").render(mask).to_vec()
    }

    #[test]
    fn a_poisoned_body_is_pinned_byte_for_byte() {
        let body = json!({"model": "m", "messages": [
            {"role": "system", "content": "You are \"terse\".\nBe brief."},
            {"role": "user", "content": [{"type": "text", "text": "fix the bug in a b c"}]}],
            "max_tokens": 7, "temperature": 0.7});
        // Bits 0-5 of this mask are set: the first six isolated spaces are doubled.
        let mask = execution_mask("build-rest-api", 0);
        let expected = concat!(
            r#"{"model":"m","messages":[{"role":"system","content":"You  are  \"terse\".\nBe  brief."},"#,
            r#"{"role":"user","content":[{"type":"text","text":"fix  the  bug  in a b c"}]}],"#,
            r#""max_tokens":7,"temperature":0.7}"#
        );
        assert_eq!(String::from_utf8(slow(&body, Api::OpenAi, Some(0), &mask)).unwrap(), expected);
        assert_eq!(String::from_utf8(fast(&body, Api::OpenAi, Some(0), &mask)).unwrap(), expected);
    }

    #[test]
    fn anthropic_system_after_messages_in_key_order() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "one two three four"}],
            "system": [{"type": "text", "text": "sys tem prompt here"}], "max_tokens": 3});
        for execution in 0..8 {
            let mask = execution_mask("t", execution);
            assert_eq!(fast(&body, Api::Anthropic, Some(2), &mask), slow(&body, Api::Anthropic, Some(2), &mask));
        }
    }

    #[test]
    fn unpoisoned_bodies_are_shared_not_copied() {
        let body = json!({"messages": [{"role": "user", "content": "a b c"}]});
        let warm = BodyTemplate::new(&body, Api::OpenAi, None).unwrap();
        let mask = [true; MASK_BITS];
        assert_eq!(warm.render(&mask).as_ptr(), warm.render(&mask).as_ptr());
        assert_eq!(warm.render(&mask).to_vec(), serde_json::to_vec(&body).unwrap());
        let cold = BodyTemplate::new(&body, Api::OpenAi, Some(0)).unwrap();
        assert_eq!(cold.render(&[false; MASK_BITS]).as_ptr(), cold.render(&[false; MASK_BITS]).as_ptr());
    }

    #[test]
    fn a_body_holding_a_marker_character_has_no_template() {
        let body = json!({"messages": [{"role": "user", "content": "private \u{E005} use"}]});
        assert!(BodyTemplate::new(&body, Api::OpenAi, Some(0)).is_none());
        assert!(BodyTemplate::new(&body, Api::OpenAi, None).is_some(), "unpoisoned bodies need no markers");
    }

    proptest! {
        #[test]
        fn splicing_gives_the_bytes_poisoning_the_tree_gives(
            contents in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just("a"), Just(" "), Just("é"), Just("\n"), Just("\""),
                    Just("\\"), Just("\t"), Just("\u{1}"), Just("😀"), Just("</")], 0..60), 1..5),
            start in 0usize..200,
            execution in 0u32..6,
            anthropic in any::<bool>(),
        ) {
            let texts: Vec<String> = contents.iter().map(|c| c.concat()).collect();
            let api = if anthropic { Api::Anthropic } else { Api::OpenAi };
            let messages: Vec<Value> = texts.iter().enumerate().map(|(i, t)| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                if i % 3 == 2 { json!({"role": role, "content": [{"type": "text", "text": t}]}) }
                else { json!({"role": role, "content": t}) }
            }).collect();
            let body = if anthropic {
                json!({"model": "m", "messages": messages, "system": texts[0], "max_tokens": 5})
            } else {
                json!({"model": "m", "messages": messages, "stream": true, "max_tokens": 5})
            };
            let mask = execution_mask("prop", execution);
            prop_assert_eq!(fast(&body, api, Some(start), &mask), slow(&body, api, Some(start), &mask));
            prop_assert_eq!(fast(&body, api, None, &mask), slow(&body, api, None, &mask));
        }
    }
}
