//! The built SDK and the marketplace embed script, served to host pages. Content-hashed files
//! (`name.<hash>.ext`) never change and are cached for a year; the fixed entry points (`embed.js`,
//! `patchbay.js`) are revalidated so a deploy reaches every page. Public files: any origin may load
//! them (module scripts and wasm are fetched with CORS).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use patchbay_protocol::ErrorCode;

use super::ApiPath;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/sdk/{*path}", get(asset)).route("/embed.js", get(embed))
}

/// The one-tag marketplace embed script (revalidated on every load).
#[utoipa::path(get, path = "/embed.js", tag = "pages", operation_id = "embedScript",
    responses((status = 200, description = "The script", content_type = "text/javascript")))]
async fn embed(state: State<Arc<AppState>>) -> Response {
    asset(state, ApiPath("embed.js".to_owned())).await
}

/// True for `name.<8+ hex>.ext`, the names `cargo xtask pack` gives to immutable files.
fn is_hashed(file: &str) -> bool {
    let mut parts = file.rsplit('.');
    let _ext = parts.next();
    parts.next().is_some_and(|hash| hash.len() >= 8 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("ts") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Each segment a plain name: no parent references, no hidden files, no odd characters.
fn safe_segments(path: &str) -> bool {
    path.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    })
}

/// A file of the built SDK: the fixed entry points are revalidated, content-hashed files cached a
/// year.
#[utoipa::path(get, path = "/sdk/{path}", tag = "pages", operation_id = "sdkFile",
    params(("path" = String, Path, description = "`patchbay.js`, or a file it loads")),
    responses((status = 200, description = "The file (JavaScript, wasm, declarations)")))]
async fn asset(State(state): State<Arc<AppState>>, ApiPath(file): ApiPath<String>) -> Response {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such file").into_response();
    if !safe_segments(&file) {
        return not_found();
    }
    let Some(dir) = &state.config.sdk_dir else { return not_found() };
    let Ok(bytes) = tokio::fs::read(dir.join(&file)).await else { return not_found() };
    let cache = if is_hashed(&file) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=0, must-revalidate"
    };
    (
        [
            (CONTENT_TYPE, content_type(&file)),
            (CACHE_CONTROL, cache),
            (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_hashed_names_are_immutable() {
        assert!(is_hashed("patchbay_sdk_bg.3fa9c01d.wasm"));
        assert!(!is_hashed("embed.js"));
        assert!(!is_hashed("patchbay.js"));
        assert!(!is_hashed("patchbay.v2.js"));
    }

    #[test]
    fn nested_paths_must_be_plain_names() {
        assert!(safe_segments("snippets/patchbay-sdk-1a2b/js/error.js"));
        for bad in ["../broker.db", "a/../b", ".env", "a//b", "a/.hidden", "a\\b", "a b"] {
            assert!(!safe_segments(bad), "{bad}");
        }
    }
}
