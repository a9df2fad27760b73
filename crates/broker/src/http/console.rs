//! The admin console: server-rendered pages for the workspace admin. Sign-in takes the workspace
//! secret key and sets an HttpOnly, SameSite=Lax session cookie (its id is stored hashed); every
//! form carries a per-session CSRF token, and every POST must come from the broker's own origin.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use patchbay_protocol::{AccountsPolicy, AuthType};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::html::escape_html as esc;
use super::{ApiPath, ApiQuery};
use crate::admin::{self, AdminApp};
use crate::error::ApiError;
use crate::ids::{now_unix, random_token};
use crate::oauth::steps::StepStatus;
use crate::state::AppState;
use crate::workspaces::secret_key_hash;

const SESSION_COOKIE: &str = "pb_admin";
const SESSION_SECONDS: i64 = 3600;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/sign-in", post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        .route("/admin/apps/{app}", get(app_page))
        .route("/admin/apps/{app}/settings", post(save_settings))
        .route("/admin/apps/{app}/client", post(save_client))
        .route("/admin/apps/{app}/test", post(start_test))
        .route("/admin/apps/{app}/enable", post(enable))
        .route("/admin/apps/{app}/tests/{id}", get(test_page))
}

struct Signed {
    workspace_id: String,
    csrf: String,
    id_hash: [u8; 32],
}

async fn signed(state: &AppState, headers: &HeaderMap) -> Option<Signed> {
    let jar = CookieJar::from_headers(headers);
    let id_hash: [u8; 32] = Sha256::digest(jar.get(SESSION_COOKIE)?.value().as_bytes()).into();
    let (workspace_id, csrf) = state.store.admin_session(&id_hash, now_unix()).await.ok()??;
    Some(Signed { workspace_id, csrf, id_hash })
}

/// The session cookie with every attribute it is set with; signing out removes it with the same
/// ones (a removal without `Secure` or with another path would not match the cookie it ends).
fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.public_url().scheme() == "https")
        .max_age(time::Duration::seconds(SESSION_SECONDS))
        .build()
}

/// A POST must come from the console itself: the browser's Origin must be the broker's. Current
/// browsers send Origin on every POST, so a POST without one did not come from the console's own
/// pages and is refused too.
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let own = state.config.public_url().origin().ascii_serialization();
    headers.get(ORIGIN).is_some_and(|origin| origin.as_bytes() == own.as_bytes())
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        page("Forbidden", "<p>This form was not sent from the console. Reload the page and try again.</p>"),
    )
        .into_response()
}

/// A form POST from the signed-in admin whose CSRF token and origin check out. Every console form
/// handler takes this, so none can skip the checks.
struct AdminForm {
    session: Signed,
    fields: HashMap<String, String>,
}

impl FromRequest<Arc<AppState>> for AdminForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let Some(session) = signed(state, &headers).await else { return Err(redirect("/admin")) };
        let Form(fields) = Form::<HashMap<String, String>>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token_ok =
            fields.get("csrf").is_some_and(|t| bool::from(t.as_bytes().ct_eq(session.csrf.as_bytes())));
        if !token_ok || !same_origin(state, &headers) {
            return Err(forbidden());
        }
        Ok(AdminForm { session, fields })
    }
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response()
}

fn page(title: &str, body: &str) -> Response {
    let nonce = random_token(16);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · Patchbay admin</title><style nonce=\"{nonce}\">{CSS}</style></head><body><main>{body}</main></body></html>",
        title = esc(title),
    );
    let csp =
        format!("default-src 'none'; style-src 'nonce-{nonce}'; base-uri 'none'; frame-ancestors 'none'");
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (CONTENT_SECURITY_POLICY, csp),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        html,
    )
        .into_response()
}

const CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;color:#1f2328;background:#f6f8fa;margin:0}\
main{max-width:56rem;margin:2rem auto;background:#fff;padding:2rem;border-radius:8px;border:1px solid #d0d7de}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.5rem;border-bottom:1px solid #d0d7de}\
label{display:block;font-weight:600;margin-top:.75rem}input,select{font:inherit;padding:.35rem;min-width:18rem}\
button{font:inherit;padding:.4rem .9rem;margin-top:.75rem;border-radius:6px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;cursor:pointer}\
button[disabled]{background:#8c959f;border-color:#8c959f;cursor:not-allowed}.inline{display:inline}\
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.note{color:#57606a}\
pre{background:#f6f8fa;padding:.75rem;overflow:auto;border-radius:6px}code{background:#f6f8fa;padding:.1rem .3rem}\
.flash{padding:.6rem 1rem;border-radius:6px;background:#ddf4ff;border:1px solid #54aeff}";

fn csrf_field(csrf: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(csrf))
}

fn sign_in_page(message: Option<&str>) -> Response {
    let flash =
        message.map(|m| format!("<p class=\"flash\" role=\"alert\">{}</p>", esc(m))).unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "<h1>Patchbay admin</h1>{flash}<form method=\"post\" action=\"/admin/sign-in\">\
             <label for=\"secret\">Workspace secret key</label>\
             <input id=\"secret\" name=\"secretKey\" type=\"password\" autocomplete=\"off\" required>\
             <div><button type=\"submit\">Sign in</button></div></form>"
        ),
    )
}

async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(session) = signed(&state, &headers).await else { return sign_in_page(None) };
    let apps = match admin::list(&state, &session.workspace_id).await {
        Ok(apps) => apps,
        Err(err) => return error_page(err),
    };
    let rows: String = apps.iter().map(|app| app_row(app, &session.csrf)).collect();
    page(
        "Apps",
        &format!(
            "<h1>Apps</h1><p class=\"note\">Choose what your users see in the marketplace and how many accounts they may connect.</p>\
             <table><thead><tr><th scope=\"col\">App</th><th scope=\"col\">Marketplace</th><th scope=\"col\">Users can connect</th>\
             <th scope=\"col\"></th></tr></thead><tbody>{rows}</tbody></table>\
             <form method=\"post\" action=\"/admin/sign-out\">{}<button type=\"submit\">Sign out</button></form>",
            csrf_field(&session.csrf)
        ),
    )
}

fn app_row(app: &AdminApp, csrf: &str) -> String {
    let id = esc(&app.id);
    let selected = |p: AccountsPolicy| if app.accounts_policy == p { " selected" } else { "" };
    let oauth_link = if app.auth_type == AuthType::Oauth2 {
        format!("<a href=\"/admin/apps/{id}\">OAuth client</a>")
    } else {
        String::new()
    };
    format!(
        "<tr><td>{name}</td><td colspan=\"2\"><form method=\"post\" action=\"/admin/apps/{id}/settings\" class=\"inline\">{csrf}\
         <label class=\"inline\"><input type=\"checkbox\" name=\"visible\" value=\"1\"{checked}> Shown</label> \
         <select name=\"policy\" aria-label=\"Users can connect ({name})\"><option value=\"one\"{one}>One account</option>\
         <option value=\"multiple\"{multiple}>Multiple accounts</option></select> <button type=\"submit\">Save</button></form></td>\
         <td>{oauth_link}</td></tr>",
        name = esc(&app.name),
        csrf = csrf_field(csrf),
        checked = if app.hidden { "" } else { " checked" },
        one = selected(AccountsPolicy::One),
        multiple = selected(AccountsPolicy::Multiple),
    )
}

fn error_page(err: ApiError) -> Response {
    (
        err.status(),
        page(
            "Error",
            &format!(
                "<h1>Something went wrong</h1><p>{}</p><p><a href=\"/admin\">Back</a></p>",
                esc(&err.message)
            ),
        ),
    )
        .into_response()
}

async fn sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !same_origin(&state, &headers) {
        return forbidden();
    }
    let key = form.get("secretKey").map(|k| k.trim()).unwrap_or_default();
    let workspace = match state.store.workspace_by_secret_hash(&secret_key_hash(key)).await {
        Ok(Some(ws)) if key.starts_with("pb_sk_") => ws,
        Ok(_) => {
            return (StatusCode::UNAUTHORIZED, sign_in_page(Some("That secret key is not valid.")))
                .into_response()
        }
        Err(err) => return error_page(err.into()),
    };
    let id = random_token(32);
    let id_hash: [u8; 32] = Sha256::digest(id.as_bytes()).into();
    if let Err(err) = state
        .store
        .create_admin_session(&id_hash, &workspace.id, &random_token(32), now_unix() + SESSION_SECONDS)
        .await
    {
        return error_page(err.into());
    }
    (CookieJar::new().add(session_cookie(&state, id)), redirect("/admin")).into_response()
}

