// The journeys a user of the example app takes, in a real Chromium, against the real broker,
// oidc-provider and httpbin: credential connects, a blocked popup, a popup closed by the user, and a
// host page that severs the popup with Cross-Origin-Opener-Policy under a strict CSP, and an inline
// marketplace that follows connects made elsewhere on the page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertAccessible, connectInPopup, env, launch, pbCall, screenshot, watchErrors } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function openApp(url, user) {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  await page.goto(user ? `${url}/?user=${user}` : url);
  await page.getByText(`Ready (${user ?? "demo-user"})`).waitFor({ timeout: 20000 });
  page.cspErrors = errors;
  return page;
}

/** The marketplace tile's button (named "Connect" or "Manage", described by the app's title). */
const tile = (page, appId) => page.locator(`li[data-app-id="${appId}"]`).getByRole("button").first();

test("credential journey: Basic with a wrong then right password, and an API key", async () => {
  const page = await openApp(env.APP_URL, "cred-user");
  await tile(page, "httpbin-basic").click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await dialog.getByLabel("Username").fill("demo");
  await dialog.getByLabel("Password").fill("wrong-password");
  await assertAccessible(page, "credential form");
  await dialog.getByRole("button", { name: /connect/i }).click();
  await dialog.getByText(/rejected|refus|Unauthorized|401/i).first().waitFor();
  assert.equal(await dialog.isVisible(), true, "a rejected password keeps the form open");
  await screenshot(page, "credential-form-rejected");
  await dialog.getByLabel("Password").fill("demo-password");
  await dialog.getByRole("button", { name: /connect/i }).click();
  await dialog.waitFor({ state: "detached" });
  await page.getByLabel("App", { exact: true }).selectOption("httpbin-basic");
  await page.getByText(/demo · active/).waitFor();

  await tile(page, "httpbin-key").click();
  await page.getByRole("dialog").getByLabel("API key").fill("sk_test_e2e_0123456789");
  await page.getByRole("dialog").getByRole("button", { name: /connect/i }).click();
  await page.getByRole("dialog").waitFor({ state: "detached" });
  const accounts = await pbCall(page, 'pb.getConnectedAccounts("httpbin-key")');
  assert.equal(accounts.ok.length, 1);
  assert.match(accounts.ok[0].displayName, /6789/);
  assert.deepEqual(page.cspErrors.filter((e) => /Content Security Policy/i.test(e)), [], "no CSP violations");
  await page.close();
});

test("the inline marketplace follows connects and disconnects made elsewhere on the page", async () => {
  const page = await openApp(env.APP_URL, "follower");
  const keyTile = page.locator('li[data-app-id="httpbin-key"]');
  await keyTile.getByText("Not connected").waitFor();
  const connecting = pbCall(page, 'pb.connectApp("httpbin-key")'); // the host's own button, not a tile
  await page.getByRole("dialog").getByLabel("API key").fill("sk_test_follow_1111");
  await page.getByRole("dialog").getByRole("button", { name: /connect/i }).click();
  assert.match((await connecting).ok, /^ca_/);
  await keyTile.getByRole("button", { name: "Manage" }).waitFor();
  await page.getByLabel("App", { exact: true }).selectOption("httpbin-key");
  await page.locator("#accounts").getByRole("button", { name: /^Disconnect/ }).click(); // the host's list
  await keyTile.getByRole("button", { name: "Connect" }).waitFor();
  await keyTile.getByText("Not connected").waitFor();

  // Once the host removes the marketplace (an unmounted view), it stops following.
  await page.locator("#marketplace").evaluate((el) => el.remove());
  const gridLoads = [];
  page.on("request", (req) => new URL(req.url()).pathname === "/v1/apps" && gridLoads.push(req.url()));
  const again = pbCall(page, 'pb.connectApp("httpbin-key")');
  await page.getByRole("dialog").getByLabel("API key").fill("sk_test_follow_2222");
  await page.getByRole("dialog").getByRole("button", { name: /connect/i }).click();
  assert.match((await again).ok, /^ca_/);
  // The grid would have asked in the same task that settled the connect, so it would be listed.
  assert.deepEqual(gridLoads, [], "a removed marketplace no longer reloads");
  await page.close();
});

test("a popup opened outside a user gesture is blocked and rejects POPUP_BLOCKED", async () => {
  const blocking = await launch({ popupBlocker: true });
  try {
    const page = await blocking.newPage();
    await page.goto(env.APP_URL);
    await page.getByText("Ready (demo-user)").waitFor({ timeout: 20000 });
    // More than 5 s after the last gesture, the popup blocker applies.
    const code = await page.evaluate(
      () => new Promise((resolve) => setTimeout(() => window.patchbay.connectApp("acme-id").then(() => resolve("resolved"), (e) => resolve(e.code)), 6000)),
    );
    assert.equal(code, "POPUP_BLOCKED");
  } finally {
    await blocking.close();
  }
});

test("closing the popup leaves a waiting overlay whose Cancel rejects USER_CANCELLED", async () => {
  const page = await openApp(env.APP_URL, "closer");
  const popupOpened = page.waitForEvent("popup");
  const result = pbCall(page, 'pb.connectApp("acme-id")');
  const popup = await popupOpened;
  await popup.waitForURL(/\/interaction\//);
  await popup.close();
  const overlay = page.getByRole("dialog");
  await overlay.getByText(/Acme ID/).first().waitFor();
  await screenshot(page, "waiting-overlay");
  await overlay.getByRole("button", { name: /cancel/i }).click();
  assert.equal((await result).code, "USER_CANCELLED");
  await page.close();
});

test("a host page with COOP same-origin and a strict CSP still completes the OAuth connect", async () => {
  const page = await openApp(env.COOP_APP_URL, "coop-user");
  const { result } = await connectInPopup(page, "carol", () => pbCall(page, 'pb.connectApp("acme-id")'));
  assert.ok(typeof result.ok === "string" && result.ok.startsWith("ca_"), JSON.stringify(result));
  const accounts = await pbCall(page, 'pb.getConnectedAccounts("acme-id")');
  assert.equal(accounts.ok[0].displayName, "carol@example.test");
  assert.deepEqual(page.cspErrors.filter((e) => /Content Security Policy/i.test(e)), [], "no CSP violations");
  await page.close();
});
