//! Invokes read accounts from memory, and two replicas (brokers with their own connection pools
//! and caches on one database) never act on what the other already changed: a disconnect or a
//! refused credential on replica A is answered by replica B at once without calling the app; a
//! refresh on A is used by B without another token request. On SQLite and on PostgreSQL; on
//! PostgreSQL also with the notification channel cut, where writes wait out the cache lifetime.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::Connection;
use support::oidc::{attempt, connect, OidcProvider, IDP_CATALOG};
use support::TestBroker;

/// An app that counts the calls it gets and refuses every key once told to.
struct CountingApp {
    url: String,
    calls: Arc<AtomicUsize>,
    refusing: Arc<AtomicBool>,
}

impl CountingApp {
    async fn start() -> CountingApp {
        let (calls, refusing) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (counted, refused) = (calls.clone(), refusing.clone());
        let app = Router::new().route(
            "/ping",
            get(move |headers: HeaderMap| async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let key_sent = headers.get("x-api-key").is_some();
                if refused.load(Ordering::SeqCst) || !key_sent {
                    (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid key" })))
                } else {
                    (StatusCode::OK, Json(json!({ "pong": true })))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        CountingApp { url, calls, refusing }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

const COUNTED_CATALOG: &str = r#"
[apps.counted]
name = "Counted"
auth = "api_key"
base_url = "${UPSTREAM}"
inject = { headers = { X-Api-Key = "{api_key}" }, refused_statuses = [401] }
functions.ping = { title = "Ping", path = "/ping" }
"#;

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Replica A on a fresh database of `backend` (with `configure`d settings), and replica B.
async fn replicas(
    backend: Backend,
    catalog: &str,
    vars: Vec<(String, String)>,
    configure: impl FnOnce(&mut patchbay_broker::config::Config),
) -> (TestBroker, TestBroker) {
    let database_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(support::postgres::fresh_database().await),
    };
    let a = TestBroker::start(catalog, vars, |config| {
        if let Some(url) = database_url {
            config.database_url = url;
        }
        configure(config);
    })
    .await;
    let b = a.replica().await;
    (a, b)
}

/// Connects `counted` on A and has both replicas use it once (so both hold it in memory).
async fn connected_and_used(a: &TestBroker, b: &TestBroker, token: &str) -> String {
    let connected = a.connect(token, "counted", json!({ "api_key": "key-1" })).await;
    assert!(connected.status.is_success(), "{}", connected.json);
    for replica in [b, a, b] {
        let reply = replica.invoke(token, "counted-ping", json!({ "args": {} })).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    }
    connected.json["account"]["id"].as_str().expect("account id").to_owned()
}

async fn a_disconnect_on_one_replica_is_final_on_the_other_at_once(backend: Backend) {
    let app = CountingApp::start().await;
    let (a, b) = replicas(backend, COUNTED_CATALOG, vec![("UPSTREAM".into(), app.url.clone())], |_| {}).await;
    let alice = a.session("alice").await;
    let id = connected_and_used(&a, &b, &alice).await;
    let calls = app.calls();

    let disconnected = a.call(Method::DELETE, &format!("/v1/accounts/{id}"), Some(&alice), None).await;
    assert!(disconnected.status.is_success(), "{}", disconnected.json);
    let answered = Instant::now();
    let reply = b.invoke(&alice, "counted-ping", json!({ "args": {} })).await;
    assert!(answered.elapsed() < Duration::from_millis(50), "B was asked within 50 ms");
    assert_eq!(reply.code(), "NOT_CONNECTED", "{}", reply.json);
    assert_eq!(app.calls(), calls, "the app was never called with the disconnected key");
}

async fn refused_credentials_on_one_replica_need_reconnecting_on_the_other(backend: Backend) {
    let app = CountingApp::start().await;
    let (a, b) = replicas(backend, COUNTED_CATALOG, vec![("UPSTREAM".into(), app.url.clone())], |_| {}).await;
    let alice = a.session("alice").await;
    connected_and_used(&a, &b, &alice).await;

    app.refusing.store(true, Ordering::SeqCst);
    assert_eq!(a.invoke(&alice, "counted-ping", json!({ "args": {} })).await.code(), "REAUTH_REQUIRED");
    let calls = app.calls();
    let reply = b.invoke(&alice, "counted-ping", json!({ "args": {} })).await;
    assert_eq!(reply.code(), "REAUTH_REQUIRED", "{}", reply.json);
    assert_eq!(app.calls(), calls, "B did not try the refused key again");
}

/// 4xx answers replica `broker` counted from the app `idp`.
async fn client_errors_seen(broker: &TestBroker) -> u64 {
    let metrics = broker.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.json.as_str().expect("metrics text").to_owned();
    text.lines()
        .find(|line| {
            line.starts_with("patchbay_upstream_responses_total{")
                && line.contains("app=\"idp\"")
                && line.contains("outcome=\"4xx\"")
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

async fn a_refresh_on_one_replica_is_used_by_the_other(backend: Backend) {
    const ACCESS_TTL: u32 = 4;
    let provider = OidcProvider::start(ACCESS_TTL);
    let vars = vec![("OIDC".into(), provider.url.clone())];
    // Tokens are refreshed only after the provider's 401 (not by their expiry), and cached
    // accounts would outlive the token: only B forgetting A's change keeps B off the stale token.
    let (a, b) = replicas(backend, IDP_CATALOG, vars, |c| {
        c.oauth_refresh_margin_seconds = -3600;
        c.account_cache_seconds = 60;
    })
    .await;
    let alice = a.session("alice").await;
    let (attempt_id, _) = connect(&a, &alice, "idp", "alice").await;
    let id = attempt(&a, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    for replica in [&b, &a] {
        let reply = replica.invoke(&alice, "idp-me", json!({ "args": {} })).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    }

    // The access token both replicas hold expires; A meets the 401 and refreshes.
    let record = a.state.store.account(&a.owner("alice"), &id).await.expect("read").expect("account");
    let held = record.credentials.open(&a.state.keyring, &a.owner("alice"), "idp").expect("open");
    let deadline = Instant::now() + Duration::from_secs(u64::from(ACCESS_TTL) + 10);
    while provider.userinfo_status(held.get("access_token").expect("access token")).await != 401 {
        assert!(Instant::now() < deadline, "the access token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refreshed = a.invoke(&alice, "idp-me", json!({ "args": {} })).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.json);
    assert_eq!(provider.refresh_grants().await, 1, "{}", provider.stats().await);

    let refused_before = client_errors_seen(&b).await;
    let reply = b.invoke(&alice, "idp-me", json!({ "args": {} })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(
        client_errors_seen(&b).await,
        refused_before,
        "B sent the refreshed token, not the revoked one"
    );
    assert_eq!(provider.refresh_grants().await, 1, "no second token request");
}

async fn on_both_backends<F, Fut>(scenario: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    scenario(Backend::Sqlite).await;
    scenario(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_on_replica_a_is_answered_by_replica_b_without_calling_the_app() {
    on_both_backends(a_disconnect_on_one_replica_is_final_on_the_other_at_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_refused_on_replica_a_answer_reauth_required_on_replica_b() {
    on_both_backends(refused_credentials_on_one_replica_need_reconnecting_on_the_other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_on_replica_a_is_used_by_replica_b_without_another_token_request() {
    on_both_backends(a_refresh_on_one_replica_is_used_by_the_other).await;
}

/// Runs `sql` on the cluster's maintenance connection.
async fn admin(maintenance: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query(sql).execute(maintenance).await.expect(sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_notification_channel_cut_a_write_waits_out_the_cache_lifetime() {
    const LIFETIME: Duration = Duration::from_secs(1);
    let app = CountingApp::start().await;
    let (a, b) =
        replicas(Backend::Postgres, COUNTED_CATALOG, vec![("UPSTREAM".into(), app.url.clone())], |c| {
            c.account_cache_seconds = LIFETIME.as_secs();
        })
        .await;
    let alice = a.session("alice").await;
    let id = connected_and_used(&a, &b, &alice).await;
    let calls = app.calls();
    let database = a.state.config.database_url.rsplit('/').next().expect("database name").to_owned();

    // Both listening connections are cut and cannot come back; the pools keep their connections.
    let mut maintenance =
        sqlx::PgConnection::connect(&support::postgres::url()).await.expect("maintenance connection");
    admin(&mut maintenance, &format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false")).await;
    admin(
        &mut maintenance,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{database}' AND application_name LIKE 'patchbay-cache-%'"
        ),
    )
    .await;

    let started = Instant::now();
    let disconnected = a.call(Method::DELETE, &format!("/v1/accounts/{id}"), Some(&alice), None).await;
    let took = started.elapsed();
    assert!(disconnected.status.is_success(), "{}", disconnected.json);
    assert!(took >= LIFETIME, "no replica acknowledged, so the write waited the lifetime out ({took:?})");
    assert!(took < LIFETIME + Duration::from_secs(2), "and no longer ({took:?})");
    let reply = b.invoke(&alice, "counted-ping", json!({ "args": {} })).await;
    assert_eq!(reply.code(), "NOT_CONNECTED", "{}", reply.json);
    assert_eq!(app.calls(), calls, "B no longer used what it had read before the change");

    // Once connections are allowed again, both listeners come back and writes are acknowledged.
    admin(&mut maintenance, &format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening_connections(&mut maintenance, &database).await < 2 {
        assert!(Instant::now() < deadline, "the listeners never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reconnected = a.connect(&alice, "counted", json!({ "api_key": "key-2" })).await;
    assert!(reconnected.status.is_success(), "{}", reconnected.json);
    let started = Instant::now();
    let id = reconnected.json["account"]["id"].as_str().expect("account id").to_owned();
    let disconnected = a.call(Method::DELETE, &format!("/v1/accounts/{id}"), Some(&alice), None).await;
    assert!(disconnected.status.is_success(), "{}", disconnected.json);
    assert!(started.elapsed() < LIFETIME, "acknowledged again, not waited out ({:?})", started.elapsed());
}

/// The account-cache listening connections open on `database`.
async fn listening_connections(maintenance: &mut sqlx::PgConnection, database: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'patchbay-cache-%'",
    )
    .bind(database)
    .fetch_one(maintenance)
    .await
    .expect("count")
}
