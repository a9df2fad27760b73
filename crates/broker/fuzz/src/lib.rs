//! Fuzz targets for the broker (see `checks`). Run with `cargo xtask fuzz [TARGET] [SECONDS]`.

pub mod checks;
