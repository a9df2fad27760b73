// @patchbay/sdk — the package entry. It is a few hundred bytes: the wasm module is fetched and
// compiled only when the first `Patchbay.init()` runs, and only once however often it runs.
// No eval, no inline code: it works under `script-src 'self' 'wasm-unsafe-eval'`.
// Replacing `Patchbay.init` below is a side effect: package.json's `sideEffects` names this file,
// or bundlers skip it and hand out the glue's bare class (no wasm loaded).
import initWasm, { Patchbay } from "./patchbay_sdk.js";
import { PatchbayError } from "./error.js";

export * from "./patchbay_sdk.js";
export { PatchbayError };

let loading;
const createInstance = Patchbay.init;

/** Loads the SDK's wasm (once), then builds a `Patchbay` for these options. */
Patchbay.init = async function init(options) {
  try {
    await (loading ??= initWasm());
  } catch (error) {
    // A failed download is retried by the next init.
    loading = undefined;
    throw new PatchbayError("NETWORK", "the Patchbay SDK's wasm module could not be loaded: " + error, {});
  }
  return createInstance.call(Patchbay, options);
};
