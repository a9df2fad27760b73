//! A small JSON value for the free-form parts of the wire (JSON Schemas, function arguments,
//! broker answers the flows read).
//!
//! It has serde impls, so in the browser it crosses the JavaScript boundary through
//! serde-wasm-bindgen and natively through serde_json; the wasm bundle carries no JSON parser or
//! writer of its own (text goes through the browser's `JSON`). Object members keep their order,
//! which is the order the form renders a schema's properties in.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Json {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number (JavaScript has only doubles).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in source order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        if let Json::Object(members) = self {
            for (k, v) in members {
                if k == key {
                    return Some(v);
                }
            }
        }
        None
    }

    /// A string value.
    pub fn text(s: &str) -> Json {
        Json::String(s.to_owned())
    }

    /// An object from `(key, value)` pairs.
    pub fn object(members: Vec<(&str, Json)>) -> Json {
        let mut out = Vec::with_capacity(members.len());
        for (k, v) in members {
            out.push((k.to_owned(), v));
        }
        Json::Object(out)
    }

    /// The string member `key` (`""` when absent or not a string).
    pub fn str_at(&self, key: &str) -> &str {
        self.get(key).and_then(Json::as_str).unwrap_or_default()
    }

    /// The string member `key`, when present.
    pub fn opt_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    /// The array member `key` (empty when absent).
    pub fn list_at(&self, key: &str) -> &[Json] {
        self.get(key).and_then(Json::as_array).unwrap_or_default()
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A non-negative whole number (schema keywords such as `minItems`).
    pub fn as_count(&self) -> Option<usize> {
        let n = self.as_f64()?;
        (n >= 0.0 && n.fract() == 0.0 && n <= 1e9).then_some(n as usize)
    }

    /// The boolean inside, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The text a form input shows for this value: strings as they are, numbers without a
    /// trailing `.0`, booleans as `true`/`false`; `None` for null, arrays and objects.
    pub fn display_text(&self) -> Option<String> {
        match self {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(format_number(*n)),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl Json {
    /// Compact JSON text, as `JSON.stringify` writes it (non-finite numbers become `null`).
    pub fn to_text(&self) -> String {
        #[cfg(target_arch = "wasm32")]
        {
            let serializer = serde_wasm_bindgen::Serializer::json_compatible();
            self.serialize(&serializer)
                .ok()
                .and_then(|value| js_sys::JSON::stringify(&value).ok())
                .and_then(|text| text.as_string())
                .unwrap_or_default()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

/// Concatenates `parts` (cheaper in the bundle than `format!`).
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Formats a number as JavaScript would (`3`, not `3.0`). In the browser fractions are formatted
/// by JavaScript itself, which keeps Rust's float formatting out of the bundle.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Number::from(n).to_string_with_radix(10).map(String::from).unwrap_or_default()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        format!("{n}")
    }
}

/// Beyond this, whole doubles are written in exponent form (as JavaScript does).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            // As JSON.stringify writes them: whole numbers without a fraction, no NaN or Infinity.
            Json::Number(n) if !n.is_finite() => serializer.serialize_unit(),
            Json::Number(n) if n.fract() == 0.0 && n.abs() < MAX_SAFE_INTEGER => {
                serializer.serialize_i64(*n as i64)
            }
            Json::Number(n) => serializer.serialize_f64(*n),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            members.push((k, v));
        }
        Ok(Json::Object(members))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_serde_keeping_member_order() {
        let text = r#"{"z":1,"a":[true,null,"x",2.5],"m":{"k":-3}}"#;
        let value: Json = serde_json::from_str(text).expect("parse");
        assert_eq!(
            value.as_object().map(|m| m.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>()),
            Some(vec!["z", "a", "m"])
        );
        assert_eq!(value.get("m").and_then(|m| m.get("k")).and_then(Json::as_f64), Some(-3.0));
        assert_eq!(
            serde_json::to_string(&value).expect("serialize"),
            r#"{"z":1,"a":[true,null,"x",2.5],"m":{"k":-3}}"#
        );
    }

    #[test]
    fn text_is_what_json_stringify_writes() {
        let text = r#"{"a":[1,2.5,-3,null,true],"s":"q\"\\\n\u0001é"}"#;
        let value: Json = serde_json::from_str(text).expect("parse");
        assert_eq!(value.to_text(), text);
        assert_eq!(Json::Number(f64::INFINITY).to_text(), "null");
    }

    #[test]
    fn numbers_display_like_javascript() {
        assert_eq!(Json::Number(3.0).display_text().as_deref(), Some("3"));
        assert_eq!(Json::Number(-0.5).display_text().as_deref(), Some("-0.5"));
        assert_eq!(Json::Bool(true).display_text().as_deref(), Some("true"));
        assert_eq!(Json::Null.display_text(), None);
        assert_eq!(Json::Number(2.0).as_count(), Some(2));
        assert_eq!(Json::Number(-1.0).as_count(), None);
        assert_eq!(Json::Number(1.5).as_count(), None);
    }
}
