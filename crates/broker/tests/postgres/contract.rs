//! The [`Store`] contract, one check per area, each on a fresh database. Every check holds for
//! every backend: the doc comments of the trait are the specification.

use patchbay_broker::crypto::Sealed;
use patchbay_broker::ids::now_unix;
use patchbay_broker::store::{
    AccountRecord, AppSettings, AttemptPurpose, AttemptRecord, Attempted, Claim, NewCredentials, Owner,
    Store, StoredClient, Target, Workspace,
};
use patchbay_protocol::{AccountStatus, AccountsPolicy, AttemptError, AttemptStatus, ErrorCode};

use crate::Fixture;

/// How many racers the concurrency checks start, split between two store handles.
const RACERS: usize = 20;

/// A ciphertext stand-in: the store keeps bytes, including NUL and non-UTF-8 ones, as they are.
fn sealed(tag: &str) -> Sealed {
    Sealed { key_id: "k1".into(), blob: [&[0u8, 0xff, 0x80][..], tag.as_bytes()].concat() }
}

fn credentials(app_id: &str, name: &str) -> NewCredentials {
    NewCredentials {
        app_id: app_id.into(),
        display_name: name.into(),
        credentials: sealed(name),
        access_expires_at: Some(1_900_000_000),
        oauth_client_id: Some("client-a".into()),
    }
}

async fn workspace(store: &dyn Store, name: &str) -> Workspace {
    let workspace =
        Workspace { id: format!("ws_{name}"), name: name.to_uppercase(), app_key: format!("pb_ak_{name}") };
    store.create_workspace(&workspace, format!("hash-{name}").as_bytes()).await.expect("workspace");
    workspace
}

fn owner(workspace: &Workspace, user: &str) -> Owner {
    Owner { workspace_id: workspace.id.clone(), user_id: user.into() }
}

async fn save(
    store: &dyn Store,
    owner: &Owner,
    target: Target,
    new: &NewCredentials,
) -> (AccountRecord, bool) {
    store.save_account(owner, &target, new).await.expect("save").expect("the target accepts the save")
}

fn slot(name: &str) -> Target {
    Target::Slot(name.into())
}

async fn account(store: &dyn Store, owner: &Owner, id: &str) -> AccountRecord {
    store.account(owner, id).await.expect("read").expect("account exists")
}

async fn ids(store: &dyn Store, owner: &Owner, app_id: Option<&str>) -> Vec<String> {
    store.accounts(owner, app_id).await.expect("accounts").into_iter().map(|a| a.id).collect()
}

fn pending_attempt(owner: &Owner, id: &str, expires_at: i64, purpose: AttemptPurpose) -> AttemptRecord {
    AttemptRecord {
        id: id.into(),
        owner: owner.clone(),
        app_id: "hubspot".into(),
        origin: Some("http://app.test".into()),
        return_to: None,
        verifier: sealed("verifier"),
        client_id: "client-a".into(),
        target_account_id: None,
        status: AttemptStatus::Pending,
        account_id: None,
        error: None,
        expires_at,
        purpose,
    }
}

pub async fn workspaces(f: &Fixture) {
    let s = f.store.as_ref();
    s.ping().await.expect("ping");
    let a = workspace(s, "a").await;
    assert_eq!(s.workspace_by_secret_hash(b"hash-a").await.expect("by hash"), Some(a.clone()));
    assert_eq!(s.workspace_by_secret_hash(b"hash-").await.expect("by hash"), None);
    assert_eq!(s.workspace(&a.id).await.expect("by id"), Some(a.clone()));
    assert_eq!(s.workspace("ws_b").await.expect("by id"), None);
    // Ids, app keys and secret hashes are unique.
    let clash = |id: &str, key: &str| Workspace { id: id.into(), name: "Clash".into(), app_key: key.into() };
    assert!(s.create_workspace(&clash("ws_a", "pb_ak_new"), b"hash-new").await.is_err());
    assert!(s.create_workspace(&clash("ws_new", "pb_ak_a"), b"hash-new").await.is_err());
    assert!(s.create_workspace(&clash("ws_new", "pb_ak_new"), b"hash-a").await.is_err());
    assert_eq!(s.workspace("ws_new").await.expect("by id"), None);
}

