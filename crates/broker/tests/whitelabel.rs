//! White-label OAuth against the real oidc-provider with two registered clients (the operator's
//! default `patchbay-basic` and the workspace's own `workspace-own`): test with a step log, enable,
//! which client the provider sees for new connections and for refreshes; app visibility and policy;
//! the admin console's cookie and CSRF protections, and its webhooks page.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use patchbay_broker::oauth::refresh::usable_credentials;
use patchbay_broker::webhooks::{deliver_due, SenderSettings};
use serde_json::{json, Value};
use support::oidc::{attempt, connect, deliver, sign_in, OidcProvider, IDP_CATALOG};
use support::receiver::Receiver;
use support::{Reply, TestBroker};

/// Besides `IDP_CATALOG`'s `idp` (the operator's default client): an app without one, and a
/// credential app.
const MORE_APPS: &str = r#"
[apps.zoomish]
name = "Own client only"
auth = "oauth2"
base_url = "${OIDC}"
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/token", scopes = ["openid"], requires_own_client = true }

[apps.notes]
name = "Notes"
auth = "api_key"
base_url = "https://notes.example"
inject = { headers = { X-Api-Key = "{api_key}" } }
"#;

async fn broker(provider: &OidcProvider) -> TestBroker {
    TestBroker::start(
        &format!("{IDP_CATALOG}{MORE_APPS}"),
        vec![("OIDC".into(), provider.url.clone())],
        |_| {},
    )
    .await
}

async fn admin(b: &TestBroker, method: Method, path: &str, body: Option<Value>) -> Reply {
    b.call(method, path, Some(&b.secret_key.clone()), body).await
}

async fn set_client(b: &TestBroker, secret: &str) -> Reply {
    let body = json!({ "clientId": "workspace-own", "clientSecret": secret, "scopes": ["openid", "email", "offline_access"] });
    admin(b, Method::PUT, "/v1/admin/apps/idp/oauth-client", Some(body)).await
}

/// Runs a test the way the admin's browser would and returns its result.
async fn run_test(b: &TestBroker) -> Value {
    let started = admin(b, Method::POST, "/v1/admin/apps/idp/oauth-client/test", None).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.json);
    let callback = sign_in(started.json["authorizeUrl"].as_str().expect("url"), "admin").await;
    let back = deliver(b, &callback).await;
    let test_id = started.json["testId"].as_str().expect("test id");
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.headers["location"], format!("/admin/apps/idp/tests/{test_id}").as_str());
    admin(b, Method::GET, &format!("/v1/admin/oauth-tests/{test_id}"), None).await.json
}

async fn force_refresh(b: &TestBroker, user: &str, account_id: &str) {
    let record = b.state.store.account(&b.owner(user), account_id).await.expect("store").expect("account");
    let app = b.state.catalog.app("idp").expect("app");
    usable_credentials(&b.state, &b.owner(user), app, &record, true)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
}

