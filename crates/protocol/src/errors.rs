//! The error body every broker error uses, and the closed list of codes.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $wire:literal,)*) => {
        /// A stable, documented error code. The list is closed: clients may match on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* #[serde(rename = $wire)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire string (`CONNECTED_ACCOUNT_REQUIRED`).
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $wire,)* }
            }
        }

        /// A string enum of every wire string, each described by its doc comment (written out
        /// here because derives cannot read the `rename`s this macro generates).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for ErrorCode {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let described = [$(concat!("`", $wire, "`:", $($doc),*)),*];
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
                    .description(Some(format!(
                        "A stable, documented error code. The list is closed: clients may match on it.\n\n{}",
                        described.join("\n")
                    )))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for ErrorCode {}
    };
}

error_codes! {
    /// The request body is not valid JSON, or the request is otherwise malformed.
    BadRequest = "BAD_REQUEST",
    /// The request body is larger than the broker accepts.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    /// The request body is not `application/json`.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
    /// Missing, malformed or forged credentials for the broker itself.
    Unauthorized = "UNAUTHORIZED",
    /// The session token has expired: mint a new one.
    SessionExpired = "SESSION_EXPIRED",
    /// The page's origin is not among the session's allowed origins.
    OriginNotAllowed = "ORIGIN_NOT_ALLOWED",
    /// No such route.
    NotFound = "NOT_FOUND",
    /// The route exists but not with this method.
    MethodNotAllowed = "METHOD_NOT_ALLOWED",
    /// The app is not in the workspace's catalog.
    AppNotFound = "APP_NOT_FOUND",
    /// The function is not in the catalog.
    FunctionNotFound = "FUNCTION_NOT_FOUND",
    /// No such connected account for this user (also for another user's account).
    AccountNotFound = "ACCOUNT_NOT_FOUND",
    /// The user has no account for the app.
    NotConnected = "NOT_CONNECTED",
    /// The user has several accounts for the app and none was named; `details.candidates` lists them.
    ConnectedAccountRequired = "CONNECTED_ACCOUNT_REQUIRED",
    /// Arguments or credential fields are missing or invalid; `details.fields` names each.
    InvalidArguments = "INVALID_ARGUMENTS",
    /// A URL points somewhere the broker refuses to call (private, loopback, metadata addresses).
    UrlNotAllowed = "URL_NOT_ALLOWED",
    /// The app rejected the credentials; `details.reason` carries its explanation.
    CredentialsRejected = "CREDENTIALS_REJECTED",
    /// The account's grant is no longer valid: connect the app again.
    ReauthRequired = "REAUTH_REQUIRED",
    /// The app answered with an error; `details.status` and `details.body` carry it.
    UpstreamError = "UPSTREAM_ERROR",
    /// The app could not be reached in time.
    UpstreamUnavailable = "UPSTREAM_UNAVAILABLE",
    /// The app (or the broker) is rate limiting; `details.retryAfterSeconds` when known.
    RateLimited = "RATE_LIMITED",
    /// The app can only be connected with the workspace's own OAuth client, and none is enabled.
    OwnClientRequired = "OWN_CLIENT_REQUIRED",
    /// Admin: enabling an OAuth client needs a successful test of exactly its current settings.
    TestRequired = "TEST_REQUIRED",
    /// A fault inside the broker; details are in its logs, never in the response.
    Internal = "INTERNAL",
    /// SDK only: the options passed to the SDK are invalid; `details.fields` names each.
    InvalidOptions = "INVALID_OPTIONS",
    /// SDK only: the browser blocked the OAuth popup (call `connectApp` inside a click handler).
    PopupBlocked = "POPUP_BLOCKED",
    /// SDK only: the user closed the dialog, pressed Cancel or Esc.
    UserCancelled = "USER_CANCELLED",
    /// SDK only: the OAuth attempt expired before the user finished at the provider.
    ConnectTimeout = "CONNECT_TIMEOUT",
    /// SDK only: the broker could not be reached.
    Network = "NETWORK",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failing field of a form or an arguments object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// Field name, or a JSON Pointer for nested arguments (`/address/zip`).
    pub field: String,
    /// Why it fails, in plain words.
    pub reason: String,
}

/// One of several accounts a call could act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccountCandidate {
    /// Account id.
    pub id: String,
    /// Display name.
    pub display_name: String,
}

/// Code-specific details. Every member is optional so clients can read the ones their code uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// INVALID_ARGUMENTS, URL_NOT_ALLOWED: the failing fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// CONNECTED_ACCOUNT_REQUIRED: the accounts to choose from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<AccountCandidate>,
    /// CREDENTIALS_REJECTED: the app's explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub reason: Option<String>,
    /// UPSTREAM_ERROR, CREDENTIALS_REJECTED: the app's HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub status: Option<u16>,
    /// UPSTREAM_ERROR: the app's response body, size-capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub body: Option<String>,
    /// RATE_LIMITED: seconds to wait, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub retry_after_seconds: Option<u64>,
    /// Invoke failures: how many requests were sent upstream (retries included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub attempts: Option<u32>,
}

impl ErrorDetails {
    /// True when no member is set (the body then omits `details`).
    pub fn is_empty(&self) -> bool {
        *self == ErrorDetails::default()
    }
}

/// The inside of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorPayload {
    /// Stable code.
    pub code: ErrorCode,
    /// Human message (never a secret, a token or another user's data).
    pub message: String,
    /// Code-specific details.
    #[serde(default, skip_serializing_if = "ErrorDetails::is_empty")]
    pub details: ErrorDetails,
}

/// Every broker error response: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorPayload,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_wire_strings() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn empty_details_are_omitted_and_set_ones_are_camel_case() {
        let body = ErrorBody {
            error: ErrorPayload {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
                details: ErrorDetails::default(),
            },
        };
        assert_eq!(
            serde_json::to_string(&body).expect("serialize"),
            r#"{"error":{"code":"RATE_LIMITED","message":"slow down"}}"#
        );
        let details = ErrorDetails { retry_after_seconds: Some(3), ..Default::default() };
        assert_eq!(serde_json::to_string(&details).expect("serialize"), r#"{"retryAfterSeconds":3}"#);
    }
}
