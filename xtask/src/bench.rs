//! `cargo xtask bench [--runs N]`: what the broker's invoke path adds to a call, on each database
//! backend. One fast local upstream (nginx returning a small JSON document) is loaded with `wrk`
//! seven ways: directly; through nginx as a reverse proxy, twice; through the floor below; and
//! through the broker's `POST /v1/functions/{name}/invoke` (session check, account lookup,
//! decryption, credential injection, pooled upstream call) with the broker on SQLite and on
//! PostgreSQL (a throwaway server started as the test run starts one, see [`postgres`]), both on
//! the broker's default single-threaded runtime, and once more on SQLite with two worker threads
//! (tokio's multi-threaded scheduler). Every broker gets the same setup: a workspace, a session
//! token and a connected account.
//!
//! The two nginx proxies: the first serves the upstream itself, in one process, as the issue that
//! set the broker's targets measured it; the second is a process of its own calling that upstream
//! process, as the brokers do, and is the stricter reference. The floor is `floor_proxy`, the
//! broker package's example that routes the same POST through axum and calls the app on the
//! broker's own pooled client, on the broker's default runtime, doing none of the broker's work:
//! what the broker rows measure above it is the broker's own cost.
//!
//! For each path it prints throughput and p50/p99 latency (p99 is reported, never gated), and the
//! serving process's CPU time per call, read from `/proc` just before and just after the wrk
//! window. Through the first proxy nginx's CPU counts both proxy legs and the upstream: the unit
//! in which CPU per call compares across machines. For the brokers and the floor it also prints
//! their throughput and their CPU per call over each proxy's, in the same run.
//! The whole measurement is repeated `--runs` times (default 3): each run's figures, then the
//! medians, which are the figures to quote.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::broker::{self, Broker};
use crate::cmd;
use crate::peers::{free_port, http_get_ok, Peer};
use crate::postgres;
use crate::workspace::Workspace;

/// Load settings: enough connections to keep both cores busy, long enough for stable figures.
const CONNECTIONS: &str = "16";
const THREADS: &str = "2";
const DURATION: &str = "8s";
/// Load before the first run, to fill connection pools and caches.
const WARM_UP: &str = "2s";
/// Runs when `--runs` is not given: the fewest with a median that ignores one outlier run.
const DEFAULT_RUNS: usize = 3;

/// `bench`'s arguments: the number of runs (`--runs N` or `--runs=N`, at least 1).
pub fn parse_args(args: &[String]) -> Result<usize> {
    let value = match args {
        [] => return Ok(DEFAULT_RUNS),
        [flag, value] if flag == "--runs" => value.as_str(),
        [arg] => match arg.strip_prefix("--runs=") {
            Some(value) => value,
            None => bail!("usage: cargo xtask bench [--runs N]"),
        },
        _ => bail!("usage: cargo xtask bench [--runs N]"),
    };
    match value.parse::<usize>() {
        Ok(runs) if runs > 0 => Ok(runs),
        _ => bail!("`--runs` needs a whole number of runs, at least 1 (got `{value}`)"),
    }
}

/// What one wrk window read from wrk's own report.
struct Figures {
    /// Requests completed in the window (wrk's "N requests in …").
    requests: u64,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// One path under load.
struct Target {
    label: &'static str,
    role: Role,
    /// The process that serves it, whose CPU time is read.
    pid: u32,
    url: String,
    /// The Lua script that makes wrk send the invoke POST with its token.
    script: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The upstream called directly.
    Direct,
    /// nginx proxying to the upstream it serves itself, in one process: the reference the issue
    /// behind this bench set its targets against.
    NginxProxy,
    /// nginx proxying from a process of its own to the upstream process the brokers call: the
    /// brokers' own layout, and the stricter reference.
    NginxOwnProcess,
    /// A broker, or the floor under it: compared with both nginx proxies.
    Measured,
}

/// A measured broker: the database it runs on, on its default single-threaded runtime, or on
/// SQLite with the multi-threaded runtime, so every run shows what that choice costs.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
    SqliteTwoWorkers,
}

