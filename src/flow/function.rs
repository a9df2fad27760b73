//! `showFunctionUI`: the function's spec, the account the selection rule picks, then the form of
//! its JSON Schema; resolves with the validated, typed arguments.

use super::form::Form;
use super::request::accounts_request;
use super::{closed, done, Flow, Outcome, Step};
use crate::accounts::select;
use crate::address::encode_segment;
use crate::error::SdkError;
use crate::events::{EventKind, ModalKind};
use crate::i18n::{fill, Lang, Text};
use crate::json::{cat, Json};
use crate::schema::form_model;
use crate::validate::ParseJson;

const SPEC: u32 = 1;
const ACCOUNTS: u32 = 2;

/// `showFunctionUI(name, prefill?, connectedAccountId?)`.
pub struct FunctionForm {
    lang: Lang,
    name: String,
    prefill: Option<Json>,
    requested: Option<String>,
    spec: Json,
    account: String,
    form: Option<Form>,
    parse: fn(&str) -> Option<Json>,
}

impl FunctionForm {
    /// The form of function `name`; `parse` reads JSON text fields (`JSON.parse`).
    pub fn new(
        lang: Lang,
        name: String,
        prefill: Option<Json>,
        requested: Option<String>,
        parse: fn(&str) -> Option<Json>,
    ) -> FunctionForm {
        FunctionForm {
            lang,
            name,
            prefill,
            requested,
            spec: Json::Null,
            account: String::new(),
            form: None,
            parse,
        }
    }

    fn end(&self, result: Result<Outcome, SdkError>) -> Vec<Step> {
        vec![closed(ModalKind::Function, "functionName", &self.name), Step::Done(result)]
    }
}

impl Flow for FunctionForm {
    fn surface(&self) -> (&'static str, bool) {
        ("function", true)
    }

    fn start(&mut self) -> Vec<Step> {
        vec![Step::get(SPEC, cat(&["/v1/functions/", &encode_segment(&self.name)]))]
    }

    fn reply(&mut self, tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        let answer = match reply {
            Ok(answer) => answer,
            Err(err) => return done(Err(err)),
        };
        if tag == SPEC {
            self.spec = answer;
            return vec![accounts_request(ACCOUNTS, self.spec.str_at("appId"))];
        }
        let accounts = answer.list_at("accounts");
        let account = match select(accounts, self.requested.as_deref(), self.spec.str_at("appId")) {
            Ok(account) => account,
            Err(err) => return done(Err(err)),
        };
        self.account = account.str_at("id").to_owned();
        let model = match form_model(self.spec.get("parameters").unwrap_or(&Json::Null)) {
            Ok(model) => model,
            Err(err) => {
                return done(Err(SdkError::internal(&cat(&[
                    "function `",
                    &self.name,
                    "`: ",
                    &err.to_string(),
                ]))))
            }
        };
        let mut intro: Vec<String> =
            self.spec.opt_str("description").map(str::to_owned).into_iter().collect();
        intro.push(fill(self.lang, Text::ActingAs, &[("account", account.str_at("displayName"))]));
        let title = self.spec.str_at("title").to_owned();
        let form = Form::new(self.lang, title, intro, model, self.prefill.as_ref(), Text::Submit, true);
        let show = form.show(None);
        self.form = Some(form);
        vec![show]
    }

