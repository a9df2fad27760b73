//! `connectApp`: a credential form (every auth type but OAuth 2.0), or OAuth 2.0 in a popup (or
//! by redirect).
//!
//! Popup mode follows DESIGN.md's "Connect flows": the popup opens at `about:blank` in the first
//! step (inside the caller's click), then goes to the provider once the broker started the
//! attempt; the outcome comes from the attempt's status, long-polled; a `message` from the
//! broker's origin naming this attempt only makes the flow look now; `popup.closed` only
//! changes a hint in the "Waiting for <app>…" overlay, whose Reopen / Cancel (or Esc) stay
//! available until the attempt ends or expires.

use patchbay_protocol::ErrorCode;

use super::form::Form;
use super::request::{app_request, attempt_request, LONG_POLL};
use super::{closed, done, Config, Flow, Outcome, Step};
use crate::address::encode_segment;
use crate::attempt::{is_callback_for, progress, Progress};
use crate::error::SdkError;
use crate::events::{EventKind, ModalKind};
use crate::i18n::{fill, text, Text};
use crate::json::{cat, Json};
use crate::schema::credential_model;
use crate::view::{dialog, waiting, HINT_ID};

const DETAIL: u32 = 1;
const START: u32 = 2;
const SUBMIT: u32 = 3;
const POLL: u32 = 4;
const NUDGE: u32 = 5;
/// Consecutive network failures of the status long-poll before giving up with NETWORK.
const MAX_POLL_FAILURES: u8 = 3;

/// Where the connect stands.
enum Phase {
    /// Loading the app's detail (credential fields, or the auth type of an unlisted app).
    Loading,
    /// The credential form is shown.
    Form(Form),
    /// Waiting for the broker to start the OAuth attempt.
    Starting,
    /// The user is at the provider.
    Waiting,
}

/// `connectApp` for one app.
pub struct Connect {
    config: Config,
    app_id: String,
    /// The app's summary or detail, once known.
    app: Json,
    /// Reconnect this account in place.
    target: Option<String>,
    phase: Phase,
    submitting: bool,
    authorize_url: String,
    attempt_id: String,
    failures: u8,
    popup_closed: bool,
}

impl Connect {
    /// Connects `app_id`; `app` is its summary when the SDK knows it (`Null` otherwise).
    pub fn new(config: Config, app_id: String, app: Json, target: Option<String>) -> Connect {
        Connect {
            config,
            app_id,
            app,
            target,
            phase: Phase::Loading,
            submitting: false,
            authorize_url: String::new(),
            attempt_id: String::new(),
            failures: 0,
            popup_closed: false,
        }
    }

    fn name(&self) -> &str {
        self.app.str_at("name")
    }

    fn connect_body(&self, fields: Json, return_to: bool) -> Json {
        let mut members = vec![("fields", fields)];
        if let Some(id) = &self.target {
            members.push(("connectedAccountId", Json::text(id)));
        }
        if return_to {
            members.push(("returnTo", Json::text(&self.config.return_to)));
        }
        Json::object(members)
    }

    fn post(&self, tag: u32, body: Json) -> Step {
        let path = cat(&["/v1/apps/", &encode_segment(&self.app_id), "/connect"]);
        Step::Send { tag, method: "POST", path, body: Some(body), raw: false }
    }

    fn poll(&self, tag: u32, wait: &str) -> Step {
        attempt_request(tag, &self.attempt_id, wait)
    }

    /// What to do once the app (with its auth type) is known.
    fn dispatch(&mut self, detail_loaded: bool) -> Vec<Step> {
        // An OAuth app without connect-time values goes straight to the provider; one that needs
        // them (an instance URL, a shop) asks for them first, and its form's submit opens the
        // popup.
        if self.is_oauth() && self.app.list_at("fields").is_empty() {
            self.phase = Phase::Starting;
            return self.start_oauth(Json::Object(Vec::new()));
        }
        if !detail_loaded {
            return vec![app_request(DETAIL, &self.app_id)];
        }
        let lang = self.config.lang;
        let title = fill(lang, Text::ConnectTitle, &[("app", self.name())]);
        let intro = self.app.opt_str("description").map(str::to_owned).into_iter().collect();
        let form = Form::new(
            lang,
            title,
            intro,
            credential_model(self.app.list_at("fields")),
            None,
            Text::Connect,
            false,
        );
        let show = form.show(None);
        self.phase = Phase::Form(form);
        vec![show]
    }

