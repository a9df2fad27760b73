//! Usable credentials for an account, refreshing OAuth tokens first when needed.
//!
//! At most one refresh per account runs at a time: tasks of one process queue on a per-account
//! mutex, and processes sharing the database take a lease on the account row. Whoever refreshes
//! commits the new tokens (including a rotated refresh token) before anyone uses them; everyone
//! else re-reads the row and sees the newer version. An `invalid_grant` is only final after a
//! re-read shows nobody else rotated the token meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use patchbay_protocol::{AccountStatus, AuthType, ErrorCode, ErrorDetails};
use tracing::Instrument;

use crate::catalog::App;
use crate::credentials::Credentials;
use crate::error::ApiError;
use crate::ids::{now_unix, random_id};
use crate::state::AppState;
use crate::store::{AccountRecord, Owner};

/// How long a refresh request may wait for the provider. Much longer than a caller waits: if the
/// provider stalls after receiving the request, it may still rotate the refresh token, and the
/// answer must then be kept or the new refresh token is lost for good.
pub const REFRESH_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a refresh lease lasts; longer than a refresh can take.
const LEASE_SECONDS: i64 = 90;
/// How often a process waiting for another process's refresh looks again.
const LEASE_POLL: Duration = Duration::from_millis(50);

/// Per-account mutexes for the tasks of this process. Entries die with their last user.
#[derive(Default)]
pub struct RefreshLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl RefreshLocks {
    fn lock_for(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(lock) = map.get(account_id).and_then(Weak::upgrade) {
            return lock;
        }
        map.retain(|_, weak| weak.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(account_id.to_owned(), Arc::downgrade(&lock));
        lock
    }
}

/// How long before `expires_at` a token issued at `issued_at` is refreshed: the configured margin,
/// but at most a quarter of the token's lifetime. A fixed margin longer than the lifetime (60 s
/// against a provider's 30 s tokens) would send a token request on every call.
pub fn refresh_margin(configured: i64, issued_at: i64, expires_at: i64) -> i64 {
    configured.min(expires_at.saturating_sub(issued_at).max(0) / 4)
}

/// Decrypted credentials and the row version they came from.
pub struct Usable {
    /// The credentials to inject.
    pub credentials: Credentials,
    /// Row version (pass it back with `force` after an upstream 401).
    pub version: i64,
}

fn open(state: &AppState, owner: &Owner, account: &AccountRecord) -> Result<Usable, ApiError> {
    let credentials = Credentials::open(&state.keyring, owner, &account.app_id, &account.credentials)?;
    Ok(Usable { credentials, version: account.version })
}

/// Credentials for `account`, refreshed first if it is OAuth and its access token expires within
/// the [`refresh_margin`], or if `force` (the upstream just answered 401 to the token of
/// `account.version`).
pub async fn usable_credentials(
    state: &Arc<AppState>,
    owner: &Owner,
    app: &App,
    account: &AccountRecord,
    force: bool,
) -> Result<Usable, ApiError> {
    if account.status == AccountStatus::NeedsReauth {
        return Err(ApiError::reauth_required(&app.name));
    }
    let expiring = |a: &AccountRecord| {
        a.access_expires_at.is_some_and(|at| {
            let margin = refresh_margin(state.config.oauth_refresh_margin_seconds, a.updated_at, at);
            at <= now_unix().saturating_add(margin)
        })
    };
    if app.auth != AuthType::Oauth2 {
        return open(state, owner, account);
    }
    if !force && !expiring(account) {
        return open(state, owner, account);
    }
    let lock = state.refresh_locks.lock_for(&account.id);
    let wait = Duration::from_secs(state.config.upstream_timeout_seconds);
    let Ok(_queued) = tokio::time::timeout(wait, lock.lock()).await else {
        return Err(refresh_too_slow());
    };
    let deadline = now_unix().saturating_add(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX));
    let mut waited = false;
    loop {
        let current =
            state.store.account(owner, &account.id).await?.ok_or_else(ApiError::account_not_found)?;
        if current.status == AccountStatus::NeedsReauth {
            return Err(ApiError::reauth_required(&app.name));
        }
        // A newer version than the caller saw was refreshed by someone else: it is the freshest.
        if current.version != account.version || (!force && !expiring(&current)) {
            return open(state, owner, &current);
        }
        let holder = random_id("lease");
        let now = now_unix();
        if state.store.try_lease(&current.id, &holder, now, now + LEASE_SECONDS).await? {
            // `current` was read before the lease: another process may have committed a refresh
            // (and released its lease) in between, leaving `current` with a rotated refresh
            // token, whose reuse makes providers revoke the whole grant. Read again under the lease.
            let leased =
                state.store.account(owner, &current.id).await?.ok_or_else(ApiError::account_not_found)?;
            if leased.version != current.version || leased.status == AccountStatus::NeedsReauth {
                state.store.release_lease(&current.id, &holder).await?;
                continue;
            }
            // Detached: the refresh keeps its lease and finishes (committing a rotated token)
            // even if this caller stops waiting. It keeps the request's span, so its log lines
            // carry the request id.
            let task = tokio::spawn(
                refresh_leased(state.clone(), owner.clone(), app.id.clone(), leased, holder)
                    .in_current_span(),
            );
            return match tokio::time::timeout(wait, task).await {
                Ok(Ok(result)) => result,
                Ok(Err(join)) => Err(ApiError::internal(join)),
                Err(_) => Err(refresh_too_slow()),
            };
        }
        if now > deadline {
            return Err(refresh_too_slow());
        }
        if !waited {
            waited = true;
            state.metrics.refresh_lease_waits.inc();
        }
        tokio::time::sleep(LEASE_POLL).await;
    }
}

