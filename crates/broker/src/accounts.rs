//! Connected accounts: where a connect saves credentials (the accounts policy), credential
//! connects, disconnecting, and ending the upstream grant an account no longer uses.

use std::collections::BTreeMap;

use patchbay_protocol::{AccountsPolicy, ConnectedAccount};
use sha2::{Digest, Sha256};

use crate::catalog::App;
use crate::credentials::{validate_fields, verify, Credentials};
use crate::error::{ApiError, ApiResult};
use crate::ids::{random_id, rfc3339};
use crate::oauth::{clients, revoke};
use crate::state::AppState;
use crate::store::{AccountRecord, AppSettings, NewCredentials, Owner, Target};

/// The accounts policy in force: the workspace's choice, else the catalog's.
pub fn effective_policy(app: &App, settings: Option<&AppSettings>) -> AccountsPolicy {
    settings.and_then(|s| s.accounts_policy).unwrap_or(app.accounts)
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

/// ACCOUNT_NOT_FOUND unless `id` is one of `owner`'s accounts of `app`.
pub async fn check_target(state: &AppState, owner: &Owner, app: &App, id: Option<&str>) -> ApiResult<()> {
    if let Some(id) = id {
        if state.store.account(owner, id).await?.is_none_or(|a| a.app_id != app.id) {
            return Err(ApiError::account_not_found());
        }
    }
    Ok(())
}

/// A saved account and whether it existed before.
pub struct SaveOutcome {
    /// The account.
    pub account: AccountRecord,
    /// True when an existing account was updated in place.
    pub reconnected: bool,
}

/// Connects a credential app (every auth type but `oauth2`): validates the fields, verifies them
/// against the app, and saves them where the accounts policy says.
pub async fn connect_with_credentials(
    state: &AppState,
    owner: &Owner,
    app: &App,
    target_account_id: Option<String>,
    fields: BTreeMap<String, String>,
) -> ApiResult<SaveOutcome> {
    let result = save_with_credentials(state, owner, app, target_account_id, fields).await;
    let outcome = match &result {
        Ok(SaveOutcome { reconnected: false, .. }) => "connected",
        Ok(SaveOutcome { reconnected: true, .. }) => "reconnected",
        Err(err) => err.code.as_str(),
    };
    state.metrics.connect(&app.id, outcome);
    result
}

async fn save_with_credentials(
    state: &AppState,
    owner: &Owner,
    app: &App,
    target_account_id: Option<String>,
    fields: BTreeMap<String, String>,
) -> ApiResult<SaveOutcome> {
    check_target(state, owner, app, target_account_id.as_deref()).await?;
    let creds = validate_fields(app, fields)?;
    let verified = verify(app, &creds, &state.upstreams).await?;
    let new = NewCredentials {
        app_id: app.id.clone(),
        display_name: verified.display_name,
        credentials: creds.seal(&state.keyring, owner, &app.id)?,
        access_expires_at: None,
        oauth_client_id: None,
    };
    let outcome = save_credentials(state, owner, app, target_account_id, verified.identity, new).await?;
    tracing::info!(account = %outcome.account.id, app = %app.id, reconnected = outcome.reconnected, "account connected");
    Ok(outcome)
}

/// Saves verified credentials where the accounts policy puts them: the named account, the single
/// account under "one", or the account with the same upstream identity under "multiple". A
/// reconnect in place revokes the OAuth grant it replaces, which would otherwise stay redeemable
/// at the provider with nothing left to use or revoke it.
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
    // Read before the save overwrites them: which slot the store picks is only known after.
    let revocable = app.oauth2.as_ref().is_some_and(|o| o.revoke_url.is_some());
    let before = if revocable { state.store.accounts(owner, Some(&app.id)).await? } else { Vec::new() };
    let (account, reconnected) =
        state.store.save_account(owner, &target, &new).await?.ok_or_else(ApiError::account_not_found)?;
    if let Some(replaced) = before.iter().find(|old| reconnected && old.id == account.id) {
        let kept = account.credentials.open(&state.keyring, owner, &app.id)?;
        revoke_upstream(state, owner, app, replaced, Some(&kept)).await;
    }
    Ok(SaveOutcome { account, reconnected })
}

/// Disconnects `owner`'s account `id`: revokes it upstream when the app can, then deletes it.
pub async fn disconnect(state: &AppState, owner: &Owner, id: &str) -> ApiResult<()> {
    let account = state.store.account(owner, id).await?.ok_or_else(ApiError::account_not_found)?;
    if let Some(app) = state.catalog.app(&account.app_id) {
        revoke_upstream(state, owner, app, &account, None).await;
    }
    if !state.store.delete_account(owner, id).await? {
        return Err(ApiError::account_not_found());
    }
    tracing::info!(account = %id, "account disconnected");
    Ok(())
}

/// Revokes an OAuth account's tokens at the provider, when it has a revocation endpoint, except
/// tokens that `kept` still uses (a provider may hand the same refresh token to a new grant).
/// Best effort: a failure is logged, and the caller goes on.
async fn revoke_upstream(
    state: &AppState,
    owner: &Owner,
    app: &App,
    account: &AccountRecord,
    kept: Option<&Credentials>,
) {
    let Some(oauth) = app.oauth2.as_ref().filter(|o| o.revoke_url.is_some()) else { return };
    let Some(client_id) = account.oauth_client_id.as_deref() else { return };
    let Ok(Some(client)) = clients::by_id(state, &owner.workspace_id, app, client_id).await else { return };
    let Ok(credentials) = account.credentials.open(&state.keyring, owner, &account.app_id) else {
        return;
    };
    // Revoking the refresh token ends the whole grant at most providers; the access token is
    // revoked too for those that keep them independent.
    for hint in ["refresh_token", "access_token"] {
        let Some(token) = credentials.get(hint) else { continue };
        if kept.is_some_and(|k| k.get(hint) == Some(token)) {
            continue;
        }
        if let Err(err) = revoke(&state.upstreams, oauth, &client, token, hint, &credentials).await {
            tracing::warn!(account = %account.id, %hint, error = %err, "upstream revocation failed");
        }
    }
}
