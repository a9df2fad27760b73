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
    /// A short run of every broker fuzz target (the corpus replay is part of `native`).
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
            Stage::Fuzz => crate::fuzz::run(ws, None, crate::fuzz::TEST_SECONDS),
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
                report_snippets(ws, &bundle)?;
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

/// Prints what else the SDK loads besides wasm and glue (the hand-written JS imported by the
/// wasm module, and the package entry), so the report shows the whole download.
fn report_snippets(ws: &Workspace, bundle: &Bundle) -> Result<()> {
    let mut total = 0;
    let mut files = vec![ws.root.join("js/patchbay.js")];
    let snippets = bundle.js.with_file_name("snippets");
    let mut dirs = vec![snippets];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).map_err(|err| anyhow::anyhow!("reading {}: {err}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for file in &files {
        let gzip = budget::gzip_len(ws, file)?;
        total += gzip;
        println!(
            "{:<30} {:>10} {:>12}",
            file.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            "",
            format!("{gzip} B")
        );
    }
    println!(
        "{:<30} {:>10} {:>12}   (entry and snippets, not in the wasm + glue budget)",
        "JS besides the glue",
        "",
        format!("{total} B")
    );
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
