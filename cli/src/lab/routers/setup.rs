//! Building the scale-out world: namespaces, links, policy routing in each box,
//! the boxes' routers as processes of their own, BIRD everywhere.

use super::bird;
use super::plan::{
    AGGREGATE_V6, INSIDE_TABLE, Plan, RANGE_V4, SERVER_V4_B, WAN_TABLE, access_link, box_config,
    core_link, sub_v4, sub_v6,
};
use crate::lab::world::{World, ip, spawn_router, sysctl, wait_answering, write_config};
use crate::lab::{SERVER_V4, SERVER_V6};
use anyhow::{Context, bail};
use sixfold_router::Config;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `ip -n ns` with each of `commands` (one `ip` invocation each).
fn ips(ns: &str, commands: &[Vec<String>]) -> anyhow::Result<()> {
    for c in commands {
        let mut args = vec!["-n", ns];
        args.extend(c.iter().map(String::as_str));
        ip(&args)?;
    }
    Ok(())
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

/// The namespaces' plumbing: veths between the access namespace and each box
/// and between each box and the core, addresses, sysctls, the boxes' policy
/// routing, the subscribers' and servers' addresses.
pub(super) fn plumb(plan: &Plan) -> anyhow::Result<()> {
    hash_on_source(&plan.access())?;
    if plan.takeover {
        // Each box's feed goes to its backup through the core.
        sysctl(&plan.core(), &["net.ipv4.ip_forward=1"])?;
    }
    for k in plan.boxes() {
        plumb_box(plan, k)?;
    }
    add_host_addresses(plan)
}

/// One subscriber stays on one box: the access namespace hashes multipath
/// routes on the source address alone, with a fixed seed (and groups made
/// with every box at once) so each run spreads the subscribers the same way.
fn hash_on_source(access: &str) -> anyhow::Result<()> {
    sysctl(
        access,
        &[
            "net.ipv4.fib_multipath_hash_policy=3",
            "net.ipv4.fib_multipath_hash_fields=0x1",
            "net.ipv6.fib_multipath_hash_policy=3",
            "net.ipv6.fib_multipath_hash_fields=0x1",
            "net.ipv4.fib_multipath_hash_seed=1",
        ],
    )
}

/// Box `k` as a forwarding namespace between the access side and the core:
/// its links to both, its routes and its policy rules. Reverse-path filtering
/// is off: packets come out of the router's TUNs with sources that the main
/// table routes through other interfaces.
fn plumb_box(plan: &Plan, k: u16) -> anyhow::Result<()> {
    let r = plan.r(k);
    sysctl(
        &r,
        &[
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        ],
    )?;
    link_box(plan, k)?;
    ips(&r, &box_routes(k))
}

/// Box `k`'s two veths: `rK` in the access namespace to `access` in the box,
/// and `rK` in the core to `core` in the box, both addressed and up. The
/// interface names in the box are what its policy rules match on.
fn link_box(plan: &Plan, k: u16) -> anyhow::Result<()> {
    let (access, core, r) = (plan.access(), plan.core(), plan.r(k));
    let dev = format!("r{k}");
    for (hub, here, (h4, b4, h6, b6)) in [
        (&access, "access", access_link(k)),
        (&core, "core", core_link(k)),
    ] {
        ip(&[
            "link", "add", &dev, "netns", hub, "type", "veth", "peer", "name", here, "netns", &r,
        ])?;
        ips(
            hub,
            &[
                words(&format!("addr add {h4}/24 dev {dev}")),
                words(&format!("addr add {h6}/64 dev {dev} nodad")),
                words(&format!("link set {dev} up")),
            ],
        )?;
        ips(
            &r,
            &[
                words(&format!("addr add {b4}/24 dev {here}")),
                words(&format!("addr add {b6}/64 dev {here} nodad")),
                words(&format!("link set {here} up")),
            ],
        )?;
        sysctl(&r, &[&format!("net.ipv4.conf.{here}.rp_filter=0")])?;
        if plan.fastpath {
            // A frame the XDP program redirects into a veth needs the
            // peer's NAPI (GRO on), and leaves as an XDP frame whose L4
            // checksum must be complete, as frames from a real NIC are.
            let ethtool = [
                "ip", "netns", "exec", hub, "ethtool", "-K", &dev, "gro", "on", "tx", "off",
            ];
            let out = std::process::Command::new(ethtool[0])
                .args(&ethtool[1..])
                .output()?;
            if !out.status.success() {
                bail!(
                    "{}: {}",
                    ethtool.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    Ok(())
}

/// Box `k`'s routes (default to the core, the subscribers' range back to the
/// access side) and its policy rules, as `ip` commands.
fn box_routes(k: u16) -> Vec<Vec<String>> {
    let (a4, _, a6, _) = access_link(k);
    let (c4, _, c6, _) = core_link(k);
    let mut commands = vec![
        words(&format!("route add default via {c4}")),
        words(&format!("-6 route add default via {c6}")),
        words(&format!("route add {RANGE_V4} via {a4}")),
        words(&format!("-6 route add {AGGREGATE_V6} via {a6}")),
    ];
    // From the access side into the router, from the core to its WAN TUN,
    // and never past it into the main table (no un-NATed leak while the
    // router is down).
    for family in ["-4", "-6"] {
        commands.push(words(&format!(
            "{family} rule add pref 100 iif access lookup {INSIDE_TABLE}"
        )));
        commands.push(words(&format!(
            "{family} rule add pref 101 iif access unreachable"
        )));
        commands.push(words(&format!(
            "{family} rule add pref 110 iif core lookup {WAN_TABLE}"
        )));
        commands.push(words(&format!(
            "{family} rule add pref 111 iif core unreachable"
        )));
    }
    commands
}

/// The hosts on the namespaces' loopbacks: every subscriber's addresses in
/// the access namespace, the servers' in the core.
fn add_host_addresses(plan: &Plan) -> anyhow::Result<()> {
    let mut subscribers = Vec::new();
    for s in plan.all_subscribers() {
        subscribers.push(words(&format!("addr add {}/32 dev lo", sub_v4(s))));
        subscribers.push(words(&format!("addr add {}/128 dev lo", sub_v6(s))));
    }
    ips(&plan.access(), &subscribers)?;
    ips(
        &plan.core(),
        &[
            words(&format!("addr add {SERVER_V4}/32 dev lo")),
            words(&format!("addr add {SERVER_V4_B}/32 dev lo")),
            words(&format!("addr add {SERVER_V6}/128 dev lo")),
        ],
    )
}

/// Writes box `k`'s configuration (once) and starts its router: `sixfold run`
/// in the box's namespace, a process of its own; returns once its control
/// socket answers (its TUNs and their routes are up by then).
pub(super) fn start_router(
    plan: &Plan,
    base: &Config,
    world: &mut World,
    k: u16,
) -> anyhow::Result<()> {
    let file = plan.config_file(k);
    if !file.exists() {
        let config = box_config(plan, base, k)?;
        write_config(&config, &file)?;
    }
    let log_path = plan.dir.join(format!("r{k}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .context("opening a box's log")?;
    let child = spawn_router(
        Some(&plan.r(k)),
        &file,
        (log.try_clone()?.into(), log.into()),
    )?;
    let slot = usize::from(k - 1);
    if world.boxes.len() <= slot {
        world.boxes.resize_with(slot + 1, || None);
    }
    world.boxes[slot] = Some(child);
    let Some(child) = world.boxes[slot].as_mut() else {
        bail!("box {k}'s router is not running");
    };
    let never = AtomicBool::new(false);
    wait_answering(child, &plan.socket(k), &never, || {
        std::fs::read_to_string(&log_path).unwrap_or_default()
    })
    .with_context(|| format!("box {k}'s router"))?;
    // Its socket is the lab's to remove, even after a SIGKILL; only once the
    // router answered there (a path it refused is not ours).
    let socket = std::path::PathBuf::from(plan.socket(k));
    if !world.files.contains(&socket) {
        world.files.push(socket);
    }
    Ok(())
}

/// Starts BIRD in the core, the access namespace and every box.
pub(super) fn start_birds(plan: &Plan, world: &mut World) -> anyhow::Result<()> {
    bird::start(
        plan,
        world,
        &plan.core(),
        "core",
        &bird::hub_conf(plan, false),
    )?;
    bird::start(
        plan,
        world,
        &plan.access(),
        "access",
        &bird::hub_conf(plan, true),
    )?;
    for k in plan.boxes() {
        bird::start(
            plan,
            world,
            &plan.r(k),
            &format!("r{k}"),
            &bird::box_conf(plan, k),
        )?;
    }
    Ok(())
}

/// Every BGP session of the core and the access side established and its BFD
/// session up: how many, and how long it took.
pub(super) fn wait_for_sessions(plan: &Plan, stop: &AtomicBool) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let want = 2 * usize::from(plan.n);
    loop {
        let mut missing = Vec::new();
        for role in ["core", "access"] {
            let sessions = bird::bgp_sessions(&bird::birdc(plan, role, &["show", "protocols"])?);
            let established = sessions
                .iter()
                .filter(|(_, _, info)| info.starts_with("Established"))
                .count();
            let (bfd_up, _) = bird::bfd_up(&bird::birdc(plan, role, &["show", "bfd", "sessions"])?);
            if established < want || bfd_up < want {
                missing.push(format!(
                    "{role}: BGP {established} of {want} established, BFD {bfd_up} of {want} up"
                ));
            }
        }
        if missing.is_empty() {
            return Ok(start.elapsed());
        }
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("sessions not up after 30 s: {}", missing.join("; "));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
