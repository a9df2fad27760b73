//! What every request handler shares.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::HeaderValue;
use tokio::sync::Notify;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::metrics::Metrics;
use crate::net::{AddressPolicy, Upstreams};
use crate::oauth::refresh::RefreshLocks;
use crate::sessions::VerifiedTokens;
use crate::store::Store;

/// Shared broker state (behind an `Arc`; everything in it is read-only or internally synchronised).
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// The app catalog.
    pub catalog: Catalog,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Master keys.
    pub keyring: Keyring,
    /// Session tokens already verified.
    pub verified_tokens: VerifiedTokens,
    /// Outbound HTTP clients.
    pub upstreams: Upstreams,
    /// Per-account refresh mutexes (single-flight within this process).
    pub refresh_locks: RefreshLocks,
    /// Woken whenever an OAuth attempt finishes (long-polls wait on it).
    pub attempt_events: Notify,
    /// What `/metrics` reports.
    pub metrics: Metrics,
    /// Set once a request arrived under another host than the public URL (warned about once).
    pub public_url_mismatch: AtomicBool,
    /// The first host a request reached the broker under that matched the public URL: the host
    /// nearly every request carries, then checked with a byte comparison.
    pub public_host: OnceLock<HeaderValue>,
}

impl AppState {
    /// Assembles the state; fails only if the HTTP clients cannot be built.
    pub fn new(
        config: Config,
        catalog: Catalog,
        store: Arc<dyn Store>,
        keyring: Keyring,
    ) -> anyhow::Result<Arc<AppState>> {
        let policy = AddressPolicy { allow_loopback: config.allow_loopback_upstreams };
        let upstreams = Upstreams::new(policy, Duration::from_secs(config.upstream_timeout_seconds))?;
        Ok(Arc::new(AppState {
            config,
            catalog,
            store,
            keyring,
            verified_tokens: VerifiedTokens::default(),
            upstreams,
            refresh_locks: RefreshLocks::default(),
            attempt_events: Notify::new(),
            metrics: Metrics::default(),
            public_url_mismatch: AtomicBool::new(false),
            public_host: OnceLock::new(),
        }))
    }
}
