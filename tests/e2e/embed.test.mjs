// The one-tag marketplace embed on a host page (served here, under a strict CSP) whose backend
// mints the session with the workspace secret key: the marketplace renders from the broker's
// /embed.js, an app connects through it, and a failing session URL degrades to a short message.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { after, before, test } from "node:test";
import { env, launch, mintSession, screenshot, watchErrors } from "./harness.mjs";

const broker = env.BROKER_URL;
let browser;
let host; // the host app's origin
let server;
const sessionCalls = [];

/** The host's page: the documented tag, plus the host's own listener for the embed's events. */
function page(sessionUrl, lang, nonce) {
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Host app</title></head><body><h1>Host app</h1>
<div id="integrations"></div>
<script type="module" src="${broker}/embed.js" data-container="#integrations" data-session-url="${sessionUrl}"></script>
<script nonce="${nonce}">
  // Module scripts run after parsing, so this listener is in place before the embed starts.
  window.embedEvents = [];
  document.currentScript.previousElementSibling.addEventListener("patchbay:ready", (e) => {
    window.embedEvents.push("patchbay:ready");
    window.pb = e.detail;
  });
  document.currentScript.previousElementSibling.addEventListener("patchbay:error", (e) => {
    window.embedEvents.push("patchbay:error");
    window.embedError = String(e.detail && e.detail.message);
  });
</script></body></html>`;
}

before(async () => {
  browser = await launch();
  server = http.createServer(async (req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    if (url.pathname === "/api/session") sessionCalls.push(req.method);
    if (req.method === "POST" && url.pathname === "/api/session") {
      // The host's backend: the secret key stays here; the page gets only the session token.
      const token = await mintSession("embed-user", host);
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      return res.end(JSON.stringify({ token }));
    }
    if (req.method === "POST" && url.pathname === "/api/broken-session") {
      res.writeHead(500, { "content-type": "text/plain" });
      return res.end("session backend down");
    }
    if (req.method !== "GET" || url.pathname !== "/") return res.writeHead(404).end();
    const nonce = randomBytes(16).toString("base64");
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": [
        "default-src 'self'",
        `script-src 'nonce-${nonce}' ${broker} 'wasm-unsafe-eval'`,
        `connect-src 'self' ${broker}`,
        "style-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
      ].join("; "),
    });
    res.end(page(url.searchParams.get("session") ?? "/api/session", url.searchParams.get("lang") ?? "en", nonce));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `http://127.0.0.1:${server.address().port}`;
});
after(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

/** Opens the host page and records its console errors, requests and broker responses. */
async function openHost(path) {
  const tab = await browser.newPage();
  const seen = { errors: watchErrors(tab), requests: [], brokerFiles: [], bodies: [] };
  tab.on("request", (req) => seen.requests.push(req));
  tab.on("response", (res) => {
    if (res.url().startsWith(host)) seen.bodies.push(res.text().catch(() => ""));
    const path = res.url().slice(broker.length);
    if (res.url().startsWith(broker) && (path === "/embed.js" || path.startsWith("/sdk/"))) seen.brokerFiles.push(res);
  });
  await tab.goto(`${host}${path}`);
  await tab.waitForFunction(() => window.embedEvents.length > 0, null, { timeout: 20000 });
  return { tab, seen };
}

test("one tag renders the marketplace, connects an app and never exposes the secret key", async () => {
  sessionCalls.length = 0;
  const { tab, seen } = await openHost("/");
  assert.deepEqual(await tab.evaluate(() => window.embedEvents), ["patchbay:ready"]);
  assert.deepEqual(sessionCalls, ["POST"], "the embed asked the host's session URL once, with POST");
  assert.equal(await tab.locator("#integrations > [data-patchbay]").evaluate((el) => el.shadowRoot?.mode), "open");

  const tile = tab.locator('li[data-app-id="httpbin-key"]');
  await tile.getByRole("button", { name: "Connect" }).click();
  const dialog = tab.getByRole("dialog");
  await dialog.getByLabel("API key").fill("sk_test_embed_0777");
  await dialog.getByRole("button", { name: /connect/i }).click();
  await dialog.waitFor({ state: "detached" });
  await tile.getByRole("button", { name: "Manage" }).waitFor();
  await screenshot(tab, "embed-connected");
  // The `patchbay:ready` detail is the live instance: the host can use it too.
  const accounts = await tab.evaluate(() => window.pb.getConnectedAccounts("httpbin-key"));
  assert.equal(accounts.length, 1);
  assert.match(accounts[0].displayName, /0777/);
  assert.deepEqual(seen.errors, [], "no console errors (CSP violations included)");

  // The secret key appears nowhere the page can see: not in its HTML, requests or host responses.
  const visible = [
    await tab.content(),
    ...(await Promise.all(seen.requests.map(async (r) => [r.url(), JSON.stringify(await r.allHeaders()), r.postData() ?? ""].join("\n")))),
    ...(await Promise.all(seen.bodies)),
  ].join("\n");
  assert.ok(!visible.includes(env.SECRET_KEY) && !/pb_sk_/.test(visible), "the secret key reached the page");

  // The served files as the page got them: content-hashed names cached for a year, entry points
  // revalidated, the wasm as application/wasm.
  const files = await Promise.all(seen.brokerFiles.map(async (res) => ({ path: res.url().slice(broker.length), status: res.status(), headers: await res.allHeaders() })));
  const paths = files.map((f) => f.path);
  for (const expected of [/^\/embed\.js$/, /^\/sdk\/patchbay\.js$/, /^\/sdk\/patchbay_sdk\.[0-9a-f]{16}\.js$/, /^\/sdk\/patchbay_sdk_bg\.[0-9a-f]{16}\.wasm$/]) {
    assert.ok(paths.some((p) => expected.test(p)), `${expected} was loaded: ${paths}`);
  }
  for (const { path, status, headers } of files) {
    const hashed = /\.[0-9a-f]{16}\.(js|wasm)$/.test(path);
    assert.equal(status, 200, path);
    assert.equal(headers["cache-control"], hashed ? "public, max-age=31536000, immutable" : "public, max-age=0, must-revalidate", path);
    if (path.endsWith(".wasm")) assert.equal(headers["content-type"], "application/wasm");
  }
  await tab.close();
});

test("a failing session URL shows a short message and fires patchbay:error", async () => {
  const { tab } = await openHost("/?session=/api/broken-session");
  assert.deepEqual(await tab.evaluate(() => window.embedEvents), ["patchbay:error"]);
  assert.match(await tab.evaluate(() => window.embedError), /HTTP 500/);
  assert.equal(await tab.locator("#integrations").textContent(), "Integrations are unavailable right now.");
  await screenshot(tab, "embed-unavailable");
  await tab.close();
});

test("the marketplace speaks the host page's language, or English when the SDK does not", async () => {
  for (const [lang, connect] of [["fr-CA", "Connecter"], ["de", "Connect"]]) {
    const { tab } = await openHost(`/?lang=${lang}`);
    assert.deepEqual(await tab.evaluate(() => window.embedEvents), ["patchbay:ready"], lang);
    await tab.locator('li[data-app-id="httpbin-basic"]').getByRole("button", { name: connect, exact: true }).waitFor();
    await tab.close();
  }
});
