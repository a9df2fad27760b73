//! Catalog entries as the SDK sees them.

use serde::{Deserialize, Serialize};

use crate::functions::FunctionSummary;

/// How a user authenticates with an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// OAuth 2.0 authorization code with PKCE, in a popup.
    Oauth2,
    /// An API key.
    ApiKey,
    /// An API key and its secret.
    ApiKeySecret,
    /// An API key and the base URL of the user's own instance.
    ApiKeyUrl,
    /// Username and password (HTTP Basic).
    Basic,
    /// Username, password and the base URL of the user's own instance.
    BasicUrl,
    /// Username, password, base URL and an API key.
    BasicApiKey,
}

impl AuthType {
    /// Every auth type, in documentation order.
    pub const ALL: [AuthType; 7] = [
        AuthType::Oauth2,
        AuthType::ApiKey,
        AuthType::ApiKeySecret,
        AuthType::ApiKeyUrl,
        AuthType::Basic,
        AuthType::BasicUrl,
        AuthType::BasicApiKey,
    ];

    /// The stable string used in the catalog and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Oauth2 => "oauth2",
            AuthType::ApiKey => "api_key",
            AuthType::ApiKeySecret => "api_key_secret",
            AuthType::ApiKeyUrl => "api_key_url",
            AuthType::Basic => "basic",
            AuthType::BasicUrl => "basic_url",
            AuthType::BasicApiKey => "basic_api_key",
        }
    }

    /// The credential fields a user fills in for this auth type, in form order.
    /// OAuth 2.0 has none: the user signs in at the provider instead.
    pub fn credential_fields(self) -> &'static [&'static str] {
        match self {
            AuthType::Oauth2 => &[],
            AuthType::ApiKey => &["api_key"],
            AuthType::ApiKeySecret => &["api_key", "api_secret"],
            AuthType::ApiKeyUrl => &["base_url", "api_key"],
            AuthType::Basic => &["username", "password"],
            AuthType::BasicUrl => &["base_url", "username", "password"],
            AuthType::BasicApiKey => &["base_url", "username", "password", "api_key"],
        }
    }

    /// Whether requests go to a base URL the user supplies (the "with URL" types).
    pub fn has_user_base_url(self) -> bool {
        self.credential_fields().contains(&"base_url")
    }
}

/// The kind of a credential field, which decides the input the SDK renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Plain text (a username).
    Text,
    /// A secret, rendered as a password input and never echoed back.
    Secret,
    /// An http(s) URL.
    Url,
}

impl FieldKind {
    /// The kind of a well-known credential field name.
    pub fn of(field: &str) -> FieldKind {
        match field {
            "base_url" => FieldKind::Url,
            "username" => FieldKind::Text,
            _ => FieldKind::Secret,
        }
    }
}

/// One input of a credential form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CredentialField {
    /// The key under which the value is submitted (`api_key`, `base_url`…).
    pub name: String,
    /// The label shown to the user.
    pub label: String,
    /// Which input to render.
    pub kind: FieldKind,
    /// Whether the field must be filled.
    pub required: bool,
    /// Optional help text shown under the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub help: Option<String>,
    /// Optional placeholder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub placeholder: Option<String>,
}

/// How many accounts one user may connect to an app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountsPolicy {
    /// One account: connecting again replaces its credentials in place (same id).
    #[default]
    One,
    /// Several accounts: connecting the same upstream identity again updates it in place.
    Multiple,
}

/// An app in the marketplace list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AppSummary {
    /// Catalog id (`hubspot`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Short description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub description: Option<String>,
    /// Auth type.
    pub auth_type: AuthType,
    /// Accounts policy.
    pub accounts_policy: AccountsPolicy,
    /// How many accounts the session's user has connected.
    pub connected_accounts: u32,
}

/// `GET /v1/apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppList {
    /// Apps enabled for the workspace.
    pub apps: Vec<AppSummary>,
}

/// `GET /v1/apps/{app}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AppDetail {
    /// The list entry.
    #[serde(flatten)]
    pub summary: AppSummary,
    /// The credential form (empty for OAuth 2.0).
    pub fields: Vec<CredentialField>,
    /// The app's functions.
    pub functions: Vec<FunctionSummary>,
}

/// A generated app tile: initials on a colour derived from the app id. Ours to ship (no
/// trademarked logo files); the same app always gets the same tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AppIcon {
    /// One to three characters (`HS`).
    pub monogram: String,
    /// Tile colour, `#rrggbb`.
    pub background: String,
    /// Text colour with enough contrast on `background` (`#ffffff` or `#111111`).
    pub foreground: String,
}

/// Marketplace metadata of an app. Sent flattened beside [`AppSummary`] (in [`AppEntry`]) and
/// beside [`AppDetail`] (in [`AppPage`]), so clients that decode only the older types still work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AppListing {
    /// Category id (`crm`, `chat`, `email`…; the README lists them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub category: Option<String>,
    /// The tile to show.
    pub icon: AppIcon,
    /// The provider's API documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub docs_url: Option<String>,
    /// Whether a user can connect the app now. False for an OAuth app with no client this workspace
    /// may use (no operator client configured, or the app requires the workspace's own client and
    /// none is enabled).
    pub usable: bool,
    /// The app only accepts a workspace's own OAuth client.
    #[serde(default)]
    pub requires_own_client: bool,
    /// A real provider from the built-in catalog (it needs that provider to be reachable, and an
    /// OAuth client for OAuth apps), as opposed to an app the operator defined.
    #[serde(default)]
    pub builtin: bool,
}

/// One app of `GET /v1/apps`: the summary plus its marketplace metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppEntry {
    /// The summary.
    #[serde(flatten)]
    pub summary: AppSummary,
    /// Category, icon, docs link, usability.
    #[serde(flatten)]
    pub listing: AppListing,
}

/// `GET /v1/apps` with marketplace metadata (a superset of [`AppList`] on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppEntryList {
    /// Apps enabled for the workspace.
    pub apps: Vec<AppEntry>,
}

/// `GET /v1/apps/{app}` with marketplace metadata (a superset of [`AppDetail`] on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppPage {
    /// Auth type, fields, functions.
    #[serde(flatten)]
    pub detail: AppDetail,
    /// Category, icon, docs link, usability.
    #[serde(flatten)]
    pub listing: AppListing,
}

/// The closed list of marketplace categories with their labels: the broker refuses any other
/// id in a catalog, and the SDK labels its category filter and tiles from the same list.
pub const CATEGORIES: [(&str, &str); 18] = [
    ("crm", "CRM"),
    ("chat", "Chat"),
    ("email", "Email"),
    ("calendar", "Calendar"),
    ("files", "Files"),
    ("developer", "Developer tools"),
    ("project_management", "Project management"),
    ("support", "Customer support"),
    ("marketing", "Marketing"),
    ("accounting", "Accounting"),
    ("payments", "Payments"),
    ("ecommerce", "E-commerce"),
    ("communications", "SMS, voice and video"),
    ("forms", "Forms and scheduling"),
    ("design", "Design"),
    ("productivity", "Docs and productivity"),
    ("cms", "Websites and CMS"),
    ("other", "Other"),
];
