//! Token answers shaped like real providers', end to end against the real `oidc-provider`
//! answering that way (`/shaped/{shape}/token`): no refresh token, no expiry (GitHub OAuth apps),
//! a nested answer (Slack's `authed_user`) and a value taken from the answer as the API host
//! (Salesforce's `instance_url`); and a provider whose every endpoint is on the instance the user
//! names at connect time (self-managed GitLab).

mod support;

use axum::http::StatusCode;
use support::oidc::{attempt, connect, deliver, sign_in, OidcProvider};
use support::TestBroker;

const CATALOG: &str = r#"
[apps.no-refresh]
name = "No refresh token"
auth = "oauth2"
base_url = "${OIDC}"
verify = { path = "/me", display_name = "/email" }
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/shaped/no-refresh/token", scopes = ["openid", "email", "offline_access"], client_id = "patchbay-basic", client_secret = "basic-secret" }
functions.me = { title = "Who am I", path = "/me" }

[apps.no-expiry]
name = "No expiry"
auth = "oauth2"
base_url = "${OIDC}"
verify = { path = "/me", display_name = "/email" }
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/shaped/no-expiry/token", scopes = ["openid", "email"], client_id = "patchbay-basic", client_secret = "basic-secret" }
functions.me = { title = "Who am I", path = "/me" }

[apps.nested]
name = "Nested answer"
auth = "oauth2"
base_url = "${OIDC}"
verify = { path = "/me", display_name = "/email" }
functions.me = { title = "Who am I", path = "/me" }
[apps.nested.oauth2]
authorize_url = "${OIDC}/auth"
token_url = "${OIDC}/shaped/nested/token"
scopes = ["openid", "email", "offline_access"]
client_id = "patchbay-basic"
client_secret = "basic-secret"
token = { access_token = "/authed_user/access_token", refresh_token = "/authed_user/refresh_token", expires_in = "/authed_user/expires_in", token_type = "/authed_user/token_type", token_types = ["user"], values = { team_id = "/team/id" } }

[apps.instance]
name = "Host from the answer"
auth = "oauth2"
base_url = "{instance_url}"
verify = { path = "/me", display_name = "/email" }
functions.me = { title = "Who am I", path = "/me" }
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/shaped/instance/token", scopes = ["openid", "email"], client_id = "patchbay-basic", client_secret = "basic-secret", token = { values = { instance_url = "/instance_url" } } }

[apps.self-hosted]
name = "Self-hosted"
auth = "oauth2"
base_url = "{instance}"
connect.instance = { label = "Instance URL", kind = "url" }
verify = { path = "/me", display_name = "/email" }
functions.me = { title = "Who am I", path = "/me" }
oauth2 = { authorize_url = "{instance}/auth", token_url = "{instance}/token", revoke_url = "{instance}/token/revocation", scopes = ["openid", "email", "offline_access"], client_id = "patchbay-basic", client_secret = "basic-secret" }
"#;

/// A broker on `provider` (user-typed and answer-supplied loopback hosts allowed or not).
async fn broker(provider: &OidcProvider, loopback: bool) -> TestBroker {
    TestBroker::start(CATALOG, vec![("OIDC".into(), provider.url.clone())], |c| {
        c.allow_loopback_upstreams = loopback;
    })
    .await
}

/// Seconds an access token lives where a test needs its expiry: short enough to wait for.
const SHORT_TTL: u32 = 2;

