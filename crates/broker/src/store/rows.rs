//! Row decoding shared by every backend: the columns each record is read from, and the text
//! encodings of enums, so SQLite and PostgreSQL cannot drift apart in what they store.

use patchbay_protocol::{AccountStatus, AccountsPolicy, AttemptError, AttemptStatus, ErrorCode};
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{
    AccountRecord, AppSettings, AttemptPurpose, AttemptRecord, Delivery, Owner, StoreResult, WebhookEndpoint,
    Workspace,
};
use crate::credentials::StoredCredentials;
use crate::crypto::Sealed;

/// Columns [`account`] reads (a macro: queries are `concat!`ed into literals at compile time).
macro_rules! account_columns {
    () => {
        "id, app_id, display_name, status, key_id, credentials, version, \
         created_at, updated_at, access_expires_at, oauth_client_id"
    };
}
pub(crate) use account_columns;

/// Columns [`attempt`] reads (a macro: queries are `concat!`ed into literals at compile time).
macro_rules! attempt_columns {
    () => {
        "id, workspace_id, user_id, app_id, origin, return_to, key_id, verifier, client_id, \
         target_account_id, status, account_id, error_code, error_message, provider_error, expires_at, purpose"
    };
}
pub(crate) use attempt_columns;

/// Columns [`settings`] reads (a macro: queries are `concat!`ed into literals at compile time).
macro_rules! settings_columns {
    () => {
        "app_id, hidden, accounts_policy, own_client_id, own_settings_hash, \
         tested_settings_hash, own_client_enabled"
    };
}
pub(crate) use settings_columns;

/// A result row of any backend whose driver decodes the store's column types.
pub trait StoreRow {
    /// A TEXT column (NULL as `None`).
    fn text(&self, column: &str) -> StoreResult<Option<String>>;
    /// An integer column (NULL as `None`).
    fn int(&self, column: &str) -> StoreResult<Option<i64>>;
    /// A blob (`BLOB` / `BYTEA`) column.
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
    /// A boolean (`INTEGER` 0/1 in SQLite, `BOOLEAN` in PostgreSQL).
    fn flag(&self, column: &str) -> StoreResult<bool>;

    /// A NOT NULL TEXT column.
    fn string(&self, column: &str) -> StoreResult<String> {
        self.text(column)?.ok_or_else(|| null_in(column))
    }

    /// A NOT NULL integer column.
    fn number(&self, column: &str) -> StoreResult<i64> {
        self.int(column)?.ok_or_else(|| null_in(column))
    }
}

fn null_in(column: &str) -> super::StoreError {
    super::StoreError(format!("unexpected NULL in column `{column}`"))
}

impl<R> StoreRow for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &str) -> StoreResult<bool> {
        Ok(self.try_get(column)?)
    }
}

/// A workspace from `id, name, app_key`.
pub fn workspace(row: &impl StoreRow) -> StoreResult<Workspace> {
    Ok(Workspace { id: row.string("id")?, name: row.string("name")?, app_key: row.string("app_key")? })
}

/// The owner of a row with `workspace_id` and `user_id` columns.
pub fn owner(row: &impl StoreRow) -> StoreResult<Owner> {
    Ok(Owner { workspace_id: row.string("workspace_id")?, user_id: row.string("user_id")? })
}

/// An account from [`account_columns!`].
pub fn account(row: &impl StoreRow) -> StoreResult<AccountRecord> {
    let status = match row.string("status")?.as_str() {
        "needs_reauth" => AccountStatus::NeedsReauth,
        _ => AccountStatus::Active,
    };
    Ok(AccountRecord {
        id: row.string("id")?,
        app_id: row.string("app_id")?,
        display_name: row.string("display_name")?,
        status,
        credentials: StoredCredentials::new(Sealed {
            key_id: row.string("key_id")?,
            blob: row.bytes("credentials")?,
        }),
        version: row.number("version")?,
        created_at: row.number("created_at")?,
        updated_at: row.number("updated_at")?,
        access_expires_at: row.int("access_expires_at")?,
        oauth_client_id: row.text("oauth_client_id")?,
    })
}

/// True when the attempt row is still `pending` (neither claimed nor finished).
pub fn attempt_pending(row: &impl StoreRow) -> StoreResult<bool> {
    Ok(row.string("status")? == "pending")
}

