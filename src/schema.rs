//! From a function's JSON Schema to the model of the form `showFunctionUI` renders.
//!
//! Supported: `type` string (formats `email`, `uri`/`url`, `date`, `date-time`), number, integer,
//! boolean, `enum` and `oneOf` of `const`s (a select), arrays, nested objects, `required`,
//! `default`, `title`, `description`, `minimum`/`maximum`, `minLength`/`maxLength`,
//! `minItems`/`maxItems`. Anything else (`anyOf`, `$ref`, a `null` type…) degrades to a JSON text
//! field for that property rather than failing the whole form.

use crate::json::Json;

/// Nesting depth beyond which properties become JSON text fields.
const MAX_DEPTH: usize = 8;

/// Why a schema cannot be turned into a form at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// Function arguments are always an object.
    #[error("the parameters schema must describe an object (type \"object\")")]
    RootNotObject,
}

/// The whole form: the properties of the root object.
#[derive(Debug, Clone, PartialEq)]
pub struct FormModel {
    /// Top-level fields, in the schema's property order.
    pub fields: Vec<Field>,
}

/// One property.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Property name (`""` for array items).
    pub key: String,
    /// Label: the schema's `title`, else the humanised key.
    pub label: String,
    /// Help text: the schema's `description`.
    pub description: Option<String>,
    /// Listed in the parent's `required`.
    pub required: bool,
    /// The input to render.
    pub widget: Widget,
    /// The schema's `default`.
    pub default: Option<Json>,
    /// Placeholder text (credential fields).
    pub placeholder: Option<String>,
}

/// The input a field renders as.
#[derive(Debug, Clone, PartialEq)]
pub enum Widget {
    /// A text input.
    Text(TextRules),
    /// A number input.
    Number(NumberRules),
    /// A checkbox (booleans).
    Checkbox,
    /// A select among fixed values, each with its label.
    Choice(Vec<(Json, String)>),
    /// A list of items with add and remove buttons.
    List(ListRules),
    /// A nested object (a fieldset).
    Group(Vec<Field>),
    /// A JSON text area, for schema constructs the form does not model.
    Raw,
}

/// Rules of a text input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextRules {
    /// Which kind of text.
    pub format: TextFormat,
    /// `minLength`.
    pub min_length: Option<usize>,
    /// `maxLength`.
    pub max_length: Option<usize>,
}

/// The `format` of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextFormat {
    /// Any text.
    #[default]
    Plain,
    /// `email`.
    Email,
    /// `uri` / `url`: an http(s) URL.
    Url,
    /// `date` (`YYYY-MM-DD`).
    Date,
    /// `date-time`.
    DateTime,
    /// A secret (credential forms): a password input, never echoed back.
    Password,
}

impl TextFormat {
    /// The `type` attribute of the input.
    pub fn input_type(self) -> &'static str {
        match self {
            TextFormat::Plain => "text",
            TextFormat::Email => "email",
            TextFormat::Url => "url",
            TextFormat::Date => "date",
            TextFormat::DateTime => "datetime-local",
            TextFormat::Password => "password",
        }
    }
}

/// Rules of a number input.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NumberRules {
    /// `integer` rather than `number`.
    pub integer: bool,
    /// `minimum`.
    pub minimum: Option<f64>,
    /// `maximum`.
    pub maximum: Option<f64>,
}

/// Rules of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRules {
    /// The item's field (its key is empty).
    pub item: Box<Field>,
    /// `minItems`.
    pub min_items: Option<usize>,
    /// `maxItems`.
    pub max_items: Option<usize>,
}

/// Builds the form for a function's `parameters` schema.
pub fn form_model(schema: &Json) -> Result<FormModel, SchemaError> {
    match schema_type(schema) {
        Some("object") => {}
        None if schema.get("properties").is_some() || schema.as_object().is_some_and(|m| m.is_empty()) => {}
        _ => return Err(SchemaError::RootNotObject),
    }
    Ok(FormModel { fields: properties(schema, 1) })
}

/// The fields of an object schema.
fn properties(schema: &Json, depth: usize) -> Vec<Field> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Json::as_array)
        .map(|names| names.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(Json::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(key, prop)| field(key, prop, required.contains(&key.as_str()), depth))
                .collect()
        })
        .unwrap_or_default()
}