pub async fn accounts_upsert_per_slot(f: &Fixture) {
    let s = f.store.as_ref();
    let ws = workspace(s, "a").await;
    let (alice, bob) = (owner(&ws, "alice"), owner(&ws, "bob"));
    let before = now_unix();
    let (first, existed) = save(s, &alice, slot("one"), &credentials("hubspot", "first")).await;
    assert!(!existed, "an empty slot creates an account");
    assert!(first.id.starts_with("ca_"), "{}", first.id);
    assert_eq!(
        (
            first.app_id.as_str(),
            first.display_name.as_str(),
            &first.status,
            first.credentials.sealed(),
            first.version
        ),
        ("hubspot", "first", &AccountStatus::Active, &sealed("first"), 1)
    );
    assert_eq!(
        (first.access_expires_at, first.oauth_client_id.as_deref()),
        (Some(1_900_000_000), Some("client-a"))
    );
    assert!(first.created_at >= before && first.updated_at == first.created_at);

    // The same slot again updates in place, and makes a broken account usable again.
    assert!(s.mark_needs_reauth(&first.id, 1).await.expect("mark"));
    assert!(s.try_lease(&first.id, "h1", before, before + 90).await.expect("lease"));
    let second =
        NewCredentials { access_expires_at: None, oauth_client_id: None, ..credentials("hubspot", "second") };
    let (again, existed) = save(s, &alice, slot("one"), &second).await;
    assert!(existed, "a taken slot is updated");
    assert_eq!(
        (again.id.as_str(), again.version, &again.status),
        (first.id.as_str(), 2, &AccountStatus::Active)
    );
    assert_eq!((again.display_name.as_str(), again.credentials.sealed()), ("second", &sealed("second")));
    assert_eq!(
        (again.access_expires_at, again.oauth_client_id.as_deref(), again.created_at),
        (None, None, first.created_at)
    );
    assert!(
        s.try_lease(&first.id, "h2", before, before + 90).await.expect("lease"),
        "a save drops the lease"
    );
    assert_eq!(account(s, &alice, &first.id).await, again);

    // Another slot, another app or another user is another account.
    let (other_slot, existed) = save(s, &alice, slot("identity-2"), &credentials("hubspot", "third")).await;
    assert!(!existed && other_slot.id != first.id);
    let (other_app, existed) = save(s, &alice, slot("one"), &credentials("slack", "fourth")).await;
    assert!(!existed && other_app.id != first.id);
    let (other_user, existed) = save(s, &bob, slot("one"), &credentials("hubspot", "fifth")).await;
    assert!(!existed && other_user.id != first.id);
    assert_eq!(ids(s, &alice, Some("hubspot")).await, [first.id.clone(), other_slot.id]);
}

pub async fn accounts_reconnect_by_id(f: &Fixture) {
    let s = f.store.as_ref();
    let (ws, other_ws) = (workspace(s, "a").await, workspace(s, "b").await);
    let alice = owner(&ws, "alice");
    let (acc, _) = save(s, &alice, slot("one"), &credentials("hubspot", "v1")).await;
    let now = now_unix();
    assert!(s.mark_needs_reauth(&acc.id, acc.version).await.expect("mark"));
    assert!(s.try_lease(&acc.id, "h1", now, now + 90).await.expect("lease"));

    let (re, existed) = save(s, &alice, Target::Account(acc.id.clone()), &credentials("hubspot", "v2")).await;
    assert!(existed);
    assert_eq!(
        (re.id.as_str(), re.version, &re.status),
        (acc.id.as_str(), acc.version + 1, &AccountStatus::Active)
    );
    assert_eq!((re.display_name.as_str(), re.credentials.sealed()), ("v2", &sealed("v2")));
    assert!(s.try_lease(&acc.id, "h2", now, now + 90).await.expect("lease"), "a reconnect drops the lease");

    // Only the owner's own account of that app can be the target.
    let refused = [
        (owner(&ws, "bob"), acc.id.as_str(), "hubspot"),
        (owner(&other_ws, "alice"), acc.id.as_str(), "hubspot"),
        (alice.clone(), acc.id.as_str(), "slack"),
        (alice.clone(), "ca_missing", "hubspot"),
    ];
    for (who, id, app) in refused {
        let saved =
            s.save_account(&who, &Target::Account(id.into()), &credentials(app, "x")).await.expect("save");
        assert_eq!(saved, None, "{who:?} {id} {app}");
    }
    assert_eq!(account(s, &alice, &acc.id).await, re, "refused saves change nothing");
}

