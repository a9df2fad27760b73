//! Helpers for the crate's native tests: broker answers built from the protocol's own types.

use serde::Serialize;

use crate::json::Json;

/// What the broker sends for `value`, as the SDK sees it.
pub fn wire<T: Serialize>(value: &T) -> Json {
    serde_json::from_str(&serde_json::to_string(value).expect("serialize")).expect("parse")
}

/// A broker account list holding active accounts `ids` of the app `crm`, named `<id>@x`.
pub fn accounts(ids: &[&str]) -> Json {
    use patchbay_protocol::{AccountStatus, ConnectedAccount};
    let accounts = ids
        .iter()
        .map(|id| ConnectedAccount {
            id: (*id).into(),
            app_id: "crm".into(),
            display_name: format!("{id}@x"),
            status: AccountStatus::Active,
            created_at: "2025-01-01T00:00:00Z".into(),
            updated_at: "2025-01-01T00:00:00Z".into(),
        })
        .collect();
    wire(&patchbay_protocol::AccountList { accounts })
}

/// JSON text as [`Json`].
pub fn json(text: &str) -> Json {
    serde_json::from_str(text).expect("test JSON")
}