    fn is_oauth(&self) -> bool {
        self.app.str_at("authType") == "oauth2"
    }

    /// Opens the popup (popup mode, inside the current click) and asks the broker to start the
    /// sign-in with these connect-time values.
    fn start_oauth(&self, fields: Json) -> Vec<Step> {
        let start = self.post(START, self.connect_body(fields, !self.config.popup));
        if self.config.popup {
            vec![Step::Popup("about:blank".into()), start]
        } else {
            vec![start]
        }
    }

    /// The end, with the events it causes.
    fn finish(&self, result: Result<(String, Option<bool>), SdkError>) -> Vec<Step> {
        let mut steps = Vec::new();
        if !self.attempt_id.is_empty() {
            steps.push(Step::Forget);
        }
        let modal = match self.phase {
            Phase::Form(_) => Some(ModalKind::Credentials),
            Phase::Waiting => Some(ModalKind::Waiting),
            _ => None,
        };
        if let Some(modal) = modal {
            steps.push(closed(modal, "appId", &self.app_id));
        }
        match result {
            Ok((account, reconnected)) => {
                let mut payload =
                    vec![("appId", Json::text(&self.app_id)), ("accountId", Json::text(&account))];
                if let Some(reconnected) = reconnected {
                    payload.push(("reconnected", Json::Bool(reconnected)));
                }
                steps.push(Step::Emit(EventKind::AppConnected, Json::object(payload)));
                steps.push(Step::Done(Ok(Outcome::Value(Json::String(account)))));
            }
            Err(err) => steps.push(Step::Done(Err(err))),
        }
        steps
    }

    fn credentials_refused(&self, err: &SdkError) -> Vec<Step> {
        let lang = self.config.lang;
        let app = self.name();
        let summary = match err.code {
            ErrorCode::CredentialsRejected => match err.details.opt_str("reason") {
                Some(reason) => {
                    fill(lang, Text::CredentialsRejectedReason, &[("app", app), ("reason", reason)])
                }
                None => fill(lang, Text::CredentialsRejected, &[("app", app)]),
            },
            ErrorCode::Network => text(lang, Text::NetworkError).to_owned(),
            ErrorCode::UpstreamError | ErrorCode::UpstreamUnavailable | ErrorCode::RateLimited => {
                fill(lang, Text::UpstreamProblem, &[("app", app)])
            }
            _ => text(lang, Text::FixErrors).to_owned(),
        };
        // The broker names credential fields by name (`base_url`); its reasons are English,
        // "is required" has a translation.
        let mut list = Vec::new();
        for f in err.details.list_at("fields") {
            let reason = f.str_at("reason");
            let reason = if reason == "is required" { text(lang, Text::Required) } else { reason };
            list.push((cat(&["f/", f.str_at("field")]), reason.to_owned()));
        }
        vec![Step::Busy(false, text(lang, Text::Connect).to_owned()), Step::Problems(list, Some(summary))]
    }
}

/// `JSON.parse` stand-in for credential forms (they have no JSON fields).
fn no_json(_: &str) -> Option<Json> {
    None
}

impl Flow for Connect {
    fn surface(&self) -> (&'static str, bool) {
        (if matches!(self.phase, Phase::Form(_)) { "credentials" } else { "oauth" }, true)
    }

    fn start(&mut self) -> Vec<Step> {
        if self.app == Json::Null {
            return vec![app_request(DETAIL, &self.app_id)];
        }
        // A detail (from an app's page) already holds the credential fields.
        let loaded = self.app.get("fields").is_some();
        self.dispatch(loaded)
    }

