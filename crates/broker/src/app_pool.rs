//! Idle HTTP/1 connections to apps, by origin, for [`crate::net::AppClient`].
//!
//! hyper-util's pool (its legacy client) did the same with more general machinery: a checkout
//! future, a waiter queue, a hashed key per request and a spawned task per connection returned.
//! Calls to apps are the broker's hot path, and that machinery was ~7 % of an invoke's
//! instructions; this pool is a map under a mutex, used once to take a connection and once to
//! give it back.
//!
//! A connection goes back only once its answer's body was read to the end, so every pooled
//! connection is idle. One the app closed meanwhile is noticed when it is taken (and if the close
//! races the request, hyper hands the unwritten request back, see `AppClient`). Connections idle
//! longer than [`IDLE_TIMEOUT`] are dropped when they are met, and by a sweep of every origin
//! that runs on a return at most once per `IDLE_TIMEOUT`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper::http::uri::{Authority, Scheme};

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
pub struct Origin {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host and port (and user info, if the URI had one).
    pub authority: Authority,
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
pub type Sender = SendRequest<Full<Bytes>>;

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
pub struct Pool(Arc<Mutex<Origins>>);

impl Pool {
    fn origins(&self) -> MutexGuard<'_, Origins> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently returned usable connection to `origin`, if any.
    pub fn take(&self, origin: &Origin) -> Option<Sender> {
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
    pub fn give_back(&self, origin: &Origin, sender: Sender) {
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
    pub fn idle(&self, origin: &Origin) -> usize {
        self.origins().idle.get(origin).map_or(0, Vec::len)
    }
}
