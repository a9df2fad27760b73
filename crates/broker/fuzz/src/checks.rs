//! What each fuzz target checks, as plain functions of the input bytes. The fuzz targets
//! (`fuzz_targets/`, run by `cargo xtask fuzz`) call them with generated inputs; the broker's test
//! run replays the committed corpus through the same functions (`tests/fuzz_corpus.rs`), so a
//! crash, once its input is in the corpus, stays a regression test.
//!
//! Each check fails by panicking: on a panic inside the broker, or on an answer that breaks a rule
//! (a 500, or an error outside the JSON error format).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use patchbay_broker::catalog::{Catalog, Template};
use patchbay_broker::config::Config;
use patchbay_broker::crypto::Keyring;
use patchbay_broker::sessions::{sign, verify, Claims, VerifiedTokens};
use patchbay_broker::{create_workspace, open_store, router, AppState};
use patchbay_protocol::SessionRequest;
use serde_json::Value;
use tower::ServiceExt;

/// A target's check.
pub type Check = fn(&[u8]);

/// Every target, by the name `cargo xtask fuzz` and the corpus folders use.
pub const TARGETS: [(&str, Check); 5] = [
    ("catalog", catalog),
    ("template", template),
    ("session_token", session_token),
    ("callback_query", callback_query),
    ("json_bodies", json_bodies),
];

/// A fixed key, so a crash input reproduces.
const KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The catalog loader: any text is a catalog or an error naming where, never a panic; a loaded
/// catalog's functions validate an empty argument object without panicking either.
pub fn catalog(data: &[u8]) {
    let source = text(data);
    if let Ok(catalog) = Catalog::parse(&source, "fuzz.toml", |name| Some(format!("v-{name}"))) {
        for app in catalog.apps() {
            assert!(catalog.find_app(&app.id).is_ok());
            for function in &app.functions {
                let _ = function.validator.is_valid(&serde_json::json!({}));
                let found =
                    catalog.find_function(&function.name).expect("a loaded function is found by name");
                assert_eq!(found.1.name, function.name);
            }
        }
    }
}

/// The template renderer: parsing never panics, and rendering agrees with the placeholders.
pub fn template(data: &[u8]) {
    let source = text(data);
    let Ok(template) = Template::parse(&source) else { return };
    let rendered = template.render(|_| Some("v"));
    let all: Option<String> = template.try_render(|_| Some(std::borrow::Cow::Borrowed("v")));
    assert_eq!(all.as_deref(), Some(rendered.as_str()), "render and try_render agree");
    if template.vars().next().is_some() {
        assert_eq!(template.try_render(|_| None), None, "a missing value renders nothing");
    }
    if template.sole_var().is_some() {
        assert_eq!(rendered, "v", "a sole placeholder renders as its value alone");
    }
}

/// Session tokens: any text verifies or is refused without a panic, and a token signed for claims
/// made of the input verifies to exactly those claims, and stops verifying when a byte changes, also
/// once the genuine token is remembered as verified.
pub fn session_token(data: &[u8]) {
    let keyring = Keyring::parse(KEY).expect("the fixed key");
    let input = text(data);
    let _ = verify(&keyring, &input, 1_000);
    let claims = Claims {
        kid: "k1".into(),
        ws: input.chars().take(40).collect(),
        sub: input.clone(),
        origins: vec![input.chars().rev().collect()],
        iat: 0,
        exp: 2_000,
    };
    let token = sign(&keyring, &claims).expect("signing");
    assert_eq!(verify(&keyring, &token, 1_000).as_ref(), Ok(&claims));
    // Once the genuine token is remembered, a changed one must still be checked, and refused.
    let remembered = VerifiedTokens::default();
    assert_eq!(remembered.verify(&keyring, &token, 1_000).as_deref(), Ok(&claims));
    if let Some(&first) = data.first() {
        let mut bytes = token.into_bytes();
        let at = usize::from(first) % bytes.len();
        let flipped = if bytes[at] == b'A' { b'B' } else { b'A' };
        bytes[at] = flipped;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        assert_ne!(verify(&keyring, &tampered, 1_000).as_ref(), Ok(&claims), "a changed byte never verifies");
        assert_ne!(
            remembered.verify(&keyring, &tampered, 1_000).as_deref(),
            Ok(&claims),
            "a changed byte never matches a remembered token"
        );
    }
}

