//! Random identifiers and wall-clock helpers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A random identifier with a type prefix (`ca_…`), 128 bits of entropy.
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_token(16))
}

/// An identifier for a request's log lines (`req_…`): unpredictable enough to never collide, but
/// not a secret, so it comes from the thread's generator instead of a system call per request.
pub fn request_id() -> String {
    let mut buf = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut buf);
    format!("req_{}", URL_SAFE_NO_PAD.encode(buf))
}

/// `bytes` random bytes, base64url-encoded.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// RFC 3339 rendering of a Unix time (the wire format for timestamps).
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}
