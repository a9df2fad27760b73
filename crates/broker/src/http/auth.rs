//! Who is calling: session tokens on the SDK-facing routes (with CORS driven by the token's
//! allowed origins) and the workspace secret key on the backend-facing ones.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, ORIGIN, VARY,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use patchbay_protocol::ErrorCode;

use crate::error::ApiError;
use crate::ids::now_unix;
use crate::sessions::TokenError;
use crate::state::AppState;
use crate::store::{Owner, Workspace};
use crate::workspaces::secret_key_hash;

/// The caller of an SDK-facing route, from a verified session token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The workspace and user every query is scoped to.
    pub owner: Owner,
    /// The browser origins the token allows.
    pub origins: Vec<String>,
    /// The page origin of this request, when a browser sent it (already checked against `origins`).
    pub origin: Option<String>,
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// Middleware for SDK-facing routes: answers CORS preflights, verifies the session token and the
/// page's origin, and puts a [`Session`] in the request.
///
/// Preflights carry no token, so they are answered for any origin; the real request is then
/// refused unless its origin is one the token allows. Error responses (which carry no user data)
/// are readable cross-origin so the SDK can report their code; success responses only by an
/// allowed origin.
pub async fn sdk_session(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let origin = req.headers().get(ORIGIN).cloned();
    let mut response = if req.method() == Method::OPTIONS {
        preflight()
    } else {
        match authenticate(&state, req.headers(), origin.as_ref()) {
            Ok(session) => {
                req.extensions_mut().insert(session);
                next.run(req).await
            }
            Err(err) => err.into_response(),
        }
    };
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, DELETE"),
            (ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type"),
            (ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    origin: Option<&HeaderValue>,
) -> Result<Session, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::new(ErrorCode::Unauthorized, "send the session token as `Authorization: Bearer <token>`")
    })?;
    let claims =
        state.verified_tokens.verify(&state.keyring, token, now_unix()).map_err(|err| match err {
            TokenError::Invalid => ApiError::new(ErrorCode::Unauthorized, "invalid session token"),
            TokenError::Expired => ApiError::new(
                ErrorCode::SessionExpired,
                "the session token has expired; mint a new one on your backend",
            ),
        })?;
    if let Some(origin) = origin {
        let origin = origin.to_str().unwrap_or_default();
        if !claims.origins.iter().any(|allowed| allowed == origin) {
            return Err(ApiError::new(
                ErrorCode::OriginNotAllowed,
                format!("this session token is not valid on {origin}: add it to allowedOrigins when minting"),
            ));
        }
    }
    let origin = origin.and_then(|o| o.to_str().ok()).map(str::to_owned);
    Ok(Session {
        owner: Owner { workspace_id: claims.ws.clone(), user_id: claims.sub.clone() },
        origins: claims.origins.clone(),
        origin,
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = ApiError;

    /// Takes the session out of the request rather than copying it: a handler extracts it once.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .remove::<Session>()
            .ok_or_else(|| ApiError::internal("route without the session middleware"))
    }
}

/// The caller of a backend-facing route, authenticated by the workspace secret key.
pub struct WorkspaceAuth(pub Workspace);

impl FromRequestParts<Arc<AppState>> for WorkspaceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let unauthorized = || {
            ApiError::new(
                ErrorCode::Unauthorized,
                "send the workspace secret key as `Authorization: Bearer pb_sk_…`",
            )
        };
        let key = bearer(&parts.headers).filter(|k| k.starts_with("pb_sk_")).ok_or_else(unauthorized)?;
        let workspace =
            state.store.workspace_by_secret_hash(&secret_key_hash(key)).await?.ok_or_else(unauthorized)?;
        Ok(WorkspaceAuth(workspace))
    }
}
