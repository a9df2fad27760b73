//! Lifecycle webhooks: the endpoint and its secret through the admin API, and the outbox rows
//! written with each account change (seen through the delivery log).

mod support;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use patchbay_broker::oauth::refresh::usable_credentials;
use patchbay_broker::scheduler::{run_round, Round};
use patchbay_broker::webhooks::{deliver_due, SenderSettings};
use serde_json::{json, Value};
use support::oidc::{attempt, connect, OidcProvider, IDP_CATALOG};
use support::receiver::Receiver;
use support::{httpbin_url, Reply, TestBroker};

const CATALOG: &str = r#"
[apps.bin-basic]
name = "Httpbin Basic"
auth = "basic"
base_url = "${HTTPBIN}"
verify = { path = "/basic-auth/demo/correct-horse", display_name = "/user" }
"#;

async fn set_endpoint(b: &TestBroker, url: &str) -> (StatusCode, Value) {
    let reply =
        b.call(Method::PUT, "/v1/admin/webhook", Some(&b.secret_key), Some(json!({ "url": url }))).await;
    (reply.status, reply.json)
}

async fn rotate(b: &TestBroker, body: Value) -> Reply {
    b.call(Method::POST, "/v1/admin/webhook/rotate", Some(&b.secret_key), Some(body)).await
}

