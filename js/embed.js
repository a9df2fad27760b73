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
// `patchbay:error` (detail: the error) after showing a short message in the container. All of it
// is done by the SDK's Rust module; this file only hands it the script's own URL.
import { embed } from "./sdk/patchbay.js";

await embed(import.meta.url);
