//! The browser layer (wasm32 only): the `#[wasm_bindgen]` class [`Patchbay`], the adapter that
//! lets `js/ui.js` drive [`crate::flow`]s, and JavaScript value conversions. No decisions are
//! made here.

mod alloc;
mod client;
mod convert;
mod handle;
mod ui;

#[cfg(debug_assertions)]
pub use client::debug_panic;
pub use client::Patchbay;

#[global_allocator]
static ALLOCATOR: alloc::Allocator = alloc::Allocator::new();
