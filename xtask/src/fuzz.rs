//! `cargo xtask fuzz [TARGET] [SECONDS]`: coverage-guided fuzzing of the broker with cargo-fuzz
//! (libFuzzer) on the stable toolchain. The targets live in `crates/broker/fuzz` (catalog loader,
//! template renderer, session tokens, the OAuth callback's query, the JSON body extractors); their
//! checks are plain functions that the native tests also run over the committed corpus.
//!
//! No sanitizer: AddressSanitizer needs nightly, and the broker forbids `unsafe` code, so what a
//! run can find is a panic, an overflow (debug assertions are on) or a hang, all of which libFuzzer
//! catches uninstrumented. The test run fuzzes briefly on a debug build (quick to compile); the
//! long runs of `cargo xtask fuzz` use an optimised one.
//!
//! New interesting inputs go to a scratch corpus under target/xtask, so the committed corpus only
//! grows by hand; a crash stops the run and names the input to add there with its fix.

use std::fs;

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::workspace::Workspace;

/// The fuzz crate, relative to the repository root.
const FUZZ_DIR: &str = "crates/broker/fuzz";
/// How long `cargo xtask fuzz` runs each target unless told.
pub const DEFAULT_SECONDS: u64 = 60;
/// How long the test run fuzzes each target (five targets: under a minute in all).
pub const TEST_SECONDS: u64 = 10;

/// Which build the targets run on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Build {
    /// Unoptimised: compiles in a fraction of the time, for the test run's short fuzz.
    Quick,
    /// Optimised: many more executions a second, for long runs.
    Optimised,
}

impl Build {
    /// cargo-fuzz's arguments for this build (no sanitizer: see the module's comment).
    fn args(self) -> &'static [&'static str] {
        match self {
            Build::Quick => &["--sanitizer", "none", "--dev"],
            Build::Optimised => &["--sanitizer", "none"],
        }
    }

    /// The scratch corpus folder under target/xtask. The quick run's is emptied first, so the
    /// test run starts from the committed corpus alone and its time does not grow with what long
    /// runs found (loading a large corpus alone can take longer than the run's budget).
    fn scratch(self) -> &'static str {
        match self {
            Build::Quick => "fuzz-corpus-quick",
            Build::Optimised => "fuzz-corpus",
        }
    }
}

/// The targets the fuzz crate declares (`cargo fuzz list`).
fn targets(ws: &Workspace) -> Result<Vec<String>> {
    let listed = cmd::capture(ws.command("cargo").args(["fuzz", "list", "--fuzz-dir", FUZZ_DIR]))?;
    Ok(String::from_utf8(listed)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Parses `fuzz`'s arguments: an optional target name, then optional seconds.
pub fn parse_args(args: &[String]) -> Result<(Option<String>, u64)> {
    match args {
        [] => Ok((None, DEFAULT_SECONDS)),
        [one] => match one.parse() {
            Ok(seconds) => Ok((None, seconds)),
            Err(_) => Ok((Some(one.clone()), DEFAULT_SECONDS)),
        },
        [target, seconds] => {
            let seconds =
                seconds.parse().with_context(|| format!("`{seconds}` is not a number of seconds"))?;
            Ok((Some(target.clone()), seconds))
        }
        _ => bail!("usage: cargo xtask fuzz [TARGET] [SECONDS]"),
    }
}

/// Fuzzes `target` (every target when `None`) for `seconds` each, on `build`.
pub fn run(ws: &Workspace, target: Option<&str>, seconds: u64, build: Build) -> Result<()> {
    let all = targets(ws)?;
    let chosen: Vec<String> = match target {
        Some(name) if all.iter().any(|t| t == name) => vec![name.to_owned()],
        Some(name) => bail!("no fuzz target `{name}` (targets: {})", all.join(", ")),
        None => all,
    };
    for name in &chosen {
        let scratch = ws.xtask_dir().join(build.scratch()).join(name);
        if build == Build::Quick && scratch.exists() {
            fs::remove_dir_all(&scratch).with_context(|| format!("clearing {}", scratch.display()))?;
        }
        fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
        let committed = ws.root.join(FUZZ_DIR).join("corpus").join(name);
        println!("fuzz {name}: {seconds} s");
        let ran = cmd::run(
            ws.command("cargo")
                .args(["fuzz", "run", "--fuzz-dir", FUZZ_DIR])
                .args(build.args())
                .arg(name)
                .arg(&scratch)
                .arg(&committed)
                .args(["--", &format!("-max_total_time={seconds}"), "-timeout=10", "-print_final_stats=1"]),
        );
        if let Err(err) = ran {
            bail!(
                "fuzz target `{name}` failed: {err:#}\nThe crashing input is in {FUZZ_DIR}/artifacts/{name}/; \
                 fix the cause and add the input to {FUZZ_DIR}/corpus/{name}/ so the tests replay it"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn target_and_seconds_are_both_optional() {
        assert_eq!(parse_args(&[]).ok(), Some((None, DEFAULT_SECONDS)));
        assert_eq!(parse_args(&args(&["600"])).ok(), Some((None, 600)));
        assert_eq!(parse_args(&args(&["catalog"])).ok(), Some((Some("catalog".into()), DEFAULT_SECONDS)));
        assert_eq!(parse_args(&args(&["catalog", "30"])).ok(), Some((Some("catalog".into()), 30)));
        assert!(parse_args(&args(&["catalog", "soon"])).is_err());
        assert!(parse_args(&args(&["a", "1", "b"])).is_err());
    }
}
