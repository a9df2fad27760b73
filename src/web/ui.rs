//! `js/ui.js`: the executor that carries out flow steps (markup in shadow roots, requests, the
//! popup, timers), and the few JavaScript value operations the module needs (js-sys would cost
//! the bundle more than the SDK's own logic).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/ui.js")]
extern "C" {
    /// Runs a flow handle (see `handle.rs`) to its end, as a promise; inline surfaces go into
    /// `container`.
    pub fn run(flow: JsValue, container: &JsValue) -> JsValue;
    /// `[pathname, search, hash, origin]` of the page.
    pub fn location() -> Vec<JsValue>;
    /// The element given, or the one a selector matches (`null` otherwise).
    pub fn element(value: &JsValue) -> JsValue;
    /// Calls a host listener; what it throws is reported, not propagated.
    pub fn call(listener: &JsValue, payload: &JsValue);
    /// 0 null/undefined, 1 array, 2 object, 3 function, 4 anything else.
    pub fn kind(value: &JsValue) -> u8;
    /// An array's items.
    pub fn items(array: &JsValue) -> Vec<JsValue>;
    /// An object's own entries, flattened: `[key, value, key, value…]`.
    pub fn entries(object: &JsValue) -> Vec<JsValue>;
    /// `object[key]`.
    pub fn get(object: &JsValue, key: &str) -> JsValue;
    /// `JSON.parse` of text the module wrote.
    pub fn parse(text: &str) -> JsValue;
    /// `JSON.parse` of user text: `[value]`, or `[]` when it is not JSON.
    #[wasm_bindgen(js_name = tryParse)]
    pub fn try_parse(text: &str) -> Vec<JsValue>;
    /// Records a panic's message for the executor (debug builds).
    #[cfg(debug_assertions)]
    pub fn panicked(message: &str);
    /// `Promise.reject(error)`.
    pub fn rejected(error: &JsValue) -> JsValue;
}
