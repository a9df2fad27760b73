//! Real test peers (httpbin, oidc-provider, the browser driver of the SDK's browser tests),
//! started on free 127.0.0.1 ports for the duration of a test stage.
//!
//! Each peer runs in its own process group. [`Peer`]'s `Drop` asks it to stop, then kills
//! whatever is left of the group (worker processes too), on success, error and panic alike.
//! Should xtask itself die without unwinding (a signal), the kernel sends the peer its stop
//! signal (`PR_SET_PDEATHSIG`).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd;
use crate::workspace::Workspace;

/// How long a peer may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a peer may take to exit after its stop signal before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Poll interval while waiting for readiness or exit.
const POLL: Duration = Duration::from_millis(100);

/// A test peer that can be started by [`start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// PyPI `httpbin` under gunicorn; exported as `PATCHBAY_TEST_HTTPBIN_URL`.
    Httpbin,
}

/// Running peers plus the environment variables that tell tests where they are.
/// Dropping it stops every peer.
pub struct Peers {
    running: Vec<Peer>,
    env: Vec<(String, String)>,
}

impl Peers {
    /// Variables to export to the tests (`PATCHBAY_TEST_*_URL`…).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// httpbin's URL, when it was started.
    pub fn httpbin_url(&self) -> Result<String> {
        let found = self.env.iter().find(|(k, _)| k == HTTPBIN_URL_VAR).map(|(_, v)| v.clone());
        found.context("httpbin was not started")
    }
}

const HTTPBIN_URL_VAR: &str = "PATCHBAY_TEST_HTTPBIN_URL";

/// Starts `kinds` one after another and waits until each is ready.
pub fn start(ws: &Workspace, kinds: &[Kind]) -> Result<Peers> {
    let mut peers = Peers { running: Vec::new(), env: Vec::new() };
    for kind in kinds {
        match kind {
            Kind::Httpbin => {
                let (peer, url) = start_httpbin(ws)?;
                peers.running.push(peer);
                peers.env.push((HTTPBIN_URL_VAR.to_owned(), url));
            }
        }
    }
    Ok(peers)
}

