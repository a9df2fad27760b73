//! Requests to the broker through gloo-net. An answer's body stays a JavaScript value (from
//! `response.json()`); the flow reads it through serde-wasm-bindgen, or the promise resolves with
//! it untouched.

use gloo_net::http::{Method, RequestBuilder};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, RequestCredentials, RequestMode};

use crate::json::Json;

/// A broker answer.
pub enum Answer {
    /// The broker answered: its status and its body (`null` when empty, `undefined` when not
    /// JSON).
    Http(u16, JsValue),
    /// The broker could not be reached (or the request was aborted): why.
    Unreachable(String),
}

/// Sends `method url` with the session token and an optional JSON body; never fails.
pub async fn send(
    method: &'static str,
    url: &str,
    token: &str,
    body: Option<&Json>,
    signal: &AbortSignal,
) -> Answer {
    let mut request = RequestBuilder::new(url)
        .method(match method {
            "POST" => Method::POST,
            "DELETE" => Method::DELETE,
            _ => Method::GET,
        })
        .header("authorization", &["Bearer ", token].concat())
        .mode(RequestMode::Cors)
        .credentials(RequestCredentials::Omit)
        .abort_signal(Some(signal));
    let request = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            request.body(JsValue::from_str(&body.to_text()))
        }
        None => request.build(),
    };
    let response = match request {
        Ok(request) => request.send().await,
        Err(err) => return Answer::Unreachable(err.to_string()),
    };
    let response = match response {
        Ok(response) => response,
        Err(err) => return Answer::Unreachable(err.to_string()),
    };
    let status = response.status();
    let empty = status == 204 || response.headers().get("content-length").as_deref() == Some("0");
    if empty {
        return Answer::Http(status, JsValue::NULL);
    }
    let raw: web_sys::Response = response.into();
    let body = match raw.json() {
        Ok(parsing) => JsFuture::from(parsing).await.unwrap_or(JsValue::UNDEFINED),
        Err(_) => JsValue::UNDEFINED,
    };
    Answer::Http(status, body)
}
