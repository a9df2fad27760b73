//! `Patchbay`: the class JavaScript sees. Each method checks its arguments and starts a
//! [`crate::flow`] (run by [`super::run`]); everything synchronous that must happen inside the
//! caller's click (opening the OAuth popup) is a flow's first step, carried out before the
//! method returns.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use js_sys::{Function, Promise};
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::convert::{
    error_to_js, from_js, is_object, members, option, required_name, unknown_keys, value_of,
};
use super::run::{start, Finish};
use super::surface::document;
use crate::address::{encode_segment, BrokerUrl};
use crate::error::SdkError;
use crate::events::EventKind;
use crate::flow::{
    AppPage, CompleteRedirect, Config, Connect, Disconnect, Flow, FunctionForm, Marketplace, Outcome,
    Request, Resume,
};
use crate::json::{cat, Json};
use crate::options::{
    self, validate_marketplace, AccountArg, OAuthMode, RawAccountArg, RawInit, INIT_OPTIONS,
};
use crate::theme::Theme;

// The generated declarations name the payload types the hand-written ones define.
#[wasm_bindgen(typescript_custom_section)]
const PAYLOAD_TYPES: &str = r#"import type { ConnectedAccount, InvokeResult } from "./patchbay.js";"#;

/// The Patchbay SDK, created by `Patchbay.init` (its JavaScript types are in `js/patchbay.d.ts`).
#[wasm_bindgen]
pub struct Patchbay {
    inner: Rc<Inner>,
}

/// One SDK instance's state.
pub struct Inner {
    /// The broker.
    pub broker: BrokerUrl,
    /// The session token.
    pub token: String,
    /// The surfaces' colour scheme.
    pub theme: Theme,
    /// What connect flows need.
    pub config: Config,
    /// The app list (`AppSummary` JSON), loaded by `init`.
    pub apps: RefCell<Vec<Json>>,
    listeners: RefCell<Vec<(EventKind, Function)>>,
}

impl Inner {
    /// Calls the host's listeners for `kind`; a throwing listener is reported, not propagated.
    pub fn emit(&self, kind: EventKind, payload: &JsValue) {
        let mut listeners = Vec::new();
        for (k, f) in self.listeners.borrow().iter() {
            if *k == kind {
                listeners.push(f.clone());
            }
        }
        for listener in listeners {
            // What a listener throws is reported, as the DOM does for its own listeners.
            if let Err(error) = listener.call1(&JsValue::UNDEFINED, payload) {
                report_error(&error);
            }
        }
    }
}

/// `JSON.parse` for JSON text fields of function forms.
fn parse_json(text: &str) -> Option<Json> {
    js_sys::JSON::parse(text).ok().and_then(|value| from_js(&value))
}

/// Reads the optional account argument (a string or `{ connectedAccountId | connectedAccountID,
/// cursor? }`).
fn account_arg(value: &JsValue, accepts_cursor: bool) -> Result<AccountArg, SdkError> {
    let raw = if value.is_undefined() || value.is_null() {
        RawAccountArg::default()
    } else if value.is_string() {
        RawAccountArg { id: value_of(value), ..Default::default() }
    } else if is_object(value) {
        let members = members(value);
        RawAccountArg {
            id: option(&members, "connectedAccountId"),
            id_upper: option(&members, "connectedAccountID"),
            cursor: option(&members, "cursor"),
            unknown: unknown_keys(&members, &["connectedAccountId", "connectedAccountID", "cursor"]),
        }
    } else {
        return Err(SdkError::invalid_option("connectedAccountId", "must be a string or an options object"));
    };
    options::validate_account_arg(raw, accepts_cursor)
}

/// A name argument (`field` in errors) and the optional account argument.
fn name_and_account(
    name: &JsValue,
    field: &str,
    account: &JsValue,
) -> Result<(String, Option<String>), SdkError> {
    Ok((required_name(name, field)?, account_arg(account, false)?.id))
}

impl Patchbay {
    /// The instance `init` resolves with.
    pub fn from_inner(inner: Rc<Inner>) -> Patchbay {
        Patchbay { inner }
    }

    /// Runs `flow`, or rejects with the argument error.
    fn start(&self, flow: Result<Box<dyn Flow>, SdkError>) -> JsValue {
        match flow {
            Ok(flow) => start(&self.inner, flow, Finish::Value, None).into(),
            Err(err) => rejected(&err),
        }
    }
}

