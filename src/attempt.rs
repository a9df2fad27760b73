//! Following an OAuth connect attempt: what the broker's status means (`ConnectAttempt`), and
//! which `message` events count as the callback page's fast-path notice (`CallbackMessage`).

use patchbay_protocol::CALLBACK_MESSAGE_TYPE;

use crate::error::SdkError;
use crate::json::Json;

/// The OAuth attempt a tab is waiting for, kept in its session storage so a reloaded page can
/// finish the connect: ids and a time only, never a token.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingAttempt {
    /// The broker's attempt id.
    pub attempt_id: String,
    /// The app being connected.
    pub app_id: String,
    /// When the attempt started (milliseconds since the epoch, the browser's clock).
    pub started_at: f64,
}

/// Where an attempt stands, for the SDK.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Still waiting for the user at the provider.
    Pending,
    /// Connected: the account id.
    Connected(String),
    /// Failed (CONNECT_TIMEOUT when it expired).
    Failed(SdkError),
}

/// Reads the broker's answer for an attempt.
pub fn progress(attempt: &Json) -> Progress {
    match (attempt.str_at("status"), attempt.opt_str("accountId")) {
        ("pending", _) => Progress::Pending,
        ("connected", Some(id)) => Progress::Connected(id.to_owned()),
        ("failed", _) => Progress::Failed(match attempt.get("error") {
            Some(error) => SdkError::from_attempt(error),
            None => SdkError::internal("the sign-in failed without a reason"),
        }),
        _ => Progress::Failed(SdkError::internal("unreadable connect attempt")),
    }
}

/// Whether a `message` event is the broker's callback for `attempt_id`. Only a hint to look at
/// the attempt's status now: the outcome itself always comes from the broker.
pub fn is_callback_for(message: &Json, event_origin: &str, broker_origin: &str, attempt_id: &str) -> bool {
    event_origin == broker_origin
        && message.str_at("type") == CALLBACK_MESSAGE_TYPE
        && message.str_at("attemptId") == attempt_id
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{AttemptError, AttemptStatus, CallbackMessage, ConnectAttempt, ErrorCode};

    use super::*;
    use crate::testing::wire;

    fn attempt(status: AttemptStatus) -> ConnectAttempt {
        ConnectAttempt {
            id: "att_1".into(),
            app_id: "idp".into(),
            status,
            account_id: None,
            error: None,
            expires_at: "2030-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn statuses_map_to_progress() {
        assert_eq!(progress(&wire(&attempt(AttemptStatus::Pending))), Progress::Pending);
        let connected =
            ConnectAttempt { account_id: Some("ca_1".into()), ..attempt(AttemptStatus::Connected) };
        assert_eq!(progress(&wire(&connected)), Progress::Connected("ca_1".into()));
        let expired = ConnectAttempt {
            error: Some(AttemptError {
                code: ErrorCode::ConnectTimeout,
                message: "late".into(),
                provider_error: None,
            }),
            ..attempt(AttemptStatus::Failed)
        };
        assert!(
            matches!(progress(&wire(&expired)), Progress::Failed(e) if e.code == ErrorCode::ConnectTimeout)
        );
        assert!(
            matches!(progress(&wire(&attempt(AttemptStatus::Connected))), Progress::Failed(e) if e.code == ErrorCode::Internal)
        );
        assert!(matches!(progress(&Json::Null), Progress::Failed(e) if e.code == ErrorCode::Internal));
    }

    #[test]
    fn only_the_brokers_message_for_this_attempt_counts() {
        let message = wire(&CallbackMessage {
            kind: CALLBACK_MESSAGE_TYPE.into(),
            attempt_id: "att_1".into(),
            status: AttemptStatus::Connected,
            account_id: Some("ca_1".into()),
            error: None,
        });
        let broker = "https://broker.example";
        assert!(is_callback_for(&message, broker, broker, "att_1"));
        assert!(!is_callback_for(&message, "https://evil.example", broker, "att_1"), "foreign origin");
        assert!(!is_callback_for(&message, "https://broker.example:8443", broker, "att_1"), "other port");
        assert!(!is_callback_for(&message, broker, broker, "att_2"), "other attempt");
        assert!(
            !is_callback_for(&Json::String("patchbay:oauth".into()), broker, broker, "att_1"),
            "not an object"
        );
    }
}
