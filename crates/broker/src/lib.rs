//! The Patchbay broker as a library: [`router`] builds the whole HTTP surface from an
//! [`AppState`], so tests drive it in-process and `main` only parses the command line.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod admin;
pub mod app_client;
pub mod canonical_json;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod crypto;
pub mod error;
pub mod http;
pub mod ids;
pub mod invoke;
pub mod metrics;
pub mod net;
pub mod oauth;
pub mod proxy;
pub mod scheduler;
pub mod sessions;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod workspaces;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
pub use http::router;
pub use state::AppState;
pub use workspaces::create_workspace;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::store::{PostgresStore, SqliteStore, Store};

/// Opens the store named by `database_url`: `sqlite://path` (the embedded default) or
/// `postgres://…` / `postgresql://…` (shared by replicas), caching accounts for `account_cache`
/// (zero: not at all).
pub async fn open_store(database_url: &str, account_cache: Duration) -> anyhow::Result<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        if let Some(dir) = database_url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .and_then(|path| std::path::Path::new(path).parent())
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        return Ok(Arc::new(SqliteStore::open(database_url, account_cache).await?));
    }
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::open(database_url, account_cache).await?));
    }
    anyhow::bail!("unsupported database URL scheme (expected sqlite://… or postgres://…)")
}

/// Loads everything `config` points at: master keys, catalog, store. Each failure names what it
/// was loading, so the operator knows which setting to fix.
pub async fn build_state(config: Config) -> anyhow::Result<Arc<AppState>> {
    let keyring = Keyring::parse(&config.master_keys(|name| std::env::var(name).ok())?)
        .context("master keys (PATCHBAY_MASTER_KEYS or master_keys_file)")?;
    let catalog = if config.builtin_catalog {
        // Beside the built-in apps an operator catalog is optional, unless the operator named one.
        let named = config.catalog != std::path::Path::new(config::DEFAULT_CATALOG);
        Catalog::load_with_builtin((named || config.catalog.exists()).then_some(config.catalog.as_path()))?
    } else {
        Catalog::load(&config.catalog)?
    };
    let account_cache = Duration::from_secs(config.account_cache_seconds);
    let store = open_store(&config.database_url, account_cache).await.with_context(|| {
        format!(
            "database {} (database_url) cannot be opened or reached",
            without_password(&config.database_url)
        )
    })?;
    AppState::new(config, catalog, store, keyring)
}

/// `url` with its password masked, for messages.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(state: Arc<AppState>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(state.config.listen)
        .await
        .with_context(|| format!("binding {}", state.config.listen))?
        // Answers go out whole in one write; Nagle's algorithm would only hold them back.
        .tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!(error = %err, "cannot set TCP_NODELAY on an accepted connection");
            }
        });
    let public_url = state.config.public_url();
    tracing::info!(%public_url, apps = state.catalog.apps().count(), "patchbay broker listening");
    println!("patchbay-broker listening on {public_url}");
    let timeout = std::time::Duration::from_secs(state.config.webhook_timeout_seconds);
    let sender = webhooks::SenderSettings { timeout, ..webhooks::SenderSettings::default() };
    tokio::spawn(webhooks::run_sender(state.clone(), sender));
    if state.config.background_refresh_interval_seconds > 0 {
        tokio::spawn(scheduler::run(state.clone()));
    }
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
