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
    // Written in place: every request makes one, and `format!` costs more than the encoding.
    let mut id = String::with_capacity(26);
    id.push_str("req_");
    URL_SAFE_NO_PAD.encode_string(buf, &mut id);
    id
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_prefixed_url_safe_128_bit_values() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        let encoded = a.strip_prefix("req_").expect("prefix");
        assert_eq!(URL_SAFE_NO_PAD.decode(encoded).expect("base64url").len(), 16);
        assert!(crate::telemetry::acceptable_request_id(&a), "{a} is echoed like a caller's id");
    }
}
