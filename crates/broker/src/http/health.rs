//! `/healthz` (the process answers) and `/readyz` (and its database does).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Names each dependency and whether it answers; the cause goes to the log only, since it may
/// name internal hosts.
/// Readiness: names each dependency and whether it answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses(
        (status = 200, description = "`{status: \"ok\", checks: {database: \"ok\"}}`", body = Object),
        (status = 503, description = "`{status: \"unavailable\", failing: [\"database\"], checks: {database: \"unreachable\"}}`", body = Object),
    ))]
async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok", "checks": { "database": "ok" } }))),
        Err(err) => {
            tracing::warn!(error = %err, dependency = "database", "not ready");
            let body = json!({ "status": "unavailable", "failing": ["database"], "checks": { "database": "unreachable" } });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
