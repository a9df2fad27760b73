//! `showApp`: a modal with the app, its connected accounts (display name, status, connected
//! date) and the actions its accounts policy allows: connect (another), reconnect, disconnect.
//! Connecting runs [`Connect`] as a nested flow, planned inside the click so an OAuth popup can
//! open.

use super::connect::Connect;
use super::request::{accounts_request, app_request, delete_request, disconnected};
use super::{closed, describe, done, Config, Flow, Outcome, Step};
use crate::accounts::connect_label;
use crate::error::SdkError;
use crate::events::ModalKind;
use crate::json::Json;
use crate::view::{app_page, dialog, AppPageView};

const DETAIL: u32 = 1;
const ACCOUNTS: u32 = 2;
const DELETE: u32 = 3;
const CHILD: u32 = 4;

/// `showApp(appId)`.
pub struct AppPage {
    config: Config,
    app_id: String,
    app: Option<Json>,
    accounts: Option<Vec<Json>>,
    confirming: Option<String>,
    deleting: String,
    busy: bool,
    status: Option<String>,
}

impl AppPage {
    /// The page of `app_id`.
    pub fn new(config: Config, app_id: String) -> AppPage {
        AppPage {
            config,
            app_id,
            app: None,
            accounts: None,
            confirming: None,
            deleting: String::new(),
            busy: false,
            status: None,
        }
    }

    /// The page, once the app and its accounts are loaded.
    fn show(&self) -> Vec<Step> {
        let (Some(app), Some(accounts)) = (&self.app, &self.accounts) else { return Vec::new() };
        let lang = self.config.lang;
        let view = AppPageView {
            lang,
            description: app.opt_str("description"),
            docs: app.opt_str("docsUrl"),
            accounts,
            connect: connect_label(app.str_at("accountsPolicy"), accounts.len()),
            confirming: self.confirming.as_deref(),
            status: self.status.as_deref(),
            busy: self.busy,
        };
        let html =
            dialog(lang, app.str_at("name"), true, Some(("data-app-id", &self.app_id)), &app_page(&view));
        vec![Step::Show { html, focus: None }]
    }
}

impl Flow for AppPage {
    fn surface(&self) -> (&'static str, bool) {
        ("app", true)
    }

    fn start(&mut self) -> Vec<Step> {
        vec![app_request(DETAIL, &self.app_id), accounts_request(ACCOUNTS, &self.app_id)]
    }

    fn action(&mut self, name: &str, id: Option<&str>, _values: &Json) -> Vec<Step> {
        match name {
            "close" | "cancel" => {
                return vec![
                    closed(ModalKind::App, "appId", &self.app_id),
                    Step::Done(Ok(Outcome::Undefined)),
                ]
            }
            _ if self.busy => return Vec::new(),
            "connect" | "reconnect" => {
                let app = self.app.clone().unwrap_or_default();
                let child =
                    Connect::new(self.config.clone(), self.app_id.clone(), app, id.map(str::to_owned));
                self.busy = true;
                self.status = None;
                let mut steps = vec![Step::Child(CHILD, Box::new(child))];
                steps.extend(self.show());
                return steps;
            }
            "ask-disconnect" => self.confirming = id.map(str::to_owned),
            "keep" => self.confirming = None,
            "disconnect" => {
                self.confirming = None;
                self.busy = true;
                self.deleting = id.unwrap_or_default().to_owned();
                let mut steps = vec![delete_request(DELETE, &self.deleting)];
                steps.extend(self.show());
                return steps;
            }
            _ => return Vec::new(),
        }
        self.show()
    }

    fn reply(&mut self, tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        match (tag, reply) {
            (DETAIL, Ok(app)) => self.app = Some(app),
            (ACCOUNTS, Ok(list)) => {
                self.accounts = Some(list.list_at("accounts").to_vec());
                self.busy = false;
            }
            (DELETE, Ok(_)) => {
                return vec![
                    disconnected(&self.app_id, &self.deleting),
                    accounts_request(ACCOUNTS, &self.app_id),
                ]
            }
            // Loading failed before anything was shown: the promise rejects.
            (DETAIL | ACCOUNTS, Err(err)) if self.accounts.is_none() || self.app.is_none() => {
                return done(Err(err))
            }
            (_, Err(err)) => {
                self.busy = false;
                self.status = describe(self.config.lang, &err);
            }
            _ => {}
        }
        self.show()
    }

