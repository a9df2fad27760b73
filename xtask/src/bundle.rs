//! Building the SDK's release bundle: size-optimised wasm, wasm-bindgen's JS glue for
//! `--target web`, then binaryen's `wasm-opt -Oz`. Used by `budget` (and later `pack`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::setup::WASM_TARGET;
use crate::workspace::Workspace;

/// The SDK package name, as Cargo knows it.
const SDK_PACKAGE: &str = "patchbay-sdk";
/// Its library name (file stem of the wasm artifact and of wasm-bindgen's outputs).
const SDK_LIB: &str = "patchbay_sdk";
/// The Cargo profile that optimises for size (root Cargo.toml).
const PROFILE: &str = "wasm-release";
/// Loads the bundle in Node (which runs the same V8 engine as Chromium) and calls an export, so
/// a broken optimisation fails here rather than in a user's browser.
const SMOKE_TEST_JS: &str = r#"
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const { BUNDLE_JS, BUNDLE_WASM, EXPECTED_VERSION } = process.env;
const sdk = await import(pathToFileURL(BUNDLE_JS).href);
await sdk.default({ module_or_path: await readFile(BUNDLE_WASM) });
const version = sdk.sdkVersion();
if (version !== EXPECTED_VERSION) {
  console.error(`sdkVersion() returned ${JSON.stringify(version)}, expected ${EXPECTED_VERSION}`);
  process.exit(1);
}
console.log(`bundle loads in Node ${process.version}: sdkVersion() = ${version}`);
"#;

/// The files of a built bundle.
pub struct Bundle {
    /// The optimised module (`<lib>_bg.wasm`).
    pub wasm: PathBuf,
    /// The ES-module JS glue (`<lib>.js`).
    pub js: PathBuf,
    /// The JS files the glue imports (wasm-bindgen's `snippets/`).
    pub snippets: Vec<PathBuf>,
    /// The bound module before wasm-opt, names kept (for size analysis).
    pub named: PathBuf,
}

/// Records which raw module `target/pkg` was built from, so one `cargo xtask test` (budget, then
/// the e2e stage's pack) binds, optimises and smoke-tests a module once.
const STAMP: &str = ".built-from";

/// Builds the release bundle into `target/pkg` (emptied first) and returns its files; reuses it
/// when it was built from the same raw module.
pub fn build_release(ws: &Workspace) -> Result<Bundle> {
    cmd::run(ws.command("cargo").args([
        "build",
        "--package",
        SDK_PACKAGE,
        "--target",
        WASM_TARGET,
        "--profile",
        PROFILE,
    ]))?;
    let raw = ws.target_dir().join(WASM_TARGET).join(PROFILE).join(format!("{SDK_LIB}.wasm"));
    if !raw.is_file() {
        bail!("cargo build produced no {}", raw.display());
    }

    let out_dir = ws.target_dir().join("pkg");
    let wasm = out_dir.join(format!("{SDK_LIB}_bg.wasm"));
    let js = out_dir.join(format!("{SDK_LIB}.js"));
    let stamp = fingerprint(&raw)?;
    if fs::read_to_string(out_dir.join(STAMP)).is_ok_and(|built| built == stamp)
        && wasm.is_file()
        && js.is_file()
        && out_dir.join(NAMED).is_file()
    {
        println!("bundle in {} is up to date", out_dir.display());
        return Bundle::found(wasm, js, &out_dir);
    }
    if out_dir.exists() {
        fs::remove_dir_all(&out_dir).with_context(|| format!("emptying {}", out_dir.display()))?;
    }
    cmd::run(ws.command("wasm-bindgen").args(["--target", "web", "--out-dir"]).arg(&out_dir).arg(&raw))?;

    fs::copy(&wasm, out_dir.join(NAMED)).with_context(|| format!("copying {}", wasm.display()))?;
    optimise(ws, &raw, &wasm)?;

    for file in [&wasm, &js] {
        if !file.is_file() {
            bail!("the bundle lacks {}", file.display());
        }
    }
    let bundle = Bundle::found(wasm, js, &out_dir)?;
    smoke_test(ws, &bundle)?;
    fs::write(out_dir.join(STAMP), stamp)
        .with_context(|| format!("writing {}", out_dir.join(STAMP).display()))?;
    Ok(bundle)
}

/// The bound module before optimisation (beside the bundle, not part of it).
const NAMED: &str = "named.wasm.unoptimised";

impl Bundle {
    fn found(wasm: PathBuf, js: PathBuf, out_dir: &Path) -> Result<Bundle> {
        let mut snippets = Vec::new();
        collect_js(&out_dir.join("snippets"), &mut snippets)?;
        snippets.sort();
        Ok(Bundle { wasm, js, snippets, named: out_dir.join(NAMED) })
    }
}

fn collect_js(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_js(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "js") {
            out.push(path);
        }
    }
    Ok(())
}

/// A fingerprint of the raw module's bytes.
fn fingerprint(raw: &Path) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let bytes = fs::read(raw).with_context(|| format!("reading {}", raw.display()))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    Ok(format!("{:016x} {}", hasher.finish(), bytes.len()))
}

/// Runs binaryen's `wasm-opt -Oz` on `wasm` in place, enabling exactly the wasm features rustc
/// declared in `raw`'s `target_features` section (wasm-opt rejects a module using features it was
/// not told about, and rustc's defaults change between releases).
fn optimise(ws: &Workspace, raw: &Path, wasm: &Path) -> Result<()> {
    // binaryen from npm: Debian's wasm-opt (v108) silently breaks release builds.
    let wasm_opt = ws.node_bin().join("wasm-opt");
    if !wasm_opt.is_file() {
        bail!("{} is missing: run `cargo xtask setup`", wasm_opt.display());
    }
    // (-o /dev/null only silences "no output file" warnings.)
    let printed = cmd::capture(ws.command(&wasm_opt).arg(raw).args(["--print-features", "-o", "/dev/null"]))?;
    let features: Vec<String> = String::from_utf8_lossy(&printed)
        .split_whitespace()
        .filter(|word| word.starts_with("--enable-"))
        .map(str::to_owned)
        .collect();
    if features.is_empty() {
        bail!(
            "{} declares no wasm features (no target_features section: is `strip = true` set in \
             the {PROFILE} profile? Let wasm-opt strip instead)",
            raw.display()
        );
    }
    let optimised = wasm.with_extension("opt.wasm");
    cmd::run(
        ws.command(&wasm_opt)
            .arg("-Oz")
            .args(&features)
            .args(["--strip-debug", "--strip-producers"])
            .arg(wasm)
            .arg("-o")
            .arg(&optimised),
    )?;
    fs::rename(&optimised, wasm).with_context(|| format!("replacing {}", wasm.display()))
}

/// Instantiates the bundle in Node and checks `sdkVersion()`.
fn smoke_test(ws: &Workspace, bundle: &Bundle) -> Result<()> {
    cmd::run(
        ws.command("node")
            .args(["--input-type=module", "--eval", SMOKE_TEST_JS])
            .env("BUNDLE_JS", &bundle.js)
            .env("BUNDLE_WASM", &bundle.wasm)
            // xtask and the SDK both take their version from [workspace.package].
            .env("EXPECTED_VERSION", env!("CARGO_PKG_VERSION")),
    )
}