pub async fn accounts_scoped_reads_and_deletes(f: &Fixture) {
    let s = f.store.as_ref();
    let (ws, other_ws) = (workspace(s, "a").await, workspace(s, "b").await);
    let (alice, bob, alice_elsewhere) = (owner(&ws, "alice"), owner(&ws, "bob"), owner(&other_ws, "alice"));
    // Created within a second or so: oldest first still means in creation order.
    let mut created = Vec::new();
    for i in 0..5 {
        let app = if i == 2 { "slack" } else { "hubspot" };
        created.push(
            save(s, &alice, slot(&format!("slot-{i}")), &credentials(app, &format!("n{i}"))).await.0.id,
        );
    }
    // Updating an account in place does not move it.
    save(s, &alice, slot("slot-0"), &credentials("hubspot", "n0 again")).await;
    let bobs = save(s, &bob, slot("one"), &credentials("hubspot", "bob")).await.0.id;
    let elsewhere = save(s, &alice_elsewhere, slot("one"), &credentials("hubspot", "alice")).await.0.id;

    assert_eq!(ids(s, &alice, None).await, created);
    let hubspot: Vec<_> =
        created.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, id)| id.clone()).collect();
    assert_eq!(ids(s, &alice, Some("hubspot")).await, hubspot);
    assert_eq!(ids(s, &alice, Some("slack")).await, [created[2].clone()]);
    assert!(ids(s, &alice, Some("jira")).await.is_empty());
    assert_eq!(ids(s, &bob, None).await, [bobs]);
    assert_eq!(ids(s, &alice_elsewhere, None).await, [elsewhere]);

    let first = &created[0];
    for stranger in [&bob, &alice_elsewhere] {
        assert_eq!(s.account(stranger, first).await.expect("read"), None, "{stranger:?}");
        assert!(!s.delete_account(stranger, first).await.expect("delete"), "{stranger:?}");
    }
    assert!(s.account(&alice, first).await.expect("read").is_some(), "a stranger's delete changes nothing");
    assert!(s.delete_account(&alice, first).await.expect("delete"));
    assert!(!s.delete_account(&alice, first).await.expect("delete"), "already gone");
    assert_eq!(s.account(&alice, first).await.expect("read"), None);
    assert_eq!(ids(s, &alice, None).await, created[1..]);
}

pub async fn attempts_claim_once(f: &Fixture) {
    let s = f.store.as_ref();
    let (ws, other_ws) = (workspace(s, "a").await, workspace(s, "b").await);
    let alice = owner(&ws, "alice");
    let now = now_unix();
    let attempt = AttemptRecord {
        return_to: Some("http://app.test/settings".into()),
        target_account_id: Some("ca_reconnect".into()),
        ..pending_attempt(&alice, "att_1", now + 600, AttemptPurpose::Connect)
    };
    s.create_attempt(&attempt, b"state-1", now).await.expect("create");
    assert!(
        s.create_attempt(
            &pending_attempt(&alice, "att_x", now + 600, AttemptPurpose::Connect),
            b"state-1",
            now
        )
        .await
        .is_err(),
        "state hashes are unique"
    );
    assert_eq!(s.attempt(&alice, "att_1").await.expect("read"), Some(attempt.clone()));
    for stranger in [owner(&ws, "bob"), owner(&other_ws, "alice")] {
        assert_eq!(s.attempt(&stranger, "att_1").await.expect("read"), None, "{stranger:?}");
    }

    // Claimed once (a claimed attempt still reads as pending to the SDK), then already used.
    assert_eq!(s.claim_attempt(b"state-1", now).await.expect("claim"), Claim::Claimed(attempt.clone()));
    assert_eq!(s.attempt(&alice, "att_1").await.expect("read"), Some(attempt.clone()));
    assert_eq!(s.claim_attempt(b"state-1", now).await.expect("claim"), Claim::AlreadyUsed(attempt.clone()));
    assert_eq!(s.claim_attempt(b"state-unknown", now).await.expect("claim"), Claim::Unknown);

    s.finish_attempt("att_1", Ok("ca_1")).await.expect("finish");
    let connected = AttemptRecord {
        status: AttemptStatus::Connected,
        account_id: Some("ca_1".into()),
        ..attempt.clone()
    };
    assert_eq!(s.attempt(&alice, "att_1").await.expect("read"), Some(connected.clone()));
    assert_eq!(s.claim_attempt(b"state-1", now).await.expect("claim"), Claim::AlreadyUsed(connected));

    let second = pending_attempt(&alice, "att_2", now + 600, AttemptPurpose::Connect);
    s.create_attempt(&second, b"state-2", now).await.expect("create");
    assert!(matches!(s.claim_attempt(b"state-2", now).await.expect("claim"), Claim::Claimed(_)));
    for provider_error in [Some("access_denied".to_owned()), None] {
        let error =
            AttemptError { code: ErrorCode::CredentialsRejected, message: "denied".into(), provider_error };
        s.finish_attempt("att_2", Err(&error)).await.expect("finish");
        let failed = AttemptRecord { status: AttemptStatus::Failed, error: Some(error), ..second.clone() };
        assert_eq!(s.attempt(&alice, "att_2").await.expect("read"), Some(failed));
    }
}