    fn action(&mut self, name: &str, _id: Option<&str>, values: &Json) -> Vec<Step> {
        match name {
            "cancel" => self.finish(Err(SdkError::cancelled())),
            // A window still linked to this page is brought to the front (reopening it would
            // restart a sign-in the user may be half-way through); one that reads as closed is
            // opened again under the same name.
            "reopen" if !self.popup_closed => vec![Step::FocusPopup],
            "reopen" => vec![Step::Popup(self.authorize_url.clone())],
            "submit" if !self.submitting => {
                let Phase::Form(form) = &mut self.phase else { return Vec::new() };
                let fields = match form.submit(values, &no_json) {
                    Ok(fields) => fields,
                    Err(problems) => return vec![problems],
                };
                self.submitting = true;
                let busy = Step::Busy(true, text(self.config.lang, Text::Connecting).to_owned());
                let mut steps = vec![Step::Problems(Vec::new(), None), busy];
                if self.is_oauth() {
                    steps.extend(self.start_oauth(fields));
                } else {
                    steps.push(self.post(SUBMIT, self.connect_body(fields, false)));
                }
                steps
            }
            _ => Vec::new(),
        }
    }

    fn reply(&mut self, tag: u32, reply: Result<Json, SdkError>) -> Vec<Step> {
        match (tag, reply) {
            (DETAIL, Ok(detail)) => {
                self.app = detail;
                self.dispatch(true)
            }
            (START, Ok(started)) => {
                let (Some(url), Some(id)) = (started.opt_str("authorizeUrl"), started.opt_str("attemptId"))
                else {
                    return self
                        .finish(Err(SdkError::internal("the broker started no sign-in for an OAuth app")));
                };
                self.authorize_url = url.to_owned();
                self.attempt_id = id.to_owned();
                let remember =
                    Step::Remember { attempt_id: self.attempt_id.clone(), app_id: self.app_id.clone() };
                if !self.config.popup {
                    return vec![remember, Step::Go(self.authorize_url.clone())];
                }
                self.phase = Phase::Waiting;
                let lang = self.config.lang;
                let title = fill(lang, Text::WaitingTitle, &[("app", self.name())]);
                let html = dialog(
                    lang,
                    &title,
                    false,
                    Some(("data-attempt-id", &self.attempt_id)),
                    &waiting(lang, self.name()),
                );
                vec![
                    remember,
                    Step::Navigate(self.authorize_url.clone()),
                    Step::Show { html, focus: None },
                    Step::Watch,
                    self.poll(POLL, LONG_POLL),
                ]
            }
            (SUBMIT, Ok(answer)) => {
                let account = answer.get("account").map(|a| a.str_at("id")).unwrap_or_default().to_owned();
                if account.is_empty() {
                    return self
                        .finish(Err(SdkError::internal("the broker's connect answer names no account")));
                }
                self.finish(Ok((account, answer.get("reconnected").and_then(Json::as_bool))))
            }
            (SUBMIT, Err(err)) if err.stays_in_form() => {
                self.submitting = false;
                self.credentials_refused(&err)
            }
            // The connect-time values were refused: back to the form, without the popup.
            (START, Err(err)) if err.stays_in_form() && matches!(self.phase, Phase::Form(_)) => {
                self.submitting = false;
                let mut steps = vec![Step::ClosePopup];
                steps.extend(self.credentials_refused(&err));
                steps
            }
            // Started from a tile (no detail yet): the app needs connect-time values first.
            (START, Err(err))
                if err.code == ErrorCode::InvalidArguments && self.app.get("fields").is_none() =>
            {
                vec![Step::ClosePopup, app_request(DETAIL, &self.app_id)]
            }
            (POLL | NUDGE, Ok(attempt)) => match progress(&attempt) {
                Progress::Pending if tag == POLL => {
                    self.failures = 0;
                    vec![self.poll(POLL, LONG_POLL)]
                }
                Progress::Pending => Vec::new(),
                Progress::Connected(account) => self.finish(Ok((account, None))),
                Progress::Failed(err) => self.finish(Err(err)),
            },
            // A nudge is only a hint: the long-poll decides.
            (NUDGE, Err(_)) => Vec::new(),
            (POLL, Err(err)) if err.code == ErrorCode::Network && self.failures + 1 < MAX_POLL_FAILURES => {
                self.failures += 1;
                vec![self.poll(POLL, LONG_POLL)]
            }
            (_, Err(err)) => self.finish(Err(err)),
            (_, Ok(_)) => Vec::new(),
        }
    }

