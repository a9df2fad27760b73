//! Two real broker processes (the release binary, `patchbay-broker serve`) on one SQLite database,
//! as two replicas behind a load balancer would run: 200 concurrent invokes split between them hit
//! an expired OAuth token, and the provider sees exactly one refresh; a webhook delivery cut by
//! SIGKILL is completed after a restart under the same webhook-id. The refresh scenario also runs on
//! PostgreSQL in `tests/postgres.rs`, with the background refresher and two-replica deliveries.

mod support;

use support::replicas::{
    a_delivery_cut_by_sigkill_is_completed_after_restart, refresh_once_across_two_processes,
};

fn sqlite(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("broker.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_broker_processes_on_one_database_refresh_an_expired_token_once() {
    refresh_once_across_two_processes(sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_delivery_cut_by_sigkill_is_completed_after_a_restart_under_the_same_id() {
    a_delivery_cut_by_sigkill_is_completed_after_restart(sqlite).await;
}
