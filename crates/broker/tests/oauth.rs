//! OAuth 2.0 against the real `oidc-provider` (npm): the code flow with PKCE and both client
//! authentication methods, one-time state, provider errors, refresh with rotation, single-flight
//! refresh across tasks and replicas, a provider outage mid-refresh, and revocation.

mod support;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use patchbay_broker::credentials::Credentials;
use patchbay_broker::oauth::refresh::{usable_credentials, Usable};
use patchbay_broker::store::AccountRecord;
use patchbay_broker::AppState;
use serde_json::json;
use support::oidc::{attempt, connect, deliver, sign_in, OidcProvider};
use support::{TestBroker, ORIGIN};

const CATALOG: &str = r#"
[apps.idp]
name = "Identity Provider"
auth = "oauth2"
accounts = "multiple"
base_url = "${OIDC}"
verify = { path = "/me", display_name = "/email", identity = "/sub" }
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/token", revoke_url = "${OIDC}/token/revocation", scopes = ["openid", "email", "offline_access"], client_id = "patchbay-basic", client_secret = "basic-secret" }

[apps.idp-post]
name = "Identity Provider (post)"
auth = "oauth2"
base_url = "${OIDC}"
verify = { path = "/me", display_name = "/email" }
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/token", scopes = ["openid", "email"], client_auth = "client_secret_post", client_id = "patchbay-post", client_secret = "post-secret" }

[apps.idp-bad-secret]
name = "Misconfigured"
auth = "oauth2"
base_url = "${OIDC}"
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/token", scopes = ["openid"], client_id = "patchbay-basic", client_secret = "not-the-secret" }
"#;

async fn broker(
    provider: &OidcProvider,
    configure: impl FnOnce(&mut patchbay_broker::config::Config),
) -> TestBroker {
    TestBroker::start(CATALOG, vec![("OIDC".into(), provider.url.clone())], configure).await
}

async fn account(b: &TestBroker, user: &str, id: &str) -> AccountRecord {
    b.state.store.account(&b.owner(user), id).await.expect("store").expect("account exists")
}

async fn usable(
    state: &Arc<AppState>,
    b: &TestBroker,
    user: &str,
    record: &AccountRecord,
    force: bool,
) -> Result<Usable, String> {
    let app = state.catalog.app(&record.app_id).expect("app");
    usable_credentials(state, &b.owner(user), app, record, force)
        .await
        .map_err(|e| format!("{}: {}", e.code, e.message))
}

/// The credentials as stored, decrypted without any refresh logic.
fn stored(b: &TestBroker, user: &str, record: &AccountRecord) -> Arc<Credentials> {
    record.credentials.open(&b.state.keyring, &b.owner(user), &record.app_id).expect("decrypts")
}

fn access_token(u: &Usable) -> String {
    u.credentials.get("access_token").expect("access token").to_owned()
}

#[tokio::test]
async fn the_code_flow_connects_with_both_client_authentication_methods() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;

    let started = b.call(Method::POST, "/v1/apps/idp/connect", Some(&alice), Some(json!({}))).await;
    let authorize = reqwest::Url::parse(started.json["authorizeUrl"].as_str().expect("url")).expect("url");
    let params: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert_eq!(params["redirect_uri"], support::oidc::REDIRECT_URI);
    assert_eq!(params["scope"], "openid email offline_access");
    assert!(params["state"].len() >= 43, "256-bit state");
    assert!(started.json["expiresAt"].is_string());

    for (app, client) in [("idp", "patchbay-basic"), ("idp-post", "patchbay-post")] {
        let (attempt_id, page) = connect(&b, &alice, app, "alice").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.headers["referrer-policy"], "no-referrer", "the callback URL holds the code");
        let html = page.json.as_str().expect("html page");
        assert!(
            html.contains(&format!("\"origin\":\"{ORIGIN}\"")),
            "posts to the exact origin, never *: {html}"
        );
        assert!(html.contains(&attempt_id));
        let status = attempt(&b, &alice, &attempt_id).await;
        assert_eq!(status["status"], "connected", "{status}");
        let listed = b.accounts(&alice, app).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["displayName"], "alice@example.test");
        assert_eq!(listed[0]["id"], status["accountId"]);
        let stats = provider.stats().await;
        assert_eq!(stats["clients"][format!("authorization_code:{client}")], 1, "{stats}");
    }
}

