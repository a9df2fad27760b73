//! `completeRedirect`: on the page the broker sent the user back to in redirect mode, the
//! attempt named by `patchbay_attempt` is followed to its end (and the parameter removed from
//! the address bar so a reload does not complete it again).

use super::request::{attempt_request, LONG_POLL};
use super::{done, Flow, Outcome, Step};
use crate::address::{attempt_in_query, query_without_attempt};
use crate::attempt::{progress, Progress};
use crate::error::SdkError;
use crate::events::EventKind;
use crate::json::{cat, Json};

/// `completeRedirect()` for the page at `path` + `query` + `hash`.
pub struct CompleteRedirect {
    path: String,
    query: String,
    hash: String,
    attempt: String,
}

impl CompleteRedirect {
    /// Follows the attempt in `query`, if any.
    pub fn new(path: String, query: String, hash: String) -> CompleteRedirect {
        CompleteRedirect { path, query, hash, attempt: String::new() }
    }

    fn poll(&self) -> Step {
        attempt_request(0, &self.attempt, LONG_POLL)
    }
}

impl Flow for CompleteRedirect {
    fn start(&mut self) -> Vec<Step> {
        let Some(attempt) = attempt_in_query(&self.query) else {
            return done(Ok(Outcome::Value(Json::Null)));
        };
        self.attempt = attempt;
        let clean = cat(&[&self.path, &query_without_attempt(&self.query), &self.hash]);
        vec![Step::ReplaceUrl(clean), self.poll()]
    }

    fn reply(&mut self, _tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        let attempt = match reply {
            Ok(attempt) => attempt,
            Err(err) => return vec![Step::Forget, Step::Done(Err(err))],
        };
        match progress(&attempt) {
            Progress::Pending => vec![self.poll()],
            Progress::Connected(account) => {
                let payload = Json::object(vec![
                    ("appId", Json::text(attempt.str_at("appId"))),
                    ("accountId", Json::text(&account)),
                ]);
                vec![
                    Step::Forget,
                    Step::Emit(EventKind::AppConnected, payload),
                    Step::Done(Ok(Outcome::Value(Json::String(account)))),
                ]
            }
            Progress::Failed(err) => vec![Step::Forget, Step::Done(Err(err))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::testing::{json, summary};

    #[test]
    fn the_returned_attempt_is_followed_and_forgotten() {
        let mut flow =
            CompleteRedirect::new("/settings".into(), "?tab=2&patchbay_attempt=att_1".into(), "#x".into());
        assert_eq!(
            summary(&flow.start()),
            ["replace /settings?tab=2#x", "send 0 GET /v1/connect-attempts/att_1?wait=25"]
        );
        assert_eq!(
            summary(&flow.reply(0, Ok(json(r#"{"status":"pending"}"#)))),
            ["send 0 GET /v1/connect-attempts/att_1?wait=25"]
        );
        assert_eq!(
            summary(&flow.reply(0, Ok(json(r#"{"status":"connected","accountId":"ca_1","appId":"idp"}"#)))),
            ["forget", r#"emit app-connected {"appId":"idp","accountId":"ca_1"}"#, r#"done "ca_1""#]
        );
        let mut nothing = CompleteRedirect::new("/".into(), "?tab=2".into(), String::new());
        assert_eq!(summary(&nothing.start()), ["done null"]);
        let mut failed = CompleteRedirect::new("/".into(), "?patchbay_attempt=att_2".into(), String::new());
        failed.start();
        let expired = json(r#"{"status":"failed","error":{"code":"CONNECT_TIMEOUT","message":"late"}}"#);
        assert_eq!(summary(&failed.reply(0, Ok(expired))), ["forget", "done error CONNECT_TIMEOUT"]);
    }
}
