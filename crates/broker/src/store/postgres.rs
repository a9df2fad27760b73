//! PostgreSQL storage, for several broker replicas sharing one database. The queries are shared
//! with SQLite (see [`sql`](super::sql)); cross-replica coordination (one-time OAuth state, the
//! refresh lease, compare-and-swap on the account version) is single statements on the shared rows.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::cache::{AccountCache, Coherence};
use super::{channel, StoreResult};

/// Connections per broker process. Replicas multiply it: keep `replicas × POOL_SIZE` under the
/// server's `max_connections` (100 by default).
pub const POOL_SIZE: u32 = 10;
/// How long a query may wait for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections are closed after this long, so a quiet replica gives its share back.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// PostgreSQL-backed [`Store`](super::Store).
#[derive(Clone)]
pub struct PostgresStore {
    pub(super) pool: PgPool,
    pub(super) cache: Arc<AccountCache>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates the schema
    /// (replicas starting together are serialised by the migrator's advisory lock). Accounts are
    /// cached for `account_cache` (zero: not at all), kept current across replicas through
    /// [`channel`].
    pub async fn open(url: &str, account_cache: Duration) -> StoreResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url)?.application_name("patchbay-broker");
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(IDLE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let cache = if account_cache.is_zero() {
            Arc::new(AccountCache::new(account_cache, Coherence::Local))
        } else {
            channel::start(pool.clone(), options, account_cache).await?
        };
        Ok(PostgresStore { pool, cache })
    }
}
