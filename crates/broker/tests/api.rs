//! In-process tests of every endpoint and every error the foundation defines. Apps here have no
//! verify request, so nothing leaves the process; `httpbin.rs` covers verification against a real
//! upstream.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use patchbay_broker::ids::now_unix;
use patchbay_broker::sessions::{sign, Claims};
use serde_json::json;
use support::{TestBroker, ORIGIN};

const CATALOG: &str = r#"
[apps.notes]
name = "Notes"
auth = "api_key"
base_url = "https://notes.example"
inject = { headers = { "X-Api-Key" = "{api_key}" } }

[apps.crm]
name = "CRM"
auth = "api_key_secret"
accounts = "multiple"
base_url = "https://crm.example"

[apps.tracker]
name = "Tracker"
auth = "basic_url"
"#;

async fn broker() -> TestBroker {
    TestBroker::start(CATALOG, vec![], |_| {}).await
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let b = broker().await;
    assert_eq!(b.call(Method::GET, "/healthz", None, None).await.status, StatusCode::OK);
    let ready = b.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((ready.status, ready.json["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(ready.json["checks"]["database"], "ok", "each dependency is named");
}

#[tokio::test]
async fn sessions_are_minted_only_with_the_secret_key_and_valid_input() {
    let b = broker().await;
    let ok = b
        .call(
            Method::POST,
            "/v1/sessions",
            Some(&b.secret_key),
            Some(json!({ "userId": "alice", "ttlSeconds": 60 })),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.json["token"].as_str().is_some_and(|t| t.starts_with("pbs.")));
    assert!(ok.json["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')));

    for bad_key in [None, Some("pb_sk_forged"), Some("not-a-key")] {
        let reply = b.call(Method::POST, "/v1/sessions", bad_key, Some(json!({ "userId": "alice" }))).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"), "{bad_key:?}");
    }

    let invalid = b
        .call(
            Method::POST,
            "/v1/sessions",
            Some(&b.secret_key),
            Some(json!({ "userId": " ", "ttlSeconds": 86401, "allowedOrigins": ["https://ok.example", "https://x/path"] })),
        )
        .await;
    assert_eq!((invalid.status, invalid.code()), (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENTS"));
    let fields: Vec<&str> = invalid.json["error"]["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["userId", "ttlSeconds", "allowedOrigins[1]"]);

    let missing =
        b.call(Method::POST, "/v1/sessions", Some(&b.secret_key), Some(json!({ "ttlSeconds": 5 }))).await;
    assert_eq!(missing.code(), "INVALID_ARGUMENTS");
    assert!(
        missing.json["error"]["message"].as_str().is_some_and(|m| m.contains("userId")),
        "{}",
        missing.json
    );

    let unexpected = b
        .call(
            Method::POST,
            "/v1/sessions",
            Some(&b.secret_key),
            Some(json!({ "userId": "a", "admin": true })),
        )
        .await;
    assert_eq!(unexpected.code(), "INVALID_ARGUMENTS");
}

#[tokio::test]
async fn malformed_unsupported_and_oversized_bodies_get_stable_codes() {
    let b = broker().await;
    let post = |body: Body, content_type: Option<&str>| {
        let mut r = Request::post("/v1/sessions").header("authorization", format!("Bearer {}", b.secret_key));
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        r.body(body).expect("request")
    };
    let malformed = b.send(post(Body::from("{\"userId\": "), Some("application/json"))).await;
    assert_eq!((malformed.status, malformed.code()), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let text = b.send(post(Body::from("userId=a"), Some("text/plain"))).await;
    assert_eq!((text.status, text.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE"));
    let huge = format!("{{\"userId\": \"{}\"}}", "a".repeat(70 * 1024));
    let oversized = b.send(post(Body::from(huge), Some("application/json"))).await;
    assert_eq!((oversized.status, oversized.code()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
}

#[tokio::test]
async fn sdk_routes_refuse_missing_forged_expired_and_foreign_origin_tokens() {
    let b = broker().await;
    let missing = b.call(Method::GET, "/v1/apps", None, None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    let forged = b.call(Method::GET, "/v1/apps", Some("pbs.eyJ9.AAAA"), None).await;
    assert_eq!((forged.status, forged.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));

    let claims = |exp: i64, origins: Vec<String>| Claims {
        kid: b.state.keyring.active_id().to_owned(),
        ws: b.workspace.id.clone(),
        sub: "alice".into(),
        origins,
        iat: now_unix() - 100,
        exp,
    };
    let expired = sign(&b.state.keyring, &claims(now_unix() - 1, vec![ORIGIN.into()])).expect("sign");
    let reply = b.call(Method::GET, "/v1/apps", Some(&expired), None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNAUTHORIZED, "SESSION_EXPIRED"));

    let elsewhere =
        sign(&b.state.keyring, &claims(now_unix() + 60, vec!["https://other.example".into()])).expect("sign");
    let reply = b.call(Method::GET, "/v1/apps", Some(&elsewhere), None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "ORIGIN_NOT_ALLOWED"));
    assert!(reply.json["error"].get("details").is_none(), "a refused origin learns nothing but the code");
    let readable_by = reply.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok());
    assert_eq!(readable_by, Some(ORIGIN), "the SDK can read the refusal's code");

    let token = b.session("alice").await;
    let ok = b.call(Method::GET, "/v1/apps", Some(&token), None).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some(ORIGIN));
    assert_eq!(
        ok.headers.get("vary").and_then(|v| v.to_str().ok()),
        Some("Origin"),
        "caches keep origins apart"
    );

    let server_side =
        Request::get("/v1/apps").header("authorization", format!("Bearer {token}")).body(Body::empty());
    assert_eq!(
        b.send(server_side.expect("request")).await.status,
        StatusCode::OK,
        "no Origin: not a browser"
    );
}

#[tokio::test]
async fn preflights_are_answered_without_a_token() {
    let b = broker().await;
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/apps/notes/connect")
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .body(Body::empty())
        .expect("request");
    let reply = b.send(preflight).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("access-control-allow-origin").as_deref(), Some(ORIGIN));
    assert!(header("access-control-allow-headers").is_some_and(|h| h.contains("authorization")));
}

#[tokio::test]
async fn the_catalog_lists_apps_with_the_users_account_counts() {
    let b = broker().await;
    let alice = b.session("alice").await;
    let bob = b.session("bob").await;
    assert_eq!(
        b.connect(&alice, "notes", json!({ "api_key": "key-aaaa-1111" })).await.status,
        StatusCode::CREATED
    );

    let apps = b.call(Method::GET, "/v1/apps", Some(&alice), None).await.json;
    let mut notes =
        apps["apps"].as_array().expect("apps").iter().find(|a| a["id"] == "notes").cloned().expect("notes");
    let icon = notes.as_object_mut().and_then(|o| o.remove("icon")).expect("every app has a tile");
    assert_eq!(icon["monogram"], "No");
    let background = icon["background"].as_str().unwrap_or_default();
    assert!(background.len() == 7 && background.starts_with('#'), "{background}");
    assert_eq!(
        notes,
        json!({ "id": "notes", "name": "Notes", "authType": "api_key", "accountsPolicy": "one", "connectedAccounts": 1,
                "usable": true, "requiresOwnClient": false, "builtin": false })
    );
    let bobs = b.call(Method::GET, "/v1/apps", Some(&bob), None).await.json;
    assert!(bobs["apps"].as_array().expect("apps").iter().all(|a| a["connectedAccounts"] == 0));

    let detail = b.call(Method::GET, "/v1/apps/tracker", Some(&alice), None).await;
    assert_eq!(detail.status, StatusCode::OK);
    let names: Vec<&str> =
        detail.json["fields"].as_array().expect("fields").iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["base_url", "username", "password"]);
    assert_eq!(detail.json["fields"][2]["kind"], "secret");

    for path in ["/v1/apps/nope", "/v1/apps/nope/accounts"] {
        let reply = b.call(Method::GET, path, Some(&alice), None).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "APP_NOT_FOUND"), "{path}");
    }
    let reply = b.connect(&alice, "nope", json!({})).await;
    assert_eq!(reply.code(), "APP_NOT_FOUND");
}

#[tokio::test]
async fn policy_one_reconnects_in_place_and_policy_multiple_adds_accounts() {
    let b = broker().await;
    let alice = b.session("alice").await;
    let first = b.connect(&alice, "notes", json!({ "api_key": "first-key-0001" })).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = b.connect(&alice, "notes", json!({ "api_key": "second-key-0002" })).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json["reconnected"], true);
    assert_eq!(again.json["account"]["id"], first.json["account"]["id"], "same id under policy one");
    assert_eq!(b.accounts(&alice, "notes").await.len(), 1);

    let one = b.connect(&alice, "crm", json!({ "api_key": "k1", "api_secret": "s1" })).await;
    let two = b.connect(&alice, "crm", json!({ "api_key": "k2", "api_secret": "s2" })).await;
    assert_eq!((one.status, two.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_ne!(one.json["account"]["id"], two.json["account"]["id"]);
    assert_eq!(b.accounts(&alice, "crm").await.len(), 2);

    let reconnect = b
        .call(
            Method::POST,
            "/v1/apps/crm/connect",
            Some(&alice),
            Some(json!({ "fields": { "api_key": "k3", "api_secret": "s3" }, "connectedAccountId": one.json["account"]["id"] })),
        )
        .await;
    assert_eq!(reconnect.status, StatusCode::OK);
    assert_eq!(reconnect.json["account"]["id"], one.json["account"]["id"]);
    assert_eq!(b.accounts(&alice, "crm").await.len(), 2);

    let wrong_app = b
        .call(
            Method::POST,
            "/v1/apps/notes/connect",
            Some(&alice),
            Some(json!({ "fields": { "api_key": "k" }, "connectedAccountId": one.json["account"]["id"] })),
        )
        .await;
    assert_eq!((wrong_app.status, wrong_app.code()), (StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND"));
}

#[tokio::test]
async fn bad_credential_fields_are_named_and_nothing_is_saved() {
    let b = broker().await;
    let alice = b.session("alice").await;
    let reply =
        b.connect(&alice, "tracker", json!({ "username": "al", "extra": "x", "base_url": "notaurl" })).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENTS"));
    let fields: Vec<&str> = reply.json["error"]["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["extra", "base_url", "password"]);
    assert!(b.accounts(&alice, "tracker").await.is_empty());
}

#[tokio::test]
async fn users_are_isolated_from_each_others_accounts() {
    let b = broker().await;
    let alice = b.session("alice").await;
    let bob = b.session("bob").await;
    let account = b.connect(&alice, "notes", json!({ "api_key": "alice-secret-key" })).await.json["account"]
        ["id"]
        .as_str()
        .expect("id")
        .to_owned();

    assert!(b.accounts(&bob, "notes").await.is_empty(), "bob cannot list alice's account");
    let steal = b
        .call(
            Method::POST,
            "/v1/apps/notes/connect",
            Some(&bob),
            Some(json!({ "fields": { "api_key": "bob-key" }, "connectedAccountId": account })),
        )
        .await;
    assert_eq!(steal.code(), "ACCOUNT_NOT_FOUND", "bob cannot overwrite alice's account");

    let foreign = b.call(Method::DELETE, &format!("/v1/accounts/{account}"), Some(&bob), None).await;
    let missing = b.call(Method::DELETE, "/v1/accounts/ca_doesnotexist", Some(&bob), None).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND"));
    assert_eq!(
        foreign.without_request_id(),
        missing.without_request_id(),
        "another user's account is indistinguishable from a missing one"
    );
    assert_eq!(b.accounts(&alice, "notes").await.len(), 1, "alice's account survived");

    let done = b.call(Method::DELETE, &format!("/v1/accounts/{account}"), Some(&alice), None).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);
    assert!(b.accounts(&alice, "notes").await.is_empty());
    let twice = b.call(Method::DELETE, &format!("/v1/accounts/{account}"), Some(&alice), None).await;
    assert_eq!(twice.code(), "ACCOUNT_NOT_FOUND");
}

#[tokio::test]
async fn credentials_are_encrypted_at_rest() {
    let b = broker().await;
    let alice = b.session("alice").await;
    let secrets = ["notes-key-7f3a9c1e5b", "crm-key-0d8e2f4a6c", "crm-secret-9b1d3f5e7a"];
    b.connect(&alice, "notes", json!({ "api_key": secrets[0] })).await;
    b.connect(&alice, "crm", json!({ "api_key": secrets[1], "api_secret": secrets[2] })).await;
    assert_eq!(b.accounts(&alice, "crm").await.len(), 1, "stored");
    let raw = b.raw_database();
    assert!(raw.len() > 4096, "read the database files");
    for secret in secrets {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} found in the database files"
        );
    }
    assert!(
        !raw.windows(b.secret_key.len()).any(|w| w == b.secret_key.as_bytes()),
        "workspace secret key stored"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() {
    let b = broker().await;
    let token = b.session("alice").await;
    let missing = b.call(Method::GET, "/v2/nothing", Some(&token), None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let wrong = b.call(Method::PUT, "/v1/sessions", Some(&b.secret_key), None).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"));
}

#[tokio::test]
async fn path_and_query_values_that_do_not_decode_answer_in_the_error_format() {
    let b = broker().await;
    let token = b.session("alice").await;
    let cases = [
        (Method::DELETE, "/v1/accounts/%FF"),
        (Method::POST, "/v1/functions/%FF/invoke"),
        (Method::GET, "/v1/functions/%FF"),
        (Method::GET, "/v1/apps/%FF%FE/accounts"),
        (Method::GET, "/v1/apps/%FF"),
        (Method::GET, "/v1/connect-attempts/%FF"),
        (Method::GET, "/v1/connect-attempts/att_x?wait=soon"),
    ];
    for (method, path) in cases {
        let body = (method == Method::POST).then(|| json!({ "args": {} }));
        let reply = b.call(method.clone(), path, Some(&token), body).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "BAD_REQUEST"), "{method} {path}");
        assert_eq!(
            reply.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{method} {path}"
        );
    }
    let admin = b.call(Method::GET, "/v1/admin/apps/%FF", Some(&b.secret_key), None).await;
    assert_eq!(admin.code(), "BAD_REQUEST", "{}", admin.json);
}

#[tokio::test]
async fn the_built_sdk_is_served_with_cache_headers_and_nothing_else_is() {
    let assets = tempfile::tempdir().expect("tempdir");
    std::fs::write(assets.path().join("patchbay.3fa9c01d.js"), "export {}").expect("write");
    std::fs::write(assets.path().join("embed.js"), "/* embed */").expect("write");
    std::fs::write(assets.path().join(".env"), "SECRET=1").expect("write");
    std::fs::create_dir_all(assets.path().join("snippets/x")).expect("mkdir");
    std::fs::write(assets.path().join("snippets/x/error.js"), "export {}").expect("write");
    let dir = assets.path().to_path_buf();
    let b = TestBroker::start(CATALOG, vec![], |c| c.sdk_dir = Some(dir)).await;
    let get = |path: &str| Request::get(path).body(Body::empty()).expect("request");

    let hashed = b.send(get("/sdk/patchbay.3fa9c01d.js")).await;
    assert_eq!(hashed.status, StatusCode::OK);
    assert_eq!(hashed.headers["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(hashed.headers["access-control-allow-origin"], "*");
    assert!(hashed.headers["content-type"].to_str().expect("type").starts_with("text/javascript"));
    let embed = b.send(get("/embed.js")).await;
    assert_eq!(
        (embed.status, embed.headers["cache-control"].to_str().ok()),
        (StatusCode::OK, Some("public, max-age=0, must-revalidate"))
    );
    assert_eq!(b.send(get("/sdk/snippets/x/error.js")).await.status, StatusCode::OK, "nested module paths");
    for path in ["/sdk/.env", "/sdk/..%2Fbroker.db", "/sdk/snippets/../.env", "/sdk/missing.js"] {
        assert_eq!(b.send(get(path)).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn console_cookies_keep_their_attributes_from_sign_in_to_sign_out() {
    let public = "https://broker.example";
    let b =
        TestBroker::start(CATALOG, vec![], |c| c.public_url = Some(url::Url::parse(public).expect("url")))
            .await;
    let post = |path: &str, cookie: Option<&str>, body: String| {
        let mut request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", public);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.body(Body::from(body)).expect("request")
    };
    let signed = b.send(post("/admin/sign-in", None, format!("secretKey={}", b.secret_key))).await;
    let set = signed.headers["set-cookie"].to_str().expect("cookie").to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/admin", "Max-Age=3600", "Secure"] {
        assert!(set.contains(attribute), "{attribute} missing from {set}");
    }
    let cookie = set.split(';').next().expect("pair").to_owned();
    let home =
        b.send(Request::get("/admin").header("cookie", &cookie).body(Body::empty()).expect("request")).await;
    let html = home.json.as_str().expect("html").to_owned();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("csrf");

    let out = b.send(post("/admin/sign-out", Some(&cookie), format!("csrf={csrf}"))).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let removal = out.headers["set-cookie"].to_str().expect("cookie").to_owned();
    assert_eq!(removal.matches("pb_admin").count(), 1, "the name once: {removal}");
    assert!(removal.starts_with("pb_admin=;"), "emptied: {removal}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/admin", "Max-Age=0", "Secure"] {
        assert!(removal.contains(attribute), "{attribute} missing from {removal}");
    }
}
