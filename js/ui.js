// The executor of the Patchbay SDK's flows (imported by the wasm module; wasm-bindgen copies this
// file into the package's `snippets/`). Every decision is made in Rust (`src/flow`): a flow
// returns steps — show this markup, send this request, open the popup, settle the promise — and
// this file carries them out and reports back what happened (clicks, answers, messages, ticks).
// It never interprets data.
//
// Strict CSP (`script-src 'self' 'wasm-unsafe-eval'; style-src 'self'`): styles come from one
// constructable stylesheet adopted by every shadow root; markup has no inline style or script;
// nothing here evaluates code.

import { PatchbayError } from "./error.js";

const CSS = `:host{all:initial;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
:host(.pb-modal){position:fixed;inset:0;z-index:2147483000;display:flex;align-items:center;justify-content:center}
:host(.pb-inline){display:block}
*{box-sizing:border-box}
[hidden]{display:none!important}
.backdrop{position:absolute;inset:0;background:rgba(15,23,42,.45)}
.dialog{position:relative;background:#fff;border-radius:12px;box-shadow:0 12px 40px rgba(0,0,0,.25);width:min(92vw,30rem);max-height:90vh;overflow:auto;padding:1.25rem 1.5rem}
.dialog.wide{width:min(94vw,40rem)}
h2{font-size:1.15rem;margin:0 0 .75rem}
h3{font-size:1rem;margin:1rem 0 .5rem}
p{margin:.25rem 0 .75rem}
.muted,.help{color:#59636e}
.field{margin:0 0 .9rem}
label,legend{display:block;font-weight:600;margin:0 0 .3rem}
.req{color:#b42318;margin-left:.2rem}
input,select,textarea{font:inherit;width:100%;padding:.5rem .6rem;border:1px solid #b7bfc7;border-radius:6px;background:#fff;color:inherit}
input[type=checkbox]{width:auto;margin-right:.5rem}
.check{display:flex;align-items:center}
textarea{min-height:5rem;font-family:ui-monospace,monospace}
:focus-visible{outline:2px solid #0b57d0;outline-offset:1px}
[aria-invalid=true]{border-color:#b42318}
.help,.error{font-size:.9em;margin:.25rem 0 0}
.error{color:#b42318}
.form-error{color:#b42318;background:#fef3f2;border-radius:6px;padding:.5rem .75rem}
fieldset{border:1px solid #d0d7de;border-radius:8px;padding:.75rem;margin:0 0 .9rem}
.item{display:flex;gap:.5rem;align-items:flex-start}
.item>:first-child{flex:1}
.actions{display:flex;gap:.5rem;justify-content:flex-end;margin-top:1rem;flex-wrap:wrap;align-items:center}
button{font:inherit;padding:.45rem .9rem;border-radius:6px;border:1px solid #b7bfc7;background:#f6f8fa;color:inherit;cursor:pointer}
button.primary{background:#0b57d0;border-color:#0b57d0;color:#fff}
button.danger{color:#b42318}
button:disabled{opacity:.6;cursor:default}
ul{list-style:none;margin:0;padding:0}
.account{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between;border-top:1px solid #d0d7de;padding:.6rem 0}
.account .actions{margin:0}
.name{font-weight:600}
.badge{display:inline-block;font-size:.8em;border-radius:999px;padding:.05rem .5rem;background:#dafbe1;color:#116329;margin-left:.4rem}
.badge.warn{background:#fff8c5;color:#7d4e00}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.75rem}
.tile{border:1px solid #d0d7de;border-radius:10px;padding:.9rem;display:flex;flex-direction:column;gap:.4rem;background:#fff}
.tile h3{margin:0}
.tile button{align-self:flex-start;margin-top:auto}
.status{min-height:1.2em}`;


const FOCUSABLE =
  'button:not([disabled]),input:not([disabled]),select:not([disabled]),textarea:not([disabled]),a[href],[tabindex]:not([tabindex="-1"])';

let sheet;

function deepFocus() {
  let active = document.activeElement;
  while (active && active.shadowRoot && active.shadowRoot.activeElement) active = active.shadowRoot.activeElement;
  return active;
}

const visible = (root) => [...root.querySelectorAll(FOCUSABLE)].filter((e) => e.offsetParent !== null);