impl Backend {
    /// Names its peer log, its files and its row.
    fn describe(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Backend::Sqlite => ("bench-broker-sqlite", "sqlite", "broker invoke, SQLite"),
            Backend::Postgres => ("bench-broker-postgres", "postgres", "broker invoke, PostgreSQL"),
            Backend::SqliteTwoWorkers => {
                ("bench-broker-sqlite-2w", "sqlite-2w", "broker invoke, SQLite, 2 workers")
            }
        }
    }

    /// Its `worker_threads` setting.
    fn worker_threads(self) -> &'static str {
        match self {
            Backend::Sqlite | Backend::Postgres => "1",
            Backend::SqliteTwoWorkers => "2",
        }
    }
}

/// One path's figures in one run, or the medians of several runs.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Row {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The serving process's CPU microseconds per completed request.
    cpu_us_per_call: f64,
    /// The floor's and the brokers' rows: over the one-process nginx proxy's in the same run.
    vs_nginx: Option<Ratios>,
    /// The floor's and the brokers' rows: over the own-process nginx proxy's in the same run.
    vs_own_process: Option<Ratios>,
}

/// A path's figures over an nginx proxy's.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ratios {
    throughput: f64,
    cpu: f64,
}

pub fn run(ws: &Workspace, runs: usize) -> Result<()> {
    let dir = ws.xtask_dir().join("bench");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("nginx-temp")).context("creating the bench folder")?;
    println!("building the broker (release)…");
    let broker_bin = broker::build(ws, true)?;
    let floor_bin = broker::build_example(ws, "floor_proxy")?;

    let upstream_port = free_port()?;
    let proxy_port = free_port()?;
    let own_process_port = free_port()?;
    let mut nginx =
        start_nginx(ws, &dir, "bench-nginx", upstream_port, &[Server::Upstream, Server::Proxy(proxy_port)])?;
    let mut nginx_own_process =
        start_nginx(ws, &dir, "bench-nginx-own-process", upstream_port, &[Server::Proxy(own_process_port)])?;
    nginx.wait_ready(|| http_get_ok(upstream_port, "/ping") && http_get_ok(proxy_port, "/ping"))?;
    nginx_own_process.wait_ready(|| http_get_ok(own_process_port, "/ping"))?;
    fs::write(
        dir.join("catalog.toml"),
        format!(
            "[apps.bench]\nname = \"Bench\"\nauth = \"api_key\"\nbase_url = \"http://127.0.0.1:{upstream_port}\"\n\
             inject = {{ headers = {{ X-Api-Key = \"{{api_key}}\" }} }}\nfunctions.ping = {{ title = \"Ping\", path = \"/ping\" }}\n"
        ),
    )?;

    // Declared before the brokers, so it is dropped after them: they stop before their database.
    let cluster = postgres::Cluster::start(ws)?;
    let sqlite_url = |file: &str| format!("sqlite://{}", dir.join(file).display());
    let (_sqlite_broker, sqlite) =
        start_broker(ws, &broker_bin, &dir, Backend::Sqlite, &sqlite_url("bench.db"))?;
    let (_postgres_broker, postgres) = start_broker(ws, &broker_bin, &dir, Backend::Postgres, cluster.url())?;
    let (_two_workers_broker, two_workers) =
        start_broker(ws, &broker_bin, &dir, Backend::SqliteTwoWorkers, &sqlite_url("bench-2w.db"))?;

    let (_floor, floor) = start_floor(ws, &floor_bin, &dir, upstream_port)?;

    let ping = |port: u16| format!("http://127.0.0.1:{port}/ping");
    let served_by = |peer: &Peer, label, role, port| Target {
        label,
        role,
        pid: peer.pid(),
        url: ping(port),
        script: None,
    };
    let targets = [
        served_by(&nginx, "direct to upstream", Role::Direct, upstream_port),
        served_by(&nginx, "nginx reverse proxy", Role::NginxProxy, proxy_port),
        served_by(&nginx_own_process, "nginx proxy, own process", Role::NginxOwnProcess, own_process_port),
        floor,
        sqlite,
        postgres,
        two_workers,
    ];
    for target in &targets {
        load(target, WARM_UP)?;
    }

    let header = format!("wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}, 2 cores shared by load and servers");
    let mut per_run = Vec::with_capacity(runs);
    for run in 0..runs {
        let order = run_order(targets.len(), run);
        let mut figures: Vec<Option<(Figures, f64)>> = targets.iter().map(|_| None).collect();
        for &index in &order {
            figures[index] = Some(measure(&targets[index])?);
        }
        let figures: Vec<_> = figures.into_iter().flatten().collect();
        let rows = rows(&targets, &figures)?;
        let order: Vec<_> = order.iter().map(|&i| targets[i].label).collect();
        println!("\nrun {}/{runs}: {header}\norder: {}\n", run + 1, order.join(" → "));
        print_table(&targets, &rows);
        per_run.push(rows);
    }

    let plural = if runs == 1 { "" } else { "s" };
    println!("\nmedians of {runs} run{plural} ({header}):\n");
    print_table(&targets, &medians(&per_run));
    println!(
        "\nCPU µs/call: user+system CPU of the serving process (all threads) over the wrk window, read\n\
         from /proc/<pid>/stat, divided by the requests wrk completed. The first nginx is one process\n\
         serving the upstream and the proxy: \"direct\" is the upstream alone, \"reverse proxy\" both\n\
         proxy legs plus the upstream. The second (\"own process\") only proxies, to the upstream\n\
         process the brokers call. The broker rows do not count the upstream, nor, on PostgreSQL, the\n\
         database server (on SQLite the database runs inside the broker). vs nginx, vs own: req/s over\n\
         the first or the second proxy's req/s in the same run; CPU vs nginx, CPU vs own: CPU µs/call\n\
         over the first or the second proxy's in the same run (the first's counts the upstream, the\n\
         second's does not); the medians table gives the medians of those ratios. The floor is the\n\
         broker's stack (axum, the JSON body, its pooled app client, one thread) doing none of its work.\n\
         \"2 workers\": worker_threads = 2, tokio's multi-threaded scheduler. PostgreSQL runs as the test\n\
         run starts it (fsync and synchronous_commit off)."
    );
    Ok(())
}

