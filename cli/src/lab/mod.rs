//! `sixfold lab`: a small world in network namespaces with the router between its
//! parts, real traffic through it, and a report.
//!
//! ```text
//!  P-sub1 [sub1 TUN 100.64.1.1, 2001:db8:1:1::2] ─┐
//!  P-sub2 [sub2 TUN 100.64.1.2, 2001:db8:1:2::2] ─┼─ router ── [wan TUN] P-wan
//!  ...                                            ┘            lo: 192.0.2.80, 2001:db8:ffff::80
//! ```
//!
//! The router is a process of its own, `sixfold run --config PATH` on a file
//! the lab writes (so `--keep`'s `reload` can change it); it stops when the
//! lab ends, even by SIGKILL. Everything the lab creates — namespaces, TUNs
//! (they die with the router's fds), server processes, the control socket — is
//! removed when it ends, on error and on SIGINT/SIGTERM too.

mod args;
mod build;
mod checks;
mod collector;
mod keep;
mod prometheus;
mod report;
mod routers;
mod world;
mod xlat;

use crate::run::{load, stop_on_signals};
use anyhow::{Context, bail};
pub(crate) use args::LabArgs;
use args::{
    FastPathArg, FilteringArg, MappingArg, OnOff, SchedulingArg, subscriber_v4,
    subscriber_v6_prefix,
};
use build::build;
use sixfold_router::Config;
use sixfold_router::config::{Filtering, Mapping, Scheduling, Subscriber};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use world::World;

/// The namespaces' name prefix: 1-20 letters, digits or '-' (it becomes part
/// of every namespace's and device's name).
fn check_prefix(prefix: &str) -> anyhow::Result<()> {
    if prefix.is_empty()
        || prefix.len() > 20
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        bail!("--prefix {prefix:?}: use 1-20 letters, digits or '-'");
    }
    Ok(())
}

