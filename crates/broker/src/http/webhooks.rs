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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetBody {
    url: String,
}

async fn set(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiJson(body): ApiJson<SetBody>,
) -> ApiResult<Json<EndpointView>> {
    webhooks::set_endpoint(&state, &ws.id, &body.url).await.map(Json)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RotateBody {
    overlap_seconds: Option<i64>,
}

async fn rotate(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiJson(body): ApiJson<RotateBody>,
) -> ApiResult<Json<EndpointView>> {
    let overlap = body.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECONDS);
    webhooks::rotate_secret(&state, &ws.id, overlap).await.map(Json)
}

#[derive(Serialize)]
struct DeliveriesBody {
    deliveries: Vec<Delivery>,
}

async fn deliveries(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
) -> ApiResult<Json<DeliveriesBody>> {
    Ok(Json(DeliveriesBody { deliveries: webhooks::deliveries(&state, &ws.id).await? }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestBody {
    webhook_id: String,
}

async fn test(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
) -> ApiResult<Json<TestBody>> {
    Ok(Json(TestBody { webhook_id: webhooks::send_test_event(&state, &ws.id).await? }))
}