/// Starts a broker on `database_url` with the bench catalog, creates its workspace, mints a session
/// and connects the bench app's account with it: the same setup for every backend, so their rows
/// differ only in the database. Returns the serving broker (stopped on drop) and its target.
fn start_broker(
    ws: &Workspace,
    bin: &Path,
    dir: &Path,
    backend: Backend,
    database_url: &str,
) -> Result<(Peer, Target)> {
    let (peer_name, file_name, label) = backend.describe();
    let port = free_port()?;
    let broker = Broker::new(ws, bin.to_path_buf(), peer_name, port)
        .env("PATCHBAY_MASTER_KEYS", broker::keygen(bin)?)
        .env("PATCHBAY_DATABASE_URL", database_url)
        .env("PATCHBAY_CATALOG", dir.join("catalog.toml"))
        .env("PATCHBAY_BUILTIN_CATALOG", "0")
        .env("PATCHBAY_WORKER_THREADS", backend.worker_threads())
        .env("RUST_LOG", "warn");
    let workspace_id = broker.create_workspace("bench")?.id;
    let token = broker.mint(&workspace_id, "bench", &[], 3600)?;
    let serving = broker.serve(ws)?;
    // The token goes through a file so the echoed command line does not print it.
    let auth_header = dir.join(format!("authorization-{file_name}.header"));
    fs::write(&auth_header, format!("authorization: Bearer {token}\n"))?;
    cmd::run(Command::new("curl").args([
        "-sf",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        &format!("{}/v1/apps/bench/connect", broker.url()),
        "-H",
        &format!("@{}", auth_header.display()),
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"fields":{"api_key":"bench-key-0001"}}"#,
    ]))?;
    let script = invoke_script(dir, file_name, Some(&token))?;
    let target = Target {
        label,
        role: Role::Measured,
        pid: serving.pid(),
        url: format!("{}/v1/functions/bench-ping/invoke", broker.url()),
        script: Some(script),
    };
    Ok((serving, target))
}

