// The example SaaS app's backend (Node 20, no dependencies). It serves the page and mints a
// Patchbay session token for its signed-in user with the workspace SECRET key, which never reaches
// the browser. This is the only server code a host app needs.
//
//   PORT                  port to listen on (default 3000)
//   PATCHBAY_BROKER_URL   the broker, e.g. http://127.0.0.1:8080
//   PATCHBAY_SECRET_KEY   the workspace secret key (pb_sk_…)
//   COOP                  "1" sends Cross-Origin-Opener-Policy: same-origin (as many apps do)
import http from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const port = Number(process.env.PORT || 3000);
const broker = process.env.PATCHBAY_BROKER_URL;
const secretKey = process.env.PATCHBAY_SECRET_KEY;
if (!broker || !secretKey) {
  console.error("example app: PATCHBAY_BROKER_URL and PATCHBAY_SECRET_KEY are required");
  process.exit(2);
}
const root = fileURLToPath(new URL(".", import.meta.url));
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };
const files = new Set(["/index.html", "/app.js", "/style.css"]);

// A strict policy: the SDK needs no inline script or style, only its own origin for code and API.
const csp = [
  "default-src 'self'",
  `script-src 'self' 'wasm-unsafe-eval' ${broker}`,
  "style-src 'self'",
  `connect-src 'self' ${broker}`,
  "img-src 'self' data:",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Mints a session for `userId`, allowed on this page's origin only. */
async function mintSession(userId, origin) {
  const response = await fetch(`${broker}/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json" },
    body: JSON.stringify({ userId, ttlSeconds: 1800, allowedOrigins: [origin] }),
  });
  return { status: response.status, body: await response.text() };
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const origin = `http://${req.headers.host}`;
  try {
    if (req.method === "POST" && url.pathname === "/api/patchbay-session") {
      // A real app takes the user from its own sign-in; the demo lets the page pick a name.
      let body = "";
      for await (const chunk of req) body += chunk;
      const userId = String(JSON.parse(body || "{}").userId || "demo-user").slice(0, 64);
      const minted = await mintSession(userId, origin);
      res.writeHead(minted.status, { "content-type": "application/json", "cache-control": "no-store" });
      return res.end(minted.body);
    }
    const path = url.pathname === "/" ? "/index.html" : url.pathname;
    if (req.method !== "GET" || !files.has(path)) {
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end("not found");
    }
    let content = await readFile(join(root, path), "utf8");
    if (path === "/index.html") content = content.replaceAll("%PATCHBAY_BROKER_URL%", broker);
    const headers = { "content-type": types[extname(path)], "content-security-policy": csp, "cache-control": "no-store" };
    if (process.env.COOP === "1") headers["cross-origin-opener-policy"] = "same-origin";
    res.writeHead(200, headers);
    res.end(content);
  } catch (err) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(`example app error: ${err.message}`);
  }
});

server.listen(port, "127.0.0.1", () => console.log(`example app listening on http://127.0.0.1:${port}`));
