//! PostgreSQL storage, for several broker replicas sharing one database. The queries are shared
//! with SQLite (see [`sql`](super::sql)); cross-replica coordination (one-time OAuth state, the
//! refresh lease, compare-and-swap on the account version) is single statements on the shared rows.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::StoreResult;

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
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates the schema
    /// (replicas starting together are serialised by the migrator's advisory lock).
    pub async fn open(url: &str) -> StoreResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url)?.application_name("patchbay-broker");
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(IDLE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}
