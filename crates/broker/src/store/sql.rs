//! The SQL of every [`Store`](super::Store) method, written once for both backends: sqlx takes
//! `$n` placeholders for SQLite as for PostgreSQL, and everything else used here (`ON CONFLICT …
//! DO UPDATE`, `RETURNING`, `TRUE`/`FALSE`, `CAST`) means the same in both dialects. So the two
//! stores differ only in how they connect and in their schemas' column types, and their semantics
//! are identical by construction.
//!
//! Every compare-and-swap is one statement: SQLite runs one writer at a time, and a PostgreSQL
//! `UPDATE` waiting on a row lock re-checks its `WHERE` against the row the other writer
//! committed, so both give exactly one winner.

use std::sync::Arc;

use async_trait::async_trait;
use patchbay_protocol::{AccountsPolicy, AttemptError};
use sqlx::Row;

use super::cache::{self, Changed};
use super::channel::CHANNEL;
use super::postgres::PostgresStore;
use super::rows::{self, account_columns, attempt_columns, settings_columns};
use super::sqlite::SqliteStore;
use super::{
    AccountRecord, AppSettings, AttemptRecord, Attempted, Claim, Claimed, Delivery, NewCredentials, Owner,
    Store, StoreResult, StoredClient, Target, WebhookEndpoint, Workspace,
};
use crate::crypto::Sealed;
use crate::ids::{now_unix, random_id};
use crate::webhooks::{self, EventKind};

