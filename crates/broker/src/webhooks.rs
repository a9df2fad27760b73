//! Lifecycle webhooks signed per the Standard Webhooks specification
//! (<https://www.standardwebhooks.com>): the events, their payloads (never a credential) and the
//! signature. The outbox rows are written by the store in the same transaction as the change.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::{json, Value};
use sha2::Sha256;

use patchbay_protocol::{ErrorCode, ErrorDetails, FieldError};
use serde::Serialize;

use crate::catalog::parse_base_url;
use crate::error::{ApiError, ApiResult};
use crate::ids::{now_unix, random_id, rfc3339};
use crate::state::AppState;
use crate::store::{AccountRecord, Attempted, Claimed, Delivery, Owner};

/// Prefix of Standard Webhooks secrets; the rest is base64 of the HMAC key.
pub const SECRET_PREFIX: &str = "whsec_";

/// What happened to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A new account was connected.
    Connected,
    /// An existing account was connected again (new credentials, same id).
    Reconnected,
    /// The app refused the account's credentials for good: the user must reconnect.
    NeedsReauth,
    /// The account was disconnected and deleted.
    Disconnected,
    /// A token refresh failed for a reason that may pass (the provider was down).
    RefreshFailed,
}

impl EventKind {
    /// The `type` field of the payload.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connected => "account.connected",
            EventKind::Reconnected => "account.reconnected",
            EventKind::NeedsReauth => "account.needs_reauth",
            EventKind::Disconnected => "account.disconnected",
            EventKind::RefreshFailed => "account.refresh_failed",
        }
    }
}

/// The event body: who and which account, never a credential.
pub fn payload(kind: EventKind, owner: &Owner, account: &AccountRecord, at: i64) -> Value {
    let timestamp = rfc3339(at);
    json!({
        "type": kind.as_str(),
        "timestamp": timestamp,
        "data": {
            "workspaceId": owner.workspace_id,
            "userId": owner.user_id,
            "appId": account.app_id,
            "accountId": account.id,
            "displayName": account.display_name,
        }
    })
}

/// A fresh `whsec_…` secret (24 random bytes, as the reference libraries generate).
pub fn generate_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key of a `whsec_…` secret; `None` when it is not one.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok().filter(|key| !key.is_empty())
}

