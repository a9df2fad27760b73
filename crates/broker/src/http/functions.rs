//! Function specs and `invokeFunction`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use patchbay_protocol::{FunctionSpec, InvokeRequest, InvokeResponse};
use serde_json::Value;

use super::auth::Session;
use super::ApiJson;
use super::ApiPath;
use crate::error::ApiResult;
use crate::invoke::{invoke, Output};
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/v1/functions/{name}", get(spec)).route("/v1/functions/{name}/invoke", post(run))
}

/// The function's title, description and JSON-Schema parameters.
#[utoipa::path(get, path = "/v1/functions/{name}", tag = "sdk", operation_id = "getFunction",
    security(("sessionToken" = [])), params(("name" = String, Path, description = "Function name, `<app id>-<function key>`")),
    responses((status = 200, description = "The function", body = FunctionSpec<Value>)))]
async fn spec(
    State(state): State<Arc<AppState>>,
    _: Session,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<FunctionSpec<Value>>> {
    let (app, function) = state.catalog.find_function(&name)?;
    Ok(Json(FunctionSpec {
        name: function.name.clone(),
        app_id: app.id.clone(),
        title: function.title.clone(),
        description: function.description.clone(),
        parameters: function.parameters.clone(),
        paginated: function.pagination.is_some(),
    }))
}

/// Invokes the function on one of the user's accounts.
#[utoipa::path(post, path = "/v1/functions/{name}/invoke", tag = "sdk", operation_id = "invokeFunction",
    security(("sessionToken" = [])), params(("name" = String, Path, description = "Function name, `<app id>-<function key>`")), request_body = InvokeRequest<Value>,
    responses((status = 200, description = "The app's answer, mapped", body = InvokeResponse<Value>)))]
async fn run(
    State(state): State<Arc<AppState>>,
    session: Session,
    ApiPath(name): ApiPath<String>,
    ApiJson(request): ApiJson<InvokeRequest<Value>>,
) -> ApiResult<Json<InvokeResponse<Output>>> {
    invoke(&state, &session.owner, &name, request).await.map(Json)
}
