//! Reading a filled function form back into typed arguments, with one problem per failing
//! field (named by JSON Pointer, as the broker names them).

use crate::i18n::{fill, text, Lang, Text};
use crate::json::{format_number, Json};
use crate::schema::{Field, FormModel, ListRules, NumberRules, TextFormat, TextRules, Widget};

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// What the user entered in one field, shaped like its [`Widget`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A text input's value.
    Text(String),
    /// A number input, as the browser parsed it.
    Number(NumberInput),
    /// A checkbox.
    Check(bool),
    /// The selected option's index (`None`: the empty option).
    Choice(Option<usize>),
    /// List items.
    List(Vec<Input>),
    /// A group's fields, in model order.
    Group(Vec<Input>),
    /// A JSON text area's text.
    Raw(String),
}

/// The content of a number input (the browser parses it: no float parsing in the bundle).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberInput {
    /// Nothing entered.
    Empty,
    /// A number.
    Value(f64),
    /// Text that is not a number.
    Bad,
}

/// Why a field's value is refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Issue {
    /// Empty but required.
    Required,
    /// Not a number.
    NotANumber,
    /// Not a whole number (or beyond JavaScript's exact integers).
    NotAnInteger,
    /// Below `minimum`.
    TooSmall(f64),
    /// Above `maximum`.
    TooLarge(f64),
    /// Shorter than `minLength`.
    TooShort(usize),
    /// Longer than `maxLength`.
    TooLong(usize),
    /// Not an email address.
    BadEmail,
    /// Not an http(s) URL.
    BadUrl,
    /// Not JSON.
    BadJson,
    /// Fewer than `minItems`.
    TooFewItems(usize),
    /// More than `maxItems`.
    TooManyItems(usize),
}

impl Issue {
    /// The message shown under the field.
    pub fn text(self, lang: Lang) -> String {
        match self {
            Issue::Required => text(lang, Text::Required).to_owned(),
            Issue::NotANumber => text(lang, Text::NotANumber).to_owned(),
            Issue::NotAnInteger => text(lang, Text::NotAnInteger).to_owned(),
            Issue::TooSmall(min) => fill(lang, Text::TooSmall, &[("min", &format_number(min))]),
            Issue::TooLarge(max) => fill(lang, Text::TooLarge, &[("max", &format_number(max))]),
            Issue::TooShort(min) => fill(lang, Text::TooShort, &[("min", &min.to_string())]),
            Issue::TooLong(max) => fill(lang, Text::TooLong, &[("max", &max.to_string())]),
            Issue::BadEmail => text(lang, Text::BadEmail).to_owned(),
            Issue::BadUrl => text(lang, Text::BadUrl).to_owned(),
            Issue::BadJson => text(lang, Text::BadJson).to_owned(),
            Issue::TooFewItems(min) => fill(lang, Text::TooFewItems, &[("min", &min.to_string())]),
            Issue::TooManyItems(max) => fill(lang, Text::TooManyItems, &[("max", &max.to_string())]),
        }
    }
}

/// One failing field.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// JSON Pointer of the field (`/address/zip`, `/tags/0`).
    pub pointer: String,
    /// What is wrong.
    pub issue: Issue,
}