/// One `v1,<base64>` signature of `id.timestamp.body`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per live key, space-separated, so a receiver
/// holding either the old or the new secret verifies during a rotation.
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &str) -> String {
    keys.iter().map(|key| sign(key, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Binds a sealed webhook secret to its workspace.
fn secret_aad(workspace_id: &str) -> Vec<u8> {
    [b"webhook-secret".as_slice(), workspace_id.as_bytes()].join(&0u8)
}

/// The endpoint as the admin API shows it; `secret` only when it was just created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    /// Where events are POSTed.
    pub url: String,
    /// The new `whsec_…` secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub secret: Option<String>,
    /// Until when the previous secret still signs (after a rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previous_secret_valid_until: Option<i64>,
}

fn url_refused(reason: String) -> ApiError {
    ApiError::new(ErrorCode::UrlNotAllowed, "the webhook URL is not one the broker calls").with_details(
        ErrorDetails { fields: vec![FieldError { field: "url".into(), reason }], ..Default::default() },
    )
}

/// Sets the workspace's endpoint URL. The first time, a secret is generated and returned; later
/// calls keep the secret (rotate it with [`rotate_secret`]).
pub async fn set_endpoint(state: &AppState, workspace_id: &str, raw_url: &str) -> ApiResult<EndpointView> {
    let url = parse_base_url(raw_url.trim()).map_err(url_refused)?;
    // Literal addresses are refused now; names are checked again by the guarded client at each
    // delivery, since DNS can change after this check.
    state.upstreams.policy.check_url(&url).map_err(|blocked| url_refused(blocked.to_string()))?;
    if let Some(endpoint) = state.store.webhook_endpoint(workspace_id).await? {
        state.store.set_webhook_url(workspace_id, url.as_str()).await?;
        let until = endpoint.previous.map(|(_, until)| until);
        return Ok(EndpointView { url: url.to_string(), secret: None, previous_secret_valid_until: until });
    }
    let secret = generate_secret();
    let sealed =
        state.keyring.seal(secret.as_bytes(), &secret_aad(workspace_id)).map_err(ApiError::internal)?;
    state.store.set_webhook_endpoint(workspace_id, url.as_str(), &sealed, None).await?;
    Ok(EndpointView { url: url.to_string(), secret: Some(secret), previous_secret_valid_until: None })
}

/// Replaces the secret; the old one keeps signing for `overlap_seconds` so receivers can switch.
pub async fn rotate_secret(
    state: &AppState,
    workspace_id: &str,
    overlap_seconds: i64,
) -> ApiResult<EndpointView> {
    let endpoint = state.store.webhook_endpoint(workspace_id).await?.ok_or_else(no_endpoint)?;
    let secret = generate_secret();
    let sealed =
        state.keyring.seal(secret.as_bytes(), &secret_aad(workspace_id)).map_err(ApiError::internal)?;
    let until = now_unix().saturating_add(overlap_seconds.max(0));
    state.store.set_webhook_endpoint(workspace_id, &endpoint.url, &sealed, Some(until)).await?;
    Ok(EndpointView { url: endpoint.url, secret: Some(secret), previous_secret_valid_until: Some(until) })
}

/// The workspace's endpoint, without its secret.
pub async fn endpoint(state: &AppState, workspace_id: &str) -> ApiResult<Option<EndpointView>> {
    Ok(state.store.webhook_endpoint(workspace_id).await?.map(|endpoint| EndpointView {
        url: endpoint.url,
        secret: None,
        previous_secret_valid_until: endpoint
            .previous
            .map(|(_, until)| until)
            .filter(|until| *until > now_unix()),
    }))
}

/// The workspace's recent deliveries, newest first.
pub async fn deliveries(state: &AppState, workspace_id: &str) -> ApiResult<Vec<Delivery>> {
    Ok(state.store.webhook_deliveries(workspace_id, 100).await?)
}

/// Queues a `webhook.test` event to the workspace's endpoint; returns its `webhook-id`.
pub async fn send_test_event(state: &AppState, workspace_id: &str) -> ApiResult<String> {
    state.store.webhook_endpoint(workspace_id).await?.ok_or_else(no_endpoint)?;
    let id = random_id("msg");
    let timestamp = rfc3339(now_unix());
    let payload =
        json!({ "type": "webhook.test", "timestamp": timestamp, "data": { "workspaceId": workspace_id } });
    state.store.enqueue_webhook(workspace_id, &id, "webhook.test", &payload.to_string()).await?;
    Ok(id)
}

fn no_endpoint() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "this workspace has no webhook endpoint; set one first")
}

/// Waits before each retry (after the first attempt fails, the first entry, and so on): about
/// 27.5 hours in all, then the event is given up. Each wait gets up to 10 % jitter so receivers
/// coming back from an outage are not hit by every event at once.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// How the sender runs.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Retry waits (see [`RETRY_SCHEDULE`]).
    pub schedule: Vec<Duration>,
    /// How often due rows are looked for.
    pub poll: Duration,
    /// How long a receiver may take to answer.
    pub timeout: Duration,
}

impl Default for SenderSettings {
    fn default() -> Self {
        SenderSettings {
            schedule: RETRY_SCHEDULE.to_vec(),
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(15),
        }
    }
}

/// Rows claimed per round.
const BATCH: i64 = 20;

/// Delivers due events forever (spawned by `serve`; tests run [`deliver_due`] themselves).
pub async fn run_sender(state: Arc<AppState>, settings: SenderSettings) {
    loop {
        if let Err(err) = deliver_due(&state, &settings).await {
            tracing::warn!(error = %err.message, "webhook delivery round failed");
        }
        tokio::time::sleep(settings.poll).await;
    }
}