/// Starts the floor under the broker rows (see the module docs), sent the same POST as the brokers.
fn start_floor(ws: &Workspace, bin: &Path, dir: &Path, upstream_port: u16) -> Result<(Peer, Target)> {
    let port = free_port()?;
    let mut command = Command::new(bin);
    command.arg(format!("127.0.0.1:{port}")).arg(format!("http://127.0.0.1:{upstream_port}/ping"));
    let mut floor = Peer::spawn(ws, "bench-floor", command, libc::SIGTERM)?;
    floor.wait_ready(|| http_get_ok(port, "/ready"))?;
    let script = invoke_script(dir, "floor", None)?;
    let target = Target {
        label: "floor (axum+hyper, no work)",
        role: Role::Measured,
        pid: floor.pid(),
        url: format!("http://127.0.0.1:{port}/v1/functions/bench-ping/invoke"),
        script: Some(script),
    };
    Ok((floor, target))
}

/// Writes `invoke-<name>.lua`, which makes wrk send the invoke POST (with the session `token`, if
/// any), and returns its path.
fn invoke_script(dir: &Path, name: &str, token: Option<&str>) -> Result<PathBuf> {
    let script = dir.join(format!("invoke-{name}.lua"));
    let mut lua = "wrk.method = \"POST\"\nwrk.body = '{\"args\":{}}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
        .to_owned();
    if let Some(token) = token {
        lua.push_str(&format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"));
    }
    fs::write(&script, lua)?;
    Ok(script)
}

/// The order of the targets in run `run`: as listed, then reversed, alternately. On a machine
/// whose background load drifts (other builds start and stop), no path is then always measured
/// first or last, and over an even number of runs every path has the same mean position.
fn run_order(targets: usize, run: usize) -> Vec<usize> {
    if run.is_multiple_of(2) {
        (0..targets).collect()
    } else {
        (0..targets).rev().collect()
    }
}

/// One measured wrk window on `target`, with its serving process's CPU microseconds per call.
fn measure(target: &Target) -> Result<(Figures, f64)> {
    let before = cpu_ticks(target.pid)?;
    let figures = load(target, DURATION)?;
    let after = cpu_ticks(target.pid)?;
    if figures.requests == 0 {
        bail!("wrk completed no requests against {}", target.url);
    }
    let seconds = after.saturating_sub(before) as f64 / clock_ticks_per_second()?;
    let cpu_us_per_call = seconds * 1e6 / figures.requests as f64;
    Ok((figures, cpu_us_per_call))
}

/// The table rows of one run: `figures` in the order of `targets`.
fn rows(targets: &[Target], figures: &[(Figures, f64)]) -> Result<Vec<Row>> {
    let of = |role| {
        let index =
            targets.iter().position(|t| t.role == role).context("an nginx proxy target is missing")?;
        anyhow::Ok(&figures[index])
    };
    let (proxy, own_process) = (of(Role::NginxProxy)?, of(Role::NginxOwnProcess)?);
    Ok(targets
        .iter()
        .zip(figures)
        .map(|(target, (f, cpu_us_per_call))| {
            let over = |(reference, reference_cpu): &(Figures, f64)| Ratios {
                throughput: f.requests_per_second / reference.requests_per_second,
                cpu: cpu_us_per_call / reference_cpu,
            };
            let compared = target.role == Role::Measured;
            Row {
                requests_per_second: f.requests_per_second,
                p50_ms: f.p50_ms,
                p99_ms: f.p99_ms,
                cpu_us_per_call: *cpu_us_per_call,
                vs_nginx: compared.then(|| over(proxy)),
                vs_own_process: compared.then(|| over(own_process)),
            }
        })
        .collect())
}

fn print_table(targets: &[Target], rows: &[Row]) {
    println!(
        "{:<32} {:>10} {:>9} {:>9} {:>12} {:>9} {:>9} {:>13} {:>11}",
        "path",
        "req/s",
        "p50 ms",
        "p99 ms",
        "CPU µs/call",
        "vs nginx",
        "vs own",
        "CPU vs nginx",
        "CPU vs own"
    );
    let ratio = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |value| format!("{value:.2}x"));
    for (target, row) in targets.iter().zip(rows) {
        println!(
            "{:<32} {:>10.0} {:>9.3} {:>9.3} {:>12.1} {:>9} {:>9} {:>13} {:>11}",
            target.label,
            row.requests_per_second,
            row.p50_ms,
            row.p99_ms,
            row.cpu_us_per_call,
            ratio(row.vs_nginx.map(|r| r.throughput)),
            ratio(row.vs_own_process.map(|r| r.throughput)),
            ratio(row.vs_nginx.map(|r| r.cpu)),
            ratio(row.vs_own_process.map(|r| r.cpu)),
        );
    }
}