/// Appends `key` to a JSON Pointer, escaping `~` and `/`.
pub fn pointer_child(parent: &str, key: &str) -> String {
    let mut out = String::with_capacity(parent.len() + key.len() + 1);
    out.push_str(parent);
    out.push('/');
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`pointer_child`]'s escaping of one segment.
fn unescape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        match (c, c == '~') {
            (_, true) => match chars.next() {
                Some('1') => out.push('/'),
                Some('0') => out.push('~'),
                Some(other) => {
                    out.push('~');
                    out.push(other);
                }
                None => out.push('~'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// Parses the text of a JSON field (the browser's `JSON.parse`; `serde_json` in native tests).
pub type ParseJson<'a> = &'a dyn Fn(&str) -> Option<Json>;

/// Turns the inputs of `model`'s top-level fields into the arguments object, or every problem.
pub fn collect(model: &FormModel, inputs: &[Input], parse: ParseJson<'_>) -> Result<Json, Vec<Problem>> {
    let mut problems = Vec::new();
    let args = group(&model.fields, inputs, "", parse, &mut problems);
    if problems.is_empty() {
        Ok(args)
    } else {
        Err(problems)
    }
}

fn group(
    fields: &[Field],
    inputs: &[Input],
    pointer: &str,
    parse: ParseJson<'_>,
    problems: &mut Vec<Problem>,
) -> Json {
    let mut members = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let empty = Input::Text(String::new());
        let input = inputs.get(i).unwrap_or(&empty);
        let child = pointer_child(pointer, &field.key);
        if let Some(value) = value(field, input, &child, parse, problems) {
            members.push((field.key.clone(), value));
        }
    }
    Json::Object(members)
}

/// Whether the user left `input` untouched (an optional field or group is then omitted).
fn is_blank(input: &Input) -> bool {
    match input {
        Input::Text(s) => s.trim().is_empty(),
        Input::Number(n) => *n == NumberInput::Empty,
        Input::Check(checked) => !checked,
        Input::Choice(choice) => choice.is_none(),
        Input::List(items) => items.is_empty(),
        Input::Group(children) => children.iter().all(is_blank),
        Input::Raw(text) => text.trim().is_empty(),
    }
}

/// The value of one field: `None` when it is omitted (or failed; the problem is recorded).
fn value(
    field: &Field,
    input: &Input,
    pointer: &str,
    parse: ParseJson<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Json> {
    let mut fail = |issue| {
        problems.push(Problem { pointer: pointer.to_owned(), issue });
        None
    };
    match (&field.widget, input) {
        (Widget::Checkbox, Input::Check(checked)) => Some(Json::Bool(*checked)),
        (Widget::Group(children), Input::Group(inputs)) => {
            if !field.required && is_blank(input) {
                return None;
            }
            Some(group(children, inputs, pointer, parse, problems))
        }
        (Widget::List(rules), Input::List(items)) => list(field, rules, items, pointer, parse, problems),
        (_, input) if is_blank(input) => {
            if field.required {
                fail(Issue::Required)
            } else {
                None
            }
        }
        (Widget::Text(rules), Input::Text(text)) => match check_text(rules, text) {
            Ok(()) => Some(Json::String(text.clone())),
            Err(issue) => fail(issue),
        },
        (Widget::Number(rules), Input::Number(number)) => match check_number(rules, *number) {
            Ok(n) => Some(Json::Number(n)),
            Err(issue) => fail(issue),
        },
        (Widget::Choice(options), Input::Choice(Some(i))) => match options.get(*i) {
            Some((value, _)) => Some(value.clone()),
            None => fail(Issue::Required),
        },
        (Widget::Raw, Input::Raw(text)) => match parse(text) {
            Some(json) => Some(json),
            None => fail(Issue::BadJson),
        },
        // An input that does not match its widget: a bug in the form, reported as empty.
        _ => fail(Issue::Required),
    }
}

fn list(
    field: &Field,
    rules: &ListRules,
    items: &[Input],
    pointer: &str,
    parse: ParseJson<'_>,
    problems: &mut Vec<Problem>,
) -> Option<Json> {
    if items.is_empty() && !field.required && rules.min_items.is_none_or(|min| min == 0) {
        return None;
    }
    let mut values = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(v) = value(&rules.item, item, &pointer_child(pointer, &i.to_string()), parse, problems) {
            values.push(v);
        }
    }
    let issue = match (rules.min_items, rules.max_items) {
        (Some(min), _) if items.len() < min => Some(Issue::TooFewItems(min)),
        (_, Some(max)) if items.len() > max => Some(Issue::TooManyItems(max)),
        _ => None,
    };
    if let Some(issue) = issue {
        problems.push(Problem { pointer: pointer.to_owned(), issue });
    }
    Some(Json::Array(values))
}

fn check_text(rules: &TextRules, text: &str) -> Result<(), Issue> {
    // Characters, not bytes: UTF-8 continuation bytes do not start one.
    let chars = text.bytes().filter(|b| b & 0xC0 != 0x80).count();
    if let Some(min) = rules.min_length.filter(|min| chars < *min) {
        return Err(Issue::TooShort(min));
    }
    if let Some(max) = rules.max_length.filter(|max| chars > *max) {
        return Err(Issue::TooLong(max));
    }
    match rules.format {
        TextFormat::Email if !looks_like_email(text) => Err(Issue::BadEmail),
        TextFormat::Url if !looks_like_url(text) => Err(Issue::BadUrl),
        _ => Ok(()),
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn looks_like_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !text.chars().any(char::is_whitespace)
    })
}

fn check_number(rules: &NumberRules, input: NumberInput) -> Result<f64, Issue> {
    let n = match input {
        NumberInput::Value(n) if n.is_finite() => n,
        _ => return Err(Issue::NotANumber),
    };
    if rules.integer && (n.fract() != 0.0 || n.abs() > MAX_SAFE_INTEGER) {
        return Err(Issue::NotAnInteger);
    }
    if let Some(min) = rules.minimum.filter(|min| n < *min) {
        return Err(Issue::TooSmall(min));
    }
    if let Some(max) = rules.maximum.filter(|max| n > *max) {
        return Err(Issue::TooLarge(max));
    }
    Ok(n)
}

/// The element id of the control at `pointer` (ids cannot hold whitespace; `~s` cannot occur in
/// a JSON Pointer, whose `~` is always followed by `0` or `1`).
pub fn id_of(pointer: &str) -> String {
    let mut id = String::with_capacity(pointer.len() + 1);
    id.push('f');
    for c in pointer.chars() {
        if c.is_ascii_whitespace() {
            id.push_str("~s");
        } else {
            id.push(c);
        }
    }
    id
}

/// The input a fresh field (or list item) starts with.
pub fn blank(field: &Field) -> Input {
    start(field, None)
}

/// The inputs `fields` start with: `values` (the caller's prefill) where given, else defaults.
pub fn initial_inputs(fields: &[Field], values: Option<&Json>) -> Vec<Input> {
    fields.iter().map(|f| start(f, crate::schema::initial(f, values.and_then(|v| v.get(&f.key))))).collect()
}

fn start(field: &Field, value: Option<&Json>) -> Input {
    match &field.widget {
        Widget::Text(_) => Input::Text(value.and_then(Json::display_text).unwrap_or_default()),
        Widget::Number(_) => {
            Input::Number(value.and_then(Json::as_f64).map_or(NumberInput::Empty, NumberInput::Value))
        }
        Widget::Checkbox => Input::Check(value.and_then(Json::as_bool).unwrap_or(false)),
        Widget::Choice(options) => {
            Input::Choice(value.and_then(|v| options.iter().position(|(o, _)| o == v)))
        }
        Widget::List(rules) => Input::List(
            value
                .and_then(Json::as_array)
                .unwrap_or_default()
                .iter()
                .map(|v| start(&rules.item, Some(v)))
                .collect(),
        ),
        Widget::Group(children) => Input::Group(initial_inputs(children, value)),
        Widget::Raw => Input::Raw(value.map(Json::to_text).unwrap_or_default()),
    }
}

/// Visits every leaf control (not lists or groups) with its widget and JSON Pointer, in the
/// order the form renders them.
pub fn leaves(
    fields: &[Field],
    inputs: &mut [Input],
    pointer: &str,
    visit: &mut dyn FnMut(&Widget, &str, &mut Input),
) {
    for (field, input) in fields.iter().zip(inputs.iter_mut()) {
        leaf(field, input, &pointer_child(pointer, &field.key), visit);
    }
}

fn leaf(field: &Field, input: &mut Input, pointer: &str, visit: &mut dyn FnMut(&Widget, &str, &mut Input)) {
    match (&field.widget, input) {
        (Widget::Group(children), Input::Group(inputs)) => leaves(children, inputs, pointer, visit),
        (Widget::List(rules), Input::List(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                leaf(&rules.item, item, &pointer_child(pointer, &i.to_string()), visit);
            }
        }
        (widget, input) => visit(widget, pointer, input),
    }
}

/// Reads the form's controls (by element id, as the browser reports them: strings, booleans for
/// checkboxes, and for number inputs a number, `null` when empty or `"bad"` when not a number)
/// into `inputs`, shaped like the last render.
pub fn read_values(fields: &[Field], inputs: &mut [Input], values: &Json) {
    leaves(fields, inputs, "", &mut |widget, pointer, input| {
        let Some(value) = values.get(&id_of(pointer)) else { return };
        *input = match (widget, value) {
            (Widget::Checkbox, v) => Input::Check(v.as_bool().unwrap_or(false)),
            (Widget::Number(_), Json::Number(n)) => Input::Number(NumberInput::Value(*n)),
            (Widget::Number(_), Json::Null) => Input::Number(NumberInput::Empty),
            (Widget::Number(_), _) => Input::Number(NumberInput::Bad),
            (Widget::Choice(_), v) => Input::Choice(v.as_str().and_then(|s| s.parse().ok())),
            (Widget::Raw, v) => Input::Raw(v.as_str().unwrap_or_default().to_owned()),
            (_, v) => Input::Text(v.as_str().unwrap_or_default().to_owned()),
        };
    });
}

/// The list at `pointer` and its item field (for adding and removing items).
pub fn list_at<'a>(
    fields: &'a [Field],
    inputs: &'a mut [Input],
    pointer: &str,
) -> Option<(&'a Field, &'a mut Vec<Input>)> {
    let mut segments = pointer.split('/').skip(1).map(unescape);
    let key = segments.next()?;
    let index = fields.iter().position(|f| f.key == key)?;
    let mut field = fields.get(index)?;
    let mut input = inputs.get_mut(index)?;
    for segment in segments {
        match (&field.widget, input) {
            (Widget::Group(children), Input::Group(values)) => {
                let index = children.iter().position(|f| f.key == segment)?;
                field = children.get(index)?;
                input = values.get_mut(index)?;
            }
            (Widget::List(rules), Input::List(items)) => {
                field = &rules.item;
                input = items.get_mut(segment.parse::<usize>().ok()?)?;
            }
            _ => return None,
        }
    }
    match (&field.widget, input) {
        (Widget::List(rules), Input::List(items)) => Some((&rules.item, items)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::form_model;

    fn model() -> FormModel {
        let schema: Json = serde_json::from_str(
            r#"{
              "type": "object",
              "required": ["email", "age", "tags"],
              "properties": {
                "email": { "type": "string", "format": "email" },
                "age": { "type": "integer", "minimum": 0 },
                "score": { "type": "number", "maximum": 10 },
                "active": { "type": "boolean" },
                "color": { "enum": ["red", "green"] },
                "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 2 },
                "address": { "type": "object", "required": ["zip"],
                             "properties": { "street": { "type": "string" }, "zip": { "type": "string" } } },
                "extra": { "anyOf": [] }
              }
            }"#,
        )
        .expect("schema");
        form_model(&schema).expect("model")
    }

    fn parse(text: &str) -> Option<Json> {
        serde_json::from_str(text).ok()
    }

    fn text(s: &str) -> Input {
        Input::Text(s.to_owned())
    }

    fn num(n: f64) -> Input {
        Input::Number(NumberInput::Value(n))
    }

    const NO_NUMBER: Input = Input::Number(NumberInput::Empty);

    #[test]
    fn a_valid_form_yields_typed_arguments_and_omits_empty_optionals() {
        let inputs = [
            text("ann@example.com"),
            num(42.0),
            NO_NUMBER,
            Input::Check(true),
            Input::Choice(Some(1)),
            Input::List(vec![text("a"), text("b")]),
            Input::Group(vec![text(""), text("")]),
            Input::Raw("1.5".into()),
        ];
        let args = collect(&model(), &inputs, &parse).expect("valid");
        let expected: Json = serde_json::from_str(
            r#"{"email":"ann@example.com","age":42,"active":true,"color":"green","tags":["a","b"],"extra":1.5}"#,
        )
        .expect("expected");
        assert_eq!(args, expected);
    }

    #[test]
    fn every_problem_is_reported_with_its_pointer() {
        let inputs = [
            text("not-an-email"),
            num(4.5),
            num(11.0),
            Input::Check(false),
            Input::Choice(None),
            Input::List(vec![text("a"), text(""), text("c")]),
            Input::Group(vec![text("Main St"), text("")]),
            Input::Raw("{nope".into()),
        ];
        let problems = collect(&model(), &inputs, &parse).expect_err("invalid");
        let found: Vec<(&str, Issue)> = problems.iter().map(|p| (p.pointer.as_str(), p.issue)).collect();
        assert_eq!(
            found,
            [
                ("/email", Issue::BadEmail),
                ("/age", Issue::NotAnInteger),
                ("/score", Issue::TooLarge(10.0)),
                ("/tags/1", Issue::Required),
                ("/tags", Issue::TooManyItems(2)),
                ("/address/zip", Issue::Required),
                ("/extra", Issue::BadJson),
            ]
        );
    }

    #[test]
    fn required_fields_must_be_filled() {
        let inputs =
            [text(""), NO_NUMBER, NO_NUMBER, Input::Check(false), Input::Choice(None), Input::List(vec![])];
        let problems = collect(&model(), &inputs, &parse).expect_err("invalid");
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(pointers, ["/email", "/age"]);
        // A required list may be empty (it is present); it is sent as [].
        let ok = [
            text("a@b.c"),
            num(-0.0),
            NO_NUMBER,
            Input::Check(false),
            Input::Choice(None),
            Input::List(vec![]),
        ];
        let args = collect(&model(), &ok, &parse).expect("valid");
        assert_eq!(args.get("tags"), Some(&Json::Array(vec![])));
        assert_eq!(args.get("address"), None);
    }

    #[test]
    fn numbers_urls_and_emails_are_checked() {
        let int = NumberRules { integer: true, ..Default::default() };
        assert_eq!(check_number(&int, NumberInput::Value(1e3)), Ok(1000.0));
        assert_eq!(check_number(&int, NumberInput::Bad), Err(Issue::NotANumber));
        assert_eq!(check_number(&int, NumberInput::Value(f64::NAN)), Err(Issue::NotANumber));
        assert_eq!(check_number(&int, NumberInput::Value(1e300)), Err(Issue::NotAnInteger));
        let ranged = NumberRules { integer: false, minimum: Some(1.5), maximum: None };
        assert_eq!(check_number(&ranged, NumberInput::Value(1.0)), Err(Issue::TooSmall(1.5)));
        assert!(looks_like_url("https://example.com/x"));
        assert!(!looks_like_url("ftp://example.com"));
        assert!(!looks_like_url("https://"));
        assert!(looks_like_email("a.b@c.io"));
        assert!(!looks_like_email("a@b@c"));
        assert!(!looks_like_email("a @b.c"));
        let sized = TextRules { min_length: Some(2), max_length: Some(3), ..Default::default() };
        assert_eq!(check_text(&sized, "é"), Err(Issue::TooShort(2)));
        assert_eq!(check_text(&sized, "éééé"), Err(Issue::TooLong(3)));
    }

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        assert_eq!(pointer_child("", "a/b~c"), "/a~1b~0c");
        assert_eq!(pointer_child("/x", "0"), "/x/0");
    }

    #[test]
    fn issues_read_in_the_interface_language() {
        assert_eq!(Issue::TooSmall(0.5).text(Lang::Es), "Introduce un valor de al menos 0.5.");
        assert_eq!(Issue::Required.text(Lang::PtBr), "Este campo é obrigatório.");
    }

    #[test]
    fn initial_inputs_come_from_prefill_then_defaults() {
        let schema: Json = serde_json::from_str(
            r#"{"type":"object","properties":{
                "n":{"type":"integer","default":3},
                "c":{"enum":["a","b"],"default":"b"},
                "t":{"type":"array","items":{"type":"string"}},
                "g":{"type":"object","properties":{"x":{"type":"boolean","default":true}}},
                "r":{"anyOf":[]}
            }}"#,
        )
        .expect("schema");
        let model = form_model(&schema).expect("model");
        let prefill: Json = serde_json::from_str(r#"{"t":["x","y"],"r":{"k":[1,"s"]}}"#).expect("prefill");
        let inputs = initial_inputs(&model.fields, Some(&prefill));
        assert_eq!(
            inputs,
            [
                num(3.0),
                Input::Choice(Some(1)),
                Input::List(vec![text("x"), text("y")]),
                Input::Group(vec![Input::Check(true)]),
                Input::Raw(r#"{"k":[1,"s"]}"#.into()),
            ]
        );
    }

    #[test]
    fn leaves_are_visited_in_render_order_with_their_pointers() {
        let mut inputs = vec![
            text("a@b.c"),
            num(1.0),
            NO_NUMBER,
            Input::Check(false),
            Input::Choice(None),
            Input::List(vec![text("x"), text("y")]),
            Input::Group(vec![text(""), text("")]),
            Input::Raw(String::new()),
        ];
        let mut seen = Vec::new();
        leaves(&model().fields, &mut inputs, "", &mut |_, pointer, _| seen.push(pointer.to_owned()));
        assert_eq!(
            seen,
            [
                "/email",
                "/age",
                "/score",
                "/active",
                "/color",
                "/tags/0",
                "/tags/1",
                "/address/street",
                "/address/zip",
                "/extra"
            ]
        );
        assert_eq!(id_of("/a b/0"), "f/a~sb/0");
    }

    #[test]
    fn lists_are_found_by_pointer_at_any_depth() {
        let schema: Json = serde_json::from_str(
            r#"{"type":"object","properties":{"rows":{"type":"array","items":{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}}}}}}}"#,
        )
        .expect("schema");
        let model = form_model(&schema).expect("model");
        let mut inputs = vec![Input::List(vec![Input::Group(vec![Input::List(vec![])])])];
        let (item, rows) = list_at(&model.fields, &mut inputs, "/rows").expect("rows");
        assert!(matches!(item.widget, Widget::Group(_)));
        assert_eq!(rows.len(), 1);
        let (item, tags) = list_at(&model.fields, &mut inputs, "/rows/0/tags").expect("tags");
        tags.push(blank(item));
        assert_eq!(inputs, [Input::List(vec![Input::Group(vec![Input::List(vec![text("")])])])]);
        assert!(list_at(&model.fields, &mut inputs, "/rows/1/tags").is_none());
        assert!(list_at(&model.fields, &mut inputs, "/nope").is_none());
    }

    #[test]
    fn browser_values_are_read_into_the_inputs() {
        let mut inputs = vec![
            text(""),
            NO_NUMBER,
            NO_NUMBER,
            Input::Check(false),
            Input::Choice(None),
            Input::List(vec![text("")]),
            Input::Group(vec![text(""), text("")]),
            Input::Raw(String::new()),
        ];
        let values: Json = serde_json::from_str(
            r#"{"f/email":"a@b.c","f/age":7,"f/score":"bad","f/active":true,"f/color":"1","f/tags/0":"x","f/address/zip":"1234","f/extra":"[1]"}"#,
        )
        .expect("values");
        read_values(&model().fields, &mut inputs, &values);
        assert_eq!(
            inputs,
            [
                text("a@b.c"),
                num(7.0),
                Input::Number(NumberInput::Bad),
                Input::Check(true),
                Input::Choice(Some(1)),
                Input::List(vec![text("x")]),
                Input::Group(vec![text(""), text("1234")]),
                Input::Raw("[1]".into()),
            ]
        );
    }
}
