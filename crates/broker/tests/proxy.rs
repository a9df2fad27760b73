//! The backend proxy against real peers: httpbin echoes what the app received (injected
//! credentials, method, query, body, filtered headers), and `oidc-provider` refuses an expired
//! token so the proxy must refresh it.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use patchbay_broker::create_workspace;
use serde_json::{json, Value};
use support::oidc::{attempt, connect, refreshing_only_on_401, OidcProvider};
use support::{httpbin_url, Reply, TestBroker};
use tower::ServiceExt;

const CATALOG: &str = r#"
[apps.bin-basic]
name = "Httpbin Basic"
auth = "basic"
base_url = "${HTTPBIN}"
verify = { path = "/basic-auth/demo/correct-horse", display_name = "/user" }

[apps.bin-key]
name = "Httpbin Key"
auth = "api_key"
base_url = "${HTTPBIN}"
inject = { headers = { X-Api-Key = "{api_key}" } }

[apps.bin-query]
name = "Httpbin Query"
auth = "api_key_url"
inject.query.token = "{api_key}"
"#;

/// Sends `request` through the proxy to `account`'s app with `key`.
async fn proxied(
    b: &TestBroker,
    key: &str,
    method: Method,
    path: &str,
    build: impl FnOnce(axum::http::request::Builder) -> axum::http::request::Builder,
    body: Body,
) -> Reply {
    let request =
        Request::builder().method(method).uri(path).header("authorization", format!("Bearer {key}"));
    b.send(build(request).body(body).expect("request")).await
}

/// The proxy's answer to GET `path`, its body still arriving.
async fn proxied_stream(b: &TestBroker, path: &str) -> Response<Body> {
    let request = Request::get(path)
        .header("authorization", format!("Bearer {}", b.secret_key))
        .body(Body::empty())
        .expect("request");
    b.router.clone().oneshot(request).await.expect("infallible router")
}

