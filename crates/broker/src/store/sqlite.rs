//! SQLite storage (the embedded default): one file, WAL mode, migrations at start-up. The queries
//! are shared with PostgreSQL (see [`sql`](super::sql)).

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        Ok(SqliteStore { pool, cache: AccountCache::swept(account_cache, coherence) })
    }
}

/// SQLite's `data_version` of a database file, read on a connection of its own: it moves whenever
/// another connection (of this process or another) commits. The read runs on the calling thread,
/// where a query through the pool hops to a worker thread and back; it still takes two `fcntl`
/// locks and ~10 µs, so it runs at most once per [`DataVersion::INTERVAL`], and account writes
/// wait [`DataVersion::SETTLE`] after their commit: by then every process has looked again.
pub struct DataVersion {
    /// When the last look that left the cache current began, in nanoseconds since `epoch` (0:
    /// none yet). Read without the lock, so calls between looks do not queue behind one.
    current_since: AtomicU64,
    epoch: Instant,
    looked: Mutex<Looked>,
}

struct Looked {
    connection: rusqlite::Connection,
    version: Option<i64>,
}

impl DataVersion {
    /// The longest a process goes without reading the data version while it uses its cache.
    pub const INTERVAL: Duration = Duration::from_millis(1);
    /// How long an account write waits after its commit before it answers.
    pub const SETTLE: Duration = Duration::from_millis(2);

    fn open(file: &Path) -> StoreResult<DataVersion> {
        let connection = rusqlite::Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError(e.to_string()))?;
        Ok(DataVersion {
            current_since: AtomicU64::new(0),
            epoch: Instant::now(),
            looked: Mutex::new(Looked { connection, version: None }),
        })
    }

    /// Whether what was cached before reflects every commit, after running `forget` if something
    /// may have been committed since the last look; `false` when the version cannot be read.
    /// `forget` runs before any other caller is told the cache is current again.
    pub fn current(&self, forget: impl FnOnce()) -> bool {
        if self.looked_within_interval() {
            return true;
        }
        let mut looked = self.looked.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another caller may have looked while this one waited for the lock.
        if self.looked_within_interval() {
            return true;
        }
        // Taken before the read: a commit before this instant is certainly seen by it.
        let started = self.epoch.elapsed();
        let Ok(version) = looked
            .connection
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)))
        else {
            return false;
        };
        if looked.version != Some(version) {
            forget();
            looked.version = Some(version);
        }
        let nanos = u64::try_from(started.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.current_since.store(nanos, Ordering::Release);
        true
    }

    fn looked_within_interval(&self) -> bool {
        let since = self.current_since.load(Ordering::Acquire);
        since != 0 && self.epoch.elapsed().saturating_sub(Duration::from_nanos(since)) < Self::INTERVAL
    }
}