    fn action(&mut self, name: &str, id: Option<&str>, values: &Json) -> Vec<Step> {
        let parse: ParseJson<'_> = &self.parse;
        let Some(form) = &mut self.form else { return Vec::new() };
        match name {
            "cancel" => self.end(Err(SdkError::cancelled())),
            "submit" => match form.submit(values, parse) {
                Ok(args) => {
                    let payload = Json::object(vec![
                        ("functionName", Json::text(&self.name)),
                        ("args", args.clone()),
                        ("connectedAccountId", Json::text(&self.account)),
                    ]);
                    let mut steps = self.end(Ok(Outcome::Value(args)));
                    steps.insert(1, Step::Emit(EventKind::FunctionUiSubmitted, payload));
                    steps
                }
                Err(problems) => vec![problems],
            },
            "add" | "remove" => form.list_action(name, id, values),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::FunctionSpec;

    use super::*;
    use crate::flow::testing::{accounts, json, shown, summary, wire};

    fn parse(text: &str) -> Option<Json> {
        serde_json::from_str(text).ok()
    }

    fn spec() -> Json {
        wire(&FunctionSpec {
            name: "crm-create".to_owned(),
            app_id: "crm".into(),
            title: "Create a contact".into(),
            description: None,
            parameters: json(
                r#"{"type":"object","required":["email"],"properties":{"email":{"type":"string","format":"email"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}}}"#,
            ),
            paginated: false,
        })
    }

    fn opened(requested: Option<&str>, ids: &[&str]) -> (FunctionForm, Vec<Step>) {
        let mut flow = FunctionForm::new(
            Lang::En,
            "crm-create".into(),
            Some(json(r#"{"age":30}"#)),
            requested.map(str::to_owned),
            parse,
        );
        assert_eq!(summary(&flow.start()), ["send 1 GET /v1/functions/crm-create"]);
        assert_eq!(summary(&flow.reply(SPEC, Ok(spec()))), ["send 2 GET /v1/apps/crm/accounts"]);
        let steps = flow.reply(ACCOUNTS, Ok(accounts(ids)));
        (flow, steps)
    }

    #[test]
    fn the_form_renders_validates_and_resolves_typed_arguments() {
        let (mut flow, steps) = opened(None, &["ca_1"]);
        let html = shown(&steps);
        assert!(html.contains("Account: ca_1@x") && html.contains(r#"value="30""#), "{html}");
        let bad = flow.action("submit", None, &json(r#"{"f/email":"nope","f/age":30}"#));
        assert_eq!(
            summary(&bad),
            ["problems [f/email: Enter a valid email address.] Please correct the highlighted fields."]
        );
        let added = flow.action("add", Some("/tags"), &json(r#"{"f/email":"a@b.c","f/age":30}"#));
        assert_eq!(summary(&added), ["show focus f/tags/0"]);
        assert!(shown(&added).contains(r#"value="a@b.c""#), "values survive the re-render");
        let ok = flow.action("submit", None, &json(r#"{"f/email":"a@b.c","f/age":31,"f/tags/0":"vip"}"#));
        assert_eq!(
            summary(&ok),
            [
                r#"emit modal-closed {"modal":"function","functionName":"crm-create"}"#,
                r#"emit function-ui-submitted {"functionName":"crm-create","args":{"email":"a@b.c","age":31,"tags":["vip"]},"connectedAccountId":"ca_1"}"#,
                r#"done {"email":"a@b.c","age":31,"tags":["vip"]}"#
            ]
        );
    }

    #[test]
    fn lists_shrink_and_closing_cancels() {
        let (mut flow, _) = opened(None, &["ca_1"]);
        flow.action("add", Some("/tags"), &json("{}"));
        flow.action("add", Some("/tags"), &json("{}"));
        assert_eq!(summary(&flow.action("remove", Some("/tags/1"), &json("{}"))), ["show focus addf/tags"]);
        assert_eq!(summary(&flow.action("remove", Some("/tags/0"), &json("{}"))), ["show focus addf/tags"]);
        assert_eq!(summary(&flow.action("cancel", None, &json("{}")))[1], "done error USER_CANCELLED");
    }

    #[test]
    fn the_multiple_accounts_rule_applies_before_the_form() {
        let (_, steps) = opened(None, &["ca_1", "ca_2"]);
        assert_eq!(summary(&steps), ["done error CONNECTED_ACCOUNT_REQUIRED"]);
        let (_, steps) = opened(Some("ca_2"), &["ca_1", "ca_2"]);
        assert!(shown(&steps).contains("Account: ca_2@x"));
        let (_, steps) = opened(None, &[]);
        assert_eq!(summary(&steps), ["done error NOT_CONNECTED"]);
    }
}
