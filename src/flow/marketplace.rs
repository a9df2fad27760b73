//! `renderMarketplace`: a grid of the workspace's apps with their connection state. Clicking an
//! app connects it, or opens its page once it has accounts (where the accounts policy's actions
//! live). In `modal` mode the container gets a button that opens the grid in a dialog (a nested
//! marketplace flow). The grid refreshes after every action, and an inline grid also after
//! connects and disconnects made elsewhere on the page.

use super::app_page::AppPage;
use super::connect::Connect;
use super::{closed, describe, done, Config, Flow, Outcome, Step};
use crate::accounts::count;
use crate::browse::Filter;
use crate::error::SdkError;
use crate::events::ModalKind;
use crate::html::Html;
use crate::i18n::{text, Text};
use crate::json::Json;
use crate::options::MarketplaceMode;
use crate::view::{dialog, marketplace, marketplace_button, shown_count};

const APPS: u32 = 1;
const CHILD: u32 = 2;

/// A marketplace (inline, the modal mode's button, or the modal mode's dialog).
pub struct Marketplace {
    config: Config,
    mode: MarketplaceMode,
    /// This is the modal mode's dialog.
    dialog: bool,
    apps: Vec<Json>,
    status: Option<String>,
    ready: bool,
    /// A `GET /v1/apps` is in flight.
    loading: bool,
    /// The tiles changed while it was: its answer is stale, fetch again.
    reload: bool,
    /// The search and category the user filters by.
    filter: Filter,
}

impl Marketplace {
    /// A marketplace rendered into the host's container.
    pub fn new(config: Config, mode: MarketplaceMode) -> Marketplace {
        Marketplace {
            config,
            mode,
            dialog: false,
            apps: Vec::new(),
            status: None,
            ready: false,
            loading: false,
            reload: false,
            filter: Filter::default(),
        }
    }

    /// Fetches the app list, one request at a time so an older answer never paints over a newer
    /// state.
    fn refresh(&mut self) -> Vec<Step> {
        if self.loading {
            self.reload = true;
            return Vec::new();
        }
        self.loading = true;
        vec![Step::get(APPS, "/v1/apps".into())]
    }

    fn show(&mut self) -> Vec<Step> {
        let lang = self.config.lang;
        let html = if self.dialog {
            let grid = marketplace(lang, &self.apps, self.status.as_deref(), false, true, &self.filter);
            dialog(lang, text(lang, Text::Integrations), true, None, &grid)
        } else {
            let mut h = Html::new();
            h.raw("<section").attr("lang", lang.tag()).raw(">");
            match self.mode {
                MarketplaceMode::Inline => {
                    h.raw(&marketplace(lang, &self.apps, self.status.as_deref(), true, false, &self.filter))
                }
                MarketplaceMode::Modal => h.raw(&marketplace_button(lang)),
            };
            h.raw("</section>");
            h.finish()
        };
        let mut steps = vec![Step::Show { html, focus: None }];
        if !self.ready {
            self.ready = true;
            steps.push(Step::Ready);
        }
        steps
    }
}

impl Flow for Marketplace {
    fn surface(&self) -> (&'static str, bool) {
        ("marketplace", self.dialog)
    }

    fn start(&mut self) -> Vec<Step> {
        if self.dialog {
            self.show()
        } else {
            self.refresh()
        }
    }

    fn action(&mut self, name: &str, id: Option<&str>, values: &Json) -> Vec<Step> {
        match (name, id) {
            ("close" | "cancel", _) if self.dialog => {
                vec![closed(ModalKind::Marketplace, "mode", "modal"), Step::Done(Ok(Outcome::Undefined))]
            }
            ("filter", _) => {
                self.filter = Filter::from_values(values);
                let shown = self.filter.shown(&self.apps);
                let count = shown_count(self.config.lang, shown.len(), self.apps.len());
                vec![Step::Filter(shown), Step::Text("pb-count", Some(count))]
            }
            ("browse", _) => {
                let dialog = Marketplace {
                    dialog: true,
                    ready: true,
                    apps: self.apps.clone(),
                    status: None,
                    ..Marketplace::new(self.config.clone(), self.mode)
                };
                vec![Step::Child(CHILD, Box::new(dialog))]
            }
            // A connect or disconnect made elsewhere on the page (the grid's own refresh after
            // its children already covers theirs).
            ("accounts-changed", _) if self.mode == MarketplaceMode::Inline => {
                self.status = None;
                self.refresh()
            }
            ("open", Some(app_id)) => {
                let Some(app) = self.apps.iter().find(|a| a.str_at("id") == app_id).cloned() else {
                    return Vec::new();
                };
                let child: Box<dyn Flow> = if count(&app) > 0 {
                    Box::new(AppPage::new(self.config.clone(), app_id.to_owned()))
                } else {
                    Box::new(Connect::new(self.config.clone(), app_id.to_owned(), app, None))
                };
                vec![Step::Child(CHILD, child)]
            }
            _ => Vec::new(),
        }
    }

    fn reply(&mut self, _tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        self.loading = false;
        if std::mem::take(&mut self.reload) {
            return self.refresh();
        }
        match reply {
            Ok(list) => self.apps = list.list_at("apps").to_vec(),
            Err(err) if !self.ready => return done(Err(err)),
            Err(err) => self.status = describe(self.config.lang, &err),
        }
        self.show()
    }

