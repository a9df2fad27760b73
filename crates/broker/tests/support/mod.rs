//! In-process test harness: a broker on a temporary SQLite file, driven through its router.

#![allow(dead_code)] // each test binary uses a different subset

pub mod oidc;
pub mod postgres;
pub mod receiver;
pub mod replicas;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use patchbay_broker::catalog::Catalog;
use patchbay_broker::config::Config;
use patchbay_broker::crypto::Keyring;
use patchbay_broker::store::Workspace;
use patchbay_broker::{create_workspace, open_store, router, AppState};
use serde_json::Value;
use tower::ServiceExt;

/// A loopback port nothing listens on (for a child process to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// The browser origin test sessions allow.
pub const ORIGIN: &str = "http://app.test";

/// A broker under test.
pub struct TestBroker {
    pub state: Arc<AppState>,
    pub router: Router,
    pub dir: Arc<tempfile::TempDir>,
    pub workspace: Workspace,
    pub secret_key: String,
    key_entry: String,
    catalog: String,
    vars: Vec<(String, String)>,
}

fn assemble(
    catalog: &str,
    vars: &[(String, String)],
    config: Config,
    store: Arc<dyn patchbay_broker::store::Store>,
    key_entry: &str,
) -> Arc<AppState> {
    let catalog = Catalog::parse(catalog, "test-catalog.toml", |name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .expect("test catalog is valid");
    let keyring = Keyring::parse(key_entry).expect("keyring");
    AppState::new(config, catalog, store, keyring).expect("state")
}

/// A non-JSON body (an HTML page) as a JSON string, so tests can search it.
fn text(bytes: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

/// The response of one call.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
}

impl Reply {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("<no error code>")
    }

    /// The body without the error's request id (which names each request), for comparing the
    /// answers of two requests.
    pub fn without_request_id(&self) -> Value {
        let mut json = self.json.clone();
        if let Some(error) = json["error"].as_object_mut() {
            error.remove("requestId");
        }
        json
    }

    /// Whether the body, apart from its request id, holds `text`: for what an answer must not
    /// echo. The id is random, so it may hold any short text by chance (`req_…mU-1I8ow`).
    pub fn echoes(&self, text: &str) -> bool {
        self.without_request_id().to_string().contains(text)
    }
}

/// The address of the real httpbin the test command started.
pub fn httpbin_url() -> String {
    std::env::var("PATCHBAY_TEST_HTTPBIN_URL").unwrap_or_else(|_| {
        panic!("PATCHBAY_TEST_HTTPBIN_URL is not set: run the suite with `cargo xtask test`, which starts httpbin")
    })
}

impl TestBroker {
    /// A broker with `catalog` (where `${HTTPBIN}` is the real httpbin's URL), allowing loopback
    /// upstreams unless `strict`.
    pub async fn with_catalog(catalog: &str, strict: bool) -> TestBroker {
        let vars = vec![("HTTPBIN".to_owned(), httpbin_url())];
        TestBroker::start(catalog, vars, |c| c.allow_loopback_upstreams = !strict).await
    }

    /// A broker with `catalog` whose `${NAME}`s come from `vars`, and `configure`d settings (on top of
    /// loopback upstreams allowed and the OAuth test redirect URI).
    pub async fn start(
        catalog: &str,
        vars: Vec<(String, String)>,
        configure: impl FnOnce(&mut Config),
    ) -> TestBroker {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let key_entry = Keyring::generate_entry("k1");
        let mut config = Config {
            database_url: format!("sqlite://{}/broker.db", dir.path().display()),
            allow_loopback_upstreams: true,
            public_url: Some(url::Url::parse("http://127.0.0.1:9").expect("url")),
            ..Config::default()
        };
        configure(&mut config);
        let store = open_store(&config.database_url, Duration::from_secs(config.account_cache_seconds))
            .await
            .expect("store");
        let (workspace, secret_key) =
            create_workspace(store.as_ref(), "Test workspace").await.expect("workspace");
        let state = assemble(catalog, &vars, config, store, &key_entry);
        TestBroker {
            router: router(state.clone()),
            state,
            dir,
            workspace,
            secret_key,
            key_entry,
            catalog: catalog.to_owned(),
            vars,
        }
    }

    /// A second broker on the same database and keys, as another replica behind a load balancer
    /// would be (its own connection pool, its own in-process locks).
    pub async fn replica(&self) -> TestBroker {
        let config = self.state.config.clone();
        let store = open_store(&config.database_url, Duration::from_secs(config.account_cache_seconds))
            .await
            .expect("store");
        let state = assemble(&self.catalog, &self.vars, config, store, &self.key_entry);
        TestBroker {
            router: router(state.clone()),
            state,
            dir: self.dir.clone(),
            workspace: self.workspace.clone(),
            secret_key: self.secret_key.clone(),
            key_entry: self.key_entry.clone(),
            catalog: self.catalog.clone(),
            vars: self.vars.clone(),
        }
    }

    /// The owner key of `user` in this broker's workspace.
    pub fn owner(&self, user: &str) -> patchbay_broker::store::Owner {
        patchbay_broker::store::Owner { workspace_id: self.workspace.id.clone(), user_id: user.to_owned() }
    }

    /// Sends a request. `auth` is the bearer value; `body` is sent as JSON.
    pub async fn call(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(path).header("origin", ORIGIN);
        if let Some(auth) = auth {
            request = request.header("authorization", format!("Bearer {auth}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| text(&bytes))
        };
        Reply { status, headers, json }
    }

    /// A session token for `user`, minted through the HTTP endpoint.
    pub async fn session(&self, user: &str) -> String {
        let reply = self
            .call(
                Method::POST,
                "/v1/sessions",
                Some(&self.secret_key.clone()),
                Some(serde_json::json!({ "userId": user, "allowedOrigins": [ORIGIN] })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        reply.json["token"].as_str().expect("token").to_owned()
    }

    /// Invokes `function` as the session's user; `request` is the whole body (`args`, and
    /// `connectedAccountId` or `cursor` when needed).
    pub async fn invoke(&self, token: &str, function: &str, request: Value) -> Reply {
        self.call(Method::POST, &format!("/v1/functions/{function}/invoke"), Some(token), Some(request)).await
    }

    /// Connects `app` with `fields` as the session's user.
    pub async fn connect(&self, token: &str, app: &str, fields: Value) -> Reply {
        self.call(
            Method::POST,
            &format!("/v1/apps/{app}/connect"),
            Some(token),
            Some(serde_json::json!({ "fields": fields })),
        )
        .await
    }

    /// The session user's accounts for `app`.
    pub async fn accounts(&self, token: &str, app: &str) -> Vec<Value> {
        let reply = self.call(Method::GET, &format!("/v1/apps/{app}/accounts"), Some(token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
        reply.json["accounts"].as_array().cloned().unwrap_or_default()
    }

    /// Every byte the database has on disk (main file, WAL and shared memory).
    pub fn raw_database(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["broker.db", "broker.db-wal", "broker.db-shm"] {
            if let Ok(content) = std::fs::read(self.dir.path().join(name)) {
                bytes.extend(content);
            }
        }
        bytes
    }
}