#[wasm_bindgen]
impl Patchbay {
    /// Validates the options, checks the session with the broker and loads the app list.
    /// (The package entry loads the wasm module first; see `js/patchbay.js`.)
    #[wasm_bindgen(js_name = init, unchecked_return_type = "Promise<Patchbay>", skip_jsdoc)]
    pub fn init(options: JsValue) -> JsValue {
        super::convert::install_panic_hook();
        if !is_object(&options) {
            return rejected(&SdkError::invalid_option("options", "Patchbay.init takes an options object"));
        }
        let options = members(&options);
        let raw = RawInit {
            broker_url: option(&options, "brokerUrl"),
            session_token: option(&options, "sessionToken"),
            lang: option(&options, "lang"),
            oauth_mode: option(&options, "oauthMode"),
            return_to: option(&options, "returnTo"),
            theme: option(&options, "theme"),
            unknown: unknown_keys(&options, &INIT_OPTIONS),
        };
        let options = match options::validate_init(raw) {
            Ok(options) => options,
            Err(err) => return rejected(&err),
        };
        // Redirect mode returns to the current page unless told otherwise.
        let return_to = options.return_to.unwrap_or_else(|| {
            let page = Page::current();
            cat(&[&page.origin, &page.path, &crate::address::query_without_attempt(&page.query)])
        });
        let inner = Rc::new(Inner {
            config: Config {
                lang: options.lang,
                popup: options.oauth_mode == OAuthMode::Popup,
                return_to,
                broker_origin: options.broker.origin.clone(),
            },
            broker: options.broker,
            token: options.token,
            theme: options.theme,
            apps: RefCell::new(Vec::new()),
            listeners: RefCell::new(Vec::new()),
        });
        let flow = Request::new("GET", "/v1/apps".into(), None, Outcome::Value(Json::text("apps")));
        start(&inner, Box::new(flow), Finish::Init, None).into()
    }

    /// Connects an app: an OAuth popup (opened before this returns, so call it inside a click
    /// handler) or a credential form. Resolves with the connected account's id.
    #[wasm_bindgen(js_name = connectApp, unchecked_return_type = "Promise<string>", skip_jsdoc)]
    pub fn connect_app(&self, app_id: JsValue, connected_account_id: JsValue) -> JsValue {
        self.start(name_and_account(&app_id, "appId", &connected_account_id).map(|(app, target)| {
            let summary =
                self.inner.apps.borrow().iter().find(|a| a.str_at("id") == app).cloned().unwrap_or_default();
            Box::new(Connect::new(self.inner.config.clone(), app, summary, target)) as Box<dyn Flow>
        }))
    }

    /// Opens the app's page: its accounts with reconnect / disconnect, and connect (per the
    /// accounts policy). Resolves when the user closes it.
    #[wasm_bindgen(js_name = showApp, unchecked_return_type = "Promise<void>", skip_jsdoc)]
    pub fn show_app(&self, app_id: JsValue) -> JsValue {
        self.start(
            required_name(&app_id, "appId")
                .map(|app| Box::new(AppPage::new(self.inner.config.clone(), app)) as Box<dyn Flow>),
        )
    }

    /// Disconnects an account (the only one, or the one named once there are several).
    #[wasm_bindgen(js_name = disconnectApp, unchecked_return_type = "Promise<void>", skip_jsdoc)]
    pub fn disconnect_app(&self, app_id: JsValue, connected_account_id: JsValue) -> JsValue {
        self.start(
            name_and_account(&app_id, "appId", &connected_account_id)
                .map(|(app, requested)| Box::new(Disconnect::new(app, requested)) as Box<dyn Flow>),
        )
    }

    /// The user's accounts for the app: `[{ id, appId, displayName, status, createdAt, updatedAt }]`.
    #[wasm_bindgen(js_name = getConnectedAccounts, unchecked_return_type = "Promise<ConnectedAccount[]>", skip_jsdoc)]
    pub fn get_connected_accounts(&self, app_id: JsValue) -> JsValue {
        self.start(required_name(&app_id, "appId").map(|app| {
            let path = cat(&["/v1/apps/", &encode_segment(&app), "/accounts"]);
            Box::new(Request::new("GET", path, None, Outcome::Body(Some("accounts")))) as Box<dyn Flow>
        }))
    }

