//! The SDK's browser tests: `wasm-bindgen-test` in headless Chromium against real brokers,
//! run by `cargo xtask test --only browser` (`wasm-pack test --headless --chrome -- --test
//! browser`). xtask starts httpbin, two oidc-providers (the second sends
//! `Cross-Origin-Opener-Policy`), two brokers (the second's OAuth attempts expire after 3 s),
//! mints one session token per test user for this page's fixed origin, and starts the browser
//! driver (tests/browser-driver.mjs), through which tests make real clicks and key presses and
//! sign in inside the real popup. tests/webdriver.json turns Chromium's popup blocker back on.
//!
//! The SDK is used exactly as a host page uses it: through its JavaScript class. Waits poll
//! observable conditions with deadlines; nothing sleeps to synchronise.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function trigger(id, target, method, args) {
  document.getElementById(id)?.remove();
  const button = document.createElement("button");
  button.id = id;
  button.textContent = id;
  button.addEventListener("click", () => {
    button.result = track(target[method](...args));
  });
  document.body.append(button);
}
export const triggered = (id) => document.getElementById(id)?.result;
export function track(promise) {
  const state = { done: false, promise };
  promise.then((value) => Object.assign(state, { done: true, ok: true, value }), (value) => Object.assign(state, { done: true, ok: false, value }));
  return state;
}
export const invoke = (target, method, args) => target[method](...args);
export const host = (kind) => [...document.querySelectorAll("[data-patchbay]")].filter((h) => h.dataset.patchbay === kind).pop() ?? null;
export const find = (host, selector) => host?.shadowRoot?.querySelector(selector) ?? null;
export const inside = (element, selector) => element?.querySelector(selector) ?? null;
export const findAll = (host, selector) => [...(host?.shadowRoot?.querySelectorAll(selector) ?? [])];
export function focused() {
  let active = document.activeElement;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
  return active;
}
export const userActive = () => navigator.userActivation.isActive;
export const later = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export async function driver(base, path, body) {
  const response = await fetch(base + path, { method: body === undefined ? "GET" : "POST", body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw new Error("browser driver " + path + ": " + json.error);
  return json;
}
export async function api(base, token, method, path, body) {
  const response = await fetch(base + path, { method, headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return [response.status, await response.json().catch(() => null)];
}
export const post = (data) => window.postMessage(data, "*");
export const dispatchMessage = (origin, data) => window.dispatchEvent(new MessageEvent("message", { origin, data }));
export function listen(target, event) {
  const seen = [];
  target.on(event, (payload) => seen.push(payload));
  return seen;
}
export function sentinel() {
  const state = { seen: false };
  const listener = (event) => { if (event.data === "patchbay-test-sentinel") { state.seen = true; window.removeEventListener("message", listener); } };
  window.addEventListener("message", listener);
  window.postMessage("patchbay-test-sentinel", "*");
  return state;
}
export const json = (value) => JSON.stringify(value);
"#)]
extern "C" {
    fn trigger(id: &str, target: &JsValue, method: &str, args: Array);
    fn triggered(id: &str) -> JsValue;
    fn track(promise: &JsValue) -> JsValue;
    #[wasm_bindgen(catch)]
    fn invoke(target: &JsValue, method: &str, args: Array) -> Result<JsValue, JsValue>;
    fn host(kind: &str) -> JsValue;
    fn find(host: &JsValue, selector: &str) -> JsValue;
    fn inside(element: &JsValue, selector: &str) -> JsValue;
    #[wasm_bindgen(js_name = findAll)]
    fn find_all(host: &JsValue, selector: &str) -> Array;
    fn focused() -> JsValue;
    #[wasm_bindgen(js_name = userActive)]
    fn user_active() -> bool;
    fn later(ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(catch)]
    async fn driver(base: &str, path: &str, body: JsValue) -> Result<JsValue, JsValue>;
    async fn api(base: &str, token: &str, method: &str, path: &str, body: JsValue) -> JsValue;
    fn post(data: &JsValue);
    #[wasm_bindgen(js_name = dispatchMessage)]
    fn dispatch_message(origin: &str, data: &JsValue);
    fn listen(target: &JsValue, event: &str) -> Array;
    fn sentinel() -> JsValue;
    fn json(value: &JsValue) -> String;
}

/// A value the xtask fixture passed at compile time.
macro_rules! fixture {
    ($name:literal) => {
        option_env!($name)
            .unwrap_or_else(|| panic!("{} is not set: run `cargo xtask test --only browser`", $name))
    };
}

fn broker() -> &'static str {
    fixture!("PATCHBAY_BROWSER_BROKER")
}

thread_local! {
    static NEXT_USER: Cell<usize> = const { Cell::new(0) };
    static NEXT_SHORT_USER: Cell<usize> = const { Cell::new(0) };
}

/// A fresh user's session token (each test acts as its own user).
fn token() -> String {
    let i = NEXT_USER.with(|n| n.replace(n.get() + 1));
    fixture!("PATCHBAY_BROWSER_TOKENS")
        .split(',')
        .nth(i)
        .expect("more users: raise USERS in xtask/src/browser.rs")
        .to_owned()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

fn args(values: &[JsValue]) -> Array {
    values.iter().collect()
}

fn s(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in pairs {
        let _ = Reflect::set(&object, &s(key), value);
    }
    object.into()
}

fn parse(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("test JSON")
}

/// `Patchbay.init` for `token` on `broker_url`.
async fn init_at(broker_url: &str, token: &str) -> Result<JsValue, JsValue> {
    let options = obj(&[("brokerUrl", s(broker_url)), ("sessionToken", s(token))]);
    JsFuture::from(js_sys::Promise::from(patchbay_sdk::web::Patchbay::init(options))).await
}

async fn init(token: &str) -> JsValue {
    init_at(broker(), token).await.unwrap_or_else(|err| panic!("init failed: {}", describe(&err)))
}

/// Calls a method of the SDK instance and awaits its promise.
async fn call(pb: &JsValue, method: &str, values: &[JsValue]) -> Result<JsValue, JsValue> {
    let promise = invoke(pb, method, args(values))?;
    JsFuture::from(js_sys::Promise::from(promise)).await
}

/// A PatchbayError's code.
fn code(err: &JsValue) -> String {
    text(err, "code")
}

fn describe(err: &JsValue) -> String {
    format!("{}: {}", code(err), text(err, "message"))
}

/// Awaits `promise` and expects a rejection with `expected`; returns the error.
async fn rejects(result: Result<JsValue, JsValue>, expected: &str) -> JsValue {
    match result {
        Ok(value) => panic!("expected {expected}, resolved with {}", json(&value)),
        Err(err) => {
            assert_eq!(code(&err), expected, "{}", describe(&err));
            assert!(err.is_instance_of::<js_sys::Error>(), "a PatchbayError is an Error");
            assert_eq!(text(&err, "name"), "PatchbayError");
            err
        }
    }
}

/// Polls `condition` until it holds, failing after `seconds`.
async fn until(what: &str, seconds: u32, condition: impl Fn() -> bool) {
    let deadline = js_sys::Date::now() + f64::from(seconds) * 1000.0;
    while !condition() {
        assert!(js_sys::Date::now() < deadline, "timed out after {seconds} s waiting for {what}");
        let _ = JsFuture::from(later(50)).await;
    }
}

/// Waits for a tracked promise (see `track`) to settle.
async fn settled(state: &JsValue, seconds: u32) -> Result<JsValue, JsValue> {
    until("the promise to settle", seconds, || get(state, "done").is_truthy()).await;
    if get(state, "ok").is_truthy() {
        Ok(get(state, "value"))
    } else {
        Err(get(state, "value"))
    }
}

fn is_pending(state: &JsValue) -> bool {
    !get(state, "done").is_truthy()
}

async fn drive(path: &str, body: JsValue) {
    driver(fixture!("PATCHBAY_BROWSER_DRIVER"), path, body).await.unwrap_or_else(|err| panic!("{err:?}"));
}

async fn click(selector: &str) {
    drive("/click", obj(&[("selector", s(selector))])).await;
}

async fn press(key: &str) {
    drive("/press", obj(&[("key", s(key))])).await;
}

async fn type_text(text: &str) {
    drive("/type", obj(&[("text", s(text))])).await;
}

async fn sign_in(provider: &str, login: &str) {
    drive("/sign-in", obj(&[("provider", s(provider)), ("login", s(login))])).await;
}

async fn close_popups() {
    drive("/close-popups", obj(&[])).await;
}

/// Clicks a fresh page button whose handler calls `pb[method](...values)` (a real user gesture).
async fn click_to(id: &str, pb: &JsValue, method: &str, values: &[JsValue]) -> JsValue {
    trigger(id, pb, method, args(values));
    click(&format!("#{id}")).await;
    triggered(id)
}

/// Waits for the SDK surface `kind` (its `data-patchbay`) to be in the page.
async fn surface(kind: &str) -> JsValue {
    until(&format!("the {kind} surface"), 20, || !host(kind).is_null()).await;
    host(kind)
}

fn attr(element: &JsValue, name: &str) -> Option<String> {
    element.dyn_ref::<web_sys::Element>().and_then(|e| e.get_attribute(name))
}

fn content(element: &JsValue) -> String {
    element.dyn_ref::<web_sys::Node>().and_then(web_sys::Node::text_content).unwrap_or_default()
}

fn focused_id() -> String {
    attr(&focused(), "id").unwrap_or_default()
}

/// Creates an account directly through the broker's HTTP API (test setup, not the SDK).
async fn connect_directly(token: &str, app: &str, fields: &str) -> String {
    let reply = api(
        broker(),
        token,
        "POST",
        &format!("/v1/apps/{app}/connect"),
        parse(&format!(r#"{{"fields":{fields}}}"#)),
    )
    .await;
    let reply = Array::from(&reply);
    assert!(reply.get(0).as_f64().is_some_and(|s| (200.0..300.0).contains(&s)), "{}", json(&reply.get(1)));
    text(&get(&reply.get(1), "account"), "id")
}

/// Lets any transient user activation from an earlier test's click expire.
async fn without_user_activation() {
    until("user activation to expire", 15, || !user_active()).await;
}

/// `connectApp` must open its popup inside the caller's click; outside a user gesture the browser
/// refuses. This also proves that `tests/webdriver.json` took effect.
#[wasm_bindgen_test]
async fn window_open_outside_a_user_gesture_returns_null() {
    without_user_activation().await;
    let window = web_sys::window().expect("a window");
    let popup = window.open_with_url_and_target("about:blank", "_blank").expect("window.open does not throw");
    if let Some(popup) = &popup {
        let _ = popup.close();
    }
    assert!(popup.is_none(), "the popup blocker is off: is WASM_BINDGEN_TEST_WEBDRIVER_JSON applied?");
}

#[wasm_bindgen_test]
async fn init_validates_options_and_the_session() {
    let bad = obj(&[("brokerUrl", s("http://broker.example")), ("brokerURL", s("x")), ("lang", s("de"))]);
    let err = rejects(
        JsFuture::from(js_sys::Promise::from(patchbay_sdk::web::Patchbay::init(bad))).await,
        "INVALID_OPTIONS",
    )
    .await;
    let fields: Vec<String> =
        Array::from(&get(&get(&err, "details"), "fields")).iter().map(|f| text(&f, "field")).collect();
    assert_eq!(fields, ["brokerUrl", "sessionToken", "lang", "brokerURL"]);
    rejects(init_at(broker(), fixture!("PATCHBAY_BROWSER_EXPIRED_TOKEN")).await, "SESSION_EXPIRED").await;
    rejects(init_at(broker(), fixture!("PATCHBAY_BROWSER_FOREIGN_TOKEN")).await, "ORIGIN_NOT_ALLOWED").await;
    rejects(init_at("http://127.0.0.1:9", &token()).await, "NETWORK").await;
    let pb = init(&token()).await;
    let err = invoke(&pb, "on", args(&[s("app-conected"), js_sys::Function::new_no_args("").into()]))
        .expect_err("typo");
    assert_eq!(code(&err), "INVALID_OPTIONS");
    rejects(call(&pb, "connectApp", &[JsValue::from(42)]).await, "INVALID_OPTIONS").await;
}

#[wasm_bindgen_test]
async fn the_credential_form_is_an_accessible_keyboard_operated_dialog() {
    let pb = init(&token()).await;
    let connected = listen(&pb, "app-connected");
    let closed = listen(&pb, "modal-closed");
    let state = click_to("connect-basic", &pb, "connectApp", &[s("bin-basic")]).await;
    let form = surface("credentials").await;

    let dialog = find(&form, "[role=dialog]");
    assert_eq!(attr(&dialog, "aria-modal").as_deref(), Some("true"));
    let title = find(&form, &format!("#{}", attr(&dialog, "aria-labelledby").expect("labelled")));
    assert_eq!(content(&title), "Connect Httpbin Basic");
    for (id, kind) in [("f/username", "text"), ("f/password", "password")] {
        let input = find(&form, &format!(r#"[id="{id}"]"#));
        assert_eq!(attr(&input, "type").as_deref(), Some(kind), "{id}");
        assert_eq!(attr(&input, "aria-required").as_deref(), Some("true"), "{id}");
        assert!(!find(&form, &format!(r#"label[for="{id}"]"#)).is_null(), "{id} has a label");
    }
    assert!(find_all(&form, "[style], style").length() == 0, "no inline styles (strict CSP)");
    assert_eq!(
        form.dyn_ref::<web_sys::Element>()
            .and_then(|h| h.shadow_root())
            .map(|r| r.adopted_style_sheets().length()),
        Some(1)
    );

    // Keyboard: focus starts in the first field, Tab moves and wraps inside the dialog.
    until("focus in the first field", 10, || focused_id() == "f/username").await;
    type_text("demo").await;
    press("Tab").await;
    assert_eq!(focused_id(), "f/password");
    type_text("wrong-password").await;
    press("Tab").await;
    press("Tab").await;
    assert_eq!(focused_id(), "pb-submit");
    press("Tab").await;
    assert_eq!(focused_id(), "f/username", "Tab wraps to the first control");
    press("Shift+Tab").await;
    assert_eq!(focused_id(), "pb-submit", "Shift+Tab wraps to the last control");

    // Submitting: the app refuses; the reason shows in the form, which stays open.
    press("Enter").await;
    let summary = find(&form, "#pb-summary");
    until("the refusal in the form", 20, || content(&summary).contains("did not accept these credentials"))
        .await;
    assert_eq!(attr(&summary, "role").as_deref(), Some("alert"));
    assert!(is_pending(&state), "a refusal does not settle the promise");
    assert!(!host("credentials").is_null());

    click(r#"[data-patchbay=credentials] [id="f/password"]"#).await;
    press("Control+a").await;
    type_text("correct-horse").await;
    press("Enter").await;
    let account = settled(&state, 20).await.expect("connected");
    assert!(account.as_string().is_some_and(|id| id.starts_with("ca_")), "{}", json(&account));
    assert!(host("credentials").is_null(), "the dialog closed");
    assert_eq!(focused_id(), "connect-basic", "focus goes back to the button that opened the dialog");
    assert_eq!(connected.length(), 1);
    assert_eq!(text(&connected.get(0), "accountId"), account.as_string().unwrap_or_default());
    assert_eq!(text(&closed.get(0), "modal"), "credentials");
}

#[wasm_bindgen_test]
async fn escape_cancels_a_form_and_missing_fields_are_reported_per_field() {
    let pb = init(&token()).await;
    let state = click_to("connect-url", &pb, "connectApp", &[s("bin-basic-url")]).await;
    let form = surface("credentials").await;
    click("[data-patchbay=credentials] #pb-submit").await;
    until("per-field errors", 10, || find_all(&form, r#"[aria-invalid="true"]"#).length() == 3).await;
    let error = find(&form, r#"[id="ef/base_url"]"#);
    assert_eq!(content(&error), "This field is required.");
    assert!(attr(&find(&form, r#"[id="f/base_url"]"#), "aria-describedby")
        .is_some_and(|d| d.contains("ef/base_url")));
    assert_eq!(focused_id(), "f/base_url", "focus goes to the first failing field");
    type_text("not a url").await;
    press("Enter").await;
    until("the URL problem", 10, || content(&error).contains("http://")).await;

    press("Escape").await;
    rejects(settled(&state, 10).await, "USER_CANCELLED").await;
    assert!(host("credentials").is_null());
    assert_eq!(focused_id(), "connect-url");
}

#[wasm_bindgen_test]
async fn a_blocked_popup_rejects_at_once() {
    let pb = init(&token()).await;
    without_user_activation().await;
    let result = track(&invoke(&pb, "connectApp", args(&[s("idp")])).expect("a promise"));
    let err = rejects(settled(&result, 5).await, "POPUP_BLOCKED").await;
    assert!(text(&err, "message").contains("click"), "{}", describe(&err));
    assert!(host("oauth").is_null(), "no overlay for a popup that never opened");
}

#[wasm_bindgen_test]
async fn oauth_in_a_popup_connects_through_the_provider() {
    let pb = init(&token()).await;
    let state = click_to("connect-idp", &pb, "connectApp", &[s("idp")]).await;
    let overlay = surface("oauth").await;
    let dialog = find(&overlay, "[role=dialog]");
    assert!(content(&dialog).contains("Waiting for Identity Provider"));
    assert!(attr(&dialog, "data-attempt-id").is_some_and(|id| id.starts_with("att_")));
    sign_in(fixture!("PATCHBAY_BROWSER_OIDC"), "popup-user").await;
    let account = settled(&state, 30).await.unwrap_or_else(|err| panic!("{}", describe(&err)));
    assert!(host("oauth").is_null(), "the overlay closed");
    let accounts = call(&pb, "getConnectedAccounts", &[s("idp")]).await.expect("accounts");
    let accounts = Array::from(&accounts);
    assert_eq!(accounts.length(), 1);
    assert_eq!(text(&accounts.get(0), "id"), account.as_string().unwrap_or_default());
    assert_eq!(text(&accounts.get(0), "displayName"), "popup-user@example.test");
    close_popups().await;
}

/// The provider sends `Cross-Origin-Opener-Policy: same-origin`: the popup is cut from its
/// opener, `popup.closed` reads true while it is open, and the callback page cannot post back.
/// The overlay stays (with its hint) and the attempt's status completes the connect.
#[wasm_bindgen_test]
async fn oauth_completes_when_the_provider_cuts_the_opener_link() {
    let pb = init(&token()).await;
    let state = click_to("connect-coop", &pb, "connectApp", &[s("idp-coop")]).await;
    let overlay = surface("oauth").await;
    let hint = find(&overlay, "#pb-hint");
    until("the closed-window hint (popup.closed reads true)", 15, || !get(&hint, "hidden").is_truthy()).await;
    assert!(content(&hint).contains("seems to be closed"));
    assert!(is_pending(&state), "popup.closed is only a hint");
    sign_in(fixture!("PATCHBAY_BROWSER_OIDC_COOP"), "coop-user").await;
    let account = settled(&state, 30).await.unwrap_or_else(|err| panic!("{}", describe(&err)));
    assert!(account.as_string().is_some_and(|id| id.starts_with("ca_")));
    close_popups().await;
}

#[wasm_bindgen_test]
async fn foreign_or_mismatched_messages_are_ignored_and_cancel_rejects() {
    let pb = init(&token()).await;
    let state = click_to("connect-messages", &pb, "connectApp", &[s("idp")]).await;
    let overlay = surface("oauth").await;
    let attempt = attr(&find(&overlay, "[role=dialog]"), "data-attempt-id").expect("attempt id");
    let forged = |id: &str| {
        parse(&format!(
            r#"{{"type":"patchbay:oauth","attemptId":"{id}","status":"connected","accountId":"ca_forged"}}"#
        ))
    };
    // From this page's origin (not the broker's), with the right attempt id.
    post(&forged(&attempt));
    // From the broker's origin, for another attempt.
    dispatch_message(broker(), &forged("att_other"));
    // The SDK's listener ran before this later message is seen.
    let seen = sentinel();
    until("the messages to be delivered", 5, || get(&seen, "seen").is_truthy()).await;
    assert!(is_pending(&state), "a message never settles a connect by itself");
    // Even the broker's message for this attempt only makes the SDK ask the broker (still pending).
    dispatch_message(broker(), &forged(&attempt));
    assert!(is_pending(&state));

    // Reopen is a real click: the popup opens (again) at the provider.
    click("[data-patchbay=oauth] [data-action=reopen]").await;
    let provider = fixture!("PATCHBAY_BROWSER_OIDC");
    let deadline = js_sys::Date::now() + 10_000.0;
    loop {
        let pages =
            driver(fixture!("PATCHBAY_BROWSER_DRIVER"), "/pages", JsValue::UNDEFINED).await.expect("pages");
        if Array::from(&get(&pages, "pages"))
            .iter()
            .any(|url| url.as_string().is_some_and(|u| u.starts_with(provider)))
        {
            break;
        }
        assert!(js_sys::Date::now() < deadline, "no popup at the provider after Reopen");
        let _ = JsFuture::from(later(100)).await;
    }
    click("[data-patchbay=oauth] [data-action=cancel]").await;
    rejects(settled(&state, 10).await, "USER_CANCELLED").await;
    assert!(host("oauth").is_null());
    close_popups().await;
}

#[wasm_bindgen_test]
async fn escape_cancels_the_oauth_overlay() {
    let pb = init(&token()).await;
    let state = click_to("connect-escape", &pb, "connectApp", &[s("idp")]).await;
    let overlay = surface("oauth").await;
    until("focus in the overlay", 10, || !find(&overlay, ":focus").is_null()).await;
    press("Escape").await;
    rejects(settled(&state, 10).await, "USER_CANCELLED").await;
    close_popups().await;
}

#[wasm_bindgen_test]
async fn an_expired_attempt_rejects_with_connect_timeout() {
    let i = NEXT_SHORT_USER.with(|n| n.replace(n.get() + 1));
    let token =
        fixture!("PATCHBAY_BROWSER_SHORT_TOKENS").split(',').nth(i).expect("a short-broker token").to_owned();
    let pb = init_at(fixture!("PATCHBAY_BROWSER_SHORT_BROKER"), &token).await.expect("init");
    let state = click_to("connect-expiring", &pb, "connectApp", &[s("idp")]).await;
    surface("oauth").await;
    rejects(settled(&state, 20).await, "CONNECT_TIMEOUT").await;
    assert!(host("oauth").is_null());
    close_popups().await;
}

#[wasm_bindgen_test]
async fn the_multiple_accounts_rule_applies_in_the_sdk_and_the_broker() {
    let token = token();
    let pb = init(&token).await;
    rejects(call(&pb, "disconnectApp", &[s("bin-key")]).await, "NOT_CONNECTED").await;
    let first = connect_directly(&token, "bin-key", r#"{"api_key":"key-one-0001"}"#).await;
    let second = connect_directly(&token, "bin-key", r#"{"api_key":"key-two-0002"}"#).await;
    let q = parse(r#"{"q":"x"}"#);

    for (method, values) in [
        ("invokeFunction", vec![s("bin-key-echo"), q.clone()]),
        ("showFunctionUI", vec![s("bin-key-echo")]),
        ("disconnectApp", vec![s("bin-key")]),
    ] {
        let err = rejects(call(&pb, method, &values).await, "CONNECTED_ACCOUNT_REQUIRED").await;
        let candidates = Array::from(&get(&get(&err, "details"), "candidates"));
        let ids: Vec<String> = candidates.iter().map(|c| text(&c, "id")).collect();
        assert_eq!(ids, [first.clone(), second.clone()], "{method}");
        assert!(text(&candidates.get(0), "displayName").contains("0001"), "{method}");
    }
    let chosen =
        call(&pb, "invokeFunction", &[s("bin-key-echo"), q.clone(), s(&second)]).await.expect("invoke");
    assert_eq!(text(&get(&chosen, "output"), "q"), "x");
    let disconnected = listen(&pb, "app-disconnected");
    call(&pb, "disconnectApp", &[s("bin-key"), obj(&[("connectedAccountID", s(&first))])])
        .await
        .expect("disconnect");
    assert_eq!(text(&disconnected.get(0), "accountId"), first);
    let implied = call(&pb, "invokeFunction", &[s("bin-key-echo"), q]).await.expect("one account: implied");
    assert_eq!(get(&implied, "status").as_f64(), Some(200.0));
}

#[wasm_bindgen_test]
async fn invoke_errors_are_precise() {
    let token = token();
    let pb = init(&token).await;
    rejects(call(&pb, "invokeFunction", &[s("nope-nothing"), parse("{}")]).await, "FUNCTION_NOT_FOUND").await;
    rejects(call(&pb, "invokeFunction", &[s("bin-basic-teapot"), parse("{}")]).await, "NOT_CONNECTED").await;
    rejects(
        call(&pb, "invokeFunction", &[s("bin-basic-teapot"), s("not an object")]).await,
        "INVALID_OPTIONS",
    )
    .await;
    rejects(call(&pb, "getConnectedAccounts", &[s("no-such-app")]).await, "APP_NOT_FOUND").await;
    connect_directly(&token, "bin-basic", r#"{"username":"demo","password":"correct-horse"}"#).await;
    let err = rejects(
        call(&pb, "invokeFunction", &[s("bin-basic-echo"), parse(r#"{"age":-1}"#)]).await,
        "INVALID_ARGUMENTS",
    )
    .await;
    let fields: Vec<String> =
        Array::from(&get(&get(&err, "details"), "fields")).iter().map(|f| text(&f, "field")).collect();
    assert!(fields.contains(&"/email".to_owned()) && fields.contains(&"/age".to_owned()), "{fields:?}");
    let err =
        rejects(call(&pb, "invokeFunction", &[s("bin-basic-teapot"), parse("{}")]).await, "UPSTREAM_ERROR")
            .await;
    assert_eq!(get(&get(&err, "details"), "status").as_f64(), Some(418.0));
    let ok = call(&pb, "invokeFunction", &[s("bin-basic-echo"), parse(r#"{"email":"a@b.c","age":3}"#)])
        .await
        .expect("echo");
    assert_eq!(
        (text(&get(&ok, "output"), "email"), get(&get(&ok, "output"), "age").as_f64()),
        ("a@b.c".into(), Some(3.0))
    );
    assert_eq!(get(&ok, "status").as_f64(), Some(200.0));
    assert!(get(&ok, "nextCursor").is_null());
}

#[wasm_bindgen_test]
async fn the_function_form_validates_and_resolves_typed_arguments() {
    let token = token();
    let pb = init(&token).await;
    let account =
        connect_directly(&token, "bin-basic", r#"{"username":"demo","password":"correct-horse"}"#).await;
    let submitted = listen(&pb, "function-ui-submitted");
    let state = track(
        &invoke(&pb, "showFunctionUI", args(&[s("bin-basic-echo"), parse(r#"{"age":30}"#)]))
            .expect("promise"),
    );
    let form = surface("function").await;
    let age = find(&form, r#"[id="f/age"]"#);
    assert_eq!((attr(&age, "type").as_deref(), attr(&age, "value").as_deref()), (Some("number"), Some("30")));
    assert_eq!(attr(&age, "step").as_deref(), Some("1"));
    assert!(get(&find(&form, r#"[id="f/vip"]"#), "checked").is_truthy(), "the schema's default");
    assert_eq!(find_all(&form, r#"[id="f/color"] option"#).length(), 3, "the empty choice and two values");
    assert!(!find(&form, r#"fieldset[id="f/address"] legend"#).is_null());
    let email = find(&form, r#"[id="f/email"]"#);
    assert_eq!(attr(&email, "type").as_deref(), Some("email"));
    assert!(
        attr(&email, "aria-describedby").is_some_and(|d| d.contains("hf/email")),
        "the description helps"
    );
    assert!(content(&find(&form, "[role=dialog]")).contains("Account: demo"));

    click("[data-patchbay=function] #pb-submit").await;
    until("the email problem", 10, || attr(&email, "aria-invalid").as_deref() == Some("true")).await;
    assert_eq!(content(&find(&form, "#pb-summary")), "Please correct the highlighted fields.");
    assert!(is_pending(&state), "an invalid form does not resolve");
    assert_eq!(focused_id(), "f/email");
    type_text("ann@example.com").await;
    click(r#"[data-patchbay=function] [data-action=add][data-id="/tags"]"#).await;
    until("the new list item focused", 10, || focused_id() == "f/tags/0").await;
    type_text("vip").await;
    click(r#"[data-patchbay=function] [id="f/address/zip"]"#).await;
    type_text("12345").await;
    click("[data-patchbay=function] #pb-submit").await;
    let values = settled(&state, 10).await.unwrap_or_else(|err| panic!("{}", describe(&err)));
    assert_eq!(
        json(&values),
        r#"{"email":"ann@example.com","age":30,"vip":true,"tags":["vip"],"address":{"zip":"12345"}}"#,
        "the arguments come back in the catalog's order"
    );
    assert_eq!(text(&submitted.get(0), "connectedAccountId"), account);
    let echoed = call(&pb, "invokeFunction", &[s("bin-basic-echo"), values]).await.expect("invoke");
    assert_eq!(get(&get(&echoed, "output"), "age").as_f64(), Some(30.0), "typed as the schema says");

    let cancelled = track(&invoke(&pb, "showFunctionUI", args(&[s("bin-basic-echo")])).expect("promise"));
    surface("function").await;
    click("[data-patchbay=function] [data-action=cancel]").await;
    rejects(settled(&cancelled, 10).await, "USER_CANCELLED").await;
}

#[wasm_bindgen_test]
async fn the_app_page_lists_accounts_and_disconnects() {
    let token = token();
    let pb = init(&token).await;
    let account = connect_directly(&token, "bin-key", r#"{"api_key":"page-key-9999"}"#).await;
    let state = track(&invoke(&pb, "showApp", args(&[s("bin-key")])).expect("promise"));
    let page = surface("app").await;
    let selector = format!(r#"[data-account-id="{account}"]"#);
    until("the account row", 10, || !find(&page, &selector).is_null()).await;
    let row = find(&page, &selector);
    assert!(content(&row).contains("9999") && content(&row).contains("Connected"), "{}", content(&row));
    let date = inside(&row, "time");
    assert!(
        !content(&date).is_empty() && !content(&date).contains('T'),
        "the date is localised: {}",
        content(&date)
    );
    assert!(
        content(&find(&page, "[data-action=connect]")).contains("Connect another account"),
        "policy multiple"
    );

    click(&format!(r#"[data-patchbay=app] [data-action=ask-disconnect][data-id="{account}"]"#)).await;
    until("the confirmation", 10, || !find(&page, "[data-action=keep]").is_null()).await;
    click(&format!(r#"[data-patchbay=app] [data-action=disconnect][data-id="{account}"]"#)).await;
    until("the empty list", 10, || content(&find(&page, "ul")).contains("No account connected yet.")).await;
    press("Escape").await;
    assert!(settled(&state, 10).await.expect("closing resolves").is_undefined());
    let left = call(&pb, "getConnectedAccounts", &[s("bin-key")]).await.expect("accounts");
    assert_eq!(Array::from(&left).length(), 0);
}

#[wasm_bindgen_test]
async fn the_marketplace_shows_apps_and_connects_from_a_tile() {
    let pb = init(&token()).await;
    let container =
        web_sys::window().and_then(|w| w.document()).and_then(|d| d.create_element("div").ok()).expect("div");
    container.set_id("integrations");
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
        .expect("body")
        .append_child(&container)
        .expect("append");
    call(&pb, "renderMarketplace", &[obj(&[("container", s("#integrations"))])]).await.expect("rendered");
    let market = host("marketplace");
    assert!(find_all(&market, "[data-app-id]").length() >= 8, "one tile per app");
    let tile = find(&market, r#"[data-app-id="bin-pair"]"#);
    assert!(content(&tile).contains("Not connected"));
    click(r#"[data-patchbay=marketplace] [data-action=open][data-id="bin-pair"]"#).await;
    let form = surface("credentials").await;
    until("focus in the form", 10, || focused_id() == "f/api_key").await;
    type_text("pair-key").await;
    press("Tab").await;
    type_text("pair-secret").await;
    press("Enter").await;
    until("the form to close", 20, || host("credentials").is_null()).await;
    assert!(form.dyn_ref::<web_sys::Element>().is_some_and(|f| !f.is_connected()));
    let pair = || content(&find(&host("marketplace"), r#"[data-app-id="bin-pair"]"#));
    until("the tile to show the connection", 20, || pair().contains("Manage")).await;
    assert!(!pair().contains("Not connected"));
    rejects(call(&pb, "renderMarketplace", &[obj(&[("container", s("#nowhere"))])]).await, "INVALID_OPTIONS")
        .await;

    // Modal mode: a button opening the grid in a dialog; Esc closes it.
    let closed = listen(&pb, "modal-closed");
    call(&pb, "renderMarketplace", &[obj(&[("container", s("#integrations")), ("mode", s("modal"))])])
        .await
        .expect("rendered");
    click("[data-patchbay=marketplace] [data-action=browse]").await;
    until("the marketplace dialog", 10, || find_all(&host("marketplace"), "[role=dialog]").length() == 1)
        .await;
    press("Escape").await;
    until("modal-closed", 10, || closed.length() == 1).await;
    assert_eq!(text(&closed.get(0), "modal"), "marketplace");
    container.remove();
}

#[wasm_bindgen_test]
async fn redirect_mode_completes_on_the_returning_page() {
    let token = token();
    let pb = init(&token).await;
    assert!(call(&pb, "completeRedirect", &[]).await.expect("no attempt").is_null());
    // The redirect itself would leave this page: the test starts the attempt as a host page in
    // redirect mode would (returnTo on this origin) and signs in, in a page of its own.
    let return_to =
        format!("http://{}/redirect-return", option_env!("WASM_BINDGEN_TEST_ADDRESS").unwrap_or_default());
    let reply = api(
        broker(),
        &token,
        "POST",
        "/v1/apps/idp/connect",
        obj(&[("fields", parse("{}")), ("returnTo", s(&return_to))]),
    )
    .await;
    let started = Array::from(&reply).get(1);
    let attempt = text(&started, "attemptId");
    drive("/open", obj(&[("url", get(&started, "authorizeUrl"))])).await;
    sign_in(fixture!("PATCHBAY_BROWSER_OIDC"), "redirect-user").await;
    let history = web_sys::window().and_then(|w| w.history().ok()).expect("history");
    let here = web_sys::window().map(|w| w.location()).and_then(|l| l.href().ok()).unwrap_or_default();
    history
        .replace_state_with_url(&JsValue::NULL, "", Some(&format!("?tab=2&patchbay_attempt={attempt}")))
        .expect("replaceState");
    let account = call(&pb, "completeRedirect", &[]).await.unwrap_or_else(|err| panic!("{}", describe(&err)));
    assert!(account.as_string().is_some_and(|id| id.starts_with("ca_")));
    let search = web_sys::window().map(|w| w.location()).and_then(|l| l.search().ok()).unwrap_or_default();
    assert_eq!(search, "?tab=2", "the attempt is forgotten");
    history.replace_state_with_url(&JsValue::NULL, "", Some(&here)).expect("restore the URL");
    close_popups().await;
}

#[wasm_bindgen_test]
async fn panics_reject_with_an_internal_patchbay_error() {
    let promise = js_sys::Promise::from(patchbay_sdk::web::debug_panic());
    let err = rejects(JsFuture::from(promise).await, "INTERNAL").await;
    assert!(text(&err, "message").contains("deliberate panic"), "{}", describe(&err));
}