pub async fn attempts_expire(f: &Fixture) {
    let s = f.store.as_ref();
    let alice = owner(&workspace(s, "a").await, "alice");
    let now = now_unix();
    let attempt = pending_attempt(&alice, "att_1", now + 10, AttemptPurpose::Connect);
    s.create_attempt(&attempt, b"state-1", now).await.expect("create");
    // Valid strictly before `expires_at`.
    assert_eq!(s.claim_attempt(b"state-1", now + 10).await.expect("claim"), Claim::Expired(attempt.clone()));
    assert_eq!(
        s.claim_attempt(b"state-1", now + 3600).await.expect("claim"),
        Claim::Expired(attempt.clone())
    );
    assert_eq!(
        s.attempt(&alice, "att_1").await.expect("read"),
        Some(attempt),
        "an expired claim changes nothing"
    );
}

pub async fn test_attempt_step_logs(f: &Fixture) {
    let s = f.store.as_ref();
    let (ws, other_ws) = (workspace(s, "a").await, workspace(s, "b").await);
    let alice = owner(&ws, "alice");
    let now = now_unix();
    let purpose = AttemptPurpose::Test { settings_hash: "h1".into() };
    let test = pending_attempt(&alice, "att_test", now + 600, purpose);
    s.create_attempt(&test, b"state-test", now).await.expect("create");
    assert_eq!(s.attempt(&alice, "att_test").await.expect("read"), Some(test));
    assert_eq!(s.step_log(&ws.id, "att_test").await.expect("log"), Some(("hubspot".into(), None)));
    let log = "1. authorize: ok\n2. token: ok";
    s.set_step_log("att_test", log).await.expect("set log");
    assert_eq!(
        s.step_log(&ws.id, "att_test").await.expect("log"),
        Some(("hubspot".into(), Some(log.into())))
    );
    assert_eq!(s.step_log(&other_ws.id, "att_test").await.expect("log"), None, "another workspace's");
    assert_eq!(s.step_log(&ws.id, "att_missing").await.expect("log"), None);

    let connect = pending_attempt(&alice, "att_connect", now + 600, AttemptPurpose::Connect);
    s.create_attempt(&connect, b"state-connect", now).await.expect("create");
    s.set_step_log("att_connect", "x").await.expect("set log");
    assert_eq!(s.step_log(&ws.id, "att_connect").await.expect("log"), None, "connects have no step log");
}

pub async fn leases(f: &Fixture) {
    let s = f.store.as_ref();
    let alice = owner(&workspace(s, "a").await, "alice");
    let (acc, _) = save(s, &alice, slot("one"), &credentials("hubspot", "v1")).await;
    let now = now_unix();
    let lease = |holder: &'static str, at: i64| {
        let id = acc.id.clone();
        async move { s.try_lease(&id, holder, at, at + 90).await.expect("lease") }
    };
    assert!(lease("h1", now).await);
    assert!(!lease("h2", now + 89).await, "a second holder waits while the lease runs");
    assert!(lease("h2", now + 90).await, "an expired lease is taken over");
    assert!(!s.try_lease("ca_missing", "h2", now, now + 90).await.expect("lease"));

    // The first holder lost the lease: it can neither store nor release.
    assert!(!s.store_refreshed(&acc.id, "h1", &sealed("by h1"), Some(1)).await.expect("store"));
    assert_eq!(account(s, &alice, &acc.id).await, acc, "a lost lease stores nothing");
    s.release_lease(&acc.id, "h1").await.expect("release");
    assert!(!lease("h3", now + 91).await, "a former holder's release is a no-op");

    // The holder stores, which bumps the version and releases the lease.
    let expires = now + 3600;
    assert!(s.store_refreshed(&acc.id, "h2", &sealed("by h2"), Some(expires)).await.expect("store"));
    let refreshed = account(s, &alice, &acc.id).await;
    assert_eq!(
        (refreshed.version, refreshed.credentials.sealed(), refreshed.access_expires_at),
        (acc.version + 1, &sealed("by h2"), Some(expires))
    );
    assert_eq!((refreshed.display_name.as_str(), &refreshed.status), ("v1", &AccountStatus::Active));
    assert!(refreshed.updated_at >= acc.updated_at);
    assert!(!s.store_refreshed(&acc.id, "h2", &sealed("twice"), None).await.expect("store"), "released");
    assert!(lease("h3", now + 91).await);
    s.release_lease(&acc.id, "h3").await.expect("release");
    assert!(lease("h4", now + 92).await, "released by its holder");
    assert!(s.store_refreshed(&acc.id, "h4", &sealed("v3"), None).await.expect("store"));
    assert_eq!(account(s, &alice, &acc.id).await.access_expires_at, None);
}

