// @patchbay/sdk — the package entry. It is a few hundred bytes: the wasm module is fetched and
// compiled only when the first `Patchbay.init()` runs, and only once however often it runs.
import initWasm, { Patchbay } from "./patchbay_sdk.js";

export * from "./patchbay_sdk.js";
export { PatchbayError } from "./error.js";

let loading;
const createInstance = Patchbay.init;

/** Loads the SDK's wasm (once), then builds a `Patchbay` for these options. */
Patchbay.init = async function init(options) {
  loading ??= initWasm();
  await loading;
  return createInstance.call(Patchbay, options);
};
