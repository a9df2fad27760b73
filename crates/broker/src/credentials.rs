//! Credential-based connects: validating what the user typed, injecting it into upstream requests
//! as the app declares, and verifying it against the app before anything is saved.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::prelude::{Engine, BASE64_STANDARD};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use patchbay_protocol::{ErrorCode, ErrorDetails, FieldError};
use url::Url;
use zeroize::{Zeroize, Zeroizing};

use crate::app_client::{AppBody, AppClient};
use crate::catalog::{parse_base_url, App};
use crate::crypto::{Keyring, Sealed};
use crate::error::ApiError;
use crate::net::{is_blocked, transport_failure, Cause, Upstreams};
use crate::store::Owner;

/// Longest accepted credential value.
const MAX_FIELD_LEN: usize = 4096;
/// Longest upstream body excerpt returned in UPSTREAM_ERROR.
const MAX_ERROR_BODY: usize = 2048;

/// Binds sealed credentials to their owner and app, so a ciphertext moved to another row fails.
pub fn credentials_aad(owner: &Owner, app_id: &str) -> Vec<u8> {
    [owner.workspace_id.as_bytes(), owner.user_id.as_bytes(), app_id.as_bytes()].join(&0u8)
}

/// A stored account's credentials: sealed as the database holds them, decrypted at most once per
/// record. A cached record serves every call of its owner for that app, and decrypting (AES-GCM,
/// then JSON) was ~4 % of an invoke's CPU. The plaintext lives as long as the record, which the
/// account cache drops within two of its lifetimes or at the account's next write, and is wiped
/// with it; the master keys that can open every record are in the same memory for the process's
/// life.
#[derive(Clone)]
pub struct StoredCredentials {
    sealed: Sealed,
    opened: OnceLock<Arc<Credentials>>,
}

impl StoredCredentials {
    /// Credentials as read from the database.
    pub fn new(sealed: Sealed) -> StoredCredentials {
        StoredCredentials { sealed, opened: OnceLock::new() }
    }

    /// The ciphertext.
    pub fn sealed(&self) -> &Sealed {
        &self.sealed
    }

    /// The credentials, decrypted for `owner`'s account of `app_id` on the first call. A record
    /// is read for one owner, so later calls get the same values without decrypting again.
    pub fn open(&self, keyring: &Keyring, owner: &Owner, app_id: &str) -> Result<Arc<Credentials>, ApiError> {
        if let Some(opened) = self.opened.get() {
            return Ok(opened.clone());
        }
        let plaintext =
            keyring.open(&self.sealed, &credentials_aad(owner, app_id)).map_err(ApiError::internal)?;
        let credentials = Arc::new(serde_json::from_slice(&plaintext).map_err(ApiError::internal)?);
        Ok(self.opened.get_or_init(|| credentials).clone())
    }
}

/// Compares the ciphertexts: what was decrypted from them follows.
impl PartialEq for StoredCredentials {
    fn eq(&self, other: &Self) -> bool {
        self.sealed == other.sealed
    }
}

impl Eq for StoredCredentials {}

/// The ciphertext only, never the decrypted values.
impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.sealed.fmt(f)
    }
}

/// A user's credential values for one app, wiped from memory when dropped.
#[derive(Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Credentials(BTreeMap<String, String>);

impl Drop for Credentials {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

impl Credentials {
    /// Sets a value.
    pub fn insert(&mut self, name: &str, value: String) {
        self.0.insert(name.to_owned(), value);
    }

    /// A value by field name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Copies every value of `previous` this set lacks.
    pub fn keep_missing(&mut self, previous: &Credentials) {
        for (name, value) in &previous.0 {
            self.0.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }

    /// The user-supplied base URL, for the "with URL" auth types.
    pub fn base_url(&self) -> Option<Url> {
        self.get("base_url").and_then(|raw| parse_base_url(raw).ok())
    }

    /// Encrypts these credentials for `owner`'s account of `app_id`.
    pub fn seal(&self, keyring: &Keyring, owner: &Owner, app_id: &str) -> Result<Sealed, ApiError> {
        let plaintext = Zeroizing::new(serde_json::to_vec(self).map_err(ApiError::internal)?);
        keyring.seal(&plaintext, &credentials_aad(owner, app_id)).map_err(ApiError::internal)
    }

    /// Values of the secret fields (everything but the username, the URL and the app's
    /// connect-time values).
    fn secrets<'a>(&'a self, app: &'a App) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), "username" | "base_url") && !app.connect.iter().any(|c| &c.name == *k)
            })
            .map(|(_, v)| v.as_str())
    }
}

