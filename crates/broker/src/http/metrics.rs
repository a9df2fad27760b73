//! `/metrics`: the OpenMetrics text Prometheus scrapes, behind an optional bearer token.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use patchbay_protocol::ErrorCode;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/metrics", get(metrics))
}

/// Prometheus metrics; the bearer token is needed only when `PATCHBAY_METRICS_TOKEN` is set.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    security((), ("metricsToken" = [])),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        let sent = super::auth::bearer(&headers).unwrap_or_default();
        if !bool::from(sent.as_bytes().ct_eq(token.0.as_bytes())) {
            return ApiError::new(
                ErrorCode::Unauthorized,
                "send the metrics token as `Authorization: Bearer <token>`",
            )
            .into_response();
        }
    }
    state.metrics.db_connections.set(i64::from(state.store.open_connections()));
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
        .into_response()
}
