//! The events hosts can subscribe to with `on` / `off`.

use crate::error::SdkError;

/// An SDK event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// An account was connected or reconnected: `{ appId, accountId, reconnected? }`.
    AppConnected,
    /// An account was disconnected: `{ appId, accountId }`.
    AppDisconnected,
    /// An SDK modal closed: `{ modal, appId?, functionName? }`.
    ModalClosed,
    /// A function form was submitted: `{ functionName, args, connectedAccountId }`.
    FunctionUiSubmitted,
}

impl EventKind {
    /// Every event.
    pub const ALL: [EventKind; 4] = [
        EventKind::AppConnected,
        EventKind::AppDisconnected,
        EventKind::ModalClosed,
        EventKind::FunctionUiSubmitted,
    ];

    /// The event's name in JavaScript.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::AppConnected => "app-connected",
            EventKind::AppDisconnected => "app-disconnected",
            EventKind::ModalClosed => "modal-closed",
            EventKind::FunctionUiSubmitted => "function-ui-submitted",
        }
    }

    /// Parses an event name; an unknown one is INVALID_OPTIONS (a typo would never fire).
    pub fn parse(name: &str) -> Result<EventKind, SdkError> {
        for kind in EventKind::ALL {
            if kind.name() == name {
                return Ok(kind);
            }
        }
        Err(SdkError::invalid_option(
            "event",
            "is not an event (events: app-connected, app-disconnected, modal-closed, function-ui-submitted)",
        ))
    }
}

/// Which SDK modal closed (`modal-closed`'s `modal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModalKind {
    /// A credential form.
    Credentials,
    /// The OAuth waiting overlay.
    Waiting,
    /// An app's page.
    App,
    /// A function form.
    Function,
    /// The marketplace in modal mode.
    Marketplace,
}

impl ModalKind {
    /// The name in event payloads.
    pub fn name(self) -> &'static str {
        match self {
            ModalKind::Credentials => "credentials",
            ModalKind::Waiting => "oauth-waiting",
            ModalKind::App => "app",
            ModalKind::Function => "function",
            ModalKind::Marketplace => "marketplace",
        }
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::ErrorCode;

    use super::*;

    #[test]
    fn names_round_trip_and_typos_are_refused() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.name()), Ok(kind));
        }
        let err = EventKind::parse("app-conected").expect_err("typo");
        assert_eq!(err.code, ErrorCode::InvalidOptions);
        assert!(err.details.list_at("fields")[0].str_at("reason").contains("app-connected"));
    }
}
