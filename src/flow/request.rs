//! The flows without a surface: one request (`Patchbay.init`, `getConnectedAccounts`,
//! `invokeFunction`) and `disconnectApp` (the selection rule, then the delete).

use super::{done, Flow, Outcome, Step};
use crate::accounts::select;
use crate::address::encode_segment;
use crate::error::SdkError;
use crate::events::EventKind;
use crate::json::{cat, Json};

/// One request; resolves as `outcome` says. A `Value` outcome names the member of the answer
/// to resolve with (`Json::String`), or `Null` for the whole answer.
pub struct Request {
    method: &'static str,
    path: String,
    body: Option<Json>,
    outcome: Outcome,
}

impl Request {
    /// A request resolving with `outcome` (`Outcome::Value(Json::String(member))` reads a member
    /// of the answer into the wasm module; `Outcome::Body` leaves it in JavaScript).
    pub fn new(method: &'static str, path: String, body: Option<Json>, outcome: Outcome) -> Request {
        Request { method, path, body, outcome }
    }
}

impl Flow for Request {
    fn start(&mut self) -> Vec<Step> {
        let raw = !matches!(self.outcome, Outcome::Value(_));
        vec![Step::Send { tag: 0, method: self.method, path: self.path.clone(), body: self.body.take(), raw }]
    }

    fn reply(&mut self, _tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        done(reply.map(|answer| match &self.outcome {
            Outcome::Value(Json::String(member)) => {
                Outcome::Value(answer.get(member).cloned().unwrap_or_default())
            }
            Outcome::Value(_) => Outcome::Value(answer),
            other => other.clone(),
        }))
    }
}

/// `disconnectApp`: the user's accounts, the one the selection rule picks, then the delete.
pub struct Disconnect {
    app: String,
    requested: Option<String>,
    account: String,
}

impl Disconnect {
    /// Disconnects `requested` (or the only account) of `app`.
    pub fn new(app: String, requested: Option<String>) -> Disconnect {
        Disconnect { app, requested, account: String::new() }
    }
}

/// `GET /v1/apps/{app}`.
pub fn app_request(tag: u32, app: &str) -> Step {
    Step::get(tag, cat(&["/v1/apps/", &encode_segment(app)]))
}

/// `GET /v1/apps/{app}/accounts`.
pub fn accounts_request(tag: u32, app: &str) -> Step {
    Step::get(tag, cat(&["/v1/apps/", &encode_segment(app), "/accounts"]))
}

/// The longest wait the broker honours on an attempt's status
/// ([`patchbay_protocol::MAX_ATTEMPT_WAIT_SECONDS`], as text: no number formatting in the bundle).
pub const LONG_POLL: &str = "25";

/// `GET /v1/connect-attempts/{id}?wait=…`: the attempt, once it ends or after `wait` seconds.
pub fn attempt_request(tag: u32, attempt: &str, wait: &str) -> Step {
    Step::get(tag, cat(&["/v1/connect-attempts/", &encode_segment(attempt), "?wait=", wait]))
}

/// `DELETE /v1/accounts/{id}`.
pub fn delete_request(tag: u32, account: &str) -> Step {
    Step::Send {
        tag,
        method: "DELETE",
        path: cat(&["/v1/accounts/", &encode_segment(account)]),
        body: None,
        raw: true,
    }
}

/// `app-disconnected`.
pub fn disconnected(app: &str, account: &str) -> Step {
    Step::Emit(
        EventKind::AppDisconnected,
        Json::object(vec![("appId", Json::text(app)), ("accountId", Json::text(account))]),
    )
}

impl Flow for Disconnect {
    fn start(&mut self) -> Vec<Step> {
        vec![accounts_request(0, &self.app)]
    }

    fn reply(&mut self, tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        let answer = match reply {
            Ok(answer) => answer,
            Err(err) => return done(Err(err)),
        };
        if tag == 0 {
            match select(answer.list_at("accounts"), self.requested.as_deref(), &self.app) {
                Ok(account) => {
                    self.account = account.str_at("id").to_owned();
                    vec![delete_request(1, &self.account)]
                }
                Err(err) => done(Err(err)),
            }
        } else {
            vec![disconnected(&self.app, &self.account), Step::Done(Ok(Outcome::Undefined))]
        }
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::ErrorCode;

    use super::*;
    use crate::flow::testing::{accounts, json, summary};

    #[test]
    fn a_request_resolves_with_a_member_or_the_raw_body() {
        let mut init = Request::new("GET", "/v1/apps".into(), None, Outcome::Value(Json::text("apps")));
        assert_eq!(summary(&init.start()), ["send 0 GET /v1/apps"]);
        assert_eq!(summary(&init.reply(0, Ok(json(r#"{"apps":[{"id":"a"}]}"#)))), [r#"done [{"id":"a"}]"#]);
        let mut invoke = Request::new(
            "POST",
            "/v1/functions/f/invoke".into(),
            Some(json(r#"{"args":{}}"#)),
            Outcome::Body(None),
        );
        assert_eq!(summary(&invoke.start()), [r#"send 0 POST /v1/functions/f/invoke {"args":{}} raw"#]);
        assert_eq!(summary(&invoke.reply(0, Ok(Json::Null))), ["done body -"]);
        let failed = invoke.reply(0, Err(SdkError::new(ErrorCode::FunctionNotFound, "no")));
        assert_eq!(summary(&failed), ["done error FUNCTION_NOT_FOUND"]);
    }

    #[test]
    fn the_long_poll_asks_for_the_brokers_longest_wait() {
        assert_eq!(LONG_POLL, patchbay_protocol::MAX_ATTEMPT_WAIT_SECONDS.to_string());
    }

    #[test]
    fn disconnect_follows_the_selection_rule() {
        let mut one = Disconnect::new("crm".into(), None);
        assert_eq!(summary(&one.start()), ["send 0 GET /v1/apps/crm/accounts"]);
        assert_eq!(summary(&one.reply(0, Ok(accounts(&["ca_1"])))), ["send 1 DELETE /v1/accounts/ca_1 raw"]);
        assert_eq!(
            summary(&one.reply(1, Ok(Json::Null))),
            [r#"emit app-disconnected {"appId":"crm","accountId":"ca_1"}"#, "done undefined"]
        );
        let mut ambiguous = Disconnect::new("crm".into(), None);
        ambiguous.start();
        assert_eq!(
            summary(&ambiguous.reply(0, Ok(accounts(&["ca_1", "ca_2"])))),
            ["done error CONNECTED_ACCOUNT_REQUIRED"]
        );
        let mut named = Disconnect::new("crm".into(), Some("ca_2".into()));
        named.start();
        assert_eq!(
            summary(&named.reply(0, Ok(accounts(&["ca_1", "ca_2"])))),
            ["send 1 DELETE /v1/accounts/ca_2 raw"]
        );
        let mut none = Disconnect::new("crm".into(), None);
        none.start();
        assert_eq!(summary(&none.reply(0, Ok(accounts(&[])))), ["done error NOT_CONNECTED"]);
    }
}
