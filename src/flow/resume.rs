//! Resuming a connect after a reload: `Patchbay.init` finds the OAuth attempt the tab was
//! waiting for (kept in session storage by [`super::Connect`]) and asks the broker how it ended.
//! A connect that succeeded emits `app-connected` with `resumed: true`; one that failed or
//! expired is forgotten without an error; one still pending is followed to its end.

use patchbay_protocol::ErrorCode;

use super::request::{attempt_request, LONG_POLL};
use super::{done, Flow, Outcome, Step};
use crate::address::attempt_in_query;
use crate::attempt::{progress, PendingAttempt, Progress};
use crate::error::SdkError;
use crate::events::EventKind;
use crate::json::Json;

/// Older records are forgotten without asking: no attempt lives this long (the broker's default
/// is 10 minutes).
const MAX_AGE_MS: f64 = 24.0 * 3600.0 * 1000.0;
/// Consecutive network failures before giving up for this page (the record is kept).
const MAX_FAILURES: u8 = 3;

/// Follows a stored attempt.
pub struct Resume {
    pending: PendingAttempt,
    now_ms: f64,
    /// The page's query string (redirect mode's return names the attempt there).
    query: String,
    failures: u8,
}

impl Resume {
    /// Resumes `pending` on a page whose query is `query`, at `now_ms`.
    pub fn new(pending: PendingAttempt, now_ms: f64, query: String) -> Resume {
        Resume { pending, now_ms, query, failures: 0 }
    }

    fn poll(&self) -> Step {
        attempt_request(0, &self.pending.attempt_id, LONG_POLL)
    }

    fn forget() -> Vec<Step> {
        vec![Step::Forget, Step::Done(Ok(Outcome::Undefined))]
    }
}

impl Flow for Resume {
    fn start(&mut self) -> Vec<Step> {
        let age = self.now_ms - self.pending.started_at;
        if !(0.0..MAX_AGE_MS).contains(&age) {
            return Resume::forget();
        }
        // Redirect mode's return page: `completeRedirect()` finishes this one.
        if attempt_in_query(&self.query).as_deref() == Some(self.pending.attempt_id.as_str()) {
            return done(Ok(Outcome::Undefined));
        }
        vec![self.poll()]
    }

    fn reply(&mut self, _tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        match reply.map(|attempt| progress(&attempt)) {
            Ok(Progress::Pending) => {
                self.failures = 0;
                vec![self.poll()]
            }
            Ok(Progress::Connected(account)) => {
                let payload = Json::object(vec![
                    ("appId", Json::text(&self.pending.app_id)),
                    ("accountId", Json::String(account)),
                    ("resumed", Json::Bool(true)),
                ]);
                vec![
                    Step::Forget,
                    Step::Emit(EventKind::AppConnected, payload),
                    Step::Done(Ok(Outcome::Undefined)),
                ]
            }
            Ok(Progress::Failed(_)) => Resume::forget(),
            Err(err) if err.code == ErrorCode::Network && self.failures + 1 < MAX_FAILURES => {
                self.failures += 1;
                vec![self.poll()]
            }
            // Not this page's to settle: a fresh session (or a later load) can still finish it.
            Err(err)
                if matches!(
                    err.code,
                    ErrorCode::Network | ErrorCode::SessionExpired | ErrorCode::Unauthorized
                ) =>
            {
                done(Ok(Outcome::Undefined))
            }
            // Unknown to the broker, or another user's: nothing to resume.
            Err(_) => Resume::forget(),
        }
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{AttemptError, AttemptStatus, ConnectAttempt};

    use super::*;
    use crate::flow::testing::{summary, wire};

    const NOW: f64 = 1_700_000_000_000.0;

    fn resume(started_at: f64, query: &str) -> Resume {
        let pending = PendingAttempt { attempt_id: "att_1".into(), app_id: "idp".into(), started_at };
        Resume::new(pending, NOW, query.into())
    }

    fn attempt(status: AttemptStatus, account: Option<&str>) -> Json {
        let error = (status == AttemptStatus::Failed).then(|| AttemptError {
            code: ErrorCode::ConnectTimeout,
            message: "expired".into(),
            provider_error: None,
        });
        wire(&ConnectAttempt {
            id: "att_1".into(),
            app_id: "idp".into(),
            status,
            account_id: account.map(Into::into),
            error,
            expires_at: "2030-01-01T00:00:00Z".into(),
        })
    }

    #[test]
    fn a_connect_that_finished_while_the_page_reloaded_is_reported_as_resumed() {
        let mut flow = resume(NOW - 5_000.0, "");
        assert_eq!(summary(&flow.start()), ["send 0 GET /v1/connect-attempts/att_1?wait=25"]);
        assert_eq!(
            summary(&flow.reply(0, Ok(attempt(AttemptStatus::Pending, None)))),
            ["send 0 GET /v1/connect-attempts/att_1?wait=25"]
        );
        assert_eq!(
            summary(&flow.reply(0, Ok(attempt(AttemptStatus::Connected, Some("ca_9"))))),
            [
                "forget",
                r#"emit app-connected {"appId":"idp","accountId":"ca_9","resumed":true}"#,
                "done undefined"
            ]
        );
    }

    #[test]
    fn failed_expired_stale_or_unknown_attempts_are_forgotten_without_an_error() {
        let mut failed = resume(NOW - 5_000.0, "");
        failed.start();
        assert_eq!(
            summary(&failed.reply(0, Ok(attempt(AttemptStatus::Failed, None)))),
            ["forget", "done undefined"]
        );
        assert_eq!(summary(&resume(NOW - MAX_AGE_MS - 1.0, "").start()), ["forget", "done undefined"]);
        assert_eq!(
            summary(&resume(NOW + 60_000.0, "").start()),
            ["forget", "done undefined"],
            "clock went back"
        );
        let mut unknown = resume(NOW - 5_000.0, "");
        unknown.start();
        let not_found = SdkError::new(ErrorCode::NotFound, "no such attempt");
        assert_eq!(summary(&unknown.reply(0, Err(not_found))), ["forget", "done undefined"]);
    }

    #[test]
    fn an_expired_session_or_a_lost_network_keeps_the_record_for_a_later_load() {
        let mut expired = resume(NOW - 5_000.0, "");
        expired.start();
        let err = SdkError::new(ErrorCode::SessionExpired, "expired");
        assert_eq!(summary(&expired.reply(0, Err(err))), ["done undefined"]);
        let mut offline = resume(NOW - 5_000.0, "");
        offline.start();
        for _ in 1..MAX_FAILURES {
            assert_eq!(summary(&offline.reply(0, Err(SdkError::network("down")))).len(), 1);
        }
        assert_eq!(summary(&offline.reply(0, Err(SdkError::network("down")))), ["done undefined"]);
    }

    #[test]
    fn the_redirect_return_page_leaves_the_attempt_to_complete_redirect() {
        assert_eq!(
            summary(&resume(NOW - 5_000.0, "?tab=1&patchbay_attempt=att_1").start()),
            ["done undefined"]
        );
        assert_eq!(
            summary(&resume(NOW - 5_000.0, "?patchbay_attempt=att_2").start()),
            ["send 0 GET /v1/connect-attempts/att_1?wait=25"]
        );
    }
}
