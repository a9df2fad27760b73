//! How replicas sharing a PostgreSQL database keep their account caches current.
//!
//! - A write announces what it changed with `pg_notify` inside its transaction, so the
//!   announcement goes out exactly when the change commits.
//! - Every replica listens, forgets what an announcement names and acknowledges it to the writer.
//! - The writer answers only once every live replica acknowledged, or once the cache lifetime has
//!   passed since the commit: a replica that missed the announcement has stopped using what it
//!   read before by then. So no replica calls an app with credentials another replica has already
//!   answered for as disconnected or refused.
//! - A replica uses its cache only while its own heartbeats come back through the channel, and
//!   keeps only what it read while they did: when its listening connection breaks, its cache goes
//!   unused within one lifetime, and it forgets everything on reconnecting, since announcements
//!   sent meanwhile are lost.
//! - The replicas a writer waits for are those listening when it looks (their listening
//!   connections carry the application name `patchbay-cache-<replica>`, which `pg_stat_activity`
//!   lists) and those it heard a heartbeat from within one lifetime (a replica whose listening
//!   connection broke without its noticing yet).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::cache::{AccountCache, Changed, Coherence};
use super::StoreResult;

/// The channel every replica listens on.
pub const CHANNEL: &str = "patchbay_accounts";
/// Heartbeats per cache lifetime.
const HEARTBEATS_PER_LIFETIME: u32 = 4;
/// How long a broken listening connection waits before connecting again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);

/// One message on [`CHANNEL`] (announcement or heartbeat) or on a writer's acknowledgement channel.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    /// The sending replica.
    from: String,
    /// The announcement (or heartbeat) number, per sender.
    seq: u64,
    /// What changed; absent in heartbeats and acknowledgements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changed: Option<Changed>,
}

/// This replica's end of the channel.
pub struct Channel {
    replica: String,
    lifetime: Duration,
    pool: PgPool,
    next_seq: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Other replicas, and when each was last heard from.
    peers: HashMap<String, Instant>,
    /// Writes of this replica waiting for acknowledgements.
    waiting: HashMap<u64, Waiter>,
    /// Heartbeats sent and not yet back, with their send times.
    heartbeats: VecDeque<(u64, Instant)>,
    /// The cache may be used until then.
    trusted_until: Option<Instant>,
}

struct Waiter {
    /// The replicas heard from within a lifetime when the announcement came back to its writer;
    /// none until it did.
    heard: Option<Vec<String>>,
    acknowledged: HashSet<String>,
    wake: Arc<Notify>,
}

impl Channel {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn acknowledgements(&self) -> String {
        format!("patchbay_acks_{}", self.replica)
    }

    /// True while this replica's heartbeats come back, so it hears every announcement.
    pub fn trusted(&self) -> bool {
        self.state().trusted_until.is_some_and(|until| Instant::now() < until)
    }

    /// Registers an announcement of `changed`; send its payload inside the write's transaction.
    pub fn announce(self: &Arc<Self>, changed: &Changed) -> Fence {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let message = Message { from: self.replica.clone(), seq, changed: Some(changed.clone()) };
        let waiter = Waiter { heard: None, acknowledged: HashSet::new(), wake: Arc::new(Notify::new()) };
        self.state().waiting.insert(seq, waiter);
        let payload = serde_json::to_string(&message).unwrap_or_default();
        Fence { channel: self.clone(), seq, payload }
    }

    /// Handles one notification; returns the acknowledgement to send back, if any.
    fn receive(&self, cache: &AccountCache, channel: &str, payload: &str) -> Option<(String, String)> {
        let Ok(message) = serde_json::from_str::<Message>(payload) else {
            tracing::warn!(channel, "ignoring an unreadable account-cache notification");
            return None;
        };
        let now = Instant::now();
        let mut state = self.state();
        if channel != CHANNEL {
            if let Some(waiter) = state.waiting.get_mut(&message.seq) {
                waiter.acknowledged.insert(message.from);
                waiter.wake.notify_one();
            }
            return None;
        }
        if message.from != self.replica {
            state.peers.insert(message.from.clone(), now);
            drop(state);
            let changed = message.changed?;
            cache.forget(&changed);
            let ack = Message { from: self.replica.clone(), seq: message.seq, changed: None };
            return Some((format!("patchbay_acks_{}", message.from), serde_json::to_string(&ack).ok()?));
        }
        if message.changed.is_some() {
            let lifetime = self.lifetime;
            let alive: Vec<String> = state
                .peers
                .iter()
                .filter(|(_, heard)| now.duration_since(**heard) < lifetime)
                .map(|(peer, _)| peer.clone())
                .collect();
            if let Some(waiter) = state.waiting.get_mut(&message.seq) {
                waiter.heard = Some(alive);
                waiter.wake.notify_one();
            }
        } else {
            while let Some((seq, sent)) = state.heartbeats.pop_front() {
                if seq == message.seq {
                    state.trusted_until = Some(sent + self.lifetime);
                    break;
                }
            }
        }
        None
    }

    /// Stops trusting the cache (the listening connection broke) and forgets it.
    fn lost(&self, cache: &AccountCache) {
        let mut state = self.state();
        state.trusted_until = None;
        state.heartbeats.clear();
        drop(state);
        cache.forget_all();
    }

