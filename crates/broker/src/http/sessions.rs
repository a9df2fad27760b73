//! `POST /v1/sessions`: the workspace's backend mints a session token for one of its users.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use patchbay_protocol::{FieldError, SessionRequest, SessionResponse};

use super::auth::WorkspaceAuth;
use super::ApiJson;
use crate::error::{ApiError, ApiResult};
use crate::ids::{now_unix, rfc3339};
use crate::sessions::{normalize_origin, sign, Claims};
use crate::state::AppState;

const MAX_ORIGINS: usize = 20;
const MAX_USER_ID_LEN: usize = 256;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/sessions", post(create))
}

async fn create(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(workspace): WorkspaceAuth,
    ApiJson(request): ApiJson<SessionRequest>,
) -> ApiResult<Json<SessionResponse>> {
    mint(&state, &workspace.id, request).map(Json)
}

/// Validates a session request and signs its token (also used by the CLI).
pub fn mint(state: &AppState, workspace_id: &str, request: SessionRequest) -> ApiResult<SessionResponse> {
    let mut problems = Vec::new();
    let user_id = request.user_id.trim();
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_LEN || user_id.chars().any(char::is_control) {
        problems.push(FieldError {
            field: "userId".into(),
            reason: format!("must be 1 to {MAX_USER_ID_LEN} printable characters"),
        });
    }
    let max = state.config.session_max_ttl_seconds;
    let ttl = request.ttl_seconds.unwrap_or(state.config.session_default_ttl_seconds);
    if ttl == 0 || ttl > max {
        problems
            .push(FieldError { field: "ttlSeconds".into(), reason: format!("must be between 1 and {max}") });
    }
    if request.allowed_origins.len() > MAX_ORIGINS {
        problems.push(FieldError {
            field: "allowedOrigins".into(),
            reason: format!("at most {MAX_ORIGINS} origins"),
        });
    }
    let mut origins = Vec::new();
    for (i, origin) in request.allowed_origins.iter().enumerate() {
        match normalize_origin(origin) {
            Ok(o) => origins.push(o),
            Err(reason) => {
                problems.push(FieldError { field: format!("allowedOrigins[{i}]"), reason: reason.into() })
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    let now = now_unix();
    let exp = now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
    let claims = Claims {
        kid: state.keyring.active_id().to_owned(),
        ws: workspace_id.to_owned(),
        sub: user_id.to_owned(),
        origins,
        iat: now,
        exp,
    };
    let token = sign(&state.keyring, &claims).ok_or_else(|| ApiError::internal("session signing failed"))?;
    Ok(SessionResponse { token, expires_at: rfc3339(exp) })
}
