//! Calls to apps: [`AppClient`] sends on hyper's HTTP/1 connections, kept idle between requests
//! by origin. What connects (address guard, TLS, connect timeout) and how failures are named
//! live in [`crate::net`].
//!
//! hyper-util's pool (its legacy client) did the same with more general machinery: a checkout
//! future, a waiter queue, a hashed key per request and a spawned task per connection returned.
//! Calls to apps are the broker's hot path, and that machinery was ~7 % of an invoke's
//! instructions; this pool is a map under a mutex, used once to take a connection and once to
//! give it back.
//!
//! A connection goes back only once its answer's body was read to the end, so every pooled
//! connection is idle. One the app closed meanwhile is noticed when it is taken (and if the close
//! races the request, hyper hands the unwritten request back, see [`AppClient`]). Connections idle
//! longer than [`IDLE_TIMEOUT`] are dropped when they are met, and by a sweep of every origin
//! that runs on a return at most once per `IDLE_TIMEOUT`.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, ACCEPT, HOST, USER_AGENT};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::{Request, Response, Uri};
use tokio::time::Sleep;

use crate::net::{AppConnector, RequestError, BROKER_USER_AGENT};

/// How long an unused connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle connections kept per origin; a burst beyond it closes its extra connections afterwards.
const MAX_IDLE_PER_ORIGIN: usize = 64;

/// Where a connection goes: scheme and authority, as in the request URI.
///
/// Compared and hashed as written, not case-insensitively as `Authority` does: its hash feeds the
/// hasher one lowercased byte at a time, ~2 000 instructions a call for a take and a give-back.
/// Request URIs come from `url`, which lowercases hosts; at worst an origin spelled two ways gets
/// two lists.
#[derive(Debug, Clone)]
struct Origin {
    /// `http` or `https`.
    scheme: Scheme,
    /// Host and port (and user info, if the URI had one).
    authority: Authority,
}

impl Origin {
    fn as_strs(&self) -> (&str, &str) {
        (self.scheme.as_str(), self.authority.as_str())
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.as_strs() == other.as_strs()
    }
}

impl Eq for Origin {}

impl Hash for Origin {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_strs().hash(state);
    }
}

/// The sending half of an HTTP/1 connection to an app.
type Sender = SendRequest<Full<Bytes>>;

struct Idle {
    sender: Sender,
    since: Instant,
}

impl Idle {
    fn usable(&self) -> bool {
        self.since.elapsed() < IDLE_TIMEOUT && !self.sender.is_closed()
    }
}

#[derive(Default)]
struct Origins {
    idle: HashMap<Origin, Vec<Idle>>,
    swept: Option<Instant>,
}

/// Idle connections by origin. Clones share the connections.
#[derive(Clone, Default)]
struct Pool(Arc<Mutex<Origins>>);

impl Pool {
    fn origins(&self) -> MutexGuard<'_, Origins> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently returned usable connection to `origin`, if any.
    fn take(&self, origin: &Origin) -> Option<Sender> {
        let mut origins = self.origins();
        let idle = origins.idle.get_mut(origin)?;
        while let Some(connection) = idle.pop() {
            if connection.usable() {
                return Some(connection.sender);
            }
        }
        None
    }

    /// Keeps `sender`, whose last answer was read whole, for the next request to `origin`.
    fn give_back(&self, origin: &Origin, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut origins = self.origins();
        if origins.swept.is_none_or(|at| at.elapsed() >= IDLE_TIMEOUT) {
            origins.swept = Some(Instant::now());
            origins.idle.retain(|_, idle| {
                idle.retain(Idle::usable);
                !idle.is_empty()
            });
        }
        let idle = origins.idle.entry(origin.clone()).or_default();
        if idle.len() < MAX_IDLE_PER_ORIGIN {
            idle.push(Idle { sender, since: Instant::now() });
        }
    }

    /// Idle connections kept for `origin`, usable or not yet swept.
    #[cfg(test)]
    fn idle(&self, origin: &Origin) -> usize {
        self.origins().idle.get(origin).map_or(0, Vec::len)
    }
}

/// A client for calls to apps: hyper's HTTP/1 (over rustls for https), following no redirects.
/// Clones share one connection pool.
#[derive(Clone)]
pub struct AppClient {
    connector: AppConnector,
    pool: Pool,
}

impl AppClient {
    /// A client with its own pool, connecting through `connector`.
    pub(crate) fn new(connector: AppConnector) -> AppClient {
        AppClient { connector, pool: Pool::default() }
    }

    /// Sends `request` (its URI absolute) with the broker's `user-agent` and `accept: */*` unless
    /// it sets its own. `timeout` covers the whole exchange: the answer's head must arrive in time,
    /// and its body is cut off when the time is up.
    pub async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Response<AppBody>, RequestError> {
        let origin = to_origin_form(&mut request)?;
        let headers = request.headers_mut();
        headers.entry(USER_AGENT).or_insert(HeaderValue::from_static(BROKER_USER_AGENT));
        headers.entry(ACCEPT).or_insert(HeaderValue::from_static("*/*"));
        let mut deadline = Box::pin(tokio::time::sleep(timeout));
        let (response, sender) = tokio::select! {
            biased;
            sent = self.exchange(&origin, request) => sent?,
            () = &mut deadline => return Err(RequestError::TimedOut),
        };
        let pooled = Some((self.pool.clone(), origin, sender));
        Ok(response.map(|incoming| AppBody { incoming, deadline, pooled }))
    }

