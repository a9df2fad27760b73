//! Outbound HTTP. Requests to URLs a user supplied (the "with URL" auth types) go through a client
//! whose DNS resolver drops forbidden addresses, so the guard holds after resolution (no DNS
//! rebinding) and not only when the URL is typed in; literal IPs, which skip the resolver, are
//! checked before sending. No client follows redirects, which could otherwise lead a request, and
//! the credentials injected into it, somewhere the guard never looked.
//!
//! Calls to apps (functions, the backend proxy, credential checks) go through [`AppClient`]
//! (hyper's HTTP/1 connections, pooled, over the connector built here). They are the hot path,
//! where reqwest's URL handling, redirect layer and timers, and then hyper-util's pool, cost CPU
//! on every call. OAuth token requests and webhooks, rare by comparison, keep reqwest.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use url::{Host, Url};

use crate::app_client::{AppClient, IDLE_TIMEOUT};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What the broker calls itself in `user-agent`.
pub(crate) const BROKER_USER_AGENT: &str = concat!("patchbay-broker/", env!("CARGO_PKG_VERSION"));
/// The longest connection set-up (DNS, TCP, TLS handshake), if the request timeout is longer.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Resolves upstream host names. With a guard, it drops the addresses the guard's policy forbids
/// and fails with [`BlockedAddress`] when none is left.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolver {
    guard: Option<AddressPolicy>,
}

impl Resolver {
    async fn lookup(self, host: &str) -> Result<Vec<SocketAddr>, BoxError> {
        let found = tokio::net::lookup_host((host, 0)).await?;
        let Some(policy) = self.guard else {
            return Ok(found.collect());
        };
        let allowed: Vec<SocketAddr> = found.filter(|addr| policy.allows(addr.ip())).collect();
        if allowed.is_empty() {
            return Err(Box::new(BlockedAddress { host: host.to_owned() }));
        }
        Ok(allowed)
    }
}

impl tower::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = *self;
        Box::pin(async move { resolver.lookup(name.as_str()).await.map(Vec::into_iter) })
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = *self;
        Box::pin(async move {
            let allowed = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Bounds a whole connection set-up (DNS, TCP, TLS handshake), as reqwest's connect timeout does.
#[derive(Clone)]
pub(crate) struct ConnectTimeout<C> {
    inner: C,
    timeout: Duration,
}

impl<C> tower::Service<Uri> for ConnectTimeout<C>
where
    C: tower::Service<Uri, Error = BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = BoxFuture<Result<C::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let (connecting, timeout) = (self.inner.call(uri), self.timeout);
        Box::pin(async move {
            tokio::time::timeout(timeout, connecting).await.unwrap_or_else(|_| {
                Err(Box::new(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))
                    as BoxError)
            })
        })
    }
}

/// rustls on ring with the Mozilla roots (webpki-roots), HTTP/1.1 only: what reqwest's `rustls-tls`
/// sets up.
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The connector under [`AppClient`]: TCP through `resolver` with `TCP_NODELAY` and keepalive,
/// rustls for https, the whole set-up bounded by `connect_timeout`.
fn app_connector(
    resolver: Resolver,
    connect_timeout: Duration,
    tls: Arc<rustls::ClientConfig>,
) -> AppConnector {
    let mut http = HttpConnector::new_with_resolver(resolver);
    // https URLs reach this connector too: the TLS layer wraps the TCP stream it returns.
    http.enforce_http(false);
    http.set_nodelay(true);
    // TCP keepalive as reqwest sets it: a peer gone silently is noticed on pooled connections.
    http.set_keepalive(Some(Duration::from_secs(15)));
    ConnectTimeout { inner: HttpsConnector::from((http, tls)), timeout: connect_timeout }
}

/// How [`AppClient`] connects.
pub(crate) type AppConnector = ConnectTimeout<HttpsConnector<HttpConnector<Resolver>>>;

