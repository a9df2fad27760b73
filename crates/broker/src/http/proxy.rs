//! `/v1/proxy/{accountId}/{path…}`: the backend proxy (workspace secret key).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use super::auth::WorkspaceAuth;
use super::ApiPath;
use crate::error::ApiResult;
use crate::proxy::{proxy, ProxyRequest};
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/proxy/{account}/{*path}", any(forward))
}

/// Sends the request, with the account's credentials injected, to the account's app at
/// `{app base URL}/{path}` (query and body as sent).
#[utoipa::path(method(get, put, post, delete, options, head, patch, trace), path = "/v1/proxy/{account}/{path}",
    tag = "proxy", operation_id = "proxy", security(("secretKey" = [])),
    params(
        ("account" = String, Path, description = "Account id (`ca_…`) in the workspace"),
        ("path" = String, Path, description = "The path at the app, `/` included"),
    ),
    responses((status = "2XX", description = "The app's answer as it sent it (statuses of every class pass through; an error body in the broker's format means the broker answered)")))]
async fn forward(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(workspace): WorkspaceAuth,
    ApiPath((account, _)): ApiPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // The raw path, not the decoded wildcard: `%2F` inside a segment must reach the app as sent.
    let path = uri.path().splitn(5, '/').nth(4).map(|rest| format!("/{rest}")).unwrap_or_default();
    let request = ProxyRequest { method, path, query: uri.query().map(str::to_owned), headers, body };
    let answer = proxy(&state, &workspace.id, &account, request).await?;
    Ok((answer.status, answer.headers, Body::from_stream(answer.body)).into_response())
}