/// Checks submitted fields against the app's form. Every problem is reported at once.
pub fn validate_fields(app: &App, mut submitted: BTreeMap<String, String>) -> Result<Credentials, ApiError> {
    let mut problems = Vec::new();
    for name in submitted.keys().filter(|k| !app.fields.iter().any(|f| &f.name == *k)) {
        problems.push(FieldError { field: name.clone(), reason: "is not a field of this app".into() });
    }
    let mut values = BTreeMap::new();
    for field in &app.fields {
        let value = submitted.remove(&field.name).unwrap_or_default();
        let reason = if value.trim().is_empty() {
            field.required.then_some("is required")
        } else if value.len() > MAX_FIELD_LEN {
            Some("is too long")
        } else if value.chars().any(char::is_control) {
            Some("must not contain line breaks or control characters")
        } else if field.name == "username" && value.contains(':') && app.inject.basic.is_some() {
            Some("must not contain `:` (HTTP Basic cannot carry it)")
        } else {
            None
        };
        let connect = app.connect.iter().find(|c| c.name == field.name);
        if let Some(reason) = reason {
            problems.push(FieldError { field: field.name.clone(), reason: reason.into() });
        } else if let Some(reason) = connect.and_then(|c| c.kind.problem(value.trim())) {
            problems.push(FieldError { field: field.name.clone(), reason });
        } else if connect.is_some() {
            values.insert(field.name.clone(), value.trim().to_owned());
        } else if field.name == "base_url" {
            match parse_base_url(value.trim()) {
                Ok(url) => {
                    values.insert(field.name.clone(), url.to_string());
                }
                Err(reason) => problems.push(FieldError { field: field.name.clone(), reason }),
            }
        } else {
            values.insert(field.name.clone(), value);
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    Ok(Credentials(values))
}

/// What verification learnt about the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Name shown to the user.
    pub display_name: String,
    /// Upstream identity, when the app declares where to find it.
    pub identity: Option<String>,
    /// The verify request's HTTP status (none when the app declares no verify request).
    pub status: Option<u16>,
}

/// Where an app's requests go for these credentials, and which client may send them.
fn base_and_client<'a, 'b>(
    app: &'b App,
    creds: &Credentials,
    upstreams: &'a Upstreams,
) -> Result<(Cow<'b, Url>, &'a AppClient), ApiError> {
    // A catalog base URL is borrowed: every invoke of the app passes here.
    if let Some(url) = &app.base_url {
        return Ok((Cow::Borrowed(url), &upstreams.trusted_apps));
    }
    // A URL built from what the user typed or the provider answered gets the same address rules
    // as a URL typed whole: checked here on literal IPs, and on every DNS answer by `guarded_apps`.
    let url = match &app.base_url_template {
        Some(template) => template
            .try_render(|name| creds.get(name).map(Cow::Borrowed))
            .ok_or_else(|| ApiError::internal("credentials lack a value of the base URL"))
            .and_then(|raw| parse_base_url(&raw).map_err(|reason| url_not_allowed(&reason)))?,
        None => creds.base_url().ok_or_else(|| ApiError::internal("validated credentials lack base_url"))?,
    };
    upstreams.policy.check_url(&url).map_err(|blocked| url_not_allowed(&blocked.to_string()))?;
    Ok((Cow::Owned(url), &upstreams.guarded_apps))
}

fn url_not_allowed(reason: &str) -> ApiError {
    ApiError::new(ErrorCode::UrlNotAllowed, "the base URL points to an address the broker does not call")
        .with_details(ErrorDetails {
            fields: vec![FieldError { field: "base_url".into(), reason: reason.to_owned() }],
            ..Default::default()
        })
}

/// `base` joined with `path` (which may carry a query string), as `url` writes it.
pub fn join_url(base: &Url, path: &str) -> String {
    join_verbatim(base, path).unwrap_or_else(|| String::from(join_parsed(base, path)))
}

fn join_parsed(base: &Url, path: &str) -> Url {
    let (path, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
    let mut url = base.clone();
    url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), path));
    url.set_query(query);
    url
}