pub async fn needs_reauth_only_at_the_given_version(f: &Fixture) {
    let s = f.store.as_ref();
    let alice = owner(&workspace(s, "a").await, "alice");
    let (acc, _) = save(s, &alice, slot("one"), &credentials("hubspot", "v1")).await;
    let now = now_unix();
    // Someone refreshed after the caller read version 1.
    assert!(s.try_lease(&acc.id, "h1", now, now + 90).await.expect("lease"));
    assert!(s.store_refreshed(&acc.id, "h1", &sealed("v2"), None).await.expect("store"));
    assert!(!s.mark_needs_reauth(&acc.id, acc.version).await.expect("mark"), "a newer version wins");
    assert_eq!(account(s, &alice, &acc.id).await.status, AccountStatus::Active);

    assert!(s.try_lease(&acc.id, "h2", now, now + 90).await.expect("lease"));
    assert!(s.mark_needs_reauth(&acc.id, acc.version + 1).await.expect("mark"));
    let marked = account(s, &alice, &acc.id).await;
    assert_eq!((marked.status, marked.version), (AccountStatus::NeedsReauth, acc.version + 1));
    assert!(s.try_lease(&acc.id, "h3", now, now + 90).await.expect("lease"), "marking drops the lease");
    assert!(!s.mark_needs_reauth("ca_missing", 1).await.expect("mark"));
}

pub async fn app_settings(f: &Fixture) {
    let s = f.store.as_ref();
    let (ws, other_ws) = (workspace(s, "a").await, workspace(s, "b").await);
    let defaults = |app: &str| AppSettings { app_id: app.into(), ..AppSettings::default() };
    assert_eq!(s.app_setting(&ws.id, "hubspot").await.expect("setting"), defaults("hubspot"));
    assert!(s.app_settings(&ws.id).await.expect("settings").is_empty());

    s.set_app_visibility(&ws.id, "hubspot", true, Some(AccountsPolicy::Multiple)).await.expect("set");
    let hidden =
        AppSettings { hidden: true, accounts_policy: Some(AccountsPolicy::Multiple), ..defaults("hubspot") };
    assert_eq!(s.app_setting(&ws.id, "hubspot").await.expect("setting"), hidden);
    s.set_app_visibility(&ws.id, "hubspot", false, None).await.expect("set again");
    assert_eq!(s.app_setting(&ws.id, "hubspot").await.expect("setting"), defaults("hubspot"));
    s.set_app_visibility(&ws.id, "slack", true, Some(AccountsPolicy::One)).await.expect("set");

    let mut all = s.app_settings(&ws.id).await.expect("settings");
    all.sort_by(|a, b| a.app_id.cmp(&b.app_id));
    let slack = AppSettings { hidden: true, accounts_policy: Some(AccountsPolicy::One), ..defaults("slack") };
    assert_eq!(all, [defaults("hubspot"), slack]);
    assert!(s.app_settings(&other_ws.id).await.expect("settings").is_empty());
    assert_eq!(s.app_setting(&other_ws.id, "slack").await.expect("setting"), defaults("slack"));
}

