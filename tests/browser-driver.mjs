// The browser driver of the SDK's browser tests (started by `cargo xtask test --only browser`).
//
// A wasm test runs inside the page: it cannot make a real user gesture (so window.open would be
// blocked: tests/webdriver.json turns Chromium's popup blocker on), press real keys, or script a
// cross-origin popup. This small HTTP service does those through the Chrome DevTools Protocol of
// the very browser ChromeDriver started (its --remote-debugging-port), with playwright-core:
//
//   POST /click   {"selector"}            a real click in the test page (CSS, piercing open shadow roots)
//   POST /press   {"key"}                 a real key press in the test page ("Tab", "Shift+Tab", "Escape", "Enter", " ")
//   POST /type    {"text"}                real typing into the focused element
//   POST /sign-in {"provider", "login"}   in the popup at `provider`: sign in and consent (oidc-provider's
//                                         devInteractions forms), until the popup leaves the provider;
//                                         then clears cookies (no provider session outlives a test)
//   POST /open    {"url"}                 opens a new page at `url` (as a user would, in a tab)
//   GET  /pages                           URLs of every open page
//   POST /close-popups                    closes every page but the test page
//   GET  /health
//
// Env: PORT, CDP_PORT, PAGE_ORIGIN. Bodies are JSON sent as text/plain (no CORS preflight).
import http from "node:http";
import { createRequire } from "node:module";

import { signInAtProvider } from "./e2e/provider.mjs";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const { PORT, CDP_PORT, PAGE_ORIGIN } = process.env;
let browser;

async function connect() {
  if (!browser || !browser.isConnected()) browser = await chromium.connectOverCDP(`http://127.0.0.1:${CDP_PORT}`);
  return browser;
}

async function pages() {
  const b = await connect();
  return b.contexts().flatMap((context) => context.pages());
}

async function until(what, find, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await find();
    if (found) return found;
    if (Date.now() > deadline) {
      const open = await pages().then((all) => all.map((p) => p.url()).join(", "), String);
      throw new Error(`timed out waiting for ${what} (open pages: ${open})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const testPage = () =>
  until("the test page", async () => (await pages()).find((p) => p.url().startsWith(PAGE_ORIGIN)));

const atProvider = async (provider) => (await pages()).find((p) => !p.isClosed() && p.url().startsWith(provider));

async function signIn({ provider, login }) {
  await signInAtProvider(await until(`a page at ${provider}`, () => atProvider(provider)), login);
  await until("the popup to leave the provider", async () => !(await atProvider(provider)));
  // End the provider session (its cookie is host-wide: every 127.0.0.1 port shares it), so the
  // next sign-in, whichever test makes it, meets the login form again.
  for (const context of (await connect()).contexts()) await context.clearCookies();
  return { done: true };
}

const routes = {
  "GET /health": async () => ({ ok: true }),
  "GET /pages": async () => ({ pages: (await pages()).map((p) => p.url()) }),
  "POST /click": async ({ selector }) => {
    await (await testPage()).click(selector, { timeout: 10000 });
    return { ok: true };
  },
  "POST /press": async ({ key }) => {
    await (await testPage()).keyboard.press(key);
    return { ok: true };
  },
  "POST /type": async ({ text }) => {
    await (await testPage()).keyboard.type(text);
    return { ok: true };
  },
  "POST /sign-in": signIn,
  "POST /open": async ({ url }) => {
    const context = (await connect()).contexts()[0];
    const page = await context.newPage();
    await page.goto(url);
    return { ok: true };
  },
  "POST /close-popups": async () => {
    const test = await testPage();
    for (const page of await pages()) if (page !== test && !page.isClosed()) await page.close().catch(() => {});
    return { ok: true };
  },
};

http
  .createServer(async (req, res) => {
    const headers = { "access-control-allow-origin": "*", "content-type": "application/json" };
    let body = "";
    for await (const chunk of req) body += chunk;
    const route = routes[`${req.method} ${req.url}`];
    try {
      if (!route) throw new Error(`no route ${req.method} ${req.url}`);
      const answer = await route(body ? JSON.parse(body) : {});
      res.writeHead(200, headers).end(JSON.stringify(answer));
    } catch (error) {
      res.writeHead(500, headers).end(JSON.stringify({ error: String(error && error.stack || error) }));
    }
  })
  .listen(Number(PORT), "127.0.0.1", () => console.log(`browser driver listening on ${PORT}`));