#[tokio::test]
async fn state_is_one_time_bound_and_expiring() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;

    let missing = b.call(Method::GET, "/oauth/callback?code=abc", None, None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let forged = b.call(Method::GET, "/oauth/callback?code=abc&state=forged-state", None, None).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);

    let (_, page) = connect(&b, &alice, "idp", "alice").await;
    assert_eq!(page.status, StatusCode::OK);
    // Replaying the same callback (same state and code) changes nothing.
    let started = b.call(Method::POST, "/v1/apps/idp/connect", Some(&alice), Some(json!({}))).await;
    let callback = sign_in(started.json["authorizeUrl"].as_str().expect("url"), "alice").await;
    assert_eq!(deliver(&b, &callback).await.status, StatusCode::OK);
    let replay = deliver(&b, &callback).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.json.as_str().is_some_and(|h| h.contains("already completed")));
    assert_eq!(b.accounts(&alice, "idp").await.len(), 1, "same identity: one account, no duplicate");

    // A code obtained under one attempt, presented with another attempt's state, fails PKCE.
    let first = b.call(Method::POST, "/v1/apps/idp/connect", Some(&alice), Some(json!({}))).await;
    let second = b.call(Method::POST, "/v1/apps/idp/connect", Some(&alice), Some(json!({}))).await;
    let code_of_first = sign_in(first.json["authorizeUrl"].as_str().expect("url"), "alice").await;
    let state_of_second = reqwest::Url::parse(second.json["authorizeUrl"].as_str().expect("url"))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let code = reqwest::Url::parse(&code_of_first)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let mixed =
        deliver(&b, &format!("{}?code={code}&state={state_of_second}", support::oidc::REDIRECT_URI)).await;
    assert_eq!(mixed.status, StatusCode::OK, "the attempt ends and says why");
    let status = attempt(&b, &alice, second.json["attemptId"].as_str().expect("id")).await;
    assert_eq!(
        (status["status"].as_str(), status["error"]["providerError"].as_str()),
        (Some("failed"), Some("invalid_grant"))
    );

    // An attempt that expired before the user came back.
    let hurried = broker(&provider, |c| c.oauth_attempt_ttl_seconds = 0).await;
    let bob = hurried.session("bob").await;
    let started = hurried.call(Method::POST, "/v1/apps/idp/connect", Some(&bob), Some(json!({}))).await;
    let callback = sign_in(started.json["authorizeUrl"].as_str().expect("url"), "bob").await;
    let late = deliver(&hurried, &callback).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    let status = attempt(&hurried, &bob, started.json["attemptId"].as_str().expect("id")).await;
    assert_eq!(
        (status["status"].as_str(), status["error"]["code"].as_str()),
        (Some("failed"), Some("CONNECT_TIMEOUT"))
    );
    assert!(hurried.accounts(&bob, "idp").await.is_empty(), "nothing stored");

    // Attempts are private to their user.
    let mallory = b.session("mallory").await;
    let foreign = b
        .call(
            Method::GET,
            &format!("/v1/connect-attempts/{}", first.json["attemptId"].as_str().expect("id")),
            Some(&mallory),
            None,
        )
        .await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
}

