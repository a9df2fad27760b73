//! Wire types shared by the Patchbay SDK (wasm) and the broker.
//!
//! Everything here is plain data with serde derives: no I/O, no web-sys, no tokio. JSON field names
//! are camelCase; enum values are the stable strings documented in the README. Payloads that carry
//! free-form JSON (function parameters, arguments, outputs) are generic so the broker can use
//! `serde_json::Value` while the SDK keeps serde_json out of its bundle.

pub mod accounts;
pub mod apps;
pub mod attempts;
pub mod errors;
pub mod functions;
pub mod selection;
pub mod sessions;

pub use accounts::{AccountList, AccountStatus, ConnectRequest, ConnectResponse, ConnectedAccount};
pub use apps::{
    AccountsPolicy, AppDetail, AppEntry, AppEntryList, AppIcon, AppList, AppListing, AppPage, AppSummary,
    AuthType, CredentialField, FieldKind, CATEGORIES,
};
pub use attempts::{
    AttemptError, AttemptStatus, CallbackMessage, ConnectAttempt, CALLBACK_MESSAGE_TYPE,
    MAX_ATTEMPT_WAIT_SECONDS,
};
pub use errors::{AccountCandidate, ErrorBody, ErrorCode, ErrorDetails, ErrorPayload, FieldError};
pub use functions::{FunctionSpec, FunctionSummary, InvokeRequest, InvokeResponse};
pub use selection::{select_account, AccountLike, SelectionError};
pub use sessions::{SessionRequest, SessionResponse};