// A shadow-root surface. Modal: fixed over the page, focus kept inside (Tab / Shift+Tab wrap),
// Esc reports "cancel", focus restored on close. Inline: inside `container`, replacing an earlier
// Patchbay surface there. `onAction(name, id)` runs inside the DOM event, so a popup it opens has
// the click's user gesture.
function surface(kind, modal, container, onAction) {
  const host = document.createElement("div");
  host.className = modal ? "pb-modal" : "pb-inline";
  host.dataset.patchbay = kind;
  const root = host.attachShadow({ mode: "open" });
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  root.adoptedStyleSheets = [sheet];
  root.addEventListener("click", (event) => {
    const target = event.target.closest && event.target.closest("[data-action]");
    if (target) onAction(target.dataset.action, target.dataset.id);
  });
  root.addEventListener("submit", (event) => {
    event.preventDefault();
    onAction("submit");
  });
  const s = { host, root, modal, restore: modal ? deepFocus() : null };
  if (modal) {
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        onAction("cancel");
      } else if (event.key === "Tab") {
        const items = visible(root);
        const active = root.activeElement;
        const first = items[0];
        const last = items[items.length - 1];
        const target = !items.includes(active)
          ? event.shiftKey ? last : first
          : event.shiftKey && active === first ? last : !event.shiftKey && active === last ? first : null;
        if (target || !items.length) event.preventDefault();
        if (target) target.focus();
      }
    });
    document.body.append(host);
  } else {
    container.append(host);
  }
  return s;
}

function focusIn(s, id) {
  let target = id ? s.root.getElementById(id) : null;
  if (target && target.tagName === "FIELDSET") target = target.querySelector(FOCUSABLE);
  target = target || s.root.querySelector("[data-autofocus]") || (s.modal ? visible(s.root)[0] : null);
  if (target) target.focus();
}

// `<time datetime>` elements show the date in the surface's language (Intl).
function localiseDates(s) {
  for (const time of s.root.querySelectorAll("time[datetime]")) {
    const date = new Date(time.dateTime);
    const lang = time.closest("[lang]");
    if (!isNaN(date)) time.textContent = date.toLocaleDateString(lang ? lang.lang : undefined);
  }
}

function setText(s, id, text) {
  const e = s.root.getElementById(id);
  if (e) {
    e.textContent = text ?? "";
    e.hidden = text == null;
  }
}

// The form's controls by element id: booleans for checkboxes; for number inputs a number, null
// when empty or "bad" when not a number; strings otherwise.
function read(s) {
  const values = {};
  if (s)
    for (const e of s.root.querySelectorAll("[name]"))
      values[e.id] =
        e.type === "checkbox" ? e.checked
        : e.type === "number" ? (e.validity.badInput ? "bad" : e.value.trim() === "" ? null : e.valueAsNumber)
        : e.value;
  return values;
}

