//! What an operator sees of a scripted run against real peers (oidc-provider for OAuth with an
//! expiring token, httpbin for credentials and an upstream 500): the JSON log lines, with one line
//! per request, its id in the `x-request-id` header and error bodies, and no secret anywhere.

mod support;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use patchbay_broker::credentials::Credentials;
use patchbay_broker::telemetry::{subscriber, LogFormat};
use serde_json::{json, Value};
use support::oidc::{attempt, deliver, sign_in, OidcProvider};
use support::{httpbin_url, Reply, TestBroker};
use tracing_subscriber::EnvFilter;

/// The Basic password, also httpbin's expected one in the verify path.
const PASSWORD: &str = "pw-Zq81-never-logged";
/// An argument value sent in the upstream query string.
const ARGUMENT: &str = "arg-Kx42-never-logged";

fn catalog() -> String {
    format!(
        r#"
[apps.idp]
name = "Identity Provider"
auth = "oauth2"
base_url = "${{OIDC}}"
verify = {{ path = "/me", display_name = "/email" }}
oauth2 = {{ authorize_url = "${{OIDC}}/auth", token_url = "${{OIDC}}/token", scopes = ["openid", "email", "offline_access"], client_id = "patchbay-basic", client_secret = "basic-secret" }}
functions.me = {{ path = "/me" }}

[apps.bin]
name = "Httpbin"
auth = "basic"
base_url = "${{HTTPBIN}}"
verify = {{ path = "/basic-auth/demo/{PASSWORD}" }}
functions.status = {{ method = "POST", path = "/status/{{args.code}}", query = {{ note = "{{args.note}}" }}, idempotent = false }}
"#
    )
}

/// Everything the log subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes)
            .expect("UTF-8 logs")
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
            })
            .collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The request id a reply carries in its header (every reply has one).
fn request_id(reply: &Reply) -> String {
    reply.headers.get("x-request-id").expect("x-request-id").to_str().expect("ascii").to_owned()
}

async fn invoke(b: &TestBroker, token: &str, function: &str, args: Value) -> Reply {
    b.call(
        Method::POST,
        &format!("/v1/functions/{function}/invoke"),
        Some(token),
        Some(json!({ "args": args })),
    )
    .await
}