#[tokio::test]
async fn provider_errors_end_the_attempt_with_their_code() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;

    let started = b.call(Method::POST, "/v1/apps/idp/connect", Some(&alice), Some(json!({}))).await;
    let state = reqwest::Url::parse(started.json["authorizeUrl"].as_str().expect("url"))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let denied = deliver(
        &b,
        &format!(
            "{}?error=access_denied&error_description=%3C%2Fscript%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&state={state}",
            support::oidc::REDIRECT_URI
        ),
    )
    .await;
    let html = denied.json.as_str().expect("a page");
    assert!(html.contains("USER_CANCELLED"), "{html}");
    // The provider's text reaches the page only escaped: as text in the paragraph, as JSON escapes
    // in the script data.
    assert!(!html.contains("<img") && !html.contains("</script><img"), "{html}");
    assert!(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    let status = attempt(&b, &alice, started.json["attemptId"].as_str().expect("id")).await;
    assert_eq!(status["error"]["code"], "USER_CANCELLED");

    let (attempt_id, page) = connect(&b, &alice, "idp-bad-secret", "alice").await;
    assert_eq!(page.status, StatusCode::OK);
    let status = attempt(&b, &alice, &attempt_id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "UPSTREAM_ERROR");
    assert_eq!(status["error"]["providerError"], "invalid_client");
    assert!(status["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("client id or secret was refused")));
    assert!(!status.to_string().contains("not-the-secret"), "the secret never reaches the client");
    assert!(b.accounts(&alice, "idp-bad-secret").await.is_empty());
}

#[tokio::test]
async fn short_lived_tokens_are_used_before_they_are_refreshed() {
    // 30 s tokens against the default 60 s margin: a fixed margin would refresh on every call.
    let provider = OidcProvider::start(30);
    let b = broker(&provider, |c| assert_eq!(c.oauth_refresh_margin_seconds, 60)).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let record = account(&b, "alice", &id).await;
    let first = usable(&b.state, &b, "alice", &record, false).await.expect("usable");
    let second = usable(&b.state, &b, "alice", &record, false).await.expect("usable");
    assert_eq!(provider.refresh_grants().await, 0, "a fresh 30 s token is used as it is");
    assert_eq!(access_token(&first), access_token(&second));
    assert_eq!(account(&b, "alice", &id).await.version, record.version);
}

/// The broker's own record of the expiry is in whole seconds from when it received the token, so
/// it can trail the provider's by up to a second: a test that waited for the provider to refuse
/// the token waits for this too, or the broker (rightly) still uses the token it believes valid.
async fn until_the_broker_sees_it_expired(record: &AccountRecord) {
    let expires_at = record.access_expires_at.expect("an expiring token");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while patchbay_broker::ids::now_unix() < expires_at {
        assert!(std::time::Instant::now() < deadline, "the broker's expiry never came");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refreshed_rotated_and_the_old_refresh_token_is_spent() {
    let provider = OidcProvider::start(3);
    let b = broker(&provider, |c| c.oauth_refresh_margin_seconds = 0).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let before = account(&b, "alice", &id).await;
    let first = stored(&b, "alice", &before);
    let old_access = first.get("access_token").expect("access token").to_owned();
    let old_refresh = first.get("refresh_token").expect("refresh token").to_owned();

    // Wait for the provider itself to reject the token (an observed condition, not a fixed delay).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while provider.userinfo_status(&old_access).await == 200 {
        assert!(std::time::Instant::now() < deadline, "the 3 s token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    until_the_broker_sees_it_expired(&before).await;
    let refreshed = usable(&b.state, &b, "alice", &before, false).await.expect("refreshed");
    assert_ne!(access_token(&refreshed), old_access);
    assert_eq!(provider.userinfo_status(&access_token(&refreshed)).await, 200);
    assert_eq!(provider.refresh_grants().await, 1);
    let after = account(&b, "alice", &id).await;
    assert_eq!(after.version, before.version + 1);
    let saved = stored(&b, "alice", &after);
    assert_eq!(saved.get("access_token"), Some(access_token(&refreshed).as_str()), "committed before use");
    assert_ne!(saved.get("refresh_token"), Some(old_refresh.as_str()), "the rotated refresh token was saved");

    // The spent refresh token is refused by the provider: the broker must never use it again.
    let oauth = b.state.catalog.app("idp").and_then(|a| a.oauth2.as_ref()).expect("oauth");
    let client = oauth.default_client.as_ref().expect("client");
    let spent = patchbay_broker::oauth::refresh(
        &b.state.upstreams,
        oauth,
        client,
        &old_refresh,
        std::time::Duration::from_secs(5),
    )
    .await;
    assert!(spent.is_err_and(|e| e.is_invalid_grant()));
}

async fn concurrent_refreshes(
    brokers: &[&TestBroker],
    record: &AccountRecord,
    per_broker: usize,
) -> Vec<String> {
    let mut tasks = Vec::new();
    for b in brokers {
        for _ in 0..per_broker {
            let state: Arc<AppState> = b.state.clone();
            let owner = b.owner("alice");
            let record = record.clone();
            tasks.push(tokio::spawn(async move {
                let app = state.catalog.app("idp").expect("app").clone();
                usable_credentials(&state, &owner, &app, &record, false)
                    .await
                    .map(|u| access_token(&u))
                    .map_err(|e| format!("{}: {}", e.code, e.message))
            }));
        }
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.expect("task").expect("every caller gets a token"));
    }
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_callers_cause_exactly_one_refresh_in_one_and_across_two_replicas() {
    // 3 s tokens: each round waits until the provider itself refuses the stored one.
    let provider = OidcProvider::start(3);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();

    for (round, replicas) in [(1u64, 1usize), (2, 2)] {
        let record = account(&b, "alice", &id).await;
        let expired = stored(&b, "alice", &record).get("access_token").expect("access token").to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while provider.userinfo_status(&expired).await == 200 {
            assert!(std::time::Instant::now() < deadline, "the 3 s token never expired");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        until_the_broker_sees_it_expired(&record).await;
        let replica = b.replica().await;
        let brokers: Vec<&TestBroker> = if replicas == 1 { vec![&b] } else { vec![&b, &replica] };
        let tokens = concurrent_refreshes(&brokers, &record, 200 / replicas).await;
        assert_eq!(tokens.len(), 200);
        assert_eq!(provider.refresh_grants().await, round, "exactly one refresh reached the provider");
        let distinct: std::collections::BTreeSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), 1, "every caller got the one new token");
        for token in distinct {
            assert_eq!(provider.userinfo_status(token).await, 200, "and it is valid");
        }
        assert_eq!(account(&b, "alice", &id).await.version, record.version + 1);
    }
    assert_eq!(provider.stats().await["errors"], json!({}), "no invalid_grant anywhere");
    // The stored refresh token is the newest: it still works.
    let newest = account(&b, "alice", &id).await;
    assert!(usable(&b.state, &b, "alice", &newest, true).await.is_ok());
}

#[tokio::test]
async fn a_provider_outage_mid_refresh_fails_clearly_and_the_account_recovers() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |c| c.upstream_timeout_seconds = 2).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let before = account(&b, "alice", &id).await;

    // SAFETY: plain signal delivery to our own child process.
    assert_eq!(unsafe { libc::kill(provider.pid(), libc::SIGSTOP) }, 0);
    let during = usable(&b.state, &b, "alice", &before, true).await;
    let second = usable(&b.state, &b, "alice", &before, true).await;
    let after_outage = account(&b, "alice", &id).await;
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(provider.pid(), libc::SIGCONT) }, 0);
    for call in [during, second] {
        let err = call.err().expect("a stalled provider fails the call");
        assert!(err.starts_with("UPSTREAM_UNAVAILABLE"), "{err}");
    }
    assert_eq!(after_outage.credentials, before.credentials, "the stored refresh token survived the outage");
    assert_eq!(after_outage.status, patchbay_protocol::AccountStatus::Active);

    // The provider received the stalled refresh and rotates the token once it resumes; the broker
    // kept waiting for that answer in the background, so nothing is lost.
    let recovered =
        usable(&b.state, &b, "alice", &after_outage, true).await.expect("recovers without re-authorisation");
    assert_eq!(provider.userinfo_status(&access_token(&recovered)).await, 200);
    assert_eq!(provider.refresh_grants().await, 1, "the stalled request was the one refresh");
    assert_eq!(provider.stats().await["errors"], json!({}), "no refresh token was spent twice");
}

