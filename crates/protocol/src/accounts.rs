//! Connected accounts and the connect exchange.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Whether an account can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Usable.
    Active,
    /// The provider no longer accepts the stored grant: the user must connect again.
    NeedsReauth,
}

/// One user's credentials for one app, as the browser may see them (never the secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConnectedAccount {
    /// Stable id (`ca_…`).
    pub id: String,
    /// Catalog id of the app.
    pub app_id: String,
    /// Name shown to the user (an email, a workspace name…).
    pub display_name: String,
    /// Usability.
    pub status: AccountStatus,
    /// RFC 3339 time of the first connection.
    pub created_at: String,
    /// RFC 3339 time of the last credential change.
    pub updated_at: String,
}

/// `GET /v1/apps/{app}/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountList {
    /// The session user's accounts for the app, oldest first.
    pub accounts: Vec<ConnectedAccount>,
}

/// `POST /v1/apps/{app}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectRequest {
    /// Credential values keyed by field name; empty for OAuth 2.0.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Reconnect this existing account in place instead of following the accounts policy.
    #[serde(default, alias = "connectedAccountID", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub connected_account_id: Option<String>,
    /// OAuth 2.0 redirect mode (hosts that cannot open popups): after the callback the broker sends
    /// the browser back to this URL, which must be on one of the session's allowed origins, with
    /// `patchbay_attempt=<id>` added to its query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub return_to: Option<String>,
}

/// The outcome of `POST /v1/apps/{app}/connect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ConnectResponse {
    /// Credentials were verified and saved.
    #[serde(rename_all = "camelCase")]
    Connected {
        /// The saved account.
        account: ConnectedAccount,
        /// True when an existing account was updated in place.
        reconnected: bool,
    },
    /// OAuth 2.0: open this URL in a popup, then follow the attempt.
    #[serde(rename_all = "camelCase")]
    Authorize {
        /// The provider's authorize URL.
        authorize_url: String,
        /// Attempt id for `GET /v1/connect-attempts/{id}`.
        attempt_id: String,
        /// RFC 3339 time after which the attempt fails.
        expires_at: String,
    },
}
