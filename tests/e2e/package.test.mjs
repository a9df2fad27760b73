// The npm package as its users get it: the packed tarball (E2E_TARBALL) is checked against its own
// manifest, installed into a fresh Vite project and bundled, and unpacked for a plain
// `<script type="module">` page with an import map. Each page then uses the SDK for real in
// Chromium against the broker and httpbin.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { env, launch, mintSession, pbCall, screenshot, watchErrors } from "./harness.mjs";

const exec = promisify(execFile);
// Vite comes from tests/node_modules (installed by `cargo xtask setup`): the test needs no network.
const viteBin = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin/vite.js");
const cargoToml = await readFile(new URL("../../Cargo.toml", import.meta.url), "utf8");
const version = cargoToml.split("[workspace.package]")[1].match(/^version\s*=\s*"([^"]+)"/m)[1];

// What a host page does with the package; the test then drives `window.sdk` with a session it
// minted for the page's origin, as the host's backend would.
const PAGE_SCRIPT = `import { Patchbay, PatchbayError, sdkVersion } from "@patchbay/sdk";
window.sdk = { Patchbay, PatchbayError, sdkVersion };
`;

const dirs = [];
const servers = [];
let browser;
let unpacked; // the tarball, extracted: <unpacked>/package/…

before(async () => {
  browser = await launch();
  unpacked = await tempDir("unpacked");
  await exec("tar", ["-xzf", env.TARBALL, "-C", unpacked]);
});
after(async () => {
  await browser?.close();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(name) {
  const dir = await mkdtemp(join(tmpdir(), `patchbay-package-${name}-`));
  dirs.push(dir);
  return dir;
}

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".wasm": "application/wasm" };

/** A static file server for `root` on a free loopback port; resolves with its origin. */
async function serve(root) {
  const server = http.createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(root, path.endsWith("/") ? `${path}index.html` : path);
    try {
      if (!file.startsWith(root)) throw new Error("outside the root");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  servers.push(server);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

/** `pbCall` on the instance this test keeps as `window.pb`. */
const call = (page, source) => pbCall(page, source, "pb");

/**
 * Opens `origin`'s page and uses the package as a host would: init (the wasm loads then, once),
 * list accounts, connect an API-key app through the credential form, invoke a function, and
 * get a `PatchbayError` for an unknown function. Returns the wasm URLs the page fetched.
 */
async function useThePackage(origin, userId, shot) {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  const wasm = [];
  const wasmRequests = [];
  // Requests, not responses: DevTools reports a request before the evaluation that follows it, so
  // a fetch made while the module was imported is already listed when `window.sdk` is seen.
  page.on("request", (req) => req.url().endsWith(".wasm") && wasmRequests.push(req.url()));
  page.on("response", (res) => res.url().endsWith(".wasm") && wasm.push(`${res.status()} ${res.url()}`));
  await page.goto(origin);
  await page.waitForFunction(() => window.sdk);
  assert.deepEqual(wasmRequests, [], "the wasm is not fetched until the first init");
  assert.equal(await page.evaluate(() => typeof window.sdk.PatchbayError), "function");

  const sessionToken = await mintSession(userId, origin);
  const loaded = await page.evaluate(async (options) => {
    window.pb = await window.sdk.Patchbay.init(options);
    await window.sdk.Patchbay.init(options); // a second init reuses the loaded module
    return window.sdk.sdkVersion();
  }, { brokerUrl: env.BROKER_URL, sessionToken, lang: "en" });
  assert.equal(loaded, version, "the wasm inside is the version the package says");
  assert.equal(wasmRequests.length, 1, `one wasm download for two inits: ${wasmRequests}`);
  assert.match(wasm[0], /^200 /);

  assert.deepEqual(await call(page, 'pb.getConnectedAccounts("httpbin-key")'), { ok: [] });
  const connecting = call(page, 'pb.connectApp("httpbin-key")');
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("API key").fill("sk_test_package_4242");
  await screenshot(page, `${shot}-credential-form`);
  await dialog.getByRole("button", { name: /connect/i }).click();
  const connected = await connecting;
  assert.match(connected.ok ?? JSON.stringify(connected), /^ca_/);
  await dialog.waitFor({ state: "detached" });

  const accounts = await call(page, 'pb.getConnectedAccounts("httpbin-key")');
  assert.deepEqual(accounts.ok.map((a) => [a.id, a.status]), [[connected.ok, "active"]]);
  const invoked = await call(page, 'pb.invokeFunction("httpbin-key-list-items", { limit: 2 })');
  assert.equal(invoked.ok?.status, 200, JSON.stringify(invoked));
  assert.equal(invoked.ok.output.limit, "2", "httpbin echoed the query the function built");
  assert.deepEqual(errors, [], "no errors in the page's console");
  // Checked after the console: the broker answers an unknown function with a 404, which Chromium
  // logs as a failed resource.
  const unknown = await call(page, 'pb.invokeFunction("httpbin-key-no-such-function", {})');
  assert.deepEqual([unknown.code, unknown.isPatchbayError], ["FUNCTION_NOT_FOUND", true]);
  await page.close();
  return wasm;
}

test("the tarball holds every file its manifest points to, at the workspace's version", async () => {
  const listed = (await exec("tar", ["-tzf", env.TARBALL])).stdout.trim().split("\n").map((p) => p.replace(/^package\//, ""));
  const manifest = JSON.parse(await readFile(join(unpacked, "package/package.json"), "utf8"));
  assert.equal(manifest.name, "@patchbay/sdk");
  assert.equal(manifest.version, version);
  assert.equal(manifest.type, "module");
  assert.deepEqual(manifest.exports["."], { types: "./patchbay.d.ts", import: "./patchbay.js", default: "./patchbay.js" });
  const targets = [manifest.main, manifest.module, manifest.types, ...Object.values(manifest.exports).flatMap((t) => (typeof t === "string" ? [t] : Object.values(t)))];
  for (const target of targets) {
    assert.ok(listed.includes(target.replace(/^\.\//, "")), `${target} (named in the manifest) is in the tarball`);
  }
  for (const entry of manifest.files) {
    assert.ok(listed.some((p) => p === entry || (entry.endsWith("/") && p.startsWith(entry))), `files entry ${entry} is in the tarball`);
  }
});

test("a fresh Vite project installs the tarball, bundles it and uses it", async () => {
  const project = await tempDir("vite");
  const manifest = { name: "fresh-vite-app", private: true, type: "module", dependencies: { "@patchbay/sdk": `file:${env.TARBALL}` } };
  await writeFile(join(project, "package.json"), JSON.stringify(manifest, null, 2));
  await writeFile(
    join(project, "index.html"),
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Fresh Vite app</title>' +
      '<script type="module" src="/main.js"></script></head><body><h1>Fresh Vite app</h1></body></html>',
  );
  await writeFile(join(project, "main.js"), PAGE_SCRIPT);
  // --offline: a local tarball with no dependencies installs without the registry.
  await exec("npm", ["install", "--offline", "--no-audit", "--no-fund"], { cwd: project });
  await exec(process.execPath, [viteBin, "build", "--logLevel", "warn"], { cwd: project });

  // The wasm is an emitted asset, and the bundle still points at it: a bundler that dropped the
  // entry's loader (as `sideEffects: false` once made it do) would leave the asset unreferenced.
  const assets = await readdir(join(project, "dist/assets"));
  const wasmAsset = assets.find((name) => /^patchbay_sdk_bg-.*\.wasm$/.test(name));
  assert.ok(wasmAsset, `the wasm is emitted: ${assets}`);
  const bundle = (await Promise.all(assets.filter((n) => n.endsWith(".js")).map((n) => readFile(join(project, "dist/assets", n), "utf8")))).join("\n");
  assert.ok(bundle.includes(wasmAsset), "the bundle references the emitted wasm");

  const origin = await serve(join(project, "dist"));
  const wasm = await useThePackage(origin, "package-vite-user", "package-vite");
  assert.equal(wasm[0], `200 ${origin}/assets/${wasmAsset}`);
});

test("a plain module page imports the unpacked package through an import map and uses it", async () => {
  const root = unpacked;
  // No bundler: the import map gives the bare specifier the entry from `exports`.
  await writeFile(
    join(root, "index.html"),
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Plain page</title>' +
      '<script type="importmap">{"imports":{"@patchbay/sdk":"./package/patchbay.js"}}</script>' +
      `<script type="module">${PAGE_SCRIPT}</script></head><body><h1>Plain page</h1></body></html>`,
  );
  const origin = await serve(root);
  const wasm = await useThePackage(origin, "package-plain-user", "package-plain");
  assert.equal(wasm[0], `200 ${origin}/package/patchbay_sdk_bg.wasm`);
});
