//! The `[apps.<id>.oauth2]` section.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use url::Url;

use super::{parse_base_url, ConnectKind, ConnectValue, FieldProblem, Template};
use crate::credentials::Credentials;

/// An OAuth endpoint: fixed, or per account when it uses connect-time values
/// (`https://{shop}.myshopify.com/admin/oauth/authorize`, `{instance}/oauth/token`).
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// The same URL for everyone.
    Fixed(Url),
    /// Rendered from an account's connect-time values; the result is held to the address rules of
    /// a URL the user typed.
    PerAccount {
        /// The parsed template.
        template: Template,
        /// As written in the catalog (for step logs and the reference).
        source: String,
    },
}

impl Endpoint {
    /// The URL for an account with these `values`.
    pub fn resolve(&self, values: &Credentials) -> Result<Url, String> {
        match self {
            Endpoint::Fixed(url) => Ok(url.clone()),
            Endpoint::PerAccount { template, .. } => {
                let raw = template
                    .try_render(|name| values.get(name).map(std::borrow::Cow::Borrowed))
                    .ok_or("a connect-time value of this endpoint is missing")?;
                parse_endpoint(&raw)
            }
        }
    }

    /// As written in the catalog.
    pub fn as_str(&self) -> &str {
        match self {
            Endpoint::Fixed(url) => url.as_str(),
            Endpoint::PerAccount { source, .. } => source,
        }
    }
}

/// How the broker authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// An OAuth client (developer app) registered at the provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: String,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// A validated OAuth 2.0 app configuration.
#[derive(Debug)]
pub struct OAuth2 {
    /// Authorization endpoint.
    pub authorize_url: Endpoint,
    /// Token endpoint.
    pub token_url: Endpoint,
    /// Revocation endpoint (RFC 7009), when the provider has one.
    pub revoke_url: Option<Endpoint>,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// How the provider wants scopes joined (`" "` by the RFC; some use `","`).
    pub scope_separator: String,
    /// Token endpoint client authentication.
    pub client_auth: ClientAuth,
    /// Extra authorize parameters (`prompt = "consent"`, `access_type = "offline"`…).
    pub authorize_params: Vec<(String, String)>,
    /// The operator's default client, if configured.
    pub default_client: Option<OAuthClient>,
    /// Only a workspace's own client may be used (providers such as Zoom require it).
    pub requires_own_client: bool,
    /// Send a PKCE challenge (default). Off only for providers that refuse the parameters.
    pub pkce: bool,
    /// Extra authorize parameters for connecting another account while one is connected
    /// (`prompt = "select_account"`), so the provider asks which identity instead of silently
    /// re-approving the one signed in.
    pub select_account_params: Vec<(String, String)>,
    /// Where the token answer keeps its parts, and how the token request is encoded.
    pub token: TokenShape,
}

/// How the token request is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenBody {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    #[default]
    Form,
    /// A JSON object (Notion).
    Json,
}

/// The token endpoint's dialect: JSON Pointers into its answer and the request's encoding.
#[derive(Debug, Clone)]
pub struct TokenShape {
    /// Pointer to the access token (`/access_token`; Slack user tokens: `/authed_user/access_token`).
    pub access_token: String,
    /// Pointer to the refresh token.
    pub refresh_token: String,
    /// Pointer to the lifetime in seconds.
    pub expires_in: String,
    /// Pointer to the granted scopes.
    pub scope: String,
    /// Pointer to the token type.
    pub token_type: String,
    /// Token types accepted besides `Bearer` (Slack answers `bot` or `user`; both are bearer tokens).
    pub token_types: Vec<String>,
    /// Values kept with the account, by name, from these pointers (Salesforce's `instance_url`).
    pub values: Vec<(String, String)>,
    /// Request encoding.
    pub body: TokenBody,
    /// Extra request headers (`Notion-Version`).
    pub headers: Vec<(String, String)>,
}

