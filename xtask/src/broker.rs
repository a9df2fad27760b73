//! The one way xtask starts `patchbay-broker` (demo, browser-test fixture, bench): build it, make
//! a master key, run its CLI (`workspace create`, `session create`) with the same environment as
//! `serve`, then serve and wait until `/readyz` answers.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::cmd::{self, json_field};
use crate::peers::{http_get_ok, Peer};
use crate::workspace::Workspace;

/// Builds the broker (`release` or debug) and returns its binary.
pub fn build(ws: &Workspace, release: bool) -> Result<PathBuf> {
    cargo_build(ws, &[], release)?;
    Ok(ws.target_dir().join(if release { "release" } else { "debug" }).join("patchbay-broker"))
}

/// Builds the broker package's example `name` (release) and returns its binary.
pub fn build_example(ws: &Workspace, name: &str) -> Result<PathBuf> {
    cargo_build(ws, &["--example", name], true)?;
    Ok(ws.target_dir().join("release").join("examples").join(name))
}

fn cargo_build(ws: &Workspace, target: &[&str], release: bool) -> Result<()> {
    let mut build = ws.command("cargo");
    // `cargo xtask` (cargo run) hands xtask its own package's variables (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, CARGO_PKG_VERSION_MAJOR…). ring's build script watches several of them, so
    // passing them on made this build and a plain `cargo build` rebuild ring, rustls, sqlx and the
    // broker for each other, minutes each time on two cores.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_xtask) {
            build.env_remove(name);
        }
    }
    build.args(["build", "--quiet", "--package", "patchbay-broker"]).args(target);
    if release {
        build.arg("--release");
    }
    cmd::run(&mut build)
}

/// True for the variables cargo sets for the package it runs (xtask), as opposed to settings such
/// as CARGO_HOME or CARGO_TARGET_DIR that every build should see.
fn set_by_cargo_for_xtask(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(name, "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE")
}

/// A new master key entry (`k1:<base64>`).
pub fn keygen(bin: &Path) -> Result<String> {
    Ok(String::from_utf8(cmd::capture(Command::new(bin).arg("keygen"))?)?.trim().to_owned())
}

/// A workspace as `workspace create` prints it.
pub struct CreatedWorkspace {
    /// The whole JSON line (the demo keeps it in a file).
    pub json: String,
    /// Workspace id.
    pub id: String,
}

/// One broker: its binary, port and environment, shared by every command run for it.
pub struct Broker {
    bin: PathBuf,
    name: &'static str,
    port: u16,
    root: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl Broker {
    /// A broker called `name` (in logs) listening on 127.0.0.1:`port`, run from the repository root.
    pub fn new(ws: &Workspace, bin: PathBuf, name: &'static str, port: u16) -> Broker {
        Broker { bin, name, port, root: ws.root.clone(), env: Vec::new() }
            .env("PATCHBAY_LISTEN", format!("127.0.0.1:{port}"))
    }

    /// Sets a variable for every command of this broker (settings, `${VAR}`s of the catalog).
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Broker {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets several variables.
    pub fn envs<K: Into<OsString>, V: Into<OsString>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Broker {
        self.env.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        command.current_dir(&self.root).envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `workspace create --name NAME`.
    pub fn create_workspace(&self, name: &str) -> Result<CreatedWorkspace> {
        let json =
            String::from_utf8(cmd::capture(self.command().args(["workspace", "create", "--name", name]))?)?;
        Ok(CreatedWorkspace { id: json_field(&json, "id")?, json })
    }

    /// `session create`: a session token for `user` of `workspace`, valid `ttl_seconds` on `origins`.
    pub fn mint(&self, workspace: &str, user: &str, origins: &[&str], ttl_seconds: u32) -> Result<String> {
        let mut command = self.command();
        command.args(["session", "create", "--workspace", workspace, "--user", user, "--ttl"]);
        command.arg(ttl_seconds.to_string());
        for origin in origins {
            command.args(["--origin", origin]);
        }
        json_field(&String::from_utf8(cmd::capture(&mut command)?)?, "token")
    }

    /// `serve`, returning once `/readyz` answers 200; the process stops when the peer drops.
    pub fn serve(&self, ws: &Workspace) -> Result<Peer> {
        let mut serve = self.command();
        serve.arg("serve");
        let mut peer = Peer::spawn(ws, self.name, serve, libc::SIGTERM)?;
        peer.wait_ready(|| http_get_ok(self.port, "/readyz"))?;
        Ok(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::free_port;

    #[test]
    fn the_broker_build_drops_the_variables_cargo_sets_for_xtask_alone() {
        for name in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_PKG_VERSION_MAJOR", "CARGO_CRATE_NAME"] {
            assert!(set_by_cargo_for_xtask(name), "{name}");
        }
        for name in ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO", "PATH", "RUSTFLAGS"] {
            assert!(!set_by_cargo_for_xtask(name), "{name}");
        }
    }

    #[test]
    fn a_launched_broker_creates_a_workspace_mints_and_serves() -> Result<()> {
        let ws = Workspace::locate()?;
        let bin = build(&ws, false)?;
        let dir = ws.xtask_dir().join("broker-launcher-test");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("catalog.toml"), "")?;
        let port = free_port()?;
        let broker = Broker::new(&ws, bin.clone(), "launcher-test", port)
            .env("PATCHBAY_MASTER_KEYS", keygen(&bin)?)
            .env("PATCHBAY_DATABASE_URL", format!("sqlite://{}", dir.join("broker.db").display()))
            .env("PATCHBAY_CATALOG", dir.join("catalog.toml"))
            .env("RUST_LOG", "warn");
        let workspace = broker.create_workspace("Launcher test")?;
        assert!(workspace.id.starts_with("ws_"), "{}", workspace.json);
        let token = broker.mint(&workspace.id, "u1", &["http://127.0.0.1:1"], 60)?;
        assert!(token.starts_with("pbs."), "{token}");
        let _serving = broker.serve(&ws)?;
        assert!(http_get_ok(port, "/readyz"), "{} is ready", broker.url());
        Ok(())
    }
}
