//! `cargo xtask setup`: install everything the tests need, checking each item first so that a
//! second run only checks (seconds). Prints one line per item: `ok` or `installing`.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::workspace::Workspace;

/// The wasm target the SDK compiles to.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Cargo-installed tools at pinned versions (their own lockfiles work here, so `--locked`), each
/// with the name its `--version` prints: wasm-pack runs the browser tests, twiggy names what the
/// wasm bundle's bytes are, cargo-fuzz runs the broker's fuzz targets (on stable: no sanitizer).
const CARGO_TOOLS: &[(&str, &str, &str)] = &[
    ("wasm-pack", "0.15.1", "wasm-pack"),
    ("twiggy", "0.8.0", "twiggy-opt"),
    ("cargo-fuzz", "0.13.2", "cargo-fuzz"),
];
/// Debian packages, each with the file that proves it is installed.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("nginx", "/usr/sbin/nginx"),
    ("wrk", "/usr/bin/wrk"),
];
/// The PostgreSQL server package; its binary lives under a versioned folder.
const POSTGRES_PACKAGE: &str = "postgresql";
/// Pinned Python peers, installed into the venv.
const PYTHON_REQUIREMENTS: &str = "xtask/peers-requirements.txt";
/// Written into `node_modules` / the venv after a successful install: a copy of the inputs that
/// install came from, so an unchanged lockfile means "up to date".
const STAMP: &str = ".xtask-stamp";

