//! The app catalog: a TOML file loaded and validated once at start-up. Every problem is reported
//! with the file, the app and the field it concerns. The README documents the format.

mod builtin;
mod check;
mod functions;
mod listing;
mod oauth;
mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderName, Method};
pub use builtin::{builtin_layers, Layer};
pub use builtin::{check_publishable, BUILTIN_DIR, BUILTIN_FILES};
pub use check::{check, fixture_sources, fixtures, reference_markdown, Fixture, FixtureOperation};
use functions::RawFunction;
pub use functions::{arg, arg_text, idempotent_method, BodyTemplate, Function, Pagination};
use listing::RawIcon;
use oauth::RawOAuth2;
pub use oauth::{ClientAuth, Endpoint, OAuth2, OAuthClient, TokenBody, TokenShape};
pub use patchbay_protocol::CATEGORIES;
use patchbay_protocol::{AccountsPolicy, AppIcon, AuthType, CredentialField, FieldKind};
use serde::Deserialize;
pub use template::Template;
use url::Url;

/// A catalog problem, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    /// The catalog file.
    pub file: String,
    /// The app id, when the problem is inside an app.
    pub app: Option<String>,
    /// The field (dotted path inside the app), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "catalog {}", self.file)?;
        if let Some(app) = &self.app {
            write!(f, ": app `{app}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for CatalogError {}

/// The loaded catalog. Cheap to share: apps are behind `Arc`.
#[derive(Debug, Default)]
pub struct Catalog {
    apps: BTreeMap<String, Arc<App>>,
    files: BTreeMap<String, String>,
    functions: BTreeMap<String, (Arc<App>, Arc<Function>)>,
}

/// One app, validated and pre-parsed.
#[derive(Debug)]
pub struct App {
    /// Catalog id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Short description.
    pub description: Option<String>,
    /// Marketplace category (one of [`CATEGORIES`]).
    pub category: Option<String>,
    /// The provider's API documentation.
    pub docs: Option<Url>,
    /// The marketplace tile.
    pub icon: AppIcon,
    /// From the built-in catalog (a real provider), possibly with operator overrides.
    pub builtin: bool,
    /// Auth type.
    pub auth: AuthType,
    /// Accounts policy.
    pub accounts: AccountsPolicy,
    /// Where requests go, for auth types without a user-supplied URL.
    pub base_url: Option<Url>,
    /// Where requests go when the base URL depends on a connect-time or token value
    /// (`https://{subdomain}.zendesk.com/api/v2`, `{instance_url}/services/data/v60.0`).
    /// Rendered per account and held to the same address rules as a URL the user typed.
    pub base_url_template: Option<Template>,
    /// Values the user types at connect time (a subdomain, a shop name), in form order.
    pub connect: Vec<ConnectValue>,
    /// How credentials reach upstream requests.
    pub inject: Injection,
    /// The request that checks new credentials and names the account.
    pub verify: Option<Verify>,
    /// The credential form.
    pub fields: Vec<CredentialField>,
    /// OAuth 2.0 settings, for `oauth2` apps.
    pub oauth2: Option<OAuth2>,
    /// The app's functions, by global name.
    pub functions: Vec<Arc<Function>>,
}

/// How credentials are injected into an upstream request.
#[derive(Debug, Default)]
pub struct Injection {
    /// Headers to set.
    pub headers: Vec<(HeaderName, Template)>,
    /// Query parameters to add.
    pub query: Vec<(String, Template)>,
    /// HTTP Basic username and password.
    pub basic: Option<(Template, Template)>,
    /// Statuses with which the app says "these credentials are no longer accepted" (401 unless the
    /// catalog lists others): the account then needs reconnecting. Apps that also answer 403 for
    /// "no access to this record" must not list 403.
    pub refused_statuses: Vec<u16>,
}

/// A value the user types at connect time, stored with the account's credentials and usable in
/// the base URL, OAuth endpoints and injection templates.
#[derive(Debug, Clone)]
pub struct ConnectValue {
    /// Placeholder name (`subdomain`).
    pub name: String,
    /// What the value may contain.
    pub kind: ConnectKind,
}

/// What a connect-time value may contain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectKind {
    /// A host label or dotted name (`acme`, `eu.acme`): letters, digits, `-` and `.`, so it can
    /// never change a URL's scheme, host boundary or path.
    #[default]
    Name,
    /// An http(s) URL (an instance URL), checked like `base_url`.
    Url,
}

impl ConnectKind {
    /// Why `value` is not acceptable, if it is not.
    pub fn problem(self, value: &str) -> Option<String> {
        match self {
            ConnectKind::Name => {
                let ok = value.len() <= 100
                    && value.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                    && !value.contains("..");
                (!ok).then(|| "may contain only letters, digits, `-` and `.`".to_owned())
            }
            ConnectKind::Url => parse_base_url(value).err(),
        }
    }
}

/// What most apps answer to credentials they no longer accept.
const DEFAULT_REFUSED_STATUSES: [u16; 1] = [401];

/// The verification request run at connect time.
#[derive(Debug)]
pub struct Verify {
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL.
    pub path: String,
    /// JSON Pointer to the display name in the response.
    pub display_name: Option<String>,
    /// JSON Pointer to the upstream identity (detects reconnects under policy "multiple").
    pub identity: Option<String>,
    /// A fixed JSON body (GraphQL APIs ask who the user is with a POSTed query).
    pub body: Option<serde_json::Value>,
}

impl Catalog {
    /// Loads and validates a catalog file, resolving `${VAR}` from the process environment.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| CatalogError {
            file: file.clone(),
            app: None,
            field: None,
            problem: format!("cannot read: {e}"),
        })?;
        Catalog::parse(&source, &file, |name| std::env::var(name).ok())
    }

    /// Parses catalog `source` (named `file` in errors), resolving `${VAR}` with `env`.
    pub fn parse(
        source: &str,
        file: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Catalog, CatalogError> {
        Catalog::parse_layers(&[Layer { file: file.to_owned(), source, builtin: false }], env)
    }

    /// The built-in catalog, with the operator's file at `operator` on top when given.
    pub fn load_with_builtin(operator: Option<&Path>) -> Result<Catalog, CatalogError> {
        let mut layers = builtin_layers();
        let text;
        if let Some(path) = operator {
            let file = path.display().to_string();
            text = std::fs::read_to_string(path).map_err(|e| CatalogError {
                file: file.clone(),
                app: None,
                field: None,
                problem: format!("cannot read: {e}"),
            })?;
            layers.push(Layer { file, source: &text, builtin: false });
        }
        Catalog::parse_layers(&layers, |name| std::env::var(name).ok())
    }

    /// Parses layers (lowest priority first; see [`Layer`]) into one catalog.
    pub fn parse_layers(
        layers: &[Layer<'_>],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Catalog, CatalogError> {
        let err = |file: &str, app: Option<&str>, field: Option<&str>, problem: String| CatalogError {
            file: file.to_owned(),
            app: app.map(str::to_owned),
            field: field.map(str::to_owned),
            problem,
        };
        // (id, merged definition, the file(s) to name in errors, defined by a built-in file)
        let mut entries: Vec<(String, toml::Value, String, bool)> = Vec::new();
        for layer in layers {
            let file = layer.file.as_str();
            let mut root: toml::Table =
                layer.source.parse().map_err(|e: toml::de::Error| err(file, None, None, e.to_string()))?;
            let apps = match root.remove("apps") {
                None => toml::Table::new(),
                Some(toml::Value::Table(t)) => t,
                Some(_) => return Err(err(file, None, Some("apps"), "must be a table of apps".into())),
            };
            if let Some(key) = root.keys().next() {
                return Err(err(
                    file,
                    None,
                    Some(key),
                    "unknown top-level key (expected only `apps`)".into(),
                ));
            }
            if layer.builtin {
                let stem = file.rsplit('/').next().and_then(|n| n.strip_suffix(".toml")).unwrap_or(file);
                if apps.len() != 1 || !apps.contains_key(stem) {
                    return Err(err(
                        file,
                        None,
                        Some("apps"),
                        format!("a built-in file defines exactly `[apps.{stem}]`"),
                    ));
                }
            }
            for (id, mut value) in apps {
                if !valid_app_id(&id) {
                    return Err(err(
                        file,
                        Some(&id),
                        None,
                        "app ids use a-z, 0-9 and `-`, starting with a letter".into(),
                    ));
                }
                interpolate(&mut value, "", &env, layer.builtin)
                    .map_err(|(field, problem)| err(file, Some(&id), Some(&field), problem))?;
                match entries.iter_mut().find(|(existing, ..)| *existing == id) {
                    Some((_, base, named, _)) => {
                        builtin::merge(base, value);
                        *named = format!("{file} (over {named})");
                    }
                    None => entries.push((id, value, file.to_owned(), layer.builtin)),
                }
            }
        }
        let mut catalog = Catalog::default();
        for (id, value, file, builtin) in entries {
            let raw = RawApp::deserialize(value)
                .map_err(|e| err(&file, Some(&id), None, e.message().to_owned()))?;
            let mut app =
                raw.validate(&id).map_err(|(field, problem)| err(&file, Some(&id), Some(&field), problem))?;
            app.builtin = builtin;
            let app = Arc::new(app);
            for function in &app.functions {
                let entry = (app.clone(), function.clone());
                if catalog.functions.insert(function.name.clone(), entry).is_some() {
                    let problem = format!("function name `{}` is used twice", function.name);
                    return Err(err(&file, Some(&id), Some("functions"), problem));
                }
            }
            catalog.files.insert(id.clone(), file);
            catalog.apps.insert(id, app);
        }
        Ok(catalog)
    }

    /// The file(s) an app came from, as named in errors.
    pub fn file_of(&self, id: &str) -> Option<&str> {
        self.files.get(id).map(String::as_str)
    }

    /// The app with this id.
    pub fn app(&self, id: &str) -> Option<&Arc<App>> {
        self.apps.get(id)
    }

    /// A function by global name, with its app.
    pub fn function(&self, name: &str) -> Option<&(Arc<App>, Arc<Function>)> {
        self.functions.get(name)
    }

    /// The app `id`, or APP_NOT_FOUND.
    pub fn find_app(&self, id: &str) -> Result<&Arc<App>, crate::error::ApiError> {
        self.app(id).ok_or_else(|| crate::error::ApiError::app_not_found(id))
    }

    /// The function `name` with its app, or FUNCTION_NOT_FOUND.
    pub fn find_function(&self, name: &str) -> Result<&(Arc<App>, Arc<Function>), crate::error::ApiError> {
        self.function(name).ok_or_else(|| crate::error::ApiError::function_not_found(name))
    }

    /// Every app, by id.
    pub fn apps(&self) -> impl Iterator<Item = &Arc<App>> {
        self.apps.values()
    }
}

fn valid_app_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Fields a built-in app may leave unresolved: the operator's OAuth client is optional there.
const OPTIONAL_IN_BUILTIN: [&str; 2] = ["oauth2.client_id", "oauth2.client_secret"];

/// Whether `s` names a `${VAR}` that `env` does not know.
fn names_unset_variable(s: &str, env: &impl Fn(&str) -> Option<String>) -> bool {
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { return false };
        if env(&after[..end]).is_none() {
            return true;
        }
        rest = &after[end + 1..];
    }
    false
}

