// Shared pieces of the end-to-end tests: Debian's Chromium driven by playwright-core, and the
// environment `cargo xtask test` started (broker, example apps, oidc-provider, httpbin).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { signInAtProvider } from "./provider.mjs";

export { signInAtProvider };

/** URLs and keys of the running environment, from the variables xtask sets. */
export const env = Object.fromEntries(
  ["APP_URL", "COOP_APP_URL", "BROKER_URL", "OIDC_URL", "SECRET_KEY", "ACCESS_TOKEN_TTL", "TARBALL", "OUTPUT_DIR"].map((name) => {
    const value = process.env[`E2E_${name}`];
    if (!value) throw new Error(`E2E_${name} is not set: run the end-to-end tests with \`cargo xtask test\``);
    return [name, value];
  }),
);

/**
 * Launches Chromium the way this machine needs it (no sandbox as root, no background networking).
 * `popupBlocker` keeps Chromium's popup blocker on (Playwright turns it off by default).
 */
export async function launch({ popupBlocker = false } = {}) {
  const userDataDir = await mkdtemp(join(tmpdir(), "patchbay-e2e-"));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
    ignoreDefaultArgs: popupBlocker ? ["--disable-popup-blocking"] : [],
    viewport: { width: 1200, height: 900 },
  });
}

/** Saves a screenshot under the test-output folder (not committed). */
export async function screenshot(page, name) {
  const dir = join(env.OUTPUT_DIR, "screenshots");
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Runs axe-core on the open dialog (evaluated, not injected, so the page's CSP stays on). */
export async function assertAccessible(page, label) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" > ")).join(", ")})`);
  });
  assert.deepEqual(violations, [], `${label}: serious or critical accessibility violations`);
}

/** Collects the page's uncaught errors and console errors (CSP violations among them). */
export function watchErrors(page) {
  const errors = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  return errors;
}

/** Mints a session for `userId` on `origin`, as a host's backend does with the secret key. */
export async function mintSession(userId, origin) {
  const response = await fetch(`${env.BROKER_URL}/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.SECRET_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ userId, ttlSeconds: 600, allowedOrigins: [origin] }),
  });
  if (!response.ok) throw new Error(`minting a session: HTTP ${response.status}`);
  return (await response.json()).token;
}

/**
 * Runs `source` in the page with `pb` bound to `window[global]` (a Patchbay instance); settles with
 * `{ok}` or the error's fields (`isPatchbayError` when the page exposes the class as `window.sdk`).
 */
export const pbCall = (page, source, global = "patchbay") =>
  page.evaluate(
    async ([source, global]) => {
      try {
        return { ok: await new Function("pb", `return (${source})`)(window[global]) };
      } catch (err) {
        const isPatchbayError = window.sdk ? err instanceof window.sdk.PatchbayError : undefined;
        return { code: err.code, message: err.message, details: err.details, isError: err instanceof Error, isPatchbayError };
      }
    },
    [source, global],
  );

/**
 * Runs `start` (which opens the OAuth popup), signs in as `login` there, and returns what `start`
 * resolved with and a promise of the popup's close (the callback page closes it).
 */
export async function connectInPopup(page, login, start) {
  const popupOpened = page.waitForEvent("popup");
  const result = start();
  const popup = await popupOpened;
  const closed = new Promise((resolve) => popup.once("close", resolve));
  await signInAtProvider(popup, login);
  return { result: await result, closed };
}
