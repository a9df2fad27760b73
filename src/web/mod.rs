//! The browser layer (wasm32 only): the `#[wasm_bindgen]` class [`Patchbay`] and the executor
//! that carries out [`crate::flow`] steps through web-sys, gloo-net and serde-wasm-bindgen. No
//! decisions are made here.

mod broker;
mod client;
mod convert;
mod embed;
mod pending;
mod run;
mod surface;

#[cfg(debug_assertions)]
pub use client::debug_panic;
pub use client::Patchbay;

// talc instead of dlmalloc: a maintained allocator that coalesces freed blocks and weighs less.
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
