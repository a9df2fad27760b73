//! `invokeFunction` against real upstreams: httpbin echoes what the broker sent (injection for
//! every auth type, arguments, pagination) and answers any status (retry rules, error mapping);
//! oidc-provider's userinfo proves the transparent refresh on 401.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::oidc::{attempt, connect, refreshing_only_on_401, OidcProvider};
use support::{httpbin_url, TestBroker};

const ECHO: &str = r#"{ title = "Echo", path = "/anything/{args.item}", query = { q = "{args.q}" }, parameters = { type = "object", required = ["item"], properties = { item = { type = "string" }, q = { type = "string" } } } }"#;

const STATUS: &str = r#"{ title = "Status", path = "/status/{args.code}", parameters = { type = "object", required = ["code"], properties = { code = { type = "integer" } } } }"#;

fn catalog() -> String {
    format!(
        r#"
[apps.basic]
name = "Basic"
auth = "basic"
base_url = "${{HTTPBIN}}"
functions.echo = {ECHO}
functions.status = {{ title = "Status", path = "/status/{{args.code}}", parameters = {{ type = "object", required = ["code"], properties = {{ code = {{ type = "integer" }} }} }} }}
functions.post-status = {{ title = "Post status", method = "POST", path = "/status/{{args.code}}", parameters = {{ type = "object", properties = {{ code = {{ type = "integer" }} }} }} }}
functions.create = {{ title = "Create", method = "POST", path = "/anything", output = "/json", body = {{ email = "{{args.email}}", age = "{{args.age}}", source = "patchbay" }}, parameters = {{ type = "object", required = ["email"], properties = {{ email = {{ type = "string", format = "email" }}, age = {{ type = "integer", minimum = 0 }} }} }} }}
functions.traced = {{ title = "Traced", path = "/anything", headers = {{ X-Trace = "t-{{args.trace}}" }}, parameters = {{ type = "object", properties = {{ trace = {{ type = "string" }} }} }} }}
functions.list = {{ title = "List", path = "/anything", output = "/args", pagination = {{ cursor_param = "cursor", next_cursor = "/args/cursor" }} }}
functions.html = {{ title = "HTML", path = "/html" }}
functions.png = {{ title = "PNG", path = "/image/png" }}
functions.huge = {{ title = "Huge", path = "/bytes/102400" }}
functions.slow = {{ title = "Slow", path = "/delay/10" }}

[apps.key]
name = "Key"
auth = "api_key"
accounts = "multiple"
base_url = "${{HTTPBIN}}"
inject = {{ headers = {{ X-Api-Key = "{{api_key}}" }} }}
functions.echo = {ECHO}
functions.status = {STATUS}

[apps.strict-key]
name = "Strict key"
auth = "api_key"
base_url = "${{HTTPBIN}}"
inject = {{ headers = {{ X-Api-Key = "{{api_key}}" }}, refused_statuses = [401, 403] }}
functions.status = {STATUS}

[apps.pair]
name = "Pair"
auth = "api_key_secret"
base_url = "${{HTTPBIN}}"
functions.echo = {ECHO}

[apps.key-url]
name = "Key URL"
auth = "api_key_url"
inject = {{ query = {{ api_key = "{{api_key}}" }} }}
functions.echo = {ECHO}

[apps.basic-url]
name = "Basic URL"
auth = "basic_url"
functions.echo = {ECHO}

[apps.basic-key]
name = "Basic key"
auth = "basic_api_key"
inject = {{ basic = {{ username = "{{username}}", password = "{{password}}" }}, headers = {{ X-Api-Key = "{{api_key}}" }} }}
functions.echo = {ECHO}

[apps.closed]
name = "Closed"
auth = "basic"
base_url = "http://127.0.0.1:9"
functions.get = {{ title = "Get", path = "/" }}
functions.create = {{ title = "Create", method = "POST", path = "/" }}
"#
    )
}

