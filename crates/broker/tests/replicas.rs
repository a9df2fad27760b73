//! Two real broker processes (the release binary, `patchbay-broker serve`) on one SQLite database,
//! as two replicas behind a load balancer would run: 200 concurrent invokes split between them hit
//! an expired OAuth token, and the provider sees exactly one refresh. The same scenario runs on
//! PostgreSQL in `tests/postgres.rs`.

mod support;

use support::replicas::refresh_once_across_two_processes;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_broker_processes_on_one_database_refresh_an_expired_token_once() {
    refresh_once_across_two_processes(|dir| format!("sqlite://{}", dir.join("broker.db").display())).await;
}
