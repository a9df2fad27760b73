//! The HTTP surface: one router per resource, merged by [`router`].

mod accounts;
mod admin;
mod apps;
mod assets;
mod auth;
mod console;
mod functions;
mod health;
mod oauth;
mod sessions;
pub mod steps;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use patchbay_protocol::ErrorCode;
use tower_http::trace::TraceLayer;

pub use apps::{account_not_found, effective_policy, find_app};
pub use auth::{secret_key_hash, Session};
pub use oauth::{begin as begin_attempt, redirect_uri, AttemptTarget};
pub use sessions::mint as mint_session;

use crate::error::ApiError;
use crate::state::AppState;

/// The whole broker as one router.
pub fn router(state: Arc<AppState>) -> Router {
    let sdk = Router::new()
        .merge(apps::router())
        .merge(accounts::router())
        .merge(oauth::router())
        .merge(functions::router())
        // Set before the layer so the session middleware also fronts 405s, which is where CORS
        // preflights (OPTIONS) land.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), auth::sdk_session));
    Router::new()
        .merge(sdk)
        .merge(sessions::router())
        .merge(admin::router())
        .merge(console::router())
        .merge(assets::router())
        .merge(oauth::callback_router())
        .merge(health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The path only: query strings can carry OAuth codes and states.
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept that method")
}

/// `Json` whose rejections are [`ApiError`]s (stable codes instead of axum's plain text).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::from(rejection).into_response()),
        }
    }
}
