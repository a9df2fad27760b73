//! A small JSON value for the free-form parts of the wire (JSON Schemas, function arguments).
//!
//! The SDK keeps `serde_json` out of its wasm bundle: in the browser these values are built from
//! JavaScript values by `web::convert`; native tests build them with `serde_json` (through the
//! serde impls in `testing`). Object members keep their order, which is the order the form
//! renders a schema's properties in.

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
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }
}

fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) if n.is_finite() => out.push_str(&format_number(*n)),
        Json::Number(_) => out.push_str("null"),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[(c as usize) >> 4]));
                out.push(char::from(HEX[(c as usize) & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(module = "/js/ui.js")]
    extern "C" {
        /// `String(n)`.
        #[wasm_bindgen(js_name = numberText)]
        pub fn number_text(n: f64) -> String;
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
        js::number_text(n)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        format!("{n}")
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
            r#"{"z":1.0,"a":[true,null,"x",2.5],"m":{"k":-3.0}}"#
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
