//! Session tokens, minted by the workspace's backend for one of its users.

use serde::{Deserialize, Serialize};

/// `POST /v1/sessions` (authorised by the workspace secret key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionRequest {
    /// The workspace's own id for its user.
    pub user_id: String,
    /// Lifetime in seconds (default 1800, at most 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub ttl_seconds: Option<u64>,
    /// Browser origins allowed to use the token (`https://app.example.com`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// A minted session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    /// The bearer token for the SDK.
    pub token: String,
    /// RFC 3339 expiry.
    pub expires_at: String,
}
