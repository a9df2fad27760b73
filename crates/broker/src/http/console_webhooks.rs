//! The console's webhooks page: the endpoint and its secret (shown once, in the answer to the form
//! that created it, never in a URL), secret rotation, "send test event" and the delivery log.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::console::{error_page, page, redirect, signed, AdminForm};
use super::pages;
use super::ApiQuery;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::webhooks::{self, EndpointView};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/webhooks", get(webhooks_page))
        .route("/admin/webhooks/endpoint", post(set_endpoint))
        .route("/admin/webhooks/rotate", post(rotate))
        .route("/admin/webhooks/test", post(send_test))
}

/// The page for `workspace_id`; `shown` is a secret just created (displayed once) and `notice`
/// what the last form did.
async fn render(
    state: &AppState,
    workspace_id: &str,
    csrf: &str,
    shown: Option<&EndpointView>,
    notice: Option<&str>,
) -> Response {
    let loaded: ApiResult<_> = async {
        Ok((webhooks::endpoint(state, workspace_id).await?, webhooks::deliveries(state, workspace_id).await?))
    }
    .await;
    match loaded {
        Ok((endpoint, deliveries)) => page(
            "Webhooks",
            pages::webhooks(&pages::WebhooksPage {
                endpoint: endpoint.as_ref(),
                new_secret: shown.and_then(|view| view.secret.as_deref()),
                notice,
                deliveries: &deliveries,
                csrf,
            }),
        ),
        Err(err) => error_page(err),
    }
}

async fn webhooks_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(session) = signed(&state, &headers).await else { return redirect("/admin") };
    let notice = query.contains_key("sent").then_some("Test event queued: it appears in the log below.");
    render(&state, &session.workspace_id, &session.csrf, None, notice).await
}

async fn set_endpoint(
    State(state): State<Arc<AppState>>,
    AdminForm { session, fields }: AdminForm,
) -> Response {
    let url = fields.get("url").map(String::as_str).unwrap_or_default();
    match webhooks::set_endpoint(&state, &session.workspace_id, url).await {
        Ok(view) => {
            render(&state, &session.workspace_id, &session.csrf, Some(&view), Some("Endpoint saved.")).await
        }
        Err(err) => error_page(err),
    }
}

async fn rotate(State(state): State<Arc<AppState>>, AdminForm { session, fields }: AdminForm) -> Response {
    // The form offers fixed choices; anything else gets the API's default of a day.
    let overlap = match fields.get("overlap").map(String::as_str) {
        Some("0") => 0,
        Some("3600") => 3600,
        _ => 24 * 3600,
    };
    match webhooks::rotate_secret(&state, &session.workspace_id, overlap).await {
        Ok(view) => {
            let notice = "Secret rotated: until the time shown, deliveries carry signatures of both secrets.";
            render(&state, &session.workspace_id, &session.csrf, Some(&view), Some(notice)).await
        }
        Err(err) => error_page(err),
    }
}

async fn send_test(State(state): State<Arc<AppState>>, AdminForm { session, .. }: AdminForm) -> Response {
    match webhooks::send_test_event(&state, &session.workspace_id).await {
        Ok(_) => redirect("/admin/webhooks?sent=1"),
        Err(err) => error_page(err),
    }
}