    /// Sends on a pooled connection if one is left open, else on a new one. A request hyper hands
    /// back unwritten (the app closed the connection as it was taken) goes on the next.
    async fn exchange(
        &self,
        origin: &Origin,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Sender), RequestError> {
        while let Some(mut sender) = self.pool.take(origin) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(RequestError::Connection(failed.into_error())),
                },
            }
        }
        // Boxed: with pooling a call rarely connects, and the connecting future (TLS handshake
        // included, ~2.4 KiB) would otherwise be part of every call's future, copied as it moves.
        let mut sender = Box::pin(self.connect(origin)).await?;
        let response = sender.send_request(request).await.map_err(RequestError::Connection)?;
        Ok((response, sender))
    }

    async fn connect(&self, origin: &Origin) -> Result<Sender, RequestError> {
        let uri = Uri::builder()
            .scheme(origin.scheme.clone())
            .authority(origin.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|err| RequestError::Connect(err.into()))?;
        let io =
            tower::ServiceExt::oneshot(self.connector.clone(), uri).await.map_err(RequestError::Connect)?;
        let (sender, connection) =
            http1::handshake(io).await.map_err(|err| RequestError::Connect(err.into()))?;
        tokio::spawn(async move {
            // The app closing an idle connection ends it too; nothing to report then.
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection to an app ended");
            }
        });
        Ok(sender)
    }
}

/// Takes the scheme and authority out of `request`'s URI, leaving the path and query, and sets
/// `host` from them unless the request has one (as hyper-util's client did).
fn to_origin_form(request: &mut Request<Full<Bytes>>) -> Result<Origin, RequestError> {
    let mut parts = std::mem::take(request.uri_mut()).into_parts();
    let (Some(scheme), Some(authority)) = (parts.scheme.take(), parts.authority.take()) else {
        return Err(RequestError::Connect("the request URI is not absolute".into()));
    };
    if !request.headers().contains_key(HOST) {
        let default_port = if scheme == hyper::http::uri::Scheme::HTTPS { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(port) if port != default_port => {
                authority.as_str().rsplit_once('@').map_or(authority.as_str(), |(_, host)| host)
            }
            _ => authority.host(),
        };
        let host = HeaderValue::from_str(host).map_err(|err| RequestError::Connect(err.into()))?;
        request.headers_mut().insert(HOST, host);
    }
    *request.uri_mut() = Uri::from(parts.path_and_query.unwrap_or_else(|| PathAndQuery::from_static("/")));
    Ok(Origin { scheme, authority })
}

/// The body of an app's answer as it arrives, cut off with [`RequestError::TimedOut`] when the
/// request's timeout passes. Read to the end, it gives its connection back to the pool.
pub struct AppBody {
    incoming: Incoming,
    deadline: Pin<Box<Sleep>>,
    pooled: Option<(Pool, Origin, Sender)>,
}

impl std::fmt::Debug for AppBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppBody").field("incoming", &self.incoming).finish_non_exhaustive()
    }
}

impl AppBody {
    /// The length the app declared (`Content-Length`), if it did.
    pub fn declared_length(&self) -> Option<u64> {
        self.incoming.size_hint().exact()
    }
}

impl Body for AppBody {
    type Data = Bytes;
    type Error = RequestError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestError>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(RequestError::TimedOut)));
        }
        let frame = Pin::new(&mut self.incoming).poll_frame(cx).map_err(RequestError::Body);
        if let Poll::Ready(None) = frame {
            if let Some((pool, origin, sender)) = self.pooled.take() {
                pool.give_back(&origin, sender);
            }
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::net::failure_tests::{client, get, listener, serve_one};

    /// The server serves one connection only: a second request that did not reuse it would never
    /// be answered.
    #[tokio::test]
    async fn a_connection_whose_answer_was_read_whole_is_reused_and_requests_are_in_origin_form() {
        let (listener, port) = listener();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            [serve_one(&mut socket, "one"), serve_one(&mut socket, "two")]
        });
        let client = client();
        let origin = Origin {
            scheme: "http".parse().expect("scheme"),
            authority: format!("127.0.0.1:{port}").parse().expect("authority"),
        };
        for expected in ["one", "two"] {
            let url = format!("http://127.0.0.1:{port}/path?q={expected}");
            let response = client.send(get(&url), Duration::from_secs(2)).await.expect("answer");
            assert_eq!(client.pool.idle(&origin), 0, "in use until its answer is read");
            assert_eq!(response.into_body().collect().await.expect("body").to_bytes(), expected);
            if expected == "one" {
                // The server still waits for the second request, so the connection is open.
                assert_eq!(client.pool.idle(&origin), 1);
            }
        }
        let heads = server.join().expect("server");
        for (head, expected) in heads.iter().zip(["one", "two"]) {
            let head = head.to_ascii_lowercase();
            assert!(head.starts_with(&format!("get /path?q={expected} http/1.1\r\n")), "{head}");
            assert!(head.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")), "{head}");
        }
    }

    /// An answer dropped before its body was read leaves its connection unusable: the next
    /// request must go on a new one (the first is never served again).
    #[tokio::test]
    async fn a_connection_whose_answer_was_not_read_whole_is_not_reused() {
        let (listener, port) = listener();
        let server = std::thread::spawn(move || {
            let (mut first, _) = listener.accept().expect("accept");
            serve_one(&mut first, "unread");
            let (mut second, _) = listener.accept().expect("a second connection");
            serve_one(&mut second, "read");
            drop(first);
        });
        let client = client();
        let url = format!("http://127.0.0.1:{port}/");
        drop(client.send(get(&url), Duration::from_secs(2)).await.expect("first answer"));
        let second = client.send(get(&url), Duration::from_secs(2)).await.expect("second answer");
        assert_eq!(second.into_body().collect().await.expect("body").to_bytes(), "read");
        server.join().expect("server");
    }
}