async fn account_id(b: &TestBroker, token: &str, app: &str, fields: Value) -> String {
    let reply = b.connect(token, app, fields).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    reply.json["account"]["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn each_auth_type_is_injected_and_caller_credentials_and_hop_headers_are_not_forwarded() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let alice = b.session("alice").await;
    let basic =
        account_id(&b, &alice, "bin-basic", json!({ "username": "demo", "password": "correct-horse" })).await;
    let key = account_id(&b, &alice, "bin-key", json!({ "api_key": "hk-123456789" })).await;
    let query =
        account_id(&b, &alice, "bin-query", json!({ "api_key": "qk-1", "base_url": httpbin_url() })).await;

    let echo = |id: String, extra: &'static str| {
        let b = &b;
        async move {
            let reply = proxied(
                b,
                &b.secret_key,
                Method::GET,
                &format!("/v1/proxy/{id}/anything/probe?page=2{extra}"),
                |r| {
                    r.header("cookie", "broker_session=x")
                        .header("x-api-key", "caller-supplied")
                        .header("connection", "x-hop")
                        .header("x-hop", "1")
                        .header("x-trace", "t-1")
                },
                Body::empty(),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
            reply.json
        }
    };
    let basic = echo(basic, "").await;
    assert_eq!(
        basic["headers"]["Authorization"], "Basic ZGVtbzpjb3JyZWN0LWhvcnNl",
        "injected, not the workspace key"
    );
    assert_eq!(basic["args"]["page"], "2");
    assert_eq!(basic["headers"]["X-Trace"], "t-1", "ordinary headers pass");
    for dropped in ["Cookie", "X-Hop"] {
        assert!(basic["headers"][dropped].is_null(), "{dropped} is not forwarded: {basic}");
    }
    assert_eq!(basic["url"].as_str().map(|u| u.ends_with("/anything/probe?page=2")), Some(true), "{basic}");

    let key = echo(key, "").await;
    assert_eq!(key["headers"]["X-Api-Key"], "hk-123456789", "the injected key replaces the caller's");
    assert!(key["headers"]["Authorization"].is_null(), "the workspace key never reaches the app: {key}");

    let query = echo(query, "&token=caller").await;
    assert_eq!(query["args"]["token"], "qk-1", "one token, the injected one: {query}");
    assert_eq!(query["args"]["page"], "2");
}

#[tokio::test]
async fn methods_bodies_statuses_and_response_headers_pass_through() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let alice = b.session("alice").await;
    let id = account_id(&b, &alice, "bin-key", json!({ "api_key": "hk-123456789" })).await;
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let reply = proxied(
            &b,
            &b.secret_key,
            method.clone(),
            &format!("/v1/proxy/{id}/anything/items"),
            |r| r.header("content-type", "application/json"),
            Body::from(r#"{"name":"widget"}"#),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{method}: {}", reply.json);
        assert_eq!(reply.json["method"], method.as_str());
        assert_eq!(reply.json["json"], json!({ "name": "widget" }), "{method}");
    }
    let teapot =
        proxied(&b, &b.secret_key, Method::GET, &format!("/v1/proxy/{id}/status/418"), |r| r, Body::empty())
            .await;
    assert_eq!(teapot.status, StatusCode::IM_A_TEAPOT, "the app's status, not a broker error");
    assert!(
        teapot.json.as_str().is_some_and(|body| body.contains("teapot")),
        "and its body: {}",
        teapot.json
    );
    let missing =
        proxied(&b, &b.secret_key, Method::GET, &format!("/v1/proxy/{id}/status/404"), |r| r, Body::empty())
            .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let headers = proxied(
        &b,
        &b.secret_key,
        Method::GET,
        &format!("/v1/proxy/{id}/response-headers?Set-Cookie=sid%3Dapp-session&X-Upstream=kept"),
        |r| r,
        Body::empty(),
    )
    .await;
    assert_eq!(headers.status, StatusCode::OK);
    assert_eq!(headers.headers["x-upstream"], "kept");
    assert!(headers.headers.get("set-cookie").is_none(), "the app's cookies stay with the broker");

    let escape = proxied(
        &b,
        &b.secret_key,
        Method::GET,
        &format!("/v1/proxy/{id}/anything/%2e%2e/x"),
        |r| r,
        Body::empty(),
    )
    .await;
    assert_eq!((escape.status, escape.code()), (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENTS"));
}

#[tokio::test]
async fn accounts_of_other_workspaces_are_indistinguishable_from_missing_ones() {
    let b = TestBroker::with_catalog(CATALOG, false).await;
    let alice = b.session("alice").await;
    let id = account_id(&b, &alice, "bin-key", json!({ "api_key": "hk-123456789" })).await;
    let (_, other_key) = create_workspace(b.state.store.as_ref(), "Other").await.expect("workspace");

    let foreign =
        proxied(&b, &other_key, Method::GET, &format!("/v1/proxy/{id}/get"), |r| r, Body::empty()).await;
    let missing =
        proxied(&b, &b.secret_key, Method::GET, "/v1/proxy/ca_missing/get", |r| r, Body::empty()).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND"));
    assert_eq!(
        foreign.without_request_id(),
        missing.without_request_id(),
        "the same answer: nothing tells that the id exists"
    );

    let session =
        proxied(&b, &alice, Method::GET, &format!("/v1/proxy/{id}/get"), |r| r, Body::empty()).await;
    assert_eq!(session.code(), "UNAUTHORIZED", "a session token is not the workspace key");
    let own =
        proxied(&b, &b.secret_key, Method::GET, &format!("/v1/proxy/{id}/get"), |r| r, Body::empty()).await;
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_proxied_request_retried() {
    let provider = OidcProvider::start(3);
    let b = refreshing_only_on_401(&provider).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    let id = attempt(&b, &alice, &attempt_id).await["accountId"].as_str().expect("account").to_owned();
    let (owner, record) =
        b.state.store.workspace_account(&b.workspace.id, &id).await.expect("store").expect("account");
    let creds = record.credentials.open(&b.state.keyring, &owner, "idp").expect("decrypts");
    let stored = creds.get("access_token").expect("access token").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while provider.userinfo_status(&stored).await == 200 {
        assert!(std::time::Instant::now() < deadline, "the 3 s token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let me =
        proxied(&b, &b.secret_key, Method::GET, &format!("/v1/proxy/{id}/me"), |r| r, Body::empty()).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(me.json["sub"], "alice");
    assert_eq!(provider.refresh_grants().await, 1, "one refresh for the 401, then one retry");
    assert_eq!(provider.stats().await["errors"], json!({}));
}

#[tokio::test]
async fn the_apps_body_is_streamed_as_it_arrives_within_the_body_cap() {
    let vars = vec![("HTTPBIN".to_owned(), httpbin_url())];
    let b = TestBroker::start(CATALOG, vars, |c| c.max_upstream_body_bytes = 1024).await;
    let alice = b.session("alice").await;
    let key = account_id(&b, &alice, "bin-key", json!({ "api_key": "hk-123456789" })).await;

    // httpbin drips two bytes a second apart: a streamed answer hands the first one over alone
    // (a buffered one would hold it back until the second came).
    let dripping = proxied_stream(&b, &format!("/v1/proxy/{key}/drip?numbytes=2&duration=2&delay=0")).await;
    assert_eq!(dripping.status(), StatusCode::OK);
    let first = dripping.into_body().frame().await.expect("a frame").expect("no error");
    assert_eq!(first.into_data().expect("data").as_ref(), b"*", "the first byte arrives alone");

    let declared =
        proxied(&b, &b.secret_key, Method::GET, &format!("/v1/proxy/{key}/bytes/2048"), |r| r, Body::empty())
            .await;
    assert_eq!(declared.code(), "UPSTREAM_ERROR", "a body declared past the cap is refused before it starts");

    let undeclared = proxied_stream(&b, &format!("/v1/proxy/{key}/stream-bytes/4096?chunk_size=256")).await;
    assert_eq!(undeclared.status(), StatusCode::OK, "the status was passed on before the body grew");
    assert!(
        undeclared.into_body().collect().await.is_err(),
        "a body that grows past the cap is cut off with an error, never passed off as complete"
    );
    let within = proxied_stream(&b, &format!("/v1/proxy/{key}/stream-bytes/1024?chunk_size=100")).await;
    let body = within.into_body().collect().await.expect("a body within the cap is whole").to_bytes();
    assert_eq!(body.len(), 1024);
}
