//! SQLite storage (the embedded default): one file, WAL mode, migrations at start-up. The queries
//! are shared with PostgreSQL (see [`sql`](super::sql)).

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::cache::{AccountCache, Coherence};
use super::{StoreError, StoreResult};

/// SQLite-backed [`Store`](super::Store).
#[derive(Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    pub(super) cache: Arc<AccountCache>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/file.db`) and migrates it.
    /// Accounts are cached for `account_cache` (zero: not at all).
    pub async fn open(url: &str, account_cache: Duration) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let file = options.get_filename().to_owned();
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let in_memory = file.as_os_str().is_empty() || file == Path::new(":memory:");
        let coherence = if account_cache.is_zero() || in_memory {
            Coherence::Local
        } else {
            Coherence::SqliteFile(DataVersion::open(&file)?)
        };
        Ok(SqliteStore { pool, cache: Arc::new(AccountCache::new(account_cache, coherence)) })
    }
}

/// SQLite's `data_version` of a database file, read on a connection of its own: it moves whenever
/// another connection (of this process or another) commits. The read runs on the calling thread
/// in about a microsecond, where a query through the pool hops to a worker thread and back.
pub struct DataVersion {
    connection: Mutex<rusqlite::Connection>,
    seen: AtomicI64,
}

impl DataVersion {
    fn open(file: &Path) -> StoreResult<DataVersion> {
        let connection = rusqlite::Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError(e.to_string()))?;
        let version = DataVersion { connection: Mutex::new(connection), seen: AtomicI64::new(0) };
        version.changed();
        Ok(version)
    }

    /// Whether anything was committed since the last call; `None` when the version cannot be read.
    pub fn changed(&self) -> Option<bool> {
        let connection = self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current: i64 = connection
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .ok()?;
        Some(self.seen.swap(current, Ordering::Relaxed) != current)
    }
}
