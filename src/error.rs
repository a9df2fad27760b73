//! The SDK's one error: a code from the protocol's closed list, a message and code-specific
//! details. In JavaScript it becomes a `PatchbayError`; here it is plain data so the mapping
//! rules (HTTP answers, the account-selection rule, OAuth attempts) are tested natively.
//!
//! `details` has the shape of the protocol's `ErrorDetails` (`fields`, `candidates`, `reason`,
//! `status`, `body`, `retryAfterSeconds`, `attempts`); the broker's are passed on unchanged.

use patchbay_protocol::{ErrorCode, FieldError, SelectionError};

use crate::json::Json;

/// An error every SDK promise may reject with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SdkError {
    /// Stable code from [`ErrorCode::ALL`].
    pub code: ErrorCode,
    /// Human message for developers (English).
    pub message: String,
    /// Code-specific details (an object; empty when there are none).
    pub details: Json,
}

/// An error code from its wire string.
pub fn error_code(s: &str) -> Option<ErrorCode> {
    for code in ErrorCode::ALL {
        if code.as_str() == s {
            return Some(*code);
        }
    }
    None
}

fn fields_json(fields: &[FieldError]) -> Json {
    let mut list = Vec::with_capacity(fields.len());
    for f in fields {
        list.push(Json::object(vec![("field", Json::text(&f.field)), ("reason", Json::text(&f.reason))]));
    }
    Json::object(vec![("fields", Json::Array(list))])
}