    async fn heartbeat(&self) -> StoreResult<()> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = self.state();
            state.heartbeats.push_back((seq, Instant::now()));
            while state.heartbeats.len() > HEARTBEATS_PER_LIFETIME as usize {
                state.heartbeats.pop_front();
            }
            let lifetime = self.lifetime;
            state.peers.retain(|_, heard| heard.elapsed() < lifetime);
        }
        let message = Message { from: self.replica.clone(), seq, changed: None };
        notify(&self.pool, CHANNEL, &serde_json::to_string(&message).unwrap_or_default()).await
    }
}

/// The application name of a replica's listening connection.
fn application_name(replica: &str) -> String {
    format!("patchbay-cache-{replica}")
}

/// The other replicas with a listening connection open now.
async fn listening(pool: &PgPool, me: &str) -> StoreResult<Vec<String>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT application_name FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name LIKE 'patchbay-cache-%'",
    )
    .fetch_all(pool)
    .await?;
    Ok(names
        .into_iter()
        .filter_map(|name| name.strip_prefix("patchbay-cache-").map(str::to_owned))
        .filter(|replica| replica != me)
        .collect())
}

async fn notify(pool: &PgPool, channel: &str, payload: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(pool).await?;
    Ok(())
}

/// A write's announcement, from its registration to its acknowledgement.
pub struct Fence {
    channel: Arc<Channel>,
    seq: u64,
    payload: String,
}

impl Fence {
    /// The NOTIFY payload.
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// Waits until every replica listening or heard from acknowledged, or one cache lifetime.
    pub async fn passed(self) {
        let deadline = Instant::now() + self.channel.lifetime;
        let mut listening_now: Option<Vec<String>> = None;
        loop {
            match self.progress(listening_now.as_deref()) {
                Progress::Done => return,
                Progress::Echoed => {
                    match listening(&self.channel.pool, &self.channel.replica).await {
                        Ok(replicas) => listening_now = Some(replicas),
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot list the listening replicas");
                            tokio::time::sleep_until(deadline).await;
                            return;
                        }
                    }
                    continue;
                }
                Progress::Waiting => {}
            }
            let Some(wake) = self.wake() else { return };
            if tokio::time::timeout_at(deadline, wake.notified()).await.is_err() {
                tracing::warn!(
                    "not every replica acknowledged an account change; waited the account cache lifetime instead"
                );
                return;
            }
        }
    }

    /// How far the announcement got, given the replicas listening (once known).
    fn progress(&self, listening: Option<&[String]>) -> Progress {
        let state = self.channel.state();
        let Some(waiter) = state.waiting.get(&self.seq) else { return Progress::Done };
        match (&waiter.heard, listening) {
            (None, _) => Progress::Waiting,
            (Some(_), None) => Progress::Echoed,
            (Some(heard), Some(listening)) => {
                if heard.iter().chain(listening).all(|peer| waiter.acknowledged.contains(peer)) {
                    Progress::Done
                } else {
                    Progress::Waiting
                }
            }
        }
    }

    fn wake(&self) -> Option<Arc<Notify>> {
        self.channel.state().waiting.get(&self.seq).map(|waiter| waiter.wake.clone())
    }
}

enum Progress {
    /// Not back to its writer yet, or not acknowledged by everyone yet.
    Waiting,
    /// Back to its writer: the listening replicas can be listed.
    Echoed,
    /// Acknowledged by everyone.
    Done,
}

impl Drop for Fence {
    fn drop(&mut self) {
        self.channel.state().waiting.remove(&self.seq);
    }
}

/// Starts listening for `cache`'s channel, returning once the first listen is in place; the
/// listener and the heartbeats run until the cache is dropped.
pub async fn start(
    pool: PgPool,
    options: PgConnectOptions,
    lifetime: Duration,
) -> StoreResult<Arc<AccountCache>> {
    let replica = crate::ids::random_token(12).to_ascii_lowercase().replace(['-', '_'], "x");
    let channel =
        Arc::new(Channel { replica, lifetime, pool, next_seq: AtomicU64::new(1), state: Mutex::default() });
    // One connection of its own, named so that writers can see this replica listens.
    let listening_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options.application_name(&application_name(&channel.replica)));
    let mut listener = PgListener::connect_with(&listening_pool).await?;
    listener.listen_all([CHANNEL, channel.acknowledgements().as_str()]).await?;
    let cache = AccountCache::swept(lifetime, Coherence::Postgres(channel.clone()));
    tokio::spawn(listen(listener, Arc::downgrade(&cache), channel.clone()));
    tokio::spawn(beat(Arc::downgrade(&cache), channel));
    Ok(cache)
}

async fn listen(mut listener: PgListener, cache: Weak<AccountCache>, channel: Arc<Channel>) {
    loop {
        let received = listener.try_recv().await;
        let Some(cache) = cache.upgrade() else { return };
        match received {
            Ok(Some(notification)) => {
                if let Some((to, ack)) =
                    channel.receive(&cache, notification.channel(), notification.payload())
                {
                    let pool = channel.pool.clone();
                    tokio::spawn(async move {
                        if let Err(err) = notify(&pool, &to, &ack).await {
                            tracing::warn!(error = %err, "could not acknowledge an account change");
                        }
                    });
                }
            }
            Ok(None) => channel.lost(&cache),
            Err(err) => {
                tracing::warn!(error = %err, "account-change listener lost its connection; reconnecting");
                channel.lost(&cache);
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    }
}

async fn beat(cache: Weak<AccountCache>, channel: Arc<Channel>) {
    let mut every = tokio::time::interval(channel.lifetime / HEARTBEATS_PER_LIFETIME);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if cache.strong_count() == 0 {
            return;
        }
        if let Err(err) = channel.heartbeat().await {
            tracing::warn!(error = %err, "account-cache heartbeat failed");
        }
    }
}