async fn broker(configure: impl FnOnce(&mut patchbay_broker::config::Config)) -> TestBroker {
    TestBroker::start(&catalog(), vec![("HTTPBIN".into(), httpbin_url())], configure).await
}

#[tokio::test]
async fn every_auth_type_is_injected_as_declared() {
    let b = broker(|_| {}).await;
    let alice = b.session("alice").await;
    let bin = httpbin_url();
    let cases = [
        ("basic", json!({ "username": "ann", "password": "pw" })),
        ("key", json!({ "api_key": "k-123" })),
        ("pair", json!({ "api_key": "key", "api_secret": "sec" })),
        ("key-url", json!({ "api_key": "q-key", "base_url": bin })),
        ("basic-url", json!({ "username": "ann", "password": "pw", "base_url": bin })),
        ("basic-key", json!({ "username": "ann", "password": "pw", "api_key": "hk", "base_url": bin })),
    ];
    for (app, fields) in cases {
        assert!(b.connect(&alice, app, fields).await.status.is_success(), "{app} connects");
        let reply = b
            .invoke(&alice, &format!("{app}-echo"), json!({ "args": { "item": "a b?c=1", "q": "x&y" } }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{app}: {}", reply.json);
        let echo = &reply.json["output"];
        assert!(echo["url"].as_str().is_some_and(|u| u.contains("/anything/a%20b")), "{app}: {echo}");
        let expected_args =
            if app == "key-url" { json!({ "q": "x&y", "api_key": "q-key" }) } else { json!({ "q": "x&y" }) };
        assert_eq!(
            echo["args"], expected_args,
            "{app}: the path argument's `?c=1` stayed in the path, encoded"
        );
        let headers = &echo["headers"];
        match app {
            "basic" | "basic-url" => assert_eq!(headers["Authorization"], "Basic YW5uOnB3"),
            "key" => assert_eq!(headers["X-Api-Key"], "k-123"),
            "pair" => assert_eq!(headers["Authorization"], "Basic a2V5OnNlYw=="),
            "key-url" => assert_eq!(echo["args"]["api_key"], "q-key"),
            _ => assert_eq!(
                (headers["Authorization"].as_str(), headers["X-Api-Key"].as_str()),
                (Some("Basic YW5uOnB3"), Some("hk"))
            ),
        }
        assert_eq!(reply.json["status"], 200);
        assert_eq!(reply.json["nextCursor"], Value::Null);
    }
}

#[tokio::test]
async fn arguments_are_validated_before_anything_is_sent() {
    let b = broker(|_| {}).await;
    let alice = b.session("alice").await;
    b.connect(&alice, "basic", json!({ "username": "u", "password": "p" })).await;
    let created =
        b.invoke(&alice, "basic-create", json!({ "args": { "email": "ann@example.com", "age": 41 } })).await;
    assert_eq!(
        created.json["output"],
        json!({ "email": "ann@example.com", "age": 41, "source": "patchbay" })
    );

    let bad = b.invoke(&alice, "basic-create", json!({ "args": { "age": -1, "extra": "ok" } })).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENTS"));
    let fields: Vec<&str> = bad.json["error"]["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(fields.contains(&"/email") && fields.contains(&"/age"), "{fields:?}");
    assert!(!bad.echoes("-1"), "values are not echoed back: {}", bad.json);

    let wrong_type = b.invoke(&alice, "basic-status", json!({ "args": { "code": "200" } })).await;
    assert_eq!(wrong_type.json["error"]["details"]["fields"][0]["field"], "/code");
    let traversal = b.invoke(&alice, "basic-echo", json!({ "args": { "item": ".." } })).await;
    assert_eq!(traversal.code(), "INVALID_ARGUMENTS");
    let unknown = b.invoke(&alice, "basic-nope", json!({ "args": {} })).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "FUNCTION_NOT_FOUND"));
    let spec = b.call(Method::GET, "/v1/functions/basic-create", Some(&alice), None).await;
    assert_eq!(spec.json["parameters"]["required"], json!(["email"]));
    assert_eq!((spec.json["appId"].as_str(), spec.json["paginated"].as_bool()), (Some("basic"), Some(false)));
    assert_eq!(
        b.call(Method::GET, "/v1/functions/nope", Some(&alice), None).await.code(),
        "FUNCTION_NOT_FOUND"
    );
}

#[tokio::test]
async fn a_line_break_in_a_header_argument_is_invalid_and_never_sent() {
    let b = broker(|_| {}).await;
    let alice = b.session("alice").await;
    b.connect(&alice, "basic", json!({ "username": "u", "password": "p" })).await;
    let fine = b.invoke(&alice, "basic-traced", json!({ "args": { "trace": "abc" } })).await;
    assert_eq!(fine.json["output"]["headers"]["X-Trace"], "t-abc", "{}", fine.json);
    for evil in ["a\r\nX-Evil: 1", "a\nb", "a\u{0}b"] {
        let reply = b.invoke(&alice, "basic-traced", json!({ "args": { "trace": evil } })).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENTS"),
            "{evil:?}: {}",
            reply.json
        );
        assert_eq!(reply.json["error"]["details"]["fields"][0]["field"], "/trace", "{}", reply.json);
        // An idempotent GET: a transport failure would have been tried three times.
        assert_eq!(reply.json["error"]["details"]["attempts"], Value::Null, "nothing was sent");
        assert!(!reply.echoes("X-Evil"), "the value is not echoed back");
    }
}

