//! `invokeFunction`: validated arguments, the account-selection rule, credentials injected, and
//! resilient upstream calls under one deadline.
//!
//! Retries: a 401 on an OAuth account forces one refresh and one retry; 429 is retried after its
//! `Retry-After` (capped) whatever the method, since the app refused to process it, and so is a
//! request that provably never left (connection refused, TLS handshake, a pooled connection found
//! closed); 503, other 5xx and other transport failures are retried with exponential backoff and
//! jitter only when the function is idempotent. Everything stops at the deadline.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderValue, ACCEPT};
use hyper::{Response, StatusCode};
use patchbay_protocol::{
    select_account, AuthType, ErrorCode, ErrorDetails, FieldError, InvokeRequest, InvokeResponse,
    SelectionError,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::time::Instant;

use crate::app_client::AppBody;
use crate::catalog::{arg_text, App, Function};
use crate::credentials::{
    authorized_request, read_capped, retry_after_seconds, try_send, upstream_failure, AppRequest,
    Credentials, SendFailure,
};
use crate::error::{ApiError, ApiResult};
use crate::oauth::refresh::usable_credentials;
use crate::state::AppState;
use crate::store::{AccountRecord, Owner};

/// Requests sent for one invoke at most (the first and two retries).
const MAX_ATTEMPTS: u32 = 3;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// First backoff delay; doubled per retry, plus up to 50 % jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(200);

/// Path segment encoding: everything but RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Checks `args` against the function's JSON Schema, naming every failing field.
pub fn validate_args(function: &Function, args: &Value) -> ApiResult<()> {
    let fields: Vec<FieldError> = function
        .validator
        .iter_errors(args)
        .map(|error| {
            let mut field = error.instance_path().as_str().to_owned();
            if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
                field = format!("{field}/{}", property.as_str().unwrap_or_default());
            }
            // `masked` leaves the offending value out of the message: it may be personal data.
            FieldError {
                field: if field.is_empty() { "/".into() } else { field },
                reason: error.masked().to_string(),
            }
        })
        .collect();
    if fields.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_fields(fields))
    }
}

/// Picks the account per the one selection rule.
pub fn select<'a>(accounts: &'a [AccountRecord], requested: Option<&str>) -> ApiResult<&'a AccountRecord> {
    struct Candidate<'a>(&'a AccountRecord);
    impl patchbay_protocol::AccountLike for Candidate<'_> {
        fn id(&self) -> &str {
            &self.0.id
        }
        fn display_name(&self) -> &str {
            &self.0.display_name
        }
    }
    let candidates: Vec<Candidate> = accounts.iter().map(Candidate).collect();
    match select_account(&candidates, requested) {
        Ok(chosen) => Ok(chosen.0),
        Err(SelectionError::NotConnected) => {
            Err(ApiError::new(ErrorCode::NotConnected, "the user has not connected this app"))
        }
        Err(SelectionError::AccountRequired(candidates)) => Err(ApiError::account_required(candidates)),
        Err(SelectionError::UnknownAccount) => Err(ApiError::account_not_found()),
    }
}

fn build<'s>(
    state: &'s AppState,
    app: &App,
    function: &Function,
    credentials: &Credentials,
    args: &Value,
    cursor: Option<&str>,
) -> ApiResult<AppRequest<'s>> {
    let path = function
        .path
        .try_render(|var| {
            let value = arg_text(args, var)?;
            // `.` and `..` would be resolved as relative segments and leave the declared path.
            (value != "." && value != "..")
                .then(|| Cow::Owned(utf8_percent_encode(&value, SEGMENT).to_string()))
        })
        .ok_or_else(|| {
            ApiError::invalid_fields(vec![FieldError {
                field: "/".into(),
                reason: "an argument used in the request path is missing or is `.` / `..`".into(),
            }])
        })?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut has_query = false;
    for (name, template) in &function.query {
        if let Some(value) = template.try_render(|var| arg_text(args, var)) {
            query.append_pair(name, &value);
            has_query = true;
        }
    }
    if let (Some(pagination), Some(cursor)) = (&function.pagination, cursor) {
        query.append_pair(&pagination.cursor_param, cursor);
        has_query = true;
    }
    let target = if has_query { format!("{path}?{}", query.finish()) } else { path };
    let mut request =
        authorized_request(app, credentials, &state.upstreams, function.method.clone(), &target)?;
    for (name, template) in &function.headers {
        if let Some(value) = template.try_render(|var| arg_text(args, var)) {
            // Checked here, not left to the HTTP client: a CR or LF would otherwise surface as a
            // transport failure at send time and be retried as if the app were down.
            let value = HeaderValue::from_str(&value).map_err(|_| header_argument_invalid(template))?;
            request = request.header(name.clone(), value);
        }
    }
    if let Some(body) = &function.body {
        request = request.json(&body.render(args).unwrap_or(Value::Null));
    }
    Ok(request.header(ACCEPT, HeaderValue::from_static("application/json")))
}

