//! `sixfold run` (the router on real TUN devices) and `sixfold stats`.

use anyhow::Context;
use clap::Args;
use sixfold_router::{Config, device};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Router configuration (TOML).
    #[arg(long)]
    config: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct StatsArgs {
    /// The router's control socket (`router.control_socket` in its configuration).
    #[arg(long, default_value = "/run/sixfold.sock")]
    socket: String,
}

/// Reads and validates a configuration file.
pub(crate) fn load(path: &Path) -> anyhow::Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Config::from_toml(&text).with_context(|| format!("in {}", path.display()))
}

/// A seed for the router's keyed randomness, from the OS (std's hasher keys).
pub(crate) fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// SIGINT and SIGTERM set the returned flag instead of killing the process.
pub(crate) fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing a signal handler")?;
    }
    Ok(stop)
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    let stop = stop_on_signals()?;
    // The sockets first: a path that must not be replaced, or a metrics address
    // in use, stops the router before any device exists.
    let endpoints = device::Endpoints::bind(&config)?;
    let workers = device::worker_count(&config);
    let devices = match device::Devices::open(&config, workers) {
        Ok(d) => d,
        Err(e) => {
            endpoints.close();
            return Err(anyhow::Error::from(e).context("opening TUN devices and their routes"));
        }
    };
    tracing::info!(
        subscribers = devices.subscribers.len(),
        ranges = devices.ranges.len(),
        workers,
        offload = devices.datapath.offload,
        socket = endpoints.control_path(),
        metrics = ?endpoints.metrics_addr(),
        "router running"
    );
    device::run(config, random_seed(), &devices, endpoints, &stop).context("I/O loop")?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let answer = sixfold::control::request(&args.socket, "stats")?;
    print!("{answer}");
    Ok(ExitCode::SUCCESS)
}