    /// Shows the function's argument form; resolves with the validated, typed arguments.
    #[wasm_bindgen(js_name = showFunctionUI, unchecked_return_type = "Promise<Record<string, unknown>>", skip_jsdoc)]
    pub fn show_function_ui(
        &self,
        name: JsValue,
        prefill: JsValue,
        connected_account_id: JsValue,
    ) -> JsValue {
        self.start(name_and_account(&name, "name", &connected_account_id).and_then(|(name, requested)| {
            let prefill = if prefill.is_undefined() || prefill.is_null() {
                None
            } else if is_object(&prefill) {
                Some(json_argument(&prefill, "prefill")?)
            } else {
                return Err(SdkError::invalid_option("prefill", "must be an object"));
            };
            Ok(Box::new(FunctionForm::new(self.inner.config.lang, name, prefill, requested, parse_json))
                as Box<dyn Flow>)
        }))
    }

    /// Invokes a function: resolves with `{ status, output, nextCursor }`.
    #[wasm_bindgen(js_name = invokeFunction, unchecked_return_type = "Promise<InvokeResult>", skip_jsdoc)]
    pub fn invoke_function(&self, name: JsValue, args: JsValue, connected_account_id: JsValue) -> JsValue {
        self.start(required_name(&name, "name").and_then(|name| {
            if !(args.is_undefined() || is_object(&args)) {
                return Err(SdkError::invalid_option("args", "must be an object"));
            }
            let account = account_arg(&connected_account_id, true)?;
            let mut body = vec![(
                "args",
                if args.is_undefined() { Json::Object(Vec::new()) } else { json_argument(&args, "args")? },
            )];
            if let Some(id) = account.id {
                body.push(("connectedAccountId", Json::String(id)));
            }
            if let Some(cursor) = account.cursor {
                body.push(("cursor", Json::String(cursor)));
            }
            let path = cat(&["/v1/functions/", &encode_segment(&name), "/invoke"]);
            Ok(Box::new(Request::new("POST", path, Some(Json::object(body)), Outcome::Body(None)))
                as Box<dyn Flow>)
        }))
    }

    /// Subscribes to an event (`app-connected`, `app-disconnected`, `modal-closed`,
    /// `function-ui-submitted`); adding the same listener twice has no effect.
    #[wasm_bindgen(skip_jsdoc)]
    pub fn on(&self, event: JsValue, listener: JsValue) -> Result<(), JsValue> {
        let (kind, listener) = listener_args(&event, listener)?;
        let mut listeners = self.inner.listeners.borrow_mut();
        if !listeners.iter().any(|(k, f)| *k == kind && *f == listener) {
            listeners.push((kind, listener));
        }
        Ok(())
    }

    /// Removes a listener added with `on`.
    #[wasm_bindgen(skip_jsdoc)]
    pub fn off(&self, event: JsValue, listener: JsValue) -> Result<(), JsValue> {
        let (kind, listener) = listener_args(&event, listener)?;
        self.inner.listeners.borrow_mut().retain(|(k, f)| !(*k == kind && *f == listener));
        Ok(())
    }

    /// Renders the marketplace grid (or, in `modal` mode, a button opening it) into `container`
    /// (an element or a selector); resolves once it is shown.
    #[wasm_bindgen(js_name = renderMarketplace, unchecked_return_type = "Promise<void>", skip_jsdoc)]
    pub fn render_marketplace(&self, options: JsValue) -> JsValue {
        let checked = if is_object(&options) {
            let container = element(&js_sys::Reflect::get(&options, &"container".into()).unwrap_or_default());
            let options = members(&options);
            let mode = validate_marketplace(
                option(&options, "mode"),
                &unknown_keys(&options, &["container", "mode"]),
            );
            match (container, mode) {
                (Some(container), Ok(mode)) => Ok((container, mode)),
                (None, _) => Err(SdkError::invalid_option(
                    "container",
                    "must be an element or a selector matching one",
                )),
                (_, Err(err)) => Err(err),
            }
        } else {
            Err(SdkError::invalid_option("options", "renderMarketplace takes an options object"))
        };
        match checked {
            Ok((container, mode)) => {
                let flow = Box::new(Marketplace::new(self.inner.config.clone(), mode));
                start(&self.inner, flow, Finish::Value, Some(container)).into()
            }
            Err(err) => rejected(&err),
        }
    }