pub async fn own_clients(f: &Fixture) {
    let s = f.store.as_ref();
    let (ws, other_ws) = (workspace(s, "a").await, workspace(s, "b").await);
    let wid = ws.id.as_str();
    let setting = || async move { s.app_setting(wid, "hubspot").await.expect("setting") };
    let enable = || async move { s.enable_own_client(wid, "hubspot").await.expect("enable") };
    let client = |id: &str, secret: &str, scopes: &[&str]| StoredClient {
        client_id: id.into(),
        secret: sealed(secret),
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
    };
    assert!(!enable().await, "nothing to enable");

    let c1 = client("c1", "s1", &["contacts.read", "contacts.write"]);
    s.save_own_client(&ws.id, "hubspot", &c1, "h1").await.expect("save");
    let saved = setting().await;
    assert_eq!(
        (saved.own_client_id.as_deref(), saved.own_settings_hash.as_deref()),
        (Some("c1"), Some("h1"))
    );
    assert!(!saved.tested() && !saved.own_client_enabled);
    assert!(!enable().await, "untested settings cannot be enabled");
    s.record_test_success(&ws.id, "hubspot", "h1").await.expect("tested");
    assert!(setting().await.tested());
    assert!(enable().await);
    assert!(setting().await.own_client_enabled);
    s.save_own_client(&ws.id, "hubspot", &c1, "h1").await.expect("save unchanged");
    assert!(setting().await.own_client_enabled, "unchanged settings stay enabled");

    // New settings are untested and not enabled; a test of the old ones does not count.
    let c2 = client("c2", "s2", &[]);
    s.save_own_client(&ws.id, "hubspot", &c2, "h2").await.expect("save new");
    let changed = setting().await;
    assert_eq!(
        (changed.own_client_id.as_deref(), changed.tested_settings_hash.as_deref()),
        (Some("c2"), Some("h1"))
    );
    assert!(!changed.tested() && !changed.own_client_enabled);
    s.record_test_success(&ws.id, "hubspot", "h1").await.expect("stale test");
    assert!(!enable().await);

    // Every client ever set stays readable (older accounts refresh with theirs), per workspace and app.
    assert_eq!(s.own_client(&ws.id, "hubspot", "c1").await.expect("client"), Some(c1));
    assert_eq!(s.own_client(&ws.id, "hubspot", "c2").await.expect("client"), Some(c2));
    assert_eq!(s.own_client(&ws.id, "slack", "c1").await.expect("client"), None);
    assert_eq!(s.own_client(&other_ws.id, "hubspot", "c1").await.expect("client"), None);
    let c1_again = client("c1", "s1 rotated", &["contacts.read"]);
    s.save_own_client(&ws.id, "hubspot", &c1_again, "h3").await.expect("save c1 again");
    assert_eq!(s.own_client(&ws.id, "hubspot", "c1").await.expect("client"), Some(c1_again));

    // Visibility and the own client live in one row without overwriting each other.
    s.set_app_visibility(&ws.id, "hubspot", true, None).await.expect("hide");
    let both = setting().await;
    assert_eq!(
        (both.hidden, both.own_client_id.as_deref(), both.own_settings_hash.as_deref()),
        (true, Some("c1"), Some("h3"))
    );
    s.save_own_client(&ws.id, "hubspot", &client("c4", "s4", &[]), "h4").await.expect("save");
    assert!(setting().await.hidden);
}

pub async fn admin_sessions(f: &Fixture) {
    let s = f.store.as_ref();
    let ws = workspace(s, "a").await;
    let now = now_unix();
    let id = b"session\0\xff";
    s.create_admin_session(id, &ws.id, "csrf-1", now + 60).await.expect("create");
    assert!(s.create_admin_session(id, &ws.id, "csrf-2", now + 60).await.is_err(), "ids are unique");
    assert_eq!(s.admin_session(id, now).await.expect("read"), Some((ws.id.clone(), "csrf-1".into())));
    assert_eq!(s.admin_session(id, now + 60).await.expect("read"), None, "live strictly before expiry");
    assert_eq!(s.admin_session(b"other", now).await.expect("read"), None);
    s.delete_admin_session(id).await.expect("delete");
    assert_eq!(s.admin_session(id, now).await.expect("read"), None);
    s.delete_admin_session(id).await.expect("deleting twice is fine");
}

/// Racers alternate between the fixture's store and a second handle (another replica's pool).
async fn racers(f: &Fixture) -> [std::sync::Arc<dyn Store>; 2] {
    [f.store.clone(), f.another_handle().await]
}

/// The owner's accounts for `hubspot` as `app_accounts` serves them (from memory when cached).
async fn cached(store: &dyn Store, owner: &Owner) -> Vec<(String, i64, AccountStatus)> {
    let accounts = store.app_accounts(owner, "hubspot").await.expect("accounts");
    accounts.iter().map(|a| (a.id.clone(), a.version, a.status)).collect()
}