/// Why a call on an [`AppClient`] got no answer, or the answer's body was cut off.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No connection could be made (DNS, TCP, TLS handshake, the address guard): nothing of the
    /// request was written.
    #[error("connecting to the app failed")]
    Connect(#[source] BoxError),
    /// The connection failed before the answer's head.
    #[error(transparent)]
    Connection(hyper::Error),
    /// The body's transfer failed.
    #[error(transparent)]
    Body(hyper::Error),
    /// The request's timeout passed.
    #[error("no answer in time")]
    TimedOut,
}

/// Why the outbound clients could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// reqwest refused its configuration.
    #[error("HTTP client: {0}")]
    Reqwest(#[from] reqwest::Error),
    /// rustls refused the TLS configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// The broker's outbound clients (connection pools shared by every request).
#[derive(Clone)]
pub struct Upstreams {
    /// OAuth token and revocation endpoints from the operator's catalog.
    pub trusted: reqwest::Client,
    /// Token endpoints and webhook receivers users supplied.
    pub guarded: reqwest::Client,
    /// Calls to apps (functions, the backend proxy, credential checks) at catalog URLs.
    pub trusted_apps: AppClient,
    /// Calls to apps at URLs users supplied.
    pub guarded_apps: AppClient,
    /// The policy both guarded clients enforce.
    pub policy: AddressPolicy,
    /// The timeout of a request that sets none of its own (credential checks, token requests).
    pub timeout: Duration,
}

impl Upstreams {
    /// Builds every client with `timeout` per request.
    pub fn new(policy: AddressPolicy, timeout: Duration) -> Result<Upstreams, BuildError> {
        let connect_timeout = timeout.min(MAX_CONNECT_TIMEOUT);
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(connect_timeout)
                .pool_idle_timeout(IDLE_TIMEOUT)
                .user_agent(BROKER_USER_AGENT)
        };
        let guard = Resolver { guard: Some(policy) };
        let tls = Arc::new(tls_config()?);
        Ok(Upstreams {
            trusted: base().build()?,
            guarded: base().dns_resolver(Arc::new(guard)).build()?,
            trusted_apps: AppClient::new(app_connector(
                Resolver { guard: None },
                connect_timeout,
                tls.clone(),
            )),
            guarded_apps: AppClient::new(app_connector(guard, connect_timeout, tls)),
            policy,
            timeout,
        })
    }
}

