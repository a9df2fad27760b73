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

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Names each dependency and whether it answers; the cause goes to the log only, since it may
/// name internal hosts.
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
