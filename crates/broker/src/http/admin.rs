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

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AdminAppList)]
struct AppsBody {
    /// Every app of the catalog.
    apps: Vec<AdminApp>,
}

/// Every app with the workspace's settings.
#[utoipa::path(get, path = "/v1/admin/apps", tag = "admin", operation_id = "adminListApps", security(("secretKey" = [])),
    responses((status = 200, description = "The apps", body = AppsBody)))]
async fn list(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
) -> ApiResult<Json<AppsBody>> {
    Ok(Json(AppsBody { apps: admin::list(&state, &ws.id).await? }))
}

/// One app with the workspace's settings.
#[utoipa::path(get, path = "/v1/admin/apps/{app}", tag = "admin", operation_id = "adminGetApp", security(("secretKey" = [])),
    params(("app" = String, Path, description = "Catalog id of the app")), responses((status = 200, description = "The app", body = AdminApp)))]
async fn one(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<Json<AdminApp>> {
    admin::app(&state, &ws.id, &app).await.map(Json)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = AdminAppSettings)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsBody {
    /// Hidden from the marketplace.
    hidden: bool,
    /// `null` follows the catalog's policy.
    accounts_policy: Option<AccountsPolicy>,
}

/// Hides or shows the app, and overrides its accounts policy.
#[utoipa::path(patch, path = "/v1/admin/apps/{app}", tag = "admin", operation_id = "adminSetApp", security(("secretKey" = [])),
    params(("app" = String, Path, description = "Catalog id of the app")), request_body = SettingsBody,
    responses((status = 200, description = "The app", body = AdminApp)))]
async fn settings(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<SettingsBody>,
) -> ApiResult<Json<AdminApp>> {
    admin::set_visibility(&state, &ws.id, &app, body.hidden, body.accounts_policy).await.map(Json)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = OwnClient)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClientBody {
    /// Client id at the provider.
    client_id: String,
    /// Client secret (stored encrypted, never shown again).
    client_secret: String,
    /// Scopes; the catalog's when empty.
    #[serde(default)]
    scopes: Vec<String>,
}

/// Sets the workspace's own (white-label) OAuth client; it is used once tested and enabled.
#[utoipa::path(put, path = "/v1/admin/apps/{app}/oauth-client", tag = "admin", operation_id = "adminSetOAuthClient", security(("secretKey" = [])),
    params(("app" = String, Path, description = "Catalog id of the app")), request_body = ClientBody,
    responses((status = 200, description = "The app", body = AdminApp)))]
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

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OAuthClientTestStarted)]
#[serde(rename_all = "camelCase")]
struct TestStarted {
    /// For `GET /v1/admin/oauth-tests/{id}`.
    test_id: String,
    /// Open it in a browser to run the test.
    authorize_url: String,
}

/// Starts a test of the workspace's own OAuth client.
#[utoipa::path(post, path = "/v1/admin/apps/{app}/oauth-client/test", tag = "admin", operation_id = "adminTestOAuthClient", security(("secretKey" = [])),
    params(("app" = String, Path, description = "Catalog id of the app")), responses((status = 200, description = "The test to open", body = TestStarted)))]
async fn test(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<Json<TestStarted>> {
    let (test_id, authorize_url) = admin::start_test(&state, &ws.id, &app).await?;
    Ok(Json(TestStarted { test_id, authorize_url }))
}

/// Enables the workspace's own OAuth client (only after a passing test of exactly these settings).
#[utoipa::path(post, path = "/v1/admin/apps/{app}/oauth-client/enable", tag = "admin", operation_id = "adminEnableOAuthClient", security(("secretKey" = [])),
    params(("app" = String, Path, description = "Catalog id of the app")), responses((status = 200, description = "The app", body = AdminApp)))]
async fn enable(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<Json<AdminApp>> {
    admin::enable(&state, &ws.id, &app).await.map(Json)
}

/// An OAuth client test's step log (secrets redacted).
#[utoipa::path(get, path = "/v1/admin/oauth-tests/{id}", tag = "admin", operation_id = "adminGetOAuthTest", security(("secretKey" = [])),
    params(("id" = String, Path, description = "Test id")),
    responses((status = 200, description = "The test", body = TestResult)))]
async fn test_result(
    State(state): State<Arc<AppState>>,
    WorkspaceAuth(ws): WorkspaceAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TestResult>> {
    admin::test_result(&state, &ws.id, &id).await.map(Json)
}