async fn event_types(b: &TestBroker) -> Vec<String> {
    let reply = b.call(Method::GET, "/v1/admin/webhook/deliveries", Some(&b.secret_key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let mut types: Vec<String> = reply.json["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["eventType"].as_str().expect("type").to_owned())
        .collect();
    types.reverse();
    types
}

#[tokio::test]
async fn every_account_change_writes_one_outbox_row_once_an_endpoint_is_set() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let alice = b.session("alice").await;
    let fields = json!({ "username": "demo", "password": "correct-horse" });
    assert_eq!(b.connect(&alice, "bin-basic", fields.clone()).await.status, StatusCode::CREATED);
    let (status, endpoint) = set_endpoint(&b, &format!("{}/anything/hooks", httpbin_url())).await;
    assert_eq!(status, StatusCode::OK, "{endpoint}");
    assert!(endpoint["secret"].as_str().is_some_and(|s| s.starts_with("whsec_")), "{endpoint}");
    assert_eq!(event_types(&b).await, Vec::<String>::new(), "changes before the endpoint send nothing");

    let again = b.connect(&alice, "bin-basic", fields).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.json);
    let id = again.json["account"]["id"].as_str().expect("id").to_owned();
    let gone = b.call(Method::DELETE, &format!("/v1/accounts/{id}"), Some(&alice), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(event_types(&b).await, ["account.reconnected", "account.disconnected"]);

    let bob = b.session("bob").await;
    let created =
        b.connect(&bob, "bin-basic", json!({ "username": "demo", "password": "correct-horse" })).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(event_types(&b).await.last().map(String::as_str), Some("account.connected"));

    let log = b.call(Method::GET, "/v1/admin/webhook/deliveries", Some(&b.secret_key), None).await;
    let text = log.json.to_string();
    assert!(!text.contains("correct-horse"), "no credential in the log: {text}");
    assert_eq!(log.json["deliveries"][0]["attempts"], 0);
    assert!(log.json["deliveries"][0]["nextAttemptAt"].is_i64());
}

#[tokio::test]
async fn the_secret_is_shown_once_kept_on_url_changes_and_rotated_with_an_overlap() {
    let b = TestBroker::with_catalog(CATALOG, true).await;
    let refused = set_endpoint(&b, "http://127.0.0.1:9/hooks").await;
    assert_eq!(
        (refused.0, refused.1["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("URL_NOT_ALLOWED"))
    );
    let not_http = set_endpoint(&b, "ftp://hooks.example").await;
    assert_eq!(not_http.1["error"]["code"], "URL_NOT_ALLOWED");
    let rotate_first = rotate(&b, json!({})).await;
    assert_eq!(rotate_first.status, StatusCode::NOT_FOUND);

    let (_, first) = set_endpoint(&b, "https://hooks.example/a").await;
    let (_, moved) = set_endpoint(&b, "https://hooks.example/b").await;
    assert!(first["secret"].is_string());
    assert!(moved.get("secret").is_none(), "a URL change keeps (and does not show) the secret: {moved}");
    let rotated = rotate(&b, json!({ "overlapSeconds": 600 })).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    assert_ne!(rotated.json["secret"], first["secret"]);
    assert_eq!(rotated.json["url"], "https://hooks.example/b");
    let stored = b.state.store.webhook_endpoint(&b.workspace.id).await.expect("store").expect("endpoint");
    let (previous, until) = stored.previous.expect("the old secret still signs");
    assert!(until > patchbay_broker::ids::now_unix() + 500);
    assert_ne!(previous, stored.secret);
}

/// Retries due at once, so a test sees the whole schedule in a few rounds.
fn fast() -> SenderSettings {
    SenderSettings {
        schedule: vec![Duration::ZERO; 3],
        poll: Duration::ZERO,
        timeout: Duration::from_secs(5),
    }
}

/// Runs delivery rounds until `done` holds for the receiver's log (or fails at the deadline).
async fn deliver_until(b: &TestBroker, receiver: &Receiver, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        deliver_due(&b.state, &fast()).await.expect("delivery round");
        let log = receiver.log().await;
        if done(&log) {
            return log;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries never completed: {log:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_standard_library_verifies_every_event_and_a_failing_receiver_gets_the_same_id_until_it_succeeds()
{
    let b = TestBroker::with_catalog(CATALOG, false).await;
    // The secret exists only once the endpoint is set, so the receiver starts after that.
    let (_, endpoint) = set_endpoint(&b, "http://127.0.0.1:9/not-yet").await;
    let secret = endpoint["secret"].as_str().expect("secret").to_owned();
    let receiver = Receiver::start(&[&secret], 2);
    assert_eq!(set_endpoint(&b, &receiver.url).await.0, StatusCode::OK);

    let alice = b.session("alice").await;
    let fields = json!({ "username": "demo", "password": "correct-horse" });
    let connected = b.connect(&alice, "bin-basic", fields.clone()).await;
    let id = connected.json["account"]["id"].as_str().expect("id").to_owned();
    let delivered = |log: &[Value]| log.iter().filter(|d| d["answered"] == 204).count();
    let log = deliver_until(&b, &receiver, |log| delivered(log) == 1).await;
    let first_id = log[0]["id"].clone();
    assert!(first_id.as_str().is_some_and(|id| id.starts_with("msg_")), "{log:?}");
    let answers: Vec<(&Value, &Value)> = log.iter().map(|d| (&d["id"], &d["answered"])).collect();
    assert_eq!(
        answers,
        [(&first_id, &json!(500)), (&first_id, &json!(500)), (&first_id, &json!(204))],
        "one webhook-id across the retries"
    );

    assert_eq!(b.connect(&alice, "bin-basic", fields).await.status, StatusCode::OK);
    b.call(Method::DELETE, &format!("/v1/accounts/{id}"), Some(&alice), None).await;
    let log = deliver_until(&b, &receiver, |log| delivered(log) == 3).await;
    assert!(log.iter().all(|d| d["verified"] == true), "every delivery verifies: {log:?}");
    let types: Vec<&str> =
        log.iter().filter(|d| d["answered"] == 204).filter_map(|d| d["type"].as_str()).collect();
    assert_eq!(types, ["account.connected", "account.reconnected", "account.disconnected"]);
    assert!(log.iter().all(|d| d["accountId"] == id.as_str()));

    let deliveries = b.call(Method::GET, "/v1/admin/webhook/deliveries", Some(&b.secret_key), None).await;
    let oldest = deliveries.json["deliveries"].as_array().and_then(|d| d.last()).cloned().expect("row");
    assert_eq!((oldest["attempts"].as_i64(), oldest["lastStatus"].as_i64()), (Some(3), Some(204)));
    assert!(oldest["deliveredAt"].is_i64() && oldest["nextAttemptAt"].is_null());
}

#[tokio::test]
async fn during_a_rotation_deliveries_and_test_events_verify_with_the_old_and_the_new_secret() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let (_, first) = set_endpoint(&b, "http://127.0.0.1:9/not-yet").await;
    let rotated = rotate(&b, json!({ "overlapSeconds": 600 })).await;
    let (old, new) = (first["secret"].as_str().expect("old"), rotated.json["secret"].as_str().expect("new"));
    let receiver = Receiver::start(&[old, new], 0);
    set_endpoint(&b, &receiver.url).await;
    let alice = b.session("alice").await;
    b.connect(&alice, "bin-basic", json!({ "username": "demo", "password": "correct-horse" })).await;
    let log = deliver_until(&b, &receiver, |log| !log.is_empty()).await;
    assert_eq!(
        (log[0]["verified"].as_bool(), log[0]["answered"].as_i64()),
        (Some(true), Some(204)),
        "{log:?}"
    );

    // The console's "send test event" goes through the same outbox and signature.
    let test = b.call(Method::POST, "/v1/admin/webhook/test", Some(&b.secret_key), None).await;
    assert_eq!(test.status, StatusCode::OK, "{}", test.json);
    let log = deliver_until(&b, &receiver, |log| log.len() == 2).await;
    assert_eq!(
        (&log[1]["id"], &log[1]["type"], &log[1]["verified"]),
        (&test.json["webhookId"], &json!("webhook.test"), &json!(true))
    );
}

/// The shared catalog plus the revocation endpoint, so a test can revoke the grant.
fn revocable_catalog() -> String {
    let catalog = IDP_CATALOG.replace(
        r#"token_url = "${OIDC}/token","#,
        r#"token_url = "${OIDC}/token", revoke_url = "${OIDC}/token/revocation","#,
    );
    assert_ne!(catalog, IDP_CATALOG);
    catalog
}

/// A broker on `provider` with a verifying receiver as its endpoint, and alice's account there.
/// Returns the broker, the receiver and the account id.
async fn connected_with_receiver(
    provider: &OidcProvider,
    catalog: &str,
    configure: impl FnOnce(&mut patchbay_broker::config::Config),
) -> (TestBroker, Receiver, String) {
    let b = TestBroker::start(catalog, vec![("OIDC".into(), provider.url.clone())], configure).await;
    let (_, endpoint) = set_endpoint(&b, "http://127.0.0.1:9/not-yet").await;
    let receiver = Receiver::start(&[endpoint["secret"].as_str().expect("secret")], 0);
    set_endpoint(&b, &receiver.url).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    (b, receiver, id)
}

/// The user revokes access at the provider, behind the broker's back.
async fn revoke_at_the_provider(b: &TestBroker, id: &str) {
    let (owner, record) =
        b.state.store.workspace_account(&b.workspace.id, id).await.expect("store").expect("account");
    let app = b.state.catalog.app("idp").expect("app");
    let creds = record.credentials.open(&b.state.keyring, &owner, "idp").expect("decrypts");
    let oauth = app.oauth2.as_ref().expect("oauth");
    let client = oauth.default_client.as_ref().expect("client");
    let refresh_token = creds.get("refresh_token").expect("refresh token");
    patchbay_broker::oauth::revoke(&b.state.upstreams, oauth, client, refresh_token, "refresh_token", &creds)
        .await
        .expect("revoked");
}

/// Runs background refresh rounds until `done` holds for one (or fails at the deadline).
async fn round_until(b: &TestBroker, done: impl Fn(&Round) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let round = run_round(&b.state).await.expect("round");
        if done(&round) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "never happened; last round: {round:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_grant_revoked_at_the_provider_is_signalled_as_needs_reauth() {
    let provider = OidcProvider::start(300);
    let (b, receiver, id) = connected_with_receiver(&provider, &revocable_catalog(), |_| {}).await;
    revoke_at_the_provider(&b, &id).await;
    let (owner, record) =
        b.state.store.workspace_account(&b.workspace.id, &id).await.expect("store").expect("account");
    let app = b.state.catalog.app("idp").expect("app");
    let refused = usable_credentials(&b.state, &owner, app, &record, true).await.err().expect("refused");
    assert_eq!(refused.code.as_str(), "REAUTH_REQUIRED");

    let log = deliver_until(&b, &receiver, |log| log.len() == 2).await;
    let types: Vec<&str> = log.iter().filter_map(|d| d["type"].as_str()).collect();
    assert_eq!(types, ["account.connected", "account.needs_reauth"]);
    assert!(log.iter().all(|d| d["verified"] == true && d["accountId"] == id.as_str()), "{log:?}");
}

#[tokio::test]
async fn the_background_refresher_probes_an_idle_grant_and_signals_its_revocation_without_a_user_request() {
    let provider = OidcProvider::start(300);
    // Long-lived tokens: only the idle probe (after a second here) finds the revoked grant.
    let (b, receiver, id) =
        connected_with_receiver(&provider, &revocable_catalog(), |c| c.background_probe_idle_seconds = 1)
            .await;
    revoke_at_the_provider(&b, &id).await;
    round_until(&b, |round| round.needs_reauth == 1).await;
    let log = deliver_until(&b, &receiver, |log| log.len() == 2).await;
    let types: Vec<&str> = log.iter().filter_map(|d| d["type"].as_str()).collect();
    assert_eq!(types, ["account.connected", "account.needs_reauth"]);
    assert!(log.iter().all(|d| d["verified"] == true && d["accountId"] == id.as_str()), "{log:?}");
    assert_eq!(run_round(&b.state).await.expect("round").visited, 0, "a marked account is left alone");
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_signalled_once_as_refresh_failed() {
    let provider = OidcProvider::start(300);
    let (b, receiver, id) =
        connected_with_receiver(&provider, IDP_CATALOG, |c| c.background_probe_idle_seconds = 1).await;
    drop(provider);
    round_until(&b, |round| round.failed == 1).await;
    assert_eq!(run_round(&b.state).await.expect("round").visited, 0, "retried later, not at every round");
    let log = deliver_until(&b, &receiver, |log| log.len() == 2).await;
    let types: Vec<&str> = log.iter().filter_map(|d| d["type"].as_str()).collect();
    assert_eq!(types, ["account.connected", "account.refresh_failed"]);
    assert!(log.iter().all(|d| d["verified"] == true && d["accountId"] == id.as_str()), "{log:?}");
    let (_, record) =
        b.state.store.workspace_account(&b.workspace.id, &id).await.expect("store").expect("account");
    assert_eq!(
        record.status,
        patchbay_protocol::AccountStatus::Active,
        "a passing failure is not a dead grant"
    );
}
