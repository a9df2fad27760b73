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

/// Decrypted credentials and the row version they came from.
pub struct Usable {
    /// The credentials to inject.
    pub credentials: Arc<Credentials>,
    /// Row version (pass it back with `force` after an upstream 401).
    pub version: i64,
}

fn open(state: &AppState, owner: &Owner, account: &AccountRecord) -> Result<Usable, ApiError> {
    let credentials = account.credentials.open(&state.keyring, owner, &account.app_id)?;
    Ok(Usable { credentials, version: account.version })
}

/// When [`refreshed_if`] refreshes an OAuth access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// It expires within `seconds`, but at most `1/share` of its lifetime: a fixed lead longer
    /// than the lifetime (60 s against a provider's 30 s tokens) would refresh at every look.
    Expiring {
        /// The configured lead.
        seconds: i64,
        /// The largest part of the lifetime the lead may take.
        share: i64,
    },
    /// Always: the upstream just answered 401 to the token of `account.version`, or the
    /// background refresher probes the grant.
    Always,
}

impl When {
    /// True when `account`'s access token is due under this rule.
    pub fn due(self, account: &AccountRecord, now: i64) -> bool {
        match self {
            When::Always => true,
            When::Expiring { seconds, share } => account.access_expires_at.is_some_and(|at| {
                let lifetime = at.saturating_sub(account.updated_at).max(0);
                at <= now.saturating_add(seconds.min(lifetime / share.max(1)))
            }),
        }
    }
}

/// Credentials for `account`, refreshed first if it is OAuth and its access token expires within
/// `oauth_refresh_margin_seconds` (at most a quarter of its lifetime), or if `force` (the upstream
/// just answered 401 to the token of `account.version`).
pub async fn usable_credentials(
    state: &Arc<AppState>,
    owner: &Owner,
    app: &App,
    account: &AccountRecord,
    force: bool,
) -> Result<Usable, ApiError> {
    let when = if force {
        When::Always
    } else {
        When::Expiring { seconds: state.config.oauth_refresh_margin_seconds, share: 4 }
    };
    refreshed_if(state, owner, app, account, when).await
}

/// Credentials for `account`, refreshed first if it is OAuth and `when` holds for it. Callers of
/// every kind (requests, the background refresher, every replica) go through the same per-account
/// mutex and database lease, so each due token is refreshed once.
pub async fn refreshed_if(
    state: &Arc<AppState>,
    owner: &Owner,
    app: &App,
    account: &AccountRecord,
    when: When,
) -> Result<Usable, ApiError> {
    if account.status == AccountStatus::NeedsReauth {
        return Err(ApiError::reauth_required(&app.name));
    }
    if app.auth != AuthType::Oauth2 || !when.due(account, now_unix()) {
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
        if current.version != account.version || !when.due(&current, now_unix()) {
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
            Ok(Usable { credentials: Arc::new(tokens.credentials), version: current.version + 1 })
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
            if code == ErrorCode::UpstreamUnavailable {
                state.metrics.refresh("unavailable");
                record_unavailable(state, current).await;
            } else {
                state.metrics.refresh("error");
            }
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

/// Notes that the provider could not be reached (after the retries of a request that cannot have
/// arrived): the first failure of a series queues `account.refresh_failed`, later ones only push
/// the background refresher's next try back, so a provider outage is signalled once per account
/// and not at every tick.
async fn record_unavailable(state: &AppState, account: &AccountRecord) {
    let now = now_unix();
    let config = &state.config;
    // A quarter of the lead leaves several tries before the token expires.
    let wait = (config.background_refresh_ahead_seconds / 4)
        .max(i64::try_from(config.background_refresh_interval_seconds).unwrap_or(i64::MAX))
        .max(1);
    // The caller's answer is the provider's failure; a storage fault here only goes to the log.
    match state
        .store
        .record_refresh_failure(&account.id, account.version, now, now.saturating_add(wait))
        .await
    {
        Ok(true) => {
            tracing::warn!(account = %account.id, "token refresh failing; account.refresh_failed queued")
        }
        Ok(false) => {}
        Err(err) => {
            tracing::warn!(account = %account.id, error = %err, "could not record the refresh failure")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::When;
    use crate::credentials::StoredCredentials;
    use crate::crypto::Sealed;
    use crate::store::AccountRecord;
    use patchbay_protocol::AccountStatus;

    fn issued_at_expiring(updated_at: i64, expires_at: i64) -> AccountRecord {
        AccountRecord {
            id: "ca_1".into(),
            app_id: "idp".into(),
            display_name: "a".into(),
            status: AccountStatus::Active,
            credentials: StoredCredentials::new(Sealed { key_id: "k1".into(), blob: Vec::new() }),
            version: 1,
            created_at: updated_at,
            updated_at,
            access_expires_at: Some(expires_at),
            oauth_client_id: None,
        }
    }

    #[test]
    fn the_lead_is_at_most_a_share_of_the_token_lifetime() {
        let on_demand = When::Expiring { seconds: 60, share: 4 };
        let hour = issued_at_expiring(1000, 4600);
        assert!(!on_demand.due(&hour, 4539) && on_demand.due(&hour, 4540), "an hour: the configured 60 s");
        let short = issued_at_expiring(1000, 1030);
        assert!(!on_demand.due(&short, 1022) && on_demand.due(&short, 1023), "30 s: a quarter of it");
        let backwards = issued_at_expiring(1000, 900);
        assert!(!on_demand.due(&backwards, 899), "a clock gone backwards never widens it");
        let ahead = When::Expiring { seconds: 600, share: 2 };
        assert!(!ahead.due(&short, 1014) && ahead.due(&short, 1015), "background: half of 30 s");
        assert!(When::Always.due(&hour, 0));
    }
}
