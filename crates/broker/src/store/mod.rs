//! Persistence behind one trait, so the SQLite default and a PostgreSQL implementation are
//! interchangeable for every caller.

mod cache;
mod channel;
mod postgres;
mod rows;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use patchbay_protocol::{AccountStatus, AccountsPolicy, AttemptError, AttemptStatus};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::credentials::StoredCredentials;
use crate::crypto::Sealed;

/// A storage fault (the message is for logs, never for clients).
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub(crate) String);

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError(e.to_string())
    }
}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// A workspace: one SaaS product using the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Id (`ws_…`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Public app key.
    pub app_key: String,
}

/// The user an account belongs to; every account query is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Workspace id.
    pub workspace_id: String,
    /// The workspace's user id.
    pub user_id: String,
}

/// A stored connected account. `credentials` stays sealed until a caller needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Id (`ca_…`).
    pub id: String,
    /// Catalog id of the app.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Usability.
    pub status: AccountStatus,
    /// Encrypted credentials.
    pub credentials: StoredCredentials,
    /// Bumped on every credential change (compare-and-swap for refreshes).
    pub version: i64,
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time of the last credential change.
    pub updated_at: i64,
    /// OAuth 2.0: when the access token expires, if known.
    pub access_expires_at: Option<i64>,
    /// OAuth 2.0: the client id that created the account (refreshes use it).
    pub oauth_client_id: Option<String>,
}

/// Where a connect writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The account in this slot (created if empty); see the migration for what slots are.
    Slot(String),
    /// This existing account (reconnect in place).
    Account(String),
}

/// Credentials to save for an owner and app.
#[derive(Debug, Clone)]
pub struct NewCredentials {
    /// Catalog id of the app.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Encrypted credentials.
    pub credentials: Sealed,
    /// OAuth 2.0: when the access token expires, if known.
    pub access_expires_at: Option<i64>,
    /// OAuth 2.0: the client id that obtained the tokens.
    pub oauth_client_id: Option<String>,
}

/// An OAuth authorization attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Id (`att_…`).
    pub id: String,
    /// Who started it.
    pub owner: Owner,
    /// Catalog id of the app.
    pub app_id: String,
    /// The page origin the result is posted to.
    pub origin: Option<String>,
    /// Redirect mode: where the browser returns after the callback.
    pub return_to: Option<String>,
    /// The sealed PKCE verifier.
    pub verifier: Sealed,
    /// The OAuth client the attempt uses.
    pub client_id: String,
    /// Reconnect this account in place.
    pub target_account_id: Option<String>,
    /// Status (`exchanging` reads as pending).
    pub status: AttemptStatus,
    /// The account, once connected.
    pub account_id: Option<String>,
    /// Why it failed.
    pub error: Option<AttemptError>,
    /// Unix expiry of the pending attempt.
    pub expires_at: i64,
    /// Why the attempt exists.
    pub purpose: AttemptPurpose,
}

/// Why an OAuth attempt was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptPurpose {
    /// A user connecting an account.
    Connect,
    /// An admin testing the workspace's own client; the settings hash names what is tested.
    Test {
        /// Hash of the client settings under test.
        settings_hash: String,
    },
}

/// A workspace's settings for one app (absent row: catalog defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSettings {
    /// Catalog id.
    pub app_id: String,
    /// Hidden from the marketplace (and new connections).
    pub hidden: bool,
    /// Overrides the catalog's accounts policy.
    pub accounts_policy: Option<AccountsPolicy>,
    /// The workspace's current own OAuth client id.
    pub own_client_id: Option<String>,
    /// Hash of the current own client settings.
    pub own_settings_hash: Option<String>,
    /// Hash of the settings that last passed a test.
    pub tested_settings_hash: Option<String>,
    /// New connections use the own client.
    pub own_client_enabled: bool,
}

impl AppSettings {
    /// True when the current settings passed a test.
    pub fn tested(&self) -> bool {
        self.own_settings_hash.is_some() && self.own_settings_hash == self.tested_settings_hash
    }
}

/// A workspace OAuth client as stored (secret sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    /// Client id.
    pub client_id: String,
    /// Sealed client secret.
    pub secret: Sealed,
    /// Scopes to request.
    pub scopes: Vec<String>,
}

/// A workspace's webhook endpoint as stored (secrets sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Where events are POSTed.
    pub url: String,
    /// The sealed `whsec_…` secret.
    pub secret: Sealed,
    /// The secret before the last rotation and until when it still signs.
    pub previous: Option<(Sealed, i64)>,
}

