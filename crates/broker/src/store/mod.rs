//! Persistence behind one trait, so the SQLite default and a PostgreSQL implementation are
//! interchangeable for every caller.

mod sqlite;

use async_trait::async_trait;
use patchbay_protocol::AccountStatus;
pub use sqlite::SqliteStore;

use crate::crypto::Sealed;

/// A storage fault (the message is for logs, never for clients).
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(String);

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
    pub credentials: Sealed,
    /// Bumped on every credential change (compare-and-swap for refreshes).
    pub version: i64,
    /// Unix time of creation.
    pub created_at: i64,
    /// Unix time of the last credential change.
    pub updated_at: i64,
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
}

/// The persistence interface.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap liveness query, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates a workspace with the SHA-256 of its secret key.
    async fn create_workspace(&self, workspace: &Workspace, secret_key_hash: &[u8]) -> StoreResult<()>;

    /// The workspace whose secret key hashes to `hash`.
    async fn workspace_by_secret_hash(&self, hash: &[u8]) -> StoreResult<Option<Workspace>>;

    /// The workspace with this id.
    async fn workspace(&self, id: &str) -> StoreResult<Option<Workspace>>;

    /// The owner's accounts for one app (or every app), oldest first.
    async fn accounts(&self, owner: &Owner, app_id: Option<&str>) -> StoreResult<Vec<AccountRecord>>;

    /// One of the owner's accounts.
    async fn account(&self, owner: &Owner, id: &str) -> StoreResult<Option<AccountRecord>>;

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
}
