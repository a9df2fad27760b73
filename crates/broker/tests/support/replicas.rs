//! Two real broker processes (the release binary, `patchbay-broker serve`) on one database, as two
//! replicas behind a load balancer would run, and the scenario both storage backends must pass:
//! 200 concurrent invokes split between them hit an expired OAuth token, and the provider sees
//! exactly one refresh.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use patchbay_broker::credentials::Credentials;
use serde_json::{json, Value};

use super::free_port;
use super::oidc::{sign_in, OidcProvider, IDP_CATALOG, REDIRECT_URI};

/// Invokes sent at once, alternating between the replicas.
const CALLS: usize = 200;

/// One broker process, killed on drop.
struct Broker {
    child: Child,
    url: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

async fn start(dir: &Path, provider: &OidcProvider, keys: &str) -> Broker {
    let port = free_port();
    let child = broker_command(dir, provider, keys)
        .arg("serve")
        .env("PATCHBAY_LISTEN", format!("127.0.0.1:{port}"))
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

/// The access token as the replicas stored it, read from the shared database.
async fn stored_access_token(database_url: &str, keys: &str, workspace: &Value) -> String {
    let store = patchbay_broker::open_store(database_url).await.expect("store");
    let owner = patchbay_broker::store::Owner {
        workspace_id: workspace["id"].as_str().expect("id").to_owned(),
        user_id: "alice".into(),
    };
    let account = store.accounts(&owner, Some("idp")).await.expect("accounts").pop().expect("account");
    let ring = patchbay_broker::crypto::Keyring::parse(keys).expect("keys");
    let credentials =
        Credentials::open(&ring, &owner, "idp", &account.credentials).expect("the stored credentials open");
    credentials.get("access_token").expect("access token").to_owned()
}

/// Runs the scenario on the database `database_url` names (a URL made from the test's scratch
/// folder), asserting every invoke succeeds with one refresh, and prints the figures.
pub async fn refresh_once_across_two_processes(database_url: impl FnOnce(&Path) -> String) {
    let provider = OidcProvider::start(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = database_url(dir.path());
    std::fs::write(dir.path().join("catalog.toml"), IDP_CATALOG).expect("catalog");
    std::fs::write(
        dir.path().join("patchbay.toml"),
        format!(
            "database_url = \"{database_url}\"\ncatalog = \"{catalog}\"\npublic_url = \"{public}\"\n\
             allow_loopback_upstreams = true\noauth_refresh_margin_seconds = 0\n",
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
    let secret = workspace["secretKey"].as_str().expect("secret key");

    let a = start(dir.path(), &provider, &keys).await;
    let b = start(dir.path(), &provider, &keys).await;
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{}/v1/sessions", a.url))
        .bearer_auth(secret)
        .json(&json!({ "userId": "alice" }))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("session json");
    let token = session["token"].as_str().expect("token").to_owned();

    // Connect through replica A.
    let started: Value = http
        .post(format!("{}/v1/apps/idp/connect", a.url))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("connect")
        .json()
        .await
        .expect("connect json");
    let callback = sign_in(started["authorizeUrl"].as_str().expect("url"), "alice").await;
    let query = reqwest::Url::parse(&callback).expect("callback").query().unwrap_or_default().to_owned();
    let page = http.get(format!("{}/oauth/callback?{query}", a.url)).send().await.expect("callback");
    assert_eq!(page.status().as_u16(), 200);

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
    let access_token = stored_access_token(&database_url, &keys, &workspace).await;
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