#[tokio::test]
async fn credentials_the_app_refuses_mark_the_account_for_reconnecting() {
    let b = broker(|_| {}).await;
    let alice = b.session("alice").await;
    let connected = b.connect(&alice, "key", json!({ "api_key": "k-revoked-upstream" })).await;
    let id = connected.json["account"]["id"].as_str().expect("account id").to_owned();
    let status = |app: &'static str, code: u16| {
        let (b, alice) = (&b, &alice);
        async move { b.invoke(alice, &format!("{app}-status"), json!({ "args": { "code": code } })).await }
    };

    // 403 can mean "no access to this record": unless the app declares it, it is only an error.
    let forbidden = status("key", 403).await;
    assert_eq!(
        (forbidden.code(), &forbidden.json["error"]["details"]["status"]),
        ("UPSTREAM_ERROR", &json!(403))
    );
    assert_eq!(b.accounts(&alice, "key").await[0]["status"], "active");

    let refused = status("key", 401).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "REAUTH_REQUIRED"),
        "{}",
        refused.json
    );
    assert_eq!(refused.json["error"]["details"]["status"], 401);
    assert_eq!(b.accounts(&alice, "key").await[0]["status"], "needs_reauth");
    let after = b.invoke(&alice, "key-echo", json!({ "args": { "item": "x" } })).await;
    assert_eq!(after.code(), "REAUTH_REQUIRED", "nothing is sent with refused credentials");

    let repaired = b
        .call(
            Method::POST,
            "/v1/apps/key/connect",
            Some(&alice),
            Some(json!({ "fields": { "api_key": "k-new" }, "connectedAccountId": id })),
        )
        .await;
    assert_eq!(
        (repaired.json["reconnected"].as_bool(), repaired.json["account"]["id"].as_str()),
        (Some(true), Some(id.as_str()))
    );
    assert_eq!(b.accounts(&alice, "key").await[0]["status"], "active");
    let echo = b.invoke(&alice, "key-echo", json!({ "args": { "item": "x" } })).await;
    assert_eq!(echo.json["output"]["headers"]["X-Api-Key"], "k-new", "{}", echo.json);

    // An app that declares 403 as a refusal gets the same treatment for it.
    b.connect(&alice, "strict-key", json!({ "api_key": "k-strict" })).await;
    assert_eq!(status("strict-key", 403).await.code(), "REAUTH_REQUIRED");
    assert_eq!(b.accounts(&alice, "strict-key").await[0]["status"], "needs_reauth");
}