async fn sign_out(
    State(state): State<Arc<AppState>>,
    jar: CookieJar,
    AdminForm { session, .. }: AdminForm,
) -> Response {
    let _ = state.store.delete_admin_session(&session.id_hash).await;
    // The jar holds the request's cookie, so removing it answers with a removal cookie.
    (jar.remove(session_cookie(&state, String::new())), redirect("/admin")).into_response()
}

async fn save_settings(
    State(state): State<Arc<AppState>>,
    ApiPath(app): ApiPath<String>,
    AdminForm { session, fields: form }: AdminForm,
) -> Response {
    let policy = match form.get("policy").map(String::as_str) {
        Some("multiple") => AccountsPolicy::Multiple,
        _ => AccountsPolicy::One,
    };
    let hidden = !form.contains_key("visible");
    match admin::set_visibility(&state, &session.workspace_id, &app, hidden, Some(policy)).await {
        Ok(_) => redirect("/admin"),
        Err(err) => error_page(err),
    }
}

async fn save_client(
    State(state): State<Arc<AppState>>,
    ApiPath(app): ApiPath<String>,
    AdminForm { session, fields: form }: AdminForm,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let scopes: Vec<String> = field("scopes").split_whitespace().map(str::to_owned).collect();
    match admin::set_own_client(
        &state,
        &session.workspace_id,
        &app,
        field("clientId"),
        field("clientSecret"),
        &scopes,
    )
    .await
    {
        Ok(_) => redirect(&format!("/admin/apps/{app}?saved=1")),
        Err(err) => error_page(err),
    }
}

async fn start_test(
    State(state): State<Arc<AppState>>,
    ApiPath(app): ApiPath<String>,
    AdminForm { session, .. }: AdminForm,
) -> Response {
    match admin::start_test(&state, &session.workspace_id, &app).await {
        Ok((_, authorize_url)) => redirect(&authorize_url),
        Err(err) => error_page(err),
    }
}

async fn enable(
    State(state): State<Arc<AppState>>,
    ApiPath(app): ApiPath<String>,
    AdminForm { session, .. }: AdminForm,
) -> Response {
    match admin::enable(&state, &session.workspace_id, &app).await {
        Ok(_) => redirect(&format!("/admin/apps/{app}?enabled=1")),
        Err(err) => error_page(err),
    }
}

