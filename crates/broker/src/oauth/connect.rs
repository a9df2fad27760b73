//! The OAuth 2.0 connect flow: starting an attempt, completing it when the provider redirects
//! back, and the attempt status the SDK follows. Connects and white-label client tests run the
//! same flow and record each step; a connect saves the account, a test keeps the step log.

use std::time::Duration;

use patchbay_protocol::{
    AttemptError, AttemptStatus, CallbackMessage, ConnectAttempt, ConnectResponse, ErrorCode,
    CALLBACK_MESSAGE_TYPE, MAX_ATTEMPT_WAIT_SECONDS,
};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::clients::{self, ChosenClient};
use super::steps::{explain, Step, StepLog};
use super::{authorize_url, exchange_code, AuthorizeRequest, Pkce, TokenError, Tokens};
use crate::accounts::{save_credentials, SaveOutcome};
use crate::catalog::{App, OAuthClient};
use crate::credentials::{verify, Credentials};
use crate::error::{ApiError, ApiResult};
use crate::ids::{now_unix, random_id, random_token, rfc3339};
use crate::state::AppState;
use crate::store::{AttemptPurpose, AttemptRecord, Claim, NewCredentials, Owner};

/// Who starts a connect, as the session token and the request say.
pub struct Caller {
    /// The workspace and user.
    pub owner: Owner,
    /// The origins the session allows (a `returnTo` must be on one of them).
    pub origins: Vec<String>,
    /// The page origin the result is posted to.
    pub origin: Option<String>,
}

/// The redirect URI registered at providers.
pub fn redirect_uri(state: &AppState) -> String {
    let mut url = state.config.public_url();
    url.set_path("/oauth/callback");
    url.to_string()
}

fn state_hash(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

/// Where a new attempt's result goes.
pub struct AttemptTarget {
    /// Who the attempt is for.
    pub owner: Owner,
    /// Page origin to post the result to.
    pub origin: Option<String>,
    /// Redirect mode return URL.
    pub return_to: Option<String>,
    /// Reconnect this account in place.
    pub target_account_id: Option<String>,
    /// Connect or test.
    pub purpose: AttemptPurpose,
    /// A new account beside existing ones: ask the provider to choose an identity.
    pub another_account: bool,
    /// Connect-time values typed for this connection (kept with the account).
    pub values: Credentials,
}

/// What an attempt keeps sealed until the provider redirects back: the PKCE verifier and the
/// connect-time values. Stored as JSON; an attempt sealed before values existed holds the bare
/// verifier (base64url, never starting with `{`).
#[derive(serde::Serialize, serde::Deserialize)]
struct AttemptSecrets {
    verifier: String,
    values: Credentials,
}

impl AttemptSecrets {
    fn parse(plaintext: &[u8]) -> AttemptSecrets {
        serde_json::from_slice(plaintext).unwrap_or_else(|_| AttemptSecrets {
            verifier: String::from_utf8_lossy(plaintext).into_owned(),
            values: Credentials::default(),
        })
    }
}

/// Creates an attempt with `chosen` and returns it with the provider URL to send the browser to.
pub async fn begin(
    state: &AppState,
    app: &App,
    chosen: &ChosenClient,
    target: AttemptTarget,
) -> ApiResult<(AttemptRecord, String)> {
    let oauth = app.oauth2.as_ref().ok_or_else(|| ApiError::internal("oauth2 app without settings"))?;
    let pkce = Pkce::generate();
    let oauth_state = random_token(32);
    let id = random_id("att");
    let now = now_unix();
    let redirect = redirect_uri(state);
    let request = AuthorizeRequest {
        redirect_uri: &redirect,
        state: &oauth_state,
        challenge: &pkce.challenge,
        scopes: &chosen.scopes,
        another_account: target.another_account,
        values: &target.values,
    };
    let url = authorize_url(oauth, &chosen.client, &request).map_err(|reason| {
        ApiError::invalid_fields(vec![patchbay_protocol::FieldError { field: "fields".into(), reason }])
    })?;
    let secrets = AttemptSecrets { verifier: pkce.verifier.clone(), values: target.values };
    let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(&secrets).map_err(ApiError::internal)?);
    let verifier = state.keyring.seal(&plaintext, id.as_bytes()).map_err(ApiError::internal)?;
    let attempt = AttemptRecord {
        id,
        owner: target.owner,
        app_id: app.id.clone(),
        origin: target.origin,
        return_to: target.return_to,
        verifier,
        client_id: chosen.client.id.clone(),
        target_account_id: target.target_account_id,
        status: AttemptStatus::Pending,
        account_id: None,
        error: None,
        expires_at: now + state.config.oauth_attempt_ttl_seconds,
        purpose: target.purpose,
    };
    state.store.create_attempt(&attempt, &state_hash(&oauth_state), now).await?;
    Ok((attempt, url.to_string()))
}

