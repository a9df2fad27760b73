//! Who is calling: session tokens on the SDK-facing routes (with CORS driven by the token's
//! allowed origins) and the workspace secret key on the backend-facing ones.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, ORIGIN, VARY,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::future::{self, Either, Ready};
use patchbay_protocol::ErrorCode;
use pin_project_lite::pin_project;
use tower::Service;

use crate::error::ApiError;
use crate::ids::now_unix;
use crate::sessions::{Claims, TokenError};
use crate::state::AppState;
use crate::store::{Owner, Workspace};
use crate::workspaces::secret_key_hash;

/// The caller of an SDK-facing route, from a verified session token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The workspace and user every query is scoped to.
    pub owner: Owner,
    /// The verified token's claims, shared with the verified-token cache rather than copied;
    /// `claims.origins` are the browser origins it allows.
    pub claims: Arc<Claims>,
    /// The page origin of this request, when a browser sent it (already checked against the
    /// token's origins).
    pub origin: Option<String>,
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// In front of each SDK-facing route: answers CORS preflights, verifies the session token and the
/// page's origin, and puts a [`Session`] in the request.
///
/// Preflights carry no token, so they are answered for any origin; the real request is then
/// refused unless its origin is one the token allows. Error responses (which carry no user data)
/// are readable cross-origin so the SDK can report their code; success responses only by an
/// allowed origin.
///
/// Written as a service rather than with `middleware::from_fn`: everything before the route runs
/// synchronously, so the route's future is wrapped in place instead of boxed, and the route is
/// not cloned per request.
#[derive(Clone)]
pub struct SdkSession<S> {
    state: Arc<AppState>,
    inner: S,
}

impl<S> SdkSession<S> {
    /// `inner`, behind the session check.
    pub fn new(state: Arc<AppState>, inner: S) -> Self {
        SdkSession { state, inner }
    }
}

impl<S> Service<Request> for SdkSession<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = WithCors<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let origin = req.headers().get(ORIGIN).cloned();
        let answer = if req.method() == Method::OPTIONS {
            Either::Left(future::ready(Ok(preflight())))
        } else {
            match authenticate(&self.state, req.headers(), origin.as_ref()) {
                Ok(session) => {
                    req.extensions_mut().insert(session);
                    Either::Right(self.inner.call(req))
                }
                Err(err) => Either::Left(future::ready(Ok(err.into_response()))),
            }
        };
        WithCors { answer, origin }
    }
}

pin_project! {
    /// An SDK route's answer, made readable by the page's origin when one was sent.
    pub struct WithCors<F> {
        #[pin]
        answer: Either<Ready<Result<Response, Infallible>>, F>,
        origin: Option<HeaderValue>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for WithCors<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.answer.poll(cx));
        if let Some(origin) = this.origin.take() {
            let headers = response.headers_mut();
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        Poll::Ready(Ok(response))
    }
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
        claims,
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
