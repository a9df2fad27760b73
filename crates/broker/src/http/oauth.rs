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

use super::auth::Session;
use super::pages;
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

/// The provider's redirect target: a page that reports to the SDK's popup opener, or a redirect
/// (redirect mode, admin client tests).
#[utoipa::path(get, path = "/oauth/callback", tag = "pages", operation_id = "oauthCallback",
    params(CallbackParams),
    responses(
        (status = 200, description = "The popup's page", content_type = "text/html"),
        (status = 303, description = "Back to `returnTo`, or to the console's test page"),
        (status = 400, description = "A page saying the sign-in cannot complete", content_type = "text/html"),
    ))]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    /// Long-poll: answer as soon as the attempt leaves `pending`, or after this many seconds (at
    /// most 25).
    wait: Option<u64>,
}

/// Where an OAuth 2.0 connect attempt stands (long-polls with `wait`).
#[utoipa::path(get, path = "/v1/connect-attempts/{id}", tag = "sdk", operation_id = "getConnectAttempt",
    security(("sessionToken" = [])),
    params(("id" = String, Path, description = "Attempt id from `connectApp`"), StatusQuery),
    responses((status = 200, description = "The attempt", body = ConnectAttempt)))]
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
    let html = pages::callback(&nonce, title, text, result).into_string();
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