/// Claims the due events and attempts each once. Returns how many were attempted.
pub async fn deliver_due(state: &Arc<AppState>, settings: &SenderSettings) -> ApiResult<usize> {
    let holder = random_id("sender");
    let now = now_unix();
    // The lease outlives an attempt, so only a dead sender's rows are ever taken over.
    let lease = i64::try_from(settings.timeout.as_secs() * 4).unwrap_or(60);
    let claimed = state.store.claim_webhooks(&holder, now, now + lease, BATCH).await?;
    let count = claimed.len();
    for row in claimed {
        let outcome = attempt(state, settings, &row).await;
        match &outcome {
            Attempted::Delivered { status } => {
                tracing::info!(webhook = %row.id, status, "webhook delivered");
            }
            Attempted::Failed { status, error, retry_at } => {
                tracing::warn!(webhook = %row.id, ?status, error = error.as_deref().unwrap_or(""), ?retry_at, "webhook delivery failed");
            }
        }
        state.store.finish_webhook(&row.id, &holder, now_unix(), &outcome).await?;
    }
    Ok(count)
}

fn retry_at(settings: &SenderSettings, attempts_before: i64) -> Option<i64> {
    let wait = settings.schedule.get(usize::try_from(attempts_before).ok()?)?;
    let jittered = wait.mul_f64(1.0 + rand::thread_rng().gen_range(0.0..0.1));
    Some(now_unix().saturating_add(i64::try_from(jittered.as_secs()).unwrap_or(i64::MAX)))
}

async fn attempt(state: &AppState, settings: &SenderSettings, row: &Claimed) -> Attempted {
    let failed = |status: Option<i64>, error: Option<String>| Attempted::Failed {
        status,
        error,
        retry_at: retry_at(settings, row.attempts),
    };
    let endpoint = match state.store.webhook_endpoint(&row.workspace_id).await {
        Ok(Some(endpoint)) => endpoint,
        Ok(None) => {
            return Attempted::Failed { status: None, error: Some("no endpoint".into()), retry_at: None }
        }
        Err(err) => return failed(None, Some(err.to_string())),
    };
    let now = now_unix();
    let aad = secret_aad(&row.workspace_id);
    let mut keys = Vec::new();
    let live_previous = endpoint.previous.iter().filter(|(_, until)| *until > now).map(|(sealed, _)| sealed);
    for sealed in std::iter::once(&endpoint.secret).chain(live_previous) {
        match state.keyring.open(sealed, &aad).ok().and_then(|s| secret_key(std::str::from_utf8(&s).ok()?)) {
            Some(key) => keys.push(key),
            None => return failed(None, Some("the signing secret could not be opened".into())),
        }
    }
    let request = state
        .upstreams
        .guarded
        .post(&endpoint.url)
        .timeout(settings.timeout)
        .header("content-type", "application/json")
        .header("webhook-id", &row.id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature_header(&keys, &row.id, now, &row.payload))
        .body(row.payload.clone());
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            Attempted::Delivered { status: i64::from(response.status().as_u16()) }
        }
        Ok(response) => failed(Some(i64::from(response.status().as_u16())), None),
        // The URL stays out of the message: it may carry a token of the receiver.
        Err(err) if crate::net::is_blocked(&err) => {
            failed(None, Some("the endpoint resolves to a refused address".into()))
        }
        Err(err) => failed(None, Some(crate::net::transport_failure(err).cause.as_str().to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries.
    #[test]
    fn signatures_match_the_reference_example() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn generated_secrets_round_trip_and_both_keys_sign_during_rotation() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        let keys = [secret_key(&a).expect("a"), secret_key(&b).expect("b")];
        let header = signature_header(&keys, "msg_1", 1, "{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(secret_key("sk_nope").is_none());
    }
}
