//! The HTTP surface: one router per resource, merged by [`router`].

mod accounts;
mod admin;
mod apps;
mod assets;
mod auth;
mod console;
mod console_webhooks;
mod functions;
mod health;
mod metrics;
mod oauth;
mod observe;
mod openapi;
mod pages;
mod proxy;
mod sessions;
mod webhooks;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::Router;
use bytes::Bytes;
use patchbay_protocol::ErrorCode;
use tower::layer::{layer_fn, LayerFn};
use tower::ServiceBuilder;

pub use auth::Session;
pub use observe::REQUEST_ID_HEADER;

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
        .layer(with_state(&state, auth::SdkSession::new));
    Router::new()
        .merge(sdk)
        .merge(sessions::router())
        .merge(admin::router())
        .merge(proxy::router())
        .merge(webhooks::router())
        .merge(console::router())
        .merge(assets::router())
        .merge(oauth::callback_router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One `layer` call: each wraps every route in another boxed, cloned-per-request level.
        // `observe` is outermost so every answer, the body limit's included, gets an id and a log
        // line.
        .layer(
            ServiceBuilder::new()
                .layer(with_state(&state, observe::Observe::new))
                .layer(DefaultBodyLimit::max(state.config.max_body_bytes)),
        )
        .with_state(state)
}

/// A layer putting `service(state, route)` in front of each route.
fn with_state<R, S>(
    state: &Arc<AppState>,
    service: fn(Arc<AppState>, R) -> S,
) -> LayerFn<impl Fn(R) -> S + Clone> {
    let state = state.clone();
    layer_fn(move |route| service(state.clone(), route))
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept that method")
}

/// `Path` whose rejections are [`ApiError`]s: a segment such as `%FF` that does not decode to
/// UTF-8 is a BAD_REQUEST in the error format, not axum's plain-text "Invalid URL".
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            // The rejection's text quotes the undecodable bytes; a fixed message says enough.
            Err(_) => Err(ApiError::new(
                ErrorCode::BadRequest,
                "a value in the URL path is not valid percent-encoded UTF-8",
            )),
        }
    }
}

/// `Query` whose rejections are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::new(ErrorCode::BadRequest, rejection.body_text())),
        }
    }
}

/// `Json` whose rejections are [`ApiError`]s (stable codes instead of axum's plain text).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = axum::response::Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // What the SDK sends: a plain `application/json` body is parsed as is, without parsing
        // the media type or tracking the path into the document. Anything else, and any body
        // that does not parse, goes through axum's extractor, whose rejection names the problem.
        let plain = req.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json");
        let parsed = if plain {
            match Bytes::from_request(req, state).await {
                Ok(body) => match serde_json::from_slice(&body) {
                    Ok(value) => return Ok(ApiJson(value)),
                    Err(_) => axum::Json::<T>::from_bytes(&body),
                },
                Err(rejection) => Err(JsonRejection::from(rejection)),
            }
        } else {
            axum::Json::<T>::from_request(req, state).await
        };
        parsed
            .map(|axum::Json(value)| ApiJson(value))
            .map_err(|rejection| ApiError::from(rejection).into_response())
    }
}