    fn child(&mut self, _tag: u32, result: Result<Json, SdkError>) -> Vec<Step> {
        self.status = result.err().and_then(|err| describe(self.config.lang, &err));
        self.refresh()
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{AccountsPolicy, AppList, AppSummary, AuthType};

    use super::*;
    use crate::flow::testing::{child, config, shown, summary, wire};

    fn apps() -> Json {
        let app = |id: &str, auth: AuthType, n: u32| AppSummary {
            id: id.into(),
            name: id.to_uppercase(),
            description: None,
            auth_type: auth,
            accounts_policy: AccountsPolicy::One,
            connected_accounts: n,
        };
        wire(&AppList { apps: vec![app("idp", AuthType::Oauth2, 0), app("crm", AuthType::ApiKey, 2)] })
    }

    #[test]
    fn tiles_connect_or_open_the_app_page_and_the_grid_refreshes() {
        let mut market = Marketplace::new(config(true), MarketplaceMode::Inline);
        assert_eq!(summary(&market.start()), ["send 1 GET /v1/apps"]);
        let first = market.reply(APPS, Ok(apps()));
        assert_eq!(summary(&first), ["show", "ready"]);
        assert!(shown(&first).contains(r#"<section lang="en"><h2 id="pb-mp">Integrations</h2>"#));
        let mut connect = child(market.action("open", Some("idp"), &Json::Null));
        assert_eq!(
            summary(&connect.start())[0],
            "popup about:blank",
            "OAuth tiles open the popup inside the click"
        );
        let mut page = child(market.action("open", Some("crm"), &Json::Null));
        assert_eq!(summary(&page.start())[0], "send 1 GET /v1/apps/crm");
        assert_eq!(summary(&market.child(CHILD, Ok(Json::Null))), ["send 1 GET /v1/apps"]);
        assert_eq!(summary(&market.reply(APPS, Ok(apps()))), ["show"], "ready only once");
        market.child(CHILD, Err(SdkError::popup_blocked()));
        assert!(shown(&market.reply(APPS, Ok(apps()))).contains("Your browser blocked the sign-in window"));
        assert_eq!(
            summary(&market.action("accounts-changed", None, &Json::Null)),
            ["send 1 GET /v1/apps"],
            "a connect made elsewhere reloads the tiles"
        );
        assert!(!shown(&market.reply(APPS, Ok(apps()))).contains("blocked"), "and clears the old error");
    }

    #[test]
    fn changes_during_a_reload_fetch_again_instead_of_showing_a_stale_list() {
        let mut market = Marketplace::new(config(true), MarketplaceMode::Inline);
        market.start();
        market.reply(APPS, Ok(apps()));
        assert_eq!(summary(&market.action("accounts-changed", None, &Json::Null)), ["send 1 GET /v1/apps"]);
        assert!(market.action("accounts-changed", None, &Json::Null).is_empty(), "one request at a time");
        assert!(market.child(CHILD, Ok(Json::Null)).is_empty());
        assert_eq!(summary(&market.reply(APPS, Ok(apps()))), ["send 1 GET /v1/apps"], "the answer was stale");
        assert_eq!(summary(&market.reply(APPS, Ok(apps()))), ["show"]);
    }

    #[test]
    fn a_large_marketplace_filters_its_tiles_in_place() {
        let many: Vec<AppSummary> = (0..8)
            .map(|i| AppSummary {
                id: format!("app{i}"),
                name: format!("App {i}"),
                description: Some(if i % 2 == 0 { "Tickets".into() } else { "Deals".into() }),
                auth_type: AuthType::ApiKey,
                accounts_policy: AccountsPolicy::One,
                connected_accounts: 0,
            })
            .collect();
        let mut market = Marketplace::new(config(true), MarketplaceMode::Inline);
        market.start();
        let html = shown(&market.reply(APPS, Ok(wire(&AppList { apps: many }))));
        assert!(html.contains(r#"id="pb-q""#) && html.contains("8 of 8 integrations"), "{html}");
        let values = crate::flow::testing::json(r#"{"pb-q":"deals","pb-cat":""}"#);
        assert_eq!(
            summary(&market.action("filter", None, &values)),
            ["filter app1 app3 app5 app7", "text pb-count 4 of 8 integrations"]
        );
        // A reload keeps the filter: the hidden tiles stay hidden.
        market.action("accounts-changed", None, &Json::Null);
        let html = shown(&market.reply(APPS, Ok(wire(&AppList { apps: Vec::new() }))));
        assert!(!html.contains("pb-q"), "no toolbar for a few apps");
        let none = crate::flow::testing::json(r#"{"pb-q":"nothing like this","pb-cat":""}"#);
        assert_eq!(
            summary(&market.action("filter", None, &none))[1],
            "text pb-count No integration matches your search."
        );
    }

    #[test]
    fn modal_mode_opens_the_grid_in_a_dialog() {
        let mut market = Marketplace::new(config(true), MarketplaceMode::Modal);
        market.start();
        assert!(shown(&market.reply(APPS, Ok(apps()))).contains(r#"data-action="browse""#));
        assert!(
            market.action("accounts-changed", None, &Json::Null).is_empty(),
            "a lone button has nothing to reload"
        );
        let mut dialog = child(market.action("browse", None, &Json::Null));
        assert_eq!(dialog.surface(), ("marketplace", true));
        let html = shown(&dialog.start());
        assert!(html.contains(r#"role="dialog""#) && html.contains(r#"data-id="crm""#), "{html}");
        assert_eq!(
            summary(&dialog.action("cancel", None, &Json::Null)),
            [r#"emit modal-closed {"modal":"marketplace","mode":"modal"}"#, "done undefined"]
        );
    }
}
