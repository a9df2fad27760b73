// The one-tag marketplace embed:
//
//   <div id="integrations"></div>
//   <script type="module" src="https://<broker>/embed.js" data-container="#integrations"
//           data-session-url="/api/patchbay-session"></script>
//
// data-session-url   a URL on the host's own backend that answers POST with {"token": "…"}
//                    (a session minted with the workspace secret key, which never reaches the page)
// data-session-callback  or: the name of a global async function returning the token
// data-mode          "inline" (default) or "modal"
// data-lang          en, es, fr, ja, pt-BR (default: the page's language if one of these, else en)
//
// It dispatches `patchbay:ready` (detail: the Patchbay instance) on the script element, or
// `patchbay:error` (detail: the error) after showing a short message in the container.
import { Patchbay } from "./sdk/patchbay.js";

const script = [...document.querySelectorAll("script[src]")].find((s) => s.src === import.meta.url);
const config = script?.dataset ?? {};
const container = config.container || "#patchbay";

async function sessionToken() {
  if (config.sessionCallback) return globalThis[config.sessionCallback]();
  if (!config.sessionUrl) throw new Error("Patchbay embed: set data-session-url or data-session-callback");
  const response = await fetch(config.sessionUrl, { method: "POST", credentials: "same-origin" });
  if (!response.ok) throw new Error(`Patchbay embed: the session URL answered HTTP ${response.status}`);
  return (await response.json()).token;
}

// The page's language, or English when the SDK does not speak it: only an explicit data-lang
// that the SDK refuses is an error.
async function init(sessionToken) {
  const options = { brokerUrl: new URL(import.meta.url).origin, sessionToken };
  if (config.lang) return Patchbay.init({ ...options, lang: config.lang });
  try {
    return await Patchbay.init({ ...options, lang: document.documentElement.lang || undefined });
  } catch (err) {
    if (err.code !== "INVALID_OPTIONS" || !err.details?.fields?.some((f) => f.field === "lang")) throw err;
    return Patchbay.init(options);
  }
}

try {
  const pb = await init(await sessionToken());
  await pb.renderMarketplace({ container, mode: config.mode || "inline" });
  script?.dispatchEvent(new CustomEvent("patchbay:ready", { detail: pb }));
} catch (err) {
  const element = document.querySelector(container);
  if (element) element.textContent = "Integrations are unavailable right now.";
  script?.dispatchEvent(new CustomEvent("patchbay:error", { detail: err }));
}
