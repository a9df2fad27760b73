//! PostgreSQL storage against a real server (the throwaway cluster `cargo xtask test` starts and
//! exports as `PATCHBAY_TEST_POSTGRES_URL`; without it these tests fail, they never skip).
//!
//! Every [`Store`] contract runs on both backends, SQLite (a temporary file) and PostgreSQL (a
//! fresh database per test), as `sqlite::<check>` and `postgres::<check>`; then two broker
//! processes share a PostgreSQL database: the refresh scenario of `tests/replicas.rs`, the
//! background refresher renewing an idle token once, and each webhook delivered once.

mod support;

#[path = "postgres/contract.rs"]
mod contract;

use std::sync::Arc;
use std::time::Duration;

use patchbay_broker::open_store;
use patchbay_broker::store::Store;
use support::replicas::{
    background_refresh_once_across_two_processes, refresh_once_across_two_processes,
    two_replicas_deliver_each_event_once,
};

/// The account cache lifetime of every store under test (the broker's default).
const ACCOUNT_CACHE: Duration = Duration::from_secs(2);

/// A store under test, on a database of its own.
pub struct Fixture {
    /// The store.
    pub store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Fixture { store: open_store(&url, ACCOUNT_CACHE).await.expect("sqlite store"), url, _dir: Some(dir) }
    }

    async fn postgres() -> Fixture {
        let url = support::postgres::fresh_database().await;
        Fixture { store: open_store(&url, ACCOUNT_CACHE).await.expect("postgres store"), url, _dir: None }
    }

    /// A second store on the same database, with its own connection pool (another replica).
    pub async fn another_handle(&self) -> Arc<dyn Store> {
        open_store(&self.url, ACCOUNT_CACHE).await.expect("second store")
    }
}

/// `sqlite::<check>` and `postgres::<check>` for every check in [`contract`].
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    crate::contract::$check(&crate::Fixture::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    crate::contract::$check(&crate::Fixture::postgres().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    workspaces,
    accounts_upsert_per_slot,
    accounts_reconnect_by_id,
    accounts_scoped_reads_and_deletes,
    attempts_claim_once,
    attempts_expire,
    test_attempt_step_logs,
    leases,
    needs_reauth_only_at_the_given_version,
    app_settings,
    own_clients,
    admin_sessions,
    cached_accounts_follow_every_write_at_once,
    concurrent_connects_share_one_slot,
    concurrent_callbacks_claim_once,
    concurrent_leases_have_one_holder,
    outbox_rows_go_to_one_sender_at_a_time_and_keep_their_id,
    background_refresh_selection_and_failure_series,
);

#[tokio::test]
async fn open_store_takes_both_postgres_schemes_and_names_what_it_supports() {
    let url = support::postgres::fresh_database().await;
    let alias = url.replacen("postgres://", "postgresql://", 1);
    open_store(&alias, ACCOUNT_CACHE).await.expect("postgresql:// opens").ping().await.expect("ping");
    let unsupported =
        open_store("mysql://localhost/patchbay", ACCOUNT_CACHE).await.err().expect("mysql is refused");
    assert!(unsupported.to_string().contains("postgres://"), "{unsupported}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_broker_processes_on_one_postgres_database_refresh_an_expired_token_once() {
    let url = support::postgres::fresh_database().await;
    refresh_once_across_two_processes(|_| url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_broker_processes_on_postgres_refresh_an_idle_token_once_in_the_background() {
    let url = support::postgres::fresh_database().await;
    background_refresh_once_across_two_processes(|_| url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_broker_processes_on_postgres_deliver_each_webhook_once() {
    let url = support::postgres::fresh_database().await;
    two_replicas_deliver_each_event_once(|_| url).await;
}
