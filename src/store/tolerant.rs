//! Tolerant reading of the records vizier rewrites (the run manifest and its nodes).
//!
//! A derived `Deserialize` cannot keep the fields it does not know, and `#[serde(flatten)]`, which
//! can, first buffers every field of the struct (for a manifest: every node) into an intermediate
//! tree and then reads it again, which costs a manifest of thousands of nodes about twice its parse
//! time. [`tolerant_deserialize!`] writes the reader by hand instead: one pass over the fields, each
//! known one read straight into its place (`null` or absent: the default), each unknown one kept as
//! JSON in the struct's `extra` map, which `#[serde(flatten)]` writes back on serialization (cheap in
//! that direction).

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, Error, Visitor};

/// A field name, borrowed from the input when the reader can.
pub struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// `impl Deserialize` for a struct with `Default` and an `extra: BTreeMap<String, Value>` field:
/// `tolerant_deserialize!(Type, "what it is", { "json_name" => field, … })`.
macro_rules! tolerant_deserialize {
    ($ty:ident, $what:literal, { $($key:literal => $field:ident),* $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        let mut out = <$ty>::default();
                        while let Some(key) = map.next_key::<$crate::store::tolerant::Key<'de>>()? {
                            match key.0.as_ref() {
                                $($key => {
                                    if let Some(value) = map.next_value()? {
                                        out.$field = value;
                                    }
                                })*
                                _ => {
                                    let value: serde_json::Value = map.next_value()?;
                                    out.extra.insert(key.0.into_owned(), value);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

pub(crate) use tolerant_deserialize;
