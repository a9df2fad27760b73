// PatchbayError: the one error class every Patchbay SDK promise rejects with, and the guard that
// turns a trap in the wasm module (a Rust panic) into an `INTERNAL` PatchbayError.
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

// The message of the last panic (debug builds record it just before the wasm traps).
let panic = "";
export const panicked = (message) => void (panic = message);

/** `error` as a PatchbayError: itself, or `INTERNAL` naming the panic or the trap. */
export function internal(error) {
  if (error instanceof PatchbayError) return error;
  const why = error instanceof WebAssembly.RuntimeError && panic ? panic : error;
  panic = "";
  return new PatchbayError("INTERNAL", "internal error in the Patchbay SDK: " + why, {});
}

/** `callback`, with anything it throws handed to `reject` as a PatchbayError. */
export const guard = (callback, reject) =>
  function (...args) {
    try {
      return callback.apply(this, args);
    } catch (error) {
      reject(internal(error));
    }
  };