/// [`join_parsed`]'s answer written directly, when `url` would keep every byte of `path` as it
/// is: the usual case (catalog paths with percent-encoded arguments) on every invoke, where going
/// through `url` cost ~2 % of the call. `None` for anything `url` might rewrite: a byte it
/// percent-encodes, a backslash, a dot segment, a fragment, a relative path.
fn join_verbatim(base: &Url, path: &str) -> Option<String> {
    /// Bytes `url` keeps as they are in a path (RFC 3986 unreserved, sub-delims, `:@/%`).
    fn kept_in_path(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
    }
    /// The same for a query, where `url` also encodes `'`.
    fn kept_in_query(b: u8) -> bool {
        b != b'\'' && (kept_in_path(b) || b == b'?')
    }
    let (path_only, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
    let dot_segment = |segment: &str| {
        segment.starts_with('.') || segment.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("%2e"))
    };
    let plain = path_only.starts_with('/')
        && path_only.bytes().all(kept_in_path)
        && !path_only.split('/').any(dot_segment)
        && query.is_none_or(|q| q.bytes().all(kept_in_query))
        // `url` keeps the base's fragment (its query is replaced either way).
        && base.fragment().is_none();
    plain.then(|| [&base[..url::Position::BeforePath], base.path().trim_end_matches('/'), path].concat())
}

/// A request to an app with the account's credentials injected, and the client that may send it.
/// Functions add their headers and body to it, the backend proxy the caller's.
pub struct AppRequest<'a> {
    client: &'a AppClient,
    /// Built in place rather than through `http`'s request builder, which moves its whole head on
    /// every header added.
    request: Request<Full<Bytes>>,
}

impl<'a> AppRequest<'a> {
    /// A request with no headers and an empty body, to be sent by `client`.
    fn new(client: &'a AppClient, method: Method, uri: &str) -> Result<Self, ApiError> {
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.method_mut() = method;
        *request.uri_mut() = uri.parse().map_err(unbuildable)?;
        Ok(AppRequest { client, request })
    }

    /// Adds a header (after the injected ones).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.request.headers_mut().append(name, value);
        self
    }

    /// Sets every header of `headers`, replacing earlier values of the same names.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.request.headers_mut().extend(headers);
        self
    }

    /// `value` as the body, with `content-type: application/json` unless a header set one.
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.request
            .headers_mut()
            .entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        self.body(Bytes::from(value.to_string()))
    }

    /// The body.
    pub fn body(mut self, body: Bytes) -> Self {
        *self.request.body_mut() = Full::new(body);
        self
    }
}

/// A request the broker could not build: a broker fault (or stored credentials no header can
/// carry), not the app's. The error never quotes the URL, which can carry an API key.
fn unbuildable(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("upstream request could not be built: {err}"))
}

/// Builds a request to `path` with the credentials injected as the app declares.
pub fn authorized_request<'a>(
    app: &App,
    creds: &Credentials,
    upstreams: &'a Upstreams,
    method: Method,
    path: &str,
) -> Result<AppRequest<'a>, ApiError> {
    let (base, client) = base_and_client(app, creds, upstreams)?;
    let lookup = |name: &str| creds.get(name);
    let mut target = join_url(&base, path);
    if !app.inject.query.is_empty() {
        // Appended as `url`'s `query_pairs_mut` does: after `&` when the path brought a query.
        // A base URL has no fragment, so the query ends the string.
        let start = target.find('?').map_or_else(
            || {
                target.push('?');
                target.len()
            },
            |at| at + 1,
        );
        let mut pairs = url::form_urlencoded::Serializer::for_suffix(target, start);
        for (name, template) in &app.inject.query {
            pairs.append_pair(name, &template.render(lookup));
        }
        target = pairs.finish();
    }
    let mut request = AppRequest::new(client, method, &target)?;
    for (name, template) in &app.inject.headers {
        request = request.header(name.clone(), credential_header(template.render(lookup))?);
    }
    if let Some((user, pass)) = &app.inject.basic {
        let encoded = BASE64_STANDARD.encode(format!("{}:{}", user.render(lookup), pass.render(lookup)));
        request = request.header(AUTHORIZATION, credential_header(format!("Basic {encoded}"))?);
    }
    Ok(request)
}

/// An injected credential as a header value, marked sensitive (left out of debug output).
fn credential_header(value: String) -> Result<HeaderValue, ApiError> {
    let mut value = HeaderValue::try_from(value).map_err(unbuildable)?;
    value.set_sensitive(true);
    Ok(value)
}

