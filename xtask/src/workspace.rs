//! Where things live in the repository, and the environment every spawned tool gets.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The repository checkout `cargo xtask` operates on.
pub struct Workspace {
    /// The workspace root (holds the root `Cargo.toml`, which is also the SDK crate).
    pub root: PathBuf,
    /// `PATH` for spawned tools: npm tools first (binaryen's `wasm-opt` must shadow Debian's broken
    /// one), then cargo-installed binaries, then the inherited `PATH`.
    path_env: OsString,
}

impl Workspace {
    /// Finds the workspace root: the parent of this crate's manifest directory.
    pub fn locate() -> Result<Self> {
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let Some(root) = manifest_dir.parent() else {
            bail!("xtask's manifest directory {} has no parent", manifest_dir.display());
        };
        let root = root.to_path_buf();
        if !root.join("Cargo.toml").is_file() {
            bail!("no Cargo.toml at the workspace root {}", root.display());
        }

        let mut dirs = vec![root.join("tests/node_modules/.bin"), cargo_home().join("bin")];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        let path_env = std::env::join_paths(dirs).context("building PATH for spawned tools")?;
        Ok(Self { root, path_env })
    }

    /// `tests/`: browser tests, `package.json` and `node_modules` for npm-installed tools.
    pub fn tests_dir(&self) -> PathBuf {
        self.root.join("tests")
    }

    /// The npm-installed executables (`wasm-opt`, `playwright-core`…).
    pub fn node_bin(&self) -> PathBuf {
        self.tests_dir().join("node_modules/.bin")
    }

    /// The Python virtualenv holding the Python test peers (gitignored).
    pub fn venv(&self) -> PathBuf {
        self.root.join(".tools/venv")
    }

    /// Cargo's target directory (honours `CARGO_TARGET_DIR`).
    pub fn target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => self.root.join(dir),
            None => self.root.join("target"),
        }
    }

    /// Scratch space for xtask itself (peer logs…), under the target directory.
    pub fn xtask_dir(&self) -> PathBuf {
        self.target_dir().join("xtask")
    }

    /// A command for `program`, run from the workspace root with the tool `PATH` and no stdin
    /// (CI has none; nothing here may wait for input).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let program = program.as_ref();
        // Resolve through our PATH so a bare name finds the npm / cargo tools first.
        let resolved = if Path::new(program).components().count() == 1 {
            self.which(program).unwrap_or_else(|| PathBuf::from(program))
        } else {
            PathBuf::from(program)
        };
        let mut cmd = Command::new(resolved);
        cmd.current_dir(&self.root).env("PATH", &self.path_env).stdin(Stdio::null());
        cmd
    }

    /// Looks `program` up on the tool `PATH`.
    pub fn which(&self, program: impl AsRef<std::ffi::OsStr>) -> Option<PathBuf> {
        std::env::split_paths(&self.path_env)
            .map(|dir| dir.join(program.as_ref()))
            .find(|candidate| is_executable(candidate))
    }
}

/// `$CARGO_HOME`, or `~/.cargo`.
fn cargo_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(home);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cargo")
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
