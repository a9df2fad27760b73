//! `cargo xtask fuzz [TARGET] [SECONDS]`: coverage-guided fuzzing of the broker with cargo-fuzz
//! (libFuzzer, nightly toolchain). The targets live in `crates/broker/fuzz` (catalog loader,
//! template renderer, session tokens, the OAuth callback's query, the JSON body extractors); their
//! checks are plain functions that the native tests also run over the committed corpus.
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

/// The targets the fuzz crate declares (`cargo fuzz list`).
fn targets(ws: &Workspace) -> Result<Vec<String>> {
    let listed =
        cmd::capture(ws.command("cargo").args(["+nightly", "fuzz", "list", "--fuzz-dir", FUZZ_DIR]))?;
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

/// Fuzzes `target` (every target when `None`) for `seconds` each.
pub fn run(ws: &Workspace, target: Option<&str>, seconds: u64) -> Result<()> {
    crate::setup::fuzz_tools(ws)?;
    let all = targets(ws)?;
    let chosen: Vec<String> = match target {
        Some(name) if all.iter().any(|t| t == name) => vec![name.to_owned()],
        Some(name) => bail!("no fuzz target `{name}` (targets: {})", all.join(", ")),
        None => all,
    };
    cmd::run(ws.command("cargo").args(["+nightly", "fuzz", "build", "--fuzz-dir", FUZZ_DIR]))?;
    for name in &chosen {
        let scratch = ws.xtask_dir().join("fuzz-corpus").join(name);
        fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
        let committed = ws.root.join(FUZZ_DIR).join("corpus").join(name);
        println!("fuzz {name}: {seconds} s");
        let ran = cmd::run(
            ws.command("cargo")
                .args(["+nightly", "fuzz", "run", "--fuzz-dir", FUZZ_DIR, name])
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
