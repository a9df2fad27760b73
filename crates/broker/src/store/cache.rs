//! The accounts an invoke needs, from memory: reading them through the database was half of an
//! invoke's CPU. An entry holds one owner's accounts for one app as stored; each record's
//! credentials are decrypted on first use and wiped when the entry goes (see
//! [`crate::credentials::StoredCredentials`]).
//!
//! Every account write forgets what it changed, here and in every other process sharing the
//! database, before the write returns (see [`Coherence`]). As a fallback bound, no entry is used
//! longer than the configured lifetime after it was read, nor kept longer than two lifetimes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::channel::{Channel, Fence};
use super::sqlite::DataVersion;
use super::{AccountRecord, Owner};

/// Entries kept before expired ones are swept (and, if that is not enough, all are dropped).
const MAX_ENTRIES: usize = 100_000;

/// How other processes' writes reach this cache.
pub enum Coherence {
    /// No other process can write (the cache is off, or the database lives in this process).
    Local,
    /// A SQLite file other processes may write: its data version moves on every commit.
    SqliteFile(DataVersion),
    /// PostgreSQL: changes are announced with NOTIFY and acknowledged by every replica.
    Postgres(Arc<Channel>),
}

/// What an account write changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Changed {
    /// One account (refreshed, marked, deleted).
    Account(String),
    /// An owner's accounts for an app (one may have been added): the [`key`].
    Accounts(String),
}

/// The cache key of an owner's accounts for an app. Workspace and app ids never contain NUL, so
/// the key is unambiguous whatever the user id holds.
pub fn key(owner: &Owner, app_id: &str) -> String {
    [owner.workspace_id.as_str(), owner.user_id.as_str(), app_id].join("\0")
}

/// Owners' accounts per app, for at most `lifetime` each.
pub struct AccountCache {
    lifetime: Duration,
    entries: Mutex<Entries>,
    coherence: Coherence,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Entry>,
    /// The entry holding each account, for changes named by account id.
    key_of: HashMap<String, String>,
    /// Bumped by every forget: a read that began before may have missed the change, so its result
    /// is not kept.
    generation: u64,
}

struct Entry {
    accounts: Arc<[AccountRecord]>,
    read_at: Instant,
}

/// Taken before a database read whose result may be kept.
pub struct Ticket {
    /// Whether changes reach this cache now (what is read otherwise may miss one).
    heard: bool,
    generation: u64,
    read_at: Instant,
}

impl AccountCache {
    /// A cache keeping entries `lifetime` long (zero turns it off) and learning other processes'
    /// writes through `coherence`.
    pub fn new(lifetime: Duration, coherence: Coherence) -> AccountCache {
        AccountCache { lifetime, entries: Mutex::default(), coherence }
    }

    /// A cache as [`AccountCache::new`] that also drops its expired entries every `lifetime`, on a
    /// task of its own that ends when the cache goes. Without it, an entry nothing reads again
    /// would keep its credentials, decrypted by the call that read it, until the account's next
    /// write.
    pub fn swept(lifetime: Duration, coherence: Coherence) -> Arc<AccountCache> {
        let cache = Arc::new(AccountCache::new(lifetime, coherence));
        if !lifetime.is_zero() {
            tokio::spawn(sweep(Arc::downgrade(&cache), lifetime));
        }
        cache
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached accounts of `key`, if they may be used.
    pub fn get(&self, key: &str) -> Option<Arc<[AccountRecord]>> {
        if self.lifetime.is_zero() || !self.current() {
            return None;
        }
        let entries = self.entries();
        let entry = entries.by_key.get(key)?;
        (entry.read_at.elapsed() < self.lifetime).then(|| entry.accounts.clone())
    }

    /// Whether entries reflect every committed write, forgetting them all when they may not.
    fn current(&self) -> bool {
        match &self.coherence {
            Coherence::Local => true,
            Coherence::SqliteFile(version) => version.current(|| self.forget_all()),
            Coherence::Postgres(channel) => channel.trusted(),
        }
    }

    /// Call before reading what [`AccountCache::put`] may keep.
    pub fn ticket(&self) -> Ticket {
        let heard = match &self.coherence {
            Coherence::Postgres(channel) => channel.trusted(),
            Coherence::Local | Coherence::SqliteFile(_) => true,
        };
        Ticket { heard, generation: self.entries().generation, read_at: Instant::now() }
    }

    /// Keeps `accounts` as read under `ticket`, unless something was forgotten since.
    pub fn put(&self, ticket: Ticket, key: String, accounts: Vec<AccountRecord>) -> Arc<[AccountRecord]> {
        let accounts: Arc<[AccountRecord]> = accounts.into();
        if self.lifetime.is_zero() || !ticket.heard {
            return accounts;
        }
        let mut entries = self.entries();
        if entries.generation != ticket.generation {
            return accounts;
        }
        if entries.by_key.len() >= MAX_ENTRIES {
            entries.drop_expired(self.lifetime);
            if entries.by_key.len() >= MAX_ENTRIES {
                entries.drop_all();
            }
        }
        for account in accounts.iter() {
            entries.key_of.insert(account.id.clone(), key.clone());
        }
        entries.by_key.insert(key, Entry { accounts: accounts.clone(), read_at: ticket.read_at });
        accounts
    }

    /// Forgets what `changed` names.
    pub fn forget(&self, changed: &Changed) {
        let mut entries = self.entries();
        entries.generation += 1;
        let key = match changed {
            Changed::Accounts(key) => Some(key.clone()),
            Changed::Account(id) => entries.key_of.remove(id),
        };
        if let Some(entry) = key.and_then(|key| entries.by_key.remove(&key)) {
            for account in entry.accounts.iter() {
                entries.key_of.remove(&account.id);
            }
        }
    }

    /// Forgets everything (changes may have been missed).
    pub fn forget_all(&self) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.drop_all();
    }

