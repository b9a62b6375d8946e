//! Builds the one-router lab's world: namespaces, the router's TUNs in them,
//! addresses and routes, the router, and what the arguments add (the IPFIX
//! collector, DNS64 and the CLAT, Prometheus). It uses the world's parts
//! (`world`, `collector`, `xlat`, `prometheus`); none of them uses it.

use super::args::{LabArgs, SERVER_V4, SERVER_V6, subscriber_v4, subscriber_v6_host};
use super::world::{
    World, create_namespaces, ip, slaac_address, spawn_router, sysctl, wait_answering, write_config,
};
use super::{collector, prometheus, xlat};
use anyhow::{Context, bail};
use sixfold_router::Config;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Builds the world for `config`: namespaces, the router's TUNs in them,
/// addresses and routes, then the router itself; returns once every subscriber
/// has its IPv6 address from the router's advertisements.
pub(super) fn build(
    args: &LabArgs,
    config: &Config,
    world: &mut World,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let wan_ns = format!("{}-wan", args.prefix);
    let subs: Vec<String> = (1..=args.all_subscribers())
        .map(|k| format!("{}-sub{k}", args.prefix))
        .collect();
    create_namespaces(args, subs.iter().chain([&wan_ns]), world)?;
    if args.ipfix || args.ipfix_pcap.is_some() {
        // Listening before the router starts: its first message holds the templates.
        let at = format!("{}/32", collector::COLLECTOR.ip());
        ip(&["-n", &wan_ns, "addr", "add", &at, "dev", "lo"])?;
        world.collector = Some(collector::Collector::start(&wan_ns)?);
    }
    // The WAN's hosts first: the router's export may go to one of them.
    address_wan(&wan_ns)?;
    start_router(args, config, world, stop)?;
    route_wan(config, &wan_ns)?;
    for (k, ns) in (1..=args.all_subscribers()).zip(&subs) {
        address_subscriber(config, k, ns, args.is_ipv6_only(k))?;
    }
    if config.router.ra {
        wait_for_slaac(&subs, stop)?;
    }
    if args.ipv6_only {
        xlat_world(args, config, world, &wan_ns)?;
    }
    if args.metrics {
        prometheus::start(&wan_ns, &args.prefix, world, stop)?;
        eprintln!(
            "sixfold lab: metrics at http://{}/metrics in {wan_ns}, scraped by Prometheus at http://{}",
            prometheus::METRICS_ADDR,
            prometheus::PROMETHEUS_ADDR
        );
    }
    eprintln!(
        "sixfold lab: {} subscriber(s) in {}-sub1..{}, WAN in {wan_ns}; NAT mapping {:?}, filtering {:?}, hairpin {}; stats: sixfold stats --socket {}",
        args.subscribers(),
        args.prefix,
        subs.last().map_or("", String::as_str),
        config.nat.mapping,
        config.nat.filtering,
        if config.nat.hairpin { "on" } else { "off" },
        config.router.control_socket,
    );
    Ok(())
}

/// The WAN's "internet" hosts, on its loopback.
fn address_wan(wan_ns: &str) -> anyhow::Result<()> {
    ip(&[
        "-n",
        wan_ns,
        "addr",
        "add",
        &format!("{SERVER_V4}/32"),
        "dev",
        "lo",
    ])?;
    ip(&[
        "-n",
        wan_ns,
        "addr",
        "add",
        &format!("{SERVER_V6}/128"),
        "dev",
        "lo",
    ])
}

/// The pool and the subscribers' IPv6 prefixes routed to the router's WAN TUN.
fn route_wan(config: &Config, wan_ns: &str) -> anyhow::Result<()> {
    let wan = config.wan.name.as_str();
    for net in &config.nat.pool {
        ip(&["-n", wan_ns, "route", "add", &net.to_string(), "dev", wan])?;
    }
    for net in config.subscriber.iter().flat_map(|s| &s.ipv6) {
        ip(&[
            "-n",
            wan_ns,
            "-6",
            "route",
            "add",
            &net.to_string(),
            "dev",
            wan,
        ])?;
    }
    Ok(())
}

/// The IPv6-only subscriber's world: DNS64 in the WAN namespace, its
/// resolver set, its CLAT.
fn xlat_world(
    args: &LabArgs,
    config: &Config,
    world: &mut World,
    wan_ns: &str,
) -> anyhow::Result<()> {
    let prefix = config
        .nat64
        .as_ref()
        .map(|n| n.prefix.to_string())
        .context("--ipv6-only needs [nat64]")?;
    xlat::start_dns64(world, wan_ns, &prefix)?;
    let k = args.all_subscribers();
    let ns = format!("{}-sub{k}", args.prefix);
    xlat::resolv_conf(world, &ns)?;
    let dev = format!("sub{k}");
    let slaac = slaac_address(&ns, &dev).unwrap_or_else(|| subscriber_v6_host(k));
    xlat::start_clat(world, &ns, &dev, xlat::clat_address(&slaac)?, &prefix)
}

/// Subscriber `k` in namespace `ns`: its IPv4 address and default route (none
/// for an IPv6-only one); IPv6 from the router's advertisements (or static when
/// they are off).
fn address_subscriber(config: &Config, k: u16, ns: &str, ipv6_only: bool) -> anyhow::Result<()> {
    let dev = format!("sub{k}");
    if !ipv6_only {
        let v4 = format!("{}/32", subscriber_v4(k));
        ip(&["-n", ns, "addr", "add", &v4, "dev", &dev])?;
        ip(&["-n", ns, "route", "add", "default", "dev", &dev])?;
    }
    if config.router.ra {
        // IPv6 comes from the router's advertisements alone (SLAAC); without
        // duplicate-address detection the address is usable at once.
        sysctl(ns, &[&format!("net.ipv6.conf.{dev}.accept_dad=0")])?;
    } else {
        let host = format!("{}/64", subscriber_v6_host(k));
        ip(&["-n", ns, "-6", "addr", "add", &host, "dev", &dev, "nodad"])?;
        ip(&["-n", ns, "-6", "route", "add", "default", "dev", &dev])?;
    }
    Ok(())
}

/// Writes `config` to a private file and starts `sixfold run --config` on
/// it, a process of its own that stops when the lab ends (its log on the
/// lab's standard error); returns once it answers on its control socket.
fn start_router(
    args: &LabArgs,
    config: &Config,
    world: &mut World,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let template = std::env::temp_dir().join(format!("sixfold-lab-{}-XXXXXX", args.prefix));
    let dir = nix::unistd::mkdtemp(&template)
        .with_context(|| format!("creating a private directory like {}", template.display()))?;
    world.files.push(dir.clone());
    let file = dir.join("router.toml");
    write_config(config, &file)?;
    let child = spawn_router(None, &file, (Stdio::null(), Stdio::inherit()))?;
    let socket = config.router.control_socket.clone();
    world.router = Some((child, socket.clone()));
    world.config_file = Some(file);
    let Some((child, _)) = world.router.as_mut() else {
        bail!("the router is not running");
    };
    wait_answering(child, &socket, stop, String::new)
}

/// Waits (10 s at most) until every subscriber has a usable SLAAC address.
fn wait_for_slaac(subs: &[String], stop: &AtomicBool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    for (k, ns) in subs.iter().enumerate() {
        while slaac_address(ns, &format!("sub{}", k + 1)).is_none() {
            if Instant::now() > deadline || stop.load(Ordering::Relaxed) {
                bail!("{ns}: no IPv6 address from the router's advertisements within 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}