async fn app_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(app_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> Response {
    let Some(session) = signed(&state, &headers).await else { return redirect("/admin") };
    let app = match admin::app(&state, &session.workspace_id, &app_id).await {
        Ok(app) => app,
        Err(err) => return error_page(err),
    };
    let Some(oauth) = &app.oauth else { return redirect("/admin") };
    let id = esc(&app.id);
    let csrf = csrf_field(&session.csrf);
    let flash = if query.contains_key("saved") {
        "<p class=\"flash\" role=\"status\">Saved. Run a test before enabling these settings.</p>"
    } else if query.contains_key("enabled") {
        "<p class=\"flash\" role=\"status\">Enabled: new connections now use your client.</p>"
    } else {
        ""
    };
    let own = oauth.own_client.as_ref();
    let status = match own {
        Some(c) if c.enabled => "<p class=\"ok\">✓ Enabled: new connections use your client.</p>",
        Some(c) if c.tested => "<p class=\"ok\">✓ Tested. Enable it to use it for new connections.</p>",
        Some(_) => "<p class=\"bad\">Not tested yet.</p>",
        None => "<p class=\"note\">No own client yet: connections use the default client.</p>",
    };
    let default = match (&oauth.default_client_id, oauth.requires_own_client) {
        (_, true) => "This app can only be connected with your own client.".to_owned(),
        (Some(client), false) => format!("Default client: <code>{}</code>", esc(client)),
        (None, false) => "No default client is configured on this broker.".to_owned(),
    };
    let scopes = own.map_or(oauth.default_scopes.join(" "), |c| c.scopes.join(" "));
    let can_enable = own.is_some_and(|c| c.tested && !c.enabled);
    let body = format!(
        "<p><a href=\"/admin\">← Apps</a></p><h1>{name}: OAuth client</h1>{flash}<p class=\"note\">{default}</p>\
         <label for=\"redirect\">Redirect URL to register at the provider</label>\
         <input id=\"redirect\" readonly value=\"{redirect}\">\
         <h2>Your own client</h2>{status}\
         <form method=\"post\" action=\"/admin/apps/{id}/client\">{csrf}\
         <label for=\"clientId\">Client ID</label><input id=\"clientId\" name=\"clientId\" required value=\"{client_id}\">\
         <label for=\"clientSecret\">Client secret</label><input id=\"clientSecret\" name=\"clientSecret\" type=\"password\" \
         autocomplete=\"off\" placeholder=\"{secret_hint}\">\
         <label for=\"scopes\">Scopes (space-separated)</label><input id=\"scopes\" name=\"scopes\" value=\"{scopes}\">\
         <div><button type=\"submit\">Save</button></div></form>\
         <form method=\"post\" action=\"/admin/apps/{id}/test\" class=\"inline\">{csrf}<button type=\"submit\"{test_disabled}>Test</button></form> \
         <form method=\"post\" action=\"/admin/apps/{id}/enable\" class=\"inline\">{csrf}<button type=\"submit\"{enable_disabled}>Enable</button></form>",
        name = esc(&app.name),
        redirect = esc(&oauth.redirect_uri),
        client_id = esc(own.map_or("", |c| c.client_id.as_str())),
        secret_hint = if own.is_some() { "leave blank to keep the saved secret" } else { "" },
        scopes = esc(&scopes),
        test_disabled = if own.is_some() { "" } else { " disabled" },
        enable_disabled = if can_enable { "" } else { " disabled" },
    );
    page(&app.name, &body)
}

fn pretty(value: &Option<Value>) -> String {
    value
        .as_ref()
        .and_then(|v| serde_json::to_string_pretty(v).ok())
        .map(|s| format!("<pre>{}</pre>", esc(&s)))
        .unwrap_or_default()
}

async fn test_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath((app_id, test_id)): ApiPath<(String, String)>,
) -> Response {
    let Some(session) = signed(&state, &headers).await else { return redirect("/admin") };
    let result = match admin::test_result(&state, &session.workspace_id, &test_id).await {
        Ok(result) if result.app_id == app_id => result,
        Ok(_) => return error_page(ApiError::new(patchbay_protocol::ErrorCode::NotFound, "no such test")),
        Err(err) => return error_page(err),
    };
    let steps: String = result
        .steps
        .steps
        .iter()
        .map(|step| {
            let mark = match step.status {
                StepStatus::Ok => "<span class=\"ok\">✓</span>",
                StepStatus::Failed => "<span class=\"bad\">✗</span>",
            };
            let http = step
                .http_status
                .map(|s| format!(" <span class=\"note\">HTTP {s}</span>"))
                .unwrap_or_default();
            let explanation = step
                .explanation
                .as_ref()
                .map(|e| format!("<p class=\"flash\">{}</p>", esc(e)))
                .unwrap_or_default();
            format!(
                "<li data-step=\"{name}\"><h3>{mark} {title}{http}</h3>{explanation}{request}{response}</li>",
                name = esc(&step.name),
                title = esc(&step.title),
                request = if step.request.is_some() {
                    format!("<h4>Request</h4>{}", pretty(&step.request))
                } else {
                    String::new()
                },
                response = if step.response.is_some() {
                    format!("<h4>Response</h4>{}", pretty(&step.response))
                } else {
                    String::new()
                },
            )
        })
        .collect();
    let verdict = match result.status {
        "passed" => "<p class=\"ok\" id=\"verdict\">✓ Test passed. You can enable these settings.</p>",
        "failed" => "<p class=\"bad\" id=\"verdict\">✗ Test failed. See the failing step below.</p>",
        _ => "<p class=\"note\" id=\"verdict\">The test has not finished.</p>",
    };
    let enable = if result.status == "passed" {
        format!(
            "<form method=\"post\" action=\"/admin/apps/{id}/enable\">{csrf}<button type=\"submit\">Enable</button></form>",
            id = esc(&app_id),
            csrf = csrf_field(&session.csrf)
        )
    } else {
        String::new()
    };
    page(
        "Test result",
        &format!("<p><a href=\"/admin/apps/{id}\">← Back</a></p><h1>Test result</h1>{verdict}{enable}<ol>{steps}</ol>", id = esc(&app_id)),
    )
}
