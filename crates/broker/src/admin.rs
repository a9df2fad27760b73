//! Workspace administration: which apps the marketplace shows, the accounts policy, and the
//! workspace's own OAuth client (set → test → enable). Used by the admin API and the console.

use patchbay_protocol::{AccountsPolicy, AttemptStatus, AuthType, ErrorCode, FieldError};
use serde::Serialize;

use crate::accounts::effective_policy;
use crate::catalog::{App, OAuthClient};
use crate::error::{ApiError, ApiResult};
use crate::oauth::clients::{self, settings_hash, ChosenClient};
use crate::oauth::connect::{begin as begin_attempt, redirect_uri, AttemptTarget};
use crate::oauth::steps::StepLog;
use crate::state::AppState;
use crate::store::{AppSettings, AttemptPurpose, Owner};

/// The user id test attempts are recorded under.
const ADMIN_USER: &str = "(admin)";

/// An app as the admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminApp {
    /// Catalog id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Auth type.
    pub auth_type: AuthType,
    /// Hidden from the marketplace.
    pub hidden: bool,
    /// Policy in force.
    pub accounts_policy: AccountsPolicy,
    /// The catalog's default policy.
    pub catalog_accounts_policy: AccountsPolicy,
    /// OAuth settings, for OAuth apps.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub oauth: Option<AdminOAuth>,
}

/// OAuth client settings of an app.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminOAuth {
    /// The redirect URL to register at the provider.
    pub redirect_uri: String,
    /// Only an own client may be used.
    pub requires_own_client: bool,
    /// The operator's default client id, if any.
    pub default_client_id: Option<String>,
    /// The catalog's scopes.
    pub default_scopes: Vec<String>,
    /// The workspace's own client.
    pub own_client: Option<OwnClientView>,
    /// Users cannot connect yet: there is no operator client this workspace may use and its own
    /// client is not enabled (register the redirect URL at the provider, then set one up).
    pub needs_client: bool,
}

/// The workspace's own client (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnClientView {
    /// Client id.
    pub client_id: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// The current settings passed a test.
    pub tested: bool,
    /// New connections use it.
    pub enabled: bool,
}

/// A test run's result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Test (attempt) id.
    pub id: String,
    /// App tested.
    pub app_id: String,
    /// `pending`, `passed` or `failed`.
    pub status: &'static str,
    /// The step log.
    pub steps: StepLog,
}

fn admin_owner(workspace_id: &str) -> Owner {
    Owner { workspace_id: workspace_id.to_owned(), user_id: ADMIN_USER.to_owned() }
}

async fn view(
    state: &AppState,
    workspace_id: &str,
    app: &App,
    settings: &AppSettings,
) -> ApiResult<AdminApp> {
    let oauth = match &app.oauth2 {
        Some(oauth) => {
            let own = match &settings.own_client_id {
                Some(id) => state.store.own_client(workspace_id, &app.id, id).await?.map(|c| OwnClientView {
                    client_id: c.client_id,
                    scopes: c.scopes,
                    tested: settings.tested(),
                    enabled: settings.own_client_enabled,
                }),
                None => None,
            };
            let own_enabled = own.as_ref().is_some_and(|c| c.enabled);
            Some(AdminOAuth {
                needs_client: !own_enabled && (oauth.default_client.is_none() || oauth.requires_own_client),
                redirect_uri: redirect_uri(state),
                requires_own_client: oauth.requires_own_client,
                default_client_id: oauth.default_client.as_ref().map(|c| c.id.clone()),
                default_scopes: oauth.scopes.clone(),
                own_client: own,
            })
        }
        None => None,
    };
    Ok(AdminApp {
        id: app.id.clone(),
        name: app.name.clone(),
        auth_type: app.auth,
        hidden: settings.hidden,
        accounts_policy: effective_policy(app, Some(settings)),
        catalog_accounts_policy: app.accounts,
        oauth,
    })
}

/// Every catalog app with the workspace's settings.
pub async fn list(state: &AppState, workspace_id: &str) -> ApiResult<Vec<AdminApp>> {
    let all = state.store.app_settings(workspace_id).await?;
    let mut apps = Vec::new();
    for app in state.catalog.apps() {
        let settings = all.iter().find(|s| s.app_id == app.id).cloned().unwrap_or_default();
        apps.push(view(state, workspace_id, app, &settings).await?);
    }
    Ok(apps)
}

/// One app with the workspace's settings.
pub async fn app(state: &AppState, workspace_id: &str, app_id: &str) -> ApiResult<AdminApp> {
    let app = state.catalog.find_app(app_id)?;
    let settings = state.store.app_setting(workspace_id, app_id).await?;
    view(state, workspace_id, app, &settings).await
}

/// Shows or hides an app and sets (or clears, with `None`) the accounts policy override.
pub async fn set_visibility(
    state: &AppState,
    workspace_id: &str,
    app_id: &str,
    hidden: bool,
    policy: Option<AccountsPolicy>,
) -> ApiResult<AdminApp> {
    state.catalog.find_app(app_id)?;
    state.store.set_app_visibility(workspace_id, app_id, hidden, policy).await?;
    app(state, workspace_id, app_id).await
}