fn refresh_too_slow() -> ApiError {
    ApiError::new(
        ErrorCode::UpstreamUnavailable,
        "the app did not answer the token refresh in time; try again",
    )
}

/// Refreshes under the lease `holder`, releasing it on every failure.
async fn refresh_leased(
    state: Arc<AppState>,
    owner: Owner,
    app_id: String,
    current: AccountRecord,
    holder: String,
) -> Result<Usable, ApiError> {
    let result = refresh_with_lease(&state, &owner, &app_id, &current, &holder).await;
    if result.is_err() {
        state.store.release_lease(&current.id, &holder).await?;
    }
    result
}

async fn refresh_with_lease(
    state: &AppState,
    owner: &Owner,
    app_id: &str,
    current: &AccountRecord,
    holder: &str,
) -> Result<Usable, ApiError> {
    let app = state.catalog.app(app_id).ok_or_else(|| ApiError::internal("app left the catalog"))?;
    let oauth = app.oauth2.as_ref().ok_or_else(|| ApiError::internal("not an OAuth app"))?;
    let usable = open(state, owner, current)?;
    if usable.credentials.get("refresh_token").is_none() {
        state.store.mark_needs_reauth(&current.id, current.version).await?;
        return Err(ApiError::reauth_required(&app.name));
    };
    let client_id =
        current.oauth_client_id.as_deref().or(oauth.default_client.as_ref().map(|c| c.id.as_str()));
    let client = super::clients::by_id(state, &owner.workspace_id, app, client_id.unwrap_or_default())
        .await?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "the OAuth client that created {} is no longer configured",
                current.id
            ))
        })?;
    match super::refresh_credentials(
        &state.upstreams,
        oauth,
        &client,
        &usable.credentials,
        REFRESH_REQUEST_TIMEOUT,
    )
    .await
    {
        Ok(tokens) => {
            let previous = usable.credentials.get("refresh_token");
            let rotated = tokens.credentials.get("refresh_token").is_some_and(|new| Some(new) != previous);
            state.metrics.refresh(if rotated { "rotated" } else { "ok" });
            let sealed = tokens.credentials.seal(&state.keyring, owner, &current.app_id)?;
            if !state.store.store_refreshed(&current.id, holder, &sealed, tokens.expires_at).await? {
                // Our lease ran out and another holder took over: its outcome stands, ours is void.
                return Err(ApiError::new(ErrorCode::UpstreamUnavailable, "the token refresh took too long"));
            }
            tracing::info!(account = %current.id, "access token refreshed");
            Ok(Usable { credentials: tokens.credentials, version: current.version + 1 })
        }
        Err(err) if err.is_invalid_grant() => {
            state.metrics.refresh("invalid_grant");
            state.store.release_lease(&current.id, holder).await?;
            // Another process may have rotated the token between our read and our request.
            let reread =
                state.store.account(owner, &current.id).await?.ok_or_else(ApiError::account_not_found)?;
            if reread.version != current.version {
                return open(state, owner, &reread);
            }
            if state.store.mark_needs_reauth(&current.id, current.version).await? {
                tracing::warn!(account = %current.id, "refresh token refused (invalid_grant); account needs re-authorisation");
            }
            Err(ApiError::reauth_required(&app.name))
        }
        Err(err) => {
            tracing::warn!(account = %current.id, error = %err, "token refresh failed");
            let code = match err {
                super::TokenError::Unavailable(_) | super::TokenError::NotSent(_) => {
                    ErrorCode::UpstreamUnavailable
                }
                _ => ErrorCode::UpstreamError,
            };
            state.metrics.refresh(if code == ErrorCode::UpstreamUnavailable {
                "unavailable"
            } else {
                "error"
            });
            let details = match &err {
                super::TokenError::Rejected { status, .. } => {
                    ErrorDetails { status: Some(*status), ..Default::default() }
                }
                _ => ErrorDetails::default(),
            };
            Err(ApiError::new(code, format!("could not refresh the access token: {err}"))
                .with_details(details))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::refresh_margin;

    #[test]
    fn the_margin_is_at_most_a_quarter_of_the_token_lifetime() {
        assert_eq!(refresh_margin(60, 1000, 4600), 60, "an hour-long token: the configured margin");
        assert_eq!(refresh_margin(60, 1000, 1030), 7, "a 30 s token: a quarter of it");
        assert_eq!(refresh_margin(60, 1000, 900), 0, "a clock gone backwards never widens it");
        assert_eq!(refresh_margin(0, 1000, 4600), 0);
    }
}
