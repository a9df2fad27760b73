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
use maud::Markup;
use patchbay_protocol::AccountsPolicy;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::pages::{self, Flash};
use super::{ApiPath, ApiQuery};
use crate::admin;
use crate::error::ApiError;
use crate::ids::{now_unix, random_token};
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
        .merge(super::console_webhooks::router())
}

pub(super) struct Signed {
    pub(super) workspace_id: String,
    pub(super) csrf: String,
    id_hash: [u8; 32],
}

pub(super) async fn signed(state: &AppState, headers: &HeaderMap) -> Option<Signed> {
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
    (StatusCode::FORBIDDEN, page("Forbidden", pages::forbidden())).into_response()
}

/// A form POST from the signed-in admin whose CSRF token and origin check out. Every console form
/// handler takes this, so none can skip the checks.
pub(super) struct AdminForm {
    pub(super) session: Signed,
    pub(super) fields: HashMap<String, String>,
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

pub(super) fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response()
}

pub(super) fn page(title: &str, body: Markup) -> Response {
    let nonce = random_token(16);
    let html = pages::console(&nonce, title, body).into_string();
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

fn sign_in_page(message: Option<&str>) -> Response {
    page("Sign in", pages::sign_in(message))
}

/// The admin console (sign in with the workspace secret key). Its own pages and forms below
/// `/admin/` are the console's, not an API, and are left out of the document.
#[utoipa::path(get, path = "/admin", tag = "pages", operation_id = "adminConsole",
    responses((status = 200, description = "The console, or its sign-in page", content_type = "text/html")))]
async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(session) = signed(&state, &headers).await else { return sign_in_page(None) };
    let apps = match admin::list(&state, &session.workspace_id).await {
        Ok(apps) => apps,
        Err(err) => return error_page(err),
    };
    page("Apps", pages::home(&apps, &session.csrf))
}

pub(super) fn error_page(err: ApiError) -> Response {
    (err.status(), page("Error", pages::error(&err.message))).into_response()
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
    let flash = if query.contains_key("saved") {
        Flash::Saved
    } else if query.contains_key("enabled") {
        Flash::Enabled
    } else {
        Flash::None
    };
    page(&app.name, pages::oauth_client(&app, oauth, flash, &session.csrf))
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
    page("Test result", pages::test_result(&app_id, &result, &session.csrf))
}