#[tokio::test]
async fn the_multiple_accounts_rule_holds_through_invoke() {
    let b = broker(|_| {}).await;
    let alice = b.session("alice").await;
    let bob = b.session("bob").await;
    let args = json!({ "item": "x" });
    let none = b.invoke(&alice, "key-echo", json!({ "args": args })).await;
    assert_eq!((none.status, none.code()), (StatusCode::NOT_FOUND, "NOT_CONNECTED"));

    let first = b.connect(&alice, "key", json!({ "api_key": "first-key-111111" })).await.json["account"]
        ["id"]
        .clone();
    let one = b.invoke(&alice, "key-echo", json!({ "args": args })).await;
    assert_eq!(one.json["output"]["headers"]["X-Api-Key"], "first-key-111111", "one account is implied");

    let second = b.connect(&alice, "key", json!({ "api_key": "second-key-22222" })).await.json["account"]
        ["id"]
        .clone();
    let ambiguous = b.invoke(&alice, "key-echo", json!({ "args": args })).await;
    assert_eq!((ambiguous.status, ambiguous.code()), (StatusCode::CONFLICT, "CONNECTED_ACCOUNT_REQUIRED"));
    let ids: Vec<&Value> = ambiguous.json["error"]["details"]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&first, &second]);

    let chosen = b.invoke(&alice, "key-echo", json!({ "args": args, "connectedAccountId": second })).await;
    assert_eq!(chosen.json["output"]["headers"]["X-Api-Key"], "second-key-22222");
    let legacy_spelling =
        b.invoke(&alice, "key-echo", json!({ "args": args, "connectedAccountID": first })).await;
    assert_eq!(legacy_spelling.json["output"]["headers"]["X-Api-Key"], "first-key-111111");

    let basic = b.connect(&alice, "basic", json!({ "username": "u", "password": "p" })).await.json["account"]
        ["id"]
        .clone();
    let other_app = b.invoke(&alice, "key-echo", json!({ "args": args, "connectedAccountId": basic })).await;
    assert_eq!(other_app.code(), "ACCOUNT_NOT_FOUND");
    let other_user = b.invoke(&bob, "key-echo", json!({ "args": args, "connectedAccountId": first })).await;
    assert_eq!(other_user.code(), "ACCOUNT_NOT_FOUND");
}

