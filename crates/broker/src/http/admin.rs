//! The admin API (workspace secret key): app visibility and policy, and the workspace's own
//! OAuth client (set, test, enable).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use patchbay_protocol::AccountsPolicy;
use serde::{Deserialize, Serialize};

use super::auth::WorkspaceAuth;
use super::ApiJson;
use super::ApiPath;
use crate::admin::{self, AdminApp, TestResult};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/admin/apps", get(list))
        .route("/v1/admin/apps/{app}", get(one).patch(settings))
        .route("/v1/admin/apps/{app}/oauth-client", put(set_client))
        .route("/v1/admin/apps/{app}/oauth-client/test", post(test))
        .route("/v1/admin/apps/{app}/oauth-client/enable", post(enable))
        .route("/v1/admin/oauth-tests/{id}", get(test_result))
}

#[derive(Serialize)]
struct AppsBody {
    apps: Vec<AdminApp>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
) -> ApiResult<Json<AppsBody>> {
    Ok(Json(AppsBody { apps: admin::list(&state, &ws.id).await? }))
}

async fn one(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<Json<AdminApp>> {
    admin::app(&state, &ws.id, &app).await.map(Json)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsBody {
    hidden: bool,
    /// `null` follows the catalog's policy.
    accounts_policy: Option<AccountsPolicy>,
}

async fn settings(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<SettingsBody>,
) -> ApiResult<Json<AdminApp>> {
    admin::set_visibility(&state, &ws.id, &app, body.hidden, body.accounts_policy).await.map(Json)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientBody {
    client_id: String,
    client_secret: String,
    #[serde(default)]
    scopes: Vec<String>,
}

async fn set_client(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<ClientBody>,
) -> ApiResult<Json<AdminApp>> {
    admin::set_own_client(&state, &ws.id, &app, &body.client_id, &body.client_secret, &body.scopes)
        .await
        .map(Json)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestStarted {
    test_id: String,
    authorize_url: String,
}

async fn test(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<Json<TestStarted>> {
    let (test_id, authorize_url) = admin::start_test(&state, &ws.id, &app).await?;
    Ok(Json(TestStarted { test_id, authorize_url }))
}

async fn enable(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<Json<AdminApp>> {
    admin::enable(&state, &ws.id, &app).await.map(Json)
}

async fn test_result(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TestResult>> {
    admin::test_result(&state, &ws.id, &id).await.map(Json)
}
