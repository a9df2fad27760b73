//! Outbound HTTP. Requests to URLs a user supplied (the "with URL" auth types) go through a client
//! whose DNS resolver drops forbidden addresses, so the guard holds after resolution (no DNS
//! rebinding) and not only when the URL is typed in; literal IPs, which skip the resolver, are
//! checked before sending. No client follows redirects, which could otherwise lead a request, and
//! the credentials injected into it, somewhere the guard never looked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Which upstream addresses are acceptable for user-supplied URLs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressPolicy {
    /// Allow 127.0.0.0/8 and ::1 (tests and the demo run their upstreams there).
    pub allow_loopback: bool,
}

/// A URL refused by the guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to an address the broker does not call (private, loopback, link-local or reserved)")]
pub struct BlockedAddress {
    /// The host as written.
    pub host: String,
}

impl AddressPolicy {
    /// Whether the broker may connect to `ip` on a user's behalf.
    pub fn allows(self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.allows_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.allows_v4(v4),
                None => self.allows_v6(v6),
            },
        }
    }

    fn allows_v4(self, ip: Ipv4Addr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let [a, b, c, _] = ip.octets();
        !(ip.is_unspecified()
            || ip.is_private()
            || ip.is_link_local() // includes 169.254.169.254, the cloud metadata address
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_documentation()
            || a == 0
            || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
            || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
            || (a == 198 && (18..20).contains(&b)) // benchmarking
            || a >= 240) // reserved
    }

    fn allows_v6(self, ip: Ipv6Addr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let seg = ip.segments();
        if seg[0] == 0x64 && seg[1] == 0xff9b {
            // NAT64: judge the embedded IPv4 address.
            let [.., hi, lo] = seg;
            return self.allows_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
        }
        !(ip.is_unspecified()
            || ip.is_multicast()
            || (seg[0] & 0xfe00) == 0xfc00 // unique local (includes fd00:ec2::254, AWS metadata)
            || (seg[0] & 0xffc0) == 0xfe80 // link-local
            || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
    }

    /// Checks what can be checked without DNS: a literal IP host. Names are checked by the guarded
    /// client's resolver at connection time.
    pub fn check_url(self, url: &Url) -> Result<(), BlockedAddress> {
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if self.allows(ip) {
            Ok(())
        } else {
            Err(BlockedAddress { host: url.host_str().unwrap_or_default().to_owned() })
        }
    }
}

struct GuardedResolver {
    policy: AddressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let allowed: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| policy.allows(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(BlockedAddress { host }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The broker's outbound clients (connection pools shared by every request).
#[derive(Clone)]
pub struct Upstreams {
    /// For URLs from the operator's catalog.
    pub trusted: reqwest::Client,
    /// For URLs users supplied.
    pub guarded: reqwest::Client,
    /// The policy the guarded client enforces.
    pub policy: AddressPolicy,
}

impl Upstreams {
    /// Builds both clients with `timeout` per request.
    pub fn new(policy: AddressPolicy, timeout: Duration) -> reqwest::Result<Upstreams> {
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("patchbay-broker/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Upstreams {
            trusted: base().build()?,
            guarded: base().dns_resolver(Arc::new(GuardedResolver { policy })).build()?,
            policy,
        })
    }
}

/// True when `err` (a reqwest error) was caused by the guard refusing an address.
pub fn is_blocked(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<BlockedAddress>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Why a request to an app or provider got no HTTP answer, for log lines and retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Nothing listens at the address (connection refused).
    Refused,
    /// The name did not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The connection was reset by the peer.
    Reset,
    /// The connection closed before the answer was complete.
    Closed,
    /// No answer in time.
    Timeout,
    /// Anything else (the log line carries the full error chain).
    Other,
}

impl Cause {
    /// A stable word for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Refused => "refused",
            Cause::Dns => "dns",
            Cause::Tls => "tls",
            Cause::Reset => "reset",
            Cause::Closed => "closed",
            Cause::Timeout => "timeout",
            Cause::Other => "other",
        }
    }
}

/// A request that got no HTTP answer: why, and whether it can have reached the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportFailure {
    /// Why.
    pub cause: Cause,
    /// True only when the request provably never left: no connection was made (refused, DNS,
    /// TLS handshake), or the client found a pooled connection closed before writing to it. Such a
    /// request may be sent again whatever its method; any other failure may have been processed.
    pub not_sent: bool,
    /// The error and every source, joined with ": " (never the URL, which can carry a key).
    pub detail: String,
}

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.cause.as_str(), self.detail)
    }
}

/// rustls reports through io::Errors nested in io::Errors, which `source()` walks past.
fn wraps_tls_error(io: &std::io::Error) -> bool {
    match io.get_ref() {
        Some(inner) if inner.is::<rustls::Error>() => true,
        Some(inner) => inner.downcast_ref::<std::io::Error>().is_some_and(wraps_tls_error),
        None => false,
    }
}

