//! Lifecycle webhooks: the endpoint and its secret through the admin API, and the outbox rows
//! written with each account change (seen through the delivery log).

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{httpbin_url, TestBroker};

const CATALOG: &str = r#"
[apps.bin-basic]
name = "Httpbin Basic"
auth = "basic"
base_url = "${HTTPBIN}"
verify = { path = "/basic-auth/demo/correct-horse", display_name = "/user" }
"#;

async fn set_endpoint(b: &TestBroker, url: &str) -> (StatusCode, Value) {
    let reply = b
        .call(Method::PUT, "/v1/admin/webhook", Some(&b.secret_key.clone()), Some(json!({ "url": url })))
        .await;
    (reply.status, reply.json)
}

async fn event_types(b: &TestBroker) -> Vec<String> {
    let reply = b.call(Method::GET, "/v1/admin/webhook/deliveries", Some(&b.secret_key.clone()), None).await;
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

    let log = b.call(Method::GET, "/v1/admin/webhook/deliveries", Some(&b.secret_key.clone()), None).await;
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
    let rotate_first =
        b.call(Method::POST, "/v1/admin/webhook/rotate", Some(&b.secret_key.clone()), Some(json!({}))).await;
    assert_eq!(rotate_first.status, StatusCode::NOT_FOUND);

    let (_, first) = set_endpoint(&b, "https://hooks.example/a").await;
    let (_, moved) = set_endpoint(&b, "https://hooks.example/b").await;
    assert!(first["secret"].is_string());
    assert!(moved.get("secret").is_none(), "a URL change keeps (and does not show) the secret: {moved}");
    let rotated = b
        .call(
            Method::POST,
            "/v1/admin/webhook/rotate",
            Some(&b.secret_key.clone()),
            Some(json!({ "overlapSeconds": 600 })),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    assert_ne!(rotated.json["secret"], first["secret"]);
    assert_eq!(rotated.json["url"], "https://hooks.example/b");
    let stored = b.state.store.webhook_endpoint(&b.workspace.id).await.expect("store").expect("endpoint");
    let (previous, until) = stored.previous.expect("the old secret still signs");
    assert!(until > patchbay_broker::ids::now_unix() + 500);
    assert_ne!(previous, stored.secret);
}
