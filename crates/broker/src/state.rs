//! What every request handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Whether requests reach the broker under its public URL (warned about once if not).
    pub public_url_check: PublicUrlCheck,
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
            public_url_check: PublicUrlCheck::default(),
        }))
    }
}

/// Whether requests reach the broker under its public URL's host, checked on every request.
#[derive(Default)]
pub struct PublicUrlCheck {
    /// The first host that matched: the one nearly every request carries, then compared as
    /// bytes instead of parsed again.
    accepted: OnceLock<HeaderValue>,
    /// Set once a request arrived under another host (warned about once).
    warned: AtomicBool,
}

impl PublicUrlCheck {
    /// Warns once when a request reached the broker under `host` (its `Host` or
    /// `X-Forwarded-Host`) and that is not `public_url`'s: the OAuth redirect URI registered at
    /// providers is built from it, so connects would fail at the provider.
    pub fn check(&self, config: &Config, host: &HeaderValue) {
        if self.accepted.get() == Some(host) {
            return;
        }
        let Ok(name) = host.to_str() else { return };
        if config.reached_as(name) {
            let _ = self.accepted.set(host.clone());
        } else if !self.warned.swap(true, Ordering::Relaxed) {
            let public_url = config.public_url();
            tracing::warn!(%public_url, reached_as = %name, "the broker is reached under another host than public_url: set PATCHBAY_PUBLIC_URL to the URL browsers use");
        }
    }
}