/// Replaces `${VAR}` in every string below `value`; errors carry the dotted field path. With
/// `builtin`, a field of [`OPTIONAL_IN_BUILTIN`] whose variable is missing is removed instead.
fn interpolate(
    value: &mut toml::Value,
    path: &str,
    env: &impl Fn(&str) -> Option<String>,
    builtin: bool,
) -> Result<(), (String, String)> {
    match value {
        toml::Value::String(s) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.find('}').ok_or_else(|| (path.to_owned(), "unclosed `${`".to_owned()))?;
                let name = &after[..end];
                let resolved = env(name)
                    .ok_or_else(|| (path.to_owned(), format!("environment variable `{name}` is not set")))?;
                out.push_str(&resolved);
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        toml::Value::Table(t) => {
            let child = |k: &str| if path.is_empty() { k.to_owned() } else { format!("{path}.{k}") };
            if builtin {
                t.retain(|k, v| {
                    !(OPTIONAL_IN_BUILTIN.contains(&child(k).as_str())
                        && v.as_str().is_some_and(|s| names_unset_variable(s, env)))
                });
            }
            for (k, v) in t.iter_mut() {
                interpolate(v, &child(k), env, builtin)?;
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                interpolate(v, &format!("{path}[{i}]"), env, builtin)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    name: String,
    description: Option<String>,
    category: Option<String>,
    docs: Option<String>,
    icon: Option<RawIcon>,
    auth: AuthType,
    #[serde(default)]
    accounts: AccountsPolicy,
    base_url: Option<String>,
    inject: Option<RawInject>,
    verify: Option<RawVerify>,
    #[serde(default)]
    fields: BTreeMap<String, RawField>,
    /// Kept as a table: its order is the form's order.
    #[serde(default)]
    connect: toml::Table,
    oauth2: Option<RawOAuth2>,
    /// Deserialized one by one, so an error names the function it is in.
    #[serde(default)]
    functions: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInject {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    basic: Option<RawBasic>,
    refused_statuses: Option<Vec<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasic {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    method: Option<String>,
    path: String,
    display_name: Option<String>,
    identity: Option<String>,
    body: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnectValue {
    label: String,
    help: Option<String>,
    placeholder: Option<String>,
    #[serde(default)]
    kind: ConnectKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    label: Option<String>,
    help: Option<String>,
    placeholder: Option<String>,
}

pub(crate) type FieldProblem = (&'static str, String);

/// A problem with an owned field path (functions put their own name in it).
type OwnedProblem = (String, String);

impl RawApp {
    fn validate(mut self, id: &str) -> Result<App, OwnedProblem> {
        let raw_functions = std::mem::take(&mut self.functions);
        let mut app = self.validate_settings(id).map_err(|(field, problem)| (field.to_owned(), problem))?;
        for (action, raw) in raw_functions {
            let function = app.validate_function(&action, raw)?;
            app.functions.push(Arc::new(function));
        }
        Ok(app)
    }

    fn validate_settings(self, id: &str) -> Result<App, FieldProblem> {
        let connect = connect_values(self.auth, self.connect)?;
        let connect_only: Vec<ConnectValue> = connect.iter().map(|(value, _)| value.clone()).collect();
        let oauth2 = match (self.auth, self.oauth2) {
            (AuthType::Oauth2, Some(raw)) => Some(raw.validate(&connect_only)?),
            (AuthType::Oauth2, None) => {
                return Err(("oauth2", "`oauth2` apps need an [oauth2] section".into()))
            }
            (_, Some(_)) => return Err(("oauth2", "only `oauth2` apps take an [oauth2] section".into())),
            (_, None) => None,
        };
        // Templates may use the credential fields (or the access token), connect-time values and
        // values kept from the token answer.
        let mut vars: Vec<&str> = template_vars(self.auth).to_vec();
        vars.extend(connect.iter().map(|(value, _)| value.name.as_str()));
        let token_values = oauth2.as_ref().map(|o| o.token.values.as_slice()).unwrap_or_default();
        vars.extend(token_values.iter().map(|(name, _)| name.as_str()));
        let (base_url, base_url_template) = match (self.base_url, self.auth.has_user_base_url()) {
            (Some(_), true) => {
                return Err((
                    "base_url",
                    format!("`{}` apps take the base URL from the user", self.auth.as_str()),
                ))
            }
            (None, false) => return Err(("base_url", "is required for this auth type".into())),
            (None, true) => (None, None),
            (Some(raw), false) if raw.contains('{') => {
                let template = parse_template(&raw, &vars, "base_url")?;
                // The host must come from a literal `scheme://` or from a whole URL value, never
                // from text glued before the scheme.
                let url_vars: Vec<&str> = connect
                    .iter()
                    .filter(|(v, _)| v.kind == ConnectKind::Url)
                    .map(|(v, _)| v.name.as_str())
                    .chain(token_values.iter().map(|(name, _)| name.as_str()))
                    .collect();
                let starts_ok = raw.starts_with("https://")
                    || raw.starts_with("http://")
                    || template.vars().next().is_some_and(|v| url_vars.contains(&v) && raw.starts_with('{'));
                if !starts_ok {
                    return Err((
                        "base_url",
                        "a templated base URL starts with `https://` or with a URL value".into(),
                    ));
                }
                (None, Some(template))
            }
            (Some(raw), false) => (Some(parse_base_url(&raw).map_err(|p| ("base_url", p))?), None),
        };
        let default_injection = || {
            default_injection(self.auth).ok_or((
                "inject",
                format!("`{}` apps must declare how the key is sent (headers or query)", self.auth.as_str()),
            ))
        };
        let inject = match self.inject {
            Some(raw) => raw.validate(&vars, default_injection)?,
            None => default_injection()?,
        };
        let verify = self.verify.map(RawVerify::validate).transpose()?;
        let mut fields: Vec<CredentialField> = connect.iter().map(|(_, field)| field.clone()).collect();
        fields.extend(credential_fields(self.auth, self.fields)?);
        let docs = match self.docs {
            Some(raw) => Some(
                Url::parse(&raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or(("docs", "must be an http(s) URL".to_owned()))?,
            ),
            None => None,
        };
        Ok(App {
            id: id.to_owned(),
            icon: listing::icon(id, &self.name, self.icon)?,
            builtin: false,
            name: self.name,
            description: self.description,
            category: listing::category(self.category)?,
            docs,
            auth: self.auth,
            accounts: self.accounts,
            base_url,
            base_url_template,
            connect: connect_only,
            inject,
            verify,
            fields,
            oauth2,
            functions: Vec::new(),
        })
    }
}

/// Names the broker stores itself in an account's credentials.
pub(super) const RESERVED_VALUE_NAMES: [&str; 4] = ["access_token", "refresh_token", "scope", "token_type"];

/// `[apps.<id>.connect.<name>]`: the values and the form fields that ask for them.
fn connect_values(
    auth: AuthType,
    raw: toml::Table,
) -> Result<Vec<(ConnectValue, CredentialField)>, FieldProblem> {
    raw.into_iter()
        .map(|(name, value)| {
            let valid_name = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_name
                || auth.credential_fields().contains(&name.as_str())
                || RESERVED_VALUE_NAMES.contains(&name.as_str())
            {
                return Err((
                    "connect",
                    format!("`{name}`: use a-z, 0-9 and `_`, and not a credential field or token name"),
                ));
            }
            let raw =
                RawConnectValue::deserialize(value).map_err(|e| ("connect", format!("`{name}`: {e}")))?;
            let field = CredentialField {
                name: name.clone(),
                label: raw.label,
                kind: match raw.kind {
                    ConnectKind::Name => FieldKind::Text,
                    ConnectKind::Url => FieldKind::Url,
                },
                required: true,
                help: raw.help,
                placeholder: raw.placeholder,
            };
            Ok((ConnectValue { name, kind: raw.kind }, field))
        })
        .collect()
}

impl App {
    /// Validates the function `action` of this app (its settings already validated).
    fn validate_function(&self, action: &str, raw: toml::Value) -> Result<Function, OwnedProblem> {
        if action.is_empty()
            || !action.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err((
                "functions".into(),
                format!("`{action}`: function names use a-z, 0-9, `-` and `_`"),
            ));
        }
        // `functions.path` from the function's validation becomes `functions.<action>.path`.
        let here = |field: &str| match field.strip_prefix("functions") {
            Some(rest) => format!("functions.{action}{rest}"),
            None => format!("functions.{action}.{field}"),
        };
        let raw = RawFunction::deserialize(raw).map_err(|e| (here("functions"), e.message().to_owned()))?;
        let function =
            raw.validate(action, format!("{}-{action}", self.id)).map_err(|(f, p)| (here(f), p))?;
        let inject = &self.inject;
        let injected = |name: &HeaderName| {
            inject.headers.iter().any(|(h, _)| h == name)
                || (inject.basic.is_some() && name == axum::http::header::AUTHORIZATION)
        };
        if let Some((name, _)) = function.headers.iter().find(|(name, _)| injected(name)) {
            return Err((here("functions.headers"), format!("sets `{name}`, which carries the credentials")));
        }
        Ok(function)
    }
}

/// Parses an http(s) base URL without query or fragment.
pub fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err("must have a host and no user name or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(url)
}

fn parse_template(raw: &str, allowed: &[&str], field: &'static str) -> Result<Template, FieldProblem> {
    let template = Template::parse(raw).map_err(|e| (field, e.0))?;
    if let Some(unknown) = template.vars().find(|v| !allowed.contains(v)) {
        return Err((
            field,
            format!("unknown placeholder `{{{unknown}}}` (this app has: {})", allowed.join(", ")),
        ));
    }
    Ok(template)
}

impl RawInject {
    /// `default` is the auth type's injection, used when the section only lists `refused_statuses`.
    fn validate(
        self,
        vars: &[&str],
        default: impl FnOnce() -> Result<Injection, FieldProblem>,
    ) -> Result<Injection, FieldProblem> {
        let refused_statuses = match self.refused_statuses {
            Some(statuses) if statuses.is_empty() => {
                return Err(("inject.refused_statuses", "lists no status (leave it out for [401])".into()))
            }
            Some(statuses) => {
                if let Some(bad) = statuses.iter().find(|s| !(400..500).contains(*s) || **s == 429) {
                    return Err((
                        "inject.refused_statuses",
                        format!("{bad} is not a 4xx status that refuses credentials (429 means slow down)"),
                    ));
                }
                statuses
            }
            None => DEFAULT_REFUSED_STATUSES.to_vec(),
        };
        if self.headers.is_empty() && self.query.is_empty() && self.basic.is_none() {
            return Ok(Injection { refused_statuses, ..default()? });
        }
        let mut inject = Injection { refused_statuses, ..Injection::default() };
        for (name, value) in self.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ("inject.headers", format!("`{name}` is not a valid header name")))?;
            inject.headers.push((header, parse_template(&value, vars, "inject.headers")?));
        }
        for (name, value) in self.query {
            inject.query.push((name, parse_template(&value, vars, "inject.query")?));
        }
        if let Some(basic) = self.basic {
            inject.basic = Some((
                parse_template(&basic.username, vars, "inject.basic.username")?,
                parse_template(&basic.password, vars, "inject.basic.password")?,
            ));
        }
        Ok(inject)
    }
}

/// The placeholders an app's templates may use: its credential fields, or the access token.
fn template_vars(auth: AuthType) -> &'static [&'static str] {
    match auth {
        AuthType::Oauth2 => &["access_token"],
        other => other.credential_fields(),
    }
}

/// Injection for auth types whose convention is unambiguous.
fn default_injection(auth: AuthType) -> Option<Injection> {
    let basic = |user: &str, pass: &str| -> Option<Injection> {
        Some(Injection {
            basic: Some((Template::parse(user).ok()?, Template::parse(pass).ok()?)),
            refused_statuses: DEFAULT_REFUSED_STATUSES.to_vec(),
            ..Injection::default()
        })
    };
    match auth {
        AuthType::Basic | AuthType::BasicUrl => basic("{username}", "{password}"),
        AuthType::ApiKeySecret => basic("{api_key}", "{api_secret}"),
        AuthType::Oauth2 => {
            let bearer = Template::parse("Bearer {access_token}").ok()?;
            Some(Injection {
                headers: vec![(axum::http::header::AUTHORIZATION, bearer)],
                refused_statuses: DEFAULT_REFUSED_STATUSES.to_vec(),
                ..Injection::default()
            })
        }
        AuthType::ApiKey | AuthType::ApiKeyUrl | AuthType::BasicApiKey => None,
    }
}

impl RawVerify {
    fn validate(self) -> Result<Verify, FieldProblem> {
        let method = match self.method.as_deref().unwrap_or("GET").to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "HEAD" => Method::HEAD,
            other => return Err(("verify.method", format!("`{other}` is not GET, POST or HEAD"))),
        };
        if !self.path.starts_with('/') {
            return Err(("verify.path", "must start with `/`".into()));
        }
        for (field, pointer) in
            [("verify.display_name", &self.display_name), ("verify.identity", &self.identity)]
        {
            if pointer.as_deref().is_some_and(|p| !p.is_empty() && !p.starts_with('/')) {
                return Err((field, "must be a JSON Pointer such as `/user/email`".into()));
            }
        }
        let body =
            self.body.map(serde_json::to_value).transpose().map_err(|e| ("verify.body", e.to_string()))?;
        Ok(Verify { method, path: self.path, display_name: self.display_name, identity: self.identity, body })
    }
}

fn credential_fields(
    auth: AuthType,
    mut overrides: BTreeMap<String, RawField>,
) -> Result<Vec<CredentialField>, FieldProblem> {
    let names = auth.credential_fields();
    if let Some(unknown) = overrides.keys().find(|k| !names.contains(&k.as_str())) {
        return Err((
            "fields",
            format!("`{unknown}` is not a field of `{}` apps ({})", auth.as_str(), names.join(", ")),
        ));
    }
    Ok(names
        .iter()
        .map(|&name| {
            let raw = overrides.remove(name);
            let (label, placeholder) = default_label(name);
            CredentialField {
                name: name.to_owned(),
                label: raw.as_ref().and_then(|r| r.label.clone()).unwrap_or_else(|| label.to_owned()),
                kind: FieldKind::of(name),
                required: true,
                help: raw.as_ref().and_then(|r| r.help.clone()),
                placeholder: raw.and_then(|r| r.placeholder).or_else(|| placeholder.map(str::to_owned)),
            }
        })
        .collect())
}

fn default_label(field: &str) -> (&'static str, Option<&'static str>) {
    match field {
        "api_key" => ("API key", None),
        "api_secret" => ("API secret", None),
        "base_url" => ("Instance URL", Some("https://your-instance.example.com")),
        "username" => ("Username", None),
        "password" => ("Password", None),
        _ => ("Value", None),
    }
}

#[cfg(test)]
mod tests;
