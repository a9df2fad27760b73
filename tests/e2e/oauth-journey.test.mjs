// The OAuth journey a user of the example app takes, start to end, in a real Chromium against the
// real broker and the real oidc-provider ("Acme ID", policy "multiple", 10-second access tokens):
// connect from the marketplace, invoke, invoke again after the token expired (one refresh at the
// provider), a second account, the account choice, the function form by keyboard, disconnect.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertAccessible, connectInPopup, env, launch, screenshot, watchErrors } from "./harness.mjs";

let browser;
let page;
before(async () => {
  browser = await launch();
  page = await browser.newPage();
  page.errors = watchErrors(page);
  await page.goto(`${env.APP_URL}/?user=journey-user`);
  await page.getByText("Ready (journey-user)").waitFor({ timeout: 20000 });
});
after(async () => {
  await browser?.close();
});

/** What oidc-provider counted: successful refresh grants and notes created through its API. */
async function providerStats() {
  const stats = await (await fetch(`${env.OIDC_URL}/__stats`)).json();
  return { refreshes: stats.grants.refresh_token ?? 0, notes: stats.notes };
}

/** Signs in as `login` in the popup that `click` opens, until the popup closes. */
async function connectThroughPopup(click, login) {
  await (await connectInPopup(page, login, click)).closed;
}

const accountsList = () => page.locator("#accounts");
const result = () => page.locator("#result");
const acmeTile = () => page.locator('li[data-app-id="acme-id"]').getByRole("button").first();

async function invoke(functionId) {
  await page.locator("#function").selectOption(functionId);
  await result().evaluate((el) => (el.textContent = ""));
  await page.getByRole("button", { name: "Invoke" }).click();
  await result().filter({ hasText: /\S/ }).waitFor();
  return result().textContent();
}

async function chooseAccount(displayName) {
  await page.locator("#account-choice").getByRole("button", { name: displayName }).click();
  await page.locator("#account-choice").getByText(`Using ${displayName}`).waitFor();
}