/// Each path's median of each column over `runs` (one row per path in each run).
fn medians(runs: &[Vec<Row>]) -> Vec<Row> {
    let paths = runs.first().map_or(0, Vec::len);
    (0..paths)
        .map(|path| {
            let column = |value: &dyn Fn(&Row) -> Option<f64>| {
                let values: Vec<f64> = runs.iter().filter_map(|run| value(&run[path])).collect();
                median(&values)
            };
            let ratios = |of: fn(&Row) -> Option<Ratios>| {
                Some(Ratios {
                    throughput: column(&|r| of(r).map(|r| r.throughput))?,
                    cpu: column(&|r| of(r).map(|r| r.cpu))?,
                })
            };
            Row {
                requests_per_second: column(&|r| Some(r.requests_per_second)).unwrap_or(f64::NAN),
                p50_ms: column(&|r| Some(r.p50_ms)).unwrap_or(f64::NAN),
                p99_ms: column(&|r| Some(r.p99_ms)).unwrap_or(f64::NAN),
                cpu_us_per_call: column(&|r| Some(r.cpu_us_per_call)).unwrap_or(f64::NAN),
                vs_nginx: ratios(|r| r.vs_nginx),
                vs_own_process: ratios(|r| r.vs_own_process),
            }
        })
        .collect()
}

/// The median (the mean of the middle two for an even count), `None` for no values.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

/// User plus system CPU time of process `pid` so far, in clock ticks.
///
/// Read from `/proc/<pid>/stat` rather than summing `/proc/<pid>/task/*/schedstat`: the process's
/// stat counts every thread it ever had, including threads that exited during the window (tokio
/// retires idle blocking-pool threads), which a sum over the live tasks loses. Its total is the
/// scheduler's exact runtime split into user and system time and truncated to ticks (1/100 s), so
/// a window is off by at most two ticks: 20 ms against the seconds of CPU a broker spends in one
/// 8-second window, well under 1%.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    stat_cpu_ticks(&stat).with_context(|| format!("unexpected {path}: {stat}"))
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // Field 2, the command name, is in parentheses and may itself hold spaces and parentheses:
    // count fields from the last `)`, after which field 3 comes first.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The kernel's clock ticks per second (`USER_HZ`), the unit of `/proc/<pid>/stat`'s CPU times.
fn clock_ticks_per_second() -> Result<f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        bail!("sysconf(_SC_CLK_TCK) failed");
    }
    Ok(ticks as f64)
}

/// What an nginx process serves.
enum Server {
    /// The bench upstream, on the upstream port.
    Upstream,
    /// A reverse proxy to the upstream, on this port.
    Proxy(u16),
}

