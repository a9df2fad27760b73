//! `[apps.<id>.functions.<action>]`: functions invoked as `<id>-<action>`. Everything a call needs
//! (templates, the compiled JSON Schema) is prepared once at load.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::http::{HeaderName, Method};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{FieldProblem, Template};

/// A function, ready to call.
#[derive(Debug)]
pub struct Function {
    /// Global name (`<app>-<action>`).
    pub name: String,
    /// Human title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// HTTP method.
    pub method: Method,
    /// Path (below the app's base URL), with `{args.x}` placeholders (percent-encoded on use).
    pub path: Template,
    /// The path as written in the catalog (for the reference and the fixture checks).
    pub path_source: String,
    /// Query parameters; a parameter whose placeholders have no value is left out.
    pub query: Vec<(String, Template)>,
    /// Headers; a header whose placeholders have no value is left out.
    pub headers: Vec<(HeaderName, Template)>,
    /// JSON body template.
    pub body: Option<BodyTemplate>,
    /// JSON Schema of the arguments (as given, for the SDK's forms).
    pub parameters: Value,
    /// The compiled schema.
    pub validator: jsonschema::Validator,
    /// JSON Pointer to the part of the response returned as `output`.
    pub output: Option<String>,
    /// Cursor pagination.
    pub pagination: Option<Pagination>,
    /// Whether a failed call may be sent again.
    pub idempotent: bool,
}

/// Where the cursor goes and where the next one is found.
#[derive(Debug, Clone)]
pub struct Pagination {
    /// Query parameter that carries the cursor.
    pub cursor_param: String,
    /// JSON Pointer to the next cursor in the response.
    pub next_cursor: String,
}

