//! Broker configuration: an optional TOML file, then `PATCHBAY_*` environment variables on top.
//! Master keys are read from the environment or a key file, never from the TOML file, so
//! configuration can be shared without sharing secrets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

/// Where the operator's catalog is looked for when nothing names one.
pub const DEFAULT_CATALOG: &str = "catalog.toml";

/// Everything the broker is configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The broker's public base URL (OAuth redirect URIs, links); defaults to `http://<listen>`.
    pub public_url: Option<Url>,
    /// `sqlite://path/file.db`.
    pub database_url: String,
    /// The operator's catalog file. Beside the built-in catalog it is optional at the default path.
    pub catalog: PathBuf,
    /// Load the built-in catalog (`catalog/apps/`, embedded) under the operator's catalog.
    pub builtin_catalog: bool,
    /// A file holding the master key list (`id:base64[,id:base64…]`).
    pub master_keys_file: Option<PathBuf>,
    /// Let user-supplied URLs reach loopback addresses (tests and the local demo only).
    pub allow_loopback_upstreams: bool,
    /// Session lifetime when the backend asks for none.
    pub session_default_ttl_seconds: u64,
    /// Longest session lifetime a backend may ask for.
    pub session_max_ttl_seconds: u64,
    /// Per-request timeout for calls to apps.
    pub upstream_timeout_seconds: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Refresh OAuth access tokens this many seconds before they expire.
    pub oauth_refresh_margin_seconds: i64,
    /// How long a user has to finish an OAuth sign-in.
    pub oauth_attempt_ttl_seconds: i64,
    /// Overall deadline of one invoke, retries included.
    pub invoke_deadline_seconds: u64,
    /// Largest upstream response an invoke reads.
    pub max_upstream_body_bytes: usize,
    /// Folder with the built SDK (`cargo xtask pack`), served at `/sdk/` and `/embed.js`.
    pub sdk_dir: Option<PathBuf>,
    /// A bearer token `/metrics` requires; without one, `/metrics` is open.
    pub metrics_token: Option<MetricsToken>,
    /// How often the background refresher looks for due accounts; 0 turns it off.
    pub background_refresh_interval_seconds: u64,
    /// Refresh idle accounts' tokens this long before they expire (at most half their lifetime).
    pub background_refresh_ahead_seconds: i64,
    /// Probe the grant of an account whose credentials have not changed for this long.
    pub background_probe_idle_seconds: i64,
    /// How long a webhook receiver may take to answer.
    pub webhook_timeout_seconds: u64,
    /// How long an invoke may use accounts read earlier; 0 reads them for every call. Every
    /// replica must use the same value: it bounds how long a write waits for the others.
    pub account_cache_seconds: u64,
    /// Threads that run requests and background work. 1 runs them all on one thread (tokio's
    /// current-thread scheduler), the cheapest per call; more runs tokio's multi-threaded
    /// scheduler with that many workers, for one replica on a large host.
    pub worker_threads: usize,
}

/// The `/metrics` bearer token; its `Debug` hides it, since the configuration may be logged.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct MetricsToken(pub String);

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(…)")
    }
}

