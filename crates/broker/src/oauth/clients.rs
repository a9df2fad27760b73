//! Which OAuth client a connection uses: the operator's default from the catalog, or the
//! workspace's own ("white-label") client once it is tested and enabled. Accounts remember the
//! client that created them and always refresh with it, even after the workspace switches.

use patchbay_protocol::ErrorCode;
use sha2::{Digest, Sha256};

use crate::catalog::{App, OAuth2, OAuthClient};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{AppSettings, StoredClient};

/// A client ready to use, with the scopes to request through it.
pub struct ChosenClient {
    /// Id and secret.
    pub client: OAuthClient,
    /// Scopes for the authorize request.
    pub scopes: Vec<String>,
}

fn aad(workspace_id: &str, app_id: &str, client_id: &str) -> Vec<u8> {
    ["oauth-client", workspace_id, app_id, client_id].join("\0").into_bytes()
}

/// Seals a workspace client's secret for storage.
pub fn seal_client(
    state: &AppState,
    workspace_id: &str,
    app_id: &str,
    client: &OAuthClient,
    scopes: Vec<String>,
) -> ApiResult<StoredClient> {
    let secret = state
        .keyring
        .seal(client.secret.as_bytes(), &aad(workspace_id, app_id, &client.id))
        .map_err(ApiError::internal)?;
    Ok(StoredClient { client_id: client.id.clone(), secret, scopes })
}

/// What identifies a client's settings: a change of id, secret or scopes needs a new test.
pub fn settings_hash(client: &OAuthClient, scopes: &[String]) -> String {
    let mut hash = Sha256::new();
    for part in [client.id.as_str(), client.secret.as_str(), &scopes.join(" ")] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("{:x}", hash.finalize())
}

async fn own_client(
    state: &AppState,
    workspace_id: &str,
    app_id: &str,
    client_id: &str,
) -> ApiResult<Option<ChosenClient>> {
    let Some(stored) = state.store.own_client(workspace_id, app_id, client_id).await? else {
        return Ok(None);
    };
    let secret = state
        .keyring
        .open(&stored.secret, &aad(workspace_id, app_id, client_id))
        .map_err(ApiError::internal)?;
    let secret = String::from_utf8(secret.to_vec()).map_err(ApiError::internal)?;
    Ok(Some(ChosenClient { client: OAuthClient { id: stored.client_id, secret }, scopes: stored.scopes }))
}

fn oauth(app: &App) -> ApiResult<&OAuth2> {
    app.oauth2.as_ref().ok_or_else(|| ApiError::internal("not an OAuth app"))
}

/// The operator's client, when the app lets workspaces connect with it.
fn operator_client(oauth: &OAuth2) -> Option<&OAuthClient> {
    oauth.default_client.as_ref().filter(|_| !oauth.requires_own_client)
}

/// Whether new connections have a client (what [`for_new_connection`] picks): the workspace's
/// own, set and enabled, or else the operator's.
pub fn can_connect(oauth: &OAuth2, settings: Option<&AppSettings>) -> bool {
    settings.is_some_and(|s| s.own_client_enabled && s.own_client_id.is_some())
        || operator_client(oauth).is_some()
}

/// The client new connections of this workspace use.
pub async fn for_new_connection(state: &AppState, workspace_id: &str, app: &App) -> ApiResult<ChosenClient> {
    let oauth = oauth(app)?;
    let settings = state.store.app_setting(workspace_id, &app.id).await?;
    if let (true, Some(id)) = (settings.own_client_enabled, settings.own_client_id.as_deref()) {
        if let Some(chosen) = own_client(state, workspace_id, &app.id, id).await? {
            return Ok(chosen);
        }
    }
    match operator_client(oauth) {
        Some(default) => Ok(ChosenClient { client: default.clone(), scopes: oauth.scopes.clone() }),
        None => Err(ApiError::new(
            ErrorCode::OwnClientRequired,
            format!(
                "{} can only be connected with your own OAuth client: set it up, test it and enable it",
                app.name
            ),
        )),
    }
}

/// The workspace's current own client (tested or not), for a test run.
pub async fn current_own(state: &AppState, workspace_id: &str, app: &App) -> ApiResult<Option<ChosenClient>> {
    let settings = state.store.app_setting(workspace_id, &app.id).await?;
    match settings.own_client_id {
        Some(id) => own_client(state, workspace_id, &app.id, &id).await,
        None => Ok(None),
    }
}

/// The client with this id, as used by an attempt or an account: the workspace's own clients
/// first (they are what the workspace chose), then the operator's default.
pub async fn by_id(
    state: &AppState,
    workspace_id: &str,
    app: &App,
    client_id: &str,
) -> ApiResult<Option<OAuthClient>> {
    if let Some(own) = own_client(state, workspace_id, &app.id, client_id).await? {
        return Ok(Some(own.client));
    }
    Ok(oauth(app)?.default_client.clone().filter(|c| c.id == client_id))
}
