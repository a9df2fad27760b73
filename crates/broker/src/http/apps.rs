//! The catalog as the session's user sees it, and connecting an app.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use patchbay_protocol::{
    AccountsPolicy, AppDetail, AppEntry, AppEntryList, AppListing, AppPage, AppSummary, AuthType,
    ConnectRequest, ConnectResponse, ErrorCode,
};
use sha2::{Digest, Sha256};

use super::accounts::to_wire;
use super::auth::Session;
use super::ApiJson;
use crate::catalog::App;
use crate::credentials::{validate_fields, verify};
use crate::error::{ApiError, ApiResult};
use crate::ids::random_id;
use crate::state::AppState;
use crate::store::{AccountRecord, AppSettings, NewCredentials, Owner, Target};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/apps", get(list))
        .route("/v1/apps/{app}", get(detail))
        .route("/v1/apps/{app}/connect", post(connect))
}

/// The catalog app named in a path, or APP_NOT_FOUND.
pub fn find_app<'a>(state: &'a AppState, id: &str) -> ApiResult<&'a Arc<App>> {
    state
        .catalog
        .app(id)
        .ok_or_else(|| ApiError::new(ErrorCode::AppNotFound, format!("no app `{id}` in the catalog")))
}

/// The accounts policy in force: the workspace's choice, else the catalog's.
pub fn effective_policy(app: &App, settings: Option<&AppSettings>) -> AccountsPolicy {
    settings.and_then(|s| s.accounts_policy).unwrap_or(app.accounts)
}

/// The app for a user of `workspace_id`: APP_NOT_FOUND if the catalog lacks it or the workspace hid it.
pub async fn visible_app<'a>(
    state: &'a AppState,
    workspace_id: &str,
    id: &str,
) -> ApiResult<(&'a Arc<App>, AppSettings)> {
    let app = find_app(state, id)?;
    let settings = state.store.app_setting(workspace_id, id).await?;
    if settings.hidden {
        return Err(ApiError::new(ErrorCode::AppNotFound, format!("no app `{id}` in the catalog")));
    }
    Ok((app, settings))
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
    let own_client = settings.is_some_and(|s| s.own_client_enabled && s.own_client_id.is_some());
    let (usable, requires_own_client) = match &app.oauth2 {
        None => (true, false),
        Some(oauth) => (
            own_client || (oauth.default_client.is_some() && !oauth.requires_own_client),
            oauth.requires_own_client,
        ),
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

async fn detail(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(app_id): Path<String>,
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

async fn connect(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(app_id): Path<String>,
    ApiJson(request): ApiJson<ConnectRequest>,
) -> ApiResult<(StatusCode, Json<ConnectResponse>)> {
    let (app, _) = visible_app(&state, &session.owner.workspace_id, &app_id).await?;
    if app.auth == AuthType::Oauth2 {
        let started = super::oauth::start(
            &state,
            &session,
            app,
            request.connected_account_id,
            request.return_to,
            request.fields,
        )
        .await?;
        return Ok((StatusCode::OK, Json(started)));
    }
    let owner = &session.owner;
    if let Some(id) = &request.connected_account_id {
        if state.store.account(owner, id).await?.is_none_or(|a| a.app_id != app.id) {
            return Err(account_not_found());
        }
    }
    let creds = validate_fields(app, request.fields)?;
    let verified = verify(app, &creds, &state.upstreams).await?;
    let sealed = creds.seal(&state.keyring, owner, &app.id)?;
    let new = NewCredentials {
        app_id: app.id.clone(),
        display_name: verified.display_name,
        credentials: sealed,
        access_expires_at: None,
        oauth_client_id: None,
    };
    let SaveOutcome { account, reconnected } =
        save_credentials(&state, owner, app, request.connected_account_id, verified.identity, new).await?;
    tracing::info!(account = %account.id, app = %app.id, reconnected, "account connected");
    let status = if reconnected { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(ConnectResponse::Connected { account: to_wire(account), reconnected })))
}

/// A saved account and whether it existed before.
pub struct SaveOutcome {
    /// The account.
    pub account: AccountRecord,
    /// True when an existing account was updated in place.
    pub reconnected: bool,
}

/// Saves verified credentials where the accounts policy puts them: the named account, the single
/// account under "one", or the account with the same upstream identity under "multiple".
pub async fn save_credentials(
    state: &AppState,
    owner: &Owner,
    app: &App,
    target_account_id: Option<String>,
    identity: Option<String>,
    new: NewCredentials,
) -> ApiResult<SaveOutcome> {
    let policy = match &target_account_id {
        Some(_) => app.accounts,
        None => effective_policy(app, Some(&state.store.app_setting(&owner.workspace_id, &app.id).await?)),
    };
    let target = match (target_account_id, policy, identity) {
        (Some(id), _, _) => Target::Account(id),
        (None, AccountsPolicy::One, _) => Target::Slot("one".into()),
        // Hashed: an identity can be an email, or (for a careless catalog) the key itself.
        (None, AccountsPolicy::Multiple, Some(identity)) => {
            Target::Slot(format!("identity:{:x}", Sha256::digest(identity.as_bytes())))
        }
        (None, AccountsPolicy::Multiple, None) => Target::Slot(random_id("slot")),
    };
    let (account, reconnected) =
        state.store.save_account(owner, &target, &new).await?.ok_or_else(account_not_found)?;
    Ok(SaveOutcome { account, reconnected })
}

/// The one answer for an account id that is missing or belongs to someone else.
pub fn account_not_found() -> ApiError {
    ApiError::new(ErrorCode::AccountNotFound, "no such connected account")
}