/// INVALID_ARGUMENTS naming the arguments a header template uses (one of them cannot be a
/// header value). The value itself is not repeated: it may be personal data.
fn header_argument_invalid(template: &crate::catalog::Template) -> ApiError {
    let fields = template
        .vars()
        .filter_map(|var| var.strip_prefix("args"))
        .map(|path| FieldError {
            field: if path.is_empty() { "/".into() } else { path.replace('.', "/") },
            reason: "is sent in a header, so it must not contain line breaks or control characters".into(),
        })
        .collect();
    ApiError::invalid_fields(fields)
}

/// `err` with the number of requests sent in its details.
pub fn with_attempts(mut err: ApiError, attempts: u32) -> ApiError {
    let mut details = err.details.take().map(|d| *d).unwrap_or_default();
    details.attempts = Some(attempts);
    err.with_details(details)
}

fn backoff(retry: u32) -> Duration {
    let base = BASE_BACKOFF * 2u32.saturating_pow(retry.saturating_sub(1));
    base + base.mul_f64(rand::thread_rng().gen_range(0.0..0.5))
}

/// A function's output: the app's JSON untouched when the function maps nothing, or mapped.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Output {
    /// The app's body as it came (already in the form a parse-and-write would give).
    Untouched(Box<RawValue>),
    /// Parsed, then picked from or wrapped.
    Mapped(Value),
}

/// Runs `name` for the session's user.
pub async fn invoke(
    state: &Arc<AppState>,
    owner: &Owner,
    name: &str,
    request: InvokeRequest<Value>,
) -> ApiResult<InvokeResponse<Output>> {
    let (app, function) = state.catalog.find_function(name)?;
    let started = Instant::now();
    let result = call(state, owner, app, function, request).await;
    // Counted only for functions the catalog has: an unknown name comes from the caller and
    // would make the label set unbounded.
    let outcome = result.as_ref().map_or_else(|err| err.code.as_str(), |_| "ok");
    state.metrics.invoke(&app.id, &function.name, outcome, started.elapsed().as_secs_f64());
    result
}

async fn call(
    state: &Arc<AppState>,
    owner: &Owner,
    app: &App,
    function: &Function,
    request: InvokeRequest<Value>,
) -> ApiResult<InvokeResponse<Output>> {
    validate_args(function, &request.args)?;
    let accounts = state.store.app_accounts(owner, &app.id).await?;
    let account = select(&accounts, request.connected_account_id.as_deref())?;
    let Answer { response, retry_after, attempts } =
        send_with_credentials(state, owner, app, account, function.idempotent, |credentials| {
            build(state, app, function, credentials, &request.args, request.cursor.as_deref())
        })
        .await?;
    let status = response.status();
    let body = read_capped(response, state.config.max_upstream_body_bytes)
        .await
        .map_err(|e| with_attempts(e, attempts))?;
    if !status.is_success() {
        let error = upstream_failure(status, &body, retry_after, false);
        return Err(with_attempts(error, attempts));
    }
    respond(function, status, &body).map_err(|e| with_attempts(e, attempts))
}

/// The app's final answer to a call, after any refresh and retries, its body not read yet:
/// functions read it whole, the backend proxy streams it.
pub struct Answer {
    /// The upstream response, its body to be read within the attempt's timeout.
    pub response: Response<AppBody>,
    /// `Retry-After` of the final answer, in seconds (capped).
    pub retry_after: Option<u64>,
    /// Requests sent.
    pub attempts: u32,
}