#[tokio::test]
async fn a_revoked_grant_needs_reauth_and_connecting_again_repairs_it_in_place() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let record = account(&b, "alice", &id).await;
    let refresh_token = usable(&b.state, &b, "alice", &record, false)
        .await
        .expect("read")
        .credentials
        .get("refresh_token")
        .expect("rt")
        .to_owned();

    // The user revokes access at the provider, behind the broker's back.
    let oauth = b.state.catalog.app("idp").and_then(|a| a.oauth2.as_ref()).expect("oauth");
    let client = oauth.default_client.as_ref().expect("client");
    patchbay_broker::oauth::revoke(
        &b.state.upstreams,
        oauth,
        client,
        &refresh_token,
        "refresh_token",
        &Credentials::default(),
    )
    .await
    .expect("revoked");

    let err = usable(&b.state, &b, "alice", &record, true).await.err().expect("refresh refused");
    assert!(err.starts_with("REAUTH_REQUIRED"), "{err}");
    assert_eq!(b.accounts(&alice, "idp").await[0]["status"], "needs_reauth");
    let again = usable(&b.state, &b, "alice", &account(&b, "alice", &id).await, false)
        .await
        .err()
        .expect("still refused");
    assert!(again.starts_with("REAUTH_REQUIRED"));

    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    assert_eq!(
        attempt(&b, &alice, &attempt_id).await["accountId"],
        id.as_str(),
        "same upstream identity: same account"
    );
    let listed = b.accounts(&alice, "idp").await;
    assert_eq!((listed.len(), listed[0]["status"].as_str()), (1, Some("active")));
}