#[tokio::test]
async fn test_then_enable_moves_new_connections_and_keeps_old_refreshes_on_their_client() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider).await;
    let alice = b.session("alice").await;
    let (alice_attempt, _) = connect(&b, &alice, "idp", "alice").await;
    let alice_account =
        attempt(&b, &alice, &alice_attempt).await["accountId"].as_str().expect("id").to_owned();

    // A wrong secret: the step log pins the failure on the code exchange, with the explanation.
    assert_eq!(set_client(&b, "wrong-secret").await.status, StatusCode::OK);
    let failed = run_test(&b).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let steps = failed["steps"]["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["authorize", "redirect", "code_exchange"]);
    let exchange = &steps[2];
    assert_eq!((exchange["status"].as_str(), exchange["httpStatus"].as_u64()), (Some("failed"), Some(401)));
    assert_eq!(exchange["response"]["error"], "invalid_client");
    assert_eq!(exchange["request"]["client_secret"], "(redacted)");
    assert_eq!(exchange["request"]["code"], "(redacted)");
    assert_eq!(
        exchange["request"]["client_authentication"], "client_secret_basic",
        "spelled as the catalog spells it"
    );
    assert!(exchange["explanation"].as_str().is_some_and(|e| e.contains("client id or client secret")));
    assert!(!failed.to_string().contains("wrong-secret"), "the secret is never shown");
    let refused = admin(&b, Method::POST, "/v1/admin/apps/idp/oauth-client/enable", None).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "TEST_REQUIRED"));

    // The right secret passes every step and can be enabled.
    assert_eq!(set_client(&b, "own-secret").await.status, StatusCode::OK);
    let passed = run_test(&b).await;
    assert_eq!(passed["status"], "passed", "{passed}");
    let names: Vec<&str> = passed["steps"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["authorize", "redirect", "code_exchange", "token_check"]);
    assert_eq!(passed["steps"]["steps"][3]["httpStatus"], 200);
    let enabled = admin(&b, Method::POST, "/v1/admin/apps/idp/oauth-client/enable", None).await;
    assert_eq!(enabled.json["oauth"]["ownClient"]["enabled"], true, "{}", enabled.json);
    assert_eq!(b.accounts(&alice, "idp").await.len(), 1, "testing created no account");

    // New connections use the workspace's client; the old account refreshes with the default one.
    let bob = b.session("bob").await;
    let (bob_attempt, _) = connect(&b, &bob, "idp", "bob").await;
    let bob_account = attempt(&b, &bob, &bob_attempt).await["accountId"].as_str().expect("id").to_owned();
    force_refresh(&b, "alice", &alice_account).await;
    force_refresh(&b, "bob", &bob_account).await;
    let clients = provider.stats().await["clients"].clone();
    assert_eq!(clients["authorization_code:workspace-own"], 2, "the passing test and bob: {clients}");
    assert_eq!(clients["authorization_code:patchbay-basic"], 1, "alice, before the switch");
    assert_eq!(
        clients["refresh_token:patchbay-basic"], 1,
        "alice's account keeps the client that created it"
    );
    assert_eq!(clients["refresh_token:workspace-own"], 1, "bob's uses the workspace's");

    // Reconnecting alice moves her account to the workspace's client.
    let (again, _) = connect(&b, &alice, "idp", "alice").await;
    assert_eq!(attempt(&b, &alice, &again).await["accountId"], alice_account.as_str());
    force_refresh(&b, "alice", &alice_account).await;
    assert_eq!(provider.stats().await["clients"]["refresh_token:workspace-own"], 2);

    // Changing the settings needs a new test before the new settings are used.
    set_client(&b, "own-secret-rotated").await;
    let app = admin(&b, Method::GET, "/v1/admin/apps/idp", None).await;
    assert_eq!(
        (
            app.json["oauth"]["ownClient"]["tested"].as_bool(),
            app.json["oauth"]["ownClient"]["enabled"].as_bool()
        ),
        (Some(false), Some(false))
    );
}

#[tokio::test]
async fn apps_that_need_an_own_client_refuse_to_connect_without_one() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider).await;
    let alice = b.session("alice").await;
    let refused = b.call(Method::POST, "/v1/apps/zoomish/connect", Some(&alice), Some(json!({}))).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "OWN_CLIENT_REQUIRED"));
    let not_oauth = admin(
        &b,
        Method::PUT,
        "/v1/admin/apps/notes/oauth-client",
        Some(json!({ "clientId": "x", "clientSecret": "y" })),
    )
    .await;
    assert_eq!(not_oauth.code(), "INVALID_ARGUMENTS");
}

#[tokio::test]
async fn visibility_and_policy_apply_to_the_workspace_users() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider).await;
    let alice = b.session("alice").await;
    let hidden = admin(
        &b,
        Method::PATCH,
        "/v1/admin/apps/notes",
        Some(json!({ "hidden": true, "accountsPolicy": null })),
    )
    .await;
    assert_eq!(hidden.json["hidden"], true, "{}", hidden.json);
    let apps = b.call(Method::GET, "/v1/apps", Some(&alice), None).await.json;
    assert!(apps["apps"].as_array().expect("apps").iter().all(|a| a["id"] != "notes"));
    assert_eq!(b.connect(&alice, "notes", json!({ "api_key": "k" })).await.code(), "APP_NOT_FOUND");

    admin(
        &b,
        Method::PATCH,
        "/v1/admin/apps/notes",
        Some(json!({ "hidden": false, "accountsPolicy": "multiple" })),
    )
    .await;
    let detail = b.call(Method::GET, "/v1/apps/notes", Some(&alice), None).await.json;
    assert_eq!(detail["accountsPolicy"], "multiple");
    b.connect(&alice, "notes", json!({ "api_key": "k1" })).await;
    b.connect(&alice, "notes", json!({ "api_key": "k2" })).await;
    assert_eq!(b.accounts(&alice, "notes").await.len(), 2, "the workspace's policy applies");
    let unauthorized = b.call(Method::GET, "/v1/admin/apps", Some(&alice), None).await;
    assert_eq!(unauthorized.code(), "UNAUTHORIZED", "a session token is not an admin key");
}

const CONSOLE_ORIGIN: &str = "http://127.0.0.1:9";

fn form(path: &str, origin: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", origin);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(Body::from(body.to_owned())).expect("request")
}

