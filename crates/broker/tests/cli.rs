//! The `patchbay-broker` command line, run as the operator runs it: each command needs only the
//! settings it uses.

use std::process::{Command, Output};

use serde_json::Value;

/// Runs the broker binary with nothing from this process's environment but `vars`.
fn broker(args: &[&str], vars: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchbay-broker"))
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the broker binary runs")
}

fn json_out(output: &Output) -> Value {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn workspace_and_session_commands_need_no_catalog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = ("PATCHBAY_DATABASE_URL", format!("sqlite://{}/broker.db", dir.path().display()));
    let no_catalog = ("PATCHBAY_CATALOG", dir.path().join("missing.toml").display().to_string());

    // No catalog and no master keys: neither is used to create a workspace.
    let created = json_out(&broker(
        &["workspace", "create", "--name", "Acme"],
        &[database.clone(), no_catalog.clone()],
    ));
    assert_eq!(created["name"], "Acme");
    assert!(created["secretKey"].as_str().is_some_and(|k| k.starts_with("pb_sk_")), "{created}");
    let workspace = created["id"].as_str().expect("id").to_owned();

    let key = String::from_utf8(broker(&["keygen"], &[]).stdout).expect("utf-8").trim().to_owned();
    let session = json_out(&broker(
        &["session", "create", "--workspace", &workspace, "--user", "u1", "--origin", "https://app.example"],
        &[database.clone(), no_catalog.clone(), ("PATCHBAY_MASTER_KEYS", key.clone())],
    ));
    assert!(session["token"].as_str().is_some_and(|t| t.starts_with("pbs.")), "{session}");

    // `serve` does need the catalog, and says which file it could not read.
    let serve = broker(&["serve"], &[database, no_catalog, ("PATCHBAY_MASTER_KEYS", key)]);
    assert!(!serve.status.success());
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn serve_names_what_is_wrong_a_short_master_key_or_an_unreachable_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, "").expect("catalog");
    let catalog = ("PATCHBAY_CATALOG", catalog.display().to_string());
    let sqlite = ("PATCHBAY_DATABASE_URL", format!("sqlite://{}/broker.db", dir.path().display()));

    // 16 bytes instead of 32.
    let short = ("PATCHBAY_MASTER_KEYS", "k1:AAAAAAAAAAAAAAAAAAAAAA==".to_owned());
    let serve = broker(&["serve"], &[sqlite, catalog.clone(), short]);
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve.status.success());
    assert!(stderr.contains("master keys") && stderr.contains("16 bytes, not 32"), "{stderr}");

    // A PostgreSQL server nobody runs; its password stays out of the message.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let database = ("PATCHBAY_DATABASE_URL", format!("postgres://pb:db-pw-never-shown@127.0.0.1:{port}/pb"));
    let key = String::from_utf8(broker(&["keygen"], &[]).stdout).expect("utf-8").trim().to_owned();
    let serve = broker(&["serve"], &[database, catalog, ("PATCHBAY_MASTER_KEYS", key)]);
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve.status.success());
    assert!(stderr.contains(&format!("database postgres://pb:***@127.0.0.1:{port}/pb")), "{stderr}");
    assert!(!stderr.contains("db-pw-never-shown"), "{stderr}");
}