/// Adds the event about `record` to the outbox within the transaction `tx`, when the workspace has
/// a webhook endpoint (the row then commits, or not, with the change itself).
macro_rules! enqueue {
    ($tx:ident, $kind:expr, $owner:expr, $record:expr, $now:expr) => {{
        let kind: EventKind = $kind;
        let owner: &Owner = $owner;
        let payload = webhooks::payload(kind, owner, $record, $now).to_string();
        sqlx::query(
            "INSERT INTO webhook_outbox (id, workspace_id, event_type, payload, created_at, next_attempt_at) \
             SELECT $1, $2, $3, $4, $5, $5 WHERE EXISTS \
             (SELECT 1 FROM webhook_endpoints WHERE workspace_id = $2)",
        )
        .bind(random_id("msg"))
        .bind(&owner.workspace_id)
        .bind(kind.as_str())
        .bind(payload)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Sends the announcement of the account change `$pending` inside the transaction `tx` (on
/// PostgreSQL), so other replicas hear of it exactly when it commits.
macro_rules! announce {
    ($tx:ident, $pending:expr) => {{
        if let Some(payload) = $pending.announcement() {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&mut *$tx).await?;
        }
    }};
}

/// Implements [`Store`] for `$store`, a struct with a sqlx `pool` field and an account `cache` whose database has the
/// schema of `migrations/*`. `tiebreak` is the column that orders accounts created in the same
/// second by creation.
macro_rules! sql_store {
    ($store:ty, $db:ty, tiebreak = $tiebreak:literal, skip_locked = $skip_locked:literal) => {
        impl $store {
            async fn update_account_by_id(
                tx: &mut sqlx::Transaction<'_, $db>,
                owner: &Owner,
                id: &str,
                new: &NewCredentials,
                now: i64,
            ) -> StoreResult<Option<AccountRecord>> {
                let row = sqlx::query(concat!(
                    "UPDATE accounts SET display_name = $1, status = 'active', key_id = $2, \
                     credentials = $3, version = version + 1, updated_at = $4, access_expires_at = $5, \
                     oauth_client_id = $6, lease_owner = NULL, lease_until = NULL, refresh_failed_at = NULL, \
                     refresh_after = NULL WHERE id = $7 \
                     AND workspace_id = $8 AND user_id = $9 AND app_id = $10 RETURNING ",
                    account_columns!()
                ))
                .bind(&new.display_name)
                .bind(&new.credentials.key_id)
                .bind(&new.credentials.blob)
                .bind(now)
                .bind(new.access_expires_at)
                .bind(&new.oauth_client_id)
                .bind(id)
                .bind(&owner.workspace_id)
                .bind(&owner.user_id)
                .bind(&new.app_id)
                .fetch_optional(&mut **tx)
                .await?;
                row.as_ref().map(rows::account).transpose()
            }

            /// One statement, so two concurrent connects cannot both insert into one slot. A fresh insert
            /// is recognised by its id being the one generated here.
            async fn upsert_slot(
                tx: &mut sqlx::Transaction<'_, $db>,
                owner: &Owner,
                slot: &str,
                new: &NewCredentials,
                now: i64,
            ) -> StoreResult<(AccountRecord, bool)> {
                let fresh_id = random_id("ca");
                let row = sqlx::query(concat!(
                    "INSERT INTO accounts (id, workspace_id, user_id, app_id, slot, display_name, status, \
                     key_id, credentials, version, created_at, updated_at, access_expires_at, \
                     oauth_client_id) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, 1, $9, $9, $10, $11) \
                     ON CONFLICT (workspace_id, user_id, app_id, slot) DO UPDATE \
                     SET display_name = excluded.display_name, status = 'active', key_id = excluded.key_id, \
                     credentials = excluded.credentials, version = accounts.version + 1, \
                     updated_at = excluded.updated_at, access_expires_at = excluded.access_expires_at, \
                     oauth_client_id = excluded.oauth_client_id, lease_owner = NULL, lease_until = NULL, \
                     refresh_failed_at = NULL, refresh_after = NULL RETURNING ",
                    account_columns!()
                ))
                .bind(&fresh_id)
                .bind(&owner.workspace_id)
                .bind(&owner.user_id)
                .bind(&new.app_id)
                .bind(slot)
                .bind(&new.display_name)
                .bind(&new.credentials.key_id)
                .bind(&new.credentials.blob)
                .bind(now)
                .bind(new.access_expires_at)
                .bind(&new.oauth_client_id)
                .fetch_one(&mut **tx)
                .await?;
                let record = rows::account(&row)?;
                let existed = record.id != fresh_id;
                Ok((record, existed))
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn open_connections(&self) -> u32 {
                self.pool.size()
            }

            async fn create_workspace(
                &self,
                workspace: &Workspace,
                secret_key_hash: &[u8],
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO workspaces (id, name, app_key, secret_key_hash, created_at) VALUES ($1, $2, \
                     $3, $4, $5)",
                )
                .bind(&workspace.id)
                .bind(&workspace.name)
                .bind(&workspace.app_key)
                .bind(secret_key_hash)
                .bind(now_unix())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn workspace_by_secret_hash(&self, hash: &[u8]) -> StoreResult<Option<Workspace>> {
                let row = sqlx::query("SELECT id, name, app_key FROM workspaces WHERE secret_key_hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::workspace).transpose()
            }

            async fn workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
                let row = sqlx::query("SELECT id, name, app_key FROM workspaces WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::workspace).transpose()
            }

            async fn accounts(&self, owner: &Owner, app_id: Option<&str>) -> StoreResult<Vec<AccountRecord>> {
                let found = sqlx::query(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM accounts WHERE workspace_id = $1 AND user_id = $2 \
                     AND (CAST($3 AS TEXT) IS NULL OR app_id = $3) ORDER BY created_at, ",
                    $tiebreak
                ))
                .bind(&owner.workspace_id)
                .bind(&owner.user_id)
                .bind(app_id)
                .fetch_all(&self.pool)
                .await?;
                found.iter().map(rows::account).collect()
            }

            async fn app_accounts(&self, owner: &Owner, app_id: &str) -> StoreResult<Arc<[AccountRecord]>> {
                let key = cache::key(owner, app_id);
                if let Some(accounts) = self.cache.get(&key) {
                    return Ok(accounts);
                }
                let ticket = self.cache.ticket();
                let accounts = self.accounts(owner, Some(app_id)).await?;
                Ok(self.cache.put(ticket, key, accounts))
            }

            async fn account(&self, owner: &Owner, id: &str) -> StoreResult<Option<AccountRecord>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM accounts WHERE workspace_id = $1 AND user_id = $2 \
                     AND id = $3"
                ))
                .bind(&owner.workspace_id)
                .bind(&owner.user_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::account).transpose()
            }

            async fn workspace_account(
                &self,
                workspace_id: &str,
                id: &str,
            ) -> StoreResult<Option<(Owner, AccountRecord)>> {
                let row = sqlx::query(concat!(
                    "SELECT user_id, ",
                    account_columns!(),
                    " FROM accounts WHERE workspace_id = $1 AND id = $2"
                ))
                .bind(workspace_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let owner = Owner { workspace_id: workspace_id.to_owned(), user_id: row.try_get("user_id")? };
                Ok(Some((owner, rows::account(&row)?)))
            }

            async fn save_account(
                &self,
                owner: &Owner,
                target: &Target,
                new: &NewCredentials,
            ) -> StoreResult<Option<(AccountRecord, bool)>> {
                let now = now_unix();
                let change = self.cache.change(Changed::Accounts(cache::key(owner, &new.app_id)));
                let mut tx = self.pool.begin().await?;
                let saved = match target {
                    Target::Slot(slot) => Some(Self::upsert_slot(&mut tx, owner, slot, new, now).await?),
                    Target::Account(id) => {
                        Self::update_account_by_id(&mut tx, owner, id, new, now).await?.map(|record| (record, true))
                    }
                };
                if let Some((record, existed)) = &saved {
                    let kind = if *existed { EventKind::Reconnected } else { EventKind::Connected };
                    enqueue!(tx, kind, owner, record, now);
                    announce!(tx, change);
                }
                tx.commit().await?;
                change.applied().await;
                Ok(saved)
            }

            async fn delete_account(&self, owner: &Owner, id: &str) -> StoreResult<bool> {
                let change = self.cache.change(Changed::Account(id.to_owned()));
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query(concat!(
                    "DELETE FROM accounts WHERE id = $1 AND workspace_id = $2 AND user_id = $3 RETURNING ",
                    account_columns!()
                ))
                .bind(id)
                .bind(&owner.workspace_id)
                .bind(&owner.user_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = deleted else { return Ok(false) };
                enqueue!(tx, EventKind::Disconnected, owner, &rows::account(&row)?, now_unix());
                announce!(tx, change);
                tx.commit().await?;
                change.applied().await;
                Ok(true)
            }

            async fn create_attempt(
                &self,
                a: &AttemptRecord,
                state_hash: &[u8],
                now: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO oauth_attempts (id, state_hash, workspace_id, user_id, app_id, origin, \
                     return_to, key_id, verifier, client_id, target_account_id, status, created_at, \
                     expires_at, purpose) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', \
                     $12, $13, $14)",
                )
                .bind(&a.id)
                .bind(state_hash)
                .bind(&a.owner.workspace_id)
                .bind(&a.owner.user_id)
                .bind(&a.app_id)
                .bind(&a.origin)
                .bind(&a.return_to)
                .bind(&a.verifier.key_id)
                .bind(&a.verifier.blob)
                .bind(&a.client_id)
                .bind(&a.target_account_id)
                .bind(now)
                .bind(a.expires_at)
                .bind(rows::purpose_text(&a.purpose))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn claim_attempt(&self, state_hash: &[u8], now: i64) -> StoreResult<Claim> {
                // Concurrent claims queue on the row lock; the losers re-check `status` and match nothing.
                let claimed = sqlx::query(concat!(
                    "UPDATE oauth_attempts SET status = 'exchanging' WHERE state_hash = $1 \
                     AND status = 'pending' AND expires_at > $2 RETURNING ",
                    attempt_columns!()
                ))
                .bind(state_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(row) = claimed {
                    return Ok(Claim::Claimed(rows::attempt(&row)?));
                }
                let row = sqlx::query(concat!(
                    "SELECT ",
                    attempt_columns!(),
                    " FROM oauth_attempts WHERE state_hash = $1"
                ))
                .bind(state_hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(Claim::Unknown) };
                let attempt = rows::attempt(&row)?;
                Ok(if rows::attempt_pending(&row)? {
                    Claim::Expired(attempt)
                } else {
                    Claim::AlreadyUsed(attempt)
                })
            }

            async fn finish_attempt(
                &self,
                id: &str,
                outcome: Result<&str, &AttemptError>,
            ) -> StoreResult<()> {
                let query = match outcome {
                    Ok(account_id) => sqlx::query(
                        "UPDATE oauth_attempts SET status = 'connected', account_id = $1 WHERE id = $2",
                    )
                    .bind(account_id),
                    Err(error) => sqlx::query(
                        "UPDATE oauth_attempts SET status = 'failed', error_code = $1, error_message = $2, \
                         provider_error = $3 WHERE id = $4",
                    )
                    .bind(error.code.as_str())
                    .bind(&error.message)
                    .bind(&error.provider_error),
                };
                query.bind(id).execute(&self.pool).await?;
                Ok(())
            }

            async fn attempt(&self, owner: &Owner, id: &str) -> StoreResult<Option<AttemptRecord>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    attempt_columns!(),
                    " FROM oauth_attempts WHERE id = $1 AND workspace_id = $2 \
                     AND user_id = $3"
                ))
                .bind(id)
                .bind(&owner.workspace_id)
                .bind(&owner.user_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::attempt).transpose()
            }

            async fn try_lease(
                &self,
                account_id: &str,
                holder: &str,
                now: i64,
                until: i64,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE accounts SET lease_owner = $1, lease_until = $2 WHERE id = $3 \
                     AND (lease_owner IS NULL OR lease_until <= $4)",
                )
                .bind(holder)
                .bind(until)
                .bind(account_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_lease(&self, account_id: &str, holder: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE accounts SET lease_owner = NULL, lease_until = NULL WHERE id = $1 \
                     AND lease_owner = $2",
                )
                .bind(account_id)
                .bind(holder)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn store_refreshed(
                &self,
                account_id: &str,
                holder: &str,
                credentials: &Sealed,
                access_expires_at: Option<i64>,
            ) -> StoreResult<bool> {
                let change = self.cache.change(Changed::Account(account_id.to_owned()));
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE accounts SET key_id = $1, credentials = $2, access_expires_at = $3, \
                     version = version + 1, updated_at = $4, lease_owner = NULL, lease_until = NULL, \
                     refresh_failed_at = NULL, refresh_after = NULL WHERE id = $5 AND lease_owner = $6",
                )
                .bind(&credentials.key_id)
                .bind(&credentials.blob)
                .bind(access_expires_at)
                .bind(now_unix())
                .bind(account_id)
                .bind(holder)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                announce!(tx, change);
                tx.commit().await?;
                change.applied().await;
                Ok(true)
            }

            async fn mark_needs_reauth(&self, account_id: &str, version: i64) -> StoreResult<bool> {
                let change = self.cache.change(Changed::Account(account_id.to_owned()));
                let mut tx = self.pool.begin().await?;
                // `status = 'active'`: an account already marked is not signalled twice.
                let marked = sqlx::query(concat!(
                    "UPDATE accounts SET status = 'needs_reauth', lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND version = $2 AND status = 'active' RETURNING workspace_id, user_id, ",
                    account_columns!()
                ))
                .bind(account_id)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = marked else { return Ok(false) };
                let owner = rows::owner(&row)?;
                enqueue!(tx, EventKind::NeedsReauth, &owner, &rows::account(&row)?, now_unix());
                announce!(tx, change);
                tx.commit().await?;
                change.applied().await;
                Ok(true)
            }

            async fn record_refresh_failure(
                &self,
                account_id: &str,
                version: i64,
                now: i64,
                retry_at: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                // Only the failure that begins a series matches `refresh_failed_at IS NULL`.
                let began = sqlx::query(concat!(
                    "UPDATE accounts SET refresh_failed_at = $1 WHERE id = $2 AND version = $3 \
                     AND status = 'active' AND refresh_failed_at IS NULL RETURNING workspace_id, user_id, ",
                    account_columns!()
                ))
                .bind(now)
                .bind(account_id)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = &began {
                    let owner = rows::owner(row)?;
                    enqueue!(tx, EventKind::RefreshFailed, &owner, &rows::account(row)?, now);
                }
                sqlx::query("UPDATE accounts SET refresh_after = $1 WHERE id = $2 AND version = $3")
                    .bind(retry_at)
                    .bind(account_id)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(began.is_some())
            }

            async fn due_for_refresh(
                &self,
                now: i64,
                ahead: i64,
                idle_since: i64,
                limit: i64,
            ) -> StoreResult<Vec<(Owner, AccountRecord)>> {
                let found = sqlx::query(concat!(
                    "SELECT workspace_id, user_id, ",
                    account_columns!(),
                    " FROM accounts WHERE status = 'active' AND (refresh_after IS NULL OR refresh_after <= $1) \
                     AND ((access_expires_at <= $1 + $2 \
                     AND access_expires_at - $1 <= (access_expires_at - updated_at) / 2) \
                     OR updated_at <= $3) ORDER BY COALESCE(access_expires_at, updated_at) LIMIT $4"
                ))
                .bind(now)
                .bind(ahead)
                .bind(idle_since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                found
                    .iter()
                    .map(|row| {
                        let owner = rows::owner(row)?;
                        Ok((owner, rows::account(row)?))
                    })
                    .collect()
            }

            async fn defer_refresh(&self, account_id: &str, until: i64) -> StoreResult<()> {
                sqlx::query("UPDATE accounts SET refresh_after = $1 WHERE id = $2")
                    .bind(until)
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn set_step_log(&self, attempt_id: &str, log: &str) -> StoreResult<()> {
                sqlx::query("UPDATE oauth_attempts SET step_log = $1 WHERE id = $2")
                    .bind(log)
                    .bind(attempt_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn step_log(
                &self,
                workspace_id: &str,
                attempt_id: &str,
            ) -> StoreResult<Option<(String, Option<String>)>> {
                let row = sqlx::query(
                    "SELECT app_id, step_log FROM oauth_attempts WHERE id = $1 AND workspace_id = $2 \
                     AND purpose LIKE 'test:%'",
                )
                .bind(attempt_id)
                .bind(workspace_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| Ok((r.try_get("app_id")?, r.try_get("step_log")?))).transpose()
            }

            async fn app_settings(&self, workspace_id: &str) -> StoreResult<Vec<AppSettings>> {
                let found = sqlx::query(concat!(
                    "SELECT ",
                    settings_columns!(),
                    " FROM workspace_apps WHERE workspace_id = $1"
                ))
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
                found.iter().map(rows::settings).collect()
            }

            async fn app_setting(&self, workspace_id: &str, app_id: &str) -> StoreResult<AppSettings> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    settings_columns!(),
                    " FROM workspace_apps WHERE workspace_id = $1 AND app_id = $2"
                ))
                .bind(workspace_id)
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => rows::settings(&row),
                    None => Ok(AppSettings { app_id: app_id.to_owned(), ..AppSettings::default() }),
                }
            }

            async fn set_app_visibility(
                &self,
                workspace_id: &str,
                app_id: &str,
                hidden: bool,
                policy: Option<AccountsPolicy>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO workspace_apps (workspace_id, app_id, hidden, accounts_policy, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, app_id) DO UPDATE \
                     SET hidden = excluded.hidden, accounts_policy = excluded.accounts_policy, \
                     updated_at = excluded.updated_at",
                )
                .bind(workspace_id)
                .bind(app_id)
                .bind(hidden)
                .bind(rows::policy_text(policy))
                .bind(now_unix())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn save_own_client(
                &self,
                workspace_id: &str,
                app_id: &str,
                client: &StoredClient,
                settings_hash: &str,
            ) -> StoreResult<()> {
                let now = now_unix();
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO oauth_clients (workspace_id, app_id, client_id, key_id, secret, scopes, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, app_id, \
                     client_id) DO UPDATE SET key_id = excluded.key_id, secret = excluded.secret, \
                     scopes = excluded.scopes, updated_at = excluded.updated_at",
                )
                .bind(workspace_id)
                .bind(app_id)
                .bind(&client.client_id)
                .bind(&client.secret.key_id)
                .bind(&client.secret.blob)
                .bind(client.scopes.join(" "))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Changed settings are untested: the own client is disabled until they pass a test.
                sqlx::query(
                    "INSERT INTO workspace_apps (workspace_id, app_id, own_client_id, own_settings_hash, \
                     own_client_enabled, updated_at) VALUES ($1, $2, $3, $4, FALSE, $5) \
                     ON CONFLICT (workspace_id, app_id) DO UPDATE \
                     SET own_client_id = excluded.own_client_id, \
                     own_settings_hash = excluded.own_settings_hash, own_client_enabled = CASE \
                     WHEN workspace_apps.own_settings_hash = excluded.own_settings_hash \
                     THEN workspace_apps.own_client_enabled ELSE FALSE END, updated_at = excluded.updated_at",
                )
                .bind(workspace_id)
                .bind(app_id)
                .bind(&client.client_id)
                .bind(settings_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn own_client(
                &self,
                workspace_id: &str,
                app_id: &str,
                client_id: &str,
            ) -> StoreResult<Option<StoredClient>> {
                let row = sqlx::query(
                    "SELECT client_id, key_id, secret, scopes FROM oauth_clients WHERE workspace_id = $1 \
                     AND app_id = $2 AND client_id = $3",
                )
                .bind(workspace_id)
                .bind(app_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::client).transpose()
            }

            async fn record_test_success(
                &self,
                workspace_id: &str,
                app_id: &str,
                settings_hash: &str,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE workspace_apps SET tested_settings_hash = $1 WHERE workspace_id = $2 \
                     AND app_id = $3",
                )
                .bind(settings_hash)
                .bind(workspace_id)
                .bind(app_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn enable_own_client(&self, workspace_id: &str, app_id: &str) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE workspace_apps SET own_client_enabled = TRUE, updated_at = $1 \
                     WHERE workspace_id = $2 AND app_id = $3 AND own_settings_hash IS NOT NULL \
                     AND tested_settings_hash = own_settings_hash",
                )
                .bind(now_unix())
                .bind(workspace_id)
                .bind(app_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_webhook_endpoint(
                &self,
                workspace_id: &str,
                url: &str,
                secret: &Sealed,
                previous_until: Option<i64>,
            ) -> StoreResult<()> {
                // On rotation the row's current secret becomes the previous one, in one statement.
                sqlx::query(
                    "INSERT INTO webhook_endpoints (workspace_id, url, key_id, secret, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, \
                     previous_key_id = CASE WHEN CAST($6 AS BIGINT) IS NULL THEN NULL ELSE webhook_endpoints.key_id END, \
                     previous_secret = CASE WHEN CAST($6 AS BIGINT) IS NULL THEN NULL ELSE webhook_endpoints.secret END, \
                     previous_until = $6, key_id = excluded.key_id, secret = excluded.secret, \
                     updated_at = excluded.updated_at",
                )
                .bind(workspace_id)
                .bind(url)
                .bind(&secret.key_id)
                .bind(&secret.blob)
                .bind(now_unix())
                .bind(previous_until)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn set_webhook_url(&self, workspace_id: &str, url: &str) -> StoreResult<()> {
                sqlx::query("UPDATE webhook_endpoints SET url = $1, updated_at = $2 WHERE workspace_id = $3")
                    .bind(url)
                    .bind(now_unix())
                    .bind(workspace_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn webhook_endpoint(&self, workspace_id: &str) -> StoreResult<Option<WebhookEndpoint>> {
                let row = sqlx::query(
                    "SELECT url, key_id, secret, previous_key_id, previous_secret, previous_until \
                     FROM webhook_endpoints WHERE workspace_id = $1",
                )
                .bind(workspace_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::webhook_endpoint).transpose()
            }

            async fn webhook_deliveries(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<Delivery>> {
                let found = sqlx::query(concat!(
                    "SELECT id, event_type, created_at, attempts, next_attempt_at, delivered_at, failed_at, \
                     last_status, last_error FROM webhook_outbox WHERE workspace_id = $1 ORDER BY ",
                    $tiebreak,
                    " DESC LIMIT $2"
                ))
                .bind(workspace_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                found.iter().map(rows::delivery).collect()
            }

            async fn enqueue_webhook(
                &self,
                workspace_id: &str,
                id: &str,
                event_type: &str,
                payload: &str,
            ) -> StoreResult<()> {
                let now = now_unix();
                sqlx::query(
                    "INSERT INTO webhook_outbox (id, workspace_id, event_type, payload, created_at, \
                     next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(id)
                .bind(workspace_id)
                .bind(event_type)
                .bind(payload)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn claim_webhooks(
                &self,
                holder: &str,
                now: i64,
                lease_until: i64,
                limit: i64,
            ) -> StoreResult<Vec<Claimed>> {
                // MATERIALIZED: PostgreSQL may otherwise re-run a `LIMIT … SKIP LOCKED` subquery per
                // outer row and lease more rows than asked. The outer WHERE repeats the lease test: an
                // UPDATE that waited on a row lock re-checks it against the committed row, so two
                // replicas never both win a row.
                let found = sqlx::query(concat!(
                    "WITH picked AS MATERIALIZED (SELECT id FROM webhook_outbox WHERE delivered_at IS NULL \
                     AND failed_at IS NULL AND next_attempt_at <= $3 \
                     AND (lease_until IS NULL OR lease_until < $3) ORDER BY ",
                    $tiebreak,
                    " LIMIT $4",
                    $skip_locked,
                    ") UPDATE webhook_outbox SET lease_owner = $1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM picked) AND delivered_at IS NULL AND failed_at IS NULL \
                     AND (lease_until IS NULL OR lease_until < $3) \
                     RETURNING id, workspace_id, payload, created_at, attempts"
                ))
                .bind(holder)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                found
                    .iter()
                    .map(|row| {
                        Ok(Claimed {
                            id: row.try_get("id")?,
                            workspace_id: row.try_get("workspace_id")?,
                            payload: row.try_get("payload")?,
                            created_at: row.try_get("created_at")?,
                            attempts: row.try_get("attempts")?,
                        })
                    })
                    .collect()
            }

            async fn finish_webhook(
                &self,
                id: &str,
                holder: &str,
                now: i64,
                outcome: &Attempted,
            ) -> StoreResult<bool> {
                let (status, error, delivered_at, failed_at, next) = match outcome {
                    Attempted::Delivered { status } => (Some(*status), None, Some(now), None, now),
                    Attempted::Failed { status, error, retry_at } => {
                        (*status, error.clone(), None, retry_at.is_none().then_some(now), retry_at.unwrap_or(now))
                    }
                };
                let done = sqlx::query(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, last_status = $1, last_error = $2, \
                     delivered_at = $3, failed_at = $4, next_attempt_at = $5, lease_owner = NULL, \
                     lease_until = NULL WHERE id = $6 AND lease_owner = $7",
                )
                .bind(status)
                .bind(error)
                .bind(delivered_at)
                .bind(failed_at)
                .bind(next)
                .bind(id)
                .bind(holder)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_admin_session(
                &self,
                id_hash: &[u8],
                workspace_id: &str,
                csrf: &str,
                expires_at: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO admin_sessions (id_hash, workspace_id, csrf_token, expires_at) VALUES ($1, \
                     $2, $3, $4)",
                )
                .bind(id_hash)
                .bind(workspace_id)
                .bind(csrf)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn admin_session(&self, id_hash: &[u8], now: i64) -> StoreResult<Option<(String, String)>> {
                let row = sqlx::query(
                    "SELECT workspace_id, csrf_token FROM admin_sessions WHERE id_hash = $1 \
                     AND expires_at > $2",
                )
                .bind(id_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| Ok((r.try_get("workspace_id")?, r.try_get("csrf_token")?))).transpose()
            }

            async fn delete_admin_session(&self, id_hash: &[u8]) -> StoreResult<()> {
                sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

// SQLite's implicit rowid follows insertion order.
// SQLite has one writer at a time, so the claim needs no row locks.
sql_store!(SqliteStore, sqlx::Sqlite, tiebreak = "rowid", skip_locked = "");
// PostgreSQL's heap order does not (an update moves a row), hence the `seq` BIGSERIAL.
sql_store!(PostgresStore, sqlx::Postgres, tiebreak = "seq", skip_locked = " FOR UPDATE SKIP LOCKED");