/// One broker in this process, on a SQLite file, shared by the HTTP targets.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    secret_key: String,
    /// A user with no accounts (invoke stops after validation, before any upstream call).
    session: String,
    _dir: tempfile::TempDir,
}

const CATALOG: &str = r#"
[apps.notes]
name = "Notes"
auth = "api_key"
base_url = "http://127.0.0.1:9"
inject = { headers = { X-Api-Key = "{api_key}" } }
functions.create = { method = "POST", path = "/notes/{args.id}", headers = { X-Trace = "{args.trace}" }, body = { text = "{args.text}" }, parameters = { type = "object", required = ["id"], properties = { id = { type = "string" }, trace = { type = "string" }, text = { type = "string", maxLength = 50 } } } }
"#;

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            database_url: format!("sqlite://{}/fuzz.db", dir.path().display()),
            public_url: Some(url::Url::parse("http://127.0.0.1:9").expect("url")),
            ..Config::default()
        };
        let keyring = Keyring::parse(KEY).expect("key");
        let (router, secret_key, session) = runtime.block_on(async {
            let store = open_store(&config.database_url, Duration::from_secs(config.account_cache_seconds))
                .await
                .expect("store");
            let (workspace, secret_key) = create_workspace(store.as_ref(), "Fuzz").await.expect("workspace");
            let request = SessionRequest {
                user_id: "fuzz".into(),
                ttl_seconds: Some(86_400),
                allowed_origins: Vec::new(),
            };
            let session = patchbay_broker::sessions::mint(&config, &keyring, &workspace.id, request)
                .expect("session")
                .token;
            let catalog = Catalog::parse(CATALOG, "fuzz.toml", |_| None).expect("catalog");
            let state: Arc<AppState> = AppState::new(config, catalog, store, keyring).expect("state");
            (router(state), secret_key, session)
        });
        Harness { runtime, router, secret_key, session, _dir: dir }
    })
}

/// Sends one request; panics on a 500 or an error that is not in the JSON error format.
fn send(request: Request<Body>, html_ok: bool) -> StatusCode {
    let h = harness();
    let (status, content_type, body) = h.runtime.block_on(async {
        let response = h.router.clone().oneshot(request).await.expect("infallible router");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, content_type, body)
    });
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{}", String::from_utf8_lossy(&body));
    if content_type.starts_with("text/html") {
        assert!(html_ok, "an HTML answer where JSON was due");
    } else if status.is_client_error() || status.is_server_error() {
        let json: Value = serde_json::from_slice(&body).expect("errors are JSON");
        assert!(json["error"]["code"].is_string(), "{json}");
        assert!(json["error"]["message"].is_string(), "{json}");
    }
    status
}

/// The OAuth callback's query handling: any query string gets a page, a redirect or a JSON error.
pub fn callback_query(data: &[u8]) {
    let query = text(data);
    let Ok(request) = Request::get(format!("/oauth/callback?{query}")).body(Body::empty()) else { return };
    let status = send(request, true);
    assert!(matches!(status.as_u16(), 200 | 303 | 400), "{status}");
}

/// The JSON body extractors of the backend-, SDK- and admin-facing routes.
pub fn json_bodies(data: &[u8]) {
    let h = harness();
    let routes = [
        (Method::POST, "/v1/sessions", h.secret_key.as_str()),
        (Method::POST, "/v1/functions/notes-create/invoke", h.session.as_str()),
        (Method::PATCH, "/v1/admin/apps/notes", h.secret_key.as_str()),
        (Method::PUT, "/v1/admin/apps/notes/oauth-client", h.secret_key.as_str()),
    ];
    for (method, path, bearer) in routes {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {bearer}"))
            .header("content-type", "application/json")
            .body(Body::from(data.to_vec()))
            .expect("request");
        send(request, false);
    }
}
