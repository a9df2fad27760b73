// @patchbay/sdk — the package entry. It is a few hundred bytes: the wasm module is fetched and
// compiled only when the first `Patchbay.init()` runs, and only once however often it runs.
// No eval, no inline code: it works under `script-src 'self' 'wasm-unsafe-eval'`.
// Replacing `Patchbay.init` below is a side effect: package.json's `sideEffects` names this file,
// or bundlers skip it and hand out the glue's bare class (no wasm loaded).
import initWasm, { Patchbay, embedMarketplace } from "./patchbay_sdk.js";
import { PatchbayError, internal } from "./error.js";

export * from "./patchbay_sdk.js";
export { PatchbayError };

let loading;
const createInstance = Patchbay.init;

async function load() {
  try {
    await (loading ??= initWasm());
  } catch (error) {
    // A failed download is retried by the next init.
    loading = undefined;
    throw new PatchbayError("NETWORK", "the Patchbay SDK's wasm module could not be loaded: " + error, {});
  }
}

/** Loads the SDK's wasm (once), then builds a `Patchbay` for these options. */
Patchbay.init = async function init(options) {
  await load();
  return settled(() => createInstance.call(Patchbay, options));
};

/** The one-tag embed (`embed.js`): loads the wasm, then renders the marketplace its script asks for. */
export async function embed(scriptUrl) {
  await load();
  return embedMarketplace(scriptUrl);
}

// A trap while a method checks its arguments still settles its promise, as INTERNAL.
const settled = (call) => {
  try {
    return call();
  } catch (error) {
    return Promise.reject(internal(error));
  }
};
for (const name of ["connectApp", "showApp", "disconnectApp", "getConnectedAccounts", "showFunctionUI", "invokeFunction", "renderMarketplace", "completeRedirect"]) {
  const method = Patchbay.prototype[name];
  Patchbay.prototype[name] = function (...args) {
    return settled(() => method.apply(this, args));
  };
}
