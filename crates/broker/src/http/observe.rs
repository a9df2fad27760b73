//! The outermost layer: gives each request its id, logs one line per request, records its metrics
//! and returns the id in `x-request-id`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header::HOST;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::Service;
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::ids::request_id;
use crate::state::AppState;
use crate::telemetry::{acceptable_request_id, with_request_id};

/// The header carrying the request id both ways. Names are constants because every request looks
/// them up: a `&str` name is parsed again at each lookup.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The route template (`/v1/accounts/{id}`), never the raw path: paths carry account ids, and
/// query strings carry OAuth codes and states.
fn route(matched: Option<&MatchedPath>) -> &str {
    matched.map_or("unmatched", MatchedPath::as_str)
}

/// In front of each route, outermost: see the module docs.
///
/// A hand-written service rather than `middleware::from_fn`, for the reasons of
/// [`super::auth::SdkSession`]: the route's future is wrapped in place, not boxed, and the route
/// is not cloned per request.
#[derive(Clone)]
pub struct Observe<S> {
    state: Arc<AppState>,
    inner: S,
}

impl<S> Observe<S> {
    /// `inner`, observed.
    pub fn new(state: Arc<AppState>, inner: S) -> Self {
        Observe { state, inner }
    }
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let id = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| acceptable_request_id(v))
            .map_or_else(request_id, str::to_owned);
        let headers = req.headers();
        if let Some(host) = headers.get(FORWARDED_HOST).or_else(|| headers.get(HOST)) {
            self.state.public_url_check.check(&self.state.config, host);
        }
        let method = req.method().clone();
        // Cloned, not copied out: a `MatchedPath` is a shared string.
        let matched = req.extensions().get::<MatchedPath>().cloned();
        let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route(matched.as_ref()));
        let started = Instant::now();
        // The layer wraps axum routes, which start their work when first polled: inside the
        // request id's scope and the span below, so error bodies and log lines carry the id.
        let answer = self.inner.call(req);
        Observed {
            header: HeaderValue::from_str(&id).ok(),
            answer: with_request_id(id, answer).instrument(span),
            state: self.state.clone(),
            method,
            matched,
            started,
        }
    }
}

pin_project! {
    /// A route's answer, logged, counted and given its request id when it completes.
    pub struct Observed<F> {
        #[pin]
        answer: Instrumented<TaskLocalFuture<String, F>>,
        header: Option<HeaderValue>,
        state: Arc<AppState>,
        method: Method,
        matched: Option<MatchedPath>,
        started: Instant,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Observed<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Ok(mut response) = ready!(this.answer.as_mut().poll(cx));
        let latency = this.started.elapsed();
        let status = response.status().as_u16();
        this.state.metrics.request(this.method, route(this.matched.as_ref()), status, latency.as_secs_f64());
        this.answer.span().in_scope(|| {
            tracing::info!(status, latency_ms = latency.as_secs_f64() * 1000.0, "request");
        });
        if let Some(value) = this.header.take() {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        Poll::Ready(Ok(response))
    }
}
