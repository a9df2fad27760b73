//! The catalog as the session's user sees it, and connecting an app.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use patchbay_protocol::{
    AppDetail, AppEntry, AppEntryList, AppListing, AppPage, AppSummary, AuthType, ConnectRequest,
    ConnectResponse,
};

use super::auth::Session;
use super::ApiJson;
use super::ApiPath;
use crate::accounts::{connect_with_credentials, effective_policy, to_wire, SaveOutcome};
use crate::catalog::App;
use crate::error::ApiResult;
use crate::oauth::clients::can_connect;
use crate::oauth::connect::{start, Caller};
use crate::state::AppState;
use crate::store::AppSettings;
use crate::workspaces::visible_app;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/apps", get(list))
        .route("/v1/apps/{app}", get(detail))
        .route("/v1/apps/{app}/connect", post(connect))
}

fn summary(app: &App, settings: Option<&AppSettings>, connected_accounts: u32) -> AppSummary {
    AppSummary {
        id: app.id.clone(),
        name: app.name.clone(),
        description: app.description.clone(),
        auth_type: app.auth,
        accounts_policy: effective_policy(app, settings),
        connected_accounts,
    }
}

/// Category, tile, docs link, and whether this workspace's users can connect the app now.
fn listing(app: &App, settings: Option<&AppSettings>) -> AppListing {
    let (usable, requires_own_client) = match &app.oauth2 {
        None => (true, false),
        Some(oauth) => (can_connect(oauth, settings), oauth.requires_own_client),
    };
    AppListing {
        category: app.category.clone(),
        icon: app.icon.clone(),
        docs_url: app.docs.as_ref().map(ToString::to_string),
        usable,
        requires_own_client,
        builtin: app.builtin,
    }
}

/// Apps the workspace shows, with the user's account counts.
#[utoipa::path(get, path = "/v1/apps", tag = "sdk", operation_id = "listApps",
    security(("sessionToken" = [])),
    responses((status = 200, description = "The marketplace's apps", body = AppEntryList)))]
async fn list(State(state): State<Arc<AppState>>, session: Session) -> ApiResult<Json<AppEntryList>> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for account in state.store.accounts(&session.owner, None).await? {
        *counts.entry(account.app_id).or_default() += 1;
    }
    let settings: HashMap<String, AppSettings> = state
        .store
        .app_settings(&session.owner.workspace_id)
        .await?
        .into_iter()
        .map(|s| (s.app_id.clone(), s))
        .collect();
    let apps = state
        .catalog
        .apps()
        .filter(|app| !settings.get(&app.id).is_some_and(|s| s.hidden))
        .map(|app| AppEntry {
            summary: summary(app, settings.get(&app.id), counts.get(&app.id).copied().unwrap_or(0)),
            listing: listing(app, settings.get(&app.id)),
        })
        .collect();
    Ok(Json(AppEntryList { apps }))
}

/// An app's auth type, credential fields, accounts policy and functions.
#[utoipa::path(get, path = "/v1/apps/{app}", tag = "sdk", operation_id = "getApp",
    security(("sessionToken" = [])), params(("app" = String, Path, description = "Catalog id of the app (`hubspot`)")),
    responses((status = 200, description = "The app", body = AppPage)))]
async fn detail(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(app_id): ApiPath<String>,
) -> ApiResult<Json<AppPage>> {
    let (app, settings) = visible_app(&state, &session.owner.workspace_id, &app_id).await?;
    let connected = state.store.accounts(&session.owner, Some(&app.id)).await?.len();
    let detail = AppDetail {
        summary: summary(app, Some(&settings), u32::try_from(connected).unwrap_or(u32::MAX)),
        fields: app.fields.clone(),
        functions: app
            .functions
            .iter()
            .map(|f| patchbay_protocol::FunctionSummary { name: f.name.clone(), title: f.title.clone() })
            .collect(),
    };
    Ok(Json(AppPage { detail, listing: listing(app, Some(&settings)) }))
}

/// Connects the app: verifies and saves credentials, or starts an OAuth 2.0 attempt.
#[utoipa::path(post, path = "/v1/apps/{app}/connect", tag = "sdk", operation_id = "connectApp",
    security(("sessionToken" = [])), params(("app" = String, Path, description = "Catalog id of the app (`hubspot`)")), request_body = ConnectRequest,
    responses(
        (status = 201, description = "Credentials verified and saved as a new account", body = ConnectResponse),
        (status = 200, description = "An account reconnected in place, or (OAuth 2.0) the attempt to follow", body = ConnectResponse),
    ))]
async fn connect(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(request): ApiJson<ConnectRequest>,
) -> ApiResult<(StatusCode, Json<ConnectResponse>)> {
    let (app, _) = visible_app(&state, &session.owner.workspace_id, &app_id).await?;
    if app.auth == AuthType::Oauth2 {
        let caller =
            Caller { owner: session.owner, origins: session.claims.origins.clone(), origin: session.origin };
        let started =
            start(&state, &caller, app, request.connected_account_id, request.return_to, request.fields)
                .await?;
        return Ok((StatusCode::OK, Json(started)));
    }
    let SaveOutcome { account, reconnected } =
        connect_with_credentials(&state, &session.owner, app, request.connected_account_id, request.fields)
            .await?;
    let status = if reconnected { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(ConnectResponse::Connected { account: to_wire(account), reconnected })))
}