    fn message(&mut self, origin: &str, data: &Json) -> Vec<Step> {
        if is_callback_for(data, origin, &self.config.broker_origin, &self.attempt_id) {
            vec![self.poll(NUDGE, "0")]
        } else {
            Vec::new()
        }
    }

    fn tick(&mut self, popup_closed: bool) -> Vec<Step> {
        if popup_closed == self.popup_closed {
            return Vec::new();
        }
        self.popup_closed = popup_closed;
        let hint = popup_closed.then(|| text(self.config.lang, Text::WaitingClosedHint).to_owned());
        vec![Step::Text(HINT_ID, hint)]
    }

    fn blocked(&mut self) -> Vec<Step> {
        match self.phase {
            // Reopen was blocked: say so; the attempt goes on.
            Phase::Waiting => {
                vec![Step::Text(HINT_ID, Some(text(self.config.lang, Text::PopupBlockedHint).to_owned()))]
            }
            _ => done(Err(SdkError::popup_blocked())),
        }
    }
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::{
        AccountStatus, AccountsPolicy, AppDetail, AppSummary, AttemptError, AttemptStatus, AuthType,
        CallbackMessage, ConnectAttempt, ConnectResponse, ConnectedAccount, CredentialField, ErrorBody,
        ErrorDetails, ErrorPayload, FieldError, FieldKind, CALLBACK_MESSAGE_TYPE,
    };

    use super::*;
    use crate::flow::testing::{config, json, shown, summary, wire};

    fn app(auth: AuthType) -> AppSummary {
        AppSummary {
            id: "crm".into(),
            name: "Acme CRM".into(),
            description: None,
            auth_type: auth,
            accounts_policy: AccountsPolicy::One,
            connected_accounts: 0,
        }
    }

    fn detail(auth: AuthType) -> Json {
        let fields = auth
            .credential_fields()
            .iter()
            .map(|name| CredentialField {
                name: (*name).into(),
                label: name.to_uppercase(),
                kind: FieldKind::of(name),
                required: true,
                help: None,
                placeholder: None,
            })
            .collect();
        wire(&AppDetail { summary: app(auth), fields, functions: vec![] })
    }

    fn account() -> ConnectedAccount {
        ConnectedAccount {
            id: "ca_1".into(),
            app_id: "crm".into(),
            display_name: "demo".into(),
            status: AccountStatus::Active,
            created_at: "2025-01-01T00:00:00Z".into(),
            updated_at: "2025-01-01T00:00:00Z".into(),
        }
    }

    fn refusal(code: ErrorCode, details: ErrorDetails) -> SdkError {
        let body = ErrorBody { error: ErrorPayload { code, message: "refused".into(), details } };
        SdkError::from_http(422, &wire(&body))
    }

