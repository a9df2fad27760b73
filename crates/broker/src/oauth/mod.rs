//! OAuth 2.0 authorization code flow with PKCE, and the token endpoint.

pub mod clients;
pub mod connect;
pub mod refresh;
pub mod steps;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::catalog::{ClientAuth, Endpoint, OAuth2, OAuthClient, TokenBody, TokenShape};
use crate::credentials::Credentials;
use crate::ids::now_unix;
use crate::net::{transport_failure, Upstreams};

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

/// What an authorize request asks for besides the app's fixed settings.
pub struct AuthorizeRequest<'a> {
    /// The broker's callback.
    pub redirect_uri: &'a str,
    /// The one-time state.
    pub state: &'a str,
    /// The PKCE challenge (sent unless the app turns PKCE off).
    pub challenge: &'a str,
    /// Scopes for this client.
    pub scopes: &'a [String],
    /// The user already has an account of this app and connects another one: add the app's
    /// `select_account_params` so the provider asks which identity to use.
    pub another_account: bool,
    /// The connect-time values typed for this connection (for per-account endpoints).
    pub values: &'a Credentials,
}

/// The provider URL the user is sent to; fails when a per-account endpoint lacks its values. The
/// browser, not the broker, follows it, so the address rules apply only to the token endpoint.
pub fn authorize_url(
    config: &OAuth2,
    client: &OAuthClient,
    request: &AuthorizeRequest<'_>,
) -> Result<Url, String> {
    let mut url = config.authorize_url.resolve(request.values)?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("state", request.state);
        if config.pkce {
            query
                .append_pair("code_challenge", request.challenge)
                .append_pair("code_challenge_method", "S256");
        }
        if !request.scopes.is_empty() {
            query.append_pair("scope", &request.scopes.join(&config.scope_separator));
        }
        let extra = request.another_account.then_some(&config.select_account_params);
        for (name, value) in config.authorize_params.iter().chain(extra.into_iter().flatten()) {
            query.append_pair(name, value);
        }
    }
    Ok(url)
}

/// Where a request to `endpoint` goes for an account with `values`, and through which client: a
/// per-account endpoint is held to the address rules of a URL the user typed.
fn route<'a>(
    upstreams: &'a Upstreams,
    endpoint: &Endpoint,
    values: &Credentials,
) -> Result<(Url, &'a reqwest::Client), TokenError> {
    match endpoint {
        Endpoint::Fixed(url) => Ok((url.clone(), &upstreams.trusted)),
        Endpoint::PerAccount { .. } => {
            let url = endpoint.resolve(values).map_err(TokenError::NotAllowed)?;
            upstreams
                .policy
                .check_url(&url)
                .map_err(|blocked| TokenError::NotAllowed(blocked.to_string()))?;
            Ok((url, &upstreams.guarded))
        }
    }
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
    /// A per-account endpoint resolves to an address the broker does not call.
    #[error("the provider's address is not allowed ({0})")]
    NotAllowed(String),
}

impl TokenError {
    /// True for `invalid_grant`: the code or refresh token is no longer valid.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::Rejected { error, .. } if error == "invalid_grant")
    }
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

