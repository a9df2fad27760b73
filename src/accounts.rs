//! Which account a call acts on (the protocol's one selection rule, shared with the broker) and
//! which actions an app's page offers under its accounts policy. Accounts are the broker's JSON
//! (`ConnectedAccount`: `id`, `displayName`, `status`, `createdAt`…).

use patchbay_protocol::{select_account, AccountLike};

use crate::error::SdkError;
use crate::i18n::{fill, text, Lang, Text};
use crate::json::Json;

/// An account as the selection rule sees it.
pub struct Candidate<'a>(&'a Json);

impl AccountLike for Candidate<'_> {
    fn id(&self) -> &str {
        self.0.str_at("id")
    }

    fn display_name(&self) -> &str {
        self.0.str_at("displayName")
    }
}

/// Picks the account among the user's `accounts` for `app` that a call acts on.
pub fn select<'a>(accounts: &'a [Json], requested: Option<&str>, app: &str) -> Result<&'a Json, SdkError> {
    let mut candidates = Vec::with_capacity(accounts.len());
    for account in accounts {
        candidates.push(Candidate(account));
    }
    match select_account(&candidates, requested) {
        Ok(chosen) => Ok(chosen.0),
        Err(err) => Err(SdkError::from_selection(err, app)),
    }
}

/// The connect button's label on an app's page, when connecting (another) account is offered:
/// under "one" a connected app offers only Reconnect (which replaces its credentials in place);
/// under "multiple" another account can always be connected.
pub fn connect_label(policy: &str, accounts: usize) -> Option<Text> {
    match (policy, accounts) {
        (_, 0) => Some(Text::Connect),
        ("multiple", _) => Some(Text::ConnectAnother),
        _ => None,
    }
}

/// The status label of an account (`active` / `needs_reauth`).
pub fn status_text(lang: Lang, status: &str) -> &'static str {
    text(lang, if status == "needs_reauth" { Text::StatusNeedsReauth } else { Text::StatusActive })
}

/// A marketplace tile's connection summary for an app with `count` accounts.
pub fn tile_status(lang: Lang, count: u32) -> String {
    match count {
        0 => text(lang, Text::NotConnected).to_owned(),
        1 => text(lang, Text::StatusActive).to_owned(),
        n => fill(lang, Text::AccountsCount, &[("n", &n.to_string())]),
    }
}

/// The number of accounts in an app's summary (`connectedAccounts`).
pub fn count(app: &Json) -> u32 {
    app.get("connectedAccounts").and_then(Json::as_f64).map_or(0, |n| n as u32)
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{AccountsPolicy, AppSummary, AuthType, ErrorCode};

    use super::*;
    use crate::testing::wire;

    fn accounts(ids: &[&str]) -> Vec<Json> {
        crate::testing::accounts(ids).list_at("accounts").to_vec()
    }

    #[test]
    fn the_selection_rule_is_the_protocols_over_the_brokers_json() {
        let (none, one, two) = (accounts(&[]), accounts(&["ca_1"]), accounts(&["ca_1", "ca_2"]));
        assert_eq!(select(&none, None, "crm").map_err(|e| e.code), Err(ErrorCode::NotConnected));
        assert_eq!(select(&one, None, "crm").map(|a| a.str_at("id")), Ok("ca_1"));
        let err = select(&two, None, "crm").expect_err("ambiguous");
        assert_eq!(err.code, ErrorCode::ConnectedAccountRequired);
        let candidates = err.details.list_at("candidates");
        assert_eq!(candidates.iter().map(|c| c.str_at("id")).collect::<Vec<_>>(), ["ca_1", "ca_2"]);
        assert_eq!(candidates[1].str_at("displayName"), "ca_2@x");
        assert_eq!(select(&two, Some("ca_2"), "crm").map(|a| a.str_at("id")), Ok("ca_2"));
        assert_eq!(select(&two, Some("ca_9"), "crm").map_err(|e| e.code), Err(ErrorCode::AccountNotFound));
    }

    #[test]
    fn actions_follow_the_accounts_policy() {
        assert_eq!(connect_label("one", 0), Some(Text::Connect));
        assert_eq!(connect_label("one", 1), None);
        assert_eq!(connect_label("multiple", 2), Some(Text::ConnectAnother));
    }

    #[test]
    fn tiles_summarise_the_connection_state() {
        let mut app = AppSummary {
            id: "crm".into(),
            name: "CRM".into(),
            description: None,
            auth_type: AuthType::Oauth2,
            accounts_policy: AccountsPolicy::Multiple,
            connected_accounts: 3,
        };
        assert_eq!(count(&wire(&app)), 3);
        app.connected_accounts = 0;
        assert_eq!(count(&wire(&app)), 0);
        assert_eq!(tile_status(Lang::En, 0), "Not connected");
        assert_eq!(tile_status(Lang::Fr, 3), "3 comptes connectés");
        assert_eq!(status_text(Lang::Ja, "needs_reauth"), "再接続が必要です");
    }
}