/// What `app_accounts` serves from memory follows every account write as soon as the write
/// returns, whether it was made through the same handle or another replica's.
pub async fn cached_accounts_follow_every_write_at_once(f: &Fixture) {
    let [here, there] = racers(f).await;
    let (here, there) = (here.as_ref(), there.as_ref());
    let alice = owner(&workspace(here, "a").await, "alice");
    assert!(cached(here, &alice).await.is_empty());
    let (first, _) = save(there, &alice, slot("one"), &credentials("hubspot", "v1")).await;
    assert_eq!(cached(here, &alice).await, [(first.id.clone(), 1, AccountStatus::Active)], "connected");
    let (second, _) = save(there, &alice, slot("two"), &credentials("hubspot", "other")).await;
    assert_eq!(cached(here, &alice).await.len(), 2, "a second account");

    let now = now_unix();
    assert!(there.try_lease(&first.id, "h1", now, now + 90).await.expect("lease"));
    assert!(there.store_refreshed(&first.id, "h1", &sealed("v2"), None).await.expect("refreshed"));
    assert_eq!(cached(here, &alice).await[0], (first.id.clone(), 2, AccountStatus::Active), "refreshed");
    assert!(there.mark_needs_reauth(&first.id, 2).await.expect("marked"));
    assert_eq!(cached(here, &alice).await[0].2, AccountStatus::NeedsReauth, "marked");
    assert!(there.delete_account(&alice, &first.id).await.expect("deleted"));
    assert_eq!(cached(here, &alice).await, [(second.id.clone(), 1, AccountStatus::Active)], "disconnected");
    assert!(here.delete_account(&alice, &second.id).await.expect("deleted"));
    assert!(cached(here, &alice).await.is_empty(), "this handle's own write");
    assert!(cached(there, &alice).await.is_empty(), "seen by the other handle too");
}

pub async fn concurrent_connects_share_one_slot(f: &Fixture) {
    let stores = racers(f).await;
    let alice = owner(&workspace(stores[0].as_ref(), "a").await, "alice");
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, alice) = (stores[i % 2].clone(), alice.clone());
            tokio::spawn(async move {
                let new = credentials("hubspot", &format!("racer {i}"));
                store.save_account(&alice, &slot("one"), &new).await.expect("save").expect("slot")
            })
        })
        .collect();
    let mut saved = Vec::new();
    for task in tasks {
        saved.push(task.await.expect("task"));
    }
    assert_eq!(saved.iter().filter(|(_, existed)| !existed).count(), 1, "exactly one connect creates");
    assert!(saved.iter().all(|(record, _)| record.id == saved[0].0.id), "one account");
    let accounts = stores[1].accounts(&alice, None).await.expect("accounts");
    assert_eq!((accounts.len(), accounts[0].version), (1, i64::try_from(RACERS).expect("small")));
}

pub async fn concurrent_callbacks_claim_once(f: &Fixture) {
    let stores = racers(f).await;
    let alice = owner(&workspace(stores[0].as_ref(), "a").await, "alice");
    let now = now_unix();
    let attempt = pending_attempt(&alice, "att_1", now + 600, AttemptPurpose::Connect);
    stores[0].create_attempt(&attempt, b"state-1", now).await.expect("create");
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move { store.claim_attempt(b"state-1", now).await.expect("claim") })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Claim::Claimed(_) => claimed += 1,
            Claim::AlreadyUsed(_) => {}
            other => panic!("unexpected claim: {other:?}"),
        }
    }
    assert_eq!(claimed, 1, "one-time state");
}

pub async fn concurrent_leases_have_one_holder(f: &Fixture) {
    let stores = racers(f).await;
    let alice = owner(&workspace(stores[0].as_ref(), "a").await, "alice");
    let (acc, _) = save(stores[0].as_ref(), &alice, slot("one"), &credentials("hubspot", "v1")).await;
    let now = now_unix();
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, id) = (stores[i % 2].clone(), acc.id.clone());
            tokio::spawn(async move {
                store.try_lease(&id, &format!("holder-{i}"), now, now + 90).await.expect("lease")
            })
        })
        .collect();
    let mut holders = 0;
    for task in tasks {
        holders += usize::from(task.await.expect("task"));
    }
    assert_eq!(holders, 1, "one refresh at a time");
}