fn oauth_app<'a>(state: &'a AppState, app_id: &str) -> ApiResult<&'a App> {
    let app = state.catalog.find_app(app_id)?;
    if app.oauth2.is_none() {
        return Err(ApiError::invalid_fields(vec![FieldError {
            field: "app".into(),
            reason: "only OAuth 2.0 apps take an OAuth client".into(),
        }]));
    }
    Ok(app)
}

/// Saves the workspace's own client. An empty secret keeps the current one (same client id only).
/// New settings must be tested before they can be enabled.
pub async fn set_own_client(
    state: &AppState,
    workspace_id: &str,
    app_id: &str,
    client_id: &str,
    client_secret: &str,
    scopes: &[String],
) -> ApiResult<AdminApp> {
    let app = oauth_app(state, app_id)?;
    let mut problems = Vec::new();
    let client_id = client_id.trim();
    if client_id.is_empty() || client_id.len() > 512 || client_id.chars().any(char::is_control) {
        problems.push(FieldError {
            field: "clientId".into(),
            reason: "is required (at most 512 characters)".into(),
        });
    }
    let secret = match client_secret.trim() {
        "" => clients::current_own(state, workspace_id, app)
            .await?
            .filter(|c| c.client.id == client_id)
            .map(|c| c.client.secret),
        s => Some(s.to_owned()),
    };
    if secret.as_ref().is_none_or(|s| s.len() > 2048 || s.chars().any(char::is_control)) {
        problems.push(FieldError {
            field: "clientSecret".into(),
            reason: "is required (at most 2048 characters)".into(),
        });
    }
    if let Some(bad) =
        scopes.iter().find(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        problems.push(FieldError { field: "scopes".into(), reason: format!("`{bad}` is not a scope") });
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    let client = OAuthClient { id: client_id.to_owned(), secret: secret.unwrap_or_default() };
    let scopes = if scopes.is_empty() {
        app.oauth2.as_ref().map(|o| o.scopes.clone()).unwrap_or_default()
    } else {
        scopes.to_vec()
    };
    let hash = settings_hash(&client, &scopes);
    let stored = clients::seal_client(state, workspace_id, app_id, &client, scopes)?;
    state.store.save_own_client(workspace_id, app_id, &stored, &hash).await?;
    tracing::info!(workspace = %workspace_id, app = %app_id, client = %client.id, "own OAuth client saved");
    self::app(state, workspace_id, app_id).await
}

/// Starts a test of the current own client: the admin's browser goes to the returned URL and
/// comes back to the step log.
pub async fn start_test(state: &AppState, workspace_id: &str, app_id: &str) -> ApiResult<(String, String)> {
    let app = oauth_app(state, app_id)?;
    let ChosenClient { client, scopes } =
        clients::current_own(state, workspace_id, app).await?.ok_or_else(|| {
            ApiError::invalid_fields(vec![FieldError {
                field: "clientId".into(),
                reason: "set the client first".into(),
            }])
        })?;
    let settings_hash = settings_hash(&client, &scopes);
    let target = AttemptTarget {
        owner: admin_owner(workspace_id),
        origin: None,
        return_to: None,
        target_account_id: None,
        purpose: AttemptPurpose::Test { settings_hash },
        another_account: false,
        // A test has no user to type connect-time values: apps with per-account endpoints are
        // tested by connecting.
        values: crate::credentials::Credentials::default(),
    };
    let (attempt, url) = begin_attempt(state, app, &ChosenClient { client, scopes }, target).await?;
    Ok((attempt.id, url))
}

/// The result of one of the workspace's tests.
pub async fn test_result(state: &AppState, workspace_id: &str, test_id: &str) -> ApiResult<TestResult> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such test");
    let attempt = state.store.attempt(&admin_owner(workspace_id), test_id).await?.ok_or_else(not_found)?;
    let (app_id, log) = state.store.step_log(workspace_id, test_id).await?.ok_or_else(not_found)?;
    let steps = log.and_then(|l| serde_json::from_str(&l).ok()).unwrap_or_default();
    let status = match attempt.status {
        AttemptStatus::Pending => "pending",
        AttemptStatus::Connected => "passed",
        AttemptStatus::Failed => "failed",
    };
    Ok(TestResult { id: attempt.id, app_id, status, steps })
}

/// Makes new connections use the own client: only after a successful test of exactly its current
/// settings.
pub async fn enable(state: &AppState, workspace_id: &str, app_id: &str) -> ApiResult<AdminApp> {
    oauth_app(state, app_id)?;
    if !state.store.enable_own_client(workspace_id, app_id).await? {
        return Err(ApiError::new(
            ErrorCode::TestRequired,
            "run a successful test of the current client settings before enabling them",
        ));
    }
    tracing::info!(workspace = %workspace_id, app = %app_id, "own OAuth client enabled");
    app(state, workspace_id, app_id).await
}