impl SdkError {
    /// An error without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SdkError { code, message: message.into(), details: Json::Object(Vec::new()) }
    }

    /// INVALID_OPTIONS naming each bad option in `details.fields`.
    pub fn invalid_options(fields: &[FieldError]) -> Self {
        let mut message = String::from("invalid options:");
        for f in fields {
            message.push(' ');
            message.push_str(&f.field);
            message.push_str(" (");
            message.push_str(&f.reason);
            message.push(')');
        }
        SdkError { code: ErrorCode::InvalidOptions, message, details: fields_json(fields) }
    }

    /// INVALID_OPTIONS for one option.
    pub fn invalid_option(field: &str, reason: &str) -> Self {
        SdkError::invalid_options(&[FieldError { field: field.to_owned(), reason: reason.to_owned() }])
    }

    /// USER_CANCELLED.
    pub fn cancelled() -> Self {
        SdkError::new(ErrorCode::UserCancelled, "the user closed the dialog")
    }

    /// POPUP_BLOCKED.
    pub fn popup_blocked() -> Self {
        SdkError::new(
            ErrorCode::PopupBlocked,
            "the browser blocked the sign-in window: call connectApp in a click handler",
        )
    }

    /// NETWORK: the broker could not be reached.
    pub fn network(cause: &str) -> Self {
        SdkError::new(ErrorCode::Network, format!("the broker could not be reached ({cause})"))
    }

    /// INTERNAL: a fault inside the SDK or an answer it cannot read.
    pub fn internal(cause: &str) -> Self {
        SdkError::new(ErrorCode::Internal, cause)
    }

    /// Maps a broker answer that was not a success. `body` is the parsed body (`Null` when it
    /// was not JSON): an error body keeps its code, message and details; otherwise the status
    /// decides (gateways in front of the broker answer with HTML).
    pub fn from_http(status: u16, body: &Json) -> Self {
        if let Some(error) = body.get("error") {
            if let Some(code) = error_code(error.str_at("code")) {
                let details = error.get("details").filter(|d| d.as_object().is_some()).cloned();
                return SdkError {
                    code,
                    message: error.str_at("message").to_owned(),
                    details: details.unwrap_or(Json::Object(Vec::new())),
                };
            }
        }
        let code = match status {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::OriginNotAllowed,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            429 => ErrorCode::RateLimited,
            // A proxy or load balancer answered because the broker did not.
            502..=504 => ErrorCode::Network,
            _ => ErrorCode::Internal,
        };
        SdkError {
            code,
            message: format!("the broker answered HTTP {status} without an error body"),
            details: Json::object(vec![("status", Json::Number(f64::from(status)))]),
        }
    }

    /// Maps the account-selection rule's refusal for `app`.
    pub fn from_selection(err: SelectionError, app: &str) -> Self {
        match err {
            SelectionError::NotConnected => {
                SdkError::new(ErrorCode::NotConnected, format!("the user has not connected `{app}`"))
            }
            SelectionError::AccountRequired(candidates) => {
                let mut list = Vec::with_capacity(candidates.len());
                for c in &candidates {
                    list.push(Json::object(vec![
                        ("id", Json::text(&c.id)),
                        ("displayName", Json::text(&c.display_name)),
                    ]));
                }
                SdkError {
                    code: ErrorCode::ConnectedAccountRequired,
                    message: format!(
                        "the user has several accounts for `{app}`: pass connectedAccountId to choose one"
                    ),
                    details: Json::object(vec![("candidates", Json::Array(list))]),
                }
            }
            SelectionError::UnknownAccount => {
                SdkError::new(ErrorCode::AccountNotFound, format!("no such connected account for `{app}`"))
            }
        }
    }

    /// Maps a failed OAuth attempt's `error` (`{code, message, providerError?}`); the provider's
    /// error string becomes `details.reason`.
    pub fn from_attempt(error: &Json) -> Self {
        let code = error_code(error.str_at("code")).unwrap_or(ErrorCode::Internal);
        let mut err = SdkError::new(code, error.str_at("message"));
        if let Some(reason) = error.opt_str("providerError") {
            err.details = Json::object(vec![("reason", Json::text(reason))]);
        }
        err
    }

    /// Whether a credential form keeps itself open and shows this error inline (the user can fix
    /// it or try again), rather than closing and rejecting its promise.
    pub fn stays_in_form(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::InvalidArguments
                | ErrorCode::UrlNotAllowed
                | ErrorCode::CredentialsRejected
                | ErrorCode::UpstreamError
                | ErrorCode::UpstreamUnavailable
                | ErrorCode::RateLimited
                | ErrorCode::Network
        )
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{AccountCandidate, ErrorBody, ErrorDetails, ErrorPayload};

    use super::*;
    use crate::testing::wire;

    /// What the broker sends for `value`, as the SDK sees it.
    #[test]
    fn broker_error_bodies_keep_code_message_and_details() {
        let details = ErrorDetails {
            fields: vec![FieldError { field: "/a".into(), reason: "bad".into() }],
            candidates: vec![AccountCandidate { id: "ca_1".into(), display_name: "A".into() }],
            reason: Some("r".into()),
            status: Some(418),
            body: Some("teapot".into()),
            retry_after_seconds: Some(7),
            attempts: Some(3),
        };
        let body = ErrorBody {
            error: ErrorPayload {
                code: ErrorCode::UpstreamError,
                message: "m".into(),
                details: details.clone(),
            },
        };
        let err = SdkError::from_http(502, &wire(&body));
        assert_eq!((err.code, err.message.as_str()), (ErrorCode::UpstreamError, "m"));
        assert_eq!(err.details, wire(&details), "details reach JavaScript in the protocol's shape");
        let bare = ErrorBody {
            error: ErrorPayload {
                code: ErrorCode::NotFound,
                message: "x".into(),
                details: ErrorDetails::default(),
            },
        };
        assert_eq!(SdkError::from_http(404, &wire(&bare)).details, Json::Object(vec![]));
    }

    #[test]
    fn answers_without_an_error_body_are_mapped_by_status() {
        assert_eq!(SdkError::from_http(502, &Json::Null).code, ErrorCode::Network);
        assert_eq!(SdkError::from_http(429, &Json::Null).code, ErrorCode::RateLimited);
        assert_eq!(SdkError::from_http(401, &Json::Null).code, ErrorCode::Unauthorized);
        let teapot = SdkError::from_http(418, &Json::Null);
        assert_eq!(teapot.code, ErrorCode::Internal);
        assert_eq!(teapot.details.get("status").and_then(Json::as_f64), Some(418.0));
        let future: Json =
            serde_json::from_str(r#"{"error":{"code":"FROM_THE_FUTURE","message":"?"}}"#).expect("json");
        assert_eq!(
            SdkError::from_http(500, &future).code,
            ErrorCode::Internal,
            "unknown codes fall back to the status"
        );
    }

    #[test]
    fn every_code_reads_back_from_its_wire_string() {
        for code in ErrorCode::ALL {
            assert_eq!(error_code(code.as_str()), Some(*code));
        }
        assert_eq!(error_code("NOPE"), None);
    }

    #[test]
    fn selection_refusals_carry_the_candidates_in_wire_form() {
        let candidates = vec![
            AccountCandidate { id: "ca_1".into(), display_name: "a@x".into() },
            AccountCandidate { id: "ca_2".into(), display_name: "b@x".into() },
        ];
        let err = SdkError::from_selection(SelectionError::AccountRequired(candidates.clone()), "crm");
        assert_eq!(err.code, ErrorCode::ConnectedAccountRequired);
        let expected = ErrorDetails { candidates, ..ErrorDetails::default() };
        assert_eq!(err.details, wire(&expected));
        assert_eq!(
            SdkError::from_selection(SelectionError::NotConnected, "crm").code,
            ErrorCode::NotConnected
        );
        assert_eq!(
            SdkError::from_selection(SelectionError::UnknownAccount, "crm").code,
            ErrorCode::AccountNotFound
        );
    }

    #[test]
    fn attempt_failures_keep_the_provider_error_as_reason() {
        let error = patchbay_protocol::AttemptError {
            code: ErrorCode::CredentialsRejected,
            message: "access denied".into(),
            provider_error: Some("access_denied".into()),
        };
        let err = SdkError::from_attempt(&wire(&error));
        assert_eq!(err.code, ErrorCode::CredentialsRejected);
        assert_eq!(err.details.opt_str("reason"), Some("access_denied"));
    }

    #[test]
    fn only_fixable_errors_keep_a_form_open() {
        assert!(SdkError::new(ErrorCode::CredentialsRejected, "").stays_in_form());
        assert!(SdkError::new(ErrorCode::InvalidArguments, "").stays_in_form());
        assert!(SdkError::network("offline").stays_in_form());
        assert!(!SdkError::new(ErrorCode::SessionExpired, "").stays_in_form());
        assert!(!SdkError::new(ErrorCode::AppNotFound, "").stays_in_form());
    }

    #[test]
    fn invalid_options_name_every_field() {
        let err = SdkError::invalid_options(&[
            FieldError { field: "brokerUrl".into(), reason: "is required".into() },
            FieldError { field: "lang".into(), reason: "is not supported".into() },
        ]);
        assert_eq!(err.code, ErrorCode::InvalidOptions);
        assert_eq!(err.message, "invalid options: brokerUrl (is required) lang (is not supported)");
        assert_eq!(err.details.list_at("fields").len(), 2);
        assert_eq!(err.details.list_at("fields")[1].str_at("reason"), "is not supported");
    }

    #[test]
    fn the_typescript_error_codes_are_exactly_the_protocols() {
        let types = include_str!("../js/patchbay.d.ts");
        let start = types.find("export type ErrorCode =").expect("ErrorCode type");
        let union = &types[start..start + types[start..].find(';').expect("end of union")];
        let listed: Vec<&str> = union.split('"').skip(1).step_by(2).collect();
        let expected: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, expected, "js/patchbay.d.ts's ErrorCode must list ErrorCode::ALL, in order");
    }

    #[test]
    fn the_package_readme_lists_every_error_code() {
        let readme = include_str!("../pkg-template/README.md");
        for code in ErrorCode::ALL {
            assert!(
                readme.contains(&["`", code.as_str(), "`"].concat()),
                "pkg-template/README.md lacks {}",
                code.as_str()
            );
        }
    }
}
