//! The end-to-end tests: the demo environment with test settings (short-lived OAuth tokens, a fresh
//! database, a second copy of the example app that sends `Cross-Origin-Opener-Policy`), driven by
//! Playwright (`playwright-core`) in Debian's Chromium through `node --test tests/e2e/`.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cmd;
use crate::demo::{self, Options};
use crate::peers::free_port;
use crate::workspace::Workspace;

/// Runs every file in tests/e2e, or only `names` (`oauth-journey` is tests/e2e/oauth-journey.test.mjs).
pub fn run(ws: &Workspace, names: &[String]) -> Result<()> {
    // One fresh database per run, so two runs (or a run and the demo) never share state; removed
    // however the run ends (the guard is dropped after the environment, which uses it).
    let data_dir = DataDir(ws.xtask_dir().join(format!("e2e-data-{}", std::process::id())));
    let output_dir = ws.root.join("test-output");
    fs::create_dir_all(&output_dir).with_context(|| format!("creating {}", output_dir.display()))?;
    let options = Options {
        data_dir: data_dir.0.clone(),
        broker_port: free_port()?,
        app_port: free_port()?,
        // Long enough for the OAuth journey's first invoke to find its token live on a slow
        // machine; the journey then waits this long for it to expire.
        access_token_ttl: 10,
        coop_app_port: Some(free_port()?),
        refresh_margin_seconds: 0,
        // The OAuth journey counts the refreshes its calls cause after the token expired.
        background_refresh: false,
    };
    let env = demo::start(ws, &options)?;
    let mut command = ws.command("node");
    command
        .current_dir(ws.tests_dir())
        .args(["--test", "--test-concurrency=1"])
        .args(if names.is_empty() {
            vec!["e2e/".to_owned()]
        } else {
            names.iter().map(|n| format!("e2e/{n}.test.mjs")).collect()
        })
        .env("E2E_APP_URL", &env.app_url)
        .env("E2E_COOP_APP_URL", env.coop_app_url.as_deref().unwrap_or_default())
        .env("E2E_BROKER_URL", &env.broker_url)
        .env("E2E_OIDC_URL", &env.oidc_url)
        .env("E2E_SECRET_KEY", &env.secret_key)
        .env("E2E_ACCESS_TOKEN_TTL", options.access_token_ttl.to_string())
        .env("E2E_TARBALL", &env.tarball)
        .env("E2E_OUTPUT_DIR", &output_dir);
    cmd::run(&mut command)
}

/// A folder removed when dropped.
struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
