//! Background refresh: keeps idle accounts' OAuth tokens fresh and probes grants that nobody uses,
//! so a dead grant is marked `needs_reauth` (and signalled by webhook) before a user or a backend
//! job hits it.
//!
//! Every replica runs the scheduler. It refreshes through [`refreshed_if`], the same per-account
//! mutex and database lease as a refresh on demand, so across replicas and requests each due
//! token is refreshed once; a replica that finds the account refreshed meanwhile does nothing.

use std::sync::Arc;
use std::time::Duration;

use patchbay_protocol::{AuthType, ErrorCode};

use crate::error::ApiError;
use crate::ids::now_unix;
use crate::oauth::refresh::{refreshed_if, When};
use crate::state::AppState;
use crate::store::{AccountRecord, Owner};

/// Accounts looked at per round; the rest wait for the next round, soonest expiry first.
const BATCH: i64 = 100;

/// What one round did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Due accounts looked at.
    pub visited: usize,
    /// Accounts found to need re-authorisation (now marked, their webhook queued).
    pub needs_reauth: usize,
    /// Refreshes that failed otherwise (logged; retried later).
    pub failed: usize,
}

/// Runs rounds every `background_refresh_interval_seconds` forever (spawned by `serve` unless
/// the interval is 0; tests run [`run_round`] themselves).
pub async fn run(state: Arc<AppState>) {
    let interval = Duration::from_secs(state.config.background_refresh_interval_seconds.max(1));
    loop {
        match run_round(&state).await {
            Ok(round) if round.visited > 0 => tracing::info!(?round, "background refresh round"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err.message, "background refresh round failed"),
        }
        state.metrics.background_rounds.inc();
        tokio::time::sleep(interval).await;
    }
}

/// Looks at every account due now, one after another (refreshes are rare and each waits on the
/// provider; running them in turn keeps the load on providers and the database flat).
pub async fn run_round(state: &Arc<AppState>) -> Result<Round, ApiError> {
    let config = &state.config;
    let now = now_unix();
    let idle_since = now.saturating_sub(config.background_probe_idle_seconds);
    let due =
        state.store.due_for_refresh(now, config.background_refresh_ahead_seconds, idle_since, BATCH).await?;
    let mut round = Round { visited: due.len(), ..Round::default() };
    for (owner, account) in due {
        match visit(state, &owner, &account).await {
            Ok(()) => {}
            Err(err) if err.code == ErrorCode::ReauthRequired => round.needs_reauth += 1,
            Err(err) => {
                round.failed += 1;
                let code = err.code.as_str();
                tracing::warn!(account = %account.id, code, error = %err.message, "background refresh failed");
                // A failure that is not the provider being away (recorded by the refresh itself)
                // would repeat at every round: wait as long as for an idle probe.
                if err.code != ErrorCode::UpstreamUnavailable {
                    state
                        .store
                        .defer_refresh(&account.id, now.saturating_add(config.background_probe_idle_seconds))
                        .await?;
                }
            }
        }
    }
    Ok(round)
}

/// Refreshes one due account: its token when it is about to expire, otherwise (idle for the probe
/// interval) a refresh that proves the grant is still alive.
async fn visit(state: &Arc<AppState>, owner: &Owner, account: &AccountRecord) -> Result<(), ApiError> {
    let config = &state.config;
    let app = state.catalog.app(&account.app_id).filter(|app| app.auth == AuthType::Oauth2);
    // Without a refresh token there is nothing to keep fresh, and refreshing would only mark the
    // account `needs_reauth` before its token has even expired.
    let refreshable = app.is_some()
        && account.credentials.open(&state.keyring, owner, &account.app_id)?.get("refresh_token").is_some();
    let (Some(app), true) = (app, refreshable) else {
        let until = now_unix().saturating_add(config.background_probe_idle_seconds);
        return Ok(state.store.defer_refresh(&account.id, until).await?);
    };
    // Half the lifetime at most, as `due_for_refresh` selects.
    let expiring = When::Expiring { seconds: config.background_refresh_ahead_seconds, share: 2 };
    let when = if expiring.due(account, now_unix()) { expiring } else { When::Always };
    refreshed_if(state, owner, app, account, when).await?;
    Ok(())
}
