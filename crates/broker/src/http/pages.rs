//! The HTML the broker serves (the admin console, the OAuth callback page, the step log), as maud
//! templates: every interpolated value is escaped by the template, so no page builds HTML by hand.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use patchbay_protocol::{AccountsPolicy, CallbackMessage};
use serde_json::Value;

use crate::admin::{AdminApp, AdminOAuth, TestResult};
use crate::oauth::steps::StepStatus;
use crate::store::Delivery;
use crate::webhooks::EndpointView;

/// The console's styles, sent under a nonce (its CSP allows no other style).
const CONSOLE_CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;color:#1f2328;background:#f6f8fa;margin:0}\
main{max-width:56rem;margin:2rem auto;background:#fff;padding:2rem;border-radius:8px;border:1px solid #d0d7de}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.5rem;border-bottom:1px solid #d0d7de}\
label{display:block;font-weight:600;margin-top:.75rem}input,select{font:inherit;padding:.35rem;min-width:18rem}\
button{font:inherit;padding:.4rem .9rem;margin-top:.75rem;border-radius:6px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;cursor:pointer}\
button[disabled]{background:#8c959f;border-color:#8c959f;cursor:not-allowed}.inline{display:inline}\
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.note{color:#57606a}\
pre{background:#f6f8fa;padding:.75rem;overflow:auto;border-radius:6px}code{background:#f6f8fa;padding:.1rem .3rem}\
.flash{padding:.6rem 1rem;border-radius:6px;background:#ddf4ff;border:1px solid #54aeff}";

const CALLBACK_CSS: &str =
    "body{font:16px/1.5 system-ui,sans-serif;margin:3rem auto;max-width:30rem;text-align:center;color:#1f2328}";

/// Reads the result from the JSON element and posts it to the opener at the exact origin.
const CALLBACK_SCRIPT: &str = "(function(){var d=JSON.parse(document.getElementById(\"patchbay-result\").textContent);\
if(window.opener&&d.origin){try{window.opener.postMessage(d.message,d.origin);}catch(e){}}window.close();})();";

/// A console page around `body`.
pub fn console(nonce: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { (title) " · Patchbay admin" }
                style nonce=(nonce) { (PreEscaped(CONSOLE_CSS)) }
            }
            body { main { (body) } }
        }
    }
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// The sign-in form, with an optional message.
pub fn sign_in(message: Option<&str>) -> Markup {
    html! {
        h1 { "Patchbay admin" }
        @if let Some(message) = message { p.flash role="alert" { (message) } }
        form method="post" action="/admin/sign-in" {
            label for="secret" { "Workspace secret key" }
            input #secret name="secretKey" type="password" autocomplete="off" required;
            div { button type="submit" { "Sign in" } }
        }
    }
}

/// Every app with its visibility and policy form.
pub fn home(apps: &[AdminApp], csrf: &str) -> Markup {
    html! {
        p { a href="/admin/webhooks" { "Webhooks →" } }
        h1 { "Apps" }
        p.note { "Choose what your users see in the marketplace and how many accounts they may connect." }
        table {
            thead { tr {
                th scope="col" { "App" } th scope="col" { "Marketplace" }
                th scope="col" { "Users can connect" } th scope="col" {}
            } }
            tbody {
                @for app in apps {
                    tr {
                        td { (app.name) }
                        td colspan="2" {
                            form.inline method="post" action={ "/admin/apps/" (app.id) "/settings" } {
                                (csrf_field(csrf))
                                label.inline { input type="checkbox" name="visible" value="1" checked[!app.hidden]; " Shown" }
                                " "
                                select name="policy" aria-label={ "Users can connect (" (app.name) ")" } {
                                    option value="one" selected[app.accounts_policy == AccountsPolicy::One] { "One account" }
                                    option value="multiple" selected[app.accounts_policy == AccountsPolicy::Multiple] { "Multiple accounts" }
                                }
                                " "
                                button type="submit" { "Save" }
                            }
                        }
                        td {
                            @match &app.oauth {
                                Some(oauth) if oauth.needs_client => {
                                    strong { "Needs a client:" } " "
                                    a href={ "/admin/apps/" (app.id) } { "set up an OAuth client" }
                                }
                                Some(_) => { a href={ "/admin/apps/" (app.id) } { "OAuth client" } }
                                None => {}
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/admin/sign-out" { (csrf_field(csrf)) button type="submit" { "Sign out" } }
    }
}

/// What the app page says after a redirect (`?saved`, `?enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flash {
    /// Nothing to say.
    None,
    /// The client was saved.
    Saved,
    /// The client was enabled.
    Enabled,
}

/// An OAuth app's own-client page: set, test, enable.
pub fn oauth_client(app: &AdminApp, oauth: &AdminOAuth, flash: Flash, csrf: &str) -> Markup {
    let own = oauth.own_client.as_ref();
    let scopes = own.map_or(oauth.default_scopes.join(" "), |c| c.scopes.join(" "));
    let can_enable = own.is_some_and(|c| c.tested && !c.enabled);
    html! {
        p { a href="/admin" { "← Apps" } }
        h1 { (app.name) ": OAuth client" }
        @match flash {
            Flash::Saved => p.flash role="status" { "Saved. Run a test before enabling these settings." },
            Flash::Enabled => p.flash role="status" { "Enabled: new connections now use your client." },
            Flash::None => {},
        }
        p.note {
            @match (&oauth.default_client_id, oauth.requires_own_client) {
                (_, true) => "This app can only be connected with your own client.",
                (Some(client), false) => { "Default client: " code { (client) } },
                (None, false) => "No default client is configured on this broker.",
            }
        }
        label for="redirect" { "Redirect URL to register at the provider" }
        input #redirect readonly value=(oauth.redirect_uri);
        h2 { "Your own client" }
        @match own {
            Some(c) if c.enabled => p.ok { "✓ Enabled: new connections use your client." },
            Some(c) if c.tested => p.ok { "✓ Tested. Enable it to use it for new connections." },
            Some(_) => p.bad { "Not tested yet." },
            None => p.note { "No own client yet: connections use the default client." },
        }
        form method="post" action={ "/admin/apps/" (app.id) "/client" } {
            (csrf_field(csrf))
            label for="clientId" { "Client ID" }
            input #clientId name="clientId" required value=(own.map_or("", |c| c.client_id.as_str()));
            label for="clientSecret" { "Client secret" }
            input #clientSecret name="clientSecret" type="password" autocomplete="off"
                placeholder=(if own.is_some() { "leave blank to keep the saved secret" } else { "" });
            label for="scopes" { "Scopes (space-separated)" }
            input #scopes name="scopes" value=(scopes);
            div { button type="submit" { "Save" } }
        }
        form.inline method="post" action={ "/admin/apps/" (app.id) "/test" } {
            (csrf_field(csrf)) button type="submit" disabled[own.is_none()] { "Test" }
        }
        " "
        form.inline method="post" action={ "/admin/apps/" (app.id) "/enable" } {
            (csrf_field(csrf)) button type="submit" disabled[!can_enable] { "Enable" }
        }
    }
}

fn pretty(value: &Option<Value>) -> Markup {
    html! {
        @if let Some(text) = value.as_ref().and_then(|v| serde_json::to_string_pretty(v).ok()) { pre { (text) } }
    }
}

/// A client test's step log.
pub fn test_result(app_id: &str, result: &TestResult, csrf: &str) -> Markup {
    html! {
        p { a href={ "/admin/apps/" (app_id) } { "← Back" } }
        h1 { "Test result" }
        @match result.status {
            "passed" => p.ok #verdict { "✓ Test passed. You can enable these settings." },
            "failed" => p.bad #verdict { "✗ Test failed. See the failing step below." },
            _ => p.note #verdict { "The test has not finished." },
        }
        @if result.status == "passed" {
            form method="post" action={ "/admin/apps/" (app_id) "/enable" } {
                (csrf_field(csrf)) button type="submit" { "Enable" }
            }
        }
        ol {
            @for step in &result.steps.steps {
                li data-step=(step.name) {
                    h3 {
                        @match step.status {
                            StepStatus::Ok => span.ok { "✓" },
                            StepStatus::Failed => span.bad { "✗" },
                        }
                        " " (step.title)
                        @if let Some(status) = step.http_status { " " span.note { "HTTP " (status) } }
                    }
                    @if let Some(explanation) = &step.explanation { p.flash { (explanation) } }
                    @if step.request.is_some() { h4 { "Request" } (pretty(&step.request)) }
                    @if step.response.is_some() { h4 { "Response" } (pretty(&step.response)) }
                }
            }
        }
    }
}

/// What the webhooks page shows.
pub struct WebhooksPage<'a> {
    /// The endpoint, if one is set.
    pub endpoint: Option<&'a EndpointView>,
    /// A secret just created, shown this once.
    pub new_secret: Option<&'a str>,
    /// What the last form did.
    pub notice: Option<&'a str>,
    /// The delivery log, newest first.
    pub deliveries: &'a [Delivery],
    /// The session's CSRF token.
    pub csrf: &'a str,
}

/// A Unix time as `2026-11-29T02:10:00Z`.
fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// The webhook endpoint and secret, rotation, a test event and the delivery log.
pub fn webhooks(p: &WebhooksPage<'_>) -> Markup {
    html! {
        p { a href="/admin" { "← Apps" } }
        h1 { "Webhooks" }
        p.note {
            "Account events (connected, reconnected, needs re-authorisation, refresh failed, disconnected) \
             are POSTed to your endpoint, signed per Standard Webhooks. Verify them with the "
            code { "standardwebhooks" } " library and this secret."
        }
        @if let Some(notice) = p.notice { p.flash role="status" { (notice) } }
        @if let Some(secret) = p.new_secret {
            label for="secret" { "Signing secret (shown once: copy it now)" }
            input #secret readonly value=(secret);
        }
        form method="post" action="/admin/webhooks/endpoint" {
            (csrf_field(p.csrf))
            label for="url" { "Endpoint URL" }
            input #url name="url" type="url" required value=(p.endpoint.map_or("", |e| e.url.as_str()));
            div { button type="submit" { "Save endpoint" } }
        }
        @if let Some(endpoint) = p.endpoint {
            h2 { "Secret" }
            @if let Some(until) = endpoint.previous_secret_valid_until {
                p.note { "The previous secret also signs until " (when(until)) "." }
            }
            form method="post" action="/admin/webhooks/rotate" {
                (csrf_field(p.csrf))
                label for="overlap" { "Keep the old secret signing for" }
                select #overlap name="overlap" {
                    option value="86400" { "24 hours" }
                    option value="3600" { "1 hour" }
                    option value="0" { "no overlap" }
                }
                div { button type="submit" { "Rotate secret" } }
            }
            h2 { "Deliveries" }
            form method="post" action="/admin/webhooks/test" {
                (csrf_field(p.csrf)) button type="submit" { "Send test event" }
            }
            @if p.deliveries.is_empty() {
                p.note { "No events yet." }
            } @else {
                table #deliveries {
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "Attempts" }
                        th scope="col" { "Next retry" } th scope="col" { "Last response" }
                    } }
                    tbody {
                        @for d in p.deliveries {
                            tr data-webhook-id=(d.id) {
                                td { (d.event_type) br; span.note { code { (d.id) } " " (when(d.created_at)) } }
                                td {
                                    @if d.delivered_at.is_some() { span.ok { "delivered" } }
                                    @else if d.failed_at.is_some() { span.bad { "given up" } }
                                    @else { "pending" }
                                }
                                td { (d.attempts) }
                                td { @if let Some(next) = d.next_attempt_at { (when(next)) } }
                                td {
                                    @if let Some(status) = d.last_status { "HTTP " (status) }
                                    @if let Some(error) = &d.last_error { " " (error) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An error page's body.
pub fn error(message: &str) -> Markup {
    html! {
        h1 { "Something went wrong" }
        p { (message) }
        p { a href="/admin" { "Back" } }
    }
}

/// The body of the 403 answer to a forged form.
pub fn forbidden() -> Markup {
    html! { p { "This form was not sent from the console. Reload the page and try again." } }
}

/// The OAuth popup's last page: a title and a line, and, when there is a result, a script that
/// posts it to the opener (only at `origin`) and closes the window.
pub fn callback(
    nonce: &str,
    title: &str,
    text: &str,
    result: Option<(Option<&str>, &CallbackMessage)>,
) -> Markup {
    // In a script element the browser decodes no entities, so the JSON is escaped as JSON instead:
    // `<`, `>` and `&` as \u escapes, which also keeps it from closing the element.
    let data = result.map(|(origin, message)| {
        serde_json::json!({ "origin": origin, "message": message })
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    });
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { (title) }
                style nonce=(nonce) { (PreEscaped(CALLBACK_CSS)) }
            }
            body {
                h1 { (title) }
                p { (text) }
                @if let Some(data) = data {
                    script type="application/json" #patchbay-result { (PreEscaped(data)) }
                    script nonce=(nonce) { (PreEscaped(CALLBACK_SCRIPT)) }
                }
            }
        }
    }
}