#[tokio::test]
async fn retries_follow_the_rules_and_failures_keep_their_status() {
    let b = broker(|_| {}).await;
    let alice = b.session("alice").await;
    b.connect(&alice, "basic", json!({ "username": "u", "password": "p" })).await;
    b.connect(&alice, "closed", json!({ "username": "u", "password": "p" })).await;
    let call = |name: &'static str, code: u16| {
        let b = &b;
        let alice = &alice;
        async move { b.invoke(alice, name, json!({ "args": { "code": code } })).await }
    };

    let unavailable = call("basic-status", 503).await;
    assert_eq!((unavailable.status, unavailable.code()), (StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR"));
    assert_eq!(unavailable.json["error"]["details"]["status"], 503);
    assert_eq!(unavailable.json["error"]["details"]["attempts"], 3, "idempotent GET: retried twice");

    let server_error = call("basic-status", 500).await;
    assert_eq!(server_error.json["error"]["details"]["attempts"], 3);
    let not_idempotent = call("basic-post-status", 500).await;
    assert_eq!(not_idempotent.json["error"]["details"]["attempts"], 1, "POST is never replayed after a 500");

    let limited = call("basic-post-status", 429).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
    assert_eq!(
        limited.json["error"]["details"]["attempts"], 3,
        "a 429 was not processed, so even POST retries"
    );

    let missing = call("basic-status", 404).await;
    assert_eq!(
        (missing.code(), &missing.json["error"]["details"]["status"]),
        ("UPSTREAM_ERROR", &json!(404))
    );
    assert_eq!(missing.json["error"]["details"]["attempts"], 1);

    let ok = call("basic-status", 204).await;
    assert_eq!((ok.json["status"].as_u64(), &ok.json["output"]), (Some(204), &Value::Null));

    let refused = b.invoke(&alice, "closed-get", json!({ "args": {} })).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_UNAVAILABLE"));
    assert_eq!(refused.json["error"]["details"]["attempts"], 3);
    let refused_post = b.invoke(&alice, "closed-create", json!({ "args": {} })).await;
    assert_eq!(refused_post.code(), "UPSTREAM_UNAVAILABLE");
    assert_eq!(
        refused_post.json["error"]["details"]["attempts"], 3,
        "a refused connection never carried the POST, so it is retried"
    );
}

#[tokio::test]
async fn odd_upstream_answers_are_mapped() {
    let b = broker(|c| {
        c.invoke_deadline_seconds = 2;
        // httpbin streams at most 100 KiB quickly, so the cap comes down to meet it.
        c.max_upstream_body_bytes = 64 * 1024;
    })
    .await;
    let alice = b.session("alice").await;
    b.connect(&alice, "basic", json!({ "username": "u", "password": "p" })).await;
    let html = b.invoke(&alice, "basic-html", json!({ "args": {} })).await;
    assert!(
        html.json["output"].as_str().is_some_and(|t| t.contains("Herman Melville")),
        "non-JSON text is returned as a string"
    );
    let png = b.invoke(&alice, "basic-png", json!({ "args": {} })).await;
    assert_eq!(png.code(), "UPSTREAM_ERROR");
    let huge = b.invoke(&alice, "basic-huge", json!({ "args": {} })).await;
    assert_eq!(huge.code(), "UPSTREAM_ERROR");
    assert!(
        huge.json["error"]["message"].as_str().is_some_and(|m| m.contains("larger than 64 KiB")),
        "{}",
        huge.json
    );
    let started = std::time::Instant::now();
    let slow = b.invoke(&alice, "basic-slow", json!({ "args": {} })).await;
    assert_eq!(slow.code(), "UPSTREAM_UNAVAILABLE");
    assert!(started.elapsed() < std::time::Duration::from_secs(8), "the 2 s deadline cut the 10 s delay");
}

#[tokio::test]
async fn cursors_go_where_declared_and_come_back_from_the_response() {
    let b = broker(|_| {}).await;
    let alice = b.session("alice").await;
    b.connect(&alice, "basic", json!({ "username": "u", "password": "p" })).await;
    let first = b.invoke(&alice, "basic-list", json!({ "args": {} })).await;
    assert_eq!((&first.json["output"], &first.json["nextCursor"]), (&json!({}), &Value::Null));
    let next = b.invoke(&alice, "basic-list", json!({ "args": {}, "cursor": "page-2" })).await;
    assert_eq!(next.json["output"]["cursor"], "page-2", "sent as the declared query parameter");
    assert_eq!(next.json["nextCursor"], "page-2", "read from the declared pointer");
    let spec = b.call(Method::GET, "/v1/functions/basic-list", Some(&alice), None).await;
    assert_eq!(spec.json["paginated"], true);
}

#[tokio::test]
async fn an_expired_oauth_token_is_refreshed_on_401_and_the_call_retried() {
    let provider = OidcProvider::start(3);
    let b = refreshing_only_on_401(&provider).await;
    let alice = b.session("alice").await;
    let (attempt_id, _) = connect(&b, &alice, "idp", "alice").await;
    assert_eq!(attempt(&b, &alice, &attempt_id).await["status"], "connected");
    let first = b.invoke(&alice, "idp-me", json!({ "args": {} })).await;
    assert_eq!(first.json["output"]["sub"], "alice", "{}", first.json);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = b.invoke(&alice, "idp-me", json!({ "args": {} })).await;
        assert_eq!(reply.status, StatusCode::OK, "every call succeeds, expired token or not: {}", reply.json);
        if provider.refresh_grants().await == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the 3 s token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(provider.stats().await["errors"], json!({}));
}
