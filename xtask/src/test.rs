//! `cargo xtask test`: every check CI runs, as ordered stages. Stops at the first failing stage
//! and prints each stage's duration at the end either way.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::bundle::{self, Bundle};
use crate::cmd;
use crate::peers::{self, Kind};
use crate::postgres;
use crate::setup::WASM_TARGET;
use crate::workspace::Workspace;
use crate::{browser, budget};

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
    /// A short coverage-guided run of every broker fuzz target (the corpus replay is part of
    /// `native`).
    Fuzz,
    /// The SDK's wasm-bindgen tests in headless Chromium.
    Browser,
    /// The release bundle's gzipped size budget.
    Budget,
    /// End-to-end journeys in Chromium (Playwright) against the demo environment.
    E2e,
}

impl Stage {
    /// Every stage, in the order they run.
    pub const ALL: [Stage; 7] =
        [Stage::Fmt, Stage::Clippy, Stage::Native, Stage::Fuzz, Stage::Browser, Stage::Budget, Stage::E2e];

    /// The stage's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Fmt => "fmt",
            Stage::Clippy => "clippy",
            Stage::Native => "native",
            Stage::Fuzz => "fuzz",
            Stage::Browser => "browser",
            Stage::Budget => "budget",
            Stage::E2e => "e2e",
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
            Stage::Fuzz => crate::fuzz::run(ws, None, crate::fuzz::TEST_SECONDS, crate::fuzz::Build::Quick),
            Stage::Browser => {
                let webdriver_json = ws.root.join(WEBDRIVER_JSON);
                if !webdriver_json.is_file() {
                    bail!("{} is missing", webdriver_json.display());
                }
                // Brokers, peers and tokens for the tests; they stop when `fixture` drops.
                let fixture = browser::start(ws, &webdriver_json)?;
                cmd::run(
                    ws.command("wasm-pack")
                        .args(["test", "--headless", "--chrome", "--", "--test", "browser"])
                        .env("CHROMEDRIVER", CHROMEDRIVER)
                        .envs(fixture.env.iter().cloned()),
                )
            }
            Stage::Budget => {
                let bundle = bundle::build_release(ws)?;
                budget::check(ws, &bundle)?;
                sdk_crates(ws)?;
                js_policy(ws)?;
                typecheck(ws, &bundle)
            }
            Stage::E2e => crate::e2e::run(ws, &[]),
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

/// The crates the product's specification fixes for the SDK: each must stay in the shipped
/// (wasm32, normal) dependency graph.
const SDK_CRATES: [&str; 9] = [
    "wasm-bindgen",
    "wasm-bindgen-futures",
    "web-sys",
    "js-sys",
    "serde",
    "serde-wasm-bindgen",
    "gloo-net",
    "gloo-storage",
    "thiserror",
];

/// Crates the SDK must never ship: the broker's OpenAPI derives, behind patchbay-protocol's
/// `openapi` feature, which only the broker enables.
const NOT_SDK_CRATES: [&str; 2] = ["utoipa", "utoipa-gen"];

/// Fails when one of [`SDK_CRATES`] dropped out of the SDK's shipped dependency graph, or one of
/// [`NOT_SDK_CRATES`] came into it.
fn sdk_crates(ws: &Workspace) -> Result<()> {
    let tree = cmd::capture(ws.command("cargo").args([
        "tree",
        "--package",
        "patchbay-sdk",
        "--target",
        WASM_TARGET,
        "--edges",
        "normal",
        "--prefix",
        "none",
    ]))?;
    let tree = String::from_utf8_lossy(&tree);
    let shipped: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    let missing: Vec<&str> = SDK_CRATES.iter().copied().filter(|name| !shipped.contains(name)).collect();
    if !missing.is_empty() {
        bail!("the SDK's shipped dependency graph lacks {}", missing.join(", "));
    }
    let leaked: Vec<&str> = NOT_SDK_CRATES.iter().copied().filter(|name| shipped.contains(name)).collect();
    if !leaked.is_empty() {
        bail!("the SDK's shipped dependency graph has {} (the broker's OpenAPI derives)", leaked.join(", "));
    }
    println!(
        "SDK crates: all {} in the wasm32 dependency graph, none of {}",
        SDK_CRATES.len(),
        NOT_SDK_CRATES.join(", ")
    );
    Ok(())
}

/// What no hand-written JavaScript under js/ may use: the SDK's DOM work, requests, popup,
/// timers and storage live in its Rust module.
const JS_FORBIDDEN: [&str; 14] = [
    "document.",
    "window.",
    "fetch(",
    "XMLHttpRequest",
    "setTimeout",
    "setInterval",
    "requestAnimationFrame",
    "localStorage",
    "sessionStorage",
    "addEventListener",
    "querySelector",
    "createElement",
    "dispatchEvent",
    "history.",
];

/// Fails when a file under js/ touches the DOM, fetch, `window.open`, timers or storage.
fn js_policy(ws: &Workspace) -> Result<()> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(ws.root.join("js"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "js") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for api in JS_FORBIDDEN.iter().filter(|api| code.contains(**api)) {
                found.push(format!("{}:{}: {api}", path.display(), number + 1));
            }
        }
    }
    if !found.is_empty() {
        bail!("hand-written JavaScript does the SDK's browser work:\n{}", found.join("\n"));
    }
    println!("js/: no DOM, fetch, popup, timer or storage use");
    Ok(())
}

/// Type-checks js/patchbay.d.ts with tests/browser-types.ts (`tsc --strict`), against the glue's
/// generated declarations.
fn typecheck(ws: &Workspace, bundle: &Bundle) -> Result<()> {
    // Laid out as in the npm package (see pack.rs): the entry's and the glue's declarations side
    // by side.
    let dir = ws.xtask_dir().join("types");
    let package = dir.join("package");
    std::fs::create_dir_all(&package)?;
    let sdk_types = package.join("patchbay.d.ts");
    let glue_types = package.join("patchbay_sdk.d.ts");
    std::fs::copy(ws.root.join("js/patchbay.d.ts"), &sdk_types)?;
    std::fs::copy(bundle.js.with_extension("d.ts"), &glue_types)?;
    let config = format!(
        r#"{{
  "compilerOptions": {{
    "strict": true, "noEmit": true, "target": "es2022", "module": "es2022", "moduleResolution": "bundler",
    "lib": ["esnext", "dom"], "skipLibCheck": false, "types": [],
    "paths": {{ "@patchbay/sdk": ["{sdk}"], "@patchbay/glue": ["{glue}"] }}
  }},
  "files": ["{test}"]
}}
"#,
        sdk = sdk_types.display(),
        glue = glue_types.display(),
        test = ws.tests_dir().join("browser-types.ts").display(),
    );
    let path = dir.join("tsconfig.json");
    std::fs::write(&path, config)?;
    cmd::run(ws.command(ws.node_bin().join("tsc")).arg("-p").arg(&path))?;
    println!("TypeScript: js/patchbay.d.ts type-checks (tests/browser-types.ts)");
    Ok(())
}
