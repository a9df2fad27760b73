//! Crossing the wasm boundary: JavaScript values to and from [`Json`], option objects, and
//! [`SdkError`] to `PatchbayError`.

use wasm_bindgen::prelude::*;

use super::ui::{entries, get, items, kind, parse};
use crate::error::SdkError;
use crate::json::Json;
use crate::options::OptionValue;

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    /// The SDK's error class (`js/error.js`).
    #[wasm_bindgen(js_name = PatchbayError)]
    type JsPatchbayError;

    #[wasm_bindgen(constructor, js_class = "PatchbayError")]
    fn new(code: &str, message: &str, details: &JsValue) -> JsPatchbayError;
}

/// Deepest nesting read from a JavaScript value (cycles and absurd depths become `null`).
const MAX_DEPTH: u32 = 64;

/// A JavaScript value (from `JSON.parse` or a caller) as [`Json`]. Functions, symbols and
/// `undefined` become `null`.
pub fn js_to_json(value: &JsValue) -> Json {
    to_json(value, 0)
}

fn to_json(value: &JsValue, depth: u32) -> Json {
    if let Some(b) = value.as_bool() {
        return Json::Bool(b);
    }
    if let Some(n) = value.as_f64() {
        return Json::Number(n);
    }
    if let Some(s) = value.as_string() {
        return Json::String(s);
    }
    match (kind(value), depth < MAX_DEPTH) {
        (1, true) => {
            let list = items(value);
            let mut out = Vec::with_capacity(list.len());
            for item in &list {
                out.push(to_json(item, depth + 1));
            }
            Json::Array(out)
        }
        (2, true) => {
            let flat = entries(value);
            let mut out = Vec::with_capacity(flat.len() / 2);
            for pair in flat.chunks(2) {
                if let [key, item] = pair {
                    out.push((key.as_string().unwrap_or_default(), to_json(item, depth + 1)));
                }
            }
            Json::Object(out)
        }
        _ => Json::Null,
    }
}

/// [`Json`] as a plain JavaScript value.
pub fn json_to_js(value: &Json) -> JsValue {
    match value {
        Json::Null => JsValue::NULL,
        Json::Bool(b) => JsValue::from_bool(*b),
        Json::Number(n) => JsValue::from_f64(*n),
        Json::String(s) => JsValue::from_str(s),
        _ => parse(&value.to_text()),
    }
}

/// The `PatchbayError` for `err`.
pub fn error_to_js(err: &SdkError) -> JsValue {
    JsPatchbayError::new(err.code.as_str(), &err.message, &json_to_js(&err.details)).into()
}

/// Reads one member of an options object.
pub fn option(object: &JsValue, key: &str) -> OptionValue {
    value_of(&get(object, key))
}

/// Classifies a value passed where a string is expected.
pub fn value_of(value: &JsValue) -> OptionValue {
    if value.is_undefined() {
        OptionValue::Missing
    } else if let Some(s) = value.as_string() {
        OptionValue::Text(s)
    } else {
        OptionValue::Other(if value.is_null() { "null" } else { "another type" }.into())
    }
}

/// The own keys of `object` that are not in `known`.
pub fn unknown_keys(object: &JsValue, known: &[&str]) -> Vec<String> {
    let mut unknown = Vec::new();
    for (i, key) in entries(object).iter().enumerate() {
        if i % 2 == 0 {
            if let Some(key) = key.as_string().filter(|k| !known.contains(&k.as_str())) {
                unknown.push(key);
            }
        }
    }
    unknown
}

/// Whether `value` is a plain options object (not null, an array or a function).
pub fn is_object(value: &JsValue) -> bool {
    kind(value) == 2
}

/// A string argument that must be present (an app id, a function name).
pub fn required_name(value: &JsValue, name: &str) -> Result<String, SdkError> {
    match value_of(value) {
        OptionValue::Text(s) if !s.trim().is_empty() => Ok(s),
        OptionValue::Text(_) | OptionValue::Missing => Err(SdkError::invalid_option(name, "is required")),
        OptionValue::Other(_) => Err(SdkError::invalid_option(name, "must be a string")),
    }
}

/// Installs the debug panic hook (once): the panic message is handed to `js/ui.js` before the
/// wasm traps, so the flow executor rejects the operation's promise with an `INTERNAL`
/// PatchbayError carrying it instead of an opaque `RuntimeError: unreachable`. (Nothing is
/// thrown from the hook: unwinding out of it would skip the destructors of the frames below.)
#[cfg(debug_assertions)]
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            super::ui::panicked(&info.to_string());
            previous(info);
        }));
    });
}

/// Release builds abort on panic (smallest code); the executor maps the trap to `INTERNAL`.
#[cfg(not(debug_assertions))]
pub fn install_panic_hook() {}
