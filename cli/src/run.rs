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
    /// (Internal: `sixfold upgrade`.) Take over the router that started this
    /// process, over the socket on this descriptor.
    #[arg(long, hide = true)]
    handover_fd: Option<i32>,
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
    // The new process of an upgrade checks the file as `sixfold check` does;
    // what the machine has is the running router's (its devices, sockets).
    let checked = match check::validate(&args.config, args.handover_fd.is_none())? {
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
    if let Some(fd) = args.handover_fd {
        return take_over(&args.config, config, fd);
    }
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
        binary: started_from(),
        handed_to: Arc::default(),
    };
    let s = device::run(config, random_seed(), devices, endpoints, &control).context("I/O loop")?;
    stopped(&control, &s);
    Ok(ExitCode::SUCCESS)
}

/// The binary this process was started from, as a path that names the file
/// installed there now (`/proc/self/exe` reads "(deleted)" once a package
/// replaced it): argv[0] resolved against the directory it started in, or
/// found on `$PATH`.
fn started_from() -> Option<PathBuf> {
    let argv0 = PathBuf::from(std::env::args_os().next()?);
    if argv0.components().count() > 1 {
        return std::path::absolute(&argv0).ok();
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(&argv0))
            .find(|p| p.is_file())
    })
}

/// `sixfold run --handover-fd N`: the new process of an upgrade.
fn take_over(file: &Path, config: Config, fd: i32) -> anyhow::Result<ExitCode> {
    // The parent (the old router) ends once this one runs: a lab's router
    // watches the lab instead.
    watch_lab();
    let stop = stop_on_signals()?;
    let hangup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
        .context("installing a signal handler")?;
    let notify = device::Notifier::from_env()?;
    let taken = device::handover::take_over(&config, fd, random_seed())
        .context("taking over the running router (it goes on)")?;
    tracing::info!(
        workers = taken.routers.len(),
        upgrades = taken.history.upgrades,
        config = %file.display(),
        "taking over"
    );
    let control = device::Control {
        stop,
        hangup,
        path: Some(std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf())),
        notify,
        binary: started_from(),
        handed_to: Arc::default(),
    };
    let s = device::run_taken_over(taken, &control).context("I/O loop")?;
    stopped(&control, &s);
    Ok(ExitCode::SUCCESS)
}

/// With `$SIXFOLD_EXIT_WITH_PARENT=PID` (a lab's router): stop when process
/// PID ends, looked at every second (after an upgrade the lab is no longer
/// the parent).
fn watch_lab() {
    let Some(pid) = std::env::var("SIXFOLD_EXIT_WITH_PARENT")
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("sixfold-lab-watch".into())
        .spawn(move || {
            let lab = nix::unistd::Pid::from_raw(pid);
            while nix::sys::signal::kill(lab, None).is_ok() {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM);
        });
}

/// The last log line: the totals, or to whom the router was handed.
fn stopped(control: &device::Control, s: &sixfold_router::Snapshot) {
    let to = control.handed_to.load(std::sync::atomic::Ordering::Relaxed);
    if to != 0 {
        tracing::info!(
            pid = to,
            sessions = s.sessions,
            "router handed over: the new process runs it"
        );
        return;
    }
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
}

pub(crate) fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let answer = sixfold::control::request(&args.socket, "stats")?;
    print!("{answer}");
    Ok(ExitCode::SUCCESS)
}
