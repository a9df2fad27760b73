//! Patchbay browser SDK.
//!
//! The JavaScript surface (`Patchbay.init`, `connectApp`, `showApp`, `disconnectApp`,
//! `getConnectedAccounts`, `showFunctionUI`, `invokeFunction`, `on`/`off`, `renderMarketplace`)
//! lives in [`web`], a thin `#[wasm_bindgen]` layer compiled for wasm32 only. Every rule it
//! applies — option validation, the account-selection rule, schema-to-form, argument
//! validation, error mapping, strings — is plain Rust in the other modules, tested natively.

use wasm_bindgen::prelude::*;

pub mod accounts;
pub mod address;
pub mod attempt;
pub mod browse;
pub mod error;
pub mod events;
pub mod flow;
pub mod html;
pub mod i18n;
pub mod json;
pub mod options;
pub mod schema;
pub mod theme;
pub mod validate;
pub mod view;

#[cfg(test)]
pub(crate) mod testing;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::SdkError;

/// The SDK's version, stamped from Cargo.toml.
#[wasm_bindgen(js_name = sdkVersion)]
pub fn sdk_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
