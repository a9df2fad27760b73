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
        fn parsed<T: std::str::FromStr>(name: &'static str, raw: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            raw.parse().map_err(|e: T::Err| ConfigError::Env { name, problem: e.to_string() })
        }
        if let Some(v) = env("PATCHBAY_LISTEN") {
            config.listen = parsed("PATCHBAY_LISTEN", v)?;
        }
        if let Some(v) = env("PATCHBAY_PUBLIC_URL") {
            config.public_url = Some(parsed("PATCHBAY_PUBLIC_URL", v)?);
        }
        if let Some(v) = env("PATCHBAY_DATABASE_URL") {
            config.database_url = v;
        }
        if let Some(v) = env("PATCHBAY_CATALOG") {
            config.catalog = PathBuf::from(v);
        }
        if let Some(v) = env("PATCHBAY_BUILTIN_CATALOG") {
            config.builtin_catalog = !matches!(v.as_str(), "0" | "false" | "no");
        }
        if let Some(v) = env("PATCHBAY_MASTER_KEYS_FILE") {
            config.master_keys_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("PATCHBAY_SDK_DIR") {
            config.sdk_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("PATCHBAY_ALLOW_LOOPBACK_UPSTREAMS") {
            config.allow_loopback_upstreams = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if config.session_default_ttl_seconds == 0
            || config.session_default_ttl_seconds > config.session_max_ttl_seconds
        {
            return Err(ConfigError::Env {
                name: "session_default_ttl_seconds",
                problem: "must be between 1 and session_max_ttl_seconds".into(),
            });
        }
        Ok(config)
    }

    /// The public base URL.
    pub fn public_url(&self) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://{}", self.listen))
                .unwrap_or_else(|_| unreachable!("socket addresses are valid hosts"))
        })
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
}