impl std::str::FromStr for MetricsToken {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(MetricsToken(s.to_owned()))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database_url: "sqlite://data/patchbay.db".into(),
            catalog: PathBuf::from(DEFAULT_CATALOG),
            builtin_catalog: true,
            master_keys_file: None,
            allow_loopback_upstreams: false,
            session_default_ttl_seconds: 30 * 60,
            session_max_ttl_seconds: 24 * 60 * 60,
            upstream_timeout_seconds: 15,
            max_body_bytes: 64 * 1024,
            oauth_refresh_margin_seconds: 60,
            oauth_attempt_ttl_seconds: 600,
            invoke_deadline_seconds: 30,
            max_upstream_body_bytes: 1024 * 1024,
            sdk_dir: None,
            metrics_token: None,
            background_refresh_interval_seconds: 30,
            background_refresh_ahead_seconds: 600,
            background_probe_idle_seconds: 24 * 60 * 60,
            webhook_timeout_seconds: 15,
            account_cache_seconds: 2,
            worker_threads: 1,
        }
    }
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("config {file}: {problem}")]
    File {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {name}: {problem}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A setting (from the file or the environment) is out of range.
    #[error("setting {setting}: {problem}")]
    Invalid {
        /// The setting, as the file spells it (its variable is `PATCHBAY_` + upper case).
        setting: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// No master keys were configured.
    #[error("no master keys: set PATCHBAY_MASTER_KEYS or master_keys_file (generate one with `patchbay-broker keygen`)")]
    NoMasterKeys,
}

impl Config {
    /// Reads `file` (when given) and applies the environment through `env`.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let err = |problem: String| ConfigError::File { file: path.display().to_string(), problem };
                let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
                toml::from_str(&text).map_err(|e: toml::de::Error| err(e.message().to_owned()))?
            }
            None => Config::default(),
        };
        config.apply_env(&env)?;
        config.validate()?;
        Ok(config)
    }

    /// Every setting has a `PATCHBAY_<SETTING>` variable; a set variable wins over the file.
    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        set(env, "PATCHBAY_LISTEN", &mut self.listen)?;
        set_some(env, "PATCHBAY_PUBLIC_URL", &mut self.public_url)?;
        set(env, "PATCHBAY_DATABASE_URL", &mut self.database_url)?;
        set(env, "PATCHBAY_CATALOG", &mut self.catalog)?;
        set_flag(env, "PATCHBAY_BUILTIN_CATALOG", &mut self.builtin_catalog)?;
        set_some(env, "PATCHBAY_MASTER_KEYS_FILE", &mut self.master_keys_file)?;
        set_some(env, "PATCHBAY_SDK_DIR", &mut self.sdk_dir)?;
        set_some(env, "PATCHBAY_METRICS_TOKEN", &mut self.metrics_token)?;
        self.metrics_token = self.metrics_token.take().filter(|t| !t.0.trim().is_empty());
        set_flag(env, "PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS", &mut self.allow_loopback_upstreams)?;
        set(env, "PATCHBAY_SESSION_DEFAULT_TTL_SECONDS", &mut self.session_default_ttl_seconds)?;
        set(env, "PATCHBAY_SESSION_MAX_TTL_SECONDS", &mut self.session_max_ttl_seconds)?;
        set(env, "PATCHBAY_UPSTREAM_TIMEOUT_SECONDS", &mut self.upstream_timeout_seconds)?;
        set(env, "PATCHBAY_INVOKE_DEADLINE_SECONDS", &mut self.invoke_deadline_seconds)?;
        set(env, "PATCHBAY_OAUTH_REFRESH_MARGIN_SECONDS", &mut self.oauth_refresh_margin_seconds)?;
        set(env, "PATCHBAY_OAUTH_ATTEMPT_TTL_SECONDS", &mut self.oauth_attempt_ttl_seconds)?;
        set(env, "PATCHBAY_MAX_BODY_BYTES", &mut self.max_body_bytes)?;
        set(env, "PATCHBAY_MAX_UPSTREAM_BODY_BYTES", &mut self.max_upstream_body_bytes)?;
        set(
            env,
            "PATCHBAY_BACKGROUND_REFRESH_INTERVAL_SECONDS",
            &mut self.background_refresh_interval_seconds,
        )?;
        set(env, "PATCHBAY_BACKGROUND_REFRESH_AHEAD_SECONDS", &mut self.background_refresh_ahead_seconds)?;
        set(env, "PATCHBAY_BACKGROUND_PROBE_IDLE_SECONDS", &mut self.background_probe_idle_seconds)?;
        set(env, "PATCHBAY_WEBHOOK_TIMEOUT_SECONDS", &mut self.webhook_timeout_seconds)?;
        set(env, "PATCHBAY_ACCOUNT_CACHE_SECONDS", &mut self.account_cache_seconds)?;
        set(env, "PATCHBAY_WORKER_THREADS", &mut self.worker_threads)?;
        Ok(())
    }

    /// Range checks, naming the setting whichever source it came from.
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, problem: &str| Err(ConfigError::Invalid { setting, problem: problem.into() });
        if self.session_max_ttl_seconds == 0 {
            return invalid("session_max_ttl_seconds", "must be at least 1");
        }
        if self.session_default_ttl_seconds == 0
            || self.session_default_ttl_seconds > self.session_max_ttl_seconds
        {
            return invalid("session_default_ttl_seconds", "must be between 1 and session_max_ttl_seconds");
        }
        if self.upstream_timeout_seconds == 0 {
            return invalid("upstream_timeout_seconds", "must be at least 1");
        }
        if self.invoke_deadline_seconds == 0 {
            return invalid("invoke_deadline_seconds", "must be at least 1");
        }
        if self.oauth_refresh_margin_seconds < 0 {
            return invalid("oauth_refresh_margin_seconds", "must not be negative");
        }
        if self.oauth_attempt_ttl_seconds <= 0 {
            return invalid("oauth_attempt_ttl_seconds", "must be at least 1");
        }
        if self.max_body_bytes == 0 || self.max_upstream_body_bytes == 0 {
            let setting = if self.max_body_bytes == 0 { "max_body_bytes" } else { "max_upstream_body_bytes" };
            return invalid(setting, "must be at least 1");
        }
        if self.background_refresh_ahead_seconds < 0 {
            return invalid("background_refresh_ahead_seconds", "must not be negative");
        }
        if self.background_probe_idle_seconds <= 0 {
            return invalid("background_probe_idle_seconds", "must be at least 1");
        }
        if self.webhook_timeout_seconds == 0 {
            return invalid("webhook_timeout_seconds", "must be at least 1");
        }
        if self.worker_threads == 0 {
            return invalid("worker_threads", "must be at least 1");
        }
        Ok(())
    }

    /// The public base URL.
    pub fn public_url(&self) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://{}", self.listen))
                .unwrap_or_else(|_| unreachable!("socket addresses are valid hosts"))
        })
    }

    /// Whether a request for `host` (its `Host` or `X-Forwarded-Host`, `name[:port]`) reached the
    /// broker under its public URL. When it did not, OAuth redirects and links point elsewhere.
    pub fn reached_as(&self, host: &str) -> bool {
        // Runs on every request: compares in place instead of formatting the expected hosts.
        let Some(public) = &self.public_url else {
            // `http://<listen>`: the listen address itself, its port optional when it is 80.
            if let Ok(addr) = host.parse::<std::net::SocketAddr>() {
                return addr == self.listen;
            }
            let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            return self.listen.port() == 80
                && ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip == self.listen.ip());
        };
        let Some(name) = public.host_str() else { return false };
        let (host_name, host_port) = match host.rsplit_once(':') {
            Some((host_name, port)) if !host.ends_with(']') => (host_name, Some(port.parse::<u16>().ok())),
            _ => (host, None),
        };
        host_name.eq_ignore_ascii_case(name)
            && match host_port {
                None => public.port().is_none(),
                Some(port) => port.is_some() && port == public.port_or_known_default(),
            }
    }

    /// The master key list: `PATCHBAY_MASTER_KEYS` first, then the key file.
    pub fn master_keys(&self, env: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
        if let Some(keys) = env("PATCHBAY_MASTER_KEYS").filter(|k| !k.trim().is_empty()) {
            return Ok(keys);
        }
        let path = self.master_keys_file.as_ref().ok_or(ConfigError::NoMasterKeys)?;
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| ConfigError::File { file: path.display().to_string(), problem: e.to_string() })
    }
}

