// A connect survives a reload: the pending OAuth attempt is kept in the tab's session storage
// (ids only), and `Patchbay.init` on the reloaded page finishes it, in popup and in redirect mode;
// a stale record is dropped without an error.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { env, launch, pbCall, signInAtProvider, watchErrors } from "./harness.mjs";

const PENDING_KEY = "patchbay:pending-connect";
let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function openApp(user, path = "/") {
  const page = await browser.newPage();
  page.errors = watchErrors(page);
  await page.goto(`${env.APP_URL}${path}${path.includes("?") ? "&" : "?"}user=${user}`);
  await page.getByText(`Ready (${user})`).waitFor({ timeout: 20000 });
  return page;
}

const pending = (page) => page.evaluate((key) => sessionStorage.getItem(key), PENDING_KEY);
const accounts = async (page) => (await pbCall(page, 'pb.getConnectedAccounts("acme-id")')).ok;

test("popup mode: the host page reloads while the user signs in, and the reloaded page reports the account", async () => {
  const page = await openApp("resume-popup");
  const popupOpened = page.waitForEvent("popup");
  await page.locator('li[data-app-id="acme-id"]').getByRole("button").first().click();
  const popup = await popupOpened;
  await popup.waitForURL(/\/interaction\//);
  const stored = JSON.parse(await pending(page));
  assert.equal(stored.appId, "acme-id");
  assert.match(stored.attemptId, /^att_/);
  assert.deepEqual(Object.keys(stored).sort(), ["appId", "attemptId", "startedAt"], "ids and a time only");

  await page.reload();
  await page.getByText("Ready (resume-popup)").waitFor({ timeout: 20000 });
  await signInAtProvider(popup, "resumed-alice");
  await page.getByText("Connected acme-id (finished after a reload)").waitFor({ timeout: 30000 });
  const listed = await accounts(page);
  assert.equal(listed.length, 1);
  assert.equal(await pending(page), null, "the record is gone once the connect ended");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("redirect mode: a page that lost the attempt's parameter still finishes the connect", async () => {
  const page = await openApp("resume-redirect");
  // A host in redirect mode, returning to this app.
  const started = page.waitForURL(/\/interaction\//);
  await page.evaluate(async (returnTo) => {
    const { Patchbay } = await import(`${document.querySelector('meta[name="patchbay-broker"]').content}/sdk/patchbay.js`);
    const response = await fetch("/api/patchbay-session", { method: "POST", body: JSON.stringify({ userId: "resume-redirect" }) });
    const { token } = await response.json();
    const brokerUrl = document.querySelector('meta[name="patchbay-broker"]').content;
    const pb = await Patchbay.init({ brokerUrl, sessionToken: token, oauthMode: "redirect", returnTo });
    pb.connectApp("acme-id").catch(() => {});
  }, `${env.APP_URL}/?user=resume-redirect`);
  await started;
  await signInAtProvider(page, "resumed-bob");
  // The broker sends the user back with ?patchbay_attempt=…; this host never calls
  // completeRedirect(), and the user opens the app again without the parameter.
  await page.waitForURL(/patchbay_attempt=/);
  assert.notEqual(await pending(page), null, "the landing page leaves the attempt to completeRedirect()");
  // (The provider's own pages may fail to load outside resources here: only this app's count.)
  page.errors.length = 0;
  await page.goto(`${env.APP_URL}/?user=resume-redirect`);
  await page.getByText("Connected acme-id (finished after a reload)").waitFor({ timeout: 30000 });
  assert.equal((await accounts(page)).length, 1);
  assert.equal(await pending(page), null);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("a stale or unknown pending attempt is cleared without an error", async () => {
  const page = await openApp("resume-stale");
  for (const record of [
    { attemptId: "att_unknown_to_the_broker", appId: "acme-id", startedAt: Date.now() },
    { attemptId: "att_from_last_week", appId: "acme-id", startedAt: Date.now() - 7 * 24 * 3600 * 1000 },
    "not json",
  ]) {
    await page.evaluate(([key, value]) => sessionStorage.setItem(key, value), [PENDING_KEY, typeof record === "string" ? record : JSON.stringify(record)]);
    const asked = page.waitForRequest(/\/v1\/apps$/);
    await page.reload();
    await asked;
    await page.getByText("Ready (resume-stale)").waitFor({ timeout: 20000 });
    await page.waitForFunction((key) => sessionStorage.getItem(key) === null, PENDING_KEY, { timeout: 10000 });
  }
  assert.equal(await page.locator("#notice").textContent(), "");
  assert.deepEqual((await accounts(page)).length, 0);
  // The broker refused the unknown attempt (a 404 the SDK expected); nothing else went wrong.
  assert.deepEqual(page.errors.filter((e) => !/404/.test(e)), []);
  await page.close();
});
