//! What an operator sees of a scripted run against real peers (oidc-provider for OAuth with an
//! expiring token, httpbin for credentials and an upstream 500): the JSON log lines, with one line
//! per request, its id in the `x-request-id` header and error bodies, and no secret anywhere.

mod support;

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use patchbay_broker::config::MetricsToken;
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
functions.status = {{ method = "POST", path = "/status/{{args.code}}", query = {{ note = "{{args.note}}" }}, idempotent = false, parameters = {{ type = "object", properties = {{ code = {{ type = "string" }}, note = {{ type = "string" }} }} }} }}
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

/// The JSON log of this test binary. Installed globally, not per test with `set_default`: tracing
/// caches per call site whether anyone listens, and a test running without the subscriber on
/// another thread made this one miss events. Both tests therefore log here; assertions pick this
/// test's lines by request id.
fn captured_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        // Debug for the broker's own events: a secret logged "only at debug" still leaks when an
        // operator turns debugging on.
        let filter = EnvFilter::new("info,patchbay_broker=debug");
        tracing::subscriber::set_global_default(subscriber(LogFormat::Json, filter, logs.clone()))
            .expect("the only subscriber");
        logs
    })
    .clone()
}

/// The request id a reply carries in its header (every reply has one).
fn request_id(reply: &Reply) -> String {
    reply.headers.get("x-request-id").expect("x-request-id").to_str().expect("ascii").to_owned()
}

const METRICS_TOKEN: &str = "metrics-Rr53-never-logged";

/// One sample as prometheus-client's parser read it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Sample {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

