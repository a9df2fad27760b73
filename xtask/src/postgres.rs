//! A throwaway PostgreSQL cluster (Debian's server, installed by `cargo xtask setup`) for the
//! native tests and the bench: `initdb` into a fresh temporary folder, a server on a free 127.0.0.1 port with its
//! socket in that folder, trust authentication and a `patchbay_test` database. Tests find it
//! through [`URL_VAR`].
//!
//! The server is a [`Peer`], so it is stopped on success, error and panic alike (and gets its stop
//! signal if xtask dies); dropping the [`Cluster`] then deletes the folder. A folder left behind by
//! an xtask that was killed outright is deleted by the next run.

use std::fs;
use std::os::unix::fs::{chown, DirBuilderExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::peers::{free_port, Peer};
use crate::workspace::Workspace;

/// The variable that tells tests where the cluster's test database is.
pub const URL_VAR: &str = "PATCHBAY_TEST_POSTGRES_URL";
/// Where Debian installs the server, one folder per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// The database the tests get (they create their own databases beside it).
const DATABASE: &str = "patchbay_test";
/// The superuser `initdb` creates; trust authentication, so no password.
const ROLE: &str = "patchbay";
/// The system user the server runs as when xtask runs as root (PostgreSQL refuses root).
const SYSTEM_USER: &std::ffi::CStr = c"postgres";
/// Prefix of the temporary folder, followed by the owning xtask's process id.
const DIR_PREFIX: &str = "patchbay-pg-";
/// Throwaway data: no durability, and room for two broker replicas plus parallel tests.
const SERVER_SETTINGS: &[&str] =
    &["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200"];

/// A running throwaway cluster; dropping it stops the server and deletes its files.
pub struct Cluster {
    server: Option<Peer>,
    dir: PathBuf,
    url: String,
}

impl Cluster {
    /// Creates and starts a cluster, and its `patchbay_test` database.
    pub fn start(ws: &Workspace) -> Result<Cluster> {
        let started = Instant::now();
        let bin = server_bin_dir()?;
        let account = system_account()?;
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        // From here on, dropping `cluster` deletes the folder, whatever fails next.
        let mut cluster = Cluster { server: None, dir, url: String::new() };
        cluster.create_dir(account)?;
        let data = cluster.dir.join("data");

        let mut initdb = as_account(Command::new(bin.join("initdb")), account, &cluster.dir);
        initdb.arg("-D").arg(&data).args(["-U", ROLE, "--auth=trust", "--encoding=UTF8", "--locale=C"]);
        initdb.args(["--no-sync", "--no-instructions"]);
        quiet(&mut initdb)?;

        let port = free_port()?;
        let mut postgres = as_account(Command::new(bin.join("postgres")), account, &cluster.dir);
        postgres.arg("-D").arg(&data).arg("-k").arg(&cluster.dir);
        postgres.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
        for setting in SERVER_SETTINGS {
            postgres.args(["-c", setting]);
        }
        // SIGINT is PostgreSQL's "fast shutdown": disconnect clients, stop cleanly.
        let server = cluster.server.insert(Peer::spawn(ws, "postgres", postgres, libc::SIGINT)?);
        let port_text = port.to_string();
        let client = |tool: &str| {
            let mut command = Command::new(bin.join(tool));
            command.args(["-h", "127.0.0.1", "-p", &port_text, "-U", ROLE]);
            command
        };
        // `-d postgres`: the maintenance database (without it the role's own name is tried).
        let ready =
            || client("pg_isready").args(["-q", "-d", "postgres"]).status().is_ok_and(|s| s.success());
        server.wait_ready(ready)?;
        quiet(client("createdb").arg(DATABASE))?;

        cluster.url = format!("postgres://{ROLE}@127.0.0.1:{port}/{DATABASE}");
        println!(
            "peer postgres ready at {} in {:.1}s (data in {})",
            cluster.url,
            started.elapsed().as_secs_f64(),
            cluster.dir.display()
        );
        Ok(cluster)
    }

    /// The variable and value to export to the tests.
    pub fn env(&self) -> (String, String) {
        (URL_VAR.to_owned(), self.url.clone())
    }

    /// The `postgres://…` URL of the `patchbay_test` database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new empty folder for the cluster, private to the account the server runs as.
    fn create_dir(&self, account: Option<(u32, u32)>) -> Result<()> {
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))?;
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        if let Some((uid, gid)) = account {
            chown(&self.dir, Some(uid), Some(gid))
                .with_context(|| format!("handing {} to the postgres user", self.dir.display()))?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stop the server before deleting the files under it.
        drop(self.server.take());
        if let Err(err) = fs::remove_dir_all(&self.dir) {
            if err.kind() != std::io::ErrorKind::NotFound {
                println!("postgres: could not delete {}: {err}", self.dir.display());
            }
        }
    }
}

/// The `bin` folder of the newest server version Debian's packages installed.
fn server_bin_dir() -> Result<PathBuf> {
    let entries = fs::read_dir(DEBIAN_ROOT).ok().into_iter().flatten().flatten();
    let newest = entries
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major);
    match newest {
        Some((_, bin)) => Ok(bin),
        None => bail!("no PostgreSQL server under {DEBIAN_ROOT}/<version>/bin: run `cargo xtask setup`"),
    }
}

/// The uid and gid of the `postgres` system user when running as root (`None`: run as oneself).
fn system_account() -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    // SAFETY: the name is a valid C string; the returned record (static storage) is copied out
    // before any other passwd call can overwrite it.
    let entry = unsafe { libc::getpwnam(SYSTEM_USER.as_ptr()) };
    // SAFETY: a non-null result points to a valid passwd record.
    match unsafe { entry.as_ref() } {
        Some(entry) => Ok(Some((entry.pw_uid, entry.pw_gid))),
        None => bail!(
            "PostgreSQL refuses to run as root and there is no `postgres` user: run `cargo xtask setup`"
        ),
    }
}

/// `command` run as `account` (if any), from `dir` (the account may not enter the caller's folder).
fn as_account(mut command: Command, account: Option<(u32, u32)>, dir: &Path) -> Command {
    if let Some((uid, gid)) = account {
        // std also drops root's supplementary groups when it changes the uid.
        command.uid(uid).gid(gid);
    }
    command.current_dir(dir).env_remove("PGDATA").stdin(Stdio::null());
    command
}

/// Runs `command` with its output captured, showing it only if the command fails.
fn quiet(command: &mut Command) -> Result<()> {
    let line = crate::cmd::display(command);
    let output = command.output().with_context(|| format!("could not start `{line}`"))?;
    if !output.status.success() {
        bail!(
            "`{line}` failed ({})\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Deletes the folders of earlier runs whose xtask no longer exists (killed before cleaning up).
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)).and_then(|p| p.parse().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_exists(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// True when a process with this id exists (signal 0 only checks).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 sends nothing; it has no memory-safety preconditions.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::{process_exists, server_bin_dir};

    #[test]
    fn this_process_exists_and_an_impossible_pid_does_not() {
        assert!(process_exists(std::process::id()));
        assert!(!process_exists(u32::MAX));
    }

    #[test]
    fn finds_the_installed_server() {
        // `cargo xtask setup` installs Debian's postgresql, which the native stage needs anyway.
        let bin = server_bin_dir().expect("a PostgreSQL server is installed");
        assert!(bin.join("initdb").is_file(), "{}", bin.display());
    }
}