    /// Redirect mode, on the page the broker sent the user back to: follows the attempt named
    /// in the URL (`patchbay_attempt`, then removed from the address bar) and resolves with the
    /// connected account's id, or `null` when the URL names no attempt.
    #[wasm_bindgen(js_name = completeRedirect, unchecked_return_type = "Promise<string | null>", skip_jsdoc)]
    pub fn complete_redirect(&self) -> JsValue {
        let page = Page::current();
        self.start(Ok(Box::new(CompleteRedirect::new(page.path, page.query, page.hash))))
    }
}

/// After `init`: follows the connect this tab was waiting for before a reload, if any (see
/// [`Resume`]); its end is reported through events only.
pub fn resume_pending(inner: &Rc<Inner>) {
    if let Some(pending) = super::pending::stored() {
        let flow = Resume::new(pending, js_sys::Date::now(), Page::current().query);
        let _ = start(inner, Box::new(flow), Finish::Value, None);
    }
}

/// A rejected promise with `err` as a `PatchbayError`.
fn rejected(err: &SdkError) -> JsValue {
    Promise::reject(&error_to_js(err)).into()
}

/// A caller's free-form argument (`args`, `prefill`) as [`Json`].
fn json_argument(value: &JsValue, name: &str) -> Result<Json, SdkError> {
    from_js(value).ok_or_else(|| SdkError::invalid_option(name, "must hold only JSON values"))
}

/// An element given as itself or as a selector.
fn element(value: &JsValue) -> Option<Element> {
    match value.as_string() {
        Some(selector) => document().query_selector(&selector).ok().flatten(),
        None => value.dyn_ref::<Element>().cloned(),
    }
}

/// `reportError(error)`: the console shows it as an uncaught error, and the SDK goes on.
fn report_error(error: &JsValue) {
    let report = js_sys::Reflect::get(&js_sys::global(), &"reportError".into()).ok();
    if let Some(report) = report.and_then(|r| r.dyn_into::<Function>().ok()) {
        let _ = report.call1(&JsValue::UNDEFINED, error);
    }
}

/// The page's address, in parts.
struct Page {
    origin: String,
    path: String,
    query: String,
    hash: String,
}

impl Page {
    fn current() -> Page {
        let location = web_sys::window().map(|w| w.location());
        let part = |read: fn(&web_sys::Location) -> Result<String, JsValue>| {
            location.as_ref().and_then(|l| read(l).ok()).unwrap_or_default()
        };
        Page {
            origin: part(web_sys::Location::origin),
            path: part(web_sys::Location::pathname),
            query: part(web_sys::Location::search),
            hash: part(web_sys::Location::hash),
        }
    }
}

fn listener_args(event: &JsValue, listener: JsValue) -> Result<(EventKind, Function), JsValue> {
    let event = required_name(event, "event").and_then(|name| EventKind::parse(&name));
    match (event, listener.dyn_into::<Function>()) {
        (Ok(event), Ok(listener)) => Ok((event, listener)),
        (Err(err), _) => Err(error_to_js(&err)),
        (_, Err(_)) => Err(error_to_js(&SdkError::invalid_option("listener", "must be a function"))),
    }
}

/// Only in debug builds: a flow that panics, proving the panic hook turns panics into
/// `INTERNAL` PatchbayErrors (used by the browser tests).
#[cfg(debug_assertions)]
#[wasm_bindgen(js_name = __debugPanic, skip_typescript)]
pub fn debug_panic() -> JsValue {
    struct Panics;
    impl Flow for Panics {
        fn start(&mut self) -> Vec<crate::flow::Step> {
            panic!("deliberate panic for the panic-hook test");
        }
        fn reply(&mut self, _: u32, _: Result<Json, SdkError>) -> Vec<crate::flow::Step> {
            Vec::new()
        }
    }
    super::convert::install_panic_hook();
    let inner = Rc::new(Inner {
        broker: BrokerUrl { base: String::new(), origin: String::new() },
        token: String::new(),
        theme: Theme::Light,
        config: Config {
            lang: crate::i18n::Lang::En,
            popup: true,
            return_to: String::new(),
            broker_origin: String::new(),
        },
        apps: RefCell::new(Vec::new()),
        listeners: RefCell::new(Vec::new()),
    });
    start(&inner, Box::new(Panics), Finish::Value, None).into()
}
