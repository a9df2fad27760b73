//! The outermost middleware: gives each request its id, logs one line per request and returns
//! the id in `x-request-id`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::HOST;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
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

/// Warns once when the broker is reached under another host than `public_url`: the OAuth
/// redirect URI registered at providers is built from it, so connects would fail at the provider.
fn check_public_url(state: &AppState, req: &Request) {
    let headers = req.headers();
    let host = headers.get(FORWARDED_HOST).or_else(|| headers.get(HOST)).and_then(|v| v.to_str().ok());
    if let Some(host) = host.filter(|h| !state.config.reached_as(h)) {
        if !state.public_url_mismatch.swap(true, Ordering::Relaxed) {
            let public_url = state.config.public_url();
            tracing::warn!(%public_url, reached_as = %host, "the broker is reached under another host than public_url: set PATCHBAY_PUBLIC_URL to the URL browsers use");
        }
    }
}

pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(request_id, str::to_owned);
    check_public_url(&state, &req);
    let method = req.method().clone();
    // Cloned, not copied out: a `MatchedPath` is a shared string.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = route(matched.as_ref());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = with_request_id(id.clone(), next.run(req)).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.request(&method, route, status, latency.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(status, latency_ms = latency.as_secs_f64() * 1000.0, "request");
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
