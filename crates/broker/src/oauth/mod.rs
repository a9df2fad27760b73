//! OAuth 2.0 authorization code flow with PKCE, and the token endpoint.

pub mod clients;
pub mod connect;
pub mod refresh;
pub mod steps;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::catalog::{ClientAuth, OAuth2, OAuthClient};
use crate::credentials::Credentials;
use crate::ids::now_unix;
use crate::net::transport_failure;

/// A PKCE pair (RFC 7636, S256).
pub struct Pkce {
    /// The secret kept by the broker until the exchange.
    pub verifier: String,
    /// `BASE64URL(SHA256(verifier))`, sent with the authorize request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair with a 256-bit verifier.
    pub fn generate() -> Pkce {
        let verifier = crate::ids::random_token(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce { verifier, challenge }
    }
}

/// The provider URL the user is sent to.
pub fn authorize_url(
    config: &OAuth2,
    client: &OAuthClient,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    scopes: &[String],
) -> Url {
    let mut url = config.authorize_url.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        if !scopes.is_empty() {
            query.append_pair("scope", &scopes.join(&config.scope_separator));
        }
        for (name, value) in &config.authorize_params {
            query.append_pair(name, value);
        }
    }
    url
}

/// What the token endpoint answered, when it was not a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// An OAuth error response (`invalid_grant`, `invalid_client`…).
    #[error("the provider answered {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Rejected {
        /// The OAuth `error`.
        error: String,
        /// The provider's `error_description`.
        description: Option<String>,
        /// HTTP status.
        status: u16,
    },
    /// The request never reached the provider (connection refused, DNS, TLS handshake): safe to
    /// send again, even with a refresh token that rotates.
    #[error("the provider could not be reached ({0})")]
    NotSent(String),
    /// The provider may have received the request but gave no usable answer (timeout, reset, a
    /// 5xx, a body cut off). It may have rotated the refresh token meanwhile, so the same request
    /// is not sent again.
    #[error("the provider did not answer usably ({0})")]
    Unavailable(String),
    /// A 2xx answer that is not a usable token response.
    #[error("the provider's token response is unusable ({0})")]
    Malformed(String),
}

impl TokenError {
    /// True for `invalid_grant`: the code or refresh token is no longer valid.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::Rejected { error, .. } if error == "invalid_grant")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(i64),
    Text(String),
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: Option<String>,
    expires_in: Option<Seconds>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    error_description: Option<String>,
}

/// Tokens from the token endpoint, with the absolute expiry of the access token when the
/// provider gave one.
pub struct Tokens {
    /// Credentials map: `access_token`, `refresh_token` (when known), `token_type`, `scope`.
    pub credentials: Credentials,
    /// Unix time the access token expires, if the provider said.
    pub expires_at: Option<i64>,
}

/// Calls the token endpoint with `params` and the client's authentication.
async fn token_request(
    http: &reqwest::Client,
    endpoint: &Url,
    client_auth: ClientAuth,
    client: &OAuthClient,
    params: &[(&str, &str)],
    timeout: Option<Duration>,
) -> Result<TokenResponse, TokenError> {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let mut request = http.post(endpoint.clone()).header("accept", "application/json");
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    match client_auth {
        ClientAuth::ClientSecretBasic => {
            // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(&client.id), Some(encode(&client.secret)));
        }
        ClientAuth::ClientSecretPost => {
            form.push(("client_id", &client.id));
            form.push(("client_secret", &client.secret));
        }
    }
    let response = request.form(&form).send().await.map_err(|e| {
        let failure = transport_failure(e);
        tracing::warn!(cause = failure.cause.as_str(), not_sent = failure.not_sent, error = %failure.detail, "token endpoint request failed");
        if failure.not_sent {
            TokenError::NotSent(failure.to_string())
        } else {
            TokenError::Unavailable(failure.to_string())
        }
    })?;
    let status = response.status();
    let body =
        response.bytes().await.map_err(|e| TokenError::Unavailable(transport_failure(e).to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| TokenError::Malformed(e.to_string()));
    }
    match serde_json::from_slice::<ErrorResponse>(&body) {
        Ok(err) => Err(TokenError::Rejected {
            error: err.error,
            description: err.error_description,
            status: status.as_u16(),
        }),
        Err(_) if status.is_server_error() => Err(TokenError::Unavailable(format!("HTTP {status}"))),
        Err(_) => Err(TokenError::Rejected {
            error: format!("http_{}", status.as_u16()),
            description: None,
            status: status.as_u16(),
        }),
    }
}

fn into_tokens(response: TokenResponse, previous_refresh_token: Option<&str>) -> Result<Tokens, TokenError> {
    if response.access_token.is_empty() {
        return Err(TokenError::Malformed("empty access_token".into()));
    }
    if let Some(kind) = &response.token_type {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::Malformed(format!("token_type `{kind}` is not Bearer")));
        }
    }
    let expires_in = match response.expires_in {
        Some(Seconds::Number(n)) => Some(n),
        Some(Seconds::Text(t)) => t.trim().parse().ok(),
        None => None,
    };
    let mut credentials = Credentials::default();
    credentials.insert("access_token", response.access_token);
    // A provider that does not rotate returns no refresh token: the old one stays valid.
    if let Some(refresh) =
        response.refresh_token.filter(|r| !r.is_empty()).or(previous_refresh_token.map(str::to_owned))
    {
        credentials.insert("refresh_token", refresh);
    }
    if let Some(scope) = response.scope {
        credentials.insert("scope", scope);
    }
    Ok(Tokens {
        credentials,
        expires_at: expires_in.filter(|s| *s > 0).map(|s| now_unix().saturating_add(s)),
    })
}

