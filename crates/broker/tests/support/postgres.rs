//! The PostgreSQL server the test command started (`cargo xtask test` runs a throwaway cluster
//! and exports its URL), and a fresh database on it for each test.

use sqlx::Connection;

/// The variable `cargo xtask test` sets to the cluster's test database.
pub const URL_VAR: &str = "PATCHBAY_TEST_POSTGRES_URL";

/// The test database URL; fails the test (never skips it) when the suite was not started by
/// `cargo xtask test`.
pub fn url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: run the suite with `cargo xtask test` (or `cargo xtask test --only \
             native`), which starts a throwaway PostgreSQL cluster for these tests"
        )
    })
}

/// A new empty database on the test cluster, so tests never see each other's rows. Returns its URL.
pub async fn fresh_database() -> String {
    let base = url();
    let name = format!("patchbay_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {URL_VAR}={base}: {err}"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
    admin.close().await.expect("close admin connection");
    let mut fresh = url::Url::parse(&base).expect("PostgreSQL URL");
    fresh.set_path(&name);
    fresh.to_string()
}