#[tokio::test]
async fn a_scripted_run_logs_one_json_line_per_request_with_its_id_and_no_secret() {
    let logs = Captured::default();
    // Debug for the broker's own events: a secret logged "only at debug" still leaks when an
    // operator turns debugging on.
    let filter = EnvFilter::new("info,patchbay_broker=debug");
    let _logging = tracing::subscriber::set_default(subscriber(LogFormat::Json, filter, logs.clone()));

    let provider = OidcProvider::start(3);
    let vars = vec![("OIDC".to_owned(), provider.url.clone()), ("HTTPBIN".to_owned(), httpbin_url())];
    let b = TestBroker::start(&catalog(), vars, |c| c.oauth_refresh_margin_seconds = 0).await;
    let alice = b.session("alice").await;
    let mut replies = Vec::new();

    // Credentials: a wrong password, then the right one, then an upstream 500 with an argument.
    replies.push(b.connect(&alice, "bin", json!({ "username": "demo", "password": "wrong-pw-Yt5" })).await);
    replies.push(b.connect(&alice, "bin", json!({ "username": "demo", "password": PASSWORD })).await);
    assert_eq!(replies[1].status, StatusCode::CREATED, "{}", replies[1].json);
    let failed = invoke(&b, &alice, "bin-status", json!({ "code": "500", "note": ARGUMENT })).await;
    assert_eq!(
        (failed.status, failed.code()),
        (StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR"),
        "{}",
        failed.json
    );
    replies.push(failed);

    // OAuth: connect (the callback's query holds the code and state), invoke, let the 3 s access
    // token expire at the provider, invoke again (refreshed and rotated).
    let started = b.call(Method::POST, "/v1/apps/idp/connect", Some(&alice), Some(json!({}))).await;
    let attempt_id = started.json["attemptId"].as_str().expect("attemptId").to_owned();
    let callback_url = sign_in(started.json["authorizeUrl"].as_str().expect("authorizeUrl"), "alice").await;
    replies.push(deliver(&b, &callback_url).await);
    let account = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let record = b.state.store.account(&b.owner("alice"), &account).await.expect("store").expect("account");
    let first =
        Credentials::open(&b.state.keyring, &b.owner("alice"), "idp", &record.credentials).expect("open");
    let first_access = first.get("access_token").expect("access token").to_owned();
    replies.push(invoke(&b, &alice, "idp-me", json!({})).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while provider.userinfo_status(&first_access).await == 200 {
        assert!(std::time::Instant::now() < deadline, "the 3 s token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refreshed = invoke(&b, &alice, "idp-me", json!({})).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.json);
    assert_eq!(provider.refresh_grants().await, 1);
    replies.push(refreshed);

    // An id from a proxy is kept; one that could forge log lines or markup is replaced.
    let mut honoured = Request::builder().uri("/healthz").header("x-request-id", "lb-7f3a.42");
    honoured = honoured.header("origin", support::ORIGIN);
    let honoured = b.send(honoured.body(Body::empty()).expect("request")).await;
    assert_eq!(request_id(&honoured), "lb-7f3a.42");
    let replaced = Request::builder().uri("/nowhere?token=query-Pp09").header("x-request-id", "<script>");
    let replaced = b.send(replaced.body(Body::empty()).expect("request")).await;
    assert_eq!(replaced.status, StatusCode::NOT_FOUND);
    assert_ne!(request_id(&replaced), "<script>");
    replies.push(honoured);
    replies.push(replaced);

    // Every error body names its request.
    for reply in replies.iter().filter(|r| r.status.is_client_error() || r.status.is_server_error()) {
        if reply.json.get("error").is_some() {
            assert_eq!(reply.json["error"]["requestId"], request_id(reply), "{}", reply.json);
        }
    }
    // Exactly one request line per request, naming the route template, not the path.
    let lines = logs.lines();
    for reply in &replies {
        let id = request_id(reply);
        let ends: Vec<&Value> =
            lines.iter().filter(|l| l["message"] == "request" && l["span"]["request_id"] == id).collect();
        assert_eq!(ends.len(), 1, "one request line for {id}: {lines:#?}");
        assert_eq!(ends[0]["status"], reply.status.as_u16());
        assert!(ends[0]["latency_ms"].is_number());
    }
    let routes: Vec<&str> = lines
        .iter()
        .filter(|l| l["message"] == "request")
        .filter_map(|l| l["span"]["route"].as_str())
        .collect();
    assert!(routes.contains(&"/v1/functions/{name}/invoke"), "{routes:?}");
    assert!(routes.contains(&"unmatched"), "{routes:?}");
    // The refresh ran in a detached task; its line still names the request.
    let refresh_line =
        lines.iter().find(|l| l["message"] == "access token refreshed").expect("refresh logged");
    assert_eq!(refresh_line["span"]["request_id"], request_id(&replies[5]));

    // No secret, token, query string or argument value, in any form the run produced.
    let record = b.state.store.account(&b.owner("alice"), &account).await.expect("store").expect("account");
    let last =
        Credentials::open(&b.state.keyring, &b.owner("alice"), "idp", &record.credentials).expect("open");
    let mut secrets = vec![
        b.secret_key.clone(),
        alice.clone(),
        PASSWORD.to_owned(),
        "wrong-pw-Yt5".to_owned(),
        ARGUMENT.to_owned(),
        "query-Pp09".to_owned(),
        "basic-secret".to_owned(),
    ];
    let callback_url = reqwest::Url::parse(&callback_url).expect("callback URL");
    for (name, value) in callback_url.query_pairs() {
        if name == "code" || name == "state" {
            secrets.push(value.into_owned());
        }
    }
    assert_eq!(secrets.len(), 9, "the code and state were found");
    for credentials in [&first, &last] {
        for field in ["access_token", "refresh_token", "id_token"] {
            secrets.extend(credentials.get(field).map(str::to_owned));
        }
    }
    let text = logs.text();
    assert!(lines.len() > replies.len(), "the run was logged: {text}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret ({}…) is in the logs:\n{text}", &secret[..6]);
    }
}
