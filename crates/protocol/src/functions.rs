//! Functions: catalog actions a user's connected account can run.

use serde::{Deserialize, Serialize};

/// A function in an app's detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FunctionSummary {
    /// Global name (`<app>-<action>`).
    pub name: String,
    /// Human title.
    pub title: String,
}

/// `GET /v1/functions/{name}`. `S` is the JSON-Schema representation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec<S> {
    /// Global name (`<app>-<action>`).
    pub name: String,
    /// Catalog id of the app.
    pub app_id: String,
    /// Human title.
    pub title: String,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub description: Option<String>,
    /// JSON Schema of the arguments object.
    pub parameters: S,
    /// Whether the function returns a `nextCursor` to page with.
    #[serde(default)]
    pub paginated: bool,
}

/// `POST /v1/functions/{name}/invoke`. `A` is the arguments object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvokeRequest<A> {
    /// Arguments, validated against the function's parameters.
    pub args: A,
    /// Which account to act on; optional while the user has exactly one.
    #[serde(default, alias = "connectedAccountID", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub connected_account_id: Option<String>,
    /// Cursor from a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub cursor: Option<String>,
}

/// The result of an invoke. `O` is the output JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvokeResponse<O> {
    /// The upstream HTTP status.
    pub status: u16,
    /// The (mapped) upstream response body.
    pub output: O,
    /// Cursor for the next page, when there is one.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}
