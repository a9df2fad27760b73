//! The command line: serve, and the operator's development helpers.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use patchbay_protocol::SessionRequest;

use crate::config::Config;
use crate::crypto::Keyring;

/// Patchbay broker.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Configuration file (TOML); `PATCHBAY_*` environment variables override it.
    #[arg(long, env = "PATCHBAY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve,
    /// Print a new random master key entry (`id:base64`) for PATCHBAY_MASTER_KEYS.
    Keygen {
        /// Key id.
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// Workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Session tokens (for development; production backends call POST /v1/sessions).
    #[command(subcommand)]
    Session(SessionCommand),
    /// The app catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

/// `catalog …`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Validate catalog files on top of the built-in catalog with the rules built-in apps follow
    /// (without FILE: the built-in catalog alone). `${VAR}`s resolve from the environment.
    Check {
        /// Catalog files.
        files: Vec<PathBuf>,
        /// Accept http:// endpoints (apps on a private network).
        #[arg(long)]
        allow_http: bool,
    },
    /// Print the built-in catalog reference (Markdown; the repository keeps it in docs/catalog.md).
    Docs {
        /// Folder of trimmed API descriptions the functions are checked against.
        #[arg(long, default_value = "tests/fixtures/apis")]
        fixtures: PathBuf,
    },
}

/// `workspace …`
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace and print its id, app key and secret key as JSON (the secret is shown once).
    Create {
        /// Name.
        #[arg(long)]
        name: String,
    },
}

/// `session …`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Mint a session token and print it as JSON.
    Create {
        /// Workspace id.
        #[arg(long)]
        workspace: String,
        /// The workspace's user id.
        #[arg(long)]
        user: String,
        /// Allowed browser origin (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long)]
        ttl: Option<u64>,
    },
}

/// Runs the parsed command line, on the runtime the configuration's `worker_threads` asks for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Keygen { id } = &cli.command {
        println!("{}", Keyring::generate_entry(id));
        return Ok(());
    }
    if let Command::Catalog(command) = &cli.command {
        return catalog(command);
    }
    let config = Config::load(cli.config.as_deref(), |name| std::env::var(name).ok())?;
    runtime(config.worker_threads)?.block_on(run_with(cli.command, config))
}

/// The runtime the broker runs on, for the `worker_threads` setting.
///
/// One thread runs everything on tokio's current-thread scheduler: measured on two cores, it spends
/// less CPU per invoke than the multi-threaded scheduler with one or two workers, whose workers
/// wake each other and pass shared counters and caches between cores (`cargo xtask bench` prints
/// the two-worker figure beside the default's).
pub fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(worker_threads);
        builder
    };
    builder.enable_all().build()
}

async fn run_with(command: Command, config: Config) -> anyhow::Result<()> {
    // Each command loads only what it uses: creating a workspace needs neither the catalog nor
    // the master keys, so an operator can run it before writing either.
    match command {
        Command::Keygen { .. } | Command::Catalog(_) => Ok(()),
        Command::Serve => crate::serve(crate::build_state(config).await?).await,
        Command::Workspace(WorkspaceCommand::Create { name }) => {
            let store = crate::open_store(&config.database_url, std::time::Duration::ZERO).await?;
            let (workspace, secret_key) = crate::create_workspace(store.as_ref(), &name).await?;
            let out = serde_json::json!({
                "id": workspace.id, "name": workspace.name, "appKey": workspace.app_key, "secretKey": secret_key,
            });
            println!("{out}");
            Ok(())
        }
        Command::Session(SessionCommand::Create { workspace, user, origins, ttl }) => {
            let keyring = Keyring::parse(&config.master_keys(|name| std::env::var(name).ok())?)?;
            let store = crate::open_store(&config.database_url, std::time::Duration::ZERO).await?;
            if store.workspace(&workspace).await?.is_none() {
                anyhow::bail!("no workspace `{workspace}`");
            }
            let request = SessionRequest { user_id: user, ttl_seconds: ttl, allowed_origins: origins };
            let session = crate::sessions::mint(&config, &keyring, &workspace, request)
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            println!("{}", serde_json::to_string(&session)?);
            Ok(())
        }
    }
}

fn catalog(command: &CatalogCommand) -> anyhow::Result<()> {
    use crate::catalog::{check, reference_markdown, Layer};
    match command {
        CatalogCommand::Check { files, allow_http } => {
            let sources = files
                .iter()
                .map(|f| Ok((f.display().to_string(), std::fs::read_to_string(f)?)))
                .collect::<std::io::Result<Vec<_>>>()?;
            let layers: Vec<Layer> = sources
                .iter()
                .map(|(file, source)| Layer { file: file.clone(), source, builtin: false })
                .collect();
            match check(&layers, *allow_http, |name| std::env::var(name).ok()) {
                Ok(catalog) => {
                    println!("catalog ok: {} apps", catalog.apps().count());
                    Ok(())
                }
                Err(problems) => {
                    for problem in &problems {
                        eprintln!("{problem}");
                    }
                    anyhow::bail!("{} catalog problem(s)", problems.len())
                }
            }
        }
        CatalogCommand::Docs { fixtures } => {
            let catalog = check(&[], false, |_| None).map_err(|p| anyhow::anyhow!("{}", p[0]))?;
            let checked = crate::catalog::fixture_sources(fixtures)?;
            print!("{}", reference_markdown(&catalog, &checked));
            Ok(())
        }
    }
}
