//! The workspace's webhook endpoint (admin API, workspace secret key).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::WorkspaceAuth;
use super::ApiJson;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::Delivery;
use crate::webhooks::{self, EndpointView};

/// How long a rotated-out secret keeps signing when the caller does not say.
const DEFAULT_OVERLAP_SECONDS: i64 = 24 * 3600;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/admin/webhook", put(set))
        .route("/v1/admin/webhook/rotate", post(rotate))
        .route("/v1/admin/webhook/test", post(test))
        .route("/v1/admin/webhook/deliveries", get(deliveries))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpoint)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetBody {
    /// Where to POST events (an https URL the broker may call).
    url: String,
}

/// Sets the webhook endpoint; the first time, returns its `whsec_` secret (shown once).
#[utoipa::path(put, path = "/v1/admin/webhook", tag = "webhooks", operation_id = "setWebhook", security(("secretKey" = [])),
    request_body = SetBody, responses((status = 200, description = "The endpoint", body = EndpointView)))]
async fn set(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiJson(body): ApiJson<SetBody>,
) -> ApiResult<Json<EndpointView>> {
    webhooks::set_endpoint(&state, &ws.id, &body.url).await.map(Json)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(as = WebhookRotation)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateBody {
    /// How long the previous secret keeps signing (default a day).
    overlap_seconds: Option<i64>,
}

/// Replaces the signing secret; the previous one keeps signing for the overlap.
#[utoipa::path(post, path = "/v1/admin/webhook/rotate", tag = "webhooks", operation_id = "rotateWebhookSecret", security(("secretKey" = [])),
    request_body = RotateBody, responses((status = 200, description = "The new secret", body = EndpointView)))]
async fn rotate(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiJson(body): ApiJson<RotateBody>,
) -> ApiResult<Json<EndpointView>> {
    let overlap = body.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECONDS);
    webhooks::rotate_secret(&state, &ws.id, overlap).await.map(Json)
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDeliveries)]
struct DeliveriesBody {
    /// The workspace's deliveries.
    deliveries: Vec<Delivery>,
}

/// The delivery log: attempts, next retry, last status.
#[utoipa::path(get, path = "/v1/admin/webhook/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries", security(("secretKey" = [])),
    responses((status = 200, description = "The log", body = DeliveriesBody)))]
async fn deliveries(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
) -> ApiResult<Json<DeliveriesBody>> {
    Ok(Json(DeliveriesBody { deliveries: webhooks::deliveries(&state, &ws.id).await? }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookTestQueued)]
#[serde(rename_all = "camelCase")]
struct TestBody {
    /// The queued event's `webhook-id`.
    webhook_id: String,
}

/// Queues a signed `webhook.test` event.
#[utoipa::path(post, path = "/v1/admin/webhook/test", tag = "webhooks", operation_id = "testWebhook", security(("secretKey" = [])),
    responses((status = 200, description = "Queued", body = TestBody)))]
async fn test(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
) -> ApiResult<Json<TestBody>> {
    Ok(Json(TestBody { webhook_id: webhooks::send_test_event(&state, &ws.id).await? }))
}