/// Starts nginx as peer `name` (its files named alike), serving `servers` with `upstream` as the
/// proxies' upstream. `master_process off` makes the started process the one serving, so its CPU
/// time is read from its own id; measured side by side, it serves as fast as one worker under a
/// master.
fn start_nginx(
    ws: &Workspace,
    dir: &Path,
    name: &'static str,
    upstream: u16,
    servers: &[Server],
) -> Result<Peer> {
    let conf = dir.join(format!("{name}.conf"));
    let d = dir.display();
    let servers: String = servers
        .iter()
        .map(|server| match server {
            Server::Upstream => format!(
                "server {{ listen 127.0.0.1:{upstream}; location / {{ default_type application/json; \
                 return 200 '{{\"ok\":true,\"items\":[1,2,3]}}'; }} }}\n"
            ),
            Server::Proxy(port) => format!(
                "server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://app; proxy_http_version 1.1; \
                 proxy_set_header Connection \"\"; }} }}\n"
            ),
        })
        .collect();
    fs::write(
        &conf,
        format!(
            "master_process off;\ndaemon off;\npid {d}/{name}.pid;\nerror_log {d}/{name}-error.log warn;\n\
             events {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n\
             client_body_temp_path {d}/nginx-temp; proxy_temp_path {d}/nginx-temp; fastcgi_temp_path {d}/nginx-temp;\n\
             uwsgi_temp_path {d}/nginx-temp; scgi_temp_path {d}/nginx-temp;\n\
             upstream app {{ server 127.0.0.1:{upstream}; keepalive 32; }}\n{servers}}}\n"
        ),
    )?;
    let mut command = Command::new("/usr/sbin/nginx");
    command.args(["-c"]).arg(&conf).args(["-p"]).arg(dir);
    Peer::spawn(ws, name, command, libc::SIGQUIT)
}

/// Runs wrk against `target` for `duration` and reads its figures.
fn load(target: &Target, duration: &str) -> Result<Figures> {
    let mut command = Command::new("wrk");
    command.args(["-t", THREADS, "-c", CONNECTIONS, "-d", duration, "--latency"]);
    if let Some(script) = &target.script {
        command.arg("-s").arg(script);
    }
    let url = &target.url;
    let output = String::from_utf8(cmd::capture(command.arg(url))?)?;
    if output.contains("Non-2xx") {
        bail!("wrk saw failed responses from {url}:\n{output}");
    }
    parse_wrk(&output).with_context(|| format!("unexpected wrk output:\n{output}"))
}

fn parse_wrk(output: &str) -> Option<Figures> {
    let value_after = |label: &str| -> Option<&str> {
        output.lines().find_map(|line| line.trim().strip_prefix(label)).map(str::trim)
    };
    // "  80000 requests in 8.00s, 12.34MB read"
    let requests = output.lines().find_map(|line| {
        let (count, rest) = line.trim().split_once(' ')?;
        rest.starts_with("requests in ").then(|| count.parse().ok()).flatten()
    })?;
    Some(Figures {
        requests,
        requests_per_second: value_after("Requests/sec:")?.parse().ok()?,
        p50_ms: millis(value_after("50%")?)?,
        p99_ms: millis(value_after("99%")?)?,
    })
}