/// A JSON body with `{args.x}` placeholders. A string that is exactly one placeholder takes the
/// argument's JSON value (numbers stay numbers); an absent argument removes its key.
#[derive(Debug, Clone)]
pub enum BodyTemplate {
    /// A literal value.
    Literal(Value),
    /// An interpolated string or a whole argument.
    Template(Template),
    /// An array.
    Array(Vec<BodyTemplate>),
    /// An object.
    Object(Vec<(String, BodyTemplate)>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFunction {
    /// Defaults to the function's name in words (`create-contact` → "Create contact").
    title: Option<String>,
    description: Option<String>,
    method: Option<String>,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<toml::Value>,
    parameters: Option<toml::Value>,
    output: Option<String>,
    pagination: Option<RawPagination>,
    idempotent: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPagination {
    cursor_param: String,
    next_cursor: String,
}

fn template(raw: &str, field: &'static str) -> Result<Template, FieldProblem> {
    let t = Template::parse(raw).map_err(|e| (field, e.0))?;
    if let Some(bad) = t.vars().find(|v| *v != "args" && !v.starts_with("args.")) {
        return Err((field, format!("unknown placeholder `{{{bad}}}` (functions use `{{args.<name>}}`)")));
    }
    Ok(t)
}

fn pointer(raw: Option<String>, field: &'static str) -> Result<Option<String>, FieldProblem> {
    match raw {
        Some(p) if !p.is_empty() && !p.starts_with('/') => {
            Err((field, "must be a JSON Pointer such as `/data`".into()))
        }
        other => Ok(other),
    }
}

impl RawFunction {
    pub(super) fn validate(self, action: &str, name: String) -> Result<Function, FieldProblem> {
        let method =
            Method::from_bytes(self.method.as_deref().unwrap_or("GET").to_ascii_uppercase().as_bytes())
                .map_err(|_| ("functions.method", "is not an HTTP method".to_owned()))?;
        if !self.path.starts_with('/') {
            return Err(("functions.path", "must start with `/`".into()));
        }
        let parameters = match self.parameters {
            Some(raw) => serde_json::to_value(raw).map_err(|e| ("functions.parameters", e.to_string()))?,
            None => serde_json::json!({ "type": "object", "properties": {} }),
        };
        if parameters.get("type").and_then(Value::as_str) != Some("object") {
            return Err(("functions.parameters", "must be a JSON Schema with `type = \"object\"`".into()));
        }
        let validator = jsonschema::validator_for(&parameters)
            .map_err(|e| ("functions.parameters", format!("is not a valid JSON Schema: {e}")))?;
        let mut headers = Vec::new();
        for (name, value) in self.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ("functions.headers", format!("`{name}` is not a valid header name")))?;
            headers.push((header, template(&value, "functions.headers")?));
        }
        let query: Vec<(String, Template)> = self
            .query
            .into_iter()
            .map(|(k, v)| Ok((k, template(&v, "functions.query")?)))
            .collect::<Result<_, FieldProblem>>()?;
        let idempotent = self.idempotent.unwrap_or_else(|| idempotent_method(&method));
        let pagination = match self.pagination {
            Some(p) => Some(Pagination {
                cursor_param: p.cursor_param,
                next_cursor: pointer(Some(p.next_cursor), "functions.pagination.next_cursor")?
                    .unwrap_or_default(),
            }),
            None => None,
        };
        let path = template(&self.path, "functions.path")?;
        let path_source = self.path.clone();
        let body = self.body.map(body_template).transpose()?;
        let declared = parameters["properties"].as_object();
        let mut used: Vec<(&'static str, &str)> = path.vars().map(|v| ("functions.path", v)).collect();
        used.extend(query.iter().flat_map(|(_, t)| t.vars().map(|v| ("functions.query", v))));
        used.extend(headers.iter().flat_map(|(_, t)| t.vars().map(|v| ("functions.headers", v))));
        let mut body_vars = Vec::new();
        if let Some(body) = &body {
            body.vars(&mut body_vars);
        }
        used.extend(body_vars.iter().map(|v| ("functions.body", v.as_str())));
        for (field, var) in used {
            let Some(arg) = var.strip_prefix("args.").and_then(|rest| rest.split('.').next()) else {
                continue;
            };
            if !declared.is_some_and(|d| d.contains_key(arg)) {
                return Err((
                    field,
                    format!("`{{{var}}}` uses `{arg}`, which `parameters` does not declare"),
                ));
            }
        }
        Ok(Function {
            name,
            title: self.title.unwrap_or_else(|| title_from(action)),
            description: self.description,
            path,
            path_source,
            method,
            query,
            headers,
            body,
            parameters,
            validator,
            output: pointer(self.output, "functions.output")?,
            pagination,
            idempotent,
        })
    }
}

/// `create-contact` / `list_all` → "Create contact" / "List all".
fn title_from(action: &str) -> String {
    let words = action.replace(['-', '_'], " ");
    let mut chars = words.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn body_template(raw: toml::Value) -> Result<BodyTemplate, FieldProblem> {
    Ok(match raw {
        toml::Value::String(s) if s.contains('{') => BodyTemplate::Template(template(&s, "functions.body")?),
        toml::Value::Array(items) => {
            BodyTemplate::Array(items.into_iter().map(body_template).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => BodyTemplate::Object(
            table
                .into_iter()
                .map(|(k, v)| Ok((k, body_template(v)?)))
                .collect::<Result<_, FieldProblem>>()?,
        ),
        other => {
            BodyTemplate::Literal(serde_json::to_value(other).map_err(|e| ("functions.body", e.to_string()))?)
        }
    })
}

/// The argument at `args.a.b` (or the whole arguments object for `args`).
pub fn arg<'a>(args: &'a Value, var: &str) -> Option<&'a Value> {
    let path = var.strip_prefix("args")?;
    path.split('.').skip(1).try_fold(args, |value, key| value.get(key)).filter(|v| !v.is_null())
}

/// An argument as text: strings as they are, numbers and booleans printed, others as JSON.
pub fn arg_text<'a>(args: &'a Value, var: &str) -> Option<Cow<'a, str>> {
    Some(match arg(args, var)? {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    })
}

impl BodyTemplate {
    /// Appends every placeholder name used below this node.
    fn vars(&self, out: &mut Vec<String>) {
        match self {
            BodyTemplate::Literal(_) => {}
            BodyTemplate::Template(t) => out.extend(t.vars().map(str::to_owned)),
            BodyTemplate::Array(items) => items.iter().for_each(|i| i.vars(out)),
            BodyTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.vars(out)),
        }
    }