    #[test]
    fn credentials_are_validated_submitted_and_refusals_stay_in_the_form() {
        let mut flow =
            Connect::new(config(true), "crm".into(), wire(&app(AuthType::Basic)), Some("ca_1".into()));
        assert_eq!(summary(&flow.start()), ["send 1 GET /v1/apps/crm"]);
        let steps = flow.reply(DETAIL, Ok(detail(AuthType::Basic)));
        assert_eq!(summary(&steps), ["show"]);
        assert!(shown(&steps).contains(r#"type="password" id="f/password""#));
        assert_eq!(flow.surface(), ("credentials", true));

        let empty = flow.action("submit", None, &json(r#"{"f/username":"","f/password":""}"#));
        assert_eq!(
            summary(&empty),
            ["problems [f/username: This field is required.; f/password: This field is required.] Please correct the highlighted fields."]
        );
        let filled = json(r#"{"f/username":"demo","f/password":"pw"}"#);
        assert_eq!(
            summary(&flow.action("submit", None, &filled)),
            [
                "problems [] -",
                "busy true Connecting…",
                r#"send 3 POST /v1/apps/crm/connect {"fields":{"username":"demo","password":"pw"},"connectedAccountId":"ca_1"}"#
            ]
        );
        assert!(flow.action("submit", None, &filled).is_empty(), "no second submit while pending");

        let rejected = refusal(
            ErrorCode::CredentialsRejected,
            ErrorDetails { reason: Some("bad password".into()), ..Default::default() },
        );
        assert_eq!(
            summary(&flow.reply(SUBMIT, Err(rejected))),
            ["busy false Connect", "problems [] Acme CRM did not accept these credentials: bad password"]
        );
        let invalid = refusal(
            ErrorCode::InvalidArguments,
            ErrorDetails {
                fields: vec![FieldError { field: "username".into(), reason: "is required".into() }],
                ..Default::default()
            },
        );
        assert_eq!(
            summary(&flow.reply(SUBMIT, Err(invalid))),
            [
                "busy false Connect",
                "problems [f/username: This field is required.] Please correct the highlighted fields."
            ]
        );

        let connected = wire(&ConnectResponse::Connected { account: account(), reconnected: true });
        assert_eq!(
            summary(&flow.reply(SUBMIT, Ok(connected))),
            [
                r#"emit modal-closed {"modal":"credentials","appId":"crm"}"#,
                r#"emit app-connected {"appId":"crm","accountId":"ca_1","reconnected":true}"#,
                r#"done "ca_1""#
            ]
        );
    }

    #[test]
    fn unrecoverable_errors_and_cancel_close_the_form() {
        let mut flow = Connect::new(config(true), "crm".into(), wire(&app(AuthType::ApiKey)), None);
        flow.start();
        flow.reply(DETAIL, Ok(detail(AuthType::ApiKey)));
        flow.action("submit", None, &json(r#"{"f/api_key":"k"}"#));
        let expired = SdkError::new(ErrorCode::SessionExpired, "expired");
        assert_eq!(summary(&flow.reply(SUBMIT, Err(expired)))[1], "done error SESSION_EXPIRED");
        let mut cancelled = Connect::new(config(true), "crm".into(), wire(&app(AuthType::ApiKey)), None);
        cancelled.start();
        cancelled.reply(DETAIL, Ok(detail(AuthType::ApiKey)));
        assert_eq!(
            summary(&cancelled.action("cancel", None, &Json::Null)),
            [r#"emit modal-closed {"modal":"credentials","appId":"crm"}"#, "done error USER_CANCELLED"]
        );
    }

    fn started() -> Json {
        wire(&ConnectResponse::Authorize {
            authorize_url: "https://idp/auth?state=s".into(),
            attempt_id: "att_1".into(),
            expires_at: "2030-01-01T00:00:00Z".into(),
        })
    }

    fn attempt(status: AttemptStatus, account: Option<&str>, error: Option<ErrorCode>) -> Json {
        wire(&ConnectAttempt {
            id: "att_1".into(),
            app_id: "crm".into(),
            status,
            account_id: account.map(str::to_owned),
            error: error.map(|code| AttemptError { code, message: "m".into(), provider_error: None }),
            expires_at: "2030-01-01T00:00:00Z".into(),
        })
    }

    #[test]
    fn oauth_opens_the_popup_first_then_follows_the_attempt() {
        let mut flow = Connect::new(config(true), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        assert_eq!(
            summary(&flow.start()),
            ["popup about:blank", r#"send 2 POST /v1/apps/crm/connect {"fields":{}}"#]
        );
        let steps = flow.reply(START, Ok(started()));
        assert_eq!(
            summary(&steps),
            [
                "remember crm att_1",
                "navigate https://idp/auth?state=s",
                "show",
                "watch",
                "send 4 GET /v1/connect-attempts/att_1?wait=25"
            ]
        );
        let html = shown(&steps);
        assert!(
            html.contains("Waiting for Acme CRM") && html.contains(r#"data-attempt-id="att_1""#),
            "{html}"
        );
        assert_eq!(flow.surface(), ("oauth", true));
        // Pending: keep long-polling.
        assert_eq!(
            summary(&flow.reply(POLL, Ok(attempt(AttemptStatus::Pending, None, None)))),
            ["send 4 GET /v1/connect-attempts/att_1?wait=25"]
        );
        // popup.closed is only a hint.
        assert_eq!(
            summary(&flow.tick(true)),
            ["text pb-hint Can’t see the sign-in window? It may be behind this one, or it seems to be closed. Show it again to continue, or cancel."]
        );
        assert!(flow.tick(true).is_empty());
        assert_eq!(summary(&flow.action("reopen", None, &Json::Null)), ["popup https://idp/auth?state=s"]);
        assert_eq!(summary(&flow.blocked()), ["text pb-hint Your browser blocked the sign-in window. Allow pop-ups for this site and try again."]);
        assert_eq!(summary(&flow.tick(false)), ["text pb-hint -"]);
        assert_eq!(summary(&flow.action("reopen", None, &Json::Null)), ["focus popup"]);
        // Completion.
        assert_eq!(
            summary(&flow.reply(POLL, Ok(attempt(AttemptStatus::Connected, Some("ca_9"), None)))),
            [
                "forget",
                r#"emit modal-closed {"modal":"oauth-waiting","appId":"crm"}"#,
                r#"emit app-connected {"appId":"crm","accountId":"ca_9"}"#,
                r#"done "ca_9""#
            ]
        );
    }

    #[test]
    fn an_oauth_app_that_needs_connect_values_asks_for_them_then_opens_the_popup_on_submit() {
        let needs_instance = SdkError::from_http(
            422,
            &wire(&ErrorBody {
                error: ErrorPayload {
                    code: ErrorCode::InvalidArguments,
                    message: "bad".into(),
                    details: ErrorDetails {
                        fields: vec![FieldError { field: "instance".into(), reason: "is required".into() }],
                        ..Default::default()
                    },
                },
            }),
        );
        let mut flow = Connect::new(config(true), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        assert_eq!(flow.start()[0..1].len(), 1);
        // From a tile: the broker names the missing value; the popup closes, the detail loads.
        assert_eq!(
            summary(&flow.reply(START, Err(needs_instance.clone()))),
            ["close popup", "send 1 GET /v1/apps/crm"]
        );
        let field = CredentialField {
            name: "instance".into(),
            label: "GitLab URL".into(),
            kind: FieldKind::Url,
            required: true,
            help: None,
            placeholder: None,
        };
        let detail =
            wire(&AppDetail { summary: app(AuthType::Oauth2), fields: vec![field], functions: vec![] });
        let steps = flow.reply(DETAIL, Ok(detail));
        assert!(shown(&steps).contains("GitLab URL"), "{}", shown(&steps));
        let values = json(r#"{"f/instance":"https://gitlab.example"}"#);
        assert_eq!(
            summary(&flow.action("submit", None, &values)),
            [
                "problems [] -",
                "busy true Connecting…",
                "popup about:blank",
                r#"send 2 POST /v1/apps/crm/connect {"fields":{"instance":"https://gitlab.example"}}"#
            ]
        );
        // Refused: back to the form, without the popup.
        let refused = summary(&flow.reply(START, Err(needs_instance)));
        assert_eq!(refused[0..2], ["close popup", "busy false Connect"]);
        assert!(refused[2].starts_with("problems [f/instance: "), "{refused:?}");
        flow.action("submit", None, &values);
        assert_eq!(
            summary(&flow.reply(START, Ok(started())))[0..2],
            ["remember crm att_1", "navigate https://idp/auth?state=s"]
        );
    }

    #[test]
    fn only_the_brokers_message_for_this_attempt_nudges() {
        let mut flow = Connect::new(config(true), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        flow.start();
        flow.reply(START, Ok(started()));
        let message = |id: &str| {
            wire(&CallbackMessage {
                kind: CALLBACK_MESSAGE_TYPE.into(),
                attempt_id: id.into(),
                status: AttemptStatus::Connected,
                account_id: Some("ca_forged".into()),
                error: None,
            })
        };
        assert!(flow.message("https://evil.example", &message("att_1")).is_empty(), "foreign origin");
        assert!(flow.message("https://broker.example", &message("att_2")).is_empty(), "other attempt");
        assert_eq!(
            summary(&flow.message("https://broker.example", &message("att_1"))),
            ["send 5 GET /v1/connect-attempts/att_1?wait=0"]
        );
        // The nudge's answer decides, never the message's own claims.
        assert!(flow.reply(NUDGE, Ok(attempt(AttemptStatus::Pending, None, None))).is_empty());
        assert!(flow.reply(NUDGE, Err(SdkError::network("x"))).is_empty());
    }

    #[test]
    fn oauth_failures_cancels_blocks_and_expiry_settle() {
        let mut blocked = Connect::new(config(true), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        blocked.start();
        assert_eq!(summary(&blocked.blocked()), ["done error POPUP_BLOCKED"]);

        let mut flow = Connect::new(config(true), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        flow.start();
        flow.reply(START, Ok(started()));
        assert_eq!(
            summary(&flow.action("cancel", None, &Json::Null)),
            [
                "forget",
                r#"emit modal-closed {"modal":"oauth-waiting","appId":"crm"}"#,
                "done error USER_CANCELLED"
            ]
        );

        let mut expiring = Connect::new(config(true), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        expiring.start();
        expiring.reply(START, Ok(started()));
        let expired = attempt(AttemptStatus::Failed, None, Some(ErrorCode::ConnectTimeout));
        assert_eq!(summary(&expiring.reply(POLL, Ok(expired)))[2], "done error CONNECT_TIMEOUT");

        let mut flaky = Connect::new(config(true), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        flaky.start();
        flaky.reply(START, Ok(started()));
        assert_eq!(
            summary(&flaky.reply(POLL, Err(SdkError::network("x")))),
            ["send 4 GET /v1/connect-attempts/att_1?wait=25"]
        );
        assert_eq!(
            summary(&flaky.reply(POLL, Err(SdkError::network("x")))),
            ["send 4 GET /v1/connect-attempts/att_1?wait=25"]
        );
        assert_eq!(summary(&flaky.reply(POLL, Err(SdkError::network("x"))))[2], "done error NETWORK");
    }

    #[test]
    fn redirect_mode_leaves_for_the_provider_with_a_return_url() {
        let mut flow = Connect::new(config(false), "crm".into(), wire(&app(AuthType::Oauth2)), None);
        assert_eq!(
            summary(&flow.start()),
            [r#"send 2 POST /v1/apps/crm/connect {"fields":{},"returnTo":"https://app.example/settings"}"#]
        );
        assert_eq!(
            summary(&flow.reply(START, Ok(started()))),
            ["remember crm att_1", "go https://idp/auth?state=s"]
        );
    }

    #[test]
    fn unlisted_apps_are_looked_up_first() {
        let mut flow = Connect::new(config(true), "crm".into(), Json::Null, None);
        assert_eq!(summary(&flow.start()), ["send 1 GET /v1/apps/crm"]);
        assert_eq!(summary(&flow.reply(DETAIL, Ok(detail(AuthType::Oauth2))))[0], "popup about:blank");
        let mut missing = Connect::new(config(true), "nope".into(), Json::Null, None);
        missing.start();
        let not_found = SdkError::new(ErrorCode::AppNotFound, "no");
        assert_eq!(summary(&missing.reply(DETAIL, Err(not_found))), ["done error APP_NOT_FOUND"]);
    }
}