#[tokio::test]
async fn reconnecting_in_place_revokes_the_grant_it_replaces() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let old = usable(&b.state, &b, "alice", &account(&b, "alice", &id).await, false).await.expect("read");
    let old_refresh = old.credentials.get("refresh_token").expect("rt").to_owned();

    // Same upstream identity: the account is updated in place with a new grant.
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    assert_eq!(attempt(&b, &alice, &attempt_id).await["accountId"], id.as_str());

    let oauth = b.state.catalog.app("idp").and_then(|a| a.oauth2.as_ref()).expect("oauth");
    let client = oauth.default_client.as_ref().expect("client");
    let reuse = patchbay_broker::oauth::refresh(
        &b.state.upstreams,
        oauth,
        client,
        &old_refresh,
        std::time::Duration::from_secs(5),
    )
    .await;
    assert!(reuse.is_err_and(|e| e.is_invalid_grant()), "the replaced refresh token no longer redeems");
    assert_eq!(provider.userinfo_status(&access_token(&old)).await, 401, "nor does its access token work");

    // The new grant is untouched: its token works and it refreshes.
    let record = account(&b, "alice", &id).await;
    let new = usable(&b.state, &b, "alice", &record, false).await.expect("read");
    assert_ne!(access_token(&new), access_token(&old));
    assert_eq!(provider.userinfo_status(&access_token(&new)).await, 200);
    let refreshed = usable(&b.state, &b, "alice", &record, true).await.expect("the new grant refreshes");
    assert_eq!(provider.userinfo_status(&access_token(&refreshed)).await, 200);
}

#[tokio::test]
async fn disconnect_revokes_upstream_and_removes_local_credentials() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let creds = usable(&b.state, &b, "alice", &account(&b, "alice", &id).await, false).await.expect("read");
    let refresh_token = creds.credentials.get("refresh_token").expect("rt").to_owned();

    let gone = b.call(Method::DELETE, &format!("/v1/accounts/{id}"), Some(&alice), None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert!(b.accounts(&alice, "idp").await.is_empty());
    assert_eq!(provider.userinfo_status(&access_token(&creds)).await, 401, "the access token was revoked");
    let oauth = b.state.catalog.app("idp").and_then(|a| a.oauth2.as_ref()).expect("oauth");
    let client = oauth.default_client.as_ref().expect("client");
    let reuse = patchbay_broker::oauth::refresh(
        &b.state.upstreams,
        oauth,
        client,
        &refresh_token,
        std::time::Duration::from_secs(5),
    )
    .await;
    assert!(reuse.is_err_and(|e| e.is_invalid_grant()), "the refresh token was revoked");
}

#[tokio::test]
async fn redirect_mode_returns_to_an_allowed_origin_only() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, |_| {}).await;
    let alice = b.session("alice").await;
    let foreign = b
        .call(
            Method::POST,
            "/v1/apps/idp/connect",
            Some(&alice),
            Some(json!({ "returnTo": "https://evil.example/x" })),
        )
        .await;
    assert_eq!(foreign.code(), "INVALID_ARGUMENTS");

    let started = b
        .call(
            Method::POST,
            "/v1/apps/idp/connect",
            Some(&alice),
            Some(json!({ "returnTo": format!("{ORIGIN}/settings?tab=apps") })),
        )
        .await;
    let callback = sign_in(started.json["authorizeUrl"].as_str().expect("url"), "alice").await;
    let back = deliver(&b, &callback).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    let location = back.headers["location"].to_str().expect("location");
    let attempt_id = started.json["attemptId"].as_str().expect("id");
    assert_eq!(location, format!("{ORIGIN}/settings?tab=apps&patchbay_attempt={attempt_id}"));
    assert_eq!(attempt(&b, &alice, attempt_id).await["status"], "connected");
}
