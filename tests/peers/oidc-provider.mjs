// The OAuth 2.0 / OpenID Connect peer for tests and the demo: the real `oidc-provider` package,
// configured from the environment, on 127.0.0.1.
//
//   PORT                 port to listen on (required)
//   REDIRECT_URIS        comma-separated redirect URIs registered for every client (required)
//   ACCESS_TOKEN_TTL     access token lifetime in seconds (default 5)
//   COOP                 "1" adds Cross-Origin-Opener-Policy: same-origin to every response, as
//                        many real providers do (it severs the popup from its opener)
//
// Clients (id / secret / auth method): patchbay-basic / basic-secret / client_secret_basic,
// patchbay-post / post-secret / client_secret_post, workspace-own / own-secret /
// client_secret_basic. Grants: authorization_code + refresh_token; refresh tokens always issued and
// rotated on every use; clock tolerance 0 so expiry is exact.
//
// POST /api/notes is a small protected API of the same provider (what a third-party app's API is
// to Patchbay): it accepts only a live access token issued here (expired or revoked ones get 401,
// as at any resource server) and answers 201 with the note and the token's owner.
//
// POST /shaped/{shape}/token is the token endpoint answering the way some real providers do (for
// catalog token-shape tests): `no-refresh` drops the refresh token; `no-expiry` drops the refresh
// token and the lifetime (GitHub OAuth apps); `nested` answers like Slack (a useless top-level bot
// token, the user's real token under `authed_user`, `ok` and `team`); `instance` adds
// `instance_url` (the issuer), the API host a Salesforce token answer names.
//
// GET /__stats returns counters of token-endpoint traffic (per grant type and client id) so tests
// can prove how many refreshes reached the provider; POST /__stats/reset clears them.
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const redirectUris = (process.env.REDIRECT_URIS || "").split(",").filter(Boolean);
if (!port || redirectUris.length === 0) {
  console.error("oidc-provider peer: PORT and REDIRECT_URIS are required");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const client = (client_id, client_secret, token_endpoint_auth_method) => ({
  client_id,
  client_secret,
  token_endpoint_auth_method,
  redirect_uris: redirectUris,
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
});

const provider = new Provider(issuer, {
  clients: [
    client("patchbay-basic", "basic-secret", "client_secret_basic"),
    client("patchbay-post", "post-secret", "client_secret_post"),
    client("workspace-own", "own-secret", "client_secret_basic"),
  ],
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  pkce: { required: () => true },
  scopes: ["openid", "offline_access", "email", "profile"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, email_verified: true, name: id }),
  }),
  ttl: {
    AccessToken: Number(process.env.ACCESS_TOKEN_TTL || 5),
    AuthorizationCode: 120,
    RefreshToken: 24 * 3600,
    Grant: 24 * 3600,
    Interaction: 600,
    Session: 24 * 3600,
    IdToken: 3600,
  },
  issueRefreshToken: async () => true,
  expiresWithSession: async () => false,
  rotateRefreshToken: true,
  clockTolerance: 0,
  cookies: { keys: ["patchbay-test-cookie-key"] },
});
provider.proxy = false;

const freshStats = () => ({ tokenRequests: 0, notes: 0, grants: {}, errors: {}, clients: {} });
const stats = freshStats();
const bump = (table, key) => (table[key] = (table[key] || 0) + 1);
provider.on("grant.success", (ctx) => {
  const grant = ctx.oidc.params.grant_type;
  bump(stats.grants, grant);
  bump(stats.clients, `${grant}:${ctx.oidc.client.clientId}`);
});
provider.on("grant.error", (_ctx, err) => bump(stats.errors, err.error || "unknown"));

provider.use(async (ctx, next) => {
  if (ctx.path === "/__stats") {
    ctx.body = stats;
    return;
  }
  if (ctx.path === "/__stats/reset" && ctx.method === "POST") {
    Object.assign(stats, freshStats());
    ctx.status = 204;
    return;
  }
  if (ctx.path === "/api/notes" && ctx.method === "POST") {
    await createNote(ctx);
    return;
  }
  const shaped = /^\/shaped\/([a-z-]+)\/token$/.exec(ctx.path);
  if (shaped && ctx.method === "POST") ctx.path = "/token";
  if (ctx.path === "/token" && ctx.method === "POST") stats.tokenRequests += 1;
  await next();
  if (shaped && ctx.status === 200 && ctx.body && typeof ctx.body === "object") {
    ctx.body = reshape(shaped[1], { ...ctx.body });
  }
  if (process.env.COOP === "1") ctx.set("Cross-Origin-Opener-Policy", "same-origin");
});

function reshape(shape, answer) {
  switch (shape) {
    case "no-refresh":
      delete answer.refresh_token;
      return answer;
    case "no-expiry":
      delete answer.refresh_token;
      delete answer.expires_in;
      return answer;
    case "nested": {
      const { access_token, token_type, scope, expires_in, refresh_token } = answer;
      return {
        ok: true,
        access_token: "xoxb-not-a-token-of-this-provider",
        token_type: "bot",
        team: { id: "T-TEST" },
        authed_user: { id: "U-TEST", access_token, token_type: "user", scope, expires_in, refresh_token },
      };
    }
    case "instance":
      return { ...answer, instance_url: issuer };
    default:
      return answer;
  }
}

async function createNote(ctx) {
  const [scheme, value] = (ctx.get("authorization") || "").split(" ");
  const token = scheme === "Bearer" ? await provider.AccessToken.find(value) : undefined;
  if (!token) {
    ctx.status = 401;
    ctx.set("WWW-Authenticate", 'Bearer error="invalid_token"');
    ctx.body = { error: "invalid_token" };
    return;
  }
  let raw = "";
  for await (const chunk of ctx.req) raw += chunk;
  let note;
  try {
    note = JSON.parse(raw);
  } catch {
    note = undefined;
  }
  if (!note || typeof note.title !== "string" || note.title === "") {
    ctx.status = 400;
    ctx.body = { error: "a note needs a title" };
    return;
  }
  stats.notes += 1;
  ctx.status = 201;
  ctx.body = { ...note, id: `note_${stats.notes}`, owner: token.accountId };
}

provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${issuer}`));
