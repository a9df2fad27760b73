//! `POST /v1/sessions`: the workspace's backend mints a session token for one of its users.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use patchbay_protocol::{SessionRequest, SessionResponse};

use super::auth::WorkspaceAuth;
use super::ApiJson;
use crate::error::ApiResult;
use crate::sessions::mint;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/sessions", post(create))
}

/// Mints a session token for one of the workspace's users.
#[utoipa::path(post, path = "/v1/sessions", tag = "backend", operation_id = "createSession",
    security(("secretKey" = [])), request_body = SessionRequest,
    responses((status = 200, description = "The token to hand to the page", body = SessionResponse)))]
async fn create(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(workspace): WorkspaceAuth,
    ApiJson(request): ApiJson<SessionRequest>,
) -> ApiResult<Json<SessionResponse>> {
    mint(&state.config, &state.keyring, &workspace.id, request).map(Json)
}
