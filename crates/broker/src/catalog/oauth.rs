//! The `[apps.<id>.oauth2]` section.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use url::Url;

use super::{parse_base_url, FieldProblem};

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
    pub authorize_url: Url,
    /// Token endpoint.
    pub token_url: Url,
    /// Revocation endpoint (RFC 7009), when the provider has one.
    pub revoke_url: Option<Url>,
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
    pub(super) fn validate(self) -> Result<OAuth2, FieldProblem> {
        let url = |raw: &str, field: &'static str| parse_endpoint(raw).map_err(|p| (field, p));
        let default_client = match (self.client_id, self.client_secret) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                Some(OAuthClient { id, secret })
            }
            (None, None) => None,
            _ => return Err(("oauth2.client_id", "set both client_id and client_secret, or neither".into())),
        };
        if let Some(reserved) = self.authorize_params.keys().find(|k| RESERVED_PARAMS.contains(&k.as_str())) {
            return Err(("oauth2.authorize_params", format!("`{reserved}` is set by the broker")));
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
        })
    }
}

/// An endpoint URL may carry a query (some providers need fixed parameters) but no fragment.
fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let without_query = raw.split('?').next().unwrap_or(raw);
    parse_base_url(without_query)?;
    Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))
}
