//! Every SDK view as HTML: dialogs, forms (credential and function), the OAuth waiting overlay,
//! an app's page and the marketplace. The browser layer puts the markup into a shadow root and
//! routes clicks through `data-action` / `data-id` attributes, so the rendering, including its
//! accessibility attributes, is plain Rust tested natively.

use crate::accounts::{count, status_text, tile_status};
use crate::browse::{categories, category_label, Filter, TOOLBAR_FROM};
use crate::html::Html;
use crate::i18n::{fill, text, Lang, Text};
use crate::json::{format_number, Json};
use crate::schema::{Field, FormModel, TextFormat, Widget};
use crate::validate::{id_of, pointer_child, Input, NumberInput};

/// Id of every dialog's title (ids are scoped to each shadow root).
pub const TITLE_ID: &str = "pb-title";
/// Id of a form's summary line (`role="alert"`).
pub const SUMMARY_ID: &str = "pb-summary";
/// Id of a form's submit button.
pub const SUBMIT_ID: &str = "pb-submit";
/// Id of a status line (`role="status"`).
pub const STATUS_ID: &str = "pb-status";
/// Id of the waiting overlay's hint.
pub const HINT_ID: &str = "pb-hint";

/// A modal dialog around `body`: `role="dialog"`, `aria-modal`, labelled by its title; `data`
/// adds one `data-*` attribute (`("data-attempt-id", "att_…")`).
pub fn dialog(lang: Lang, title: &str, wide: bool, data: Option<(&str, &str)>, body: &str) -> String {
    let mut h = Html::new();
    h.raw(if wide {
        r#"<div class="backdrop"></div><div class="dialog wide""#
    } else {
        r#"<div class="backdrop"></div><div class="dialog""#
    });
    h.raw(r#" role="dialog" aria-modal="true" aria-labelledby="pb-title""#).attr("lang", lang.tag());
    if let Some((name, value)) = data {
        h.attr(name, value);
    }
    h.raw(r#"><h2 id="pb-title">"#).text(title).raw("</h2>").raw(body).raw("</div>");
    h.finish()
}

/// What a form shows.
pub struct FormView<'a> {
    /// Interface language.
    pub lang: Lang,
    /// Paragraphs above the fields (description, acting account).
    pub intro: &'a [String],
    /// The fields.
    pub model: &'a FormModel,
    /// Their current values.
    pub inputs: &'a [Input],
    /// The submit button's label.
    pub submit: Text,
}

/// `<button type="button" data-action="…" [data-id] [class] [disabled]>label</button>`.
fn button(h: &mut Html, action: &str, id: Option<&str>, class: &str, disabled: bool, label: &str) {
    h.raw(r#"<button type="button""#);
    if !class.is_empty() {
        h.attr("class", class);
    }
    h.attr("data-action", action);
    if let Some(id) = id {
        h.attr("data-id", id);
    }
    h.flag("disabled", disabled).raw(">").text(label).raw("</button>");
}

/// A form: labelled fields with help and (hidden) error lines, a summary, Cancel and submit.
pub fn form(v: &FormView<'_>) -> String {
    let mut h = Html::new();
    h.raw(r#"<form novalidate="">"#);
    for p in v.intro {
        h.raw(r#"<p class="muted">"#).text(p).raw("</p>");
    }
    for (field, input) in v.model.fields.iter().zip(v.inputs) {
        render_field(&mut h, v.lang, field, input, &pointer_child("", &field.key), &field.label);
    }
    h.raw(r#"<p class="form-error" role="alert" id="pb-summary" hidden=""></p><div class="actions">"#);
    button(&mut h, "cancel", None, "", false, text(v.lang, Text::Cancel));
    h.raw(r#"<button type="submit" class="primary" id="pb-submit">"#).text(text(v.lang, v.submit));
    h.raw("</button></div></form>");
    h.finish()
}

/// `<tag [for=…] [class=…]><span>label</span>[*]` (left open).
fn label(h: &mut Html, tag: &str, for_id: &str, label: &str, required: bool) {
    h.raw("<").raw(tag);
    if !for_id.is_empty() {
        h.attr("for", for_id);
    }
    h.raw("><span>").text(label).raw("</span>");
    if required {
        h.raw(r#"<span class="req" aria-hidden="true">*</span>"#);
    }
}

/// The help line (when the field has a description) and the hidden error line.
fn help_and_error(h: &mut Html, field: &Field, id: &str) {
    if let Some(description) = &field.description {
        h.raw(r#"<p class="help" id="h"#).text(id).raw(r#"">"#).text(description).raw("</p>");
    }
    h.raw(r#"<p class="error" id="e"#).text(id).raw(r#"" hidden=""></p>"#);
}

/// ` id name [required aria-required] aria-describedby` of a control.
fn control_attrs(h: &mut Html, field: &Field, id: &str, pointer: &str, required: bool) {
    h.attr("id", id).attr("name", pointer);
    if required {
        h.raw(r#" required="" aria-required="true""#);
    }
    let mut described = String::new();
    if field.description.is_some() {
        described.push('h');
        described.push_str(id);
        described.push(' ');
    }
    described.push('e');
    described.push_str(id);
    h.attr("aria-describedby", &described);
}

fn render_field(h: &mut Html, lang: Lang, field: &Field, input: &Input, pointer: &str, name: &str) {
    let id = id_of(pointer);
    match (&field.widget, input) {
        (Widget::Group(children), Input::Group(inputs)) => {
            h.raw("<fieldset").attr("id", &id).raw(">");
            label(h, "legend", "", name, field.required);
            h.raw("</legend>");
            for (child, input) in children.iter().zip(inputs) {
                render_field(h, lang, child, input, &pointer_child(pointer, &child.key), &child.label);
            }
            help_and_error(h, field, &id);
            h.raw("</fieldset>");
        }
        (Widget::List(rules), Input::List(items)) => {
            h.raw("<fieldset").attr("id", &id).raw(">");
            label(h, "legend", "", name, field.required);
            h.raw("</legend><div>");
            for (i, item) in items.iter().enumerate() {
                let n = (i + 1).to_string();
                let item_pointer = pointer_child(pointer, &i.to_string());
                h.raw(r#"<div class="item"><div>"#);
                render_field(
                    h,
                    lang,
                    &rules.item,
                    item,
                    &item_pointer,
                    &fill(lang, Text::ItemLabel, &[("n", &n)]),
                );
                h.raw(r#"</div><button type="button" data-action="remove""#).attr("data-id", &item_pointer);
                h.attr("aria-label", &fill(lang, Text::RemoveItem, &[("n", &n)])).raw(">×</button></div>");
            }
            h.raw(r#"</div><button type="button" id="add"#).text(&id).raw(r#"" data-action="add""#);
            h.attr("data-id", pointer).raw(">").text(text(lang, Text::AddItem)).raw("</button>");
            help_and_error(h, field, &id);
            h.raw("</fieldset>");
        }
        (widget, input) => {
            h.raw(r#"<div class="field">"#);
            match widget {
                Widget::Checkbox => {
                    // The checkbox sits inside its label, before the text.
                    h.raw(r#"<label class="check""#).attr("for", &id).raw(r#"><input type="checkbox""#);
                    control_attrs(h, field, &id, pointer, false);
                    h.flag("checked", matches!(input, Input::Check(true)))
                        .raw("><span>")
                        .text(name)
                        .raw("</span>");
                }
                Widget::Choice(options) => {
                    label(h, "label", &id, name, field.required);
                    h.raw("</label><select");
                    control_attrs(h, field, &id, pointer, field.required);
                    h.raw(r#"><option value="">"#).text(text(lang, Text::ChooseOption)).raw("</option>");
                    let selected = if let Input::Choice(choice) = input { *choice } else { None };
                    for (i, (_, option)) in options.iter().enumerate() {
                        h.raw("<option")
                            .attr("value", &i.to_string())
                            .flag("selected", selected == Some(i))
                            .raw(">");
                        h.text(option).raw("</option>");
                    }
                    h.raw("</select>");
                }
                Widget::Number(rules) => {
                    label(h, "label", &id, name, field.required);
                    h.raw(r#"</label><input type="number""#);
                    control_attrs(h, field, &id, pointer, field.required);
                    if let Input::Number(NumberInput::Value(n)) = input {
                        h.attr("value", &format_number(*n));
                    }
                    h.raw(if rules.integer {
                        r#" step="1" inputmode="numeric""#
                    } else {
                        r#" step="any" inputmode="decimal""#
                    });
                    if let Some(min) = rules.minimum {
                        h.attr("min", &format_number(min));
                    }
                    if let Some(max) = rules.maximum {
                        h.attr("max", &format_number(max));
                    }
                    h.raw(">");
                }
                Widget::Text(rules) => {
                    label(h, "label", &id, name, field.required);
                    h.raw("</label><input").attr("type", rules.format.input_type());
                    control_attrs(h, field, &id, pointer, field.required);
                    if let Input::Text(value) = input {
                        h.attr("value", value);
                    }
                    h.attr(
                        "autocomplete",
                        match rules.format {
                            TextFormat::Url => "url",
                            TextFormat::Email => "email",
                            TextFormat::Plain if field.key == "username" => "username",
                            _ => "off",
                        },
                    );
                    h.raw(r#" spellcheck="false""#);
                    if let Some(placeholder) = &field.placeholder {
                        h.attr("placeholder", placeholder);
                    }
                    if let Some(max) = rules.max_length {
                        h.attr("maxlength", &max.to_string());
                    }
                    h.raw(">");
                }
                _ => {
                    label(h, "label", &id, name, field.required);
                    h.raw("</label><textarea");
                    control_attrs(h, field, &id, pointer, field.required);
                    h.raw(r#" spellcheck="false">"#);
                    if let Input::Raw(value) = input {
                        h.text(value);
                    }
                    h.raw("</textarea>");
                }
            }
            if matches!(widget, Widget::Checkbox) {
                h.raw("</label>");
            }
            help_and_error(h, field, &id);
            h.raw("</div>");
        }
    }
}

/// The OAuth waiting overlay's body.
pub fn waiting(lang: Lang, app: &str) -> String {
    let mut h = Html::new();
    h.raw("<p>").text(&fill(lang, Text::WaitingBody, &[("app", app)])).raw("</p>");
    h.raw(r#"<p class="muted" role="status" id="pb-hint" hidden="">"#)
        .text(text(lang, Text::WaitingClosedHint));
    h.raw(r#"</p><div class="actions">"#);
    // Cancel comes first and has focus: Enter or Space never opens a second sign-in window.
    h.raw(r#"<button type="button" data-action="cancel" data-autofocus="">"#);
    h.text(text(lang, Text::Cancel)).raw("</button>");
    h.raw(r#"<button type="button" class="primary" data-action="reopen">"#);
    h.text(text(lang, Text::Reopen)).raw("</button></div>");
    h.finish()
}

/// What an app's page shows.
pub struct AppPageView<'a> {
    /// Interface language.
    pub lang: Lang,
    /// The app's description.
    pub description: Option<&'a str>,
    /// The provider's API documentation.
    pub docs: Option<&'a str>,
    /// The user's accounts (the broker's `ConnectedAccount` JSON).
    pub accounts: &'a [Json],
    /// The connect button's label, when the policy offers one.
    pub connect: Option<Text>,
    /// The account whose disconnect awaits confirmation.
    pub confirming: Option<&'a str>,
    /// The status line.
    pub status: Option<&'a str>,
    /// An operation is running: actions are disabled.
    pub busy: bool,
}

/// An app's page: accounts with status and date, reconnect / disconnect, connect, close.
pub fn app_page(v: &AppPageView<'_>) -> String {
    let lang = v.lang;
    let mut h = Html::new();
    if let Some(description) = v.description {
        h.raw(r#"<p class="muted">"#).text(description).raw("</p>");
    }
    // Only http(s) links: the broker's catalog is checked, but a link is the page's to guard.
    if let Some(docs) = v.docs.filter(|url| url.starts_with("https://") || url.starts_with("http://")) {
        h.raw(r#"<a class="docs" target="_blank" rel="noopener noreferrer""#).attr("href", docs).raw(">");
        h.text(text(lang, Text::Documentation)).raw("</a>");
    }
    h.raw(r#"<h3 id="pb-accounts">"#).text(text(lang, Text::ConnectedAccounts));
    h.raw(r#"</h3><ul aria-labelledby="pb-accounts">"#);
    if v.accounts.is_empty() {
        h.raw(r#"<li class="muted">"#).text(text(lang, Text::NoAccounts)).raw("</li>");
    }
    for (i, account) in v.accounts.iter().enumerate() {
        let name_id = format!("n{i}");
        let (account_id, name, status) =
            (account.str_at("id"), account.str_at("displayName"), account.str_at("status"));
        h.raw(r#"<li class="account""#)
            .attr("data-account-id", account_id)
            .raw(r#"><div><span class="name""#);
        h.attr("id", &name_id).raw(">").text(name).raw("</span>");
        h.raw(if status == "needs_reauth" {
            r#"<span class="badge warn">"#
        } else {
            r#"<span class="badge">"#
        });
        h.text(status_text(lang, status)).raw(r#"</span><div class="muted">"#);
        // The date is localised in the browser (`Intl`): `<time>` elements get their text there.
        let created = account.str_at("createdAt");
        let template = text(lang, Text::ConnectedOn);
        let (before, rest) = template.split_once('{').unwrap_or((template, ""));
        let after = rest.split_once('}').map_or("", |(_, after)| after);
        h.text(before)
            .raw("<time")
            .attr("datetime", created)
            .raw(">")
            .text(created)
            .raw("</time>")
            .text(after);
        h.raw(r#"</div></div><div class="actions">"#);
        let id = Some(account_id);
        if v.confirming == Some(account_id) {
            h.raw("<span>").text(&fill(lang, Text::ConfirmDisconnect, &[("account", name)])).raw("</span>");
            button(&mut h, "disconnect", id, "danger", v.busy, text(lang, Text::Disconnect));
            h.raw(r#"<button type="button" data-action="keep" data-autofocus="""#)
                .flag("disabled", v.busy)
                .raw(">");
            h.text(text(lang, Text::Keep)).raw("</button>");
        } else {
            for (action, class, label) in
                [("reconnect", "", Text::Reconnect), ("ask-disconnect", "danger", Text::Disconnect)]
            {
                h.raw(r#"<button type="button""#);
                if !class.is_empty() {
                    h.attr("class", class);
                }
                h.attr("data-action", action).attr("data-id", account_id).attr("aria-describedby", &name_id);
                h.flag("disabled", v.busy).raw(">").text(text(lang, label)).raw("</button>");
            }
        }
        h.raw("</div></li>");
    }
    h.raw(r#"</ul><p class="status" role="status" id="pb-status">"#)
        .text(v.status.unwrap_or(""))
        .raw(r#"</p><div class="actions">"#);
    if let Some(label) = v.connect {
        button(&mut h, "connect", None, "primary", v.busy, text(lang, label));
    }
    // First focus on Close: Enter on a freshly opened page must not reconnect or disconnect.
    h.raw(r#"<button type="button" data-action="close" data-autofocus="">"#);
    h.text(text(lang, Text::Close)).raw("</button></div>");
    h.finish()
}

/// The marketplace grid: one tile per app with its icon, category, connection state and action.
/// `heading` is false inside a dialog (whose title names it), where `close` adds a Close button.
/// A large marketplace gets a search box and a category filter; `filter` is applied here, and
/// again without re-rendering while the user types ([`crate::browse`]).
pub fn marketplace(
    lang: Lang,
    apps: &[Json],
    status: Option<&str>,
    heading: bool,
    close: bool,
    filter: &Filter,
) -> String {
    let mut h = Html::new();
    let label = text(lang, Text::Integrations);
    if heading {
        h.raw(r#"<h2 id="pb-mp">"#).text(label).raw("</h2>");
    }
    let shown = filter.shown(apps);
    if apps.len() > TOOLBAR_FROM {
        toolbar(&mut h, lang, apps, filter, shown.len());
    }
    h.raw(r#"<p class="status" role="status" id="pb-status">"#)
        .text(status.unwrap_or(""))
        .raw(r#"</p><ul class="grid""#);
    if heading {
        h.raw(r#" aria-labelledby="pb-mp">"#);
    } else {
        h.attr("aria-label", label).raw(">");
    }
    for (i, app) in apps.iter().enumerate() {
        tile(&mut h, lang, app, i, shown.iter().any(|id| id == app.str_at("id")));
    }
    h.raw("</ul>");
    if close {
        h.raw(r#"<div class="actions">"#);
        button(&mut h, "close", None, "", false, text(lang, Text::Close));
        h.raw("</div>");
    }
    h.finish()
}

/// The search box, the category filter and the count of tiles shown.
fn toolbar(h: &mut Html, lang: Lang, apps: &[Json], filter: &Filter, shown: usize) {
    h.raw(r#"<div class="toolbar" role="search"><input type="search" id="pb-q" name="q" data-action="filter" autocomplete="off""#)
        .attr("aria-label", text(lang, Text::SearchIntegrations))
        .attr("placeholder", text(lang, Text::SearchIntegrations))
        .attr("value", &filter.query)
        .raw(r#"><select id="pb-cat" name="cat" data-action="filter""#)
        .attr("aria-label", text(lang, Text::Category))
        .raw(r#"><option value="">"#)
        .text(text(lang, Text::AllCategories))
        .raw("</option>");
    for id in categories(apps) {
        h.raw("<option")
            .attr("value", &id)
            .flag("selected", filter.category.as_deref() == Some(&id))
            .raw(">");
        h.text(category_label(&id)).raw("</option>");
    }
    h.raw(r#"</select></div><p class="muted" role="status" id="pb-count">"#)
        .text(&shown_count(lang, shown, apps.len()))
        .raw("</p>");
}

/// "12 of 63 integrations", or that nothing matches.
pub fn shown_count(lang: Lang, shown: usize, total: usize) -> String {
    if shown == 0 {
        return text(lang, Text::NoMatch).to_owned();
    }
    fill(lang, Text::ShownCount, &[("n", &shown.to_string()), ("total", &total.to_string())])
}

/// One app's tile (`hidden` when the filter leaves it out).
fn tile(h: &mut Html, lang: Lang, app: &Json, index: usize, shown: bool) {
    let name_id = format!("t{index}");
    h.raw(r#"<li class="tile""#)
        .attr("data-app-id", app.str_at("id"))
        .flag("hidden", !shown)
        .raw("><div class=\"head\">");
    if let Some(icon) = app.get("icon") {
        // Colours go through the CSSOM (see `Surface::show`): no style attribute under a strict CSP.
        h.raw(r#"<span class="icon" aria-hidden="true""#)
            .attr("data-bg", icon.str_at("background"))
            .attr("data-fg", icon.str_at("foreground"))
            .raw(">")
            .text(icon.str_at("monogram"))
            .raw("</span>");
    }
    h.raw("<div><h3").attr("id", &name_id).raw(">").text(app.str_at("name")).raw("</h3>");
    if let Some(category) = app.opt_str("category") {
        h.raw(r#"<p class="muted cat">"#).text(category_label(category)).raw("</p>");
    }
    h.raw("</div></div>");
    if let Some(description) = app.opt_str("description") {
        h.raw(r#"<p class="muted">"#).text(description).raw("</p>");
    }
    let accounts = count(app);
    // Apps a user cannot connect yet (an OAuth app without a client) say so instead.
    let usable = app.get("usable").and_then(Json::as_bool).unwrap_or(true);
    if !usable && accounts == 0 {
        h.raw(r#"<p><span class="badge warn">"#).text(text(lang, Text::NotAvailable)).raw("</span></p></li>");
        return;
    }
    h.raw("<p>").text(&tile_status(lang, accounts)).raw("</p>");
    let opens_page = accounts > 0;
    h.raw(r#"<button type="button""#);
    if !opens_page {
        h.raw(r#" class="primary""#);
    }
    h.raw(r#" data-action="open""#)
        .attr("data-id", app.str_at("id"))
        .attr("aria-describedby", &name_id)
        .raw(">");
    h.text(text(lang, if opens_page { Text::Manage } else { Text::Connect })).raw("</button></li>");
}

/// The button `renderMarketplace` shows in modal mode.
pub fn marketplace_button(lang: Lang) -> String {
    let mut h = Html::new();
    button(&mut h, "browse", None, "primary", false, text(lang, Text::BrowseIntegrations));
    h.finish()
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{
        AccountStatus, AccountsPolicy, AppSummary, AuthType, ConnectedAccount, CredentialField, FieldKind,
    };

    use super::*;
    use crate::json::Json;
    use crate::schema::{credential_model, form_model};
    use crate::testing::wire;
    use crate::validate::initial_inputs;

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn dialogs_are_labelled_modal_dialogs() {
        let html = dialog(Lang::Ja, "Acme <CRM>", false, Some(("data-attempt-id", "att_1")), "<p>x</p>");
        assert!(html.contains(r#"role="dialog" aria-modal="true" aria-labelledby="pb-title" lang="ja" data-attempt-id="att_1""#), "{html}");
        assert!(html.contains(r#"<h2 id="pb-title">Acme &lt;CRM&gt;</h2><p>x</p>"#), "{html}");
        assert!(!html.contains("style"), "no inline styles (strict CSP)");
    }

    fn credential_fields() -> Vec<CredentialField> {
        [("base_url", Some("Your instance")), ("username", None), ("password", None)]
            .iter()
            .map(|(name, help)| CredentialField {
                name: (*name).into(),
                label: format!("{name} label"),
                kind: FieldKind::of(name),
                required: true,
                help: help.map(str::to_owned),
                placeholder: None,
            })
            .collect()
    }

    #[test]
    fn credential_forms_label_every_input_and_hide_secrets() {
        let fields = wire(&credential_fields());
        let model = credential_model(fields.as_array().expect("list"));
        let inputs = initial_inputs(&model.fields, None);
        let html = form(&FormView {
            lang: Lang::En,
            intro: &[],
            model: &model,
            inputs: &inputs,
            submit: Text::Connect,
        });
        for (pointer, kind) in [("/base_url", "url"), ("/username", "text"), ("/password", "password")] {
            let id = id_of(pointer);
            assert!(html.contains(&format!(r#"<label for="{id}">"#)), "{pointer} has a label: {html}");
            assert!(
                html.contains(&format!(r#"type="{kind}" id="{id}" name="{pointer}""#)),
                "{pointer} is a {kind} input: {html}"
            );
            assert!(
                html.contains(&format!(r#"<p class="error" id="e{id}" hidden="">"#)),
                "{pointer} has an error line"
            );
        }
        assert!(
            html.contains(r#"aria-describedby="hf/base_url ef/base_url""#),
            "help and error describe the input: {html}"
        );
        assert!(html.contains(r#"autocomplete="username""#));
        assert_eq!(count(&html, r#"required="" aria-required="true""#), 3);
        assert!(html.contains(r#"role="alert" id="pb-summary""#));
        assert!(html.contains(r#"<button type="button" data-action="cancel">Cancel</button><button type="submit" class="primary" id="pb-submit">Connect</button>"#), "{html}");
    }

    #[test]
    fn function_forms_render_every_widget_with_its_value() {
        let schema: Json = serde_json::from_str(
            r#"{"type":"object","required":["age"],"properties":{
                "age":{"type":"integer","minimum":0,"description":"Years"},
                "ok":{"type":"boolean","default":true},
                "color":{"enum":["red","green"],"default":"green"},
                "tags":{"type":"array","items":{"type":"string"},"default":["a","b"]},
                "address":{"type":"object","properties":{"zip":{"type":"string"}}},
                "extra":{"anyOf":[]}
            }}"#,
        )
        .expect("schema");
        let model = form_model(&schema).expect("model");
        let prefill: Json = serde_json::from_str(r#"{"age":41,"extra":{"k":"<v>"}}"#).expect("prefill");
        let inputs = initial_inputs(&model.fields, Some(&prefill));
        let html = form(&FormView {
            lang: Lang::Fr,
            intro: &["Compte : a".into()],
            model: &model,
            inputs: &inputs,
            submit: Text::Submit,
        });
        assert!(html.contains(r#"<input type="number" id="f/age" name="/age" required="" aria-required="true" aria-describedby="hf/age ef/age" value="41" step="1" inputmode="numeric" min="0">"#), "{html}");
        assert!(html.contains(r#"<p class="help" id="hf/age">Years</p>"#));
        assert!(
            html.contains(
                r#"<input type="checkbox" id="f/ok" name="/ok" aria-describedby="ef/ok" checked="">"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<option value="1" selected="">green</option>"#), "{html}");
        assert!(
            html.contains(
                r#"name="/tags/1" required="" aria-required="true" aria-describedby="ef/tags/1" value="b""#
            ),
            "{html}"
        );
        assert!(
            html.contains(r#"data-action="remove" data-id="/tags/0" aria-label="Retirer l’élément 1""#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="addf/tags" data-action="add" data-id="/tags">Ajouter un élément</button>"#),
            "{html}"
        );
        assert!(html.contains(r#"<fieldset id="f/address"><legend><span>Address</span></legend>"#), "{html}");
        assert!(
            html.contains(r#"{&quot;k&quot;:&quot;&lt;v&gt;&quot;}</textarea>"#),
            "JSON text is escaped: {html}"
        );
        assert!(html.contains(r#"<p class="muted">Compte : a</p>"#));
    }

    fn account(id: &str, name: &str, status: AccountStatus) -> Json {
        wire(&ConnectedAccount {
            id: id.into(),
            app_id: "crm".into(),
            display_name: name.into(),
            status,
            created_at: "2025-01-02T00:00:00Z".into(),
            updated_at: "2025-01-02T00:00:00Z".into(),
        })
    }

    #[test]
    fn app_pages_list_accounts_with_their_actions() {
        let accounts = [
            account("ca_1", "ann@x", AccountStatus::Active),
            account("ca_2", "<bob>", AccountStatus::NeedsReauth),
        ];
        let mut view = AppPageView {
            lang: Lang::En,
            description: None,
            docs: Some("https://developers.example/api"),
            accounts: &accounts,
            connect: Some(Text::ConnectAnother),
            confirming: None,
            status: None,
            busy: false,
        };
        let html = app_page(&view);
        assert!(html.contains(r#"<a class="docs" target="_blank" rel="noopener noreferrer" href="https://developers.example/api">Documentation</a>"#), "{html}");
        assert!(html.contains(r#"<span class="name" id="n1">&lt;bob&gt;</span><span class="badge warn">Needs reconnecting</span>"#), "{html}");
        assert!(
            html.contains(
                r#"Added on <time datetime="2025-01-02T00:00:00Z">2025-01-02T00:00:00Z</time></div>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"data-action="reconnect" data-id="ca_2" aria-describedby="n1""#), "{html}");
        assert!(html.contains(r#"data-action="connect">Connect another account</button>"#), "{html}");
        view.confirming = Some("ca_1");
        view.busy = true;
        let html = app_page(&view);
        assert!(html.contains("<span>Disconnect ann@x?</span>"), "{html}");
        assert!(html.contains(r#"data-action="keep" data-autofocus="" disabled="""#), "{html}");
        view.accounts = &[];
        view.connect = None;
        view.docs = Some("javascript:alert(1)");
        let html = app_page(&view);
        assert!(!html.contains("docs"), "only http(s) links: {html}");
        assert!(
            html.contains("No account connected yet.") && !html.contains(r#"data-action="connect""#),
            "{html}"
        );
    }

    #[test]
    fn marketplace_tiles_offer_connect_or_manage() {
        let app = |id: &str, n: u32| {
            wire(&AppSummary {
                id: id.into(),
                name: id.to_uppercase(),
                description: None,
                auth_type: AuthType::ApiKey,
                accounts_policy: AccountsPolicy::One,
                connected_accounts: n,
            })
        };
        let html =
            marketplace(Lang::En, &[app("a", 0), app("b", 2)], Some("Oops"), true, false, &Filter::default());
        assert!(html.contains(r#"<h2 id="pb-mp">Integrations</h2><p class="status" role="status" id="pb-status">Oops</p><ul class="grid" aria-labelledby="pb-mp">"#), "{html}");
        assert!(
            html.contains(
                r#"class="primary" data-action="open" data-id="a" aria-describedby="t0">Connect</button>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<p>2 accounts connected</p><button type="button" data-action="open" data-id="b" aria-describedby="t1">Manage</button>"#), "{html}");
        let modal = marketplace(Lang::En, &[], None, false, true, &Filter::default());
        assert!(modal.contains(r#"aria-label="Integrations""#) && modal.contains(r#"data-action="close""#));
    }

    #[test]
    fn the_waiting_overlay_offers_cancel_first_then_show_again() {
        let html = waiting(Lang::Es, "Acme");
        assert!(html.contains("Termina de iniciar sesión en Acme"));
        assert!(html.contains(r#"role="status" id="pb-hint" hidden="""#));
        let cancel =
            html.find(r#"<button type="button" data-action="cancel" data-autofocus="">Cancelar</button>"#);
        let reopen = html.find(r#"data-action="reopen">Mostrar la ventana de inicio de sesión</button>"#);
        assert!(cancel.is_some() && reopen.is_some() && cancel < reopen, "{html}");
    }
}