function problems(s, list, summary) {
  for (const e of s.root.querySelectorAll(".error")) {
    e.textContent = "";
    e.hidden = true;
  }
  for (const e of s.root.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
  for (const [id, message] of list) {
    setText(s, "e" + id, message);
    const control = s.root.getElementById(id);
    if (control && control.tagName !== "FIELDSET") control.setAttribute("aria-invalid", "true");
  }
  setText(s, "pb-summary", summary);
  focusIn(s, list.length ? list[0][0] : "pb-submit");
}

function busy(s, on, label) {
  const submit = s.root.getElementById("pb-submit");
  if (submit) {
    submit.textContent = label;
    submit.disabled = on;
  }
  const form = s.root.querySelector("form");
  if (form && on) form.setAttribute("aria-busy", "true");
  if (form && !on) form.removeAttribute("aria-busy");
}

// A fetch to the broker: `[status, parsed JSON body (undefined when not JSON, null when empty)]`,
// or `[0, message]` when the broker cannot be reached. Never rejects.
async function request(url, method, token, body, controller) {
  const headers = { authorization: "Bearer " + token };
  if (body != null) headers["content-type"] = "application/json";
  try {
    const response = await fetch(url, {
      method,
      headers,
      body: body == null ? undefined : JSON.stringify(body),
      signal: controller.signal,
      mode: "cors",
      credentials: "omit",
    });
    const text = await response.text();
    let json;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    return [response.status, json];
  } catch (error) {
    return [0, String(error && error.message)];
  }
}

function isClosed(popup) {
  try {
    return !popup || popup.closed;
  } catch {
    return true;
  }
}

// The message of the last panic (debug builds record it just before the wasm traps).
let panic = "";
export const panicked = (message) => void (panic = message);
function internal(error) {
  if (error instanceof PatchbayError) return error;
  const why = error instanceof WebAssembly.RuntimeError && panic ? panic : error;
  panic = "";
  return new PatchbayError("INTERNAL", "internal error in the Patchbay SDK: " + why, {});
}

// Connects and disconnects made by any flow on the page (detail: the run that made them).
const accountChanges = new EventTarget();

// Runs a flow (a wasm `FlowHandle`) until it settles its promise (a rendered marketplace keeps
// running after). `container`: where an inline surface goes.
// `parent`: the run that started this one as a nested flow.
export function run(flow, container, parent = null) {
  return new Promise((resolve, reject) => {
    const s = { flow, container, parent, surface: null, popup: null, controllers: [], timer: 0, unlisten: null, unfollow: null, done: false, resolve, reject };
    exec(s, () => flow.on(0));
  });
}

// Calls into the flow; it answers `[steps as JSON text, ...values]` where a step refers to a
// value (a nested flow, an error, a result) by its index.
function exec(s, call) {
  if (s.done) return;
  let steps, values;
  try {
    values = call();
    steps = JSON.parse(values[0]);
  } catch (error) {
    return finish(s, false, internal(error));
  }
  for (const step of steps) {
    if (s.done) return;
    apply(s, step, values);
  }
}

function apply(s, step, values) {
  const [kind, a, b, c, d, e, f] = step;
  switch (kind) {
    case "show":
      if (!s.surface) {
        if (!d) {
          // A marketplace rendered again into the same container replaces the earlier one.
          if (s.container.__patchbayStop) s.container.__patchbayStop();
          s.container.__patchbayStop = () => {
            s.surface.host.remove();
            finish(s, true);
          };
        }
        s.surface = surface(c, d, s.container, (name, id) => exec(s, () => s.flow.on(1, name, id, read(s.surface))));
      }
      s.surface.root.innerHTML = a;
      localiseDates(s.surface);
      focusIn(s.surface, b);
      break;
    case "problems":
      problems(s.surface, a, b);
      break;
    case "busy":
      busy(s.surface, a, b);
      break;
    case "text":
      setText(s.surface, a, b);
      break;
    case "send": {
      const controller = new AbortController();
      s.controllers.push(controller);
      request(c, b, d, e, controller).then(([status, json]) => exec(s, () => s.flow.on(2, a, status, json, f)));
      break;
    }
    case "popup": {
      // Synchronous from the click that led here: the browser allows the window.
      const popup = window.open(a, "patchbay-oauth", "popup,width=520,height=720");
      if (popup) s.popup = popup;
      else exec(s, () => s.flow.on(5));
      break;
    }
    case "navigate":
      try {
        s.popup.location.href = a;
      } catch {}
      break;
    case "watch": {
      const onMessage = (event) => exec(s, () => s.flow.on(3, event.origin, event.data));
      window.addEventListener("message", onMessage);
      s.unlisten = () => window.removeEventListener("message", onMessage);
      s.timer = setInterval(() => exec(s, () => s.flow.on(4, isClosed(s.popup))), 1000);
      break;
    }
    case "child":
      run(values[b], s.container, s).then(
        (value) => exec(s, () => s.flow.on(6, a, true, value)),
        (error) => exec(s, () => s.flow.on(6, a, false, error)),
      );
      break;
    case "go":
      window.location.assign(a);
      break;
    case "replace":
      history.replaceState(history.state, "", a);
      break;
    case "changed":
      accountChanges.dispatchEvent(new CustomEvent("change", { detail: s }));
      break;
    case "ready": {
      // A running marketplace hears of connects made by other flows, not its own nested ones
      // (it reloads after those anyway).
      const onChange = (event) => {
        // A host that removed the container (an unmounted view) is done with this marketplace.
        if (s.surface && !s.surface.host.isConnected) return finish(s, true);
        for (let origin = event.detail; origin; origin = origin.parent) if (origin === s) return;
        exec(s, () => s.flow.on(1, "accounts-changed"));
      };
      accountChanges.addEventListener("change", onChange);
      s.unfollow = () => accountChanges.removeEventListener("change", onChange);
      s.resolve();
      break;
    }
    case "ok":
    case "fail":
      finish(s, kind === "ok", values[a]);
  }
}

function finish(s, ok, value) {
  s.done = true;
  for (const controller of s.controllers) controller.abort();
  clearInterval(s.timer);
  if (s.unlisten) s.unlisten();
  if (s.unfollow) s.unfollow();
  if (s.popup) {
    try {
      s.popup.close();
    } catch {}
  }
  if (s.surface && s.surface.modal) {
    s.surface.host.remove();
    if (s.surface.restore && s.surface.restore.isConnected) s.surface.restore.focus();
  }
  (ok ? s.resolve : s.reject)(value);
}

// `[pathname, search, hash, origin]` of the page.
export const location = () => [window.location.pathname, window.location.search, window.location.hash, window.location.origin];

// An element given as itself or as a selector; null otherwise.
export const element = (value) =>
  typeof value === "string" ? document.querySelector(value) : value instanceof Element ? value : null;

// Calls a host's event listener; an exception it throws goes to the console, as the DOM does it.
export function call(listener, payload) {
  try {
    listener(payload);
  } catch (error) {
    globalThis.reportError ? reportError(error) : console.error(error);
  }
}

// The few JavaScript value operations the wasm module needs (instead of js-sys, whose bindings
// would cost the bundle more than the SDK's own logic).
export const kind = (v) => (v === null || v === undefined ? 0 : Array.isArray(v) ? 1 : typeof v === "object" ? 2 : typeof v === "function" ? 3 : 4);
export const items = (array) => array;
export const entries = (object) => Object.entries(object).flat();
export const get = (object, key) => (object == null ? undefined : object[key]);
export const parse = (text) => JSON.parse(text);
export function tryParse(text) {
  try {
    return [JSON.parse(text)];
  } catch {
    return [];
  }
}
export const numberText = (n) => String(n);
export const rejected = (error) => Promise.reject(error);