fn start_httpbin(ws: &Workspace) -> Result<(Peer, String)> {
    let gunicorn = ws.venv().join("bin/gunicorn");
    if !gunicorn.is_file() {
        bail!("{} is missing: run `cargo xtask setup`", gunicorn.display());
    }
    let port = free_port()?;
    let mut command = ws.command(&gunicorn);
    command
        .args(["--no-control-socket", "-w", "2", "-b"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("httpbin:app");
    // gunicorn: SIGTERM is a graceful stop of master and workers.
    let mut peer = Peer::spawn(ws, "httpbin", command, libc::SIGTERM)?;
    peer.wait_ready(|| http_get_ok(port, "/get"))?;
    let url = format!("http://127.0.0.1:{port}");
    println!("peer httpbin ready at {url}");
    Ok((peer, url))
}

/// Starts `tests/peers/oidc-provider.mjs` (npm `oidc-provider`) on `port`, registering
/// `redirect_uris`, with access tokens that live `access_token_ttl` seconds; `coop` adds
/// `Cross-Origin-Opener-Policy: same-origin` to its pages (it then cuts a popup from its opener,
/// as many real providers do).
pub fn start_oidc_provider(
    ws: &Workspace,
    name: &'static str,
    port: u16,
    redirect_uris: &str,
    access_token_ttl: u32,
    coop: bool,
) -> Result<(Peer, String)> {
    let script = ws.tests_dir().join("peers/oidc-provider.mjs");
    if !ws.tests_dir().join("node_modules/oidc-provider").is_dir() {
        bail!("oidc-provider is not installed: run `cargo xtask setup`");
    }
    let mut command = ws.command("node");
    command
        .arg(&script)
        .env("PORT", port.to_string())
        .env("REDIRECT_URIS", redirect_uris)
        .env("ACCESS_TOKEN_TTL", access_token_ttl.to_string())
        .env("COOP", if coop { "1" } else { "0" });
    // Node: SIGTERM ends the process.
    let mut peer = Peer::spawn(ws, name, command, libc::SIGTERM)?;
    peer.wait_ready(|| http_get_ok(port, "/.well-known/openid-configuration"))?;
    let url = format!("http://127.0.0.1:{port}");
    println!("peer {name} ready at {url}");
    Ok((peer, url))
}

/// Starts `tests/browser-driver.mjs`: the SDK's browser tests ask it (over HTTP) to click, type
/// and sign in through the real browser, which it reaches over the Chrome DevTools Protocol on
/// `cdp_port` (a wasm test cannot make a user gesture or script a cross-origin popup itself).
/// `page_origin` is the test page's origin.
pub fn start_browser_driver(
    ws: &Workspace,
    port: u16,
    cdp_port: u16,
    page_origin: &str,
) -> Result<(Peer, String)> {
    let mut command = ws.command("node");
    command
        .arg(ws.tests_dir().join("browser-driver.mjs"))
        .env("PORT", port.to_string())
        .env("CDP_PORT", cdp_port.to_string())
        .env("PAGE_ORIGIN", page_origin);
    let mut peer = Peer::spawn(ws, "browser-driver", command, libc::SIGTERM)?;
    peer.wait_ready(|| http_get_ok(port, "/health"))?;
    let url = format!("http://127.0.0.1:{port}");
    println!("peer browser-driver ready at {url}");
    Ok((peer, url))
}

/// One peer process (the leader of its own process group), stopped on drop.
pub struct Peer {
    name: &'static str,
    child: Child,
    log: PathBuf,
    stop_signal: libc::c_int,
}

impl Peer {
    /// Spawns `command` as the leader of a new process group, with output to
    /// `target/xtask/peers/<name>.log`. `stop_signal` is what asks it to shut down gracefully.
    pub fn spawn(
        ws: &Workspace,
        name: &'static str,
        mut command: Command,
        stop_signal: libc::c_int,
    ) -> Result<Self> {
        let dir = ws.xtask_dir().join("peers");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().with_context(|| format!("opening {} twice", log.display()))?;
        let parent = std::process::id();
        command.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
        // (prctl, getppid) without allocating.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, stop_signal as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // xtask died before prctl took effect: do not outlive it.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let line = cmd::display(&command);
        println!("starting peer {name}: {line} (log: {})", log.display());
        let child = command.spawn().with_context(|| format!("could not start peer {name}: `{line}`"))?;
        Ok(Self { name, child, log, stop_signal })
    }

    /// Polls `ready` until it returns true, failing if the peer exits or does not become ready
    /// within [`READY_TIMEOUT`].
    pub fn wait_ready(&mut self, ready: impl Fn() -> bool) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().context("checking on a peer")? {
                bail!("peer {} exited ({status}) before becoming ready\n{}", self.name, self.log_tail());
            }
            if Instant::now() >= deadline {
                bail!(
                    "peer {} was not ready within {}s\n{}",
                    self.name,
                    READY_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The process id of the peer's leader (the program itself when it was spawned directly).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the peer's log, for error messages.
    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.log.display())
    }

    /// Asks the leader to stop with its stop signal (it shuts its own workers down), waits up to
    /// [`STOP_GRACE`] for the whole group to exit, then kills whatever is left of the group
    /// (e.g. a gunicorn worker still sleeping in httpbin's `/delay/10`).
    fn stop(&mut self) {
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill has no memory-safety preconditions; a negative pid addresses the group.
        let signal_group = |signal| unsafe { libc::kill(-pgid, signal) == 0 };
        let leader_running = matches!(self.child.try_wait(), Ok(None));
        // SAFETY: as above; the leader is our unreaped child, so its pid cannot have been reused.
        if leader_running && unsafe { libc::kill(pgid, self.stop_signal) } == 0 {
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                // Reap the leader so a zombie does not keep the group "alive".
                let _ = self.child.try_wait();
                if !signal_group(0) {
                    break;
                }
                std::thread::sleep(POLL);
            }
        }
        if signal_group(0) {
            println!(
                "peer {}: still running {}s after its stop signal; killing its process group",
                self.name,
                STOP_GRACE.as_secs()
            );
            signal_group(libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free on 127.0.0.1 a moment ago (the OS picks it).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("reading a bound port")?.port())
}

/// True when `GET http://127.0.0.1:{port}{path}` answers with a 2xx status.
pub fn http_get_ok(port: u16, path: &str) -> bool {
    http_get_ok_within(port, path, Duration::from_secs(2))
}

/// [`http_get_ok`], waiting up to `wait` for the answer (a readiness probe is asked again soon, so
/// it waits briefly; a test asks once, so it waits as long as a loaded machine may need).
fn http_get_ok_within(port: u16, path: &str, wait: Duration) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut stream = TcpStream::connect_timeout(&addr, wait.min(Duration::from_secs(1)))?;
        stream.set_read_timeout(Some(wait))?;
        stream.set_write_timeout(Some(wait))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        // "HTTP/1.x 2xx"
        Ok(head.starts_with(b"HTTP/1.") && head[9] == b'2')
    };
    attempt().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{Ipv4Addr, TcpListener};
    use std::time::Duration;

    use super::{free_port, http_get_ok, http_get_ok_within};

    #[test]
    fn a_closed_port_is_not_ready() {
        let port = free_port().expect("a free port");
        assert!(!http_get_ok(port, "/"));
    }

    #[test]
    fn only_a_2xx_answer_is_ready() {
        for (status, ready) in [("200 OK", true), ("503 Service Unavailable", false)] {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
            let port = listener.local_addr().expect("local addr").port();
            let server = std::thread::spawn(move || {
                let (stream, _) = listener.accept().expect("accept");
                let mut request_line = String::new();
                BufReader::new(&stream).read_line(&mut request_line).expect("read request");
                // The client may close as soon as it has read the status line, so a reset here is
                // not a failure; what it concluded is asserted below.
                let _ = write!(&stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                request_line
            });
            // Generous: this machine may be busy compiling, and the answer is certain to come.
            assert_eq!(http_get_ok_within(port, "/get", Duration::from_secs(30)), ready, "{status}");
            assert_eq!(server.join().expect("server thread"), "GET /get HTTP/1.0\r\n");
        }
    }
}
