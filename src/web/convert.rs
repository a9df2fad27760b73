//! Crossing the wasm boundary: JavaScript values to and from [`Json`] through serde-wasm-bindgen,
//! option objects, [`SdkError`] to `PatchbayError`, and guarded listeners.

use js_sys::{Array, Function, Object};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::EventTarget;

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

    /// `callback` wrapped so that a trap (a panic) inside it rejects with `INTERNAL` through
    /// `reject` instead of escaping into the browser's event loop.
    pub fn guard(callback: &JsValue, reject: &Function) -> Function;

    /// Records a panic's message for the `INTERNAL` error (debug builds).
    #[cfg(debug_assertions)]
    fn panicked(message: &str);
}

/// A JavaScript value (an answer's body, a caller's argument) as [`Json`]; `None` when it is
/// not JSON-compatible (a function, a symbol, a cycle).
pub fn from_js(value: &JsValue) -> Option<Json> {
    serde_wasm_bindgen::from_value(value.clone()).ok()
}

/// [`Json`] as a plain JavaScript value (objects as plain objects, not `Map`s).
pub fn to_js(value: &Json) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
}

/// The `PatchbayError` for `err`.
pub fn error_to_js(err: &SdkError) -> JsValue {
    JsPatchbayError::new(err.code.as_str(), &err.message, &to_js(&err.details)).into()
}

/// Whether `value` is a plain options object (not null, an array or a function).
pub fn is_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

/// The own members of an options object, each read as a string option.
pub fn members(object: &JsValue) -> Vec<(String, OptionValue)> {
    let mut out = Vec::new();
    let Some(object) = object.dyn_ref::<Object>() else { return out };
    for entry in Object::entries(object) {
        let entry: Array = entry.unchecked_into();
        let key = entry.get(0).as_string().unwrap_or_default();
        out.push((key, value_of(&entry.get(1))));
    }
    out
}

/// Reads one member of an options object.
pub fn option(members: &[(String, OptionValue)], key: &str) -> OptionValue {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// The members whose keys are not in `known`.
pub fn unknown_keys(members: &[(String, OptionValue)], known: &[&str]) -> Vec<String> {
    members.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, _)| k.clone()).collect()
}

/// Classifies a value passed where a string is expected (`undefined` is absent; a value
/// serde cannot read, such as a function, is "another type").
pub fn value_of(value: &JsValue) -> OptionValue {
    if value.is_undefined() {
        return OptionValue::Missing;
    }
    if value.is_null() {
        return OptionValue::Other("null".into());
    }
    serde_wasm_bindgen::from_value(value.clone())
        .unwrap_or_else(|_| OptionValue::Other("another type".into()))
}

/// A string argument that must be present (an app id, a function name).
pub fn required_name(value: &JsValue, name: &str) -> Result<String, SdkError> {
    match value_of(value) {
        OptionValue::Text(s) if !s.trim().is_empty() => Ok(s),
        OptionValue::Text(_) | OptionValue::Missing => Err(SdkError::invalid_option(name, "is required")),
        OptionValue::Other(_) => Err(SdkError::invalid_option(name, "must be a string")),
    }
}

/// Adds a listener for `event` on `target`, guarded by `reject`; returns the function added (to
/// remove it later). The closure belongs to the JavaScript function from then on.
pub fn listener<E: wasm_bindgen::convert::FromWasmAbi + 'static>(
    target: &EventTarget,
    event: &str,
    callback: impl FnMut(E) + 'static,
    reject: &Function,
) -> Result<Function, JsValue> {
    let function = guard(&Closure::<dyn FnMut(E)>::new(callback).into_js_value(), reject);
    target.add_event_listener_with_callback(event, &function)?;
    Ok(function)
}

/// Runs `callback` now, guarded by `reject` (used where a future resumes the SDK's logic, so a
/// panic there rejects the operation instead of breaking the task queue).
pub fn run_guarded(callback: impl FnOnce() + 'static, reject: &Function) {
    let _ = guard(&Closure::once_into_js(callback), reject).call0(&JsValue::UNDEFINED);
}

/// Installs the debug panic hook (once): the panic message is handed to `js/error.js` before
/// the wasm traps, so the guard rejects the operation's promise with an `INTERNAL`
/// PatchbayError carrying it instead of an opaque `RuntimeError: unreachable`.
#[cfg(debug_assertions)]
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            panicked(&info.to_string());
            previous(info);
        }));
    });
}

/// Release builds abort on panic (smallest code); the guards map the trap to `INTERNAL`.
#[cfg(not(debug_assertions))]
pub fn install_panic_hook() {}
