//! The backend proxy: a workspace's backend sends any request to a connected account's app and
//! the broker injects the account's credentials, exactly as functions do (the same
//! [`send_with_credentials`]: SSRF guard, refresh on 401, retries, caps and deadline).
//!
//! Headers are filtered both ways: hop-by-hop headers belong to one connection, and credential
//! headers must neither let the caller override the injected ones (or leak the workspace key to
//! the app) nor hand the app's cookies to the caller.
//!
//! The app's body is streamed to the caller as it arrives (a download need not fit in memory,
//! and the first bytes are not held back), within the upstream body cap: a body declared larger
//! is refused before anything is sent, one that grows past the cap is cut off.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, Stream};
use hyper::{HeaderMap, Method, StatusCode};
use patchbay_protocol::FieldError;

use crate::app_client::AppBody;
use crate::catalog::idempotent_method;
use crate::credentials::{authorized_request, body_too_large, declared_too_large, next_chunk};
use crate::error::{ApiError, ApiResult};
use crate::invoke::{send_with_credentials, with_attempts, Answer};
use crate::state::AppState;

/// Hop-by-hop headers (RFC 9110 §7.6.1) and those the HTTP client sets itself.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Credentials of the caller towards the broker, never for the app.
const REQUEST_CREDENTIALS: &[&str] = &["authorization", "proxy-authorization", "cookie"];
/// The app's session cookies are for the account, not for the caller.
const RESPONSE_CREDENTIALS: &[&str] = &["set-cookie", "proxy-authenticate"];

/// One proxied request, as the caller sent it.
pub struct ProxyRequest {
    /// HTTP method.
    pub method: Method,
    /// Path below the app's base URL, still percent-encoded (`/v1/things`).
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// The caller's headers (filtered here).
    pub headers: HeaderMap,
    /// The body (already bounded by the broker's request size limit; shared, not copied, by
    /// each retry).
    pub body: Bytes,
}

/// The app's answer, filtered.
pub struct ProxyResponse<B> {
    /// Upstream status.
    pub status: StatusCode,
    /// Upstream headers without hop-by-hop and credential headers.
    pub headers: HeaderMap,
    /// Upstream body as it arrives: chunks, then an error if it is cut off.
    pub body: B,
}

/// `body` as it arrives, ending in an error after `limit` bytes, when the transfer fails or when the
/// request's timeout passes (the caller then sees a truncated answer, as from the app itself).
fn capped_stream(body: AppBody, limit: usize) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    stream::try_unfold((body, 0usize), move |(mut body, mut seen)| async move {
        match next_chunk(&mut body, &mut seen, limit).await {
            Ok(chunk) => Ok(chunk.map(|chunk| (chunk, (body, seen)))),
            Err(failure) => Err(std::io::Error::other(failure)),
        }
    })
}

/// Header names listed in `Connection`, which are hop-by-hop for this message too.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect()
}

fn filtered(headers: &HeaderMap, also: &[&str], injected: &[String]) -> HeaderMap {
    let listed = connection_listed(headers);
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let name_str = name.as_str();
        let dropped = HOP_BY_HOP.contains(&name_str)
            || also.contains(&name_str)
            || listed.iter().any(|l| l == name_str)
            || injected.iter().any(|i| i.eq_ignore_ascii_case(name_str));
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Refuses `.` and `..` segments (also percent-encoded): URL normalisation would resolve them
/// and leave the app's base path.
fn check_path(path: &str) -> ApiResult<()> {
    let escapes = path.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    });
    if escapes {
        return Err(ApiError::invalid_fields(vec![FieldError {
            field: "path".into(),
            reason: "must not contain `.` or `..` segments".into(),
        }]));
    }
    Ok(())
}

/// The caller's query without the parameters the app's injection sets, so a caller cannot
/// supply a second, competing credential.
fn query_without(query: Option<&str>, injected: &[String]) -> Option<String> {
    let query = query.filter(|q| !q.is_empty())?;
    if injected.is_empty() {
        return Some(query.to_owned());
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            !injected.iter().any(|i| *i == name)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// Sends `request` to the app of `account_id`, an account of any user of `workspace_id`.
/// A missing account and another workspace's account give the same ACCOUNT_NOT_FOUND.
pub async fn proxy(
    state: &Arc<AppState>,
    workspace_id: &str,
    account_id: &str,
    request: ProxyRequest,
) -> ApiResult<ProxyResponse<impl Stream<Item = std::io::Result<Bytes>> + Send>> {
    check_path(&request.path)?;
    let (owner, account) = state
        .store
        .workspace_account(workspace_id, account_id)
        .await?
        .ok_or_else(ApiError::account_not_found)?;
    // An app removed from the catalog leaves its accounts unusable; to the caller, unknown.
    let app = state.catalog.app(&account.app_id).ok_or_else(ApiError::account_not_found)?;
    let injected_headers: Vec<String> = app.inject.headers.iter().map(|(name, _)| name.to_string()).collect();
    let injected_query: Vec<String> = app.inject.query.iter().map(|(name, _)| name.to_string()).collect();
    let headers = filtered(&request.headers, REQUEST_CREDENTIALS, &injected_headers);
    let path =
        if request.path.starts_with('/') { request.path.clone() } else { format!("/{}", request.path) };
    let target = match query_without(request.query.as_deref(), &injected_query) {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let Answer { response, attempts, .. } = send_with_credentials(
        state,
        &owner,
        app,
        &account,
        idempotent_method(&request.method),
        |credentials| {
            let builder =
                authorized_request(app, credentials, &state.upstreams, request.method.clone(), &target)?;
            // Injected headers are added before the caller's, which no longer contain them.
            Ok(builder.headers(headers.clone()).body(request.body.clone()))
        },
    )
    .await?;
    let limit = state.config.max_upstream_body_bytes;
    let status = response.status();
    if declared_too_large(&response, limit) {
        return Err(with_attempts(body_too_large(status, limit), attempts));
    }
    let (head, body) = response.into_parts();
    Ok(ProxyResponse {
        status,
        headers: filtered(&head.headers, RESPONSE_CREDENTIALS, &[]),
        body: capped_stream(body, limit),
    })
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderName;

    use super::*;

    #[test]
    fn dot_segments_are_refused_even_encoded() {
        for path in ["/a/../b", "/..", "/a/%2e%2E/b", "/./x", "/%2E"] {
            assert!(check_path(path).is_err(), "{path}");
        }
        for path in ["/a/b", "/a..b/", "/.well-known/x", "/"] {
            assert!(check_path(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn connection_listed_and_credential_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", "x-secret-hop".parse().expect("value"));
        headers.insert("x-secret-hop", "1".parse().expect("value"));
        headers.insert("authorization", "Bearer pb_sk_x".parse().expect("value"));
        headers.insert("x-api-key", "caller".parse().expect("value"));
        headers.insert("x-kept", "yes".parse().expect("value"));
        let out = filtered(&headers, REQUEST_CREDENTIALS, &["X-Api-Key".to_owned()]);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-kept"]);
    }

    #[test]
    fn injected_query_parameters_cannot_be_supplied_twice() {
        let injected = ["token".to_owned()];
        assert_eq!(query_without(Some("a=1&token=evil&b=2"), &injected).as_deref(), Some("a=1&b=2"));
        assert_eq!(query_without(Some("tok%65n=evil"), &injected), None);
        assert_eq!(query_without(Some(""), &injected), None);
    }
}