pub(crate) fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    if !nix::unistd::geteuid().is_root() {
        bail!("sixfold lab needs root (network namespaces and TUN devices)");
    }
    check_prefix(&args.prefix)?;
    let stop = stop_on_signals()?;
    // A router that hands over to a new process (`upgrade`) leaves it
    // orphaned: it becomes the lab's, to stop and reap.
    nix::sys::prctl::set_child_subreaper(true).context("becoming a subreaper")?;
    let config = lab_config(&args)?;
    if args.fastpath == FastPathArg::Ebpf && args.routers < 2 {
        anyhow::bail!(
            "--fastpath ebpf needs --routers 2 or more: the fast path serves boxes between two interfaces ([[subscriber_range]]), and the one-router lab gives each subscriber a TUN of its own"
        );
    }
    if args.routers > 1 {
        return routers::run(&args, config, &stop);
    }
    if let Some(removed) = world::clear_leftovers(&args.prefix, &config.router.control_socket)? {
        eprintln!(
            "sixfold lab: removed what an earlier lab with --prefix {} left: {removed}",
            args.prefix
        );
    }
    let mut world = World::default();
    let built = build(&args, &config, &mut world, &stop);
    if stop.load(Ordering::Relaxed) {
        // A signal during setup: tear down what exists, and no error.
        drop(world);
        eprintln!("sixfold lab: stopped by a signal; everything it made is removed");
        return Ok(ExitCode::SUCCESS);
    }
    built?;
    if args.keep {
        let mut lines = "ready\n".to_string();
        if let Some(file) = &world.config_file {
            lines += &format!("config {}\n", file.display());
        }
        keep::announce(&lines);
        let socket = config.router.control_socket.clone();
        keep::serve(&stop, |line| match line {
            "reload" => keep::reload(&socket),
            "upgrade" => keep::upgrade(&socket, &mut world),
            _ => anyhow::bail!("{line:?}: say `reload` or `upgrade`"),
        })?;
        world.stop_router();
        finish_ipfix(&args, &config, &mut world, false)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ok = checks::traffic(&args, &config, &mut world, &stop);
    if stop.load(Ordering::Relaxed) {
        drop(world);
        eprintln!("sixfold lab: stopped by a signal; everything it made is removed");
        return Ok(ExitCode::SUCCESS);
    }
    let mut ok = ok?;
    if args.metrics {
        ok &= prometheus::report(&format!("{}-wan", args.prefix));
    }
    if let Some(snapshot) = world.stop_router() {
        report::report(&snapshot);
    }
    finish_ipfix(&args, &config, &mut world, true)?;
    drop(world);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// After the router stopped: the collector's messages saved (`--ipfix-pcap`)
/// and, if `print`, reported.
fn finish_ipfix(
    args: &LabArgs,
    config: &Config,
    world: &mut World,
    print: bool,
) -> anyhow::Result<()> {
    let Some(mut c) = world.collector.take() else {
        return Ok(());
    };
    let (messages, lost) = c.finish();
    if let Some(path) = &args.ipfix_pcap {
        collector::write_pcap(path, &messages)?;
        eprintln!(
            "sixfold lab: {} IPFIX messages saved to {}",
            messages.len(),
            path.display()
        );
    }
    if print {
        collector::report(config, &messages, lost);
    }
    Ok(())
}

/// The router configuration the lab runs: the file's (or the lab's own
/// defaults), the command line's overrides, and the lab's WAN and subscribers.
fn lab_config(args: &LabArgs) -> anyhow::Result<Config> {
    let mut config = base_config(args)?;
    apply_overrides(args, &mut config);
    place_in_lab(args, &mut config)?;
    config.subscriber = lab_subscribers(args)?;
    lab_problems(args, &config).context("lab configuration")?;
    Ok(config)
}

/// The configuration's first problem, if any; with `--routers N` an empty
/// `[takeover]` is no problem: the lab fills in each box's `slice`,
/// `listen` and `from` from its plan (a ring of backups).
fn lab_problems(args: &LabArgs, config: &Config) -> anyhow::Result<()> {
    if config.takeover.is_some() && args.routers < 2 {
        bail!("[takeover] is for `--routers N`: a box is the backup of another");
    }
    let filled_in = |key: &str| args.routers > 1 && key.starts_with("takeover.");
    match config
        .problems(None)
        .into_iter()
        .find(|e| !filled_in(&e.key))
    {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// `--config`'s file, or without one a NAT pool, router address and DNS
/// server that fit the lab's addressing, so the lab runs with no file at all.
fn base_config(args: &LabArgs) -> anyhow::Result<Config> {
    Ok(match &args.config {
        Some(path) if args.routers > 1 => load_for_boxes(path)?,
        Some(path) => load(path)?,
        None => {
            let mut c = Config::default();
            c.nat.pool = vec!["203.0.113.0/24".parse()?];
            c.router.ipv6 = "2001:db8:1::1".parse()?;
            c.router.rdnss = vec![xlat::DNS64.parse()?];
            c
        }
    })
}

/// `--config`'s file for `--routers N`: checked as `load` does, except that
/// an empty `[takeover]` is the lab's to fill in per box.
fn load_for_boxes(path: &std::path::Path) -> anyhow::Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config =
        Config::parse_unchecked(&text).with_context(|| format!("in {}", path.display()))?;
    let problem = config
        .problems(None)
        .into_iter()
        .find(|e| !e.key.starts_with("takeover."));
    match problem {
        Some(e) => Err(e.located(&text)).with_context(|| format!("in {}", path.display())),
        None => Ok(config),
    }
}

/// The flags that override the configuration file (NAT behaviour, tunnels,
/// shaping, hairpin, offload, workers): the command line wins, and a flag
/// left out keeps the file's value.
fn apply_overrides(args: &LabArgs, config: &mut Config) {
    if let Some(m) = args.mapping {
        config.nat.mapping = match m {
            MappingArg::Eim => Mapping::Eim,
            MappingArg::Adm => Mapping::Adm,
            MappingArg::Apdm => Mapping::Apdm,
        };
    }
    if let Some(f) = args.filtering {
        config.nat.filtering = match f {
            FilteringArg::Eif => Filtering::Eif,
            FilteringArg::Adf => Filtering::Adf,
            FilteringArg::Apdf => Filtering::Apdf,
        };
    }
    if args.allow_tunnels {
        let six_rd = (config.tunnels.six_rd_prefix, config.tunnels.six_rd_ipv4);
        config.tunnels = sixfold_router::config::Tunnels::all(false);
        (config.tunnels.six_rd_prefix, config.tunnels.six_rd_ipv4) = six_rd;
    }
    config.wan.rate_mbps = args.wan_rate.or(config.wan.rate_mbps);
    if let Some(s) = args.scheduling {
        config.shaper.scheduling = match s {
            SchedulingArg::Strict => Scheduling::Strict,
            SchedulingArg::Weighted => Scheduling::Weighted,
        };
    }
    if let Some(w) = args.ipv6_weight {
        config.shaper.ipv6_weight = w;
        config.shaper.ipv4_weight = 1;
    }
    if let Some(h) = args.hairpin {
        config.nat.hairpin = matches!(h, OnOff::On);
    }
    if let Some(o) = args.offload {
        config.router.offload = matches!(o, OnOff::On);
    }
    config.router.workers = args.workers.unwrap_or(config.router.workers);
}

/// What the lab decides whatever the file says, because its namespaces are
/// named after `--prefix`: the IPFIX collector, the control socket, the
/// metrics endpoint, the WAN TUN's namespace, and the PLAT for `--ipv6-only`.
fn place_in_lab(args: &LabArgs, config: &mut Config) -> anyhow::Result<()> {
    if args.ipfix || args.ipfix_pcap.is_some() {
        collector::export_here(config, &args.prefix);
    }
    config.router.control_socket = format!("/run/sixfold-{}.sock", args.prefix);
    config.metrics = sixfold_router::config::Metrics::default();
    if args.metrics {
        config.metrics.listen = Some(prometheus::METRICS_ADDR.parse()?);
        config.metrics.netns = Some(format!("{}-wan", args.prefix));
        config.metrics.per_subscriber = true;
    }
    config.wan.name = "wan".into();
    config.wan.netns = Some(format!("{}-wan", args.prefix));
    if args.ipv6_only {
        xlat::plat_config(config)?;
    }
    Ok(())
}

/// One subscriber per lab subscriber, each in its own namespace: the lab's
/// addresses replace any the file lists, as the namespaces hold those.
fn lab_subscribers(args: &LabArgs) -> anyhow::Result<Vec<Subscriber>> {
    (1..=args.all_subscribers())
        .map(|k| {
            let ipv4 = if args.is_ipv6_only(k) {
                Vec::new()
            } else {
                vec![format!("{}/32", subscriber_v4(k)).parse()?]
            };
            Ok(Subscriber {
                name: format!("sub{k}"),
                netns: Some(format!("{}-sub{k}", args.prefix)),
                mtu: 1500,
                ipv4,
                ipv6: vec![subscriber_v6_prefix(k).parse()?],
                open: false,
                open_ports: Vec::new(),
                rate_mbps: args.subscriber_rate,
            })
        })
        .collect()
}
