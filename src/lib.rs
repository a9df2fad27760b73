//! Patchbay browser SDK.
//!
//! The `#[wasm_bindgen]` boundary stays thin; logic lives in plain Rust modules tested natively.

use wasm_bindgen::prelude::*;

/// The SDK's version, stamped from Cargo.toml.
#[wasm_bindgen(js_name = sdkVersion)]
pub fn sdk_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
