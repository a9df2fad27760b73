//! `cargo xtask pack`: the npm package `@patchbay/sdk` (ESM, `exports` map, types, explicit
//! `files`, version from Cargo.toml) as a tarball, and the folder the broker serves at `/sdk/` and
//! `/embed.js`, where the glue and the wasm carry content hashes in their names (cached for a year)
//! behind fixed entry points (revalidated).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::budget::gzip_len;
use crate::bundle;
use crate::cmd;
use crate::workspace::Workspace;

/// The package entry (js/patchbay.js) must stay small: it is what every page downloads first.
const ENTRY_GZIP_BUDGET: u64 = 1024;
const GLUE: &str = "patchbay_sdk.js";
const WASM: &str = "patchbay_sdk_bg.wasm";

/// What `pack` produced.
pub struct Packed {
    /// The npm tarball.
    pub tarball: PathBuf,
    /// The folder for the broker's `sdk_dir`.
    pub served: PathBuf,
}

pub fn run(ws: &Workspace) -> Result<()> {
    let packed = build(ws)?;
    println!("npm package: {}\nbroker sdk_dir: {}", packed.tarball.display(), packed.served.display());
    Ok(())
}

/// Builds the release bundle, then the npm package and the served folder.
pub fn build(ws: &Workspace) -> Result<Packed> {
    bundle::build_release(ws)?;
    let version = workspace_version(ws)?;
    let npm = ws.target_dir().join("npm");
    let package = npm.join("package");
    reset(&package)?;
    let pkg = ws.target_dir().join("pkg");
    for file in [GLUE, WASM, "patchbay_sdk.d.ts"] {
        copy(&pkg.join(file), &package.join(file))?;
    }
    copy_tree(&pkg.join("snippets"), &package.join("snippets"))?;
    for file in ["patchbay.js", "patchbay.d.ts", "error.js"] {
        copy(&ws.root.join("js").join(file), &package.join(file))?;
    }
    for file in ["package.json", "README.md"] {
        let template = fs::read_to_string(ws.root.join("pkg-template").join(file))
            .with_context(|| format!("reading pkg-template/{file}"))?;
        fs::write(package.join(file), template.replace("{{version}}", &version))?;
    }
    let output = String::from_utf8(cmd::capture(
        ws.command("npm").current_dir(&package).args(["pack", "--silent", "--pack-destination"]).arg(&npm),
    )?)?;
    let tarball = npm.join(output.lines().last().context("npm pack printed no file name")?.trim());
    // A fixed name too, so examples/vite depends on the local build whatever the version.
    copy(&tarball, &npm.join("patchbay-sdk.tgz"))?;

    let served = ws.target_dir().join("sdk");
    reset(&served)?;
    copy_tree(&package, &served)?;
    let wasm_name = hashed(&served, WASM)?;
    replace_in(&served.join(GLUE), WASM, &wasm_name)?;
    let glue_name = hashed(&served, GLUE)?;
    replace_in(&served.join("patchbay.js"), &format!("./{GLUE}"), &format!("./{glue_name}"))?;
    copy(&ws.root.join("js/embed.js"), &served.join("embed.js"))?;

    let entry = gzip_len(ws, &package.join("patchbay.js"))?;
    println!(
        "package entry patchbay.js: {entry} B gzipped (budget {ENTRY_GZIP_BUDGET} B); wasm {} B and glue {} B gzipped, loaded on first init",
        gzip_len(ws, &package.join(WASM))?,
        gzip_len(ws, &package.join(GLUE))?
    );
    if entry > ENTRY_GZIP_BUDGET {
        bail!("the package entry is {entry} B gzipped, over its {ENTRY_GZIP_BUDGET} B budget");
    }
    Ok(Packed { tarball, served })
}

/// `[workspace.package] version` from the root Cargo.toml.
fn workspace_version(ws: &Workspace) -> Result<String> {
    let manifest = fs::read_to_string(ws.root.join("Cargo.toml"))?;
    let section = manifest.split("[workspace.package]").nth(1).context("no [workspace.package]")?;
    let line = section.lines().find(|l| l.trim_start().starts_with("version")).context("no version")?;
    Ok(line.split('"').nth(1).context("unquoted version")?.to_owned())
}

fn reset(dir: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if !from.exists() {
        return Ok(());
    }
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            copy(&entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Renames `dir/name` to `stem.<content hash>.ext` and returns the new name.
fn hashed(dir: &Path, name: &str) -> Result<String> {
    let bytes = fs::read(dir.join(name))?;
    // FNV-1a: a stable content fingerprint for cache busting, not a security measure.
    let hash = bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    let (stem, ext) = name.rsplit_once('.').context("a file name with an extension")?;
    let new_name = format!("{stem}.{hash:016x}.{ext}");
    fs::rename(dir.join(name), dir.join(&new_name))?;
    Ok(new_name)
}

fn replace_in(path: &Path, from: &str, to: &str) -> Result<()> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !text.contains(from) {
        bail!("{} does not mention `{from}`", path.display());
    }
    fs::write(path, text.replace(from, to))?;
    Ok(())
}