    /// The body for `args`; `None` when a placeholder has no value (the key is then left out).
    pub fn render(&self, args: &Value) -> Option<Value> {
        match self {
            BodyTemplate::Literal(v) => Some(v.clone()),
            BodyTemplate::Template(t) => match t.sole_var() {
                Some(var) => arg(args, var).cloned(),
                None => t.try_render(|var| arg_text(args, var)).map(Value::String),
            },
            BodyTemplate::Array(items) => {
                Some(Value::Array(items.iter().filter_map(|i| i.render(args)).collect()))
            }
            BodyTemplate::Object(fields) => Some(Value::Object(
                fields.iter().filter_map(|(k, v)| Some((k.clone(), v.render(args)?))).collect::<Map<_, _>>(),
            )),
        }
    }
}

/// Idempotent methods (RFC 9110 §9.2.2): the default for a function, and what the backend proxy
/// retries once a request may have left.
pub fn idempotent_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn function(toml_src: &str) -> Function {
        let raw: RawFunction = toml::from_str(toml_src).expect("toml");
        raw.validate("fn", "app-fn".into()).unwrap_or_else(|(f, p)| panic!("{f}: {p}"))
    }

    #[test]
    fn bodies_keep_argument_types_and_drop_absent_keys() {
        let f = function(
            r#"title = "t"
            method = "POST"
            path = "/x"
            body = { email = "{args.email}", age = "{args.age}", label = "Hi {args.name}", tags = ["a", "{args.tag}"], fixed = 3, nested = { zip = "{args.address.zip}" } }
            parameters = { type = "object", properties = { email = {}, age = {}, name = {}, tag = {}, address = {} } }"#,
        );
        let body = f
            .body
            .as_ref()
            .expect("body")
            .render(&json!({ "email": "a@x", "age": 41, "address": { "zip": "75001" } }));
        assert_eq!(
            body,
            Some(
                json!({ "email": "a@x", "age": 41, "tags": ["a"], "fixed": 3, "nested": { "zip": "75001" } })
            )
        );
        assert!(!f.idempotent, "POST is not idempotent by default");
    }

    #[test]
    fn parameters_keep_the_catalog_order() {
        let f = function(
            r#"title = "t"
            path = "/x"
            parameters = { type = "object", properties = { title = { type = "string" }, text = { type = "string" }, priority = { type = "string" } } }"#,
        );
        let order: Vec<&String> =
            f.parameters["properties"].as_object().expect("properties").keys().collect();
        assert_eq!(order, ["title", "text", "priority"], "the form shows fields in this order");
    }

    #[test]
    fn definitions_are_checked_at_load() {
        let bad = |src: &str| {
            toml::from_str::<RawFunction>(src).expect("toml").validate("b", "a-b".into()).err().map(|e| e.1)
        };
        assert!(bad("title = \"t\"\npath = \"x\"").is_some_and(|p| p.contains("start with")));
        assert!(bad("title = \"t\"\npath = \"/{user}\"").is_some_and(|p| p.contains("unknown placeholder")));
        assert!(bad("title = \"t\"\npath = \"/\"\nparameters = { type = \"array\" }").is_some());
        assert!(bad("title = \"t\"\npath = \"/{args.id}\"\nparameters = { type = \"object\", properties = { ids = {} } }")
            .is_some_and(|p| p.contains("`{args.id}` uses `id`, which `parameters` does not declare")));
        assert!(bad("title = \"t\"\npath = \"/\"\nparameters = { type = \"object\", properties = { a = { type = 5 } } }")
            .is_some_and(|p| p.contains("not a valid JSON Schema")));
    }
}
