//! The one-tag marketplace embed (`<script type="module" src="<broker>/embed.js" …>`): reads the
//! script element's `data-*` attributes, gets a session token from the host's backend (or a
//! global callback), starts the SDK and renders the marketplace, then fires `patchbay:ready` or,
//! after a short message in the container, `patchbay:error` on the script element.

use js_sys::{Function, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CustomEvent, CustomEventInit, Element, RequestCredentials};

use super::client::Patchbay;
use super::surface::document;
use crate::i18n::Lang;

const DEFAULT_CONTAINER: &str = "#patchbay";
const UNAVAILABLE: &str = "Integrations are unavailable right now.";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitOptions {
    broker_url: String,
    session_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
}

#[derive(Serialize)]
struct MarketplaceOptions {
    container: String,
    mode: String,
}

/// Runs the embed loaded from `script_url` (its `import.meta.url`). Resolves when it has
/// rendered the marketplace or shown why not.
#[wasm_bindgen(js_name = embedMarketplace, skip_typescript)]
pub async fn embed_marketplace(script_url: String) {
    let script = find_script(&script_url);
    let data = |name: &str| script.as_ref().and_then(|s| s.get_attribute(name)).filter(|v| !v.is_empty());
    let container = data("data-container").unwrap_or_else(|| DEFAULT_CONTAINER.to_owned());
    let outcome = render(&script_url, &container, &data).await;
    let (event, detail) = match outcome {
        Ok(pb) => ("patchbay:ready", pb),
        Err(err) => {
            if let Ok(Some(element)) = document().query_selector(&container) {
                element.set_text_content(Some(UNAVAILABLE));
            }
            ("patchbay:error", err)
        }
    };
    if let Some(script) = script {
        let init = CustomEventInit::new();
        init.set_detail(&detail);
        if let Ok(event) = CustomEvent::new_with_event_init_dict(event, &init) {
            let _ = script.dispatch_event(&event);
        }
    }
}

async fn render(
    script_url: &str,
    container: &str,
    data: &impl Fn(&str) -> Option<String>,
) -> Result<JsValue, JsValue> {
    let token = session_token(data).await?;
    let broker_url = web_sys::Url::new(script_url)?.origin();
    // An explicit data-lang the SDK refuses is an error; the page's own language is used only
    // when the SDK speaks it.
    let page_lang = document().document_element().map(|root| root.get_attribute("lang").unwrap_or_default());
    let lang = data("data-lang").or_else(|| page_lang.filter(|tag| Lang::parse(tag).is_some()));
    let options = to_value(&InitOptions { broker_url, session_token: token, lang })?;
    let pb = JsFuture::from(Promise::from(Patchbay::init(options))).await?;
    let options = MarketplaceOptions {
        container: container.to_owned(),
        mode: data("data-mode").unwrap_or_else(|| "inline".to_owned()),
    };
    let render: Function = Reflect::get(&pb, &"renderMarketplace".into())?.dyn_into()?;
    JsFuture::from(Promise::from(render.call1(&pb, &to_value(&options)?)?)).await?;
    Ok(pb)
}

fn to_value<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    Ok(serde_wasm_bindgen::to_value(value)?)
}

/// The embed's own script element.
fn find_script(url: &str) -> Option<Element> {
    let scripts = document().query_selector_all("script[src]").ok()?;
    (0..scripts.length()).filter_map(|i| scripts.get(i)?.dyn_into::<Element>().ok()).find(|script| {
        Reflect::get(script, &"src".into()).ok().and_then(|src| src.as_string()).as_deref() == Some(url)
    })
}

/// The token from `data-session-callback` (a global async function) or `data-session-url` (the
/// host's backend, POST, same origin, answering `{"token": "…"}`).
async fn session_token(data: &impl Fn(&str) -> Option<String>) -> Result<String, JsValue> {
    let answer = if let Some(name) = data("data-session-callback") {
        let callback: Function = Reflect::get(&js_sys::global(), &name.into())?.dyn_into()?;
        JsFuture::from(Promise::resolve(&callback.call0(&JsValue::UNDEFINED)?)).await?
    } else {
        let url = data("data-session-url")
            .ok_or_else(|| js_error("Patchbay embed: set data-session-url or data-session-callback"))?;
        let response = gloo_net::http::Request::post(&url)
            .credentials(RequestCredentials::SameOrigin)
            .send()
            .await
            .map_err(|err| {
                js_error(&["Patchbay embed: the session URL failed: ", &err.to_string()].concat())
            })?;
        if !response.ok() {
            let status = response.status().to_string();
            return Err(js_error(&["Patchbay embed: the session URL answered HTTP ", &status].concat()));
        }
        let raw: web_sys::Response = response.into();
        let body = JsFuture::from(raw.json()?).await?;
        Reflect::get(&body, &"token".into())?
    };
    answer.as_string().ok_or_else(|| js_error("Patchbay embed: the session answer holds no token"))
}

fn js_error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}
