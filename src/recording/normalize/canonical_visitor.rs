//! The canonical text of a request body written by a serde visitor, each value to the output
//! as it is parsed: the way for what the hand-written scan ([`super::canonical_scan`])
//! gives up on (escaped or repeated keys, deep nesting, anything that is not JSON).

use std::fmt;
use std::ops::Range;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::scratch::Scratch;
use super::{normalize_string, write_compact, Normalizer, Step};

impl Normalizer {
    /// The serde way, for what the scan leaves to it.
    pub(super) fn canonical_text_by_visitor(
        &self,
        json: &[u8],
        out: &mut Vec<u8>,
        scratch: &mut Scratch,
    ) -> Option<()> {
        scratch.fields.clear();
        let mut de = serde_json::Deserializer::from_slice(json);
        let writer = Writer { out, scratch, normalizer: self, depth: 0, live: &self.all_paths };
        writer.deserialize(&mut de).ok()?;
        de.end().ok()
    }
}

/// Writes one value (and everything inside it) in canonical form.
struct Writer<'o, 'n> {
    out: &'o mut Vec<u8>,
    scratch: &'o mut Scratch,
    normalizer: &'n Normalizer,
    /// Nesting depth of this value (0: the document).
    depth: usize,
    /// Ignore paths that match the way down to this value.
    live: &'n [u32],
}

impl<'o, 'n> Writer<'o, 'n> {
    fn child<'c>(&'c mut self, live: &'c [u32]) -> Writer<'c, 'c>
    where
        'n: 'c,
    {
        Writer { out: self.out, scratch: self.scratch, normalizer: self.normalizer, depth: self.depth + 1, live }
    }
}

impl<'de> DeserializeSeed<'de> for Writer<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Writer<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        write_compact(&v, self.out);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        write_compact(&v, self.out);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // As a `Value` holds it: a float that JSON cannot write (never parsed) is null.
        write_compact(&serde_json::Number::from_f64(v), self.out);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        match self.normalizer.presets.then(|| normalize_string(v)).flatten() {
            Some(normalized) => write_compact(&normalized, self.out),
            None => write_compact(v, self.out),
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        for index in 0.. {
            let (live, skip) = self.normalizer.follow(self.live, self.depth, Step::Index(index));
            if skip {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                continue;
            }
            let comma = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(self.child(&live))?.is_none() {
                self.out.truncate(comma);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let start = self.out.len();
        let base = self.scratch.fields.len();
        let mut sorted = true;
        let mut previous: Option<ObjectKey<'de>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let (live, skip) = self.normalizer.follow(self.live, self.depth, Step::Key(key.as_str()));
            if skip {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if let Some(previous) = &previous {
                sorted &= previous.as_str() <= key.as_str();
                self.out.push(b',');
            }
            let field = self.out.len();
            write_compact(key.as_str(), self.out);
            let key_end = self.out.len();
            self.out.push(b':');
            map.next_value_seed(self.child(&live))?;
            self.scratch.fields.push((field, key_end, self.out.len()));
            previous = Some(key);
        }
        if !sorted {
            let out = &mut *self.out;
            self.scratch.fields[base..]
                .sort_unstable_by(|a, b| written_key(out, a.0..a.1).cmp(&written_key(out, b.0..b.1)));
            self.scratch.rewrite_in_order(out, start, base);
        }
        self.scratch.fields.truncate(base);
        self.out.push(b'}');
        Ok(())
    }
}

/// A key as written (quoted, escaped) back to the key's own bytes, for sorting: UTF-8
/// bytes sort as the strings do.
fn written_key(out: &[u8], quoted: Range<usize>) -> std::borrow::Cow<'_, [u8]> {
    let text = &out[quoted];
    if text.contains(&b'\\') {
        serde_json::from_slice::<String>(text).map(|k| k.into_bytes().into()).unwrap_or_default()
    } else {
        text[1..text.len() - 1].into()
    }
}

/// An object key, borrowed from the input when it has no escapes.
enum ObjectKey<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl ObjectKey<'_> {
    fn as_str(&self) -> &str {
        match self {
            ObjectKey::Borrowed(s) => s,
            ObjectKey::Owned(s) => s,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = ObjectKey<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ObjectKey<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = ObjectKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<ObjectKey<'de>, E> {
        Ok(ObjectKey::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<ObjectKey<'de>, E> {
        Ok(ObjectKey::Owned(v.to_string()))
    }
}
