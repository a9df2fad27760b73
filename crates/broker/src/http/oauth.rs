//! OAuth routes: the provider's redirect back (a page for the popup, or a redirect) and the
//! attempt status the SDK long-polls. The flow itself is `crate::oauth::connect`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use patchbay_protocol::{CallbackMessage, ConnectAttempt};
use serde::Deserialize;
use serde_json::json;

use super::auth::Session;
use super::html::escape_html;
use super::{ApiPath, ApiQuery};
use crate::error::ApiResult;
use crate::ids::random_token;
use crate::oauth::connect::{self, Callback, CallbackParams, Refusal};
use crate::state::AppState;

/// SDK-facing OAuth routes (behind the session middleware).
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/connect-attempts/{id}", get(attempt_status))
}

/// The provider's redirect target (no session: the browser arrives from the provider).
pub fn callback_router() -> Router<Arc<AppState>> {
    Router::new().route("/oauth/callback", get(callback))
}

async fn callback(
    State(state): State<Arc<AppState>>,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Response {
    match connect::finish(&state, &params).await {
        Callback::Refused(refusal) => {
            let (status, title, text) = match refusal {
                Refusal::NoState => {
                    (StatusCode::BAD_REQUEST, "Sign-in failed", "The provider sent no state.")
                }
                Refusal::AlreadyUsed => {
                    (StatusCode::BAD_REQUEST, "Already done", "This sign-in was already completed.")
                }
                Refusal::Expired => (
                    StatusCode::BAD_REQUEST,
                    "Sign-in expired",
                    "This sign-in took too long. Please start again.",
                ),
                Refusal::Unknown => {
                    (StatusCode::BAD_REQUEST, "Sign-in failed", "This sign-in link is not valid.")
                }
                Refusal::Internal => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "Sign-in failed", "Please try again.")
                }
            };
            page(status, title, text, None)
        }
        Callback::Tested { app_id, attempt_id } => {
            Redirect::to(&format!("/admin/apps/{app_id}/tests/{attempt_id}")).into_response()
        }
        Callback::Return(url) => Redirect::to(url.as_str()).into_response(),
        Callback::Popup { origin, message, app_name } => {
            let (title, text) = match &message.error {
                None => (format!("Connected to {app_name}"), "You can close this window.".to_owned()),
                Some(error) => (format!("Could not connect {app_name}"), error.message.clone()),
            };
            page(StatusCode::OK, &title, &text, Some((origin.as_deref(), &message)))
        }
    }
}

#[derive(Deserialize)]
struct StatusQuery {
    wait: Option<u64>,
}

async fn attempt_status(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> ApiResult<Json<ConnectAttempt>> {
    connect::attempt_status(&state, &session.owner, &id, query.wait.unwrap_or(0)).await.map(Json)
}

/// The small page the popup shows; it posts the result to the opener, then closes.
fn page(
    status: StatusCode,
    title: &str,
    text: &str,
    result: Option<(Option<&str>, &CallbackMessage)>,
) -> Response {
    let nonce = random_token(16);
    let script = match result {
        Some((origin, message)) => {
            let data = json!({ "origin": origin, "message": message });
            // Escaped so the JSON cannot close the script element it sits in.
            let json =
                data.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
            format!(
                "<script type=\"application/json\" id=\"patchbay-result\">{json}</script>\
                 <script nonce=\"{nonce}\">(function(){{var d=JSON.parse(document.getElementById(\"patchbay-result\").textContent);\
                 if(window.opener&&d.origin){{try{{window.opener.postMessage(d.message,d.origin);}}catch(e){{}}}}\
                 window.close();}})();</script>"
            )
        }
        None => String::new(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style nonce=\"{nonce}\">body{{font:16px/1.5 system-ui,sans-serif;margin:3rem auto;\
         max-width:30rem;text-align:center;color:#1f2328}}</style></head><body><h1>{title}</h1><p>{text}</p>{script}</body></html>",
        title = escape_html(title),
        text = escape_html(text),
    );
    let csp =
        format!("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; base-uri 'none'");
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
        ],
        html,
    )
        .into_response()
}
