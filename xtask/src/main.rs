//! Patchbay's development tasks, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `setup`: install every tool the tests need, idempotently (a second run takes seconds).
//! - `demo`: the broker, local third-party apps and the example app, on one printed URL.
//! - `test`: run every check CI runs, stopping at the first failure.
//! - `budget`: build the release wasm bundle and enforce its gzipped size budget.
//! - `e2e`: the end-to-end tests alone (all, or the named files).
//! - `pack`: the npm package and the folder the broker serves the SDK from.
//! - `bench`: measure what the broker's invoke path adds to an upstream call, on SQLite and PostgreSQL.

mod bench;
mod broker;
mod browser;
mod budget;
mod bundle;
mod cmd;
mod demo;
mod e2e;
mod fuzz;
mod pack;
mod peers;
mod postgres;
mod setup;
mod test;
mod workspace;

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::test::Stage;
use crate::workspace::Workspace;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup                  install the toolchain, cargo tools (wasm-pack, twiggy, cargo-fuzz), browsers,
                         peers and npm/Python tools (idempotent)
  demo                   run the broker, local OAuth/API apps and the example app; prints the URL
  test [--only STAGE]    run every check, stopping at the first failure; --only (repeatable or
                         comma-separated) runs just the named stages: fmt, clippy, native,
                         fuzz, browser, budget, e2e
  fuzz [TARGET] [SECS]   fuzz the broker with cargo-fuzz (optimised build): every target, or TARGET, SECS each
                         (default 60); the targets: catalog, template, session_token, callback_query,
                         json_bodies
  budget                 build the release wasm bundle and check its gzipped size budget
  e2e [NAME…]            the end-to-end tests alone (Playwright + Chromium against the demo environment);
                         NAME runs just tests/e2e/NAME.test.mjs
  pack                   build the npm package (target/npm) and the broker-served SDK folder (target/sdk)
  bench [--runs N]       load the invoke path with wrk: direct vs nginx reverse proxy vs the broker on
                         SQLite and on PostgreSQL (req/s, p50, p99, broker CPU per call); N runs
                         (default 3), then their medians
  help                   show this message";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nxtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        bail!("no command given");
    };
    match command.as_str() {
        "setup" => {
            no_extra_args(command, rest)?;
            setup::run(&Workspace::locate()?)
        }
        "test" => {
            let stages = parse_test_args(rest)?;
            test::run(&Workspace::locate()?, &stages)
        }
        "demo" => {
            no_extra_args(command, rest)?;
            demo::run(&Workspace::locate()?)
        }
        "e2e" => e2e::run(&Workspace::locate()?, rest),
        "fuzz" => {
            let (target, seconds) = fuzz::parse_args(rest)?;
            fuzz::run(&Workspace::locate()?, target.as_deref(), seconds, fuzz::Build::Optimised)
        }
        "pack" => {
            no_extra_args(command, rest)?;
            pack::run(&Workspace::locate()?)
        }
        "bench" => {
            let runs = bench::parse_args(rest)?;
            bench::run(&Workspace::locate()?, runs)
        }
        "budget" => {
            no_extra_args(command, rest)?;
            budget::run(&Workspace::locate()?)
        }
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => {
            println!("{USAGE}");
            bail!("unknown command `{other}`")
        }
    }
}

fn no_extra_args(command: &str, rest: &[String]) -> Result<()> {
    if let Some(arg) = rest.first() {
        bail!("`{command}` takes no arguments (got `{arg}`)");
    }
    Ok(())
}

/// Parses `test`'s arguments into the stages to run, in pipeline order (all of them by default).
fn parse_test_args(args: &[String]) -> Result<Vec<Stage>> {
    let mut chosen = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = match arg.strip_prefix("--only=") {
            Some(value) => value,
            None if arg == "--only" => match iter.next() {
                Some(value) => value.as_str(),
                None => bail!("`--only` needs a stage name"),
            },
            None => bail!("unknown argument `{arg}` to `test`\n\n{USAGE}"),
        };
        for name in value.split(',').filter(|name| !name.is_empty()) {
            chosen.push(Stage::parse(name)?);
        }
    }
    if chosen.is_empty() {
        return Ok(Stage::ALL.to_vec());
    }
    Ok(Stage::ALL.iter().copied().filter(|stage| chosen.contains(stage)).collect())
}

#[cfg(test)]
mod tests {
    use super::parse_test_args;
    use crate::test::Stage;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn no_arguments_runs_every_stage() {
        assert_eq!(parse_test_args(&[]).ok(), Some(Stage::ALL.to_vec()));
    }

    #[test]
    fn only_keeps_pipeline_order_whatever_the_spelling() {
        let expected = Some(vec![Stage::Clippy, Stage::Budget]);
        assert_eq!(parse_test_args(&args(&["--only", "budget,clippy"])).ok(), expected);
        assert_eq!(parse_test_args(&args(&["--only=budget", "--only", "clippy"])).ok(), expected);
    }

    #[test]
    fn unknown_stages_and_arguments_are_errors() {
        assert!(parse_test_args(&args(&["--only", "lint"])).is_err());
        assert!(parse_test_args(&args(&["--only"])).is_err());
        assert!(parse_test_args(&args(&["--fast"])).is_err());
    }
}
