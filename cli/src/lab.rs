//! `sixfold lab`: a small world in network namespaces with the router between its
//! parts, real traffic through it, and a report.
//!
//! ```text
//!  P-sub1 [sub1 TUN 100.64.1.1, 2001:db8:1:1::2] ─┐
//!  P-sub2 [sub2 TUN 100.64.1.2, 2001:db8:1:2::2] ─┼─ router (this process) ── [wan TUN] P-wan
//!  ...                                            ┘                          lo: 192.0.2.80, 2001:db8:ffff::80
//! ```
//!
//! Everything the lab creates — namespaces, TUNs (they die with the router's fds),
//! server processes, the control socket — is removed when it ends, on error and on
//! SIGINT/SIGTERM too.

use crate::run::{load, random_seed, stop_on_signals};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sixfold_router::config::{Filtering, Mapping, Scheduling, Subscriber};
use sixfold_router::stats::ProtocolTraffic;
use sixfold_router::{Config, DropReason, Router, Snapshot, device};
use std::io::Write;
use std::net::{SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The lab's "internet" hosts, on the WAN namespace's loopback.
const SERVER_V4: &str = "192.0.2.80";
const SERVER_V6: &str = "2001:db8:ffff::80";
const HTTP_PORT: u16 = 8080;
const REFLECTOR_PORT: u16 = 3478;

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
    /// Number of subscriber namespaces.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=250))]
    subscribers: u16,
    /// Namespace name prefix: namespaces are PREFIX-sub1, ..., PREFIX-wan.
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
    /// Router configuration whose [router] and [nat] sections the lab uses; the lab
    /// supplies [wan] and the subscribers.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Build the world, start the router, print `ready`, and run until SIGINT/SIGTERM.
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

/// What the lab made, undone on drop in reverse order.
struct World {
    namespaces: Vec<String>,
    children: Vec<Child>,
    files: Vec<PathBuf>,
    router: Option<(Arc<AtomicBool>, JoinHandle<anyhow::Result<Router>>)>,
}

impl World {
    fn stop_router(&mut self) -> Option<Router> {
        let (stop, handle) = self.router.take()?;
        stop.store(true, Ordering::Relaxed);
        match handle.join() {
            Ok(Ok(router)) => Some(router),
            Ok(Err(e)) => {
                eprintln!("sixfold lab: router stopped with an error: {e:#}");
                None
            }
            Err(_) => None,
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stop_router();
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        for f in &self.files {
            let _ = std::fs::remove_dir_all(f).or_else(|_| std::fs::remove_file(f));
        }
        // Created for the hosts files if it was not there; removed only if empty.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// Runs `ip` with `args`, failing with its stderr.
fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn netns_command(ns: &str, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, program]);
    c
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
    let config = lab_config(&args)?;
    let mut world = World {
        namespaces: Vec::new(),
        children: Vec::new(),
        files: Vec::new(),
        router: None,
    };
    build(&args, &config, &mut world, &stop)?;
    if args.keep {
        println!("ready");
        std::io::stdout().flush()?;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ok = traffic(&args, &config, &mut world, &stop)?;
    let router = world.stop_router();
    if let Some(router) = router {
        report(&router.snapshot());
    }
    drop(world);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn lab_config(args: &LabArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => load(path)?,
        None => {
            let mut c = Config::default();
            c.nat.pool = vec!["203.0.113.0/24".parse()?];
            c.router.ipv6 = "2001:db8:1::1".parse()?;
            c.router.rdnss = vec!["2001:db8:ffff::53".parse()?];
            c
        }
    };
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
    config.router.control_socket = format!("/run/sixfold-{}.sock", args.prefix);
    config.wan.name = "wan".into();
    config.wan.netns = Some(format!("{}-wan", args.prefix));
    config.subscriber = (1..=args.subscribers)
        .map(|k| {
            Ok(Subscriber {
                name: format!("sub{k}"),
                netns: Some(format!("{}-sub{k}", args.prefix)),
                mtu: 1500,
                ipv4: vec![format!("{}/32", subscriber_v4(k)).parse()?],
                ipv6: vec![subscriber_v6_prefix(k).parse()?],
                open: false,
                open_ports: Vec::new(),
                rate_mbps: args.subscriber_rate,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    config.validate().context("lab configuration")?;
    Ok(config)
}

fn build(
    args: &LabArgs,
    config: &Config,
    world: &mut World,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let wan_ns = format!("{}-wan", args.prefix);
    let subs: Vec<String> = (1..=args.subscribers)
        .map(|k| format!("{}-sub{k}", args.prefix))
        .collect();
    for ns in subs.iter().chain(std::iter::once(&wan_ns)) {
        if std::path::Path::new("/run/netns").join(ns).exists() {
            bail!(
                "network namespace {ns} exists already (another lab with --prefix {}?); remove it with `ip netns del {ns}`",
                args.prefix
            );
        }
        ip(&["netns", "add", ns])?;
        world.namespaces.push(ns.clone());
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    let devices = device::Devices::open(config).context("opening the lab's TUN devices")?;
    // The WAN: "internet" hosts on loopback, the pool and subscriber prefixes via the router.
    ip(&[
        "-n",
        &wan_ns,
        "addr",
        "add",
        &format!("{SERVER_V4}/32"),
        "dev",
        "lo",
    ])?;
    ip(&[
        "-n",
        &wan_ns,
        "addr",
        "add",
        &format!("{SERVER_V6}/128"),
        "dev",
        "lo",
    ])?;
    for net in &config.nat.pool {
        ip(&[
            "-n",
            &wan_ns,
            "route",
            "add",
            &net.to_string(),
            "dev",
            "wan",
        ])?;
    }
    for sub in &config.subscriber {
        for net in &sub.ipv6 {
            ip(&[
                "-n",
                &wan_ns,
                "-6",
                "route",
                "add",
                &net.to_string(),
                "dev",
                "wan",
            ])?;
        }
    }
    for (k, ns) in (1..=args.subscribers).zip(&subs) {
        let dev = format!("sub{k}");
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/32", subscriber_v4(k)),
            "dev",
            &dev,
        ])?;
        ip(&["-n", ns, "route", "add", "default", "dev", &dev])?;
        if config.router.ra {
            // IPv6 comes from the router's advertisements alone (SLAAC); without
            // duplicate-address detection the address is usable at once.
            let out = netns_command(ns, "sysctl")
                .args(["-qw", &format!("net.ipv6.conf.{dev}.accept_dad=0")])
                .output()
                .context("running sysctl")?;
            if !out.status.success() {
                bail!(
                    "sysctl in {ns}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        } else {
            let host = format!("{}/64", subscriber_v6_host(k));
            ip(&["-n", ns, "-6", "addr", "add", &host, "dev", &dev, "nodad"])?;
            ip(&["-n", ns, "-6", "route", "add", "default", "dev", &dev])?;
        }
    }
    let control = device::control_socket(&config.router.control_socket)?;
    world
        .files
        .push(config.router.control_socket.clone().into());
    let router = Router::new(config.clone(), random_seed(), Instant::now())?;
    let router_stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&router_stop);
    let outer = Arc::clone(stop);
    let handle = std::thread::spawn(move || {
        let mut router = router;
        // Stops on the lab's own signal too.
        let watcher = Arc::clone(&flag);
        let both = std::thread::spawn(move || {
            while !watcher.load(Ordering::Relaxed) {
                if outer.load(Ordering::Relaxed) {
                    watcher.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let result = device::run(&mut router, &devices, Some(&control), &flag);
        flag.store(true, Ordering::Relaxed);
        let _ = both.join();
        result.map(|()| router).map_err(anyhow::Error::from)
    });
    world.router = Some((router_stop, handle));
    if config.router.ra {
        let deadline = Instant::now() + Duration::from_secs(10);
        for (k, ns) in (1..=args.subscribers).zip(&subs) {
            while slaac_address(ns, &format!("sub{k}")).is_none() {
                if Instant::now() > deadline || stop.load(Ordering::Relaxed) {
                    bail!("{ns}: no IPv6 address from the router's advertisements within 10 s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    eprintln!(
        "sixfold lab: {} subscriber(s) in {}-sub1..{}, WAN in {wan_ns}; NAT mapping {:?}, filtering {:?}, hairpin {}; stats: sixfold stats --socket {}",
        args.subscribers,
        args.prefix,
        subs.last().map_or("", String::as_str),
        config.nat.mapping,
        config.nat.filtering,
        if config.nat.hairpin { "on" } else { "off" },
        config.router.control_socket,
    );
    Ok(())
}

/// The dual-stack name in each subscriber namespace's hosts file.
const DUAL_STACK_NAME: &str = "www.lab.example";

/// Gives subscriber namespace `ns` a hosts file (`ip netns exec` bind-mounts
/// /etc/netns/NS/hosts) with a name that has an A and an AAAA record.
fn hosts_file(ns: &str, world: &mut World) -> anyhow::Result<()> {
    let dir = PathBuf::from("/etc/netns").join(ns);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    world.files.push(dir.clone());
    std::fs::write(
        dir.join("hosts"),
        format!(
            "127.0.0.1 localhost\n{SERVER_V4} {DUAL_STACK_NAME}\n{SERVER_V6} {DUAL_STACK_NAME}\n"
        ),
    )?;
    Ok(())
}

/// The address getaddrinfo() puts first for the dual-stack name (RFC 6724 order).
fn first_address(ns: &str) -> anyhow::Result<String> {
    let code = format!(
        "import socket; print(socket.getaddrinfo('{DUAL_STACK_NAME}', 80, type=socket.SOCK_STREAM)[0][4][0])"
    );
    let out = netns_command(ns, "python3")
        .args(["-c", &code])
        .output()
        .context("running python3")?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The subscriber's global IPv6 address learnt by SLAAC, once usable.
fn slaac_address(ns: &str, dev: &str) -> Option<String> {
    let out = Command::new("ip")
        .args([
            "-n", ns, "-6", "-j", "addr", "show", "dev", dev, "scope", "global",
        ])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0)?["addr_info"].as_array()?.iter().find_map(|a| {
        let usable = a["dynamic"].as_bool() == Some(true) && a["tentative"].as_bool() != Some(true);
        usable
            .then(|| a["local"].as_str().map(str::to_string))
            .flatten()
    })
}

/// Runs one check and prints its line; returns whether it passed.
fn check(label: &str, result: anyhow::Result<String>) -> bool {
    match result {
        Ok(detail) => {
            println!("  ok    {label:<44} {detail}");
            true
        }
        Err(e) => {
            println!("  FAIL  {label:<44} {e:#}");
            false
        }
    }
}

fn ping(ns: &str, v6: bool, to: &str) -> anyhow::Result<String> {
    let mut c = netns_command(ns, "ping");
    if v6 {
        c.arg("-6");
    }
    let out = c
        .args(["-c", "3", "-i", "0.2", "-W", "2", to])
        .output()
        .context("running ping")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or("no summary")
        .to_string();
    let rtt = text
        .lines()
        .find(|l| l.contains("rtt"))
        .and_then(|l| l.split('=').nth(1))
        .unwrap_or("")
        .trim()
        .to_string();
    if !out.status.success() {
        bail!("{summary}");
    }
    Ok(format!("{summary}; rtt min/avg/max/mdev {rtt}"))
}

fn curl(ns: &str, url: &str) -> anyhow::Result<String> {
    let out = netns_command(ns, "curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "--max-time",
            "5",
            "-w",
            "%{http_code} %{size_download} B in %{time_total} s",
            url,
        ])
        .output()
        .context("running curl")?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !text.starts_with("200") {
        bail!("{text} {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(format!("HTTP {text}"))
}

fn start_servers(args: &LabArgs, world: &mut World, stop: &AtomicBool) -> anyhow::Result<()> {
    let wan_ns = format!("{}-wan", args.prefix);
    let dir = std::env::temp_dir().join(format!("sixfold-lab-{}", args.prefix));
    std::fs::create_dir_all(&dir)?;
    world.files.push(dir.clone());
    std::fs::write(
        dir.join("index.html"),
        "hello from the sixfold lab's internet\n",
    )?;
    let server = netns_command(&wan_ns, "python3")
        .args([
            "-m",
            "http.server",
            &HTTP_PORT.to_string(),
            "--bind",
            "::",
            "--directory",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting python3 -m http.server")?;
    world.children.push(server);
    // A UDP reflector (as STUN): answers each datagram with the sender's address.
    let reflector = device::in_netns(&wan_ns, || UdpSocket::bind((SERVER_V4, REFLECTOR_PORT)))?;
    reflector.set_read_timeout(Some(Duration::from_millis(100)))?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        loop {
            match reflector.recv_from(&mut buf) {
                Ok((_, from)) => {
                    let _ = reflector.send_to(from.to_string().as_bytes(), from);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let target: SocketAddr = format!("{SERVER_V4}:{HTTP_PORT}").parse()?;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let up = device::in_netns(&wan_ns, || {
            Ok(TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok())
        })?;
        if up {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the lab's HTTP server did not come up in 10 s")
}

/// The external endpoint the WAN sees for `socket`, asked of the reflector.
fn external(socket: &UdpSocket) -> anyhow::Result<SocketAddrV4> {
    socket.send_to(b"who am i", (SERVER_V4, REFLECTOR_PORT))?;
    let mut buf = [0u8; 64];
    let (n, _) = socket
        .recv_from(&mut buf)
        .context("no answer from the reflector")?;
    Ok(std::str::from_utf8(&buf[..n])?.parse()?)
}

/// UDP hole punching between sub1 and sub2 through their public endpoints.
fn hairpin(args: &LabArgs) -> anyhow::Result<String> {
    let bind = |k: u16, port: u16| -> anyhow::Result<UdpSocket> {
        let s = device::in_netns(&format!("{}-sub{k}", args.prefix), || {
            UdpSocket::bind((subscriber_v4(k).as_str(), port))
        })?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(s)
    };
    let (a, b) = (bind(1, 6666)?, bind(2, 5555)?);
    let (ea, eb) = (external(&a)?, external(&b)?);
    // sub2 opens its mapping towards sub1's endpoint (needed under APDF; under
    // EIF this one already arrives, and is read away).
    b.send_to(b"punch", ea)?;
    a.set_read_timeout(Some(Duration::from_millis(300)))?;
    let mut buf = [0u8; 64];
    let _ = a.recv_from(&mut buf);
    a.set_read_timeout(Some(Duration::from_secs(2)))?;
    a.send_to(b"hello", eb)?;
    let (_, seen) = b
        .recv_from(&mut buf)
        .context("sub2 got nothing through the hairpin")?;
    if seen != SocketAddr::V4(ea) {
        bail!("sub2 saw {seen}, not sub1's external endpoint {ea}");
    }
    Ok(format!(
        "sub1 {}:6666 → {eb} (sub2's public endpoint); sub2 saw {seen}",
        subscriber_v4(1)
    ))
}

/// A Teredo router solicitation as a qualifying client sends it (RFC 4380 §5.2.1:
/// link-local source with the cone bit, all-routers destination).
fn teredo_rs() -> Vec<u8> {
    let src: std::net::Ipv6Addr = "fe80::8000:ffff:ffff:fffe".parse().expect("literal");
    let dst: std::net::Ipv6Addr = "ff02::2".parse().expect("literal");
    let mut p = vec![0x60, 0, 0, 0, 0, 8, 58, 255];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[133, 0, 0, 0, 0, 0, 0, 0]);
    let c = (sixfold_checksum::pseudo::ipv6(src, dst, 58, 8) + sixfold_checksum::sum(&p[40..]))
        .checksum();
    p[42..44].copy_from_slice(&c.to_be_bytes());
    p
}

/// The running router's counters, read from its control socket.
fn stats(socket: &str) -> anyhow::Result<Snapshot> {
    let answer = sixfold::control::request(socket, "stats")?;
    serde_json::from_str(&answer).context("the router's stats")
}

/// Sends Teredo from sub1 — to the standard port, and on port 443 behind an origin
/// indication (the evasion a first-nibble rule misses) — and reports how many the
/// router's counters say it blocked.
fn tunnel_attempts(args: &LabArgs, socket: &str) -> anyhow::Result<(u64, String)> {
    let count = || -> anyhow::Result<u64> { Ok(stats(socket)?.drops[DropReason::TunnelTeredo]) };
    let before = count()?;
    let s = device::in_netns(&format!("{}-sub1", args.prefix), || {
        UdpSocket::bind((subscriber_v4(1).as_str(), 0))
    })?;
    let rs = teredo_rs();
    s.send_to(&rs, (SERVER_V4, 3544))?;
    let mut evasive = vec![0, 0, 0x6d ^ 0xff, 0x20 ^ 0xff, !198, !51, !100, !1];
    evasive.extend_from_slice(&rs);
    s.send_to(&evasive, (SERVER_V4, 443))?;
    std::thread::sleep(Duration::from_millis(300));
    let blocked = count()? - before;
    Ok((
        blocked,
        format!(
            "{blocked} of 2 Teredo packets blocked (UDP 3544; port 443 behind an origin indication)"
        ),
    ))
}

/// A TCP connection from the WAN to a listener on sub1's IPv6 address must not get
/// through the router's firewall: the SYN is held (and refused after the hold).
fn unsolicited_v6(args: &LabArgs, socket: &str) -> anyhow::Result<String> {
    let held = || -> anyhow::Result<u64> { Ok(stats(socket)?.drops[DropReason::SynHeld]) };
    let ns = format!("{}-sub1", args.prefix);
    let addr = slaac_address(&ns, "sub1").unwrap_or_else(|| subscriber_v6_host(1));
    let target = SocketAddr::new(addr.parse()?, 8081);
    let _listener = device::in_netns(&ns, || std::net::TcpListener::bind(target))?;
    let before = held()?;
    let attempt = device::in_netns(&format!("{}-wan", args.prefix), || {
        Ok(TcpStream::connect_timeout(
            &target,
            Duration::from_millis(1500),
        ))
    })?;
    let held = held()? - before;
    match attempt {
        Ok(_) => bail!("connected to {target}: the firewall let it in"),
        Err(_) if held >= 1 => Ok(format!(
            "blocked: connect to {target} got no answer in 1.5 s, the router held the SYN"
        )),
        Err(e) => bail!("connect to {target} failed ({e}) but the router held no SYN"),
    }
}

fn traffic(
    args: &LabArgs,
    config: &Config,
    world: &mut World,
    stop: &AtomicBool,
) -> anyhow::Result<bool> {
    start_servers(args, world, stop)?;
    let mut ok = true;
    for k in 1..=args.subscribers {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        let ns = format!("{}-sub{k}", args.prefix);
        let v6 = match slaac_address(&ns, &format!("sub{k}")) {
            Some(a) => format!("{a} (SLAAC from the router's RA)"),
            None => format!("{} (static)", subscriber_v6_host(k)),
        };
        println!(
            "sub{k} ({ns}): IPv4 {} (static, NATed), IPv6 {v6}",
            subscriber_v4(k)
        );
        hosts_file(&ns, world)?;
        ok &= check(
            &format!("getaddrinfo({DUAL_STACK_NAME}) prefers IPv6"),
            first_address(&ns).and_then(|a| {
                if a == SERVER_V6 {
                    Ok(format!("first: {a} (RFC 6724)"))
                } else {
                    Err(anyhow::anyhow!("first: {a}"))
                }
            }),
        );
        ok &= check(&format!("ping {SERVER_V4}"), ping(&ns, false, SERVER_V4));
        ok &= check(&format!("ping -6 {SERVER_V6}"), ping(&ns, true, SERVER_V6));
        ok &= check(
            &format!("http://{SERVER_V4}:{HTTP_PORT}/"),
            curl(&ns, &format!("http://{SERVER_V4}:{HTTP_PORT}/")),
        );
        ok &= check(
            &format!("http://[{SERVER_V6}]:{HTTP_PORT}/"),
            curl(&ns, &format!("http://[{SERVER_V6}]:{HTTP_PORT}/")),
        );
    }
    println!("IPv6 simple security (RFC 6092):");
    ok &= check(
        "WAN -> sub1, unsolicited TCP over IPv6",
        unsolicited_v6(args, &config.router.control_socket),
    );
    println!(
        "transition tunnels (blocking {}):",
        if args.allow_tunnels { "off" } else { "on" }
    );
    let attempts = tunnel_attempts(args, &config.router.control_socket);
    ok &= check(
        "Teredo from sub1",
        attempts.and_then(|(blocked, text)| match (args.allow_tunnels, blocked) {
            (false, 2) | (true, 0) => Ok(text),
            _ => Err(anyhow::anyhow!(text)),
        }),
    );
    if args.subscribers >= 2 {
        println!("hairpin (subscriber to subscriber through public addresses):");
        let result = hairpin(args);
        if config.nat.hairpin {
            ok &= check("UDP hole punch sub1 → sub2", result);
        } else {
            // With hairpinning off the punch must fail.
            ok &= check(
                "UDP hole punch sub1 → sub2 (hairpin off: must fail)",
                match result {
                    Ok(r) => Err(anyhow::anyhow!("went through: {r}")),
                    Err(e) => Ok(format!("blocked: {e:#}")),
                },
            );
        }
    }
    Ok(ok)
}

/// `a, b, c`, or `none`.
fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn report(s: &Snapshot) {
    println!("router counters:");
    for (family, t) in [("IPv4", &s.ipv4), ("IPv6", &s.ipv6)] {
        let line = |dir: &ProtocolTraffic| {
            dir.iter()
                .iter()
                .filter(|(_, t)| t.packets > 0)
                .map(|(p, t)| format!("{p} {} pkt/{} B", t.packets, t.bytes))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("  {family} out: {}", line(&t.outbound));
        println!("  {family} in:  {}", line(&t.inbound));
    }
    let (v4, v6) = s.bytes_by_family();
    let share = |b: u64| 100.0 * b as f64 / (v6 + v4).max(1) as f64;
    println!(
        "  traffic split: IPv6 {:.0}% of bytes ({v6} B), IPv4 {:.0}% ({v4} B)",
        share(v6),
        share(v4)
    );
    println!(
        "  hairpinned: {}; sessions live {} (created {}, expired {}); mappings {}; IPv6 firewall flows live {} (created {})",
        s.hairpinned,
        s.sessions,
        s.sessions_created,
        s.sessions_expired,
        s.mappings,
        s.ipv6_flows,
        s.ipv6_flows_created
    );
    for sub in &s.subscribers {
        let p = sub.ports;
        let public = sub.public_ipv4.map_or("-".to_string(), |a| a.to_string());
        println!(
            "  {}: public {public}, ports icmp {}, tcp {}, udp {}, sessions {}, IPv6 flows {}",
            sub.name, p.icmp, p.tcp, p.udp, sub.sessions, sub.ipv6_flows
        );
    }
    for sh in &s.shapers {
        println!(
            "  shaper {} at {} Mbit/s: IPv6 {} B sent ({} dropped), IPv4 {} B sent ({} dropped)",
            sh.name, sh.rate_mbps, sh.ipv6.bytes, sh.ipv6.dropped, sh.ipv4.bytes, sh.ipv4.dropped
        );
    }
    let tunnels: Vec<String> = s
        .drops
        .nonzero()
        .filter_map(|(r, n)| Some(format!("{} {n}", r.name().strip_prefix("tunnel_")?)))
        .collect();
    println!(
        "  transition-tunnel packets blocked: {}",
        list_or_none(&tunnels)
    );
    let drops: Vec<String> = s.drops.nonzero().map(|(r, n)| format!("{r} {n}")).collect();
    println!("  drops: {}", list_or_none(&drops));
    let icmp: Vec<String> = s
        .icmp_sent
        .nonzero()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if !icmp.is_empty() {
        println!("  ICMP sent: {}", icmp.join(", "));
    }
}