test("connect, refresh after expiry, a second account, the account choice, the form, disconnect", async () => {
  // Connect from the marketplace: popup, sign-in and consent at the provider, account listed.
  await connectThroughPopup(() => acmeTile().click(), "alice");
  await page.locator("#accounts-app").selectOption("acme-id");
  await accountsList().getByText("alice@example.test · active").waitFor();
  const [alice] = await page.evaluate(() => window.patchbay.getConnectedAccounts("acme-id"));
  // The token was issued just before the account was saved (`updatedAt`, perhaps truncated to the
  // second): it is live until about `updatedAt + ttl - 1 s` and surely expired from `+ ttl + 1 s`.
  const issuedBy = Date.parse(alice.updatedAt);
  const ttl = Number(env.ACCESS_TOKEN_TTL) * 1000;

  // Invoke with the fresh token: no refresh.
  const before = await providerStats();
  assert.match(await invoke("acme-id-whoami"), /"email": "alice@example\.test"/);
  assert.ok(Date.now() < issuedBy + ttl - 1000, "the first invoke ran while the token was live (else raise the e2e token lifetime)");
  assert.equal((await providerStats()).refreshes, before.refreshes, "a live token is used as is");

  // Past the token's expiry, the same call refreshes once at the provider and succeeds.
  const expiredAt = issuedBy + ttl + 1000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiredAt - Date.now())));
  assert.match(await invoke("acme-id-whoami"), /"email": "alice@example\.test"/);
  assert.equal((await providerStats()).refreshes, before.refreshes + 1, "exactly one refresh");

  // A second account under policy "multiple", from the app page (showApp).
  await acmeTile().click();
  const appPage = page.getByRole("dialog");
  await appPage.getByText("alice@example.test").waitFor();
  await assertAccessible(page, "showApp");
  await screenshot(page, "show-app");
  await connectThroughPopup(() => appPage.getByRole("button", { name: "Connect another account" }).click(), "bob");
  await accountsList().getByText("bob@example.test · active").waitFor();
  await appPage.getByText("bob@example.test").waitFor();
  await page.keyboard.press("Escape");
  await appPage.waitFor({ state: "detached" });

  // Two accounts: invoking without an id is refused with the candidates, and the host asks which.
  const refused = await page.evaluate(() => window.patchbay.invokeFunction("acme-id-whoami", {}).catch((e) => ({ code: e.code, details: e.details })));
  assert.equal(refused.code, "CONNECTED_ACCOUNT_REQUIRED");
  assert.deepEqual(refused.details.candidates.map((c) => c.displayName).sort(), ["alice@example.test", "bob@example.test"]);
  assert.match(await invoke("acme-id-whoami"), /^CONNECTED_ACCOUNT_REQUIRED/);
  await chooseAccount("bob@example.test");
  await page.getByRole("button", { name: "Invoke" }).click();
  await result().getByText(/"email": "bob@example\.test"/).waitFor();

  // The function form, for bob, filled and submitted with the keyboard only.
  await page.locator("#function").selectOption("acme-id-create-note");
  await page.getByRole("button", { name: "Fill in the form…" }).click();
  await chooseAccount("bob@example.test");
  await page.getByRole("button", { name: "Fill in the form…" }).focus();
  await page.keyboard.press("Enter");
  const form = page.getByRole("dialog");
  await form.getByText("Account: bob@example.test").waitFor();
  const title = form.getByLabel("Title");
  assert.equal(await title.evaluate((el) => el.getRootNode().activeElement === el), true, "the first field has focus");
  await page.keyboard.type("Quarterly plan");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Draft the Q3 roadmap");
  await page.keyboard.press("Tab");
  await page.keyboard.type("high"); // type-ahead in the focused select
  assert.equal(await form.getByLabel("Priority").evaluate((el) => el.selectedOptions[0].text), "high");
  await assertAccessible(page, "showFunctionUI");
  await screenshot(page, "function-form");
  await page.keyboard.press("Tab"); // Cancel
  await page.keyboard.press("Tab");
  const submit = form.getByRole("button", { name: "Submit" });
  assert.equal(await submit.evaluate((el) => el.getRootNode().activeElement === el), true, "Tab reaches Submit");
  await page.keyboard.press("Enter");
  await form.waitFor({ state: "detached" });
  const args = JSON.parse(await page.locator("#args").textContent());
  assert.deepEqual(args, { title: "Quarterly plan", text: "Draft the Q3 roadmap", priority: "high" });
  const notesBefore = (await providerStats()).notes;
  await page.getByRole("button", { name: "Invoke" }).click();
  await result().getByText(/"owner": "bob"/).waitFor();
  assert.match(await result().textContent(), /"title": "Quarterly plan"/);
  assert.equal((await providerStats()).notes, notesBefore + 1);

  // Disconnect bob from the app page, after confirming; the host's list follows the event.
  await acmeTile().click();
  const bobRow = page.getByRole("dialog").getByRole("listitem").filter({ hasText: "bob@example.test" });
  await bobRow.getByRole("button", { name: "Disconnect" }).click();
  await bobRow.getByText("Disconnect bob@example.test?").waitFor();
  await bobRow.getByRole("button", { name: "Disconnect" }).click();
  await accountsList().getByText("bob@example.test").waitFor({ state: "detached" });
  await page.keyboard.press("Escape");
  const remaining = await page.evaluate(() => window.patchbay.getConnectedAccounts("acme-id"));
  assert.deepEqual(remaining.map((a) => a.displayName), ["alice@example.test"]);
  // One account again: no id needed.
  const whoami = await page.evaluate(() => window.patchbay.invokeFunction("acme-id-whoami", {}));
  assert.equal(whoami.output.email, "alice@example.test");
  // The broker's refusals (409 CONNECTED_ACCOUNT_REQUIRED) are logged as failed resources.
  assert.deepEqual(page.errors.filter((e) => !/^Failed to load resource/.test(e)), []);
});