#[cfg(test)]
mod reached_as_tests {
    use super::Config;

    #[test]
    fn the_public_url_matches_its_own_host_and_port_only() {
        let config = Config {
            public_url: Some(url::Url::parse("https://pb.example.com").expect("url")),
            ..Config::default()
        };
        assert!(config.reached_as("pb.example.com"));
        assert!(config.reached_as("PB.example.com:443"));
        assert!(!config.reached_as("pb.example.com:8080"));
        assert!(!config.reached_as("127.0.0.1:8080"));
        let default = Config::default();
        assert!(default.reached_as("127.0.0.1:8080"), "http://<listen> by default");
        assert!(!default.reached_as("localhost:8080"));
        assert!(!default.reached_as("127.0.0.1:8081"));
        let port_80 = Config { listen: "[::1]:80".parse().expect("addr"), ..Config::default() };
        assert!(port_80.reached_as("[::1]") && port_80.reached_as("[::1]:80"), "http's default port");
        assert!(!port_80.reached_as("[::2]"));
    }
}

/// Parses the variable `name` into `slot` when it is set.
fn set<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    slot: &mut T,
) -> Result<(), ConfigError>
where
    T::Err: std::fmt::Display,
{
    if let Some(raw) = env(name) {
        *slot = raw.trim().parse().map_err(|e: T::Err| ConfigError::Env { name, problem: e.to_string() })?;
    }
    Ok(())
}

