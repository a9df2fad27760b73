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

async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(app_id): ApiPath<String>,
) -> ApiResult<Json<AccountList>> {
    let app = state.catalog.find_app(&app_id)?;
    let accounts = state.store.accounts(&session.owner, Some(&app.id)).await?;
    Ok(Json(AccountList { accounts: accounts.into_iter().map(to_wire).collect() }))
}

async fn disconnect(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    accounts::disconnect(&state, &session.owner, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