/// Starts a user's OAuth connect: returns the authorize URL the SDK opens in its popup.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    app: &App,
    target_account_id: Option<String>,
    return_to: Option<String>,
    fields: std::collections::BTreeMap<String, String>,
) -> ApiResult<ConnectResponse> {
    let chosen = clients::for_new_connection(state, &caller.owner.workspace_id, app).await?;
    // An OAuth app's form holds only its connect-time values (a shop, an instance URL).
    let values = crate::credentials::validate_fields(app, fields)?;
    crate::accounts::check_target(state, &caller.owner, app, target_account_id.as_deref()).await?;
    if let Some(url) = &return_to {
        let allowed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .is_some_and(|u| caller.origins.contains(&u.origin().ascii_serialization()));
        if !allowed {
            return Err(ApiError::invalid_fields(vec![patchbay_protocol::FieldError {
                field: "returnTo".into(),
                reason: "must be an http(s) URL on one of the session's allowed origins".into(),
            }]));
        }
    }
    let another_account =
        target_account_id.is_none() && !state.store.accounts(&caller.owner, Some(&app.id)).await?.is_empty();
    let target = AttemptTarget {
        owner: caller.owner.clone(),
        origin: caller.origin.clone(),
        return_to,
        target_account_id,
        purpose: AttemptPurpose::Connect,
        another_account,
        values,
    };
    let (attempt, authorize_url) = begin(state, app, &chosen, target).await?;
    Ok(ConnectResponse::Authorize {
        authorize_url,
        attempt_id: attempt.id,
        expires_at: rfc3339(attempt.expires_at),
    })
}

/// What the provider's redirect back carries.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The one-time state the attempt was started with.
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// An OAuth error (`access_denied`…).
    pub error: Option<String>,
    /// The provider's explanation of `error`.
    pub error_description: Option<String>,
}

/// Why a redirect back matches no attempt that can still complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `state` parameter.
    NoState,
    /// The attempt already completed.
    AlreadyUsed,
    /// The attempt expired.
    Expired,
    /// No attempt has this state.
    Unknown,
    /// The store failed (logged).
    Internal,
}

/// How a redirect back ended, for the page or redirect the browser gets.
pub enum Callback {
    /// No attempt was completed.
    Refused(Refusal),
    /// A client test finished: the admin sees its step log.
    Tested {
        /// The app tested.
        app_id: String,
        /// The test (attempt) id.
        attempt_id: String,
    },
    /// Redirect mode: back to the host page, with the attempt id in the query.
    Return(Url),
    /// Popup mode: the result the page posts to its opener.
    Popup {
        /// The exact origin to post to.
        origin: Option<String>,
        /// The message.
        message: CallbackMessage,
        /// The app's name, for the page's text.
        app_name: String,
    },
}

