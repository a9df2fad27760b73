//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets' checks, on
//! the stable toolchain, in every test run: each input a fuzzer once found interesting, and each
//! crash input added there, is checked again.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::Path;

#[test]
fn every_corpus_input_passes_its_target() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, check) in checks::TARGETS {
        let dir = corpus.join(target);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{target} has a corpus");
        for input in inputs {
            let data = std::fs::read(&input).expect("readable input");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails (see the panic above)", input.display());
        }
    }
}