/// Calls the token endpoint with `params` and the client's authentication, encoded and with the
/// headers the app's token shape asks for; answers the JSON of a 2xx.
async fn token_request(
    http: &reqwest::Client,
    endpoint: &Url,
    config: &OAuth2,
    client: &OAuthClient,
    params: &[(&str, &str)],
    timeout: Option<Duration>,
) -> Result<serde_json::Value, TokenError> {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let mut request = http.post(endpoint.clone()).header("accept", "application/json");
    if let Some(timeout) = timeout {
        request = request.timeout(timeout);
    }
    for (name, value) in &config.token.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    match config.client_auth {
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
    request = match config.token.body {
        TokenBody::Form => request.form(&form),
        TokenBody::Json => request.json(
            &form.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect::<serde_json::Map<_, _>>(),
        ),
    };
    let response = request.send().await.map_err(|e| {
        if crate::net::is_blocked(&e) {
            return TokenError::NotAllowed("resolves to a private, loopback or reserved address".into());
        }
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
        // RFC 7009 revocation answers 200 with an empty body.
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
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

/// Reads a token answer through the app's token shape. `previous` (on refresh) supplies what a
/// provider leaves out of a refresh answer: the old refresh token (a provider that does not rotate
/// returns none, and the old one stays valid) and the values kept from the first answer.
fn into_tokens(
    shape: &TokenShape,
    answer: &Value,
    previous: Option<&Credentials>,
) -> Result<Tokens, TokenError> {
    let text = |pointer: &str| match answer.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let Some(access_token) = text(&shape.access_token) else {
        // Some providers (Slack) answer errors with a 200 and `{"ok": false, "error": "…"}`.
        if let Some(error) = answer.get("error").and_then(Value::as_str) {
            return Err(TokenError::Rejected {
                error: error.to_owned(),
                description: answer.get("error_description").and_then(Value::as_str).map(str::to_owned),
                status: 200,
            });
        }
        return Err(TokenError::Malformed(format!("no access token at `{}`", shape.access_token)));
    };
    if let Some(kind) = text(&shape.token_type) {
        let accepted = kind.eq_ignore_ascii_case("bearer")
            || shape.token_types.iter().any(|t| t.eq_ignore_ascii_case(&kind));
        if !accepted {
            return Err(TokenError::Malformed(format!("token_type `{kind}` is not Bearer")));
        }
    }
    let expires_in = text(&shape.expires_in).and_then(|t| t.trim().parse::<i64>().ok());
    let mut credentials = Credentials::default();
    credentials.insert("access_token", access_token);
    let refresh = text(&shape.refresh_token).or_else(|| previous?.get("refresh_token").map(str::to_owned));
    if let Some(refresh) = refresh {
        credentials.insert("refresh_token", refresh);
    }
    if let Some(scope) = text(&shape.scope) {
        credentials.insert("scope", scope);
    }
    for (name, pointer) in &shape.values {
        let value = text(pointer).or_else(|| previous?.get(name).map(str::to_owned));
        match value {
            Some(value) => credentials.insert(name, value),
            None => return Err(TokenError::Malformed(format!("no `{name}` at `{pointer}`"))),
        }
    }
    Ok(Tokens {
        credentials,
        expires_at: expires_in.filter(|s| *s > 0).map(|s| now_unix().saturating_add(s)),
    })
}

/// Exchanges an authorization code. Never retried: a code is single-use, and some providers
/// revoke every token of a grant whose code is presented twice.
pub async fn exchange_code(
    upstreams: &Upstreams,
    config: &OAuth2,
    client: &OAuthClient,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    values: &Credentials,
) -> Result<Tokens, TokenError> {
    let (url, http) = route(upstreams, &config.token_url, values)?;
    let mut params =
        vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)];
    if config.pkce {
        params.push(("code_verifier", verifier));
    }
    into_tokens(&config.token, &token_request(http, &url, config, client, &params, None).await?, None)
}

/// Redeems a bare refresh token (see [`refresh_credentials`]).
pub async fn refresh(
    upstreams: &Upstreams,
    config: &OAuth2,
    client: &OAuthClient,
    refresh_token: &str,
    timeout: Duration,
) -> Result<Tokens, TokenError> {
    let mut previous = Credentials::default();
    previous.insert("refresh_token", refresh_token.to_owned());
    refresh_credentials(upstreams, config, client, &previous, timeout).await
}

/// Redeems the refresh token of an account's `previous` credentials, waiting up to `timeout` for
/// the answer. Retried (twice, with backoff) only when the request cannot have reached the provider
/// ([`TokenError::NotSent`]): a provider that received it may have rotated the token, and
/// presenting the old one again makes many providers revoke the whole grant. What the answer does
/// not carry (the refresh token of a provider that does not rotate, connect-time and token values)
/// is kept from `previous`.
pub async fn refresh_credentials(
    upstreams: &Upstreams,
    config: &OAuth2,
    client: &OAuthClient,
    previous: &Credentials,
    timeout: Duration,
) -> Result<Tokens, TokenError> {
    let (url, http) = route(upstreams, &config.token_url, previous)?;
    let refresh_token = previous.get("refresh_token").unwrap_or_default();
    let params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    let mut delay = Duration::from_millis(200);
    let mut tries = 0;
    loop {
        tries += 1;
        match token_request(http, &url, config, client, &params, Some(timeout)).await {
            Ok(answer) => {
                let mut tokens = into_tokens(&config.token, &answer, Some(previous))?;
                tokens.credentials.keep_missing(previous);
                return Ok(tokens);
            }
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
    upstreams: &Upstreams,
    config: &OAuth2,
    client: &OAuthClient,
    token: &str,
    hint: &str,
    values: &Credentials,
) -> Result<(), TokenError> {
    let Some(revoke_url) = &config.revoke_url else { return Ok(()) };
    let (url, http) = route(upstreams, revoke_url, values)?;
    let params = [("token", token), ("token_type_hint", hint)];
    match token_request(http, &url, config, client, &params, None).await {
        // Any 2xx is a revocation, whatever its body.
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
        let upstreams =
            Upstreams::new(crate::net::AddressPolicy { allow_loopback: true }, Duration::from_secs(5))
                .expect("clients");
        refresh(&upstreams, oauth, client, "rt-1", Duration::from_secs(5)).await.err().expect("fails")
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

    fn tokens(shape: &TokenShape, json: &str, previous: Option<&Credentials>) -> Result<Tokens, TokenError> {
        into_tokens(shape, &serde_json::from_str(json).expect("token answer"), previous)
    }

    #[test]
    fn token_responses_keep_the_old_refresh_token_and_tolerate_odd_fields() {
        let standard = TokenShape::default();
        let mut old = Credentials::default();
        old.insert("refresh_token", "r0".into());
        let t = tokens(
            &standard,
            r#"{"access_token":"a","token_type":"bearer","expires_in":"60","x":1}"#,
            Some(&old),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.credentials.get("refresh_token"), Some("r0"));
        assert!(t.expires_at.is_some_and(|e| e > now_unix() + 50));
        let rotated = tokens(&standard, r#"{"access_token":"a","refresh_token":"r1"}"#, Some(&old))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((rotated.credentials.get("refresh_token"), rotated.expires_at), (Some("r1"), None));
        assert!(tokens(&standard, r#"{"access_token":"a","token_type":"mac"}"#, None).is_err());
        assert!(tokens(&standard, r#"{"access_token":""}"#, None).is_err());
    }

    #[test]
    fn shaped_answers_read_nested_tokens_values_and_200_errors() {
        let slack = TokenShape {
            access_token: "/authed_user/access_token".into(),
            token_type: "/authed_user/token_type".into(),
            token_types: vec!["user".into()],
            values: vec![("team".into(), "/team/id".into())],
            ..TokenShape::default()
        };
        let t = tokens(
            &slack,
            r#"{"ok":true,"access_token":"xoxb","token_type":"bot","team":{"id":"T1"},"authed_user":{"access_token":"xoxp","token_type":"user"}}"#,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.credentials.get("access_token"), t.credentials.get("team")),
            (Some("xoxp"), Some("T1"))
        );
        let refused = tokens(&slack, r#"{"ok":false,"error":"invalid_code"}"#, None);
        assert!(matches!(refused, Err(TokenError::Rejected { ref error, .. }) if error == "invalid_code"));
        // A refresh answer without the value keeps the first answer's.
        let kept = tokens(&slack, r#"{"authed_user":{"access_token":"xoxp2"}}"#, Some(&t.credentials))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.credentials.get("team"), Some("T1"));
        assert!(tokens(&slack, r#"{"authed_user":{"access_token":"x"}}"#, None).is_err(), "value required");
    }
}