/// [`set`] for an optional setting; an empty variable leaves it unset.
/// A switch: `1`/`true`/`yes` or `0`/`false`/`no` (or empty); anything else is an error rather
/// than a guess.
fn set_flag(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    slot: &mut bool,
) -> Result<(), ConfigError> {
    if let Some(raw) = env(name) {
        *slot = match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" | "" => false,
            _ => {
                return Err(ConfigError::Env { name, problem: "expected true or false (1/0, yes/no)".into() })
            }
        };
    }
    Ok(())
}

fn set_some<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    slot: &mut Option<T>,
) -> Result<(), ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        Some(raw) if raw.trim().is_empty() => *slot = None,
        Some(raw) => {
            *slot = Some(
                raw.trim().parse().map_err(|e: T::Err| ConfigError::Env { name, problem: e.to_string() })?,
            )
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("patchbay.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ncatalog = \"a.toml\"\nallow_loopback_upstreams = false\n",
        )
        .expect("write");
        let env = |name: &str| match name {
            "PATCHBAY_CATALOG" => Some("b.toml".to_owned()),
            "PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS" => Some("1".to_owned()),
            _ => None,
        };
        let config = Config::load(Some(&path), env).expect("config");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.catalog, PathBuf::from("b.toml"));
        assert!(config.allow_loopback_upstreams);
        assert_eq!(config.public_url().as_str(), "http://127.0.0.1:9000/");
    }

    #[test]
    fn bad_values_name_their_source() {
        let err =
            Config::load(None, |n| (n == "PATCHBAY_LISTEN").then(|| "nope".to_owned())).expect_err("bad");
        assert!(err.to_string().starts_with("environment variable PATCHBAY_LISTEN: "), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lisen = 1\n").expect("write");
        let err = Config::load(Some(&path), |_| None).expect_err("typo");
        assert!(err.to_string().contains("unknown field `lisen`"), "{err}");
        assert!(matches!(Config::default().master_keys(|_| None), Err(ConfigError::NoMasterKeys)));
    }

    /// Every setting of the README's table, with its variable and a value unlike the default.
    const EVERY_SETTING: [(&str, &str); 21] = [
        ("PATCHBAY_LISTEN", "127.0.0.1:9100"),
        ("PATCHBAY_PUBLIC_URL", "https://broker.example/"),
        ("PATCHBAY_DATABASE_URL", "postgres://db.example/patchbay"),
        ("PATCHBAY_CATALOG", "/etc/patchbay/catalog.toml"),
        ("PATCHBAY_MASTER_KEYS_FILE", "/run/secrets/keys"),
        ("PATCHBAY_SDK_DIR", "/srv/sdk"),
        ("PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS", "true"),
        ("PATCHBAY_SESSION_DEFAULT_TTL_SECONDS", "600"),
        ("PATCHBAY_SESSION_MAX_TTL_SECONDS", "3600"),
        ("PATCHBAY_UPSTREAM_TIMEOUT_SECONDS", "5"),
        ("PATCHBAY_INVOKE_DEADLINE_SECONDS", "12"),
        ("PATCHBAY_OAUTH_REFRESH_MARGIN_SECONDS", "20"),
        ("PATCHBAY_OAUTH_ATTEMPT_TTL_SECONDS", "300"),
        ("PATCHBAY_MAX_BODY_BYTES", "1000"),
        ("PATCHBAY_MAX_UPSTREAM_BODY_BYTES", "2000"),
        ("PATCHBAY_BACKGROUND_REFRESH_INTERVAL_SECONDS", "5"),
        ("PATCHBAY_BACKGROUND_REFRESH_AHEAD_SECONDS", "120"),
        ("PATCHBAY_BACKGROUND_PROBE_IDLE_SECONDS", "3600"),
        ("PATCHBAY_WEBHOOK_TIMEOUT_SECONDS", "3"),
        ("PATCHBAY_ACCOUNT_CACHE_SECONDS", "5"),
        ("PATCHBAY_WORKER_THREADS", "4"),
    ];

    #[test]
    fn every_setting_comes_from_its_environment_variable() {
        let env = |name: &str| EVERY_SETTING.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned());
        let c = Config::load(None, env).expect("config");
        let seen = [
            c.listen.to_string(),
            c.public_url.as_ref().map(Url::to_string).unwrap_or_default(),
            c.database_url.clone(),
            c.catalog.display().to_string(),
            c.master_keys_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            c.sdk_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            c.allow_loopback_upstreams.to_string(),
            c.session_default_ttl_seconds.to_string(),
            c.session_max_ttl_seconds.to_string(),
            c.upstream_timeout_seconds.to_string(),
            c.invoke_deadline_seconds.to_string(),
            c.oauth_refresh_margin_seconds.to_string(),
            c.oauth_attempt_ttl_seconds.to_string(),
            c.max_body_bytes.to_string(),
            c.max_upstream_body_bytes.to_string(),
            c.background_refresh_interval_seconds.to_string(),
            c.background_refresh_ahead_seconds.to_string(),
            c.background_probe_idle_seconds.to_string(),
            c.webhook_timeout_seconds.to_string(),
            c.account_cache_seconds.to_string(),
            c.worker_threads.to_string(),
        ];
        for ((name, value), seen) in EVERY_SETTING.iter().zip(&seen) {
            assert_eq!(seen, value, "{name}");
        }
        // Each one differs from the default, so none of them passed by accident.
        let default = Config::load(None, |_| None).expect("defaults");
        assert_ne!(format!("{default:?}"), format!("{c:?}"));
        for (name, _) in EVERY_SETTING {
            let one = Config::load(None, |n| (n == name).then(|| env(n)).flatten()).expect("config");
            assert_ne!(format!("{one:?}"), format!("{default:?}"), "{name} changed nothing");
        }
    }

    #[test]
    fn bad_numbers_and_ranges_name_the_setting_and_where_it_came_from() {
        for (name, _) in EVERY_SETTING.iter().skip(7) {
            let err =
                Config::load(None, |n| (n == *name).then(|| "lots".to_owned())).expect_err("not a number");
            assert!(err.to_string().starts_with(&format!("environment variable {name}: ")), "{err}");
        }
        let err = Config::load(None, |n| (n == "PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS").then(|| "maybe".into()))
            .expect_err("not a flag");
        assert!(err.to_string().contains("PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS"), "{err}");

        // A file setting out of range is named as a setting, not as an environment variable.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "session_default_ttl_seconds = 0\n").expect("write");
        let err = Config::load(Some(&path), |_| None).expect_err("zero ttl");
        assert_eq!(
            err.to_string(),
            "setting session_default_ttl_seconds: must be between 1 and session_max_ttl_seconds"
        );
        let err = Config::load(None, |n| (n == "PATCHBAY_INVOKE_DEADLINE_SECONDS").then(|| "0".into()))
            .expect_err("zero deadline");
        assert_eq!(err.to_string(), "setting invoke_deadline_seconds: must be at least 1");
        let err = Config::load(None, |n| (n == "PATCHBAY_WORKER_THREADS").then(|| "0".into()))
            .expect_err("no threads");
        assert_eq!(err.to_string(), "setting worker_threads: must be at least 1");
    }
}
