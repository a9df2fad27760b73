//! Two real broker processes (the release binary, `patchbay-broker serve`) on one database, as two
//! replicas behind a load balancer would run, and the scenarios run on them: 200 concurrent
//! invokes split between them hit an expired OAuth token and the provider sees exactly one
//! refresh; their background refreshers renew an idle token once; a delivery cut by SIGKILL is
//! completed after a restart under the same webhook-id; each webhook is delivered once.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patchbay_broker::credentials::Credentials;
use serde_json::{json, Value};

use patchbay_broker::store::AccountRecord;

use super::free_port;
use super::oidc::{sign_in, OidcProvider, IDP_CATALOG, REDIRECT_URI};
use super::receiver::Receiver;

/// Invokes sent at once, alternating between the replicas.
const CALLS: usize = 200;

/// One broker process, killed on drop.
pub struct Broker {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl Broker {
    /// SIGKILL: the process ends at once, whatever it was doing.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// A counter of this process's `/metrics` (0 until it first counts).
    pub async fn counter(&self, name: &str) -> u64 {
        let text =
            reqwest::get(format!("{}/metrics", self.url)).await.expect("metrics").text().await.expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map_or(0, |value| value as u64)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two broker processes on one database with one workspace, the provider of [`IDP_CATALOG`], and
/// a session for `alice`.
pub struct Cluster {
    /// The OAuth provider.
    pub provider: OidcProvider,
    /// The first replica, on the default single-threaded runtime.
    pub a: Broker,
    /// The second replica, on the multi-threaded runtime (`worker_threads = 2`), so both
    /// schedulers run every replica scenario.
    pub b: Broker,
    /// The shared database.
    pub database_url: String,
    /// The workspace secret key.
    pub secret: String,
    /// Alice's session token.
    pub token: String,
    /// The workspace as `workspace create` printed it.
    pub workspace: Value,
    /// A client for the test's own requests.
    pub http: reqwest::Client,
    keys: String,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the provider (access tokens live `access_ttl` seconds) and two replicas on the
    /// database `database_url` names (a URL made from the scratch folder), configured with the
    /// TOML lines `settings` on top of the test basics.
    pub async fn start(
        access_ttl: u32,
        database_url: impl FnOnce(&Path) -> String,
        settings: &str,
    ) -> Cluster {
        let provider = OidcProvider::start(access_ttl);
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = database_url(dir.path());
        std::fs::write(dir.path().join("catalog.toml"), IDP_CATALOG).expect("catalog");
        std::fs::write(
            dir.path().join("patchbay.toml"),
            format!(
                "database_url = \"{database_url}\"\ncatalog = \"{catalog}\"\npublic_url = \"{public}\"\n\
                 allow_loopback_upstreams = true\n{settings}\n",
                catalog = dir.path().join("catalog.toml").display(),
                public = REDIRECT_URI.trim_end_matches("/oauth/callback"),
            ),
        )
        .expect("config");
        let keys = patchbay_broker::crypto::Keyring::generate_entry("k1");
        let created = broker_command(dir.path(), &provider, &keys)
            .args(["workspace", "create", "--name", "Replicas"])
            .output()
            .expect("workspace create");
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
        let workspace: Value = serde_json::from_slice(&created.stdout).expect("workspace json");
        let secret = workspace["secretKey"].as_str().expect("secret key").to_owned();
        let a = start(dir.path(), &provider, &keys, 1).await;
        let b = start(dir.path(), &provider, &keys, 2).await;
        let http = reqwest::Client::new();
        let session: Value = http
            .post(format!("{}/v1/sessions", a.url))
            .bearer_auth(&secret)
            .json(&json!({ "userId": "alice" }))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("session json");
        let token = session["token"].as_str().expect("token").to_owned();
        Cluster { provider, a, b, database_url, secret, token, workspace, http, keys, dir }
    }

    /// Another broker process on the same database and settings (a replica that comes back).
    pub async fn restart(&self) -> Broker {
        start(self.dir.path(), &self.provider, &self.keys, 1).await
    }

    /// Connects alice's account at the provider through replica A.
    pub async fn connect(&self) {
        let started: Value = self
            .http
            .post(format!("{}/v1/apps/idp/connect", self.a.url))
            .bearer_auth(&self.token)
            .json(&json!({}))
            .send()
            .await
            .expect("connect")
            .json()
            .await
            .expect("connect json");
        let callback = sign_in(started["authorizeUrl"].as_str().expect("url"), "alice").await;
        let query = reqwest::Url::parse(&callback).expect("callback").query().unwrap_or_default().to_owned();
        let page =
            self.http.get(format!("{}/oauth/callback?{query}", self.a.url)).send().await.expect("callback");
        assert_eq!(page.status().as_u16(), 200);
    }

    /// Alice's account as the replicas stored it, with its decrypted credentials.
    pub async fn stored_account(&self) -> (AccountRecord, Arc<Credentials>) {
        let store =
            patchbay_broker::open_store(&self.database_url, std::time::Duration::ZERO).await.expect("store");
        let owner = patchbay_broker::store::Owner {
            workspace_id: self.workspace["id"].as_str().expect("id").to_owned(),
            user_id: "alice".into(),
        };
        let account = store.accounts(&owner, Some("idp")).await.expect("accounts").pop().expect("account");
        let ring = patchbay_broker::crypto::Keyring::parse(&self.keys).expect("keys");
        let credentials =
            account.credentials.open(&ring, &owner, "idp").expect("the stored credentials open");
        (account, credentials)
    }

    /// Calls the admin API of replica A with the workspace secret key and `body`, if any.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request =
            self.http.request(method, format!("{}{path}", self.a.url)).bearer_auth(&self.secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("admin call");
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
        reply.json().await.unwrap_or(Value::Null)
    }
}

fn broker_command(dir: &Path, provider: &OidcProvider, keys: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_patchbay-broker"));
    command
        .env("PATCHBAY_CONFIG", dir.join("patchbay.toml"))
        .env("PATCHBAY_MASTER_KEYS", keys)
        .env("OIDC", &provider.url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

async fn start(dir: &Path, provider: &OidcProvider, keys: &str, worker_threads: usize) -> Broker {
    let port = free_port();
    let child = broker_command(dir, provider, keys)
        .arg("serve")
        .env("PATCHBAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("PATCHBAY_WORKER_THREADS", worker_threads.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("broker starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{url}/readyz")).await.map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
        assert!(Instant::now() < deadline, "broker on {url} never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Broker { child, url }
}

/// Runs the scenario on the database `database_url` names (a URL made from the test's scratch
/// folder), asserting every invoke succeeds with one refresh, and prints the figures.
pub async fn refresh_once_across_two_processes(database_url: impl FnOnce(&Path) -> String) {
    // Refreshes only on demand: the background refresher would renew the token before the burst.
    let cluster = Cluster::start(
        5,
        database_url,
        "oauth_refresh_margin_seconds = 0\nbackground_refresh_interval_seconds = 0",
    )
    .await;
    let Cluster { provider, a, b, token, http, database_url, .. } = &cluster;
    cluster.connect().await;

    // Wait until the provider itself rejects the stored access token.
    let invoke = |base: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let reply = http
                .post(format!("{base}/v1/functions/idp-me/invoke"))
                .bearer_auth(&token)
                .json(&json!({ "args": {} }))
                .send()
                .await
                .expect("invoke");
            (reply.status().as_u16(), reply.json::<Value>().await.expect("invoke json"))
        }
    };
    let (status, first) = invoke(b.url.clone()).await;
    assert_eq!(
        (status, &first["output"]["sub"]),
        (200, &json!("alice")),
        "replica B reads what A stored: {first}"
    );
    assert_eq!(provider.refresh_grants().await, 0);
    let access_token = cluster.stored_account().await.1.get("access_token").expect("token").to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    while provider.userinfo_status(&access_token).await == 200 {
        assert!(Instant::now() < deadline, "the 5 s token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let burst = Instant::now();
    let calls: Vec<_> = (0..CALLS)
        .map(|i| tokio::spawn(invoke(if i % 2 == 0 { a.url.clone() } else { b.url.clone() })))
        .collect();
    let mut failures = Vec::new();
    for call in calls {
        let (status, reply) = call.await.expect("task");
        if (status, &reply["output"]["sub"]) != (200, &json!("alice")) {
            failures.push(format!("{status} {reply}"));
        }
    }
    let (refreshes, elapsed) = (provider.refresh_grants().await, burst.elapsed());
    println!(
        "two replicas on {}: {CALLS} invokes, {} failed, {refreshes} refresh(es), {elapsed:?}",
        database_url.split(':').next().unwrap_or_default(),
        failures.len()
    );
    let stats = provider.stats().await;
    assert!(
        failures.is_empty(),
        "{} of {CALLS} invokes failed, e.g. {}; provider: {stats}",
        failures.len(),
        failures[0]
    );
    assert_eq!(refreshes, 1, "{CALLS} calls on two processes: one refresh");
    assert_eq!(stats["errors"], json!({}), "no invalid_grant, nothing lost");
}

/// Polls `done` every 100 ms until it holds, failing after `seconds`.
async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    seconds: u64,
    what: &str,
    mut done: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = done().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} never happened within {seconds} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Both replicas run their background refreshers every second and nobody uses alice's account:
/// its token is refreshed before it expires, with one token request across the two processes.
pub async fn background_refresh_once_across_two_processes(database_url: impl FnOnce(&Path) -> String) {
    // 16 s tokens: refreshed at half their life, so the next refresh is 8 s away when the first is
    // seen, time enough for both replicas to look at the account again.
    let cluster = Cluster::start(16, database_url, "background_refresh_interval_seconds = 1").await;
    cluster.connect().await;
    let (before, _) = cluster.stored_account().await;
    let expires_at = before.access_expires_at.expect("the provider sets an expiry");
    let after = wait_for(20, "a background refresh", || async {
        let (now, _) = cluster.stored_account().await;
        (now.version > before.version).then_some(now)
    })
    .await;
    assert!(after.updated_at < expires_at, "refreshed before the token expired: {after:?} vs {expires_at}");
    assert!(after.access_expires_at > before.access_expires_at);

    // Each replica runs two more rounds, so each has seen the refreshed account at least once.
    const ROUNDS: &str = "patchbay_background_refresh_rounds_total";
    let seen = (cluster.a.counter(ROUNDS).await, cluster.b.counter(ROUNDS).await);
    wait_for(10, "two more rounds on each replica", || async {
        let now = (cluster.a.counter(ROUNDS).await, cluster.b.counter(ROUNDS).await);
        (now.0 >= seen.0 + 2 && now.1 >= seen.1 + 2).then_some(())
    })
    .await;
    let stats = cluster.provider.stats().await;
    assert_eq!(cluster.provider.refresh_grants().await, 1, "one token request across two replicas: {stats}");
    assert_eq!(stats["errors"], json!({}), "no invalid_grant, nothing lost");
    assert_eq!(cluster.stored_account().await.0.version, after.version);
}

/// Sets the workspace's endpoint to a receiver `start`ed with its secret.
async fn receiver_for(cluster: &Cluster, start: impl FnOnce(&[&str]) -> Receiver) -> Receiver {
    let endpoint = cluster
        .admin(
            reqwest::Method::PUT,
            "/v1/admin/webhook",
            Some(json!({ "url": "http://127.0.0.1:9/not-yet" })),
        )
        .await;
    let receiver = start(&[endpoint["secret"].as_str().expect("secret")]);
    cluster.admin(reqwest::Method::PUT, "/v1/admin/webhook", Some(json!({ "url": receiver.url }))).await;
    receiver
}

/// Queues a signed `webhook.test` event; returns its webhook-id.
async fn send_test_event(cluster: &Cluster) -> String {
    let sent = cluster.admin(reqwest::Method::POST, "/v1/admin/webhook/test", None).await;
    sent["webhookId"].as_str().expect("webhookId").to_owned()
}

/// Both replicas are killed with SIGKILL while one of them waits for the receiver's answer; a
/// replica started afterwards delivers the event with the same webhook-id, and no other id ever
/// reaches the receiver.
pub async fn a_delivery_cut_by_sigkill_is_completed_after_restart(
    database_url: impl FnOnce(&Path) -> String,
) {
    // A 1 s receiver timeout leases a row for 4 s: the restarted replica retakes it soon.
    let mut cluster = Cluster::start(300, database_url, "webhook_timeout_seconds = 1").await;
    let receiver = receiver_for(&cluster, |secrets| Receiver::holding(secrets, 1)).await;
    let id = send_test_event(&cluster).await;
    wait_for(10, "the delivery reaching the receiver", || async {
        (!receiver.log().await.is_empty()).then_some(())
    })
    .await;
    cluster.a.kill();
    cluster.b.kill();
    let _restarted = cluster.restart().await;
    let log = wait_for(20, "the delivery after the restart", || async {
        let log = receiver.log().await;
        log.iter().any(|d| d["answered"] == 204).then_some(log)
    })
    .await;
    assert!(log.iter().all(|d| d["id"] == id.as_str() && d["verified"] == true), "one webhook-id: {log:?}");
    assert_eq!(log.iter().filter(|d| d["answered"] == 204).count(), 1, "{log:?}");
}

/// Two replicas share the outbox: every event reaches the receiver once, each in one attempt.
pub async fn two_replicas_deliver_each_event_once(database_url: impl FnOnce(&Path) -> String) {
    const EVENTS: usize = 30;
    let cluster = Cluster::start(300, database_url, "").await;
    let receiver = receiver_for(&cluster, |secrets| Receiver::start(secrets, 0)).await;
    let mut ids = Vec::new();
    for _ in 0..EVENTS {
        ids.push(send_test_event(&cluster).await);
    }
    let deliveries = wait_for(30, "every event delivered", || async {
        let log = cluster.admin(reqwest::Method::GET, "/v1/admin/webhook/deliveries", None).await;
        let rows = log["deliveries"].as_array().cloned().unwrap_or_default();
        rows.iter().all(|row| row["deliveredAt"].is_i64()).then_some(rows)
    })
    .await;
    assert_eq!(deliveries.len(), EVENTS);
    assert!(deliveries.iter().all(|row| row["attempts"] == 1), "one attempt each: {deliveries:?}");
    // Delivered rows are never claimed again, so the receiver's log is final.
    let mut received: Vec<String> =
        receiver.log().await.iter().map(|d| d["id"].as_str().expect("id").to_owned()).collect();
    received.sort();
    ids.sort();
    assert_eq!(received, ids, "each event once");
}
