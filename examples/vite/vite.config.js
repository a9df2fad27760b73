import { defineConfig } from "vite";

// The example's "backend": a dev-server route that mints a Patchbay session with the workspace
// secret key (never sent to the browser). In production this lives in your own server.
const broker = process.env.PATCHBAY_BROKER_URL ?? "http://127.0.0.1:8080";
const secretKey = process.env.PATCHBAY_SECRET_KEY;

function patchbaySessions() {
  return {
    name: "patchbay-sessions",
    configureServer(server) {
      server.middlewares.use("/api/patchbay-session", async (req, res) => {
        const origin = `http://${req.headers.host}`;
        const response = await fetch(`${broker}/v1/sessions`, {
          method: "POST",
          headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json" },
          body: JSON.stringify({ userId: "vite-user", allowedOrigins: [origin] }),
        });
        res.statusCode = response.status;
        res.setHeader("content-type", "application/json");
        res.end(await response.text());
      });
    },
  };
}

export default defineConfig({
  plugins: [patchbaySessions()],
  define: { __PATCHBAY_BROKER_URL__: JSON.stringify(broker) },
  // Served as is, so the wasm file stays next to the module that loads it.
  optimizeDeps: { exclude: ["@patchbay/sdk"] },
});
