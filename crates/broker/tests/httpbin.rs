//! Interop with a real upstream: httpbin (PyPI, under gunicorn), started by `cargo xtask test`.
//! httpbin checks Basic and Bearer credentials and echoes what it received, so these tests prove
//! both verification and injection on the wire.

mod support;

use axum::http::{Method, StatusCode};
use patchbay_broker::catalog::Catalog;
use patchbay_broker::credentials::{authorized_request, read_capped, send, validate_fields};
use patchbay_broker::net::{AddressPolicy, Upstreams};
use serde_json::{json, Value};
use support::{httpbin_url, TestBroker};

const CATALOG: &str = r#"
[apps.bin-basic]
name = "Httpbin Basic"
auth = "basic"
base_url = "${HTTPBIN}"
verify = { path = "/basic-auth/demo/correct-horse", display_name = "/user" }

[apps.bin-key]
name = "Httpbin Key"
auth = "api_key"
accounts = "multiple"
base_url = "${HTTPBIN}"
inject = { headers = { Authorization = "Bearer {api_key}" } }
verify = { path = "/bearer", display_name = "/token", identity = "/token" }

[apps.bin-instance]
name = "Httpbin Instance"
auth = "api_key_url"
inject = { headers = { Authorization = "Bearer {api_key}" } }
verify = { path = "/bearer" }

[apps.bin-status]
name = "Httpbin Status"
auth = "basic_url"
verify = { path = "/status/418" }
"#;

#[tokio::test]
async fn basic_credentials_are_verified_against_the_app() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let alice = b.session("alice").await;

    let wrong = b.connect(&alice, "bin-basic", json!({ "username": "demo", "password": "wrong" })).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNPROCESSABLE_ENTITY, "CREDENTIALS_REJECTED"));
    assert_eq!(wrong.json["error"]["details"]["status"], 401);
    assert!(wrong.json["error"]["details"]["reason"].is_string());
    assert!(!wrong.echoes("wrong"), "the rejected password is not echoed");
    assert!(b.accounts(&alice, "bin-basic").await.is_empty(), "nothing saved");

    let right =
        b.connect(&alice, "bin-basic", json!({ "username": "demo", "password": "correct-horse" })).await;
    assert_eq!(right.status, StatusCode::CREATED, "{}", right.json);
    assert_eq!(right.json["account"]["displayName"], "demo", "named from httpbin's answer");
    assert_eq!(b.accounts(&alice, "bin-basic").await.len(), 1);
}

#[tokio::test]
async fn api_keys_are_verified_and_identical_identities_update_in_place() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let alice = b.session("alice").await;
    let key = "sk_test_51HxYzABCDEF9876";
    let first = b.connect(&alice, "bin-key", json!({ "api_key": key })).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    assert_eq!(
        first.json["account"]["displayName"], "Httpbin Key (key …9876)",
        "httpbin echoes the token at /token; a display name holding the secret is replaced"
    );
    let same = b.connect(&alice, "bin-key", json!({ "api_key": key })).await;
    assert_eq!((same.status, &same.json["account"]["id"]), (StatusCode::OK, &first.json["account"]["id"]));
    let other = b.connect(&alice, "bin-key", json!({ "api_key": "sk_test_other_identity" })).await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_eq!(b.accounts(&alice, "bin-key").await.len(), 2, "policy multiple, two identities");
    let raw = b.raw_database();
    assert!(
        !raw.windows(key.len()).any(|w| w == key.as_bytes()),
        "the identity is stored hashed, the key sealed"
    );
}

#[tokio::test]
async fn a_user_supplied_url_is_used_and_guarded() {
    let url = httpbin_url();
    let lenient = TestBroker::with_catalog(CATALOG, false).await;
    let alice = lenient.session("alice").await;
    let ok = lenient
        .connect(&alice, "bin-instance", json!({ "api_key": "instance-key-12345", "base_url": url }))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.json);
    assert_eq!(ok.json["account"]["displayName"], "key …2345 @ 127.0.0.1");

    let strict = TestBroker::with_catalog(CATALOG, true).await;
    let alice = strict.session("alice").await;
    let localhost = url.replace("127.0.0.1", "localhost");
    for (base_url, case) in
        [(url.as_str(), "literal loopback"), (localhost.as_str(), "name resolving to loopback")]
    {
        let reply =
            strict.connect(&alice, "bin-instance", json!({ "api_key": "k", "base_url": base_url })).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "URL_NOT_ALLOWED"),
            "{case}"
        );
        assert_eq!(reply.json["error"]["details"]["fields"][0]["field"], "base_url");
    }
    for metadata in ["http://169.254.169.254", "http://[fd00:ec2::254]", "http://10.0.0.8:8080"] {
        let reply =
            strict.connect(&alice, "bin-instance", json!({ "api_key": "k", "base_url": metadata })).await;
        assert_eq!(reply.code(), "URL_NOT_ALLOWED", "{metadata}");
    }
    assert!(strict.accounts(&alice, "bin-instance").await.is_empty());
}

