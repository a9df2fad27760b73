//! The broker's one error type: a stable code, a human message and an HTTP status. Internal faults
//! are logged with their cause and reach the client only as `INTERNAL`.

use std::borrow::Cow;

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patchbay_protocol::{AccountCandidate, ErrorCode, ErrorDetails, ErrorPayload, FieldError};

/// An error a handler returns; rendered as `{"error": {...}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// Message safe to show (never a secret, token or another user's data).
    pub message: Cow<'static, str>,
    /// Code-specific details (boxed: most errors have none, and results stay small).
    pub details: Option<Box<ErrorDetails>>,
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError { code, message: message.into(), details: None }
    }

    /// Adds details.
    pub fn with_details(mut self, details: ErrorDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// INVALID_ARGUMENTS naming each failing field.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let message = format!("invalid or missing: {}", names.join(", "));
        ApiError::new(ErrorCode::InvalidArguments, message)
            .with_details(ErrorDetails { fields, ..Default::default() })
    }

    /// CONNECTED_ACCOUNT_REQUIRED listing the accounts to choose from.
    pub fn account_required(candidates: Vec<AccountCandidate>) -> Self {
        ApiError::new(
            ErrorCode::ConnectedAccountRequired,
            format!(
                "the user has {} accounts for this app: pass connectedAccountId to choose one",
                candidates.len()
            ),
        )
        .with_details(ErrorDetails { candidates, ..Default::default() })
    }

    /// The one answer for an account id that is missing or belongs to someone else.
    pub fn account_not_found() -> Self {
        ApiError::new(ErrorCode::AccountNotFound, "no such connected account")
    }

    /// APP_NOT_FOUND for an app the catalog lacks (or the workspace hid: the same answer).
    pub fn app_not_found(id: &str) -> Self {
        ApiError::new(ErrorCode::AppNotFound, format!("no app `{id}` in the catalog"))
    }

    /// FUNCTION_NOT_FOUND.
    pub fn function_not_found(name: &str) -> Self {
        ApiError::new(ErrorCode::FunctionNotFound, format!("no function `{name}` in the catalog"))
    }

    /// REAUTH_REQUIRED: the app no longer accepts the account's grant or credentials.
    pub fn reauth_required(app_name: &str) -> Self {
        ApiError::new(
            ErrorCode::ReauthRequired,
            format!("{app_name} no longer accepts this connection: connect the account again"),
        )
    }

    /// Logs `cause` (which may hold internals, never secrets) and returns an opaque INTERNAL.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(ErrorCode::Internal, "internal error; the broker's log has the cause")
    }

    /// The HTTP status for this error's code.
    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }
}

/// Maps each code to its HTTP status.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::BadRequest => StatusCode::BAD_REQUEST,
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::Unauthorized | C::SessionExpired => StatusCode::UNAUTHORIZED,
        C::OriginNotAllowed => StatusCode::FORBIDDEN,
        C::NotFound | C::AppNotFound | C::FunctionNotFound | C::AccountNotFound | C::NotConnected => {
            StatusCode::NOT_FOUND
        }
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::ConnectedAccountRequired | C::ReauthRequired | C::OwnClientRequired | C::TestRequired => {
            StatusCode::CONFLICT
        }
        C::InvalidArguments | C::UrlNotAllowed | C::CredentialsRejected => StatusCode::UNPROCESSABLE_ENTITY,
        C::UpstreamError => StatusCode::BAD_GATEWAY,
        C::UpstreamUnavailable => StatusCode::GATEWAY_TIMEOUT,
        C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        // Raised by the SDK only; the broker never returns them.
        C::InvalidOptions => StatusCode::BAD_REQUEST,
        C::PopupBlocked | C::UserCancelled | C::ConnectTimeout | C::Network => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

// The wire error body plus the request id. Kept here rather than in the protocol crate: the id is
// the broker's addition for operators, and the SDK builds `ErrorPayload`s of its own.
/// Every error response of the broker.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
pub(crate) struct Body {
    /// The error.
    error: Payload,
}

/// The error: a stable code, a message, code-specific details and the request's id.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
#[serde(rename_all = "camelCase")]
struct Payload {
    #[serde(flatten)]
    payload: ErrorPayload,
    /// The request's `x-request-id`, also on its log lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    request_id: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let payload = ErrorPayload {
            code: self.code,
            message: self.message.into_owned(),
            details: self.details.map(|d| *d).unwrap_or_default(),
        };
        let body = Body { error: Payload { payload, request_id: crate::telemetry::request_id() } };
        (status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        // The rejection's text describes the JSON problem (position, expected type); it never
        // echoes field values, so it is safe to return.
        let text = rejection.body_text();
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::new(ErrorCode::InvalidArguments, text),
            _ => ApiError::new(ErrorCode::BadRequest, text),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        ApiError::internal(err)
    }
}
