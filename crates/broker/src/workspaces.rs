//! Workspaces: one SaaS product using the broker, with an app key and a secret key. The secret key
//! is shown once at creation; the store keeps only its hash.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::catalog::App;
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::state::AppState;
use crate::store::{AppSettings, Store, Workspace};

/// SHA-256 of a secret key: what the store keeps instead of the key.
pub fn secret_key_hash(secret_key: &str) -> [u8; 32] {
    Sha256::digest(secret_key.as_bytes()).into()
}

/// A new workspace and its secret key (shown once; only its hash is stored).
pub async fn create_workspace(store: &dyn Store, name: &str) -> anyhow::Result<(Workspace, String)> {
    let workspace =
        Workspace { id: ids::random_id("ws"), name: name.to_owned(), app_key: ids::random_id("pb_ak") };
    let secret_key = format!("pb_sk_{}", ids::random_token(32));
    store.create_workspace(&workspace, &secret_key_hash(&secret_key)).await?;
    Ok((workspace, secret_key))
}

/// The app for a user of `workspace_id`: APP_NOT_FOUND if the catalog lacks it or the workspace hid
/// it (the same answer, so a hidden app cannot be told from a missing one).
pub async fn visible_app<'a>(
    state: &'a AppState,
    workspace_id: &str,
    id: &str,
) -> ApiResult<(&'a Arc<App>, AppSettings)> {
    let app = state.catalog.find_app(id)?;
    let settings = state.store.app_setting(workspace_id, id).await?;
    if settings.hidden {
        return Err(ApiError::app_not_found(id));
    }
    Ok((app, settings))
}