/// One outbox row, for the delivery log (payloads stay out: the log is for status).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The `webhook-id` of every attempt.
    pub id: String,
    /// Event type.
    pub event_type: String,
    /// Unix time the event was recorded.
    pub created_at: i64,
    /// Attempts made so far.
    pub attempts: i64,
    /// Unix time of the next attempt, while undelivered.
    pub next_attempt_at: Option<i64>,
    /// Unix time of the successful attempt.
    pub delivered_at: Option<i64>,
    /// Unix time it was given up.
    pub failed_at: Option<i64>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    /// The last failure, when there was no HTTP answer.
    pub last_error: Option<String>,
}

/// An outbox row claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The `webhook-id`.
    pub id: String,
    /// Whose endpoint receives it.
    pub workspace_id: String,
    /// The JSON body, exactly as signed.
    pub payload: String,
    /// Unix time the event happened (the `webhook-timestamp` is the attempt's time).
    pub created_at: i64,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        status: i64,
    },
    /// Try again at `retry_at`, or give up when `None`.
    Failed {
        /// The receiver's status, if it answered.
        status: Option<i64>,
        /// Why, when it did not.
        error: Option<String>,
        /// When to try again.
        retry_at: Option<i64>,
    },
}

/// What a callback's `state` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// A pending, unexpired attempt, now claimed (no other callback can claim it).
    Claimed(AttemptRecord),
    /// The attempt has already been completed or is being completed.
    AlreadyUsed(AttemptRecord),
    /// The attempt expired before the user came back.
    Expired(AttemptRecord),
    /// No attempt has this state.
    Unknown,
}

