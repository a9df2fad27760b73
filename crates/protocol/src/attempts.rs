//! OAuth connect attempts: what the SDK polls while the user is at the provider, and what the
//! broker's callback page posts to the opener.

use serde::{Deserialize, Serialize};

use crate::errors::ErrorCode;

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// The user has not come back from the provider yet.
    Pending,
    /// Tokens were stored; `accountId` names the account.
    Connected,
    /// The attempt ended without an account; `error` says why.
    Failed,
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AttemptError {
    /// Stable code (`USER_CANCELLED` is never produced by the broker; `CREDENTIALS_REJECTED` for a
    /// provider's `access_denied`, `UPSTREAM_ERROR` for `invalid_client`…).
    pub code: ErrorCode,
    /// Human message, including the provider's description when it gave one.
    pub message: String,
    /// The provider's OAuth error string (`access_denied`, `invalid_grant`…), when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub provider_error: Option<String>,
}

/// The longest `wait` the broker honours on an attempt's status: under the usual 30 s proxy
/// timeouts.
pub const MAX_ATTEMPT_WAIT_SECONDS: u64 = 25;

/// `GET /v1/connect-attempts/{id}[?wait=<seconds>]`; with `wait` the broker answers as soon as the
/// status leaves `pending`, or after that many seconds (at most [`MAX_ATTEMPT_WAIT_SECONDS`]) with
/// `pending`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConnectAttempt {
    /// Attempt id.
    pub id: String,
    /// Catalog id of the app.
    pub app_id: String,
    /// Status.
    pub status: AttemptStatus,
    /// The connected account, once `connected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub account_id: Option<String>,
    /// Why it failed, once `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub error: Option<AttemptError>,
    /// RFC 3339 time after which a pending attempt fails.
    pub expires_at: String,
}

/// The message the broker's callback page posts to `window.opener`, with the exact origin the
/// attempt was started from as target. `type` is always `"patchbay:oauth"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CallbackMessage {
    /// Always [`CALLBACK_MESSAGE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Attempt id.
    pub attempt_id: String,
    /// `connected` or `failed`.
    pub status: AttemptStatus,
    /// The connected account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub account_id: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub error: Option<AttemptError>,
}

/// The `type` of every [`CallbackMessage`].
pub const CALLBACK_MESSAGE_TYPE: &str = "patchbay:oauth";