/// Waits until the broker's own record of the account's access token says it expired (a time
/// condition; the refresh margin never exceeds a quarter of a lifetime, so only expiry forces a
/// refresh of such a short token).
async fn until_expired(b: &TestBroker, user: &str, id: &str) {
    let record = b.state.store.account(&b.owner(user), id).await.expect("store").expect("account");
    let expires_at = record.access_expires_at.expect("an expiring token");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while patchbay_broker::ids::now_unix() < expires_at {
        assert!(std::time::Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn connected(b: &TestBroker, token: &str, app: &str) -> String {
    let (attempt_id, reply) = connect(b, token, app, "ann").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let status = attempt(b, token, &attempt_id).await;
    assert_eq!(status["status"], "connected", "{status}");
    status["accountId"].as_str().expect("account id").to_owned()
}

#[tokio::test]
async fn without_a_refresh_token_an_expiring_account_asks_to_reconnect_without_calling_the_provider() {
    let provider = OidcProvider::start(SHORT_TTL);
    let b = broker(&provider, true).await;
    let ann = b.session("ann").await;
    let id = connected(&b, &ann, "no-refresh").await;
    until_expired(&b, "ann", &id).await;

    let reply = b.invoke(&ann, "no-refresh-me", serde_json::json!({ "args": {} })).await;
    assert_eq!(reply.code(), "REAUTH_REQUIRED", "{}", reply.json);
    assert_eq!(provider.refresh_grants().await, 0, "nothing to refresh with");
    let accounts = b.accounts(&ann, "no-refresh").await;
    assert_eq!(accounts[0]["status"], "needs_reauth");
    // Connecting again repairs the same account.
    assert_eq!(connected(&b, &ann, "no-refresh").await, id);
}

#[tokio::test]
async fn a_token_without_expiry_is_used_as_is_and_never_refreshed() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, true).await;
    let ann = b.session("ann").await;
    let id = connected(&b, &ann, "no-expiry").await;
    let record = b.state.store.account(&b.owner("ann"), &id).await.expect("store").expect("account");
    assert_eq!(record.access_expires_at, None);

    let reply = b.invoke(&ann, "no-expiry-me", serde_json::json!({ "args": {} })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["output"]["email"], "ann@example.test");
    assert_eq!(provider.refresh_grants().await, 0);
}

#[tokio::test]
async fn a_nested_answer_yields_the_users_token_and_its_refresh_token() {
    let provider = OidcProvider::start(SHORT_TTL);
    let b = broker(&provider, true).await;
    let ann = b.session("ann").await;
    let accounts_before = b.accounts(&ann, "nested").await.len();
    let id = connected(&b, &ann, "nested").await;
    assert_eq!(b.accounts(&ann, "nested").await.len(), accounts_before + 1);
    until_expired(&b, "ann", &id).await;

    // The token expired, so this invoke refreshes first: through the nested refresh token, whose
    // answer is nested too; the call then succeeds with the new nested access token (the top-level
    // bot token is not one this provider accepts).
    let reply = b.invoke(&ann, "nested-me", serde_json::json!({ "args": {} })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["output"]["email"], "ann@example.test");
    assert_eq!(provider.refresh_grants().await, 1);
}

#[tokio::test]
async fn a_host_taken_from_the_token_answer_serves_the_calls_under_the_address_rules() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider, true).await;
    let ann = b.session("ann").await;
    connected(&b, &ann, "instance").await;
    let reply = b.invoke(&ann, "instance-me", serde_json::json!({ "args": {} })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["output"]["email"], "ann@example.test");

    // The same answer naming a loopback host is refused by a broker that keeps the address rules
    // on: the host came from outside, like a URL a user typed.
    let strict = broker(&provider, false).await;
    let bob = strict.session("bob").await;
    let (attempt_id, _) = connect(&strict, &bob, "instance", "bob").await;
    let status = attempt(&strict, &bob, &attempt_id).await;
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"]["code"], "URL_NOT_ALLOWED", "{status}");
}

#[tokio::test]
async fn every_endpoint_can_live_on_the_instance_named_at_connect_time() {
    let provider = OidcProvider::start(SHORT_TTL);
    let b = broker(&provider, true).await;
    let ann = b.session("ann").await;
    let missing = b.connect(&ann, "self-hosted", serde_json::json!({})).await;
    assert_eq!(missing.code(), "INVALID_ARGUMENTS", "{}", missing.json);

    let started = b.connect(&ann, "self-hosted", serde_json::json!({ "instance": provider.url })).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.json);
    let authorize = started.json["authorizeUrl"].as_str().expect("authorizeUrl");
    assert!(authorize.starts_with(&format!("{}/auth?", provider.url)), "{authorize}");
    let attempt_id = started.json["attemptId"].as_str().expect("attemptId").to_owned();
    deliver(&b, &sign_in(authorize, "ann").await).await;
    let status = attempt(&b, &ann, &attempt_id).await;
    assert_eq!(status["status"], "connected", "{status}");
    until_expired(&b, "ann", status["accountId"].as_str().expect("account id")).await;

    // The token expired, so this invoke refreshes first, at the instance's token endpoint.
    let reply = b.invoke(&ann, "self-hosted-me", serde_json::json!({ "args": {} })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(provider.refresh_grants().await, 1);

    // Without loopback upstreams, the instance's token endpoint is refused like any typed URL.
    let strict = broker(&provider, false).await;
    let bob = strict.session("bob").await;
    let started = strict.connect(&bob, "self-hosted", serde_json::json!({ "instance": provider.url })).await;
    let authorize = started.json["authorizeUrl"].as_str().expect("authorizeUrl").to_owned();
    let attempt_id = started.json["attemptId"].as_str().expect("attemptId").to_owned();
    deliver(&strict, &sign_in(&authorize, "bob").await).await;
    let status = attempt(&strict, &bob, &attempt_id).await;
    assert_eq!(status["error"]["code"], "URL_NOT_ALLOWED", "{status}");
}
