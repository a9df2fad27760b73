// Types of the package entry: everything the wasm module exports (with its generated and
// hand-written declarations), `Patchbay.init` loading the module on first use.
export * from "./patchbay_sdk.js";
