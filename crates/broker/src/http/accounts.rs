//! Listing and disconnecting the session user's accounts.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use patchbay_protocol::AccountList;

use super::auth::Session;
use super::ApiPath;
use crate::accounts::{self, to_wire};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/apps/{app}/accounts", get(list)).route("/v1/accounts/{id}", delete(disconnect))
}

/// The session user's accounts for the app (never their secrets).
#[utoipa::path(get, path = "/v1/apps/{app}/accounts", tag = "sdk", operation_id = "listAccounts",
    security(("sessionToken" = [])), params(("app" = String, Path, description = "Catalog id of the app (`hubspot`)")),
    responses((status = 200, description = "Oldest first", body = AccountList)))]
async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(app_id): ApiPath<String>,
) -> ApiResult<Json<AccountList>> {
    let app = state.catalog.find_app(&app_id)?;
    let accounts = state.store.accounts(&session.owner, Some(&app.id)).await?;
    Ok(Json(AccountList { accounts: accounts.into_iter().map(to_wire).collect() }))
}

/// Disconnects the account (revoking the grant upstream when the app can).
#[utoipa::path(delete, path = "/v1/accounts/{id}", tag = "sdk", operation_id = "disconnectAccount",
    security(("sessionToken" = [])), params(("id" = String, Path, description = "Account id (`ca_…`)")),
    responses((status = 204, description = "Disconnected")))]
async fn disconnect(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    accounts::disconnect(&state, &session.owner, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