/// Runs the app's verify request; only a 2xx answer lets the credentials be saved.
pub async fn verify(app: &App, creds: &Credentials, upstreams: &Upstreams) -> Result<Verified, ApiError> {
    /// Identity answers are small; anything bigger is not one.
    const MAX_VERIFY_BODY: usize = 256 * 1024;
    let Some(verify) = &app.verify else {
        return Ok(Verified {
            display_name: fallback_display_name(app, creds),
            identity: None,
            status: None,
        });
    };
    let mut request = authorized_request(app, creds, upstreams, verify.method.clone(), &verify.path)?;
    if let Some(body) = &verify.body {
        request = request.json(body);
    }
    let response = send(request, upstreams.timeout).await?;
    let status = response.status();
    let retry_after = retry_after_seconds(&response);
    let body = read_capped(response, MAX_VERIFY_BODY).await?;
    if !status.is_success() {
        return Err(upstream_failure(status, &body, retry_after, true));
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let pick = |pointer: &Option<String>| -> Option<String> {
        let value = json.as_ref()?.pointer(pointer.as_deref()?)?;
        match value {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let display_name = pick(&verify.display_name)
        .filter(|name| !creds.secrets(app).any(|secret| secret.len() >= 4 && name.contains(secret)))
        .unwrap_or_else(|| fallback_display_name(app, creds));
    Ok(Verified { display_name, identity: pick(&verify.identity), status: Some(status.as_u16()) })
}

/// A request that got no answer.
pub struct SendFailure {
    /// The error for the caller.
    pub error: ApiError,
    /// The request provably never reached the app (see
    /// [`crate::net::TransportFailure::not_sent`]), so it may be sent again whatever its method.
    pub not_sent: bool,
}

/// Sends a request, mapping transport failures to stable codes; `timeout` covers the answer's head
/// and body. Error texts never include the URL, which can carry an API key in its query.
pub async fn send(request: AppRequest<'_>, timeout: Duration) -> Result<Response<AppBody>, ApiError> {
    try_send(request, timeout).await.map_err(|failure| failure.error)
}

/// [`send`], also saying whether a failed request can have reached the app.
pub async fn try_send(request: AppRequest<'_>, timeout: Duration) -> Result<Response<AppBody>, SendFailure> {
    let AppRequest { client, request } = request;
    client.send(request, timeout).await.map_err(|err| {
        if is_blocked(&err) {
            let error = url_not_allowed("resolves to a private, loopback or reserved address");
            return SendFailure { error, not_sent: true };
        }
        let failure = transport_failure(err);
        tracing::warn!(cause = failure.cause.as_str(), not_sent = failure.not_sent, error = %failure.detail, "upstream request failed");
        let message = match failure.cause {
            Cause::Timeout => "the app did not answer in time",
            Cause::Tls => "the app's TLS connection failed",
            _ => "the app could not be reached",
        };
        SendFailure { error: ApiError::new(ErrorCode::UpstreamUnavailable, message), not_sent: failure.not_sent }
    })
}

/// Why an upstream body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyFailure {
    /// It grew past the cap.
    #[error("the app's response is larger than the upstream body cap")]
    TooLarge,
    /// The transfer failed (logged with its cause).
    #[error("the app's response was cut off")]
    CutOff,
}

/// The next chunk of an app's body, counting it into `seen` against `limit`. Functions read
/// bodies whole through this ([`read_capped`]), the backend proxy streams them.
pub async fn next_chunk(
    body: &mut AppBody,
    seen: &mut usize,
    limit: usize,
) -> Result<Option<Bytes>, BodyFailure> {
    loop {
        let chunk = match body.frame().await {
            None => return Ok(None),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => chunk,
                Err(_trailers) => continue,
            },
            Some(Err(err)) => {
                let failure = transport_failure(err);
                tracing::warn!(cause = failure.cause.as_str(), error = %failure.detail, "upstream body failed");
                return Err(BodyFailure::CutOff);
            }
        };
        if *seen + chunk.len() > limit {
            return Err(BodyFailure::TooLarge);
        }
        *seen += chunk.len();
        return Ok(Some(chunk));
    }
}

/// Whether the app declared (`Content-Length`) a body longer than `limit`, which is then refused
/// before it is read.
pub fn declared_too_large(response: &Response<AppBody>, limit: usize) -> bool {
    response.body().declared_length().is_some_and(|length| length > limit as u64)
}

/// UPSTREAM_ERROR for an app's answer (of `status`) whose body is over the `limit`.
pub fn body_too_large(status: StatusCode, limit: usize) -> ApiError {
    ApiError::new(ErrorCode::UpstreamError, format!("the app's response is larger than {} KiB", limit / 1024))
        .with_details(ErrorDetails { status: Some(status.as_u16()), ..Default::default() })
}

/// Reads at most `limit` bytes; a larger body is an UPSTREAM_ERROR.
pub async fn read_capped(response: Response<AppBody>, limit: usize) -> Result<Vec<u8>, ApiError> {
    let status = response.status();
    if declared_too_large(&response, limit) {
        return Err(body_too_large(status, limit));
    }
    let mut body = response.into_body();
    let declared = body.declared_length().map_or(0, |length| length as usize);
    let (mut bytes, mut seen) = (Vec::with_capacity(declared), 0);
    loop {
        match next_chunk(&mut body, &mut seen, limit).await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => return Ok(bytes),
            Err(BodyFailure::CutOff) => {
                return Err(ApiError::new(ErrorCode::UpstreamUnavailable, BodyFailure::CutOff.to_string()))
            }
            Err(BodyFailure::TooLarge) => return Err(body_too_large(status, limit)),
        }
    }
}

