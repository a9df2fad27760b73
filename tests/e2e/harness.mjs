// Shared pieces of the end-to-end tests: Debian's Chromium driven by playwright-core, and the
// environment `cargo xtask test` started (broker, example apps, oidc-provider, httpbin).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/** URLs and keys of the running environment, from the variables xtask sets. */
export const env = Object.fromEntries(
  ["APP_URL", "COOP_APP_URL", "BROKER_URL", "OIDC_URL", "HTTPBIN_URL", "SECRET_KEY", "ACCESS_TOKEN_TTL", "TARBALL", "OUTPUT_DIR"].map((name) => {
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

/** Signs in at oidc-provider's development login and consent pages, in `page`. */
export async function signInAtProvider(page, login) {
  await page.waitForURL(/\/interaction\//);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "any-password");
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/interaction\/|\/oauth\/callback|\/admin\//);
  if (/\/interaction\//.test(page.url())) {
    await page.click('button[type="submit"]'); // consent
  }
}

const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Runs axe-core on the open dialog (evaluated, not injected, so the page's CSP stays on). */
export async function assertAccessible(page, label) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`);
  });
  assert.deepEqual(violations, [], `${label}: serious or critical accessibility violations`);
}