/// True when `err` (from either client) was caused by the guard refusing an address.
pub fn is_blocked(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
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

/// What the broker needs to know of an outbound client's error to classify it.
pub trait ClientError: Sized {
    /// The error without anything that can carry a secret (reqwest's names the URL, whose query
    /// can hold a key).
    fn redacted(self) -> Self {
        self
    }
    /// The error whose message and sources describe the failure.
    fn chain(&self) -> &(dyn std::error::Error + 'static);
    /// No connection was made, so nothing of the request was written (unless it timed out).
    fn is_connect(&self) -> bool;
    /// The request's timeout passed.
    fn is_timeout(&self) -> bool;
}

impl ClientError for reqwest::Error {
    fn redacted(self) -> Self {
        self.without_url()
    }
    fn chain(&self) -> &(dyn std::error::Error + 'static) {
        self
    }
    fn is_connect(&self) -> bool {
        reqwest::Error::is_connect(self)
    }
    fn is_timeout(&self) -> bool {
        reqwest::Error::is_timeout(self)
    }
}

impl ClientError for RequestError {
    fn chain(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            RequestError::Connect(err) => err.as_ref(),
            RequestError::Connection(err) => err,
            RequestError::Body(err) => err,
            RequestError::TimedOut => self,
        }
    }
    fn is_connect(&self) -> bool {
        matches!(self, RequestError::Connect(_))
    }
    fn is_timeout(&self) -> bool {
        matches!(self, RequestError::TimedOut)
    }
}

/// What one error of a chain says about the cause, and whether it reports a canceled request.
fn cause_of(e: &(dyn std::error::Error + 'static)) -> (Option<Cause>, bool) {
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if wraps_tls_error(io) {
            return (Some(Cause::Tls), false);
        }
        let cause = match io.kind() {
            std::io::ErrorKind::ConnectionRefused => Some(Cause::Refused),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => Some(Cause::Reset),
            std::io::ErrorKind::TimedOut => Some(Cause::Timeout),
            std::io::ErrorKind::UnexpectedEof => Some(Cause::Closed),
            _ => None,
        };
        return (cause, false);
    }
    if e.is::<rustls::Error>() {
        return (Some(Cause::Tls), false);
    }
    match e.downcast_ref::<hyper::Error>() {
        Some(hyper) => (hyper.is_incomplete_message().then_some(Cause::Closed), hyper.is_canceled()),
        None => (None, false),
    }
}

/// Classifies a failed request by walking its error's source chain (hyper, io and rustls errors).
pub fn transport_failure(err: impl ClientError) -> TransportFailure {
    let err = err.redacted();
    let mut detail = String::new();
    let mut cause = None;
    let mut canceled = false;
    let mut source = Some(err.chain());
    while let Some(e) = source {
        if !detail.is_empty() {
            detail.push_str(": ");
        }
        detail.push_str(&e.to_string());
        let (found, was_canceled) = cause_of(e);
        cause = cause.or(found);
        canceled |= was_canceled;
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
    async fn the_guarded_clients_refuse_names_that_resolve_to_loopback() {
        let upstreams = Upstreams::new(AddressPolicy::default(), Duration::from_secs(2)).expect("clients");
        let request = failure_tests::get("http://localhost:9/");
        let err = upstreams.guarded_apps.send(request, Duration::from_secs(2)).await.expect_err("refused");
        assert!(is_blocked(&err), "refused by the guard, not by a connection error: {err:?}");
        let err = upstreams.guarded.get("http://localhost:9/").send().await.expect_err("must be refused");
        assert!(is_blocked(&err), "reqwest's guarded client shares the resolver: {err:?}");
    }
}

#[cfg(test)]
pub(crate) mod failure_tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::{Request, Response};

    use super::*;
    use crate::app_client::{AppBody, AppClient};

    pub(crate) fn client() -> AppClient {
        Upstreams::new(AddressPolicy { allow_loopback: true }, Duration::from_secs(2))
            .expect("clients")
            .trusted_apps
    }

    /// A request with `body` (empty for none).
    fn request(method: hyper::Method, url: &str, body: &'static str) -> Request<Full<Bytes>> {
        Request::builder().method(method).uri(url).body(Full::new(Bytes::from(body))).expect("request")
    }

    pub(crate) fn get(url: &str) -> Request<Full<Bytes>> {
        request(hyper::Method::GET, url, "")
    }

    async fn send(request: Request<Full<Bytes>>) -> Result<Response<AppBody>, RequestError> {
        client().send(request, Duration::from_secs(2)).await
    }

    /// A listener on a free port, closed again: nothing listens there.
    fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
    }

    pub(crate) fn listener() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        (listener, port)
    }

    /// Reads one request head (small requests arrive whole on loopback) and returns it.
    fn read_request(socket: &mut TcpStream) -> String {
        let mut buf = [0u8; 1024];
        let read = socket.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..read]).into_owned()
    }

    /// Reads one request head and answers it with `body`, keeping the connection open; returns
    /// the head.
    pub(crate) fn serve_one(socket: &mut TcpStream, body: &str) -> String {
        let head = read_request(socket);
        let answer = format!(
            "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).expect("answer");
        head
    }

    #[tokio::test]
    async fn a_refused_connection_is_named_and_known_unsent() {
        let url = format!("http://127.0.0.1:{}/", closed_port());
        let err = send(request(hyper::Method::POST, &url, "")).await.expect_err("refused");
        let failure = transport_failure(err);
        assert_eq!((failure.cause, failure.not_sent), (Cause::Refused, true), "{failure}");
    }

    #[tokio::test]
    async fn a_reset_after_the_request_is_named_and_may_have_been_processed() {
        let (listener, port) = listener();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            read_request(&mut socket);
            // SO_LINGER 0: close with RST instead of FIN.
            socket2_linger_zero(&socket);
            drop(socket);
        });
        let url = format!("http://127.0.0.1:{port}/");
        let err = send(request(hyper::Method::POST, &url, "x")).await.expect_err("reset");
        server.join().expect("server");
        let failure = transport_failure(err);
        assert!(matches!(failure.cause, Cause::Reset | Cause::Closed), "{failure}");
        assert!(!failure.not_sent, "the app read the request: {failure}");
    }

    #[tokio::test]
    async fn tls_to_a_plain_http_server_is_named() {
        let (listener, port) = listener();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            read_request(&mut socket);
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        });
        let err = send(get(&format!("https://127.0.0.1:{port}/"))).await.expect_err("not TLS");
        server.join().expect("server");

        let failure = transport_failure(err);
        assert_eq!((failure.cause, failure.not_sent), (Cause::Tls, true), "{failure}");
    }

    #[tokio::test]
    async fn silence_is_a_timeout_that_may_have_been_processed() {
        let (listener, port) = listener();
        let request = get(&format!("http://127.0.0.1:{port}/"));
        let err = client().send(request, Duration::from_millis(200)).await.expect_err("no answer");
        drop(listener);
        let failure = transport_failure(err);
        assert_eq!((failure.cause, failure.not_sent), (Cause::Timeout, false), "{failure}");
    }

    #[tokio::test]
    async fn a_body_still_arriving_when_the_timeout_passes_is_cut_off_as_a_timeout() {
        let (listener, port) = listener();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            read_request(&mut socket);
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf");
            // Holds the connection open, the body unfinished, until the client has given up.
            let _ = finished.recv();
        });
        let request = get(&format!("http://127.0.0.1:{port}/"));
        let response = client().send(request, Duration::from_millis(500)).await.expect("the head arrives");
        let err = response.into_body().collect().await.expect_err("the body is cut off");
        drop(done);
        server.join().expect("server");
        let failure = transport_failure(err);
        assert_eq!((failure.cause, failure.not_sent), (Cause::Timeout, false), "{failure}");
    }

    /// The server answers one request with keep-alive and closes the connection before the client
    /// sends the next one. Depending on when the connection's task reads the close, hyper-util
    /// either drops the connection from the pool at checkout, or gets the request back unwritten
    /// (canceled) and sends it again on a new connection (`retry_canceled_requests`): either way
    /// the caller gets the answer of a new connection, never an error.
    #[tokio::test]
    async fn a_pooled_connection_the_app_closed_is_replaced_before_the_request_is_written() {
        let (listener, port) = listener();
        let (closed, was_closed) = tokio::sync::oneshot::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut first, _) = listener.accept().expect("accept");
            serve_one(&mut first, "first");
            first.shutdown(std::net::Shutdown::Both).expect("close");
            drop(first);
            closed.send(()).expect("client waits");
            let (mut second, _) = listener.accept().expect("a second connection");
            serve_one(&mut second, "second");
        });
        let client = client();
        let url = format!("http://127.0.0.1:{port}/");
        let body = |response: Response<AppBody>| async move {
            response.into_body().collect().await.expect("body").to_bytes()
        };
        let first = client.send(get(&url), Duration::from_secs(2)).await.expect("first answer");
        assert_eq!(body(first).await, "first");
        was_closed.await.expect("the server closed the connection");
        let second = client.send(get(&url), Duration::from_secs(2)).await;
        let second =
            second.unwrap_or_else(|err| panic!("sent again on a new connection: {}", transport_failure(err)));
        assert_eq!(body(second).await, "second");
        server.join().expect("server");
    }

    fn socket2_linger_zero(socket: &std::net::TcpStream) {
        socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
    }
}
