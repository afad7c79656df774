//! Field readers that take a value of the expected JSON type and read anything else as
//! absent, instead of failing the whole answer: servers send `null`, numbers or objects
//! where the API says string, and one odd field must not hide the rest of a chunk.
//!
//! They read from JSON text (strings borrowed where they have no escapes) and from a
//! `serde_json::Value` alike (`&Value` is a serde deserializer that lends its strings), so
//! the recorder's hot path and the translators share one reading without building a
//! `Value` per event. A value of another type is skipped unbuilt.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Implements the visitor methods of the JSON scalars as "absent".
macro_rules! scalars_are_absent {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method<E: serde::de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(Default::default())
        })*
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}
pub(super) use scalars_are_absent;

pub(super) fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

pub(super) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A string, or nothing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    /// The string when it is not empty.
    pub(crate) fn non_empty(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(s))))
            }
            scalars_are_absent!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A non-negative integer, or nothing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count(pub Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(Count(Some(n)))
            }
            scalars_are_absent!(visit_bool: bool, visit_i64: i64, visit_f64: f64, visit_str: &str);
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Count(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Count(None))
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

/// A JSON object read as `T` (a struct of lenient fields), or nothing.
#[derive(Debug, Clone)]
pub(crate) struct Object<T>(pub Option<T>);

impl<T> Default for Object<T> {
    fn default() -> Self {
        Object(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| Object(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| Object(None))
            }
            scalars_are_absent!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// The objects of a JSON array, each read as `T`; elements that are not objects, and a
/// value that is not an array, are skipped.
#[derive(Debug, Clone)]
pub(crate) struct Objects<T>(pub Vec<T>);

impl<T> Default for Objects<T> {
    fn default() -> Self {
        Objects(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Objects<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectsVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectsVisitor<T> {
            type Value = Objects<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(Object(item)) = seq.next_element::<Object<T>>()? {
                    items.extend(item);
                }
                Ok(Objects(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                skip_map(map).map(|()| Objects::default())
            }
            scalars_are_absent!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
        }
        deserializer.deserialize_any(ObjectsVisitor(PhantomData))
    }
}

/// A JSON object kept whole (a `usage`), or nothing.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WholeObject(pub Option<Value>);

impl<'de> Deserialize<'de> for WholeObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WholeObjectVisitor;
        impl<'de> Visitor<'de> for WholeObjectVisitor {
            type Value = WholeObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(|v| WholeObject(Some(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| WholeObject(None))
            }
            scalars_are_absent!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
        }
        deserializer.deserialize_any(WholeObjectVisitor)
    }
}

/// Any value but `null`, kept whole (an `error`, vLLM's matched `stop_reason`), or nothing.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct NonNull(pub Option<Value>);

impl<'de> Deserialize<'de> for NonNull {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<Value>::deserialize(deserializer).map(|v| NonNull(v.filter(|v| !v.is_null())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Default)]
    struct Fields<'a> {
        #[serde(borrow, default)]
        text: Text<'a>,
        #[serde(default)]
        count: Count,
        #[serde(default)]
        object: Object<Inner>,
        #[serde(default)]
        objects: Objects<Inner>,
        #[serde(default)]
        whole: WholeObject,
        #[serde(default)]
        any: NonNull,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Inner {
        #[serde(default)]
        n: Count,
    }

    #[test]
    fn other_types_read_as_absent_and_the_rest_still_reads() {
        let odd = r#"{"text": [1, {"a": 2}], "count": "7", "object": [3], "objects": {"n": 1},
                      "whole": "x", "any": null, "extra": {"deep": [1, 2]}}"#;
        let f: Fields = serde_json::from_str(odd).unwrap();
        assert_eq!((f.text.0, f.count.0, f.object.0, f.objects.0.len()), (None, None, None, 0));
        assert_eq!((f.whole.0, f.any.0), (None, None));
        let good = r#"{"text": "hi", "count": 7, "object": {"n": 1}, "objects": [null, {"n": 2}, 3],
                       "whole": {"k": 1}, "any": 5}"#;
        let f: Fields = serde_json::from_str(good).unwrap();
        assert!(matches!(f.text.0, Some(Cow::Borrowed("hi"))));
        assert_eq!(
            (f.count.0, f.object.0, f.objects.0),
            (Some(7), Some(Inner { n: Count(Some(1)) }), vec![Inner { n: Count(Some(2)) }])
        );
        assert_eq!((f.whole.0, f.any.0), (Some(json!({"k": 1})), Some(json!(5))));
    }

    #[test]
    fn values_read_the_same_and_lend_their_strings() {
        let value = json!({"text": "a\"b", "count": -1, "objects": [{"n": 3}]});
        let f = Fields::deserialize(&value).unwrap();
        assert!(matches!(f.text.0, Some(Cow::Borrowed("a\"b"))));
        assert_eq!((f.count.0, f.objects.0.len()), (None, 1));
        let escaped: Fields = serde_json::from_str(r#"{"text": "a\"b"}"#).unwrap();
        assert_eq!(escaped.text.non_empty(), Some("a\"b"));
    }
}