    /// Starts a write that changes `changed`. Announce it inside the write's transaction (on
    /// PostgreSQL), commit, then await [`Pending::applied`] before answering.
    pub fn change(&self, changed: Changed) -> Pending<'_> {
        let fence = match &self.coherence {
            Coherence::Postgres(channel) => Some(channel.announce(&changed)),
            _ => None,
        };
        Pending { cache: self, changed, fence }
    }
}

impl Entries {
    /// Drops the entries older than `lifetime`, and their accounts' ids.
    fn drop_expired(&mut self, lifetime: Duration) {
        let Entries { by_key, key_of, .. } = self;
        by_key.retain(|_, entry| entry.read_at.elapsed() < lifetime);
        key_of.retain(|_, key| by_key.contains_key(key));
    }

    /// Drops every entry.
    fn drop_all(&mut self) {
        self.by_key.clear();
        self.key_of.clear();
    }
}

/// Drops the expired entries of `cache` every `lifetime` while it exists (see
/// [`AccountCache::swept`]). A pass holds the lock the invoke path takes while it looks at every
/// entry: a few milliseconds at [`MAX_ENTRIES`], once a lifetime.
async fn sweep(cache: Weak<AccountCache>, lifetime: Duration) {
    let mut ticks = tokio::time::interval_at(Instant::now() + lifetime, lifetime);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(live) = cache.upgrade() else { return };
        live.entries().drop_expired(lifetime);
    }
}

/// An account write in progress.
pub struct Pending<'a> {
    cache: &'a AccountCache,
    changed: Changed,
    fence: Option<Fence>,
}

impl Pending<'_> {
    /// The NOTIFY payload to send inside the write's transaction, if other processes must hear of
    /// it that way.
    pub fn announcement(&self) -> Option<&str> {
        self.fence.as_ref().map(Fence::payload)
    }

    /// After the commit: forgets the change here and waits until every other replica has (or
    /// can no longer use what it had cached).
    pub async fn applied(self) {
        self.cache.forget(&self.changed);
        if let Some(fence) = self.fence {
            fence.passed().await;
        } else if let Coherence::SqliteFile(_) = self.cache.coherence {
            tokio::time::sleep(DataVersion::SETTLE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::StoredCredentials;
    use crate::crypto::Sealed;

    fn record(id: &str) -> AccountRecord {
        AccountRecord {
            id: id.into(),
            app_id: "app".into(),
            display_name: id.into(),
            status: patchbay_protocol::AccountStatus::Active,
            credentials: StoredCredentials::new(Sealed { key_id: "k".into(), blob: vec![1, 2, 3] }),
            version: 1,
            created_at: 0,
            updated_at: 0,
            access_expires_at: None,
            oauth_client_id: None,
        }
    }

    fn cache() -> AccountCache {
        AccountCache::new(Duration::from_secs(60), Coherence::Local)
    }

    #[test]
    fn a_change_to_an_account_forgets_its_owners_entry_only() {
        let cache = cache();
        cache.put(cache.ticket(), "a".into(), vec![record("ca_1"), record("ca_2")]);
        cache.put(cache.ticket(), "b".into(), vec![record("ca_3")]);
        cache.forget(&Changed::Account("ca_2".into()));
        assert!(cache.get("a").is_none());
        assert_eq!(cache.get("b").expect("kept").len(), 1);
        cache.forget(&Changed::Accounts("b".into()));
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = cache();
        let ticket = cache.ticket();
        cache.forget(&Changed::Account("ca_unrelated".into()));
        cache.put(ticket, "a".into(), vec![record("ca_1")]);
        assert!(cache.get("a").is_none(), "read before the change, so possibly stale");
        cache.put(cache.ticket(), "a".into(), vec![record("ca_1")]);
        assert!(cache.get("a").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn entries_are_used_for_their_lifetime_only() {
        let cache = cache();
        cache.put(cache.ticket(), "a".into(), Vec::new());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(cache.get("a").is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(cache.get("a").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_dropped_with_their_credentials_even_when_never_read_again() {
        let lifetime = Duration::from_secs(60);
        let cache = AccountCache::swept(lifetime, Coherence::Local);
        let first = Arc::downgrade(&cache.put(cache.ticket(), "a".into(), vec![record("ca_1")]));
        // The clock is paused: each sleep moves it on, the sweep's due ticks running first.
        tokio::time::sleep(lifetime - Duration::from_secs(1)).await;
        assert!(first.upgrade().is_some(), "kept while usable");
        let second = Arc::downgrade(&cache.put(cache.ticket(), "b".into(), vec![record("ca_2")]));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(first.upgrade().is_none(), "dropped by the first sweep after it expired");
        assert!(second.upgrade().is_some() && cache.get("b").is_some(), "a usable entry is kept");
        tokio::time::sleep(lifetime).await;
        assert!(second.upgrade().is_none(), "dropped within two lifetimes of its read");
        assert!(cache.entries().key_of.is_empty());
        let swept = Arc::downgrade(&cache);
        drop(cache);
        assert!(swept.upgrade().is_none(), "the sweep keeps no hold on the cache between passes");
    }

    #[test]
    fn a_lifetime_of_zero_keeps_nothing() {
        let cache = AccountCache::new(Duration::ZERO, Coherence::Local);
        cache.put(cache.ticket(), "a".into(), vec![record("ca_1")]);
        assert!(cache.get("a").is_none());
    }
}