/// Exchanges an authorization code. Never retried: a code is single-use, and some providers
/// revoke every token of a grant whose code is presented twice.
pub async fn exchange_code(
    http: &reqwest::Client,
    config: &OAuth2,
    client: &OAuthClient,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<Tokens, TokenError> {
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    into_tokens(
        token_request(http, &config.token_url, config.client_auth, client, &params, None).await?,
        None,
    )
}

/// Redeems a refresh token, waiting up to `timeout` for the answer. Retried (twice, with backoff)
/// only when the request cannot have reached the provider ([`TokenError::NotSent`]): a provider
/// that received it may have rotated the token, and presenting the old one again makes many
/// providers revoke the whole grant.
pub async fn refresh(
    http: &reqwest::Client,
    config: &OAuth2,
    client: &OAuthClient,
    refresh_token: &str,
    timeout: Duration,
) -> Result<Tokens, TokenError> {
    let params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    let mut delay = Duration::from_millis(200);
    let mut tries = 0;
    loop {
        tries += 1;
        match token_request(http, &config.token_url, config.client_auth, client, &params, Some(timeout)).await
        {
            Ok(response) => return into_tokens(response, Some(refresh_token)),
            Err(TokenError::NotSent(reason)) if tries < 3 => {
                tracing::warn!(%reason, tries, "token refresh failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Revokes a token at the provider (RFC 7009). Best effort: the caller logs failures.
pub async fn revoke(
    http: &reqwest::Client,
    config: &OAuth2,
    client: &OAuthClient,
    token: &str,
    hint: &str,
) -> Result<(), TokenError> {
    let Some(revoke_url) = &config.revoke_url else { return Ok(()) };
    let params = [("token", token), ("token_type_hint", hint)];
    match token_request(http, revoke_url, config.client_auth, client, &params, None).await {
        // RFC 7009 answers 200 with an empty body, which is not a token response.
        Ok(_) | Err(TokenError::Malformed(_)) => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A catalog with one OAuth app whose token endpoint is `token_url`.
    fn settings(token_url: &str) -> crate::catalog::Catalog {
        let source = format!(
            "[apps.p]\nname = \"P\"\nauth = \"oauth2\"\nbase_url = \"http://127.0.0.1:9\"\n\
             oauth2 = {{ authorize_url = \"http://127.0.0.1:9/auth\", token_url = \"{token_url}\", client_id = \"c\", client_secret = \"s\" }}\n"
        );
        crate::catalog::Catalog::parse(&source, "t.toml", |_| None).expect("catalog")
    }

    async fn refresh_at(catalog: &crate::catalog::Catalog) -> TokenError {
        let oauth = catalog.app("p").and_then(|a| a.oauth2.as_ref()).expect("oauth2");
        let client = oauth.default_client.as_ref().expect("client");
        refresh(&reqwest::Client::new(), oauth, client, "rt-1", Duration::from_secs(5))
            .await
            .err()
            .expect("fails")
    }

    #[tokio::test]
    async fn a_refresh_the_provider_received_is_never_sent_again() {
        // A token endpoint failing with 500 after reading the request: it may have rotated the
        // refresh token, so the broker must not present it twice.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(mut socket) = socket else { return };
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf);
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = socket.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                );
            }
        });
        let err = refresh_at(&settings(&format!("http://127.0.0.1:{port}/token"))).await;
        assert!(matches!(err, TokenError::Unavailable(_)), "{err}");
        assert_eq!(requests.load(Ordering::SeqCst), 1, "sent once");
    }

    #[tokio::test]
    async fn a_refresh_that_never_left_is_tried_again() {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let err = refresh_at(&settings(&format!("http://127.0.0.1:{port}/token"))).await;
        assert!(matches!(&err, TokenError::NotSent(reason) if reason.starts_with("refused")), "{err}");
    }

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        let pkce = Pkce::generate();
        assert_eq!(pkce.verifier.len(), 43, "32 random bytes, base64url");
        assert_eq!(pkce.challenge, URL_SAFE_NO_PAD.encode(Sha256::digest(pkce.verifier.as_bytes())));
        assert_ne!(Pkce::generate().verifier, pkce.verifier);
    }

    fn response(json: &str) -> TokenResponse {
        serde_json::from_str(json).expect("token response")
    }

    #[test]
    fn token_responses_keep_the_old_refresh_token_and_tolerate_odd_fields() {
        let t = into_tokens(
            response(r#"{"access_token":"a","token_type":"bearer","expires_in":"60","x":1}"#),
            Some("r0"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.credentials.get("refresh_token"), Some("r0"));
        assert!(t.expires_at.is_some_and(|e| e > now_unix() + 50));
        let rotated = into_tokens(response(r#"{"access_token":"a","refresh_token":"r1"}"#), Some("r0"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((rotated.credentials.get("refresh_token"), rotated.expires_at), (Some("r1"), None));
        assert!(into_tokens(response(r#"{"access_token":"a","token_type":"mac"}"#), None).is_err());
        assert!(into_tokens(response(r#"{"access_token":""}"#), None).is_err());
    }
}
