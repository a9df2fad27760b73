//! The real `oidc-provider` (npm) as a child process, and a scripted browser that signs in and
//! consents through its real HTML forms.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{Reply, TestBroker};

/// Redirect URI registered at the provider; test brokers use `http://127.0.0.1:9` as public URL
/// and the scripted browser stops at this prefix instead of following it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// One OAuth app on the provider at `${OIDC}` (the default client, basic auth), named by its
/// userinfo, with a `me` function (invoked as `idp-me`) that reads it.
pub const IDP_CATALOG: &str = r#"
[apps.idp]
name = "Identity Provider"
auth = "oauth2"
base_url = "${OIDC}"
verify = { path = "/me", display_name = "/email" }
oauth2 = { authorize_url = "${OIDC}/auth", token_url = "${OIDC}/token", scopes = ["openid", "email", "offline_access"], client_id = "patchbay-basic", client_secret = "basic-secret" }
functions.me = { title = "Who am I", path = "/me" }
"#;

/// A running provider, killed on drop.
pub struct OidcProvider {
    child: Child,
    /// Issuer URL (`http://127.0.0.1:PORT`).
    pub url: String,
}

impl OidcProvider {
    /// Starts a provider whose access tokens live `access_ttl` seconds.
    pub fn start(access_ttl: u32) -> OidcProvider {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let script = format!("{root}/tests/peers/oidc-provider.mjs");
        assert!(
            std::path::Path::new(&format!("{root}/tests/node_modules/oidc-provider")).exists(),
            "oidc-provider is not installed: run `cargo xtask setup`"
        );
        let port = super::free_port();
        let mut child = Command::new("node")
            .arg(&script)
            .env("PORT", port.to_string())
            .env("REDIRECT_URIS", REDIRECT_URI)
            .env("ACCESS_TOKEN_TTL", access_ttl.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the oidc-provider peer");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // The peer prints this line once it accepts connections.
        let ready = lines.by_ref().map_while(Result::ok).any(|line| line.contains("listening on"));
        assert!(ready, "oidc-provider exited before listening");
        // Keep draining stdout so the peer never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        OidcProvider { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// Process id (for SIGSTOP / SIGCONT fault tests).
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// The provider's token-endpoint counters.
    pub async fn stats(&self) -> serde_json::Value {
        reqwest::get(format!("{}/__stats", self.url)).await.expect("stats").json().await.expect("stats json")
    }

    /// How many refresh_token grants succeeded.
    pub async fn refresh_grants(&self) -> u64 {
        self.stats().await["grants"]["refresh_token"].as_u64().unwrap_or(0)
    }

    /// Asks the userinfo endpoint whether `access_token` is valid (200) or not (401).
    pub async fn userinfo_status(&self, access_token: &str) -> u16 {
        reqwest::Client::new()
            .get(format!("{}/me", self.url))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo answers")
            .status()
            .as_u16()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base).and_then(|b| b.join(location)).map(|u| u.to_string()).expect("resolvable URL")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&"))
}

/// Follows the authorize URL as a browser would, signing in as `login` and consenting, and returns
/// the callback URL (the provider's redirect to [`REDIRECT_URI`]) without requesting it.
pub async fn sign_in(authorize_url: &str, login: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut url = authorize_url.to_owned();
    let mut response = browser.get(&url).send().await.expect("provider answers");
    for _ in 0..20 {
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().expect("location").to_owned();
            url = absolute(&url, &location);
            if url.starts_with(REDIRECT_URI) {
                return url;
            }
            response = browser.get(&url).send().await.expect("provider answers");
            continue;
        }
        let page = response.text().await.expect("page");
        let form_start = page.find("<form").unwrap_or_else(|| panic!("no form on the provider page: {page}"));
        let form_tag = &page[form_start..form_start + page[form_start..].find('>').expect("form tag")];
        let action = absolute(&url, &attribute(form_tag, "action").expect("form action"));
        let mut fields: Vec<(String, String)> = page[form_start..]
            .split("<input")
            .skip(1)
            .filter(|input| input.contains("type=\"hidden\""))
            .filter_map(|input| {
                Some((attribute(input, "name")?, attribute(input, "value").unwrap_or_default()))
            })
            .collect();
        if page.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any-password".into()));
        }
        response = browser.post(&action).form(&fields).send().await.expect("form post");
        url = action;
    }
    panic!("the provider never redirected back")
}

/// A broker on `provider`'s [`IDP_CATALOG`] that never refreshes ahead of expiry (a negative
/// margin), so only the provider's 401 can trigger a refresh.
pub async fn refreshing_only_on_401(provider: &OidcProvider) -> TestBroker {
    TestBroker::start(IDP_CATALOG, vec![("OIDC".into(), provider.url.clone())], |c| {
        c.oauth_refresh_margin_seconds = -3600;
    })
    .await
}

/// Starts a connect, signs in at the provider as `login`, and delivers the provider's redirect to
/// the broker's callback. Returns the attempt id and the callback's reply.
pub async fn connect(b: &TestBroker, token: &str, app: &str, login: &str) -> (String, Reply) {
    let started =
        b.call(Method::POST, &format!("/v1/apps/{app}/connect"), Some(token), Some(json!({}))).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.json);
    assert_eq!(started.json["kind"], "authorize");
    let authorize = started.json["authorizeUrl"].as_str().expect("authorizeUrl").to_owned();
    let attempt = started.json["attemptId"].as_str().expect("attemptId").to_owned();
    let callback = sign_in(&authorize, login).await;
    (attempt, deliver(b, &callback).await)
}

pub async fn deliver(b: &TestBroker, callback_url: &str) -> Reply {
    let url = reqwest::Url::parse(callback_url).expect("callback url");
    b.call(Method::GET, &format!("{}?{}", url.path(), url.query().unwrap_or_default()), None, None).await
}

pub async fn attempt(b: &TestBroker, token: &str, id: &str) -> Value {
    b.call(Method::GET, &format!("/v1/connect-attempts/{id}?wait=1"), Some(token), None).await.json
}
