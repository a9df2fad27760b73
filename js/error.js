// PatchbayError: the one error class every Patchbay SDK promise rejects with.
//
// The wasm module imports this file (wasm-bindgen copies it into the package's `snippets/`) and
// the package entry re-exports it from its own copy. Both copies resolve to one class through
// the global symbol registry, so `err instanceof PatchbayError` holds whichever copy a host
// imported. No eval, no inline script: it runs under `script-src 'self'`.
const KEY = Symbol.for("patchbay.PatchbayError");

class PatchbayErrorImpl extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = "PatchbayError";
    this.code = code;
    this.details = details ?? {};
  }
}

export const PatchbayError = globalThis[KEY] ?? (globalThis[KEY] = PatchbayErrorImpl);