fn form_without_origin(path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(Body::from(body.to_owned())).expect("request")
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path).header("cookie", cookie).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn the_console_signs_in_with_a_protected_cookie_and_checks_csrf_on_every_form() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider).await;
    let key = format!("secretKey={}", b.secret_key);

    let wrong = b.send(form("/admin/sign-in", CONSOLE_ORIGIN, None, "secretKey=pb_sk_wrong")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let cross_site = b.send(form("/admin/sign-in", "https://evil.example", None, &key)).await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN, "login CSRF is refused");

    let signed = b.send(form("/admin/sign-in", CONSOLE_ORIGIN, None, &key)).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    let set_cookie = signed.headers["set-cookie"].to_str().expect("cookie").to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/admin", "Max-Age=3600"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();

    let home = b.send(get("/admin", &cookie)).await;
    let html = home.json.as_str().expect("html").to_owned();
    assert!(html.contains("Identity Provider") && html.contains("Users can connect"));
    assert!(home.headers["content-security-policy"]
        .to_str()
        .expect("csp")
        .contains("frame-ancestors 'none'"));
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("csrf token")
        .to_owned();

    // Every form the console renders (home and an OAuth app's page), each probed with every way a
    // forged POST can arrive. Collected from the pages, so a new form cannot skip the probe.
    let app_page = b.send(get("/admin/apps/idp", &cookie)).await.json.as_str().expect("html").to_owned();
    let endpoint = json!({ "url": "https://hooks.example/in" });
    admin(&b, Method::PUT, "/v1/admin/webhook", Some(endpoint)).await;
    let hooks_page = b.send(get("/admin/webhooks", &cookie)).await.json.as_str().expect("html").to_owned();
    let mut actions: Vec<String> = [html.as_str(), app_page.as_str(), hooks_page.as_str()]
        .iter()
        .flat_map(|page| page.split("<form").skip(1))
        .filter_map(|form| form.split("action=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect();
    actions.sort();
    actions.dedup();
    for expected in [
        "/admin/sign-out",
        "/admin/apps/idp/settings",
        "/admin/apps/idp/client",
        "/admin/apps/idp/test",
        "/admin/apps/idp/enable",
        "/admin/webhooks/endpoint",
        "/admin/webhooks/rotate",
        "/admin/webhooks/test",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected} not among the forms {actions:?}");
    }
    let valid = format!("csrf={csrf}&policy=multiple&clientId=evil&clientSecret=evil");
    for action in &actions {
        let probes: [(&str, Request<Body>); 4] = [
            ("no CSRF token", form(action, CONSOLE_ORIGIN, Some(&cookie), "policy=multiple")),
            (
                "a forged CSRF token",
                form(action, CONSOLE_ORIGIN, Some(&cookie), "csrf=forged&policy=multiple"),
            ),
            ("a foreign Origin", form(action, "https://evil.example", Some(&cookie), &valid)),
            ("no Origin header", form_without_origin(action, Some(&cookie), &valid)),
        ];
        for (what, request) in probes {
            let reply = b.send(request).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{action} with {what}");
        }
        let no_cookie = b.send(form(action, CONSOLE_ORIGIN, None, &valid)).await;
        assert_eq!(no_cookie.status, StatusCode::SEE_OTHER, "{action} without a session: back to sign-in");
    }
    let no_origin_sign_in = b.send(form_without_origin("/admin/sign-in", None, &key)).await;
    assert_eq!(no_origin_sign_in.status, StatusCode::FORBIDDEN, "sign-in without Origin");
    let app = admin(&b, Method::GET, "/v1/admin/apps/notes", None).await;
    assert_eq!(app.json["accountsPolicy"], "one", "none of the refused forms changed anything");
    let idp = admin(&b, Method::GET, "/v1/admin/apps/idp", None).await;
    assert_eq!(
        (idp.json["accountsPolicy"].as_str(), &idp.json["oauth"]["ownClient"]),
        (Some("one"), &Value::Null),
        "{}",
        idp.json
    );
    assert_eq!(b.send(get("/admin", &cookie)).await.status, StatusCode::OK, "still signed in");

    let saved = b
        .send(form(
            "/admin/apps/notes/settings",
            CONSOLE_ORIGIN,
            Some(&cookie),
            &format!("csrf={csrf}&visible=1&policy=multiple"),
        ))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let app = admin(&b, Method::GET, "/v1/admin/apps/notes", None).await;
    assert_eq!(
        (app.json["accountsPolicy"].as_str(), app.json["hidden"].as_bool()),
        (Some("multiple"), Some(false))
    );

    let out = b.send(form("/admin/sign-out", CONSOLE_ORIGIN, Some(&cookie), &format!("csrf={csrf}"))).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = b.send(get("/admin", &cookie)).await;
    assert!(after.json.as_str().is_some_and(|h| h.contains("Workspace secret key")), "the session is gone");
}

