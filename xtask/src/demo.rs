//! `cargo xtask demo`: the broker on SQLite with the example catalog, real local third-party apps
//! (oidc-provider as an OAuth app, httpbin for Basic / API-key / "with URL" apps), and the example
//! web app, all on 127.0.0.1. The same environment, with test settings, backs the end-to-end tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::broker::{self, Broker};
use crate::peers::{self, free_port, http_get_ok, Kind, Peer, Peers};
use crate::workspace::Workspace;

/// Where the demo's state lives (gitignored): master keys, the SQLite file, the workspace.
const DATA_DIR: &str = "data";

/// How to run the environment.
pub struct Options {
    /// Folder for keys, database and workspace (created if missing).
    pub data_dir: PathBuf,
    /// Broker port (its OAuth redirect URL is registered at the OAuth peer).
    pub broker_port: u16,
    /// Example app port.
    pub app_port: u16,
    /// The OAuth peer's access-token lifetime in seconds.
    pub access_token_ttl: u32,
    /// Also serve the example app with `Cross-Origin-Opener-Policy: same-origin` on this port.
    pub coop_app_port: Option<u16>,
    /// Refresh OAuth tokens this many seconds before expiry.
    pub refresh_margin_seconds: i64,
    /// Let the background refresher renew idle accounts' tokens (off where a journey counts the
    /// refreshes its own calls cause).
    pub background_refresh: bool,
}

/// A running environment; everything stops when it is dropped.
pub struct Env {
    /// The broker's base URL.
    pub broker_url: String,
    /// The example app's URL.
    pub app_url: String,
    /// The same app sending `Cross-Origin-Opener-Policy: same-origin`, when asked for.
    pub coop_app_url: Option<String>,
    /// The OAuth peer's URL.
    pub oidc_url: String,
    /// The workspace secret key.
    pub secret_key: String,
    /// httpbin's URL.
    pub httpbin_url: String,
    /// The npm package the broker's served SDK was built with.
    pub tarball: PathBuf,
    _processes: (Peers, Peer, Peer, Vec<Peer>),
}

pub fn run(ws: &Workspace) -> Result<()> {
    crate::setup::run(ws)?;
    let options = Options {
        data_dir: ws.root.join(DATA_DIR),
        broker_port: 8080,
        app_port: 3000,
        access_token_ttl: 120,
        coop_app_port: None,
        refresh_margin_seconds: 30,
        background_refresh: true,
    };
    let env = start(ws, &options)?;
    println!(
        "\n  Patchbay demo is running. Open {app}\n\n  broker {broker}   admin console {broker}/admin (secret key in {data}/workspace.json)\n  \
         OAuth app: log in with any name and password. Httpbin Basic: demo / demo-password.\n  \
         \"With URL\" apps: use {httpbin} as the instance URL.\n\n  Press Ctrl-C to stop.\n",
        app = env.app_url,
        broker = env.broker_url,
        data = options.data_dir.display(),
        httpbin = env.httpbin_url,
    );
    loop {
        // Ctrl-C ends xtask; every peer was started with a parent-death signal and stops with it.
        std::thread::park();
    }
}

/// Builds the broker and the SDK bundle, then starts every process and waits until each is ready.
pub fn start(ws: &Workspace, options: &Options) -> Result<Env> {
    let bin = broker::build(ws, false)?;
    let packed = crate::pack::build(ws)?;
    let sdk_dir = packed.served;
    fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let keys_file = options.data_dir.join("master.keys");
    if !keys_file.exists() {
        write_private(&keys_file, broker::keygen(&bin)?.as_bytes())?;
    }

    let peers = peers::start(ws, &[Kind::Httpbin])?;
    let httpbin_url = peers.httpbin_url()?;
    let (oidc, oidc_url) = peers::start_oidc_provider(
        ws,
        "oidc-provider",
        free_port()?,
        &format!("http://127.0.0.1:{}/oauth/callback", options.broker_port),
        options.access_token_ttl,
        false,
    )?;

    fs::write(
        options.data_dir.join("patchbay.toml"),
        format!(
            "oauth_refresh_margin_seconds = {}\n{}",
            options.refresh_margin_seconds,
            if options.background_refresh { "" } else { "background_refresh_interval_seconds = 0\n" }
        ),
    )?;
    let broker = Broker::new(ws, bin, "broker", options.broker_port)
        .env("PATCHBAY_DATABASE_URL", format!("sqlite://{}", options.data_dir.join("patchbay.db").display()))
        .env("PATCHBAY_CATALOG", ws.root.join("examples/catalog.toml"))
        .env("PATCHBAY_MASTER_KEYS_FILE", &keys_file)
        .env("PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS", "1")
        .env("PATCHBAY_SDK_DIR", &sdk_dir)
        .env("OIDC_URL", &oidc_url)
        .env("HTTPBIN_URL", &httpbin_url)
        .env("ACME_CLIENT_SECRET", "basic-secret")
        .env("PATCHBAY_CONFIG", options.data_dir.join("patchbay.toml"));
    let workspace_file = options.data_dir.join("workspace.json");
    if !workspace_file.exists() {
        write_private(&workspace_file, broker.create_workspace("Demo workspace")?.json.as_bytes())?;
    }
    let workspace = fs::read_to_string(&workspace_file)?;
    let secret_key = crate::cmd::json_field(&workspace, "secretKey")?;
    let broker_url = broker.url();
    let broker = broker.serve(ws)?;

    let mut apps = vec![start_app(ws, "example-app", options.app_port, false, &broker_url, &secret_key)?];
    if let Some(port) = options.coop_app_port {
        apps.push(start_app(ws, "example-app-coop", port, true, &broker_url, &secret_key)?);
    }

    Ok(Env {
        broker_url,
        app_url: format!("http://127.0.0.1:{}", options.app_port),
        coop_app_url: options.coop_app_port.map(|port| format!("http://127.0.0.1:{port}")),
        oidc_url,
        httpbin_url,
        secret_key,
        tarball: packed.tarball,
        _processes: (peers, oidc, broker, apps),
    })
}

/// The example app's Node server (`coop`: it sends `Cross-Origin-Opener-Policy: same-origin`).
fn start_app(
    ws: &Workspace,
    name: &'static str,
    port: u16,
    coop: bool,
    broker_url: &str,
    secret_key: &str,
) -> Result<Peer> {
    let mut command = Command::new("node");
    command
        .arg(ws.root.join("examples/vanilla/server.mjs"))
        .env("PORT", port.to_string())
        .env("PATCHBAY_BROKER_URL", broker_url)
        .env("PATCHBAY_SECRET_KEY", secret_key)
        .env("COOP", if coop { "1" } else { "0" });
    let mut app = Peer::spawn(ws, name, command, libc::SIGTERM)?;
    app.wait_ready(|| http_get_ok(port, "/"))?;
    Ok(app)
}

fn write_private(path: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(content).with_context(|| format!("writing {}", path.display()))
}