/// `Retry-After` in seconds, when given as a number.
pub fn retry_after_seconds<B>(response: &Response<B>) -> Option<u64> {
    response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// Maps a non-2xx upstream answer. `rejecting` says 401/403 mean "these credentials are wrong".
pub fn upstream_failure(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<u64>,
    rejecting: bool,
) -> ApiError {
    let code = status.as_u16();
    if rejecting && matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        let reason = provider_reason(body).unwrap_or_else(|| format!("the app answered {status}"));
        return ApiError::new(
            ErrorCode::CredentialsRejected,
            format!("the app rejected these credentials: {reason}"),
        )
        .with_details(ErrorDetails {
            reason: Some(reason),
            status: Some(code),
            ..Default::default()
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return ApiError::new(ErrorCode::RateLimited, "the app is rate limiting requests").with_details(
            ErrorDetails { retry_after_seconds: retry_after, status: Some(code), ..Default::default() },
        );
    }
    let excerpt = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned();
    ApiError::new(ErrorCode::UpstreamError, format!("the app answered {status}")).with_details(ErrorDetails {
        status: Some(code),
        body: Some(excerpt),
        ..Default::default()
    })
}

/// The provider's own explanation, from common JSON error shapes or a short text body.
fn provider_reason(body: &[u8]) -> Option<String> {
    let cap = |s: &str| s.trim().chars().take(300).collect::<String>();
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        for pointer in ["/error_description", "/message", "/error/message", "/detail", "/error"] {
            if let Some(s) = json.pointer(pointer).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty()) {
                return Some(cap(s));
            }
        }
        return None;
    }
    let text = std::str::from_utf8(body).ok()?.trim();
    (!text.is_empty() && text.len() <= 300 && !text.starts_with('<')).then(|| cap(text))
}

/// A display name when the app gives none: who (username, or the key's last characters) and where.
fn fallback_display_name(app: &App, creds: &Credentials) -> String {
    let who = match (creds.get("username"), creds.get("api_key")) {
        (Some(user), _) => user.to_owned(),
        (None, Some(key)) if key.chars().count() >= 12 => {
            let tail: String = key.chars().skip(key.chars().count() - 4).collect();
            format!("key …{tail}")
        }
        _ => "API key".to_owned(),
    };
    match creds.base_url().as_ref().and_then(Url::host_str) {
        Some(host) => format!("{who} @ {host}"),
        None => format!("{} ({who})", app.name),
    }
}