/// Completes the attempt the provider's redirect names: exchanges the code, verifies the token and
/// saves the account (or records a test's step log), then wakes whoever waits on the attempt.
pub async fn finish(state: &AppState, params: &CallbackParams) -> Callback {
    let Some(oauth_state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return Callback::Refused(Refusal::NoState);
    };
    let attempt = match state.store.claim_attempt(&state_hash(oauth_state), now_unix()).await {
        Ok(Claim::Claimed(attempt)) => attempt,
        Ok(Claim::AlreadyUsed(_)) => return Callback::Refused(Refusal::AlreadyUsed),
        Ok(Claim::Expired(_)) => return Callback::Refused(Refusal::Expired),
        Ok(Claim::Unknown) => return Callback::Refused(Refusal::Unknown),
        Err(err) => {
            ApiError::internal(err);
            return Callback::Refused(Refusal::Internal);
        }
    };
    let mut log = StepLog::default();
    let outcome = complete(state, &attempt, params, &mut log).await;
    if let Err(err) = record(state, &attempt, &outcome, &log).await {
        ApiError::internal(err);
    }
    state.attempt_events.notify_waiters();
    // Tests of an own OAuth client are the admin's checks, not users connecting.
    if !matches!(attempt.purpose, AttemptPurpose::Test { .. }) {
        let outcome = outcome.as_ref().map_or_else(|err| err.code.as_str(), |_| "connected");
        state.metrics.connect(&attempt.app_id, outcome);
    }
    if let AttemptPurpose::Test { .. } = attempt.purpose {
        return Callback::Tested { app_id: attempt.app_id, attempt_id: attempt.id };
    }
    if let Some(return_to) = &attempt.return_to {
        let mut url = Url::parse(return_to).unwrap_or_else(|_| state.config.public_url());
        url.query_pairs_mut().append_pair("patchbay_attempt", &attempt.id);
        return Callback::Return(url);
    }
    let message = CallbackMessage {
        kind: CALLBACK_MESSAGE_TYPE.into(),
        attempt_id: attempt.id.clone(),
        status: if outcome.is_ok() { AttemptStatus::Connected } else { AttemptStatus::Failed },
        account_id: outcome.as_ref().ok().cloned().flatten(),
        error: outcome.err(),
    };
    let app_name = state.catalog.app(&attempt.app_id).map_or("the app", |a| a.name.as_str()).to_owned();
    Callback::Popup { origin: attempt.origin, message, app_name }
}

async fn record(
    state: &AppState,
    attempt: &AttemptRecord,
    outcome: &Result<Option<String>, AttemptError>,
    log: &StepLog,
) -> Result<(), crate::store::StoreError> {
    match outcome {
        Ok(account_id) => {
            state.store.finish_attempt(&attempt.id, Ok(account_id.as_deref().unwrap_or_default())).await?
        }
        Err(error) => state.store.finish_attempt(&attempt.id, Err(error)).await?,
    }
    if let AttemptPurpose::Test { settings_hash } = &attempt.purpose {
        state.store.set_step_log(&attempt.id, &serde_json::to_string(log).unwrap_or_default()).await?;
        if outcome.is_ok() {
            state
                .store
                .record_test_success(&attempt.owner.workspace_id, &attempt.app_id, settings_hash)
                .await?;
        }
    }
    Ok(())
}

fn attempt_error(code: ErrorCode, message: String, provider_error: Option<String>) -> AttemptError {
    AttemptError { code, message, provider_error }
}