#[tokio::test]
async fn apps_without_a_usable_client_are_shown_as_needing_one() {
    let provider = OidcProvider::start(300);
    let b = broker(&provider).await;
    let zoomish = admin(&b, Method::GET, "/v1/admin/apps/zoomish", None).await;
    assert_eq!(zoomish.json["oauth"]["needsClient"], true, "{}", zoomish.json);
    assert!(zoomish.json["oauth"]["redirectUri"].is_string(), "with the redirect URL to register");
    let idp = admin(&b, Method::GET, "/v1/admin/apps/idp", None).await;
    assert_eq!(idp.json["oauth"]["needsClient"], false, "the operator's client serves it");

    let alice = b.session("alice").await;
    let apps = b.call(Method::GET, "/v1/apps", Some(&alice), None).await.json;
    let usable = |id: &str| {
        apps["apps"].as_array().and_then(|a| a.iter().find(|x| x["id"] == id)).map(|x| x["usable"].clone())
    };
    assert_eq!(usable("zoomish"), Some(json!(false)));
    assert_eq!(usable("idp"), Some(json!(true)));
    assert_eq!(usable("notes"), Some(json!(true)));
}

/// Signs in to the console; returns the session cookie and the CSRF token of its forms.
async fn console_session(b: &TestBroker) -> (String, String) {
    let signed =
        b.send(form("/admin/sign-in", CONSOLE_ORIGIN, None, &format!("secretKey={}", b.secret_key))).await;
    let cookie =
        signed.headers["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let home = b.send(get("/admin", &cookie)).await.json.as_str().expect("html").to_owned();
    let csrf = home.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("csrf");
    (cookie, csrf.to_owned())
}

/// The value of the `<input id="secret">` the page shows once, if any.
fn shown_secret(html: &str) -> Option<String> {
    let input = html.split("id=\"secret\"").nth(1)?;
    Some(input.split("value=\"").nth(1)?.split('"').next()?.to_owned())
}

#[tokio::test]
async fn the_console_sets_the_webhook_endpoint_rotates_its_secret_sends_a_test_event_and_logs_deliveries() {
    let b = TestBroker::with_catalog("", false).await;
    let (cookie, csrf) = console_session(&b).await;
    let post = |path: &str, body: String| b.send(form(path, CONSOLE_ORIGIN, Some(&cookie), &body));
    let empty = b.send(get("/admin/webhooks", &cookie)).await.json.as_str().expect("html").to_owned();
    assert!(empty.contains("Endpoint URL") && !empty.contains("Rotate secret"), "{empty}");

    let created =
        post("/admin/webhooks/endpoint", format!("csrf={csrf}&url=http%3A%2F%2F127.0.0.1%3A9%2Fnot-yet"))
            .await;
    let secret = shown_secret(created.json.as_str().expect("html")).expect("the new secret is shown");
    assert!(secret.starts_with("whsec_"));
    let receiver = Receiver::start(&[&secret], 0);
    let url: String = url::form_urlencoded::byte_serialize(receiver.url.as_bytes()).collect();
    let moved = post("/admin/webhooks/endpoint", format!("csrf={csrf}&url={url}")).await;
    assert_eq!(shown_secret(moved.json.as_str().expect("html")), None, "shown once, not on later saves");

    let sent = post("/admin/webhooks/test", format!("csrf={csrf}")).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(sent.headers["location"], "/admin/webhooks?sent=1");
    deliver_due(&b.state, &SenderSettings::default()).await.expect("delivery round");
    let log = receiver.log().await;
    assert_eq!((log.len(), &log[0]["type"], &log[0]["verified"]), (1, &json!("webhook.test"), &json!(true)));
    let page = b.send(get("/admin/webhooks?sent=1", &cookie)).await.json.as_str().expect("html").to_owned();
    let id = log[0]["id"].as_str().expect("id");
    assert!(
        page.contains("Test event queued") && page.contains(&format!("data-webhook-id=\"{id}\"")),
        "{page}"
    );
    assert!(page.contains("delivered") && page.contains("HTTP 204"), "the log row shows the outcome: {page}");

    let rotated = post("/admin/webhooks/rotate", format!("csrf={csrf}&overlap=3600")).await;
    let html = rotated.json.as_str().expect("html");
    let new_secret = shown_secret(html).expect("the new secret is shown");
    assert_ne!(new_secret, secret);
    assert!(html.contains("The previous secret also signs until"), "{html}");
    let stored = b.state.store.webhook_endpoint(&b.workspace.id).await.expect("store").expect("endpoint");
    let until = stored.previous.expect("the old secret still signs").1;
    assert!((3500..=3700).contains(&(until - patchbay_broker::ids::now_unix())), "an hour's overlap");
}
