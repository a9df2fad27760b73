//! SQLite storage (the embedded default): one file, WAL mode, migrations at start-up.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use patchbay_protocol::{AccountStatus, AccountsPolicy, AttemptError, AttemptStatus, ErrorCode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use super::{
    AccountRecord, AppSettings, AttemptPurpose, AttemptRecord, Claim, NewCredentials, Owner, Store,
    StoreResult, StoredClient, Target, Workspace,
};
use crate::crypto::Sealed;
use crate::ids::{now_unix, random_id};

/// SQLite-backed [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

const ACCOUNT_COLUMNS: &str = "id, app_id, display_name, status, key_id, credentials, version, created_at, \
     updated_at, access_expires_at, oauth_client_id";

const ATTEMPT_COLUMNS: &str =
    "id, workspace_id, user_id, app_id, origin, return_to, key_id, verifier, client_id, \
     target_account_id, status, account_id, error_code, error_message, provider_error, expires_at, purpose";

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/file.db`) and migrates it.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

fn account_from_row(row: &SqliteRow) -> StoreResult<AccountRecord> {
    let status = match row.try_get::<&str, _>("status")? {
        "needs_reauth" => AccountStatus::NeedsReauth,
        _ => AccountStatus::Active,
    };
    Ok(AccountRecord {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        display_name: row.try_get("display_name")?,
        status,
        credentials: Sealed { key_id: row.try_get("key_id")?, blob: row.try_get("credentials")? },
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        access_expires_at: row.try_get("access_expires_at")?,
        oauth_client_id: row.try_get("oauth_client_id")?,
    })
}

fn attempt_from_row(row: &SqliteRow) -> StoreResult<AttemptRecord> {
    let status = match row.try_get::<&str, _>("status")? {
        "connected" => AttemptStatus::Connected,
        "failed" => AttemptStatus::Failed,
        _ => AttemptStatus::Pending,
    };
    let error = match row.try_get::<Option<String>, _>("error_code")? {
        Some(code) => Some(AttemptError {
            code: serde_json::from_value(serde_json::Value::String(code)).unwrap_or(ErrorCode::Internal),
            message: row.try_get::<Option<String>, _>("error_message")?.unwrap_or_default(),
            provider_error: row.try_get("provider_error")?,
        }),
        None => None,
    };
    Ok(AttemptRecord {
        id: row.try_get("id")?,
        owner: Owner { workspace_id: row.try_get("workspace_id")?, user_id: row.try_get("user_id")? },
        app_id: row.try_get("app_id")?,
        origin: row.try_get("origin")?,
        return_to: row.try_get("return_to")?,
        verifier: Sealed { key_id: row.try_get("key_id")?, blob: row.try_get("verifier")? },
        client_id: row.try_get("client_id")?,
        target_account_id: row.try_get("target_account_id")?,
        status,
        account_id: row.try_get("account_id")?,
        error,
        expires_at: row.try_get("expires_at")?,
        purpose: match row.try_get::<&str, _>("purpose")?.strip_prefix("test:") {
            Some(hash) => AttemptPurpose::Test { settings_hash: hash.to_owned() },
            None => AttemptPurpose::Connect,
        },
    })
}

fn policy_text(policy: Option<AccountsPolicy>) -> Option<&'static str> {
    policy.map(|p| match p {
        AccountsPolicy::One => "one",
        AccountsPolicy::Multiple => "multiple",
    })
}

fn settings_from_row(row: &SqliteRow) -> StoreResult<AppSettings> {
    Ok(AppSettings {
        app_id: row.try_get("app_id")?,
        hidden: row.try_get::<i64, _>("hidden")? != 0,
        accounts_policy: match row.try_get::<Option<&str>, _>("accounts_policy")? {
            Some("one") => Some(AccountsPolicy::One),
            Some("multiple") => Some(AccountsPolicy::Multiple),
            _ => None,
        },
        own_client_id: row.try_get("own_client_id")?,
        own_settings_hash: row.try_get("own_settings_hash")?,
        tested_settings_hash: row.try_get("tested_settings_hash")?,
        own_client_enabled: row.try_get::<i64, _>("own_client_enabled")? != 0,
    })
}

const SETTINGS_COLUMNS: &str =
    "app_id, hidden, accounts_policy, own_client_id, own_settings_hash, tested_settings_hash, own_client_enabled";

fn workspace_from_row(row: &SqliteRow) -> StoreResult<Workspace> {
    Ok(Workspace { id: row.try_get("id")?, name: row.try_get("name")?, app_key: row.try_get("app_key")? })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_workspace(&self, workspace: &Workspace, secret_key_hash: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO workspaces (id, name, app_key, secret_key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
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
        let row = sqlx::query("SELECT id, name, app_key FROM workspaces WHERE secret_key_hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
        let row = sqlx::query("SELECT id, name, app_key FROM workspaces WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn accounts(&self, owner: &Owner, app_id: Option<&str>) -> StoreResult<Vec<AccountRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE workspace_id = ? AND user_id = ? \
             AND (? IS NULL OR app_id = ?) ORDER BY created_at, rowid"
        ))
        .bind(&owner.workspace_id)
        .bind(&owner.user_id)
        .bind(app_id)
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn account(&self, owner: &Owner, id: &str) -> StoreResult<Option<AccountRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE workspace_id = ? AND user_id = ? AND id = ?"
        ))
        .bind(&owner.workspace_id)
        .bind(&owner.user_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn save_account(
        &self,
        owner: &Owner,
        target: &Target,
        new: &NewCredentials,
    ) -> StoreResult<Option<(AccountRecord, bool)>> {
        let now = now_unix();
        let row = match target {
            Target::Slot(slot) => {
                // One statement, so two concurrent connects cannot both insert into one slot. A
                // fresh insert is recognised by its id being the one generated here.
                let fresh_id = random_id("ca");
                let row = sqlx::query(&format!(
                    "INSERT INTO accounts (id, workspace_id, user_id, app_id, slot, display_name, status, \
                     key_id, credentials, version, created_at, updated_at, access_expires_at, oauth_client_id) \
                     VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, 1, ?, ?, ?, ?) \
                     ON CONFLICT (workspace_id, user_id, app_id, slot) DO UPDATE SET \
                     display_name = excluded.display_name, status = 'active', key_id = excluded.key_id, \
                     credentials = excluded.credentials, version = accounts.version + 1, \
                     updated_at = excluded.updated_at, access_expires_at = excluded.access_expires_at, \
                     oauth_client_id = excluded.oauth_client_id, lease_owner = NULL, lease_until = NULL \
                     RETURNING {ACCOUNT_COLUMNS}"
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
                .bind(now)
                .bind(new.access_expires_at)
                .bind(&new.oauth_client_id)
                .fetch_one(&self.pool)
                .await?;
                let record = account_from_row(&row)?;
                let existed = record.id != fresh_id;
                return Ok(Some((record, existed)));
            }
            Target::Account(id) => {
                sqlx::query(&format!(
                    "UPDATE accounts SET display_name = ?, status = 'active', key_id = ?, credentials = ?, \
                     version = version + 1, updated_at = ?, access_expires_at = ?, oauth_client_id = ?, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE id = ? AND workspace_id = ? AND user_id = ? AND app_id = ? \
                     RETURNING {ACCOUNT_COLUMNS}"
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
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.as_ref().map(|r| account_from_row(r).map(|a| (a, true))).transpose()
    }

    async fn delete_account(&self, owner: &Owner, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM accounts WHERE id = ? AND workspace_id = ? AND user_id = ?")
            .bind(id)
            .bind(&owner.workspace_id)
            .bind(&owner.user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_attempt(&self, a: &AttemptRecord, state_hash: &[u8], now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_attempts (id, state_hash, workspace_id, user_id, app_id, origin, return_to, key_id, \
             verifier, client_id, target_account_id, status, created_at, expires_at, purpose) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
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
        .bind(match &a.purpose {
            AttemptPurpose::Connect => "connect".to_owned(),
            AttemptPurpose::Test { settings_hash } => format!("test:{settings_hash}"),
        })
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_attempt(&self, state_hash: &[u8], now: i64) -> StoreResult<Claim> {
        let claimed = sqlx::query(&format!(
            "UPDATE oauth_attempts SET status = 'exchanging' \
             WHERE state_hash = ? AND status = 'pending' AND expires_at > ? RETURNING {ATTEMPT_COLUMNS}"
        ))
        .bind(state_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = claimed {
            return Ok(Claim::Claimed(attempt_from_row(&row)?));
        }
        let row = sqlx::query(&format!("SELECT {ATTEMPT_COLUMNS} FROM oauth_attempts WHERE state_hash = ?"))
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(Claim::Unknown) };
        let attempt = attempt_from_row(&row)?;
        let pending = row.try_get::<&str, _>("status")? == "pending";
        Ok(if pending { Claim::Expired(attempt) } else { Claim::AlreadyUsed(attempt) })
    }

    async fn finish_attempt(&self, id: &str, outcome: Result<&str, &AttemptError>) -> StoreResult<()> {
        let query = match outcome {
            Ok(account_id) => {
                sqlx::query("UPDATE oauth_attempts SET status = 'connected', account_id = ? WHERE id = ?").bind(account_id)
            }
            Err(error) => sqlx::query(
                "UPDATE oauth_attempts SET status = 'failed', error_code = ?, error_message = ?, provider_error = ? \
                 WHERE id = ?",
            )
            .bind(error.code.as_str())
            .bind(&error.message)
            .bind(&error.provider_error),
        };
        query.bind(id).execute(&self.pool).await?;
        Ok(())
    }

    async fn attempt(&self, owner: &Owner, id: &str) -> StoreResult<Option<AttemptRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM oauth_attempts WHERE id = ? AND workspace_id = ? AND user_id = ?"
        ))
        .bind(id)
        .bind(&owner.workspace_id)
        .bind(&owner.user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(attempt_from_row).transpose()
    }

    async fn try_lease(&self, account_id: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET lease_owner = ?, lease_until = ? \
             WHERE id = ? AND (lease_owner IS NULL OR lease_until <= ?)",
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
            "UPDATE accounts SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
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
        let done = sqlx::query(
            "UPDATE accounts SET key_id = ?, credentials = ?, access_expires_at = ?, version = version + 1, \
             updated_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
        )
        .bind(&credentials.key_id)
        .bind(&credentials.blob)
        .bind(access_expires_at)
        .bind(now_unix())
        .bind(account_id)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_needs_reauth(&self, account_id: &str, version: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET status = 'needs_reauth', lease_owner = NULL, lease_until = NULL \
             WHERE id = ? AND version = ?",
        )
        .bind(account_id)
        .bind(version)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_step_log(&self, attempt_id: &str, log: &str) -> StoreResult<()> {
        sqlx::query("UPDATE oauth_attempts SET step_log = ? WHERE id = ?")
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
            "SELECT app_id, step_log FROM oauth_attempts WHERE id = ? AND workspace_id = ? AND purpose LIKE 'test:%'",
        )
        .bind(attempt_id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("app_id")?, r.try_get("step_log")?))).transpose()
    }

    async fn app_settings(&self, workspace_id: &str) -> StoreResult<Vec<AppSettings>> {
        let rows =
            sqlx::query(&format!("SELECT {SETTINGS_COLUMNS} FROM workspace_apps WHERE workspace_id = ?"))
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(settings_from_row).collect()
    }

    async fn app_setting(&self, workspace_id: &str, app_id: &str) -> StoreResult<AppSettings> {
        let row = sqlx::query(&format!(
            "SELECT {SETTINGS_COLUMNS} FROM workspace_apps WHERE workspace_id = ? AND app_id = ?"
        ))
        .bind(workspace_id)
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => settings_from_row(&row),
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
            "INSERT INTO workspace_apps (workspace_id, app_id, hidden, accounts_policy, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (workspace_id, app_id) DO UPDATE SET hidden = excluded.hidden, \
             accounts_policy = excluded.accounts_policy, updated_at = excluded.updated_at",
        )
        .bind(workspace_id)
        .bind(app_id)
        .bind(i64::from(hidden))
        .bind(policy_text(policy))
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
            "INSERT INTO oauth_clients (workspace_id, app_id, client_id, key_id, secret, scopes, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, app_id, client_id) DO UPDATE SET \
             key_id = excluded.key_id, secret = excluded.secret, scopes = excluded.scopes, updated_at = excluded.updated_at",
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
        sqlx::query(
            "INSERT INTO workspace_apps (workspace_id, app_id, own_client_id, own_settings_hash, own_client_enabled, updated_at) \
             VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (workspace_id, app_id) DO UPDATE SET \
             own_client_id = excluded.own_client_id, own_settings_hash = excluded.own_settings_hash, \
             own_client_enabled = CASE WHEN workspace_apps.own_settings_hash = excluded.own_settings_hash \
             THEN workspace_apps.own_client_enabled ELSE 0 END, updated_at = excluded.updated_at",
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
            "SELECT client_id, key_id, secret, scopes FROM oauth_clients \
             WHERE workspace_id = ? AND app_id = ? AND client_id = ?",
        )
        .bind(workspace_id)
        .bind(app_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredClient {
                client_id: r.try_get("client_id")?,
                secret: Sealed { key_id: r.try_get("key_id")?, blob: r.try_get("secret")? },
                scopes: r.try_get::<&str, _>("scopes")?.split_whitespace().map(str::to_owned).collect(),
            })
        })
        .transpose()
    }

    async fn record_test_success(
        &self,
        workspace_id: &str,
        app_id: &str,
        settings_hash: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE workspace_apps SET tested_settings_hash = ? WHERE workspace_id = ? AND app_id = ?",
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
            "UPDATE workspace_apps SET own_client_enabled = 1, updated_at = ? WHERE workspace_id = ? AND app_id = ? \
             AND own_settings_hash IS NOT NULL AND tested_settings_hash = own_settings_hash",
        )
        .bind(now_unix())
        .bind(workspace_id)
        .bind(app_id)
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
            "INSERT INTO admin_sessions (id_hash, workspace_id, csrf_token, expires_at) VALUES (?, ?, ?, ?)",
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
            "SELECT workspace_id, csrf_token FROM admin_sessions WHERE id_hash = ? AND expires_at > ?",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("workspace_id")?, r.try_get("csrf_token")?))).transpose()
    }

    async fn delete_admin_session(&self, id_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = ?").bind(id_hash).execute(&self.pool).await?;
        Ok(())
    }
}
