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
use clap::{Args, ValueEnum};
use sixfold_router::Config;
use sixfold_router::config::{Filtering, Mapping, Scheduling, Subscriber};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use world::{World, build};

/// The lab's "internet" hosts, on the WAN namespace's loopback.
const SERVER_V4: &str = "192.0.2.80";
const SERVER_V6: &str = "2001:db8:ffff::80";
const HTTP_PORT: u16 = 8080;
const REFLECTOR_PORT: u16 = 3478;
/// The dual-stack name in each subscriber namespace's hosts file.
const DUAL_STACK_NAME: &str = "www.lab.example";

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum MappingArg {
    Eim,
    Adm,
    Apdm,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum FilteringArg {
    Eif,
    Adf,
    Apdf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum SchedulingArg {
    Strict,
    Weighted,
}

#[derive(Args, Debug)]
pub(crate) struct LabArgs {
    /// Number of subscribers: namespaces of their own (default 2), or with
    /// --routers above 1 addresses in the access namespace (default 4 per box).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=250))]
    subscribers: Option<u16>,
    /// Router boxes: 1 is the lab above; more builds the scale-out world (an
    /// access namespace, boxes PREFIX-r1..rN each running `sixfold run` and BIRD,
    /// a core namespace with BIRD), shows BGP/BFD, ECMP and each subscriber's
    /// box, SIGKILLs box 1's router and reports the failover, then restarts it.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16))]
    routers: u16,
    /// Namespace name prefix: namespaces are PREFIX-sub1, ..., PREFIX-wan (with
    /// --routers above 1: PREFIX-access, PREFIX-r1, ..., PREFIX-core).
    #[arg(long, default_value = "sixfold")]
    prefix: String,
    /// NAT mapping behaviour (overrides the configuration file).
    #[arg(long, value_enum)]
    mapping: Option<MappingArg>,
    /// NAT filtering behaviour (overrides the configuration file).
    #[arg(long, value_enum)]
    filtering: Option<FilteringArg>,
    /// Hairpinning (overrides the configuration file).
    #[arg(long, value_enum)]
    hairpin: Option<OnOff>,
    /// Router configuration whose [router], [nat] (allocation keys included) and
    /// [ipfix] sections the lab uses; the lab supplies [wan] and the subscribers.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Build the world, start the router, print `ready` and `config PATH` (the
    /// file the router runs from; with --routers, `config K PATH` per box), and
    /// run until SIGINT/SIGTERM. Standard input takes `reload` (`reload K`):
    /// the router reads its file again; with --routers above 1 also `kill K`
    /// (SIGKILL to box K's router) and `start K` (start it again); each is
    /// answered on one line.
    #[arg(long)]
    keep: bool,
    /// Turn all transition-tunnel blocking off, to show the difference.
    #[arg(long)]
    allow_tunnels: bool,
    /// Shape the WAN link's egress (the uplink) to this many Mbit/s.
    #[arg(long, value_name = "MBPS")]
    wan_rate: Option<u32>,
    /// Shape each subscriber link's egress (the downlink) to this many Mbit/s.
    #[arg(long, value_name = "MBPS")]
    subscriber_rate: Option<u32>,
    /// How shapers share a saturated link: IPv6 first (`strict`) or by weight
    /// (`weighted`, see --ipv6-weight).
    #[arg(long, value_enum)]
    scheduling: Option<SchedulingArg>,
    /// IPv6's weight against IPv4's 1 under `--scheduling weighted`.
    #[arg(long, value_name = "N")]
    ipv6_weight: Option<u32>,
    /// Worker threads of the router (overrides the configuration; 0: one per CPU).
    #[arg(long, value_name = "N")]
    workers: Option<u32>,
    /// TUN offload (super-packets): on by default (overrides the configuration).
    #[arg(long, value_enum)]
    offload: Option<OnOff>,
    /// Serve the router's metrics (127.0.0.1:9108 in the WAN namespace, per
    /// subscriber), run Debian's Prometheus there scraping them every second,
    /// and report figures read back from it.
    #[arg(long)]
    metrics: bool,
    /// Add one IPv6-only subscriber (the last, sub N+1): the router as NAT64
    /// (PLAT, [nat64] prefix 2001:db8:64::/96 unless the configuration has
    /// one), unbound as DNS64 in the WAN namespace, tayga as its CLAT (464XLAT).
    #[arg(long)]
    ipv6_only: bool,
    /// Export IPFIX (NAT events, flow accounting before the NAT) to a collector
    /// in the WAN namespace, and report the port blocks and per-subscriber
    /// volume it received.
    #[arg(long)]
    ipfix: bool,
    /// Also save every IPFIX message the collector received as a pcap (UDP) when
    /// the lab ends, `--keep` and SIGTERM included; implies --ipfix.
    #[arg(long, value_name = "FILE")]
    ipfix_pcap: Option<PathBuf>,
    /// The in-kernel fast path on each box (`[fastpath] mode`, issue 27): with
    /// `ebpf` an XDP program on the box's two veths forwards the established
    /// NAT44 flows; each box's counters then show packets on the fast and the
    /// slow path. Needs --routers 2 or more (boxes between two interfaces).
    #[arg(long, value_enum, default_value = "off")]
    fastpath: FastPathArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FastPathArg {
    Off,
    Ebpf,
}

impl LabArgs {
    /// Dual-stack subscribers: `--subscribers`, or its default (2 for one
    /// router, 4 per box for more).
    pub(crate) fn subscribers(&self) -> u16 {
        self.subscribers.unwrap_or(if self.routers > 1 {
            4 * self.routers
        } else {
            2
        })
    }

    /// Subscribers in all: the dual-stack ones and the IPv6-only one.
    pub(crate) fn all_subscribers(&self) -> u16 {
        self.subscribers() + u16::from(self.ipv6_only)
    }

    /// Whether subscriber `k` (1-based) is the IPv6-only one.
    pub(crate) fn is_ipv6_only(&self, k: u16) -> bool {
        self.ipv6_only && k == self.all_subscribers()
    }
}

/// Addresses of subscriber `k` (1-based).
fn subscriber_v4(k: u16) -> String {
    format!("100.64.1.{k}")
}

fn subscriber_v6_prefix(k: u16) -> String {
    format!("2001:db8:1:{k:x}::/64")
}

fn subscriber_v6_host(k: u16) -> String {
    format!("2001:db8:1:{k:x}::2")
}

pub(crate) fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    if !nix::unistd::geteuid().is_root() {
        bail!("sixfold lab needs root (network namespaces and TUN devices)");
    }
    if args.prefix.is_empty()
        || args.prefix.len() > 20
        || !args
            .prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        bail!(
            "--prefix {:?}: use 1-20 letters, digits or '-'",
            args.prefix
        );
    }
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
