//! `cargo xtask budget`: the SDK's download-size budget, measured on the release bundle.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::bundle::{self, Bundle};
use crate::cmd;
use crate::workspace::Workspace;

/// The most the wasm module plus its JS glue may weigh, gzipped at -9: 60 KiB.
pub const GZIP_BUDGET_BYTES: u64 = 60 * 1024;

/// Builds the release bundle, prints its sizes and fails when it is over budget.
pub fn run(ws: &Workspace) -> Result<()> {
    let bundle = bundle::build_release(ws)?;
    check(ws, &bundle)
}

/// Prints raw and gzipped sizes of the bundle's files and enforces [`GZIP_BUDGET_BYTES`].
pub fn check(ws: &Workspace, bundle: &Bundle) -> Result<()> {
    let mut total_gzip = 0;
    println!("\n{:<30} {:>10} {:>12}", "bundle file", "raw", "gzip -9");
    for (label, path) in [("wasm", &bundle.wasm), ("JS glue", &bundle.js)] {
        let raw = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
        let gzip = gzip_len(ws, path)?;
        total_gzip += gzip;
        let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
        println!("{:<30} {:>10} {:>12}", format!("{name} ({label})"), bytes(raw), bytes(gzip));
    }
    println!(
        "{:<30} {:>10} {:>12}   budget {} ({:.1}% used)",
        "wasm + glue",
        "",
        bytes(total_gzip),
        bytes(GZIP_BUDGET_BYTES),
        total_gzip as f64 * 100.0 / GZIP_BUDGET_BYTES as f64
    );
    if total_gzip > GZIP_BUDGET_BYTES {
        bail!(
            "the SDK bundle is over its size budget: {} gzipped > {} (wasm + JS glue)",
            bytes(total_gzip),
            bytes(GZIP_BUDGET_BYTES)
        );
    }
    Ok(())
}

/// Size of `path` compressed by `gzip -9` (without a name or timestamp in the header).
pub fn gzip_len(ws: &Workspace, path: &Path) -> Result<u64> {
    let compressed = cmd::capture(ws.command("gzip").args(["-9", "-n", "-c"]).arg(path))?;
    Ok(compressed.len() as u64)
}

fn bytes(n: u64) -> String {
    format!("{n} B")
}
