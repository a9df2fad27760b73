//! URLs the SDK handles itself: the broker's base URL and origin, path segments, and the
//! `patchbay_attempt` parameter that redirect mode brings back. (A URL crate would cost the
//! bundle more than these few rules.)

use crate::json::cat;

/// The query parameter the broker adds to `returnTo` in redirect mode.
pub const ATTEMPT_PARAM: &str = "patchbay_attempt";

/// Why a URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not an absolute http(s) URL with a host (or it has user info or spaces).
    #[error("must be an absolute http(s) URL")]
    NotHttp,
    /// A base URL with a query or fragment.
    #[error("must not have a query or fragment")]
    HasQuery,
    /// `http:` to a host other than this machine.
    #[error("must use https (plain http is only accepted for localhost)")]
    Insecure,
}

/// The broker's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Origin and path, without a trailing slash (`https://broker.example/patchbay`).
    pub base: String,
    /// The exact origin a browser reports for the broker's pages (`https://broker.example`).
    pub origin: String,
}

impl BrokerUrl {
    /// Parses the `brokerUrl` option.
    pub fn parse(raw: &str) -> Result<BrokerUrl, UrlError> {
        let parts = split(raw)?;
        if parts.rest.contains(['?', '#']) {
            return Err(UrlError::HasQuery);
        }
        if parts.scheme == "http" && !is_loopback(&parts.host) {
            return Err(UrlError::Insecure);
        }
        let origin = parts.origin();
        let path = parts.rest.trim_end_matches('/');
        Ok(BrokerUrl { base: cat(&[&origin, path]), origin })
    }

    /// The URL of an API path (`/v1/apps`).
    pub fn endpoint(&self, path: &str) -> String {
        cat(&[&self.base, path])
    }
}

/// Checks that `raw` is an absolute http(s) URL (query allowed): for `returnTo`.
pub fn check_http_url(raw: &str) -> Result<(), UrlError> {
    split(raw).map(|_| ())
}

struct Parts {
    scheme: String,
    host: String,
    port: Option<u16>,
    /// Everything after the authority (path, query, fragment).
    rest: String,
}

impl Parts {
    fn origin(&self) -> String {
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        match self.port.filter(|p| *p != default_port) {
            Some(port) => cat(&[&self.scheme, "://", &self.host, ":", &port.to_string()]),
            None => cat(&[&self.scheme, "://", &self.host]),
        }
    }
}

fn split(raw: &str) -> Result<Parts, UrlError> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::NotHttp);
    }
    let (scheme, after) = raw.split_once(':').ok_or(UrlError::NotHttp)?;
    let after = after.strip_prefix("//").ok_or(UrlError::NotHttp)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(UrlError::NotHttp);
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = (after.get(..end).unwrap_or_default(), after.get(end..).unwrap_or_default());
    if authority.is_empty() || authority.contains('@') {
        return Err(UrlError::NotHttp);
    }
    // `[::1]` has colons of its own: a port follows the closing bracket.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            (host, Some(port.parse::<u16>().map_err(|_| UrlError::NotHttp)?))
        }
        _ => (authority, None),
    };
    let valid_host = if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']').is_some_and(|ip| {
            !ip.is_empty() && ip.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        })
    } else {
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    if !valid_host || port == Some(0) {
        return Err(UrlError::NotHttp);
    }
    Ok(Parts { scheme, host: host.to_ascii_lowercase(), port, rest: rest.to_owned() })
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host == "[::1]" || host.starts_with("127.")
}

/// Percent-encodes one path segment (ids and names are plain, but never trust them).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
    out
}

/// The attempt id redirect mode brought back in `query` (`?a=1&patchbay_attempt=att_…`).
pub fn attempt_in_query(query: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == ATTEMPT_PARAM)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

/// `query` without the attempt parameter (`""` when nothing else is left, else with its `?`).
pub fn query_without_attempt(query: &str) -> String {
    let mut kept = String::new();
    for pair in query.trim_start_matches('?').split('&') {
        if !pair.is_empty() && pair.split('=').next() != Some(ATTEMPT_PARAM) {
            kept.push(if kept.is_empty() { '?' } else { '&' });
            kept.push_str(pair);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_normalise_to_base_and_origin() {
        let url = BrokerUrl::parse("HTTPS://Broker.Example:443/patchbay/").expect("valid");
        assert_eq!(url.origin, "https://broker.example");
        assert_eq!(url.base, "https://broker.example/patchbay");
        assert_eq!(url.endpoint("/v1/apps"), "https://broker.example/patchbay/v1/apps");
        let local = BrokerUrl::parse("http://127.0.0.1:8080").expect("loopback http");
        assert_eq!(
            (local.origin.as_str(), local.base.as_str()),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080")
        );
        assert_eq!(BrokerUrl::parse("http://[::1]:9000/").map(|u| u.origin), Ok("http://[::1]:9000".into()));
        assert_eq!(
            BrokerUrl::parse("https://b.example:8443").map(|u| u.origin),
            Ok("https://b.example:8443".into())
        );
    }

    #[test]
    fn bad_broker_urls_say_why() {
        assert_eq!(BrokerUrl::parse("http://broker.example"), Err(UrlError::Insecure));
        assert_eq!(BrokerUrl::parse("https://b.example/?x=1"), Err(UrlError::HasQuery));
        for bad in [
            "broker.example",
            "ftp://b.example",
            "https://",
            "https://u:p@b.example",
            "https://b .example",
            "https://b.example:0",
            "https://b.example:99999",
            "https://[zz]",
        ] {
            assert_eq!(BrokerUrl::parse(bad), Err(UrlError::NotHttp), "{bad}");
        }
        assert_eq!(check_http_url("https://app.example/settings?tab=1#x"), Ok(()));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("hubspot-create_contact.v1~"), "hubspot-create_contact.v1~");
        assert_eq!(encode_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }

    #[test]
    fn the_attempt_parameter_is_read_and_removed() {
        assert_eq!(attempt_in_query("?tab=2&patchbay_attempt=att_123").as_deref(), Some("att_123"));
        assert_eq!(attempt_in_query("?patchbay_attempt=%3Cscript"), None);
        assert_eq!(attempt_in_query(""), None);
        assert_eq!(query_without_attempt("?tab=2&patchbay_attempt=att_1&x"), "?tab=2&x");
        assert_eq!(query_without_attempt("?patchbay_attempt=att_1"), "");
    }
}
