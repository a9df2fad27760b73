//! The built-in catalog and catalog layering.
//!
//! The built-in apps live one per file in `catalog/apps/<id>.toml` (same format as an operator's
//! catalog, one `[apps.<id>]` each) and are embedded at build time by `build.rs`. An operator's
//! catalog is a layer on top: a new id adds an app; an existing id overrides fields, tables merging
//! key by key and any other value replacing the built-in one.

use url::Url;

use super::{App, Endpoint, FieldProblem};

include!(concat!(env!("OUT_DIR"), "/builtin_catalog.rs"));

/// Where the built-in files live in the repository (named in errors).
pub const BUILTIN_DIR: &str = "catalog/apps";

/// One source of app definitions, lowest priority first.
#[derive(Clone)]
pub struct Layer<'a> {
    /// The file named in errors.
    pub file: String,
    /// Its TOML.
    pub source: &'a str,
    /// A built-in file: a missing `${VAR}` in `oauth2.client_id` / `client_secret` leaves the
    /// operator's client unset instead of failing (workspaces can still bring their own).
    pub builtin: bool,
}

/// The embedded built-in files as layers.
pub fn builtin_layers() -> Vec<Layer<'static>> {
    BUILTIN_FILES
        .iter()
        .map(|(name, source)| Layer { file: format!("{BUILTIN_DIR}/{name}"), source, builtin: true })
        .collect()
}

/// Merges `top` into `base`: tables key by key, anything else replaced.
pub(super) fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(base), toml::Value::Table(top)) => {
            for (key, value) in top {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

/// The rules for apps published to others (the built-in catalog, and what `catalog check`
/// applies to an operator's files) on top of what loading already checks: a category, a docs
/// link, https everywhere, and functions whose path arguments are required.
pub fn check_publishable(app: &App, allow_http: bool) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let https = |url: &Url| allow_http || url.scheme() == "https";
    if app.category.is_none() {
        problems.push(("category", "is required".into()));
    }
    match &app.docs {
        None => problems.push(("docs", "is required (a link to the provider's API documentation)".into())),
        Some(url) if !https(url) => problems.push(("docs", "must be https".into())),
        Some(_) => {}
    }
    if app.base_url.as_ref().is_some_and(|u| !https(u)) {
        problems.push(("base_url", "must be https".into()));
    }
    if let Some(oauth) = &app.oauth2 {
        let endpoints = [
            ("oauth2.authorize_url", Some(&oauth.authorize_url)),
            ("oauth2.token_url", Some(&oauth.token_url)),
            ("oauth2.revoke_url", oauth.revoke_url.as_ref()),
        ];
        for (field, endpoint) in endpoints {
            let plain_http = match endpoint {
                Some(Endpoint::Fixed(url)) => !https(url),
                // A URL value is checked when typed; a literal scheme must be https.
                Some(Endpoint::PerAccount { source, .. }) => !allow_http && source.starts_with("http://"),
                None => false,
            };
            if plain_http {
                problems.push((field, "must be https".into()));
            }
        }
    }
    if app.functions.is_empty() {
        problems.push(("functions", "an app needs at least one function".into()));
    }
    for function in &app.functions {
        let required: Vec<&str> = function.parameters["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        for var in function.path.vars() {
            let name = var.strip_prefix("args.").and_then(|rest| rest.split('.').next()).unwrap_or(var);
            if !required.contains(&name) {
                problems.push((
                    "functions.path",
                    format!("`{}`: path argument `{name}` must be required", function.name),
                ));
            }
        }
    }
    problems
}
