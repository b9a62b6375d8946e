//! `sixfold check`: every problem of a configuration file, before anything
//! runs — and the one validator `sixfold run` (and, in the router, a reload)
//! uses: the device-free checks ([`Config::check_toml`], with this machine's
//! worker count) and, with `--host`, what the file needs of this machine
//! ([`device::host::check`]). Exit 0 with a short summary, 1 with each
//! problem's key, line and what is wrong.

use anyhow::Context;
use clap::Args;
use sixfold_router::config::Allocation;
use sixfold_router::{Config, ConfigError, device};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// The configuration file (TOML).
    #[arg(long)]
    config: PathBuf,
    /// Also check what the file needs of this machine: its network
    /// namespaces exist, `[ipfix] source` is an address there, TUN devices
    /// can be created and none of its names is taken, `[router] user` exists.
    #[arg(long)]
    host: bool,
}

/// A configuration that passed, with the workers it runs.
pub(crate) struct Checked {
    pub(crate) config: Config,
    pub(crate) workers: u16,
}

/// Reads `path` and checks it; with `host`, against this machine too. The
/// configuration, or every problem found.
pub(crate) fn validate(
    path: &Path,
    host: bool,
) -> anyhow::Result<Result<Checked, Vec<ConfigError>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let parsed = match Config::parse_unchecked(&text) {
        Ok(c) => c,
        Err(e) => return Ok(Err(vec![e])),
    };
    // The workers first: the checks that depend on them need the count.
    let workers = device::worker_count(&parsed);
    let mut problems = Config::check_toml(&text, Some(workers))
        .err()
        .unwrap_or_default();
    if host {
        let on_host = device::host::check(&parsed, &|_, _| false);
        problems.extend(on_host.into_iter().map(|e| e.located(&text)));
    }
    if problems.is_empty() {
        Ok(Ok(Checked {
            config: parsed,
            workers,
        }))
    } else {
        Ok(Err(problems))
    }
}

/// Prints each problem (`KEY (line N): PROBLEM`) under a line naming the file.
pub(crate) fn report(path: &Path, problems: &[ConfigError]) {
    println!("{}: {} problem(s)", path.display(), problems.len());
    for p in problems {
        println!("{p}");
    }
}

pub(crate) fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    match validate(&args.config, args.host)? {
        Err(problems) => {
            report(&args.config, &problems);
            Ok(ExitCode::FAILURE)
        }
        Ok(checked) => {
            print!("{}", summary(&args.config, &checked, args.host));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What the router of a good file would run: subscribers, ranges, pool,
/// ports per subscriber, blocks or deterministic ranges, workers.
fn summary(path: &Path, c: &Checked, host: bool) -> String {
    let config = &c.config;
    let n = &config.nat;
    let in_ranges = config.subscriber_count() - config.subscriber.len() as u64;
    let pool = n.pool_addresses().len();
    let ports = match n.allocation {
        Allocation::Dynamic => format!(
            "ports per subscriber: {} per protocol (dynamic)",
            n.ports_per_subscriber
        ),
        Allocation::Block => {
            let per_address = sixfold_router::config::BLOCK_PORTS / n.block_size;
            format!(
                "ports per subscriber: up to {} blocks of {} ports ({} ports); blocks per address: {per_address} ({} per worker)",
                n.max_blocks,
                n.block_size,
                n.max_blocks * n.block_size,
                per_address / u32::from(c.workers.max(1)),
            )
        }
        Allocation::Deterministic => {
            let d = sixfold_router::Deterministic::new(config);
            format!(
                "ports per subscriber: {} per inside address (deterministic, RFC 7422); ranges per address: {}",
                d.ports_per_address(),
                sixfold_router::config::BLOCK_PORTS / n.block_size
            )
        }
    };
    let workers = if config.router.workers == 0 {
        format!(
            "{} (router.workers = 0: one per CPU of this machine)",
            c.workers
        )
    } else {
        c.workers.to_string()
    };
    let host = if host {
        "checked (namespaces, devices, [ipfix] source, user)"
    } else {
        "not checked (--host checks namespaces, devices, [ipfix] source, user)"
    };
    format!(
        "{}: ok\nsubscribers: {} ({} [[subscriber]], {in_ranges} in {} [[subscriber_range]])\n\
         pool: {pool} address(es)\n{ports}\nworkers: {workers}\nhost: {host}\n",
        path.display(),
        config.subscriber_count(),
        config.subscriber.len(),
        config.subscriber_range.len(),
    )
}