/// Scrapes `/metrics` (with the token) and parses it with the PyPI prometheus-client's
/// OpenMetrics parser from the venv `cargo xtask setup` installs.
async fn scrape(b: &TestBroker) -> Vec<Sample> {
    let request = Request::builder()
        .uri("/metrics")
        .header("authorization", format!("Bearer {METRICS_TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let reply = b.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert!(reply.headers["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/openmetrics-text"));
    let text = reply.json.as_str().expect("text body").to_owned();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let python = format!("{root}/.tools/venv/bin/python3");
    assert!(std::path::Path::new(&python).exists(), "{python} is missing: run `cargo xtask setup`");
    let mut child = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/openmetrics.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the venv python runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes()).expect("write");
    let output = child.wait_with_output().expect("parser ran");
    assert!(
        output.status.success(),
        "the parser refused:\n{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("parser output")
}

/// The value of the sample `name` whose labels include `labels` (0 when absent: a counter that
/// never moved has no sample yet).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches several samples: {found:?}");
    found.first().map_or(0.0, |s| s.value)
}

/// What a scripted run leaves behind.
struct Run {
    b: TestBroker,
    alice: String,
    replies: Vec<Reply>,
    callback_url: String,
    account: String,
    first: Arc<Credentials>,
    /// The metrics scraped before the run's requests.
    before: Vec<Sample>,
}

/// Connects with a wrong and a right password, invokes into an upstream 500 (with an argument in
/// the query), connects over OAuth, invokes, waits for the provider to expire the 3 s access token,
/// invokes again (refresh with rotation), sends a forged session token, then a kept and a replaced
/// request id.
async fn scripted_run(provider: &OidcProvider) -> Run {
    let vars = vec![("OIDC".to_owned(), provider.url.clone()), ("HTTPBIN".to_owned(), httpbin_url())];
    let b = TestBroker::start(&catalog(), vars, |c| {
        c.oauth_refresh_margin_seconds = 0;
        c.metrics_token = Some(MetricsToken(METRICS_TOKEN.into()));
    })
    .await;
    let alice = b.session("alice").await;
    let before = scrape(&b).await;
    let mut replies = Vec::new();

    // Credentials: a wrong password, then the right one, then an upstream 500 with an argument.
    replies.push(b.connect(&alice, "bin", json!({ "username": "demo", "password": "wrong-pw-Yt5" })).await);
    replies.push(b.connect(&alice, "bin", json!({ "username": "demo", "password": PASSWORD })).await);
    assert_eq!(replies[1].status, StatusCode::CREATED, "{}", replies[1].json);
    let failed = b.invoke(&alice, "bin-status", json!({ "args": { "code": "500", "note": ARGUMENT } })).await;
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
    let first = record.credentials.open(&b.state.keyring, &b.owner("alice"), "idp").expect("open");
    let first_access = first.get("access_token").expect("access token").to_owned();
    replies.push(b.invoke(&alice, "idp-me", json!({ "args": {} })).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while provider.userinfo_status(&first_access).await == 200 {
        assert!(std::time::Instant::now() < deadline, "the 3 s token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refreshed = b.invoke(&alice, "idp-me", json!({ "args": {} })).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.json);
    assert_eq!(provider.refresh_grants().await, 1);
    replies.push(refreshed);

    // A forged session token, refused by the session layer before any handler runs.
    let refused = b.call(Method::GET, "/v1/apps", Some("pbs.forged.token"), None).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    replies.push(refused);

    // An id from a proxy is kept; one that could forge log lines or markup is replaced.
    // Unique per run: both tests of this binary write to one log.
    let proxy_id = format!("lb-{}.42", b.workspace.id);
    let mut honoured = Request::builder().uri("/healthz").header("x-request-id", proxy_id.as_str());
    honoured = honoured.header("origin", support::ORIGIN);
    let honoured = b.send(honoured.body(Body::empty()).expect("request")).await;
    assert_eq!(request_id(&honoured), proxy_id);
    let replaced = Request::builder().uri("/nowhere?token=query-Pp09").header("x-request-id", "<script>");
    let replaced = b.send(replaced.body(Body::empty()).expect("request")).await;
    assert_eq!(replaced.status, StatusCode::NOT_FOUND);
    assert_ne!(request_id(&replaced), "<script>");
    replies.push(honoured);
    replies.push(replaced);

    Run { b, alice, replies, callback_url, account, first, before }
}

#[tokio::test]
async fn a_scripted_run_logs_one_json_line_per_request_with_its_id_and_no_secret() {
    let logs = captured_logs();
    let provider = OidcProvider::start(3);
    let Run { b, alice, replies, callback_url, account, first, .. } = scripted_run(&provider).await;
    // Reached under the public URL's host (127.0.0.1:9), then twice under another: one warning,
    // not one per request, and the host accepted first does not hide the other.
    for host in ["127.0.0.1:9", "elsewhere.example", "elsewhere.example"] {
        let request = Request::builder().uri("/healthz").header("host", host);
        b.send(request.body(Body::empty()).expect("request")).await;
    }

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
    let mismatch =
        lines.iter().filter(|l| l["message"].as_str().is_some_and(|m| m.contains("than public_url")));
    let mismatch: Vec<&Value> = mismatch.collect();
    assert_eq!(mismatch.len(), 1, "{mismatch:?}");
    assert_eq!(mismatch[0]["reached_as"], "elsewhere.example");
    // The refresh ran in a detached task; its line still names the request.
    let refresh_id = request_id(&replies[5]);
    let refreshed =
        |l: &&Value| l["message"] == "access token refreshed" && l["span"]["request_id"] == refresh_id;
    assert_eq!(lines.iter().filter(refreshed).count(), 1, "the refresh is logged under its request");

    // No secret, token, query string or argument value, in any form the run produced.
    let record = b.state.store.account(&b.owner("alice"), &account).await.expect("store").expect("account");
    let last = record.credentials.open(&b.state.keyring, &b.owner("alice"), "idp").expect("open");
    let mut secrets = vec![
        b.secret_key.clone(),
        alice.clone(),
        PASSWORD.to_owned(),
        "wrong-pw-Yt5".to_owned(),
        ARGUMENT.to_owned(),
        "query-Pp09".to_owned(),
        "basic-secret".to_owned(),
        METRICS_TOKEN.to_owned(),
    ];
    let callback_url = reqwest::Url::parse(&callback_url).expect("callback URL");
    for (name, value) in callback_url.query_pairs() {
        if name == "code" || name == "state" {
            secrets.push(value.into_owned());
        }
    }
    assert_eq!(secrets.len(), 10, "the code and state were found");
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

#[tokio::test]
async fn metrics_after_a_scripted_run_moved_by_exactly_what_happened() {
    let _logs = captured_logs();
    let provider = OidcProvider::start(3);
    let Run { b, before, .. } = scripted_run(&provider).await;
    let after = scrape(&b).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);

    // Connect attempts: a refused password, a saved one, an OAuth connect.
    assert_eq!(moved("patchbay_connects_total", &[("app", "bin"), ("outcome", "CREDENTIALS_REJECTED")]), 1.0);
    assert_eq!(moved("patchbay_connects_total", &[("app", "bin"), ("outcome", "connected")]), 1.0);
    assert_eq!(moved("patchbay_connects_total", &[("app", "idp"), ("outcome", "connected")]), 1.0);
    // Invokes: one upstream 500 (not retried: the function is not idempotent), two OAuth calls.
    let failed = [("app", "bin"), ("function", "bin-status"), ("outcome", "UPSTREAM_ERROR")];
    let ok = [("app", "idp"), ("function", "idp-me"), ("outcome", "ok")];
    assert_eq!(moved("patchbay_invokes_total", &failed), 1.0);
    assert_eq!(moved("patchbay_invokes_total", &ok), 2.0);
    assert_eq!(moved("patchbay_invoke_duration_seconds_count", &ok), 2.0);
    assert_eq!(moved("patchbay_upstream_responses_total", &[("app", "bin"), ("outcome", "5xx")]), 1.0);
    assert_eq!(moved("patchbay_upstream_responses_total", &[("app", "idp"), ("outcome", "2xx")]), 2.0);
    // The expired token: exactly one refresh, and the provider rotated the refresh token.
    assert_eq!(moved("patchbay_oauth_refreshes_total", &[("outcome", "rotated")]), 1.0);
    assert_eq!(moved("patchbay_oauth_refreshes_total", &[("outcome", "ok")]), 0.0);
    assert_eq!(moved("patchbay_oauth_refresh_lease_waits_total", &[]), 0.0);
    // Requests by route template and status.
    let invoke = "/v1/functions/{name}/invoke";
    let requests = "patchbay_http_requests_total";
    assert_eq!(moved(requests, &[("method", "POST"), ("route", invoke), ("status", "502")]), 1.0);
    assert_eq!(moved(requests, &[("method", "POST"), ("route", invoke), ("status", "200")]), 2.0);
    assert_eq!(moved(requests, &[("method", "GET"), ("route", "unmatched"), ("status", "404")]), 1.0);
    assert_eq!(moved(requests, &[("method", "GET"), ("route", "/v1/apps"), ("status", "401")]), 1.0);
    assert_eq!(
        moved(requests, &[("method", "GET"), ("route", "/metrics"), ("status", "200")]),
        1.0,
        "the first scrape"
    );
    // No label carries a user id, an account id or a raw path.
    for sample in &after {
        for value in sample.labels.values() {
            assert!(
                !value.contains("alice") && !value.contains("ca_") && !value.contains("/nowhere"),
                "{sample:?}"
            );
        }
    }
    assert!(value(&after, "patchbay_db_connections", &[]) >= 1.0);
    assert_eq!(value(&after, "patchbay_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);

    // The token is required once set.
    let open = b.call(Method::GET, "/metrics", None, None).await;
    assert_eq!((open.status, open.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    let wrong = b.call(Method::GET, "/metrics", Some("metrics-wrong"), None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn request_methods_outside_the_standard_ones_share_one_metric_label() {
    let b =
        TestBroker::start("", vec![], |c| c.metrics_token = Some(MetricsToken(METRICS_TOKEN.into()))).await;
    let before = scrape(&b).await;
    for method in ["PURGE-Xy1", "SNEAK-Zz2"] {
        let method = Method::from_bytes(method.as_bytes()).expect("a method token");
        let reply = b
            .send(Request::builder().method(method).uri("/healthz").body(Body::empty()).expect("request"))
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{}", reply.json);
    }
    let after = scrape(&b).await;
    let other = [("method", "other"), ("route", "/healthz"), ("status", "405")];
    let requests = "patchbay_http_requests_total";
    assert_eq!(value(&after, requests, &other) - value(&before, requests, &other), 2.0);
    for sample in &after {
        assert!(sample.labels.values().all(|v| !v.contains("PURGE") && !v.contains("SNEAK")), "{sample:?}");
    }
}
