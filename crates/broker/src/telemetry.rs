//! What the broker tells its operator: log lines (text or JSON) and the id that ties a request's
//! log lines, its `x-request-id` header and its error body together.
//!
//! The request id lives in a task-local rather than being threaded through every call, so
//! [`crate::error::ApiError`] can put it in an error body wherever the error was made.

use tokio::task::futures::TaskLocalFuture;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How log lines are written (`PATCHBAY_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, with the request's span fields (request id, method, route).
    Json,
}

impl LogFormat {
    /// Parses `text` or `json`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("PATCHBAY_LOG_FORMAT: `{other}` is neither `text` nor `json`")),
        }
    }
}

/// The broker's log subscriber. `main` installs it globally; tests install it around a run with a
/// writer they read back, so they check exactly what an operator would see.
pub fn subscriber<W>(format: LogFormat, filter: EnvFilter, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                // The innermost span holds the request's fields; the list would repeat them.
                .with_span_list(false)
                .finish(),
        ),
    }
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// `future`, polled as the handling of request `id`.
pub fn with_request_id<F: std::future::Future>(id: String, future: F) -> TaskLocalFuture<String, F> {
    REQUEST_ID.scope(id, future)
}

/// The id of the request being handled, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An incoming `x-request-id` worth keeping: a proxy's or client's id is honoured so their logs
/// and ours correlate, but only if it is short and plain, since it is echoed into logs and bodies.
pub fn acceptable_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::acceptable_request_id;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(acceptable_request_id("3f2a9c1e-7d4b-4c59-9e0a-1b2c3d4e5f60"));
        assert!(acceptable_request_id("lb:42.7"));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id(&"a".repeat(65)));
        assert!(!acceptable_request_id("id\nforged log line"));
        assert!(!acceptable_request_id("<script>"));
    }
}
