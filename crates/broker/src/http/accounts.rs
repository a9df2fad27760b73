//! Listing and disconnecting the session user's accounts.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use patchbay_protocol::{AccountList, ConnectedAccount};

use super::apps::{account_not_found, find_app};
use super::auth::Session;
use crate::catalog::App;
use crate::credentials::Credentials;
use crate::error::ApiResult;
use crate::ids::rfc3339;
use crate::oauth::clients;
use crate::oauth::revoke;
use crate::state::AppState;
use crate::store::{AccountRecord, Owner};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/apps/{app}/accounts", get(list)).route("/v1/accounts/{id}", delete(disconnect))
}

/// The browser-safe view of a stored account (no credentials).
pub fn to_wire(account: AccountRecord) -> ConnectedAccount {
    ConnectedAccount {
        id: account.id,
        app_id: account.app_id,
        display_name: account.display_name,
        status: account.status,
        created_at: rfc3339(account.created_at),
        updated_at: rfc3339(account.updated_at),
    }
}

async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(app_id): Path<String>,
) -> ApiResult<Json<AccountList>> {
    let app = find_app(&state, &app_id)?;
    let accounts = state.store.accounts(&session.owner, Some(&app.id)).await?;
    Ok(Json(AccountList { accounts: accounts.into_iter().map(to_wire).collect() }))
}

async fn disconnect(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let account = state.store.account(&session.owner, &id).await?.ok_or_else(account_not_found)?;
    if let Some(app) = state.catalog.app(&account.app_id) {
        revoke_upstream(&state, &session.owner, app, &account).await;
    }
    if !state.store.delete_account(&session.owner, &id).await? {
        return Err(account_not_found());
    }
    tracing::info!(account = %id, "account disconnected");
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes an OAuth account's tokens at the provider, when it has a revocation endpoint. Best
/// effort: a failure is logged and the local credentials are removed regardless.
async fn revoke_upstream(state: &AppState, owner: &Owner, app: &App, account: &AccountRecord) {
    let Some(oauth) = app.oauth2.as_ref().filter(|o| o.revoke_url.is_some()) else { return };
    let Some(client_id) = account.oauth_client_id.as_deref() else { return };
    let Ok(Some(client)) = clients::by_id(state, &owner.workspace_id, app, client_id).await else { return };
    let Ok(credentials) = Credentials::open(&state.keyring, owner, &account.app_id, &account.credentials)
    else {
        return;
    };
    // Revoking the refresh token ends the whole grant at most providers; the access token is
    // revoked too for those that keep them independent.
    for hint in ["refresh_token", "access_token"] {
        if let Some(token) = credentials.get(hint) {
            if let Err(err) = revoke(&state.upstreams, oauth, &client, token, hint, &credentials).await {
                tracing::warn!(account = %account.id, %hint, error = %err, "upstream revocation failed");
            }
        }
    }
}