/// Runs the steps after the redirect back; `Ok` holds the connected account (none for a test).
async fn complete(
    state: &AppState,
    attempt: &AttemptRecord,
    query: &CallbackParams,
    log: &mut StepLog,
) -> Result<Option<String>, AttemptError> {
    let app = state
        .catalog
        .app(&attempt.app_id)
        .ok_or_else(|| attempt_error(ErrorCode::AppNotFound, "the app left the catalog".into(), None))?;
    let oauth = app
        .oauth2
        .as_ref()
        .ok_or_else(|| attempt_error(ErrorCode::Internal, "not an OAuth app".into(), None))?;
    let redirect = redirect_uri(state);
    log.push(Step::ok("authorize", "Send the user to the provider").request(json!({
        "url": oauth.authorize_url.as_str(), "client_id": attempt.client_id, "redirect_uri": redirect,
        "response_type": "code", "code_challenge_method": if oauth.pkce { "S256" } else { "(none)" }, "state": "(redacted)",
    })));
    if let Some(error) = &query.error {
        let description = query.error_description.as_deref().unwrap_or("no description");
        log.push(
            Step::failed("redirect", "The provider redirects back")
                .response(json!({ "error": error, "error_description": description }))
                .explain(explain(error)),
        );
        let (code, message) = if error == "access_denied" {
            (ErrorCode::UserCancelled, format!("access was declined at {} ({description})", app.name))
        } else {
            (
                ErrorCode::UpstreamError,
                format!("{} refused the authorization request: {error} ({description})", app.name),
            )
        };
        return Err(attempt_error(code, message, Some(error.clone())));
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        log.push(
            Step::failed("redirect", "The provider redirects back")
                .explain(Some("The provider sent neither a code nor an error.")),
        );
        return Err(attempt_error(
            ErrorCode::BadRequest,
            "the provider sent neither a code nor an error".into(),
            None,
        ));
    };
    log.push(
        Step::ok("redirect", "The provider redirects back")
            .response(json!({ "code": "(redacted)", "state": "(redacted)" })),
    );
    let client = clients::by_id(state, &attempt.owner.workspace_id, app, &attempt.client_id)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            attempt_error(ErrorCode::Internal, "the attempt's OAuth client is gone".into(), None)
        })?;
    let verifier = state
        .keyring
        .open(&attempt.verifier, attempt.id.as_bytes())
        .map_err(|e| attempt_error(ErrorCode::Internal, format!("PKCE verifier unreadable: {e}"), None))?;
    let AttemptSecrets { verifier, values } = AttemptSecrets::parse(&verifier);
    let exchange_request = json!({
        "url": oauth.token_url.as_str(), "grant_type": "authorization_code", "client_id": client.id,
        "client_authentication": oauth.client_auth, "client_secret": "(redacted)",
        "code": "(redacted)", "code_verifier": "(redacted)", "redirect_uri": redirect,
    });
    let tokens =
        match exchange_code(&state.upstreams, oauth, &client, code, &redirect, &verifier, &values).await {
            Ok(tokens) => {
                log.push(
                    Step::ok("code_exchange", "Exchange the code for tokens")
                        .request(exchange_request)
                        .response(json!({
                            "access_token": "(redacted)",
                            "refresh_token": tokens.credentials.get("refresh_token").map(|_| "(redacted)"),
                            "expires_at": tokens.expires_at.map(rfc3339),
                            "scope": tokens.credentials.get("scope"),
                        })),
                );
                tokens
            }
            Err(err) => {
                let mut step =
                    Step::failed("code_exchange", "Exchange the code for tokens").request(exchange_request);
                step = match &err {
                    TokenError::Rejected { error, description, status } => step
                        .status(*status)
                        .response(json!({ "error": error, "error_description": description }))
                        .explain(explain(error)),
                    other => step.response(json!({ "error": other.to_string() })),
                };
                log.push(step);
                return Err(token_failure(app, &err));
            }
        };
    let mut tokens = tokens;
    // The account keeps its connect-time values beside the tokens (base URL, refresh endpoint).
    tokens.credentials.keep_missing(&values);
    let verified = match verify(app, &tokens.credentials, &state.upstreams).await {
        Ok(verified) => {
            let step = Step::ok("token_check", "Use the token");
            log.push(match verified.status {
                Some(status) => {
                    step.status(status).response(json!({ "display_name": verified.display_name }))
                }
                None => step.response(
                    json!({ "note": "the app declares no verify request; the token was not used" }),
                ),
            });
            verified
        }
        Err(err) => {
            let status = err.details.as_ref().and_then(|d| d.status);
            let mut step =
                Step::failed("token_check", "Use the token").response(json!({ "error": err.message }));
            if let Some(status) = status {
                step = step.status(status).explain(explain(if status == 401 { "Unauthorized" } else { "" }));
            }
            log.push(step);
            return Err(attempt_error(err.code, err.message.into_owned(), None));
        }
    };
    if let AttemptPurpose::Test { .. } = attempt.purpose {
        return Ok(None);
    }
    let new = seal_tokens(state, attempt, app, tokens, verified.display_name, &client)
        .map_err(|err| attempt_error(err.code, err.message.into_owned(), None))?;
    let SaveOutcome { account, reconnected } = save_credentials(
        state,
        &attempt.owner,
        app,
        attempt.target_account_id.clone(),
        verified.identity,
        new,
    )
    .await
    .map_err(|err| attempt_error(err.code, err.message.into_owned(), None))?;
    tracing::info!(account = %account.id, app = %app.id, reconnected, "OAuth account connected");
    Ok(Some(account.id))
}

