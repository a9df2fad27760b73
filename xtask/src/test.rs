//! `cargo xtask test`: every check CI runs, as ordered stages. Stops at the first failing stage
//! and prints each stage's duration at the end either way.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::budget;
use crate::cmd;
use crate::peers::{self, Kind};
use crate::postgres;
use crate::setup::WASM_TARGET;
use crate::workspace::Workspace;

/// The ChromeDriver Debian's `chromium-driver` installs.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Browser capabilities for the wasm tests (re-enables the popup blocker), relative to the root.
const WEBDRIVER_JSON: &str = "tests/webdriver.json";

/// One stage of the test pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// `cargo fmt --check`.
    Fmt,
    /// clippy on the native workspace and on the SDK for wasm, warnings denied.
    Clippy,
    /// `cargo test --workspace` against real peers.
    Native,
    /// The SDK's wasm-bindgen tests in headless Chromium.
    Browser,
    /// The release bundle's gzipped size budget.
    Budget,
}

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 5] = [Stage::Fmt, Stage::Clippy, Stage::Native, Stage::Browser, Stage::Budget];

    /// The stage's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Fmt => "fmt",
            Stage::Clippy => "clippy",
            Stage::Native => "native",
            Stage::Browser => "browser",
            Stage::Budget => "budget",
        }
    }

    /// Parses a stage name.
    pub fn parse(name: &str) -> Result<Self> {
        match Self::ALL.iter().find(|stage| stage.name() == name) {
            Some(stage) => Ok(*stage),
            None => {
                let names: Vec<_> = Self::ALL.iter().map(|stage| stage.name()).collect();
                bail!("unknown stage `{name}` (stages: {})", names.join(", "))
            }
        }
    }

    fn run(self, ws: &Workspace) -> Result<()> {
        match self {
            Stage::Fmt => cmd::run(ws.command("cargo").args(["fmt", "--all", "--", "--check"])),
            Stage::Clippy => {
                cmd::run(ws.command("cargo").args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))?;
                // --all-targets so tests/browser.rs (wasm-only) is linted too.
                cmd::run(ws.command("cargo").args([
                    "clippy",
                    "--package",
                    "patchbay-sdk",
                    "--target",
                    WASM_TARGET,
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))
            }
            Stage::Native => {
                let peers = peers::start(ws, &[Kind::Httpbin])?;
                let postgres = postgres::Cluster::start(ws)?;
                let env: Vec<_> = peers.env().iter().cloned().chain([postgres.env()]).collect();
                let mut command = ws.command("cargo");
                command.args(["test", "--workspace"]).envs(env.iter().cloned());
                for (key, value) in &env {
                    println!("export {key}={value}");
                }
                cmd::run(&mut command)
                // `postgres` and `peers` drop here (or on `?` above): the peers are stopped.
            }
            Stage::Browser => {
                let webdriver_json = ws.root.join(WEBDRIVER_JSON);
                if !webdriver_json.is_file() {
                    bail!("{} is missing", webdriver_json.display());
                }
                cmd::run(
                    ws.command("wasm-pack")
                        .args(["test", "--headless", "--chrome"])
                        .env("CHROMEDRIVER", CHROMEDRIVER)
                        // The runner reads ./webdriver.json unless told otherwise.
                        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver_json),
                )
            }
            Stage::Budget => budget::run(ws),
        }
    }
}

/// Runs `stages` in order, stopping at the first failure.
pub fn run(ws: &Workspace, stages: &[Stage]) -> Result<()> {
    let mut results: Vec<(Stage, Duration, bool)> = Vec::new();
    for &stage in stages {
        println!("\n==> stage {}", stage.name());
        let started = Instant::now();
        let outcome = stage.run(ws);
        results.push((stage, started.elapsed(), outcome.is_ok()));
        if let Err(err) = outcome {
            summarise(&results, stages.len());
            return Err(err.context(format!("stage `{}` failed", stage.name())));
        }
    }
    summarise(&results, stages.len());
    Ok(())
}

fn summarise(results: &[(Stage, Duration, bool)], planned: usize) {
    println!("\n{:<10} {:<8} {:>9}", "stage", "result", "time");
    let mut total = Duration::ZERO;
    for (stage, elapsed, ok) in results {
        total += *elapsed;
        println!("{:<10} {:<8} {:>9}", stage.name(), if *ok { "ok" } else { "FAILED" }, human(*elapsed));
    }
    println!("{:<10} {:<8} {:>9}", "total", "", human(total));
    let passed = results.iter().filter(|(_, _, ok)| *ok).count();
    let failed = results.len() - passed;
    let skipped = planned - results.len();
    if skipped > 0 {
        println!("stages: {passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("stages: {passed} passed, {failed} failed");
    }
}

fn human(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:04.1}s", (secs / 60.0).floor(), secs % 60.0)
    }
}