/// Classifies a reqwest error by walking its source chain (hyper, io and rustls errors).
pub fn transport_failure(err: reqwest::Error) -> TransportFailure {
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut cause = None;
    let mut canceled = false;
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        detail.push_str(": ");
        detail.push_str(&e.to_string());
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if wraps_tls_error(io) {
                cause = cause.or(Some(Cause::Tls));
            }
            cause = cause.or(match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Some(Cause::Refused),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    Some(Cause::Reset)
                }
                std::io::ErrorKind::TimedOut => Some(Cause::Timeout),
                std::io::ErrorKind::UnexpectedEof => Some(Cause::Closed),
                _ => None,
            });
        }
        if e.is::<rustls::Error>() {
            cause = cause.or(Some(Cause::Tls));
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            canceled |= hyper.is_canceled();
            if hyper.is_incomplete_message() {
                cause = cause.or(Some(Cause::Closed));
            }
        }
        source = e.source();
    }
    let lowered = detail.to_ascii_lowercase();
    let cause = if err.is_timeout() {
        Cause::Timeout
    } else if let Some(cause) = cause {
        cause
    } else if lowered.contains("dns error") || lowered.contains("failed to lookup address") {
        Cause::Dns
    } else if lowered.contains("tls") || lowered.contains("certificate") {
        Cause::Tls
    } else if canceled {
        Cause::Closed
    } else {
        Cause::Other
    };
    // A connect error (refused, DNS, TLS handshake) happens before a byte of the request is
    // written; a canceled request was dropped from a pooled connection that had closed.
    let not_sent = (err.is_connect() && cause != Cause::Timeout) || canceled;
    TransportFailure { cause, not_sent, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges_are_refused_and_public_ones_allowed() {
        let strict = AddressPolicy::default();
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "240.0.0.1",
        ] {
            let ip: IpAddr = blocked.parse().expect("ip");
            assert!(!strict.allows(ip), "{blocked} must be refused");
        }
        for allowed in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::5db8:d822"] {
            let ip: IpAddr = allowed.parse().expect("ip");
            assert!(strict.allows(ip), "{allowed} must be allowed");
        }
    }

    #[test]
    fn the_loopback_switch_opens_loopback_only() {
        let demo = AddressPolicy { allow_loopback: true };
        assert!(demo.allows("127.0.0.1".parse().expect("ip")));
        assert!(demo.allows("::1".parse().expect("ip")));
        assert!(!demo.allows("10.0.0.1".parse().expect("ip")));
        assert!(!demo.allows("169.254.169.254".parse().expect("ip")));
    }

    #[test]
    fn literal_ip_urls_are_checked_before_any_request() {
        let strict = AddressPolicy::default();
        let url = |s: &str| Url::parse(s).expect("url");
        assert!(strict.check_url(&url("http://169.254.169.254/latest/meta-data")).is_err());
        assert!(strict.check_url(&url("http://[::1]:8080/")).is_err());
        assert!(
            strict.check_url(&url("http://0x7f000001/")).is_err(),
            "hex IPv4 is normalised by the URL parser"
        );
        assert!(strict.check_url(&url("https://example.com/")).is_ok(), "names are checked at resolution");
    }

    #[tokio::test]
    async fn the_guarded_client_refuses_names_that_resolve_to_loopback() {
        let upstreams = Upstreams::new(AddressPolicy::default(), Duration::from_secs(2)).expect("clients");
        let err = upstreams.guarded.get("http://localhost:9/").send().await.expect_err("must be refused");
        assert!(is_blocked(&err), "refused by the guard, not by a connection error: {err:?}");
    }
}

#[cfg(test)]
mod failure_tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    fn client() -> reqwest::Client {
        Upstreams::new(AddressPolicy { allow_loopback: true }, Duration::from_secs(2))
            .expect("clients")
            .trusted
    }

    /// A listener on a free port, closed again: nothing listens there.
    fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
    }

    #[tokio::test]
    async fn a_refused_connection_is_named_and_known_unsent() {
        let err =
            client().post(format!("http://127.0.0.1:{}/", closed_port())).send().await.expect_err("refused");
        let failure = transport_failure(err);
        assert_eq!((failure.cause, failure.not_sent), (Cause::Refused, true), "{failure}");
    }

    #[tokio::test]
    async fn a_reset_after_the_request_is_named_and_may_have_been_processed() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf);
            // SO_LINGER 0: close with RST instead of FIN.
            socket2_linger_zero(&socket);
            drop(socket);
        });
        let err =
            client().post(format!("http://127.0.0.1:{port}/")).body("x").send().await.expect_err("reset");
        server.join().expect("server");
        let failure = transport_failure(err);
        assert!(matches!(failure.cause, Cause::Reset | Cause::Closed), "{failure}");
        assert!(!failure.not_sent, "the app read the request: {failure}");
    }

    #[tokio::test]
    async fn tls_to_a_plain_http_server_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf);
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        });
        let err = client().get(format!("https://127.0.0.1:{port}/")).send().await.expect_err("not TLS");
        server.join().expect("server");

        let failure = transport_failure(err);
        assert_eq!((failure.cause, failure.not_sent), (Cause::Tls, true), "{failure}");
    }

    #[tokio::test]
    async fn silence_is_a_timeout_that_may_have_been_processed() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let err = client()
            .get(format!("http://127.0.0.1:{port}/"))
            .timeout(Duration::from_millis(200))
            .send()
            .await
            .expect_err("no answer");
        drop(listener);
        let failure = transport_failure(err);
        assert_eq!((failure.cause, failure.not_sent), (Cause::Timeout, false), "{failure}");
    }

    fn socket2_linger_zero(socket: &std::net::TcpStream) {
        socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
    }
}
