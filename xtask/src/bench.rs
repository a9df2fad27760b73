//! `cargo xtask bench`: what the broker's invoke path adds to a call. One fast local upstream
//! (nginx returning a small JSON document) is loaded with `wrk` three ways: directly, through
//! nginx as a reverse proxy, and through the broker's `POST /v1/functions/{name}/invoke` (session
//! check, account lookup, decryption, credential injection, pooled upstream call). Prints
//! throughput and p50/p99 latency for each, and the ratios against the direct call.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::broker::{self, Broker};
use crate::cmd;
use crate::peers::{free_port, http_get_ok, Peer};
use crate::workspace::Workspace;

/// Load settings: enough connections to keep both cores busy, long enough for stable medians.
const CONNECTIONS: &str = "16";
const THREADS: &str = "2";
const DURATION: &str = "8s";

/// One load run's figures.
struct Figures {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(ws: &Workspace) -> Result<()> {
    let dir = ws.xtask_dir().join("bench");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("nginx-temp")).context("creating the bench folder")?;
    println!("building the broker (release)…");
    let broker_bin = broker::build(ws, true)?;

    let upstream_port = free_port()?;
    let proxy_port = free_port()?;
    let mut nginx = start_nginx(ws, &dir, upstream_port, proxy_port)?;
    nginx.wait_ready(|| http_get_ok(upstream_port, "/ping") && http_get_ok(proxy_port, "/ping"))?;

    fs::write(
        dir.join("catalog.toml"),
        format!(
            "[apps.bench]\nname = \"Bench\"\nauth = \"api_key\"\nbase_url = \"http://127.0.0.1:{upstream_port}\"\n\
             inject = {{ headers = {{ X-Api-Key = \"{{api_key}}\" }} }}\nfunctions.ping = {{ title = \"Ping\", path = \"/ping\" }}\n"
        ),
    )?;
    let broker_port = free_port()?;
    let broker = Broker::new(ws, broker_bin.clone(), "bench-broker", broker_port)
        .env("PATCHBAY_MASTER_KEYS", broker::keygen(&broker_bin)?)
        .env("PATCHBAY_DATABASE_URL", format!("sqlite://{}", dir.join("bench.db").display()))
        .env("PATCHBAY_CATALOG", dir.join("catalog.toml"))
        .env("PATCHBAY_BUILTIN_CATALOG", "0")
        .env("RUST_LOG", "warn");
    let workspace_id = broker.create_workspace("bench")?.id;
    let token = broker.mint(&workspace_id, "bench", &[], 3600)?;
    let _broker = broker.serve(ws)?;
    let base = format!("http://127.0.0.1:{broker_port}");
    // The token goes through a file so the echoed command line does not print it.
    let auth_header = dir.join("authorization.header");
    fs::write(&auth_header, format!("authorization: Bearer {token}\n"))?;
    cmd::run(Command::new("curl").args([
        "-sf",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        &format!("{base}/v1/apps/bench/connect"),
        "-H",
        &format!("@{}", auth_header.display()),
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"fields":{"api_key":"bench-key-0001"}}"#,
    ]))?;
    let script = dir.join("invoke.lua");
    fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{{\"args\":{{}}}}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ),
    )?;
    let invoke = format!("{base}/v1/functions/bench-ping/invoke");
    // Warm the connection pools and caches before measuring.
    load(&format!("http://127.0.0.1:{upstream_port}/ping"), None, "2s")?;
    load(&invoke, Some(&script), "2s")?;

    let direct = load(&format!("http://127.0.0.1:{upstream_port}/ping"), None, DURATION)?;
    let proxied = load(&format!("http://127.0.0.1:{proxy_port}/ping"), None, DURATION)?;
    let brokered = load(&invoke, Some(&script), DURATION)?;

    println!("\ninvoke benchmark: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}, 2 cores shared by load and servers\n");
    println!(
        "{:<26} {:>10} {:>9} {:>9} {:>12} {:>14}",
        "path", "req/s", "p50 ms", "p99 ms", "throughput", "p50 added ms"
    );
    for (name, f) in
        [("direct to upstream", &direct), ("nginx reverse proxy", &proxied), ("patchbay invoke", &brokered)]
    {
        println!(
            "{:<26} {:>10.0} {:>9.3} {:>9.3} {:>11.2}x {:>14.3}",
            name,
            f.requests_per_second,
            f.p50_ms,
            f.p99_ms,
            f.requests_per_second / direct.requests_per_second,
            f.p50_ms - direct.p50_ms
        );
    }
    println!(
        "\npatchbay vs nginx: {:.2}x the throughput, {:.2}x the p50, {:.2}x the p99",
        brokered.requests_per_second / proxied.requests_per_second,
        brokered.p50_ms / proxied.p50_ms,
        brokered.p99_ms / proxied.p99_ms
    );
    drop(broker);
    drop(nginx);
    Ok(())
}

fn start_nginx(ws: &Workspace, dir: &Path, upstream: u16, proxy: u16) -> Result<Peer> {
    let conf = dir.join("nginx.conf");
    let d = dir.display();
    fs::write(
        &conf,
        format!(
            "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
             events {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n\
             client_body_temp_path {d}/nginx-temp; proxy_temp_path {d}/nginx-temp; fastcgi_temp_path {d}/nginx-temp;\n\
             uwsgi_temp_path {d}/nginx-temp; scgi_temp_path {d}/nginx-temp;\n\
             upstream app {{ server 127.0.0.1:{upstream}; keepalive 32; }}\n\
             server {{ listen 127.0.0.1:{upstream}; location / {{ default_type application/json; \
             return 200 '{{\"ok\":true,\"items\":[1,2,3]}}'; }} }}\n\
             server {{ listen 127.0.0.1:{proxy}; location / {{ proxy_pass http://app; proxy_http_version 1.1; \
             proxy_set_header Connection \"\"; }} }}\n}}\n"
        ),
    )?;
    let mut command = Command::new("/usr/sbin/nginx");
    command.args(["-c"]).arg(&conf).args(["-p"]).arg(dir);
    Peer::spawn(ws, "bench-nginx", command, libc::SIGQUIT)
}

/// Runs wrk against `url` (with a Lua `script` for the invoke POST) and reads its figures.
fn load(url: &str, script: Option<&Path>, duration: &str) -> Result<Figures> {
    let mut command = Command::new("wrk");
    command.args(["-t", THREADS, "-c", CONNECTIONS, "-d", duration, "--latency"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
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
    Some(Figures {
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
                      Requests/sec:  12345.67\nTransfer/sec:      1.00MB\n";
        let f = parse_wrk(output).expect("parsed");
        assert!((f.requests_per_second - 12345.67).abs() < 1e-6);
        assert!((f.p50_ms - 0.812).abs() < 1e-9);
        assert!((f.p99_ms - 1020.0).abs() < 1e-9);
    }
}