impl Default for TokenShape {
    fn default() -> TokenShape {
        TokenShape {
            access_token: "/access_token".into(),
            refresh_token: "/refresh_token".into(),
            expires_in: "/expires_in".into(),
            scope: "/scope".into(),
            token_type: "/token_type".into(),
            token_types: Vec::new(),
            values: Vec::new(),
            body: TokenBody::Form,
            headers: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokenShape {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<String>,
    scope: Option<String>,
    token_type: Option<String>,
    #[serde(default)]
    token_types: Vec<String>,
    #[serde(default)]
    values: BTreeMap<String, String>,
    #[serde(default)]
    body: TokenBody,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl RawTokenShape {
    fn validate(self) -> Result<TokenShape, FieldProblem> {
        let defaults = TokenShape::default();
        let pointer = |raw: Option<String>, default: String, field: &'static str| match raw {
            Some(p) if !p.starts_with('/') => {
                Err((field, "must be a JSON Pointer such as `/access_token`".into()))
            }
            Some(p) => Ok(p),
            None => Ok(default),
        };
        for (name, p) in &self.values {
            if !p.starts_with('/') {
                return Err(("oauth2.token.values", format!("`{name}` must be a JSON Pointer")));
            }
            if super::RESERVED_VALUE_NAMES.contains(&name.as_str()) {
                return Err(("oauth2.token.values", format!("`{name}` is stored by the broker already")));
            }
        }
        for name in self.headers.keys() {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(("oauth2.token.headers", format!("`{name}` is not a valid header name")));
            }
        }
        Ok(TokenShape {
            access_token: pointer(self.access_token, defaults.access_token, "oauth2.token.access_token")?,
            refresh_token: pointer(self.refresh_token, defaults.refresh_token, "oauth2.token.refresh_token")?,
            expires_in: pointer(self.expires_in, defaults.expires_in, "oauth2.token.expires_in")?,
            scope: pointer(self.scope, defaults.scope, "oauth2.token.scope")?,
            token_type: pointer(self.token_type, defaults.token_type, "oauth2.token.token_type")?,
            token_types: self.token_types,
            values: self.values.into_iter().collect(),
            body: self.body,
            headers: self.headers.into_iter().collect(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    authorize_url: String,
    token_url: String,
    revoke_url: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    scope_separator: Option<String>,
    #[serde(default)]
    client_auth: ClientAuth,
    #[serde(default)]
    authorize_params: BTreeMap<String, String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(default)]
    requires_own_client: bool,
    pkce: Option<bool>,
    #[serde(default)]
    select_account_params: BTreeMap<String, String>,
    token: Option<RawTokenShape>,
}

/// Parameters the broker sets itself; a catalog may not override them.
const RESERVED_PARAMS: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

impl RawOAuth2 {
    pub(super) fn validate(self, connect: &[ConnectValue]) -> Result<OAuth2, FieldProblem> {
        let url = |raw: &str, field: &'static str| endpoint(raw, connect).map_err(|p| (field, p));
        let default_client = match (self.client_id, self.client_secret) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                Some(OAuthClient { id, secret })
            }
            (None, None) => None,
            _ => return Err(("oauth2.client_id", "set both client_id and client_secret, or neither".into())),
        };
        for (field, params) in [
            ("oauth2.authorize_params", &self.authorize_params),
            ("oauth2.select_account_params", &self.select_account_params),
        ] {
            if let Some(reserved) = params.keys().find(|k| RESERVED_PARAMS.contains(&k.as_str())) {
                return Err((field, format!("`{reserved}` is set by the broker")));
            }
        }
        Ok(OAuth2 {
            authorize_url: url(&self.authorize_url, "oauth2.authorize_url")?,
            token_url: url(&self.token_url, "oauth2.token_url")?,
            revoke_url: self.revoke_url.as_deref().map(|r| url(r, "oauth2.revoke_url")).transpose()?,
            scopes: self.scopes,
            scope_separator: self.scope_separator.unwrap_or_else(|| " ".into()),
            client_auth: self.client_auth,
            authorize_params: self.authorize_params.into_iter().collect(),
            default_client,
            requires_own_client: self.requires_own_client,
            pkce: self.pkce.unwrap_or(true),
            select_account_params: self.select_account_params.into_iter().collect(),
            token: self.token.map(RawTokenShape::validate).transpose()?.unwrap_or_default(),
        })
    }
}

/// A fixed endpoint, or a template over connect-time values whose host comes from a literal
/// `scheme://` or from a whole URL value.
fn endpoint(raw: &str, connect: &[ConnectValue]) -> Result<Endpoint, String> {
    if !raw.contains('{') {
        return parse_endpoint(raw).map(Endpoint::Fixed);
    }
    let template = Template::parse(raw).map_err(|e| e.0)?;
    if let Some(unknown) = template.vars().find(|v| !connect.iter().any(|c| c.name == *v)) {
        return Err(format!("unknown placeholder `{{{unknown}}}` (endpoints use connect-time values)"));
    }
    let first_is_url = template.vars().next().is_some_and(|v| {
        raw.starts_with('{') && connect.iter().any(|c| c.name == v && c.kind == ConnectKind::Url)
    });
    if !(raw.starts_with("https://") || raw.starts_with("http://") || first_is_url) {
        return Err("a templated endpoint starts with `https://` or with a URL value".into());
    }
    Ok(Endpoint::PerAccount { template, source: raw.to_owned() })
}

/// An endpoint URL may carry a query (some providers need fixed parameters) but no fragment.
fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let without_query = raw.split('?').next().unwrap_or(raw);
    parse_base_url(without_query)?;
    Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))
}
