//! `sixfold run` (the router on real TUN devices) and `sixfold stats`.
//!
//! `run` checks everything it can before it touches a device — the file
//! whole, then what it needs of this machine (the validator `sixfold check`
//! uses) — so nothing that could have been refused is found after a TUN or a
//! route exists. Then it binds its sockets, opens its devices, gives up root
//! if `[router] user` says so, and runs until SIGTERM or SIGINT; SIGHUP
//! reloads the file. Under systemd (`$NOTIFY_SOCKET`) it says when it is
//! ready, reloading and stopping, and feeds the watchdog.
//!
//! `$SIXFOLD_EXIT_WITH_PARENT=PID` (set by `sixfold lab`, which runs the
//! router as a process of its own): stop when process PID, the parent, dies.

use crate::check;
use anyhow::Context;
use clap::Args;
use sixfold_router::config::DEFAULT_CONTROL_SOCKET;
use sixfold_router::{Config, Layout, device};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Router configuration (TOML); SIGHUP and `sixfold reload` read it again.
    #[arg(long)]
    config: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct StatsArgs {
    /// The router's control socket (`router.control_socket` in its configuration).
    #[arg(long, default_value = DEFAULT_CONTROL_SOCKET)]
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

/// With `$SIXFOLD_EXIT_WITH_PARENT=PID`: SIGTERM when the parent dies (and
/// an error if it is gone already).
fn exit_with_parent() -> anyhow::Result<()> {
    let Ok(pid) = std::env::var("SIXFOLD_EXIT_WITH_PARENT") else {
        return Ok(());
    };
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
        .context("asking for a signal when the parent dies")?;
    if nix::unistd::getppid().as_raw().to_string() != pid {
        anyhow::bail!("the process that started this router ({pid}) is gone");
    }
    Ok(())
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let checked = match check::validate(&args.config, true)? {
        Ok(c) => c,
        Err(problems) => {
            crate::logging::init(Default::default());
            eprintln!("sixfold run: nothing was started");
            check::report(&args.config, &problems);
            return Ok(ExitCode::FAILURE);
        }
    };
    let (config, workers) = (checked.config, checked.workers);
    crate::logging::init(config.router.log_format);
    exit_with_parent()?;
    let stop = stop_on_signals()?;
    let hangup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
        .context("installing a signal handler")?;
    let notify = device::Notifier::from_env()?;
    // The sockets first: a path that must not be replaced, or a metrics address
    // in use, stops the router before any device exists.
    let endpoints = device::Endpoints::bind(&config)?;
    let devices = match device::Devices::open(&config, &Layout::of(&config), workers) {
        Ok(d) => d,
        Err(e) => {
            endpoints.close();
            return Err(anyhow::Error::from(e).context("opening TUN devices and their routes"));
        }
    };
    // Before any thread starts: every thread inherits what is kept.
    let user = match device::privileges::drop_privileges(&config) {
        Ok(u) => u,
        Err(e) => {
            endpoints.close();
            return Err(anyhow::Error::from(e).context("giving up root ([router] user)"));
        }
    };
    tracing::info!(
        subscribers = devices.subscribers.len(),
        ranges = devices.ranges.len(),
        workers,
        offload = devices.datapath.offload,
        socket = endpoints.control_path(),
        metrics = ?endpoints.metrics_addr(),
        user = user.as_deref().unwrap_or("(unchanged)"),
        config = %args.config.display(),
        "router running"
    );
    let path = std::path::absolute(&args.config).unwrap_or(args.config);
    let control = device::Control {
        stop,
        hangup,
        path: Some(path),
        notify,
    };
    let s = device::run(config, random_seed(), devices, endpoints, &control).context("I/O loop")?;
    let (v4, v6) = s.bytes_by_family();
    tracing::info!(
        sessions_created = s.sessions_created,
        sessions_left = s.sessions,
        ipv6_flows_created = s.ipv6_flows_created,
        ipv4_bytes = v4,
        ipv6_bytes = v6,
        drops = s.drops.nonzero().map(|(_, n)| n).sum::<u64>(),
        ipfix_records = s.ipfix.records_exported,
        ipfix_records_dropped = s.ipfix.records_dropped,
        "router stopped"
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let answer = sixfold::control::request(&args.socket, "stats")?;
    print!("{answer}");
    Ok(ExitCode::SUCCESS)
}