/// Per-request timeout for verify calls and the default for upstream calls.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(15);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn app(auth_and_more: &str) -> std::sync::Arc<App> {
        let source = format!("[apps.a]\nname = \"Acme\"\n{auth_and_more}");
        let catalog = Catalog::parse(&source, "t.toml", |_| None).expect("catalog");
        catalog.app("a").cloned().expect("app")
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn reasons(err: ApiError) -> Vec<(String, String)> {
        assert_eq!(err.code, ErrorCode::InvalidArguments);
        err.details.map(|d| d.fields).unwrap_or_default().into_iter().map(|f| (f.field, f.reason)).collect()
    }

    #[test]
    fn stored_credentials_are_decrypted_once_and_only_after_a_successful_open() {
        let keyring = Keyring::parse(&Keyring::generate_entry("k1")).expect("keyring");
        let other = Keyring::parse(&Keyring::generate_entry("k1")).expect("keyring");
        let owner = Owner { workspace_id: "ws_1".into(), user_id: "alice".into() };
        let mut values = Credentials::default();
        values.insert("api_key", "secret-1".into());
        let stored = StoredCredentials::new(values.seal(&keyring, &owner, "a").expect("seal"));

        // A failed open (another key, another owner) is not remembered.
        assert!(stored.open(&other, &owner, "a").is_err());
        let bob = Owner { user_id: "bob".into(), ..owner.clone() };
        assert!(stored.open(&keyring, &bob, "a").is_err());

        let first = stored.open(&keyring, &owner, "a").expect("opens");
        assert_eq!(first.get("api_key"), Some("secret-1"));
        // Opened once: later calls share the values without decrypting, even with a keyring that
        // could not decrypt them.
        let again = stored.open(&other, &owner, "a").expect("remembered");
        assert!(Arc::ptr_eq(&first, &again));
        // A copy of the record carries what was opened; its debug output never does.
        assert!(Arc::ptr_eq(&stored.clone().open(&other, &owner, "a").expect("copied"), &first));
        assert!(!format!("{stored:?}").contains("secret-1"));
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let app = app("auth = \"basic_url\"");
        let err =
            validate_fields(&app, fields(&[("username", "a:b"), ("pasword", "x"), ("base_url", "ftp://h")]))
                .err()
                .expect("invalid");
        assert_eq!(
            reasons(err),
            [
                ("pasword".to_owned(), "is not a field of this app".to_owned()),
                ("base_url".to_owned(), "must be an http or https URL".to_owned()),
                ("username".to_owned(), "must not contain `:` (HTTP Basic cannot carry it)".to_owned()),
                ("password".to_owned(), "is required".to_owned()),
            ]
        );
    }

    #[test]
    fn control_characters_and_oversized_values_are_refused() {
        let app = app("auth = \"basic\"\nbase_url = \"http://x\"");
        let long = "p".repeat(MAX_FIELD_LEN + 1);
        let err = validate_fields(&app, fields(&[("username", "a\r\nX-Evil: 1"), ("password", &long)]))
            .err()
            .expect("invalid");
        let reasons = reasons(err);
        assert_eq!(reasons[0].1, "must not contain line breaks or control characters");
        assert_eq!(reasons[1].1, "is too long");
    }

    #[test]
    fn urls_join_below_the_base_path() {
        let base = Url::parse("http://h:1/api/").expect("url");
        assert_eq!(join_url(&base, "/me?x=1"), "http://h:1/api/me?x=1");
        let root = Url::parse("http://h:1").expect("url");
        assert_eq!(join_url(&root, "/me"), "http://h:1/me");
        // Rewritten by `url`, so not written verbatim.
        assert_eq!(join_url(&root, "/a/../b c"), "http://h:1/b%20c");
        assert_eq!(join_url(&base, "me"), "http://h:1/apime");
    }

    /// Differential check of the verbatim join against `url`'s, on random paths made of the pieces
    /// where the two could part: every answer must be the same, and the verbatim join must be
    /// taken often enough to matter.
    #[test]
    fn the_verbatim_join_writes_exactly_what_url_writes() {
        use rand::{Rng, SeedableRng};
        let pieces = [
            "/", "/", ".", "..", "%2e", "%2E", "a", "%20", "%", "?", "#", "\\", " ", "'", "\"", "<", ">",
            "`", "{", "}", "|", "^", "[", "]", "~", "-", "_", "@", ":", ";", "=", "+", "&", "$", "!", "*",
            "(", ")", ",", "é", "\t",
        ];
        let bases = ["http://h:1", "http://h:1/api/", "https://h/a%20b/c", "http://h/x?q=1", "http://h/#f"];
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let mut verbatim = 0;
        for round in 0..20_000 {
            let base = Url::parse(bases[round % bases.len()]).expect("base");
            let len = rng.gen_range(0..12);
            let mut path: String = (0..len).map(|_| pieces[rng.gen_range(0..pieces.len())]).collect();
            if rng.gen_bool(0.8) {
                path.insert(0, '/');
            }
            verbatim += usize::from(join_verbatim(&base, &path).is_some());
            assert_eq!(join_url(&base, &path), String::from(join_parsed(&base, &path)), "{base} + {path:?}");
        }
        assert!(verbatim > 1_000, "only {verbatim} joins were verbatim");
    }

    /// Injected query parameters land where `url`'s `query_pairs_mut` puts them, after any query
    /// the function's path brought.
    #[test]
    fn injected_query_parameters_are_appended_as_url_appends_them() {
        let app =
            app("auth = \"api_key\"\nbase_url = \"http://h:1/api/\"\ninject.query.api_key = \"{api_key}\"");
        let creds =
            validate_fields(&app, fields(&[("api_key", "k &=é+")])).unwrap_or_else(|_| panic!("valid"));
        let upstreams =
            Upstreams::new(crate::net::AddressPolicy::default(), Duration::from_secs(1)).expect("clients");
        for path in ["/me", "/me?", "/me?x=1", "/a b?q=x y"] {
            let request = authorized_request(&app, &creds, &upstreams, Method::GET, path).expect("request");
            let mut expected = join_parsed(app.base_url.as_ref().expect("base"), path);
            expected.query_pairs_mut().append_pair("api_key", "k &=é+");
            assert_eq!(request.request.uri().to_string(), expected.to_string(), "{path}");
        }
    }

    /// Injected credentials stay out of debug output, whether in a header of their own or in Basic.
    #[test]
    fn injected_credential_headers_are_marked_sensitive() {
        let app = app(concat!(
            "auth = \"api_key\"\nbase_url = \"http://h:1/\"\ninject.headers.X-Key = \"{api_key}\"\n",
            "inject.basic = { username = \"{api_key}\", password = \"\" }",
        ));
        let creds = validate_fields(&app, fields(&[("api_key", "k1")])).unwrap_or_else(|_| panic!("valid"));
        let upstreams =
            Upstreams::new(crate::net::AddressPolicy::default(), Duration::from_secs(1)).expect("clients");
        let request = authorized_request(&app, &creds, &upstreams, Method::GET, "/me").expect("request");
        let headers = request.request.headers();
        let key = headers.get("x-key").expect("injected header");
        assert_eq!((key.to_str().ok(), key.is_sensitive()), (Some("k1"), true));
        let basic = headers.get(AUTHORIZATION).expect("basic");
        let expected = format!("Basic {}", BASE64_STANDARD.encode("k1:"));
        assert_eq!((basic.to_str().ok(), basic.is_sensitive()), (Some(expected.as_str()), true));
    }

    #[test]
    fn fallback_names_never_show_a_whole_key() {
        let app = app("auth = \"api_key_url\"\ninject.headers.X-Key = \"{api_key}\"");
        let creds = validate_fields(
            &app,
            fields(&[("api_key", "sk_live_abcdefgh1234"), ("base_url", "https://h.example")]),
        )
        .unwrap_or_else(|_| panic!("valid"));
        assert_eq!(fallback_display_name(&app, &creds), "key …1234 @ h.example");
    }

    /// Collects what a tracing subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failed_upstream_request_is_logged_with_its_cause() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let upstreams =
            Upstreams::new(crate::net::AddressPolicy { allow_loopback: true }, Duration::from_secs(2))
                .expect("clients");
        let uri = format!("http://127.0.0.1:{port}/?api_key=secret");
        let request = AppRequest::new(&upstreams.trusted_apps, Method::POST, &uri).expect("request");
        let failure = try_send(request, upstreams.timeout).await.expect_err("refused");
        assert!(failure.not_sent);
        assert_eq!(failure.error.code, ErrorCode::UpstreamUnavailable);
        let log = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
        assert!(log.contains("upstream request failed"), "{log}");
        assert!(log.contains("cause=\"refused\"") && log.contains("not_sent=true"), "{log}");
        assert!(!log.contains("secret"), "the URL, which can carry a key, stays out of the log: {log}");
    }

    #[test]
    fn provider_reasons_come_from_common_error_shapes() {
        assert_eq!(
            provider_reason(br#"{"error":"invalid_token","error_description":"expired"}"#).as_deref(),
            Some("expired")
        );
        assert_eq!(provider_reason(br#"{"error":{"message":"bad key"}}"#).as_deref(), Some("bad key"));
        assert_eq!(provider_reason(b"Unauthorized").as_deref(), Some("Unauthorized"));
        assert_eq!(provider_reason(b"<html>nope</html>"), None);
    }
}