/// Sends the request `build` makes from the account's credentials, with the retry rules in the
/// module docs, under the invoke deadline. Functions and the backend proxy both call this, so the
/// two cannot drift apart in how credentials are refreshed or requests repeated.
///
/// `idempotent` allows retries of requests that may have reached the app.
pub async fn send_with_credentials<'s>(
    state: &'s Arc<AppState>,
    owner: &Owner,
    app: &App,
    account: &AccountRecord,
    idempotent: bool,
    build: impl Fn(&Credentials) -> ApiResult<AppRequest<'s>>,
) -> ApiResult<Answer> {
    let deadline = Instant::now() + Duration::from_secs(state.config.invoke_deadline_seconds);
    let per_request = Duration::from_secs(state.config.upstream_timeout_seconds);
    let mut usable = usable_credentials(state, owner, app, account, false).await?;
    let mut refreshed = false;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let upstream = build(&usable.credentials)?;
        let retry_in =
            |wait: Duration| (attempts < MAX_ATTEMPTS && Instant::now() + wait < deadline).then_some(wait);
        let sent = try_send(upstream, remaining.min(per_request)).await;
        state.metrics.upstream(&app.id, sent.as_ref().ok().map(|r| r.status().as_u16()));
        let response = match sent {
            Ok(response) => response,
            // A request that never left can be sent again whatever the function does.
            Err(SendFailure { error, not_sent })
                if error.code == ErrorCode::UpstreamUnavailable && (not_sent || idempotent) =>
            {
                match retry_in(backoff(attempts)) {
                    Some(wait) => {
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    None => return Err(with_attempts(error, attempts)),
                }
            }
            Err(SendFailure { error, .. }) => return Err(with_attempts(error, attempts)),
        };
        let status = response.status();
        // OAuth refusals go through a refresh (whose `invalid_grant` marks the account); other
        // credentials cannot be renewed by the broker, so the user must enter new ones.
        if app.auth != AuthType::Oauth2 && app.inject.refused_statuses.contains(&status.as_u16()) {
            if state.store.mark_needs_reauth(&account.id, usable.version).await? {
                tracing::warn!(account = %account.id, %status, "the app refused the stored credentials; account needs reconnecting");
            }
            let details = ErrorDetails { status: Some(status.as_u16()), ..Default::default() };
            return Err(with_attempts(ApiError::reauth_required(&app.name).with_details(details), attempts));
        }
        if status == StatusCode::UNAUTHORIZED && app.auth == AuthType::Oauth2 && !refreshed {
            refreshed = true;
            let seen = AccountRecord { version: usable.version, ..account.clone() };
            usable = usable_credentials(state, owner, app, &seen, true).await?;
            continue;
        }
        let retry_after = retry_after_seconds(&response).map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let wait = match status {
            StatusCode::TOO_MANY_REQUESTS => retry_in(retry_after.unwrap_or_else(|| backoff(attempts))),
            StatusCode::SERVICE_UNAVAILABLE if idempotent => {
                retry_in(retry_after.unwrap_or_else(|| backoff(attempts)))
            }
            s if s.is_server_error() && idempotent => retry_in(backoff(attempts)),
            _ => None,
        };
        if let Some(wait) = wait {
            drop(response);
            tokio::time::sleep(wait).await;
            continue;
        }
        let retry_after = retry_after.map(|d| d.as_secs());
        return Ok(Answer { response, retry_after, attempts });
    }
}

fn respond(function: &Function, status: StatusCode, body: &[u8]) -> ApiResult<InvokeResponse<Output>> {
    if function.output.is_none() && function.pagination.is_none() {
        if let Some(raw) = crate::canonical_json::untouched(body) {
            return Ok(InvokeResponse {
                status: status.as_u16(),
                output: Output::Untouched(raw),
                next_cursor: None,
            });
        }
    }
    let mut parsed = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else if let Ok(json) = serde_json::from_slice::<Value>(body) {
        json
    } else if let Ok(text) = std::str::from_utf8(body) {
        Value::String(text.to_owned())
    } else {
        return Err(ApiError::new(
            ErrorCode::UpstreamError,
            "the app answered with binary data, which functions do not return",
        )
        .with_details(ErrorDetails { status: Some(status.as_u16()), ..Default::default() }));
    };
    let next_cursor = function.pagination.as_ref().and_then(|p| match parsed.pointer(&p.next_cursor)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let output = match &function.output {
        Some(pointer) => parsed.pointer_mut(pointer).map(Value::take).unwrap_or(Value::Null),
        None => parsed,
    };
    Ok(InvokeResponse { status: status.as_u16(), output: Output::Mapped(output), next_cursor })
}
