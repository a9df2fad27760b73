//! Connect-time values against the real httpbin: typed beside the credentials, validated, stored
//! with them, and used in the base URL and the injected credentials; a base URL built from them is
//! held to the same address rules as a URL the user typed.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{httpbin_url, TestBroker};

const CATALOG: &str = r#"
[apps.desk]
name = "Desk"
auth = "api_key"
base_url = "{instance}/anything/api"
connect.instance = { label = "Instance URL", kind = "url" }
connect.team = { label = "Team" }
inject.headers = { Authorization = "Bearer {api_key}", X-Team = "{team}" }
verify = { path = "/me", display_name = "/headers/X-Team" }
functions.whoami = { title = "Who am I", path = "/me", output = "/headers" }
"#;

#[tokio::test]
async fn connect_values_build_the_base_url_and_the_credentials() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let ann = b.session("ann").await;
    let fields = b.call(Method::GET, "/v1/apps/desk", Some(&ann), None).await.json["fields"].clone();
    let names: Vec<&str> =
        fields.as_array().expect("fields").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["instance", "team", "api_key"], "connect values come first");
    assert_eq!(fields[0]["kind"], "url");
    assert_eq!(fields[1]["kind"], "text");

    let hostile = b
        .connect(
            &ann,
            "desk",
            json!({ "instance": httpbin_url(), "team": "a/../b", "api_key": "k-123456789012" }),
        )
        .await;
    assert_eq!(hostile.code(), "INVALID_ARGUMENTS", "{}", hostile.json);
    assert_eq!(hostile.json["error"]["details"]["fields"][0]["field"], "team");

    let connected = b
        .connect(
            &ann,
            "desk",
            json!({ "instance": httpbin_url(), "team": "blue-7", "api_key": "k-123456789012" }),
        )
        .await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.json);
    assert_eq!(connected.json["account"]["displayName"], "blue-7", "named from the echoed team header");

    let reply = b
        .call(Method::POST, "/v1/functions/desk-whoami/invoke", Some(&ann), Some(json!({ "args": {} })))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["output"]["X-Team"], "blue-7");
    assert_eq!(reply.json["output"]["Authorization"], "Bearer k-123456789012");
}

#[tokio::test]
async fn a_base_url_built_from_connect_values_keeps_the_address_rules() {
    let b = TestBroker::with_catalog(CATALOG, true).await;
    let ann = b.session("ann").await;
    let reply = b
        .connect(
            &ann,
            "desk",
            json!({ "instance": httpbin_url(), "team": "blue", "api_key": "k-123456789012" }),
        )
        .await;
    assert_eq!(reply.code(), "URL_NOT_ALLOWED", "{}", reply.json);
    assert!(b.accounts(&ann, "desk").await.is_empty());
}