/// The persistence interface.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap liveness query, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    /// Connections the pool holds open (for the metrics).
    fn open_connections(&self) -> u32;

    /// Creates a workspace with the SHA-256 of its secret key.
    async fn create_workspace(&self, workspace: &Workspace, secret_key_hash: &[u8]) -> StoreResult<()>;

    /// The workspace whose secret key hashes to `hash`.
    async fn workspace_by_secret_hash(&self, hash: &[u8]) -> StoreResult<Option<Workspace>>;

    /// The workspace with this id.
    async fn workspace(&self, id: &str) -> StoreResult<Option<Workspace>>;

    /// The owner's accounts for one app (or every app), oldest first.
    async fn accounts(&self, owner: &Owner, app_id: Option<&str>) -> StoreResult<Vec<AccountRecord>>;

    /// The owner's accounts for one app, oldest first, from memory while the account cache holds
    /// them (every account write, in any process, forgets what it changed before it returns).
    async fn app_accounts(&self, owner: &Owner, app_id: &str) -> StoreResult<Arc<[AccountRecord]>>;

    /// One of the owner's accounts.
    async fn account(&self, owner: &Owner, id: &str) -> StoreResult<Option<AccountRecord>>;

    /// An account of any user of the workspace, with its owner (the backend proxy addresses
    /// accounts by id alone).
    async fn workspace_account(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> StoreResult<Option<(Owner, AccountRecord)>>;

    /// Saves credentials into `target`; returns the account and whether it existed before.
    /// `Target::Account` of an account the owner does not have for that app returns `None`.
    async fn save_account(
        &self,
        owner: &Owner,
        target: &Target,
        new: &NewCredentials,
    ) -> StoreResult<Option<(AccountRecord, bool)>>;

    /// Deletes one of the owner's accounts; false when there was none.
    async fn delete_account(&self, owner: &Owner, id: &str) -> StoreResult<bool>;

    /// Stores a new pending attempt, findable by the SHA-256 of its state.
    async fn create_attempt(&self, attempt: &AttemptRecord, state_hash: &[u8], now: i64) -> StoreResult<()>;

    /// Atomically claims the pending attempt with this state hash (one-time state).
    async fn claim_attempt(&self, state_hash: &[u8], now: i64) -> StoreResult<Claim>;

    /// Records the outcome of a claimed attempt.
    async fn finish_attempt(&self, id: &str, outcome: Result<&str, &AttemptError>) -> StoreResult<()>;

    /// One of the owner's attempts.
    async fn attempt(&self, owner: &Owner, id: &str) -> StoreResult<Option<AttemptRecord>>;

    /// Takes the refresh lease of an account unless another holder's lease is still running.
    async fn try_lease(&self, account_id: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool>;

    /// Gives the lease back (no-op if `holder` no longer has it).
    async fn release_lease(&self, account_id: &str, holder: &str) -> StoreResult<()>;

    /// Saves refreshed credentials and releases the lease, only while `holder` has it.
    async fn store_refreshed(
        &self,
        account_id: &str,
        holder: &str,
        credentials: &Sealed,
        access_expires_at: Option<i64>,
    ) -> StoreResult<bool>;

    /// Marks an account `needs_reauth` if it is still at `version` (nobody refreshed it since).
    async fn mark_needs_reauth(&self, account_id: &str, version: i64) -> StoreResult<bool>;

    /// Records a refresh that failed for a passing reason (the provider was unreachable) on the
    /// account at `version`: the background refresher leaves it alone until `retry_at`. Returns
    /// true, and queues `account.refresh_failed` in the same transaction, only for the first
    /// failure since the last success (a refresh or a reconnect ends the series).
    async fn record_refresh_failure(
        &self,
        account_id: &str,
        version: i64,
        now: i64,
        retry_at: i64,
    ) -> StoreResult<bool>;

    /// Active accounts, with their owners, that the background refresher should look at: an access
    /// token expiring within `ahead` seconds of `now` (at most half its lifetime), or credentials
    /// unchanged since `idle_since`; never one deferred past `now`. Soonest expiry first.
    async fn due_for_refresh(
        &self,
        now: i64,
        ahead: i64,
        idle_since: i64,
        limit: i64,
    ) -> StoreResult<Vec<(Owner, AccountRecord)>>;

    /// Keeps the background refresher away from an account until `until` (it has nothing to do
    /// there: no refresh token, or not an OAuth app).
    async fn defer_refresh(&self, account_id: &str, until: i64) -> StoreResult<()>;

    /// Saves the step log of a test attempt.
    async fn set_step_log(&self, attempt_id: &str, log: &str) -> StoreResult<()>;

    /// The step log of one of the workspace's test attempts.
    async fn step_log(
        &self,
        workspace_id: &str,
        attempt_id: &str,
    ) -> StoreResult<Option<(String, Option<String>)>>;

    /// The workspace's settings for every app that has any.
    async fn app_settings(&self, workspace_id: &str) -> StoreResult<Vec<AppSettings>>;

    /// The workspace's settings for one app (defaults when it has none).
    async fn app_setting(&self, workspace_id: &str, app_id: &str) -> StoreResult<AppSettings>;

    /// Sets marketplace visibility and the accounts policy override.
    async fn set_app_visibility(
        &self,
        workspace_id: &str,
        app_id: &str,
        hidden: bool,
        policy: Option<AccountsPolicy>,
    ) -> StoreResult<()>;

    /// Saves the workspace's own client for an app as its current one. New settings are untested
    /// and not enabled until tested again.
    async fn save_own_client(
        &self,
        workspace_id: &str,
        app_id: &str,
        client: &StoredClient,
        settings_hash: &str,
    ) -> StoreResult<()>;

    /// A client the workspace set for an app at any time.
    async fn own_client(
        &self,
        workspace_id: &str,
        app_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<StoredClient>>;

    /// Records that these settings passed a test.
    async fn record_test_success(
        &self,
        workspace_id: &str,
        app_id: &str,
        settings_hash: &str,
    ) -> StoreResult<()>;

    /// Enables the own client if its current settings passed a test; false otherwise.
    async fn enable_own_client(&self, workspace_id: &str, app_id: &str) -> StoreResult<bool>;

    /// Sets the workspace's webhook endpoint and secret. With `previous_until`, the secret being
    /// replaced keeps signing until then (rotation); without it, it is forgotten.
    async fn set_webhook_endpoint(
        &self,
        workspace_id: &str,
        url: &str,
        secret: &Sealed,
        previous_until: Option<i64>,
    ) -> StoreResult<()>;

    /// Changes the endpoint URL, keeping its secrets.
    async fn set_webhook_url(&self, workspace_id: &str, url: &str) -> StoreResult<()>;

    /// The workspace's webhook endpoint.
    async fn webhook_endpoint(&self, workspace_id: &str) -> StoreResult<Option<WebhookEndpoint>>;

    /// The workspace's most recent `limit` outbox rows, newest first.
    async fn webhook_deliveries(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<Delivery>>;

    /// Adds an event not tied to an account change (the "send test event" button) to the outbox.
    async fn enqueue_webhook(
        &self,
        workspace_id: &str,
        id: &str,
        event_type: &str,
        payload: &str,
    ) -> StoreResult<()>;

    /// Leases up to `limit` due, undelivered outbox rows to `holder` until `lease_until`, oldest
    /// first. A row leased by another holder is skipped until its lease runs out.
    async fn claim_webhooks(
        &self,
        holder: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<Claimed>>;

    /// Records an attempt on a row `holder` leased and releases it; false if the lease was lost.
    async fn finish_webhook(
        &self,
        id: &str,
        holder: &str,
        now: i64,
        outcome: &Attempted,
    ) -> StoreResult<bool>;

    /// Stores an admin console session.
    async fn create_admin_session(
        &self,
        id_hash: &[u8],
        workspace_id: &str,
        csrf: &str,
        expires_at: i64,
    ) -> StoreResult<()>;

    /// The workspace and CSRF token of a live admin session.
    async fn admin_session(&self, id_hash: &[u8], now: i64) -> StoreResult<Option<(String, String)>>;

    /// Ends an admin session.
    async fn delete_admin_session(&self, id_hash: &[u8]) -> StoreResult<()>;
}
