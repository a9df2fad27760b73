// A webhook receiver for the broker's tests: every delivery is verified with the official Standard
// Webhooks library (npm `standardwebhooks`), never with the broker's own code.
//
// Env: PORT, SECRETS (comma-separated whsec_… secrets: a delivery must verify with each of them,
// which is how a rotation's overlap is tested), FAIL_FIRST (answer 500 to that many deliveries),
// HOLD_FIRST (never answer that many deliveries: the sender is caught mid-delivery).
// GET /__log returns every delivery seen: {id, type, accountId, verified, answered}.
import http from "node:http";
import { Webhook } from "standardwebhooks";

const port = Number(process.env.PORT);
const secrets = (process.env.SECRETS || "").split(",").filter(Boolean);
let failFirst = Number(process.env.FAIL_FIRST || 0);
let holdFirst = Number(process.env.HOLD_FIRST || 0);
const log = [];

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/__log") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(log));
    return;
  }
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    let verified = secrets.length > 0;
    let event = null;
    for (const secret of secrets) {
      try {
        event = new Webhook(secret).verify(body, req.headers);
      } catch (err) {
        verified = false;
      }
    }
    const held = verified && holdFirst > 0;
    const answered = held ? null : !verified ? 400 : failFirst > 0 ? 500 : 204;
    if (held) holdFirst -= 1;
    else if (verified && failFirst > 0) failFirst -= 1;
    log.push({
      id: req.headers["webhook-id"],
      type: event && event.type,
      accountId: event && event.data && event.data.accountId,
      verified,
      answered,
    });
    // A held request stays open until the sender gives up or dies.
    if (held) return;
    res.statusCode = answered;
    res.end();
  });
});
server.listen(port, "127.0.0.1", () => console.log(`webhook receiver listening on ${port}`));