/// wrk prints latencies as `812.00us`, `1.23ms` or `1.02s`.
fn millis(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else {
        (text.strip_suffix('s')?, 1000.0)
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_figures_are_read_in_milliseconds() {
        let output = "  Latency Distribution\n     50%  812.00us\n     75%    1.10ms\n     90%    2.00ms\n     99%    1.02s\n\
                      \x20 98765 requests in 8.00s, 12.34MB read\n\
                      Requests/sec:  12345.67\nTransfer/sec:      1.00MB\n";
        let f = parse_wrk(output).expect("parsed");
        assert_eq!(f.requests, 98765);
        assert!((f.requests_per_second - 12345.67).abs() < 1e-6);
        assert!((f.p50_ms - 0.812).abs() < 1e-9);
        assert!((f.p99_ms - 1020.0).abs() < 1e-9);
    }

    #[test]
    fn wrk_output_without_a_request_count_is_not_read() {
        let output = "     50%  812.00us\n     99%    1.02s\nRequests/sec:  12345.67\n";
        assert!(parse_wrk(output).is_none());
    }

    #[test]
    fn stat_cpu_ticks_add_utime_and_stime_whatever_the_command_name() {
        // A real line's shape: pid, (comm), state, then utime = 1234 and stime = 567 as fields 14, 15
        // (cutime and cstime, 16 and 17, are the reaped children's and must not count).
        let tail = "S 1 4242 4242 0 -1 4194560 2611 0 0 0 1234 567 88 99 20 0 9 0 360 1186816000 3000";
        assert_eq!(stat_cpu_ticks(&format!("4242 (patchbay-broker) {tail}\n")), Some(1801));
        assert_eq!(stat_cpu_ticks(&format!("4242 (odd ) 7 (name) {tail}")), Some(1801));
        assert_eq!(stat_cpu_ticks("4242 (patchbay-broker) S 1 4242"), None);
        assert_eq!(stat_cpu_ticks("no parenthesis at all"), None);
    }

    #[test]
    fn median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[4.0]), Some(4.0));
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(&[9.0, 1.0, 5.0, 3.0]), Some(4.0));
    }

    #[test]
    fn medians_are_taken_per_path_and_column_and_skip_absent_figures() {
        let row = |rps: f64, cpu: f64, compared: bool| Row {
            requests_per_second: rps,
            p50_ms: rps / 1000.0,
            p99_ms: rps / 100.0,
            cpu_us_per_call: cpu,
            vs_nginx: compared.then(|| Ratios { throughput: rps / 100.0, cpu: cpu / 10.0 }),
            vs_own_process: compared.then(|| Ratios { throughput: rps / 120.0, cpu: cpu / 8.0 }),
        };
        let runs = vec![
            vec![row(100.0, 9.0, false), row(30.0, 90.0, true)],
            vec![row(300.0, 7.0, false), row(10.0, 70.0, true)],
            vec![row(200.0, 8.0, false), row(20.0, 80.0, true)],
        ];
        assert_eq!(medians(&runs), vec![row(200.0, 8.0, false), row(20.0, 80.0, true)]);
    }

    #[test]
    fn brokers_are_compared_with_both_nginx_proxies_of_the_same_run() {
        let target = |role| Target { label: "", role, pid: 1, url: String::new(), script: None };
        let roles = [Role::Direct, Role::NginxProxy, Role::NginxOwnProcess, Role::Measured];
        let targets = roles.map(target);
        let window = |requests_per_second, cpu| {
            (Figures { requests: 1, requests_per_second, p50_ms: 1.0, p99_ms: 2.0 }, cpu)
        };
        let figures =
            [window(50_000.0, 15.0), window(20_000.0, 40.0), window(25_000.0, 30.0), window(15_000.0, 50.0)];
        let table = rows(&targets, &figures).expect("rows");
        for nginx in &table[..3] {
            assert_eq!((nginx.vs_nginx, nginx.vs_own_process), (None, None));
        }
        assert_eq!(table[3].vs_nginx, Some(Ratios { throughput: 0.75, cpu: 1.25 }));
        assert_eq!(table[3].vs_own_process, Some(Ratios { throughput: 0.6, cpu: 50.0 / 30.0 }));
        assert_eq!(table[3].cpu_us_per_call, 50.0);
        assert!(rows(&targets[..2], &figures[..2]).is_err(), "a missing reference is an error");
    }

    #[test]
    fn runs_alternate_between_the_listed_order_and_its_reverse() {
        assert_eq!(run_order(4, 0), vec![0, 1, 2, 3]);
        assert_eq!(run_order(4, 1), vec![3, 2, 1, 0]);
        assert_eq!(run_order(4, 2), vec![0, 1, 2, 3]);
    }

    #[test]
    fn runs_default_to_three_and_must_be_a_positive_number() {
        let args = |list: &[&str]| list.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_args(&[]).ok(), Some(3));
        assert_eq!(parse_args(&args(&["--runs", "5"])).ok(), Some(5));
        assert_eq!(parse_args(&args(&["--runs=2"])).ok(), Some(2));
        for bad in [&["--runs", "0"][..], &["--runs", "x"], &["--runs"], &["5"], &["--runs", "2", "3"]] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