pub async fn outbox_rows_go_to_one_sender_at_a_time_and_keep_their_id(f: &Fixture) {
    let stores = racers(f).await;
    let ws = workspace(stores[0].as_ref(), "a").await;
    stores[0]
        .set_webhook_endpoint(&ws.id, "https://hooks.example", &sealed("whsec"), None)
        .await
        .expect("endpoint");
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        save(stores[0].as_ref(), &owner(&ws, user), slot("one"), &credentials("hubspot", "v1")).await;
    }
    let now = now_unix();
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                store.claim_webhooks(&format!("sender-{i}"), now, now + 60, 2).await.expect("claim")
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.expect("task").into_iter().map(|row| row.id));
    }
    claimed.sort();
    let distinct = claimed.len();
    claimed.dedup();
    assert_eq!((distinct, claimed.len()), (5, 5), "each of the 5 events leased once");
    assert!(stores[1].claim_webhooks("late", now, now + 60, 10).await.expect("claim").is_empty());

    // A failed attempt releases the row for its retry, under the same id.
    let mine = stores[0].claim_webhooks("retaker", now + 61, now + 120, 1).await.expect("claim");
    assert_eq!(mine.len(), 1, "an expired lease is taken over");
    let failed = Attempted::Failed { status: Some(500), error: None, retry_at: Some(now + 61) };
    assert!(stores[0].finish_webhook(&mine[0].id, "retaker", now + 61, &failed).await.expect("finish"));
    assert!(
        !stores[0].finish_webhook(&mine[0].id, "retaker", now + 61, &failed).await.expect("finish"),
        "lease gone"
    );
    let again = stores[1].claim_webhooks("next", now + 62, now + 120, 10).await.expect("claim");
    let retried = again.iter().find(|row| row.id == mine[0].id).expect("the same id comes back");
    assert_eq!(retried.attempts, 1);
}

pub async fn background_refresh_selection_and_failure_series(f: &Fixture) {
    let s = f.store.as_ref();
    let ws = workspace(s, "a").await;
    s.set_webhook_endpoint(&ws.id, "https://hooks.example", &sealed("whsec"), None).await.expect("endpoint");
    let alice = owner(&ws, "alice");
    let now = now_unix();
    let lifetime = NewCredentials { access_expires_at: Some(now + 100), ..credentials("hubspot", "v1") };
    let (acc, _) = save(s, &alice, slot("one"), &lifetime).await;
    let due = |at: i64, ahead: i64, idle_since: i64| async move {
        let found = s.due_for_refresh(at, ahead, idle_since, 10).await.expect("due");
        found.into_iter().map(|(owner, a)| (owner.user_id, a.id)).collect::<Vec<_>>()
    };
    let alice_due = vec![("alice".to_owned(), acc.id.clone())];
    let long_ago = now - 1000;
    assert!(due(now, 600, long_ago).await.is_empty(), "100 s left of 100: not yet");
    assert_eq!(due(now + 60, 600, long_ago).await, alice_due, "40 s left: under half its life");
    assert!(due(now + 60, 30, long_ago).await.is_empty(), "40 s left, 30 s ahead: not yet");
    assert_eq!(due(now, 0, now).await, alice_due, "idle since the probe cut-off");

    assert!(s.record_refresh_failure(&acc.id, acc.version, now, now + 100).await.expect("failure"));
    assert!(!s.record_refresh_failure(&acc.id, acc.version, now + 1, now + 100).await.expect("again"));
    assert!(!s.record_refresh_failure(&acc.id, acc.version + 5, now, now + 100).await.expect("stale"));
    assert!(due(now + 60, 600, long_ago).await.is_empty(), "left alone until the retry time");
    assert_eq!(due(now + 100, 600, long_ago).await, alice_due);
    let events: Vec<String> =
        s.webhook_deliveries(&ws.id, 10).await.expect("log").into_iter().map(|d| d.event_type).collect();
    assert_eq!(events, ["account.refresh_failed", "account.connected"], "one event per series");

    // A refresh ends the series: the next failure is signalled again.
    assert!(s.try_lease(&acc.id, "h1", now, now + 90).await.expect("lease"));
    assert!(s.store_refreshed(&acc.id, "h1", &sealed("v2"), Some(now + 100)).await.expect("store"));
    assert!(s.record_refresh_failure(&acc.id, acc.version + 1, now, now + 100).await.expect("new series"));

    s.defer_refresh(&acc.id, now + 500).await.expect("defer");
    assert!(due(now + 400, 600, now + 400).await.is_empty());
    assert!(s.mark_needs_reauth(&acc.id, acc.version + 1).await.expect("mark"));
    assert!(due(now + 600, 600, now + 600).await.is_empty(), "a marked account is never due");
}