/// An attempt from [`attempt_columns!`].
pub fn attempt(row: &impl StoreRow) -> StoreResult<AttemptRecord> {
    let status = match row.string("status")?.as_str() {
        "connected" => AttemptStatus::Connected,
        "failed" => AttemptStatus::Failed,
        _ => AttemptStatus::Pending,
    };
    let error = match row.text("error_code")? {
        Some(code) => Some(AttemptError {
            code: serde_json::from_value(serde_json::Value::String(code)).unwrap_or(ErrorCode::Internal),
            message: row.text("error_message")?.unwrap_or_default(),
            provider_error: row.text("provider_error")?,
        }),
        None => None,
    };
    Ok(AttemptRecord {
        id: row.string("id")?,
        owner: owner(row)?,
        app_id: row.string("app_id")?,
        origin: row.text("origin")?,
        return_to: row.text("return_to")?,
        verifier: Sealed { key_id: row.string("key_id")?, blob: row.bytes("verifier")? },
        client_id: row.string("client_id")?,
        target_account_id: row.text("target_account_id")?,
        status,
        account_id: row.text("account_id")?,
        error,
        expires_at: row.number("expires_at")?,
        purpose: match row.string("purpose")?.strip_prefix("test:") {
            Some(hash) => AttemptPurpose::Test { settings_hash: hash.to_owned() },
            None => AttemptPurpose::Connect,
        },
    })
}

/// How an attempt's purpose is stored (`connect` or `test:<settings hash>`).
pub fn purpose_text(purpose: &AttemptPurpose) -> String {
    match purpose {
        AttemptPurpose::Connect => "connect".to_owned(),
        AttemptPurpose::Test { settings_hash } => format!("test:{settings_hash}"),
    }
}

/// How an accounts policy override is stored.
pub fn policy_text(policy: Option<AccountsPolicy>) -> Option<&'static str> {
    policy.map(|p| match p {
        AccountsPolicy::One => "one",
        AccountsPolicy::Multiple => "multiple",
    })
}

/// App settings from [`settings_columns!`].
pub fn settings(row: &impl StoreRow) -> StoreResult<AppSettings> {
    Ok(AppSettings {
        app_id: row.string("app_id")?,
        hidden: row.flag("hidden")?,
        accounts_policy: match row.text("accounts_policy")?.as_deref() {
            Some("one") => Some(AccountsPolicy::One),
            Some("multiple") => Some(AccountsPolicy::Multiple),
            _ => None,
        },
        own_client_id: row.text("own_client_id")?,
        own_settings_hash: row.text("own_settings_hash")?,
        tested_settings_hash: row.text("tested_settings_hash")?,
        own_client_enabled: row.flag("own_client_enabled")?,
    })
}

/// A stored OAuth client from `client_id, key_id, secret, scopes`.
pub fn client(row: &impl StoreRow) -> StoreResult<super::StoredClient> {
    Ok(super::StoredClient {
        client_id: row.string("client_id")?,
        secret: Sealed { key_id: row.string("key_id")?, blob: row.bytes("secret")? },
        scopes: row.string("scopes")?.split_whitespace().map(str::to_owned).collect(),
    })
}

/// A `webhook_endpoints` row.
pub fn webhook_endpoint(row: &impl StoreRow) -> StoreResult<WebhookEndpoint> {
    let previous = match (row.text("previous_key_id")?, row.int("previous_until")?) {
        (Some(key_id), Some(until)) => Some((Sealed { key_id, blob: row.bytes("previous_secret")? }, until)),
        _ => None,
    };
    Ok(WebhookEndpoint {
        url: row.string("url")?,
        secret: Sealed { key_id: row.string("key_id")?, blob: row.bytes("secret")? },
        previous,
    })
}

/// A `webhook_outbox` row, for the delivery log.
pub fn delivery(row: &impl StoreRow) -> StoreResult<Delivery> {
    let delivered_at = row.int("delivered_at")?;
    let failed_at = row.int("failed_at")?;
    Ok(Delivery {
        id: row.string("id")?,
        event_type: row.string("event_type")?,
        created_at: row.number("created_at")?,
        attempts: row.number("attempts")?,
        next_attempt_at: row
            .int("next_attempt_at")?
            .filter(|_| delivered_at.is_none() && failed_at.is_none()),
        delivered_at,
        failed_at,
        last_status: row.int("last_status")?,
        last_error: row.text("last_error")?,
    })
}