/// The `type` keyword, ignoring `"null"` in a type list (`["string", "null"]`).
fn schema_type(schema: &Json) -> Option<&str> {
    match schema.get("type")? {
        Json::String(t) => Some(t),
        Json::Array(types) => types.iter().filter_map(Json::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn field(key: &str, schema: &Json, required: bool, depth: usize) -> Field {
    let label =
        schema.get("title").and_then(Json::as_str).map(str::to_owned).unwrap_or_else(|| humanize(key));
    Field {
        key: key.to_owned(),
        label,
        description: schema.get("description").and_then(Json::as_str).map(str::to_owned),
        required,
        widget: widget(schema, depth),
        default: schema.get("default").cloned(),
        placeholder: None,
    }
}

fn widget(schema: &Json, depth: usize) -> Widget {
    if depth > MAX_DEPTH {
        return Widget::Raw;
    }
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        return Widget::Choice(values.iter().map(|v| (v.clone(), choice_label(v))).collect());
    }
    if let Some(options) = schema.get("oneOf").and_then(Json::as_array).and_then(consts) {
        return Widget::Choice(options);
    }
    match schema_type(schema) {
        Some("string") => Widget::Text(TextRules {
            format: match schema.get("format").and_then(Json::as_str) {
                Some("email") => TextFormat::Email,
                Some("uri" | "url") => TextFormat::Url,
                Some("date") => TextFormat::Date,
                Some("date-time") => TextFormat::DateTime,
                _ => TextFormat::Plain,
            },
            min_length: schema.get("minLength").and_then(Json::as_count),
            max_length: schema.get("maxLength").and_then(Json::as_count),
        }),
        Some(kind @ ("number" | "integer")) => Widget::Number(NumberRules {
            integer: kind == "integer",
            minimum: schema.get("minimum").and_then(Json::as_f64),
            maximum: schema.get("maximum").and_then(Json::as_f64),
        }),
        Some("boolean") => Widget::Checkbox,
        Some("array") => {
            let item = match schema.get("items") {
                Some(items) if items.as_object().is_some() => field("", items, true, depth + 1),
                _ => Field {
                    key: String::new(),
                    label: String::new(),
                    description: None,
                    required: true,
                    widget: Widget::Raw,
                    default: None,
                    placeholder: None,
                },
            };
            Widget::List(ListRules {
                item: Box::new(item),
                min_items: schema.get("minItems").and_then(Json::as_count),
                max_items: schema.get("maxItems").and_then(Json::as_count),
            })
        }
        Some("object") => Widget::Group(properties(schema, depth + 1)),
        None if schema.get("properties").is_some() => Widget::Group(properties(schema, depth + 1)),
        _ => Widget::Raw,
    }
}

/// `oneOf: [{const, title}, …]` as labelled choices; `None` unless every branch is a `const`.
fn consts(options: &[Json]) -> Option<Vec<(Json, String)>> {
    options
        .iter()
        .map(|o| {
            let value = o.get("const")?.clone();
            let label = o
                .get("title")
                .and_then(Json::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| choice_label(&value));
            Some((value, label))
        })
        .collect()
}

fn choice_label(value: &Json) -> String {
    value.display_text().unwrap_or_else(|| "—".to_owned())
}

/// The form of a credential app, from the field specs the broker sends (`CredentialField`:
/// `name`, `label`, `kind` text|secret|url, `required`, `help?`, `placeholder?`).
pub fn credential_model(fields: &[Json]) -> FormModel {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        out.push(Field {
            key: f.str_at("name").to_owned(),
            label: f.str_at("label").to_owned(),
            description: f.opt_str("help").map(str::to_owned),
            required: f.get("required").and_then(Json::as_bool).unwrap_or(true),
            widget: Widget::Text(TextRules {
                format: match f.str_at("kind") {
                    "secret" => TextFormat::Password,
                    "url" => TextFormat::Url,
                    _ => TextFormat::Plain,
                },
                ..TextRules::default()
            }),
            default: None,
            placeholder: f.opt_str("placeholder").map(str::to_owned),
        });
    }
    FormModel { fields: out }
}

/// `first_name` / `firstName` / `first-name` → `First name`.
pub fn humanize(key: &str) -> String {
    let mut words = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for c in key.chars() {
        if c == '_' || c == '-' || c == ' ' {
            if !words.ends_with(' ') && !words.is_empty() {
                words.push(' ');
            }
            prev_lower = false;
            continue;
        }
        // ASCII rules only: Unicode case tables would cost the bundle more than labels gain.
        if c.is_ascii_uppercase() && prev_lower {
            words.push(' ');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        words.push(c.to_ascii_lowercase());
    }
    let mut label = words.trim_end().to_owned();
    if let Some(first) = label.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    label
}

/// The value a field starts with: the caller's prefill, else the schema's default.
pub fn initial<'a>(field: &'a Field, prefill: Option<&'a Json>) -> Option<&'a Json> {
    prefill.filter(|v| **v != Json::Null).or(field.default.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::json;

    #[test]
    fn every_supported_keyword_becomes_a_widget() {
        let schema = json(
            r#"{
              "type": "object",
              "required": ["email", "age"],
              "properties": {
                "email": { "type": "string", "format": "email", "description": "Work address" },
                "age": { "type": "integer", "minimum": 0, "maximum": 150 },
                "score": { "type": ["number", "null"] },
                "active": { "type": "boolean", "default": true },
                "color": { "enum": ["red", "green"] },
                "size": { "oneOf": [{ "const": 1, "title": "Small" }, { "const": 2, "title": "Large" }] },
                "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 3 },
                "address": { "type": "object", "title": "Postal address", "required": ["zip"],
                             "properties": { "street": { "type": "string" }, "zip": { "type": "string", "minLength": 4 } } },
                "extra": { "anyOf": [{ "type": "string" }, { "type": "number" }] }
              }
            }"#,
        );
        let model = form_model(&schema).expect("model");
        let keys: Vec<&str> = model.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["email", "age", "score", "active", "color", "size", "tags", "address", "extra"]);
        let f = &model.fields;
        assert_eq!(f[0].widget, Widget::Text(TextRules { format: TextFormat::Email, ..Default::default() }));
        assert_eq!((f[0].required, f[0].description.as_deref()), (true, Some("Work address")));
        assert_eq!(
            f[1].widget,
            Widget::Number(NumberRules { integer: true, minimum: Some(0.0), maximum: Some(150.0) })
        );
        assert_eq!(f[2].widget, Widget::Number(NumberRules::default()));
        assert!(!f[2].required);
        assert_eq!((&f[3].widget, &f[3].default), (&Widget::Checkbox, &Some(Json::Bool(true))));
        assert_eq!(
            f[4].widget,
            Widget::Choice(vec![
                (Json::String("red".into()), "red".into()),
                (Json::String("green".into()), "green".into())
            ])
        );
        assert_eq!(
            f[5].widget,
            Widget::Choice(vec![(Json::Number(1.0), "Small".into()), (Json::Number(2.0), "Large".into())])
        );
        let Widget::List(list) = &f[6].widget else { panic!("tags is a list: {:?}", f[6].widget) };
        assert_eq!((list.max_items, &list.item.widget), (Some(3), &Widget::Text(TextRules::default())));
        let Widget::Group(address) = &f[7].widget else { panic!("address is a group") };
        assert_eq!(f[7].label, "Postal address");
        assert_eq!((address[1].key.as_str(), address[1].required), ("zip", true));
        assert_eq!(address[1].widget, Widget::Text(TextRules { min_length: Some(4), ..Default::default() }));
        assert_eq!(f[8].widget, Widget::Raw);
    }

    #[test]
    fn the_root_must_be_an_object() {
        assert_eq!(form_model(&json(r#"{"type":"string"}"#)), Err(SchemaError::RootNotObject));
        assert_eq!(form_model(&json("{}")).map(|m| m.fields.len()), Ok(0));
        assert_eq!(
            form_model(&json(r#"{"properties":{"a":{"type":"string"}}}"#)).map(|m| m.fields.len()),
            Ok(1)
        );
    }

    #[test]
    fn deep_nesting_degrades_to_json_text() {
        let mut schema = r#"{"type":"string"}"#.to_owned();
        for _ in 0..10 {
            schema = format!(r#"{{"type":"object","properties":{{"x":{schema}}}}}"#);
        }
        let model = form_model(&json(&schema)).expect("model");
        let mut field = &model.fields[0];
        let mut depth = 1;
        while let Widget::Group(children) = &field.widget {
            field = &children[0];
            depth += 1;
        }
        assert_eq!((depth, &field.widget), (MAX_DEPTH + 1, &Widget::Raw));
    }

    #[test]
    fn credential_fields_become_text_inputs_with_secrets_as_passwords() {
        use patchbay_protocol::{CredentialField, FieldKind};
        let fields: Vec<CredentialField> = ["base_url", "username", "password"]
            .iter()
            .map(|name| CredentialField {
                name: (*name).into(),
                label: humanize(name),
                kind: FieldKind::of(name),
                required: true,
                help: None,
                placeholder: (*name == "base_url").then(|| "https://x".into()),
            })
            .collect();
        let fields: Json =
            serde_json::from_str(&serde_json::to_string(&fields).expect("serialize")).expect("parse");
        let model = credential_model(fields.as_array().expect("list"));
        let formats: Vec<TextFormat> = model
            .fields
            .iter()
            .map(|f| match f.widget {
                Widget::Text(rules) => rules.format,
                _ => panic!("credential fields are text inputs"),
            })
            .collect();
        assert_eq!(formats, [TextFormat::Url, TextFormat::Plain, TextFormat::Password]);
        assert_eq!(model.fields[0].placeholder.as_deref(), Some("https://x"));
        assert!(model.fields.iter().all(|f| f.required));
    }

    #[test]
    fn keys_are_humanised_into_labels() {
        assert_eq!(humanize("first_name"), "First name");
        assert_eq!(humanize("firstName"), "First name");
        assert_eq!(humanize("api-key2"), "Api key2");
        assert_eq!(humanize("URL"), "Url");
        assert_eq!(humanize(""), "");
    }

    #[test]
    fn prefill_wins_over_the_default() {
        let f = field("n", &json(r#"{"type":"integer","default":3}"#), false, 1);
        assert_eq!(initial(&f, None), Some(&Json::Number(3.0)));
        let prefill = Json::Number(7.0);
        assert_eq!(initial(&f, Some(&prefill)), Some(&prefill));
        assert_eq!(initial(&f, Some(&Json::Null)), Some(&Json::Number(3.0)));
    }
}
