//! The pending OAuth attempt of this tab, in session storage through gloo-storage (ids and a
//! time only), so a reloaded page can resume the connect.

use crate::attempt::PendingAttempt;
use gloo_storage::{SessionStorage, Storage};

const KEY: &str = "patchbay:pending-connect";

/// Session storage, when the page may use it (a sandboxed frame may not: connects then simply
/// do not survive a reload).
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()?;
    Some(SessionStorage::raw())
}

/// Keeps `attempt_id` of `app_id`, stamped now.
pub fn remember(attempt_id: &str, app_id: &str) {
    let Some(storage) = storage() else { return };
    let record = PendingAttempt {
        attempt_id: attempt_id.to_owned(),
        app_id: app_id.to_owned(),
        started_at: js_sys::Date::now(),
    };
    let text = serde_wasm_bindgen::to_value(&record).ok().and_then(|v| js_sys::JSON::stringify(&v).ok());
    if let Some(text) = text.and_then(|t| t.as_string()) {
        let _ = storage.set_item(KEY, &text);
    }
}

/// Forgets the stored attempt.
pub fn forget() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(KEY);
    }
}

/// The stored attempt; an unreadable record is forgotten.
pub fn stored() -> Option<PendingAttempt> {
    let text = storage()?.get_item(KEY).ok().flatten()?;
    let record = js_sys::JSON::parse(&text).ok().and_then(|v| serde_wasm_bindgen::from_value(v).ok());
    if record.is_none() {
        forget();
    }
    record
}