/// Runs every setup step in order, stopping at the first failure.
pub fn run(ws: &Workspace) -> Result<()> {
    let started = std::time::Instant::now();
    wasm_target(ws)?;
    wasm_bindgen_cli(ws)?;
    cargo_tools(ws)?;
    apt_packages(ws)?;
    npm_tools(ws)?;
    python_peers(ws)?;
    println!("setup: done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn report(item: &str, installing: bool) {
    println!("{item:<28} {}", if installing { "installing" } else { "ok" });
}

fn wasm_target(ws: &Workspace) -> Result<()> {
    let installed = cmd::capture(ws.command("rustup").args(["target", "list", "--installed"]))?;
    let present = String::from_utf8_lossy(&installed).lines().any(|line| line.trim() == WASM_TARGET);
    report(&format!("rust target {WASM_TARGET}"), !present);
    if !present {
        cmd::run(ws.command("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

fn wasm_bindgen_cli(ws: &Workspace) -> Result<()> {
    let version = locked_version(ws, "wasm-bindgen")?;
    // Both binaries of the package print `<name> <version>`.
    let present = ["wasm-bindgen", "wasm-bindgen-test-runner"].iter().all(|tool| {
        cmd::probe(ws.command(tool).arg("--version"))
            .is_some_and(|out| out.split_whitespace().eq([*tool, version.as_str()]))
    });
    report(&format!("wasm-bindgen-cli {version}"), !present);
    if !present {
        // Not --locked: its lockfile pins a webpki-roots release the registry no longer serves.
        // --force: a half-installed or mismatched copy must be replaced, not "already installed".
        cmd::run(ws.command("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &version,
            "--force",
        ]))?;
    }
    Ok(())
}

fn cargo_tools(ws: &Workspace) -> Result<()> {
    for (tool, version, printed) in CARGO_TOOLS {
        let present = cmd::probe(ws.command(tool).arg("--version"))
            .is_some_and(|out| out.split_whitespace().eq([*printed, *version]));
        report(&format!("{tool} {version}"), !present);
        if !present {
            cmd::run(ws.command("cargo").args([
                "install",
                tool,
                "--version",
                version,
                "--locked",
                "--force",
            ]))?;
        }
    }
    Ok(())
}

/// The version of `package` recorded in `Cargo.lock` (exactly one must be locked).
fn locked_version(ws: &Workspace, package: &str) -> Result<String> {
    let path = ws.root.join("Cargo.lock");
    let lock = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    match locked_versions(&lock, package).as_slice() {
        [version] => Ok(version.clone()),
        [] => bail!("{} locks no `{package}` package", path.display()),
        many => bail!("{} locks several `{package}` versions: {}", path.display(), many.join(", ")),
    }
}

/// Every version of `package` in the text of a `Cargo.lock`.
fn locked_versions(lock: &str, package: &str) -> Vec<String> {
    let name_line = format!("name = \"{package}\"");
    let mut versions = Vec::new();
    let mut in_package = false;
    for line in lock.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = false;
        } else if line == name_line {
            in_package = true;
        } else if in_package {
            if let Some(version) = line.strip_prefix("version = \"").and_then(|v| v.strip_suffix('"')) {
                versions.push(version.to_owned());
                in_package = false;
            }
        }
    }
    versions
}

fn apt_packages(ws: &Workspace) -> Result<()> {
    let mut missing = Vec::new();
    for (package, binary) in APT_PACKAGES {
        let present = Path::new(binary).exists();
        report(&format!("apt {package}"), !present);
        if !present {
            missing.push(*package);
        }
    }
    let postgres = postgres_server_installed();
    report(&format!("apt {POSTGRES_PACKAGE}"), !postgres);
    if !postgres {
        missing.push(POSTGRES_PACKAGE);
    }
    apt_install(ws, &missing)
}

/// True when some `/usr/lib/postgresql/<version>/bin/postgres` exists.
fn postgres_server_installed() -> bool {
    fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().any(|entry| entry.path().join("bin/postgres").is_file()))
        .unwrap_or(false)
}

/// `apt-get update` once, then installs `packages` non-interactively (via `sudo -n` when not root).
fn apt_install(ws: &Workspace, packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let apt = |args: &[&str]| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let mut command = if root { ws.command("apt-get") } else { ws.command("sudo") };
        if !root {
            command.args(["-n", "apt-get"]);
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    cmd::run(&mut apt(&["update"]))?;
    let mut install = vec!["install", "-y"];
    install.extend_from_slice(packages);
    cmd::run(&mut apt(&install))
}

/// npm tools pinned by `tests/package-lock.json`, installed with `npm ci` unless the stamp in
/// `node_modules` says this exact lockfile was already installed.
fn npm_tools(ws: &Workspace) -> Result<()> {
    let tests = ws.tests_dir();
    let lock_path = tests.join("package-lock.json");
    let lock = fs::read(&lock_path).with_context(|| format!("reading {}", lock_path.display()))?;
    let stamp_path = tests.join("node_modules").join(STAMP);
    let up_to_date =
        fs::read(&stamp_path).is_ok_and(|stamp| stamp == lock) && ws.node_bin().join("wasm-opt").is_file();
    report("npm tools (tests/)", !up_to_date);
    if up_to_date {
        return Ok(());
    }
    if ws.which("npm").is_none() {
        bail!("npm is not on PATH: install Node.js 20 (with npm) first");
    }
    cmd::run(ws.command("npm").current_dir(&tests).args(["ci", "--no-audit", "--no-fund"]))?;
    fs::write(&stamp_path, &lock).with_context(|| format!("writing {}", stamp_path.display()))
}

/// The Python peers (httpbin under gunicorn) in `.tools/venv`, reinstalled when the pinned
/// requirements or the interpreter change.
fn python_peers(ws: &Workspace) -> Result<()> {
    let req_path = ws.root.join(PYTHON_REQUIREMENTS);
    let requirements =
        fs::read_to_string(&req_path).with_context(|| format!("reading {}", req_path.display()))?;
    let python = cmd::probe(ws.command("python3").arg("--version")).unwrap_or_default();
    let expected_stamp = format!("{}\n{requirements}", python.trim());
    let venv = ws.venv();
    let stamp_path = venv.join(STAMP);
    let up_to_date = fs::read_to_string(&stamp_path).is_ok_and(|stamp| stamp == expected_stamp)
        && venv.join("bin/gunicorn").is_file();
    report("python peers (.tools/venv)", !up_to_date);
    if up_to_date {
        return Ok(());
    }
    if python.is_empty() {
        bail!("python3 is not on PATH: install Python 3 (3.11 is what CI uses)");
    }
    // Debian's own python3 ships venv/ensurepip separately.
    if cmd::probe(ws.command("python3").args(["-c", "import venv, ensurepip"])).is_none() {
        println!("{:<28} installing", "apt python3-venv");
        apt_install(ws, &["python3-venv"])?;
    }
    cmd::run(ws.command("python3").args(["-m", "venv", "--clear"]).arg(&venv))?;
    cmd::run(
        ws.command(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&req_path),
    )?;
    fs::write(&stamp_path, expected_stamp).with_context(|| format!("writing {}", stamp_path.display()))
}

#[cfg(test)]
mod tests {
    use super::locked_versions;

    const LOCK: &str = r#"
[[package]]
name = "wasm-bindgen-test"
version = "0.3.80"

[[package]]
name = "wasm-bindgen"
version = "0.2.130"
dependencies = [
 "cfg-if",
]
"#;

    #[test]
    fn reads_the_exact_package_not_a_prefix_match() {
        assert_eq!(locked_versions(LOCK, "wasm-bindgen"), ["0.2.130"]);
        assert_eq!(locked_versions(LOCK, "wasm-bindgen-test"), ["0.3.80"]);
        assert!(locked_versions(LOCK, "wasm-pack").is_empty());
    }

    #[test]
    fn the_workspace_lock_pins_wasm_bindgen_once() {
        let lock = include_str!("../../Cargo.lock");
        assert_eq!(locked_versions(lock, "wasm-bindgen").len(), 1);
    }
}
