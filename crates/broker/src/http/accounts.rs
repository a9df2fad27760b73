//! Listing and disconnecting the session user's accounts.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use patchbay_protocol::{AccountList, ConnectedAccount};

use super::apps::{account_not_found, find_app};
use super::auth::Session;
use crate::error::ApiResult;
use crate::ids::rfc3339;
use crate::state::AppState;
use crate::store::AccountRecord;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/apps/{app}/accounts", get(list))
        .route("/v1/accounts/{id}", delete(disconnect))
}

/// The browser-safe view of a stored account (no credentials).
pub fn to_wire(account: AccountRecord) -> ConnectedAccount {
    ConnectedAccount {
        id: account.id,
        app_id: account.app_id,
        display_name: account.display_name,
        status: account.status,
        created_at: rfc3339(account.created_at),
        updated_at: rfc3339(account.updated_at),
    }
}

async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(app_id): Path<String>,
) -> ApiResult<Json<AccountList>> {
    let app = find_app(&state, &app_id)?;
    let accounts = state.store.accounts(&session.owner, Some(&app.id)).await?;
    Ok(Json(AccountList {
        accounts: accounts.into_iter().map(to_wire).collect(),
    }))
}

async fn disconnect(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !state.store.delete_account(&session.owner, &id).await? {
        return Err(account_not_found());
    }
    tracing::info!(account = %id, "account disconnected");
    Ok(StatusCode::NO_CONTENT)
}
