//! The environment of the SDK's browser tests (`cargo xtask test --only browser`): real peers
//! (httpbin; two oidc-providers, the second sending `Cross-Origin-Opener-Policy`), two real
//! brokers (the second with OAuth attempts that expire after a few seconds), session tokens
//! minted with the broker's CLI for the test page's fixed origin (one user per test), and the
//! browser driver. Tests learn all of it from `PATCHBAY_BROWSER_*` variables at compile time.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::broker;
use crate::peers::{self, free_port, start_browser_driver, start_oidc_provider, Kind, Peer, Peers};
use crate::workspace::Workspace;

/// Distinct users (and tokens) minted per broker: each browser test takes the next one.
const USERS: usize = 40;
/// The short-lived broker's OAuth attempt lifetime (the CONNECT_TIMEOUT test waits for it).
const SHORT_ATTEMPT_SECONDS: u32 = 3;

/// A running environment; everything stops when it is dropped.
pub struct Fixture {
    /// Variables for `wasm-pack test` (compile-time `option_env!` in tests/browser.rs) and for
    /// the test runner (`WASM_BINDGEN_TEST_*`).
    pub env: Vec<(String, String)>,
    _peers: (Peers, Vec<Peer>),
}

/// One broker of the fixture.
struct Broker {
    url: String,
    tokens: Vec<String>,
    expired: String,
    foreign: String,
}

/// Starts everything and mints the tokens; `webdriver_json` is the checked-in capabilities file,
/// extended here with the DevTools port the driver connects to.
pub fn start(ws: &Workspace, webdriver_json: &Path) -> Result<Fixture> {
    let bin = broker::build(ws, false)?;
    let dir = ws.xtask_dir().join("browser");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let page_port = free_port()?;
    let page_origin = format!("http://127.0.0.1:{page_port}");
    let (main_port, short_port) = (free_port()?, free_port()?);
    let callbacks =
        format!("http://127.0.0.1:{main_port}/oauth/callback,http://127.0.0.1:{short_port}/oauth/callback");

    let peers = peers::start(ws, &[Kind::Httpbin])?;
    let httpbin = peers.httpbin_url()?;
    let (oidc, oidc_url) = start_oidc_provider(ws, "oidc-provider", free_port()?, &callbacks, 300, false)?;
    let (oidc_coop, oidc_coop_url) =
        start_oidc_provider(ws, "oidc-provider-coop", free_port()?, &callbacks, 300, true)?;

    let keys = broker::keygen(&bin)?;
    let vars =
        [("HTTPBIN", httpbin.as_str()), ("OIDC", oidc_url.as_str()), ("OIDC_COOP", oidc_coop_url.as_str())];
    let mut processes = vec![oidc, oidc_coop];
    let mut brokers = Vec::new();
    for (name, port, attempt_ttl) in
        [("broker", main_port, 600), ("broker-short", short_port, SHORT_ATTEMPT_SECONDS)]
    {
        let (peer, broker) =
            start_broker(ws, &bin, &dir, (name, port), attempt_ttl, &keys, &vars, &page_origin)?;
        processes.push(peer);
        brokers.push(broker);
    }

    let cdp_port = free_port()?;
    let (driver, driver_url) = start_browser_driver(ws, free_port()?, cdp_port, &page_origin)?;
    processes.push(driver);
    let capabilities = fs::read_to_string(webdriver_json)
        .with_context(|| format!("reading {}", webdriver_json.display()))?;
    let capabilities = capabilities.replacen(
        "\"goog:chromeOptions\": {",
        &format!("\"goog:chromeOptions\": {{\n    \"args\": [\"--remote-debugging-port={cdp_port}\"],"),
        1,
    );
    let generated = dir.join("webdriver.json");
    fs::write(&generated, capabilities)?;

    let [main, short] = [&brokers[0], &brokers[1]];
    let env = vec![
        ("PATCHBAY_BROWSER_BROKER".into(), main.url.clone()),
        ("PATCHBAY_BROWSER_TOKENS".into(), main.tokens.join(",")),
        ("PATCHBAY_BROWSER_EXPIRED_TOKEN".into(), main.expired.clone()),
        ("PATCHBAY_BROWSER_FOREIGN_TOKEN".into(), main.foreign.clone()),
        ("PATCHBAY_BROWSER_SHORT_BROKER".into(), short.url.clone()),
        ("PATCHBAY_BROWSER_SHORT_TOKENS".into(), short.tokens.join(",")),
        ("PATCHBAY_BROWSER_HTTPBIN".into(), httpbin),
        ("PATCHBAY_BROWSER_OIDC".into(), oidc_url),
        ("PATCHBAY_BROWSER_OIDC_COOP".into(), oidc_coop_url),
        ("PATCHBAY_BROWSER_DRIVER".into(), driver_url),
        ("WASM_BINDGEN_TEST_ADDRESS".into(), format!("127.0.0.1:{page_port}")),
        // The runner's page would otherwise send COOP itself (cutting every popup from it); the
        // tests choose where COOP comes from (the second provider).
        ("WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION".into(), "1".into()),
        ("WASM_BINDGEN_TEST_WEBDRIVER_JSON".into(), generated.display().to_string()),
        // The whole suite runs in one page within this many seconds.
        ("WASM_BINDGEN_TEST_TIMEOUT".into(), "600".into()),
    ];
    Ok(Fixture { env, _peers: (peers, processes) })
}

#[allow(clippy::too_many_arguments)]
fn start_broker(
    ws: &Workspace,
    bin: &Path,
    dir: &Path,
    (name, port): (&'static str, u16),
    attempt_ttl: u32,
    keys: &str,
    vars: &[(&str, &str)],
    page_origin: &str,
) -> Result<(Peer, Broker)> {
    let config = dir.join(format!("{name}.toml"));
    fs::write(&config, format!("oauth_attempt_ttl_seconds = {attempt_ttl}\n"))?;
    let broker = broker::Broker::new(ws, bin.to_owned(), name, port)
        .env("PATCHBAY_CONFIG", &config)
        .env("PATCHBAY_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("PATCHBAY_DATABASE_URL", format!("sqlite://{}", dir.join(format!("{name}.db")).display()))
        .env("PATCHBAY_CATALOG", ws.tests_dir().join("browser-catalog.toml"))
        // The SDK's browser tests assert on their own apps only.
        .env("PATCHBAY_BUILTIN_CATALOG", "0")
        .env("PATCHBAY_MASTER_KEYS", keys)
        .env("PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS", "1")
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied());
    let workspace = broker.create_workspace(name)?.id;
    let peer = broker.serve(ws)?;
    println!("{name}: minting {USERS} session tokens for {page_origin}");
    let mut tokens = Vec::with_capacity(USERS);
    for i in 0..USERS {
        tokens.push(broker.mint(&workspace, &format!("browser-user-{i:02}"), &[page_origin], 3600)?);
    }
    // Expired long before the suite runs (compiling the tests alone takes longer).
    let expired = broker.mint(&workspace, "browser-expired", &[page_origin], 1)?;
    let foreign = broker.mint(&workspace, "browser-foreign", &["https://elsewhere.example"], 3600)?;
    Ok((peer, Broker { url: broker.url(), tokens, expired, foreign }))
}
