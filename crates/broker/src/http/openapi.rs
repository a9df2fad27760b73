//! `GET /openapi.json`: the OpenAPI 3.1 document of every public endpoint, generated from the
//! handlers' `#[utoipa::path]` annotations and the wire types' `ToSchema` derives. The console's
//! own pages and forms below `/admin/` are left out: they are the console, not an API.

use std::sync::{Arc, LazyLock};

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use patchbay_protocol::ErrorCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{accounts, admin, apps, assets, console, functions, health, metrics, oauth, proxy};
use super::{sessions, webhooks};
use crate::error::{status_of, Body as ErrorBody};
use crate::state::AppState;

/// The name of the error response every operation refers to.
const ERROR_RESPONSE: &str = "Error";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Patchbay broker",
        description = "Connect your users' third-party accounts and act on them. SDK-facing routes take a \
                       session token, backend-facing and admin routes the workspace secret key.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        apps::list, apps::detail, apps::connect, oauth::attempt_status, accounts::list,
        accounts::disconnect, functions::spec, functions::run, oauth::callback,
        sessions::create, admin::list, admin::one, admin::settings, admin::set_client, admin::test,
        admin::test_result, admin::enable, proxy::forward, webhooks::set, webhooks::rotate,
        webhooks::test, webhooks::deliveries, console::home, assets::embed, assets::asset,
        health::healthz, health::readyz, metrics::metrics, openapi,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security, &Errors, &OperationIds),
    tags(
        (name = "sdk", description = "Called by the SDK in the browser (session token)"),
        (name = "backend", description = "Called by the workspace's backend (secret key)"),
        (name = "admin", description = "Workspace administration (secret key)"),
        (name = "webhooks", description = "The workspace's webhook endpoint (secret key)"),
        (name = "proxy", description = "The backend proxy to an account's app (secret key)"),
        (name = "pages", description = "Pages and files for browsers"),
        (name = "operations", description = "For the operator: health, readiness, metrics, this document"),
    ),
)]
struct ApiDoc;

/// The bearer schemes the broker accepts (see `auth.rs` and `metrics.rs`).
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = |format: &str, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "sessionToken",
            bearer("session token", "Minted by the workspace's backend with `POST /v1/sessions`; valid on its allowed origins only"),
        );
        components.add_security_scheme(
            "secretKey",
            bearer(
                "pb_sk_…",
                "The workspace secret key (`patchbay-broker workspace create` prints it); never in a browser",
            ),
        );
        components.add_security_scheme(
            "metricsToken",
            bearer("token", "`PATCHBAY_METRICS_TOKEN`, when the operator set one"),
        );
    }
}

/// The error body as every operation's `default` response, with each code and its status.
struct Errors;

impl Modify for Errors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let codes: Vec<String> =
            ErrorCode::ALL.iter().map(|code| format!("`{code}` {}", status_of(*code).as_u16())).collect();
        let description = format!(
            "An error in the broker's format, with the status of its code: {}. The codes whose \
             description says \"SDK only\" are raised by the SDK itself, never sent by the broker.",
            codes.join(", ")
        );
        let body = RefOr::Ref(Ref::from_schema_name(<ErrorBody as utoipa::ToSchema>::name()));
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(body)).build())
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.responses.insert(ERROR_RESPONSE.to_owned(), RefOr::T(response));
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                operation
                    .responses
                    .responses
                    .entry("default".to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(ERROR_RESPONSE)));
            }
        }
    }
}

/// One operation id per operation: a handler serving several methods (the proxy) gets the method
/// appended (`proxyGet`), so generated clients have a function for each.
struct OperationIds;

impl Modify for OperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            if operations(item).count() < 2 {
                continue;
            }
            for (method, slot) in METHODS.iter().zip(slots(item)) {
                if let Some(operation) = slot {
                    let (first, rest) = method.split_at(1);
                    let id = operation.operation_id.get_or_insert_with(String::new);
                    id.push_str(&format!("{}{rest}", first.to_uppercase()));
                }
            }
        }
    }
}

/// The methods a path item holds, in the order of [`slots`].
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn slots(item: &mut utoipa::openapi::PathItem) -> [&mut Option<utoipa::openapi::path::Operation>; 8] {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    slots(item).into_iter().filter_map(Option::as_mut)
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/openapi.json", get(openapi))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi() -> impl IntoResponse {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi().to_json().unwrap_or_else(|err| unreachable!("the document serializes: {err}"))
    });
    ([(CONTENT_TYPE, "application/json")], JSON.as_str())
}