    fn child(&mut self, _tag: u32, result: Result<Json, SdkError>) -> Vec<Step> {
        self.status = result.err().and_then(|err| describe(self.config.lang, &err));
        vec![accounts_request(ACCOUNTS, &self.app_id)]
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{AccountsPolicy, AppDetail, AppSummary, AuthType, ErrorCode};

    use super::*;
    use crate::flow::testing::{accounts, child, config, shown, summary, wire};

    fn detail(auth: AuthType, policy: AccountsPolicy) -> Json {
        let summary = AppSummary {
            id: "crm".into(),
            name: "Acme CRM".into(),
            description: Some("Contacts".into()),
            auth_type: auth,
            accounts_policy: policy,
            connected_accounts: 1,
        };
        wire(&AppDetail { summary, fields: vec![], functions: vec![] })
    }

    fn opened(auth: AuthType, policy: AccountsPolicy, ids: &[&str]) -> (AppPage, String) {
        let mut page = AppPage::new(config(true), "crm".into());
        assert_eq!(summary(&page.start()), ["send 1 GET /v1/apps/crm", "send 2 GET /v1/apps/crm/accounts"]);
        assert!(page.reply(DETAIL, Ok(detail(auth, policy))).is_empty(), "waits for both answers");
        let steps = page.reply(ACCOUNTS, Ok(accounts(ids)));
        (page, shown(&steps))
    }

    #[test]
    fn the_policy_decides_what_can_be_connected() {
        let (_, one) = opened(AuthType::ApiKey, AccountsPolicy::One, &["ca_1"]);
        assert!(one.contains("ca_1@x") && one.contains(r#"data-action="reconnect" data-id="ca_1""#));
        assert!(!one.contains(r#"data-action="connect""#), "policy one: reconnect only");
        let (_, multiple) = opened(AuthType::ApiKey, AccountsPolicy::Multiple, &["ca_1"]);
        assert!(multiple.contains("Connect another account"));
        let (_, none) = opened(AuthType::ApiKey, AccountsPolicy::One, &[]);
        assert!(none.contains(r#"data-action="connect">Connect</button>"#));
    }

    #[test]
    fn connecting_runs_a_nested_connect_planned_inside_the_click() {
        let (mut page, _) = opened(AuthType::Oauth2, AccountsPolicy::Multiple, &["ca_1"]);
        let steps = page.action("reconnect", Some("ca_1"), &Json::Null);
        assert_eq!(summary(&steps), ["child 4", "show"]);
        let mut connect = child(steps);
        assert_eq!(
            summary(&connect.start()),
            [
                "popup about:blank",
                r#"send 2 POST /v1/apps/crm/connect {"fields":{},"connectedAccountId":"ca_1"}"#
            ],
            "the popup opens in the nested flow's first step, still inside the click"
        );
        assert!(page.action("connect", None, &Json::Null).is_empty(), "busy");
        let cancelled = page.child(CHILD, Err(SdkError::cancelled()));
        assert_eq!(summary(&cancelled), ["send 2 GET /v1/apps/crm/accounts"]);
        let html = shown(&page.reply(ACCOUNTS, Ok(accounts(&["ca_1", "ca_2"]))));
        assert!(html.contains("ca_2@x") && !html.contains("Something went wrong"));
        page.child(CHILD, Err(SdkError::new(ErrorCode::PopupBlocked, "blocked")));
        assert!(shown(&page.reply(ACCOUNTS, Ok(accounts(&["ca_1"]))))
            .contains("Your browser blocked the sign-in window"));
    }

    #[test]
    fn disconnect_asks_first_then_deletes_and_refreshes() {
        let (mut page, _) = opened(AuthType::ApiKey, AccountsPolicy::Multiple, &["ca_1", "ca_2"]);
        assert!(
            shown(&page.action("ask-disconnect", Some("ca_2"), &Json::Null)).contains("Disconnect ca_2@x?")
        );
        assert!(!shown(&page.action("keep", None, &Json::Null)).contains("Disconnect ca_2@x?"));
        assert_eq!(
            summary(&page.action("disconnect", Some("ca_2"), &Json::Null)),
            ["send 3 DELETE /v1/accounts/ca_2 raw", "show"]
        );
        assert_eq!(
            summary(&page.reply(DELETE, Ok(Json::Null))),
            [
                r#"emit app-disconnected {"appId":"crm","accountId":"ca_2"}"#,
                "send 2 GET /v1/apps/crm/accounts"
            ]
        );
        assert_eq!(
            summary(&page.action("close", None, &Json::Null)),
            [r#"emit modal-closed {"modal":"app","appId":"crm"}"#, "done undefined"]
        );
    }

    #[test]
    fn an_unknown_app_rejects() {
        let mut page = AppPage::new(config(true), "nope".into());
        page.start();
        assert_eq!(
            summary(&page.reply(DETAIL, Err(SdkError::new(ErrorCode::AppNotFound, "no")))),
            ["done error APP_NOT_FOUND"]
        );
    }
}
