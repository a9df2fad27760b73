//! The broker's one-direction layering (DESIGN.md, "Broker layers"): `main`/`cli` → `http` → core.
//! The core (every module but `http`) never names the `http` module, so a CLI command, a background
//! task or a future front end runs the domain exactly as a handler does. This test makes the rule
//! mechanical: a new `use crate::http::…` in the core fails the test run.

use std::path::{Path, PathBuf};

/// Lines of `source` that reach into the `http` module, as (line number, text).
fn http_uses(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let reaches = ["crate::http", "super::http", "self::http", "patchbay_broker::http"]
            .iter()
            .any(|path| compact.contains(path))
            // `use crate::{…, http, …}` and `use super::{http::…}`.
            || ((compact.starts_with("usecrate::{") || compact.starts_with("usesuper::{"))
                && compact.split(['{', ',', '}']).any(|part| part == "http" || part.starts_with("http::")));
        if reaches {
            found.push((i + 1, line.trim().to_owned()));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_core_never_reaches_into_the_http_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("below src");
        // The HTTP layer itself, and the two places that wire it up: the router re-export and the
        // binary's `serve`.
        if relative.starts_with("http") {
            continue;
        }
        let source = std::fs::read_to_string(file).expect("readable");
        for (line, text) in http_uses(&source) {
            let wiring = relative == Path::new("lib.rs")
                && (text == "pub mod http;" || text == "pub use http::router;");
            if !wiring {
                violations.push(format!("src/{}:{line}: {text}", relative.display()));
            }
        }
    }
    assert!(files.len() > 20, "the scan found the sources ({} files)", files.len());
    assert!(
        violations.is_empty(),
        "core modules must not use the `http` module (move the item into the core instead):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scan_sees_every_way_of_naming_the_http_module() {
    let caught = [
        "use crate::http::steps::StepLog;",
        "let x = crate::http::account_not_found();",
        "use super::http::find_app;",
        "use crate::{error, http};",
        "use crate::{http::Session, store};",
        "    .ok_or_else(crate :: http :: account_not_found)?;",
    ];
    for line in caught {
        assert_eq!(http_uses(line).len(), 1, "{line}");
    }
    let fine = [
        "use axum::http::StatusCode;",
        "use crate::store::http_status;",
        "// crate::http is the HTTP layer",
        "use reqwest::header::HeaderValue;",
    ];
    for line in fine {
        assert!(http_uses(line).is_empty(), "{line}");
    }
}
