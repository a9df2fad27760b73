//! Embeds the built-in catalog (`catalog/apps/*.toml` at the repository root) into the binary, so
//! an installed broker needs no data folder. Generates `BUILTIN_FILES: &[(file name, source)]`.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog/apps");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    let mut out = String::from("/// The built-in catalog files: (file name, source).\npub static BUILTIN_FILES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name");
        let absolute = path.canonicalize().expect("catalog file path");
        writeln!(out, "    ({name:?}, include_str!({:?})),", absolute.display().to_string()).expect("write");
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("builtin_catalog.rs");
    std::fs::write(target, out).expect("write the built-in catalog list");
}
