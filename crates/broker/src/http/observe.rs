//! The outermost middleware: gives each request its id, logs one line per request and returns
//! the id in `x-request-id`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::ids::random_id;
use crate::metrics::RequestLabels;
use crate::state::AppState;
use crate::telemetry::{acceptable_request_id, with_request_id};

/// The header carrying the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The route template (`/v1/accounts/{id}`), never the raw path: paths carry account ids, and
/// query strings carry OAuth codes and states.
pub fn route(req: &Request) -> String {
    req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
}

pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(|| random_id("req"), str::to_owned);
    let method = req.method().clone();
    let route = route(&req);
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = with_request_id(id.clone(), next.run(req)).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    let labels = RequestLabels { method: method.to_string(), route, status };
    state.metrics.requests.get_or_create(&labels).inc();
    state.metrics.request_seconds.get_or_create(&labels).observe(latency.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(status, latency_ms = latency.as_secs_f64() * 1000.0, "request");
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
