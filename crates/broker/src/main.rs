//! `patchbay-broker`: see `patchbay-broker --help`.

use clap::Parser;
use patchbay_broker::telemetry::{subscriber, LogFormat};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: patchbay_alloc::Mimalloc = patchbay_alloc::Mimalloc;

fn main() -> std::process::ExitCode {
    let format = match LogFormat::parse(&std::env::var("PATCHBAY_LOG_FORMAT").unwrap_or_default()) {
        Ok(format) => format,
        Err(err) => {
            eprintln!("patchbay-broker: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if let Err(err) = tracing::subscriber::set_global_default(subscriber(format, filter, std::io::stderr)) {
        eprintln!("patchbay-broker: installing the log subscriber: {err}");
        return std::process::ExitCode::FAILURE;
    }
    match patchbay_broker::cli::run(patchbay_broker::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("patchbay-broker: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