fn seal_tokens(
    state: &AppState,
    attempt: &AttemptRecord,
    app: &App,
    tokens: Tokens,
    display_name: String,
    client: &OAuthClient,
) -> ApiResult<NewCredentials> {
    let sealed = tokens.credentials.seal(&state.keyring, &attempt.owner, &app.id)?;
    Ok(NewCredentials {
        app_id: app.id.clone(),
        display_name,
        credentials: sealed,
        access_expires_at: tokens.expires_at,
        oauth_client_id: Some(client.id.clone()),
    })
}

fn token_failure(app: &App, err: &TokenError) -> AttemptError {
    match err {
        TokenError::Rejected { error, description, .. } => {
            let explanation = match error.as_str() {
                "invalid_client" => "the broker's OAuth client id or secret was refused",
                "invalid_grant" => "the authorization code was refused (expired, reused, or PKCE mismatch)",
                _ => "the code exchange was refused",
            };
            let detail = description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
            attempt_error(
                ErrorCode::UpstreamError,
                format!("{} {explanation} ({error}{detail})", app.name),
                Some(error.clone()),
            )
        }
        TokenError::Unavailable(reason) | TokenError::NotSent(reason) => attempt_error(
            ErrorCode::UpstreamUnavailable,
            format!("{} could not be reached ({reason})", app.name),
            None,
        ),
        TokenError::Malformed(reason) => attempt_error(
            ErrorCode::UpstreamError,
            format!("{} sent an unusable token response ({reason})", app.name),
            None,
        ),
        TokenError::NotAllowed(reason) => attempt_error(
            ErrorCode::UrlNotAllowed,
            format!(
                "{}'s token endpoint for this account is not an address the broker calls ({reason})",
                app.name
            ),
            None,
        ),
    }
}

pub fn to_wire(attempt: AttemptRecord, now: i64) -> ConnectAttempt {
    let expired = attempt.status == AttemptStatus::Pending && attempt.expires_at <= now;
    ConnectAttempt {
        id: attempt.id,
        app_id: attempt.app_id,
        status: if expired { AttemptStatus::Failed } else { attempt.status },
        account_id: attempt.account_id,
        error: if expired {
            Some(attempt_error(
                ErrorCode::ConnectTimeout,
                "the sign-in was not completed in time".into(),
                None,
            ))
        } else {
            attempt.error
        },
        expires_at: rfc3339(attempt.expires_at),
    }
}

/// The attempt `id` of `owner`, waiting up to `wait` seconds (capped) while it is pending.
pub async fn attempt_status(
    state: &AppState,
    owner: &Owner,
    id: &str,
    wait: u64,
) -> ApiResult<ConnectAttempt> {
    let wait = Duration::from_secs(wait.min(MAX_ATTEMPT_WAIT_SECONDS));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before reading, so a completion between the read and the wait is not missed.
        let changed = state.attempt_events.notified();
        let attempt = state
            .store
            .attempt(owner, id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such connect attempt"))?;
        let wire = to_wire(attempt, now_unix());
        let now = tokio::time::Instant::now();
        if wire.status != AttemptStatus::Pending || now >= deadline {
            return Ok(wire);
        }
        // The callback may land on another replica, whose notification never reaches this one:
        // look again at least every half second.
        let _ = tokio::time::timeout(Duration::from_millis(500).min(deadline - now), changed).await;
    }
}
