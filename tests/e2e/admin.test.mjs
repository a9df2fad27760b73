// The admin console, driven like an admin would: sign in, enter the workspace's own OAuth client,
// Test (the real authorization flow at oidc-provider, back to a step log), then Enable.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { env, launch, screenshot, signInAtProvider } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function signIn(page) {
  await page.goto(`${env.BROKER_URL}/admin`);
  const secret = page.getByLabel("Workspace secret key");
  if (await secret.isVisible()) {
    await secret.fill(env.SECRET_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await page.getByRole("heading", { name: "Apps" }).waitFor();
}

test("enter a client, test it with a wrong secret, fix it, test again and enable", async () => {
  const page = await browser.newPage();
  await signIn(page);
  const cookies = await browser.cookies(`${env.BROKER_URL}/admin`);
  const session = cookies.find((c) => c.name === "pb_admin");
  assert.ok(session, "the console sets its session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Lax");

  await page.getByRole("link", { name: "OAuth client" }).first().click();
  await page.getByRole("heading", { name: /OAuth client/ }).waitFor();
  assert.match(await page.getByLabel("Redirect URL to register at the provider").inputValue(), /\/oauth\/callback$/);

  await page.getByLabel("Client ID").fill("workspace-own");
  await page.getByLabel("Client secret").fill("not-the-secret");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved. Run a test").waitFor();
  assert.equal(await page.getByRole("button", { name: "Enable" }).isDisabled(), true, "enable needs a passing test");

  await page.getByRole("button", { name: "Test" }).click();
  await signInAtProvider(page, "admin");
  await page.getByRole("heading", { name: "Test result" }).waitFor();
  assert.match(await page.locator("#verdict").innerText(), /Test failed/);
  const exchange = page.locator('li[data-step="code_exchange"]');
  assert.match(await exchange.innerText(), /HTTP 401/);
  assert.match(await exchange.innerText(), /invalid_client/);
  assert.match(await exchange.innerText(), /did not accept the client id or client secret/);
  assert.doesNotMatch(await page.content(), /not-the-secret/, "the secret is never shown");
  await screenshot(page, "admin-test-failed");

  await page.getByRole("link", { name: "← Back" }).click();
  await page.getByLabel("Client secret").fill("own-secret");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("button", { name: "Test" }).click();
  await signInAtProvider(page, "admin");
  await page.getByRole("heading", { name: "Test result" }).waitFor();
  assert.match(await page.locator("#verdict").innerText(), /Test passed/);
  assert.equal(await page.locator('li[data-step] .ok').count(), 4, "authorize, redirect, code exchange, token check");
  await screenshot(page, "admin-test-passed");

  await page.getByRole("button", { name: "Enable" }).click();
  await page.getByText("Enabled: new connections now use your client.").first().waitFor();
  await screenshot(page, "admin-enabled");
  await page.close();
});

test("a form posted from another site is refused", async () => {
  const page = await browser.newPage();
  await signIn(page);
  // A page on another origin (the example app) posts to the console with the admin's cookie.
  await page.goto(env.APP_URL);
  const status = await page.evaluate(async (broker) => {
    const body = new URLSearchParams({ csrf: "guessed", visible: "1", policy: "multiple" });
    const response = await fetch(`${broker}/admin/apps/httpbin-basic/settings`, {
      method: "POST",
      body,
      credentials: "include",
      mode: "no-cors",
    });
    return response.type;
  }, env.BROKER_URL);
  assert.equal(status, "opaque");
  const app = await (
    await fetch(`${env.BROKER_URL}/v1/admin/apps/httpbin-basic`, { headers: { authorization: `Bearer ${env.SECRET_KEY}` } })
  ).json();
  assert.equal(app.accountsPolicy, "one", "the cross-site form changed nothing");
  await page.close();
});