#[tokio::test]
async fn other_upstream_failures_are_reported_with_status_and_nothing_is_saved() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let alice = b.session("alice").await;
    let fields = json!({ "username": "u", "password": "p", "base_url": httpbin_url() });
    let teapot = b.connect(&alice, "bin-status", fields).await;
    assert_eq!((teapot.status, teapot.code()), (StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR"));
    assert_eq!(teapot.json["error"]["details"]["status"], 418);

    let closed = json!({ "username": "u", "password": "p", "base_url": "http://127.0.0.1:9" });
    let unreachable = b.connect(&alice, "bin-status", closed).await;
    assert_eq!(
        (unreachable.status, unreachable.code()),
        (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_UNAVAILABLE")
    );
    assert!(b.accounts(&alice, "bin-status").await.is_empty());
}

/// Sends an injected request to httpbin's `/anything`, which echoes it back.
async fn echo(catalog: &str, fields: Value) -> Value {
    let catalog =
        Catalog::parse(catalog, "inject.toml", |n| (n == "HTTPBIN").then(httpbin_url)).expect("catalog");
    let app = catalog.app("x").expect("app x");
    let fields = serde_json::from_value(fields).expect("fields");
    let creds = validate_fields(app, fields).unwrap_or_else(|e| panic!("{}", e.message));
    let upstreams = Upstreams::new(AddressPolicy { allow_loopback: true }, std::time::Duration::from_secs(5))
        .expect("clients");
    let request = authorized_request(app, &creds, &upstreams, Method::GET, "/anything/probe?page=2")
        .unwrap_or_else(|e| panic!("{}", e.message));
    let answer = send(request, upstreams.timeout).await.unwrap_or_else(|e| panic!("{}", e.message));
    let body = read_capped(answer, 1 << 20).await.unwrap_or_else(|e| panic!("{}", e.message));
    serde_json::from_slice(&body).expect("json echo")
}

#[tokio::test]
async fn httpbin_receives_each_declared_injection() {
    let basic = echo(
        "[apps.x]\nname = \"X\"\nauth = \"basic\"\nbase_url = \"${HTTPBIN}\"",
        json!({ "username": "ann", "password": "pw" }),
    )
    .await;
    assert_eq!(basic["headers"]["Authorization"], "Basic YW5uOnB3");
    assert_eq!(basic["args"]["page"], "2", "the function's own query survives");

    let pair = echo(
        "[apps.x]\nname = \"X\"\nauth = \"api_key_secret\"\nbase_url = \"${HTTPBIN}\"",
        json!({ "api_key": "key", "api_secret": "sec" }),
    )
    .await;
    assert_eq!(pair["headers"]["Authorization"], "Basic a2V5OnNlYw==");

    let query = echo(
        "[apps.x]\nname = \"X\"\nauth = \"api_key_url\"\ninject.query.token = \"{api_key}\"",
        json!({ "api_key": "q-key", "base_url": format!("{}/anything", httpbin_url()) }),
    )
    .await;
    assert_eq!(query["args"]["token"], "q-key");
    assert!(
        query["url"].as_str().is_some_and(|u| u.contains("/anything/anything/probe")),
        "below the user's URL"
    );

    let both = echo(
        "[apps.x]\nname = \"X\"\nauth = \"basic_api_key\"\ninject = { basic = { username = \"{username}\", password = \"{password}\" }, headers = { X-Api-Key = \"{api_key}\" } }",
        json!({ "username": "ann", "password": "pw", "api_key": "hk", "base_url": httpbin_url() }),
    )
    .await;
    assert_eq!(
        (both["headers"]["Authorization"].as_str(), both["headers"]["X-Api-Key"].as_str()),
        (Some("Basic YW5uOnB3"), Some("hk"))
    );
}
