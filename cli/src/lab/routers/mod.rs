//! `sixfold lab --routers N`: N router boxes behind BGP and ECMP, each owning a
//! slice of the pool, no shared state.
//!
//! ```text
//!                    ┌── P-r1: sixfold run [inside]→NAT→[wan], bird ──┐
//!  P-access          │                                                 │        P-core
//!  subscribers on lo ├── P-r2: ...                                     ├─ eBGP ─ bird, merge paths
//!  bird → table 200  │                                                 │        lo: 192.0.2.80/.81,
//!  → resilient group └── P-rN: ...                                     ┘        2001:db8:ffff::80
//!    (hash: source)     each box: slice + IPv6 routes via wan → core,
//!                       default via inside → access, BFD on every session
//! ```
//!
//! Everything it creates — namespaces, the boxes' routers and every BIRD (child
//! processes), configuration files, BIRD's sockets and logs (one private
//! directory), the boxes' control sockets — is removed when it ends, on error
//! and on SIGINT/SIGTERM too.

mod bird;
mod ecmp;
mod failover;
mod plan;
mod probe;
mod setup;
mod transfers;

use super::LabArgs;
use super::checks::start_servers;
use super::world::{World, clear_leftovers, create_namespaces};
use anyhow::{Context, bail};
use plan::{AGGREGATE_V6, Plan};
use sixfold_router::{Config, Snapshot};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The built world and what the checks share.
pub(super) struct Scale {
    plan: Plan,
    base: Config,
    members: Arc<Mutex<ecmp::Members>>,
}

/// `sixfold lab --routers N` (N > 1): refuses the one-router lab's flags it has
/// no use for, builds the world, then runs `--keep` or every check.
pub(super) fn run(
    args: &LabArgs,
    base: Config,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<ExitCode> {
    for (flag, given) in [
        ("--metrics", args.metrics),
        ("--ipv6-only", args.ipv6_only),
        ("--ipfix", args.ipfix || args.ipfix_pcap.is_some()),
        ("--wan-rate", args.wan_rate.is_some()),
        ("--subscriber-rate", args.subscriber_rate.is_some()),
    ] {
        if given {
            bail!(
                "{flag} is for the one-router lab; with --routers {} each box is a `sixfold run` of its own (read its counters with `sixfold stats --socket /run/sixfold-{}-rK.sock`)",
                args.routers,
                args.prefix
            );
        }
    }
    let template = std::env::temp_dir().join(format!("sixfold-lab-{}-XXXXXX", args.prefix));
    for k in 1..=args.routers {
        let socket = format!("/run/sixfold-{}-r{k}.sock", args.prefix);
        if let Some(removed) = clear_leftovers(&args.prefix, &socket)? {
            eprintln!(
                "sixfold lab: removed what an earlier lab with --prefix {} left: {removed}",
                args.prefix
            );
        }
    }
    let mut world = World::default();
    let dir = nix::unistd::mkdtemp(&template)
        .with_context(|| format!("creating a private directory like {}", template.display()))?;
    world.files.push(dir.clone());
    let mut base = base;
    if args.fastpath == super::FastPathArg::Ebpf {
        // Each box's veths: `access` faces the subscribers, `core` the core.
        base.fastpath.mode = sixfold_router::config::FastPathMode::Ebpf;
        base.fastpath.inside = Some("access".into());
        base.fastpath.outside = Some("core".into());
    }
    let plan = Plan::new(&args.prefix, args.routers, args.subscribers(), &base, dir)?;
    let built = build(args, &plan, &base, &mut world, stop);
    if stop.load(Ordering::Relaxed) {
        drop(world);
        eprintln!("sixfold lab: stopped by a signal; everything it made is removed");
        return Ok(ExitCode::SUCCESS);
    }
    let members = built?;
    let scale = Scale {
        plan,
        base,
        members,
    };
    if args.keep {
        let mut lines = "ready\n".to_string();
        for k in scale.plan.boxes() {
            lines += &format!("config {k} {}\n", scale.plan.config_file(k).display());
        }
        super::keep::announce(&lines);
        super::keep::serve(stop, |line| command(&scale, &mut world, line))?;
        return Ok(ExitCode::SUCCESS);
    }
    let ok = checks(&scale, &mut world, stop);
    if stop.load(Ordering::Relaxed) {
        drop(world);
        eprintln!("sixfold lab: stopped by a signal; everything it made is removed");
        return Ok(ExitCode::SUCCESS);
    }
    let ok = ok?;
    drop(world);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Namespaces, links, routers, BIRD, the access side's groups, servers; returns
/// once every session is up and every box's routes are at the core and in the
/// access side's groups.
fn build(
    args: &LabArgs,
    plan: &Plan,
    base: &Config,
    world: &mut World,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Arc<Mutex<ecmp::Members>>> {
    let mut names = vec![plan.access(), plan.core()];
    names.extend(plan.boxes().map(|k| plan.r(k)));
    create_namespaces(args, names.iter(), world)?;
    setup::plumb(plan)?;
    for k in plan.boxes() {
        setup::start_router(plan, base, world, k)?;
    }
    setup::start_birds(plan, world)?;
    let took = setup::wait_for_sessions(plan, stop)?;
    let members = ecmp::start(plan, world)?;
    wait_converged(plan, &members, stop)?;
    start_servers(&plan.prefix, &plan.core(), world, stop)?;
    super::checks::reflector(&plan.core(), plan::SERVER_V4_B)?;
    probe::start_whoami(plan, world)?;
    eprintln!(
        "sixfold lab: {} boxes {}..{} (slices {}), {} subscribers in {} (100.64.1.1.., 2001:db8:1:K::2), core {}; sessions up in {:.1} s; stats: sixfold stats --socket {}",
        plan.n,
        plan.r(1),
        plan.r(plan.n),
        plan.slices
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        plan.subscribers,
        plan.access(),
        plan.core(),
        took.as_secs_f64(),
        plan.socket(1),
    );
    Ok(members)
}

/// Waits (20 s at most) until the core has every box's slice and the IPv6
/// aggregate through every box, and both access groups hold every box.
fn wait_converged(
    plan: &Plan,
    members: &Mutex<ecmp::Members>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let all: Vec<u16> = plan.boxes().collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let slices = plan
            .boxes()
            .all(|k| probe::core_through(plan, &plan.slice(k).to_string(), k));
        let aggregate = probe::core_routes(plan, AGGREGATE_V6)
            .join(" ")
            .matches(" via ")
            .count();
        let groups = members
            .lock()
            .map(|m| m.v4 == all && m.v6 == all)
            .unwrap_or(false);
        if slices && aggregate >= usize::from(plan.n) && groups {
            return Ok(());
        }
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        if Instant::now() > deadline {
            bail!(
                "routes not in place after 20 s: every slice at the core {slices}, IPv6 aggregate next hops {aggregate} of {}, access groups complete {groups}",
                plan.n
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One `--keep` command: `kill K` SIGKILLs box K's router, `start K` starts
/// it again (answered `killed K`, `started K` once its slice is at the
/// core), `reload K` makes it read its file again.
fn command(scale: &Scale, world: &mut World, line: &str) -> anyhow::Result<String> {
    let plan = &scale.plan;
    let (verb, k) = line.split_once(' ').unwrap_or((line, ""));
    let k: u16 = k
        .parse()
        .ok()
        .filter(|k| plan.boxes().contains(k))
        .with_context(|| {
            format!(
                "{line:?}: say `kill K`, `start K` or `reload K` with K in 1..={}",
                plan.n
            )
        })?;
    match verb {
        "kill" => {
            failover::kill_router(world, k)?;
            Ok(format!("killed {k}"))
        }
        "start" => {
            let (announced, _) = failover::restart(scale, world, k)?;
            Ok(format!(
                "started {k} (slice at the core after {:.3} s)",
                announced.as_secs_f64()
            ))
        }
        "reload" => super::keep::reload(&plan.socket(k)),
        _ => bail!("{line:?}: say `kill K`, `start K` or `reload K`"),
    }
}

/// Everything the lab shows, in order, the `failover …` line last; whether it
/// all passed.
fn checks(scale: &Scale, world: &mut World, stop: &AtomicBool) -> anyhow::Result<bool> {
    let mut ok = failover::sessions(scale);
    ok &= failover::routes(scale);
    let spread = failover::distribution(scale)?;
    ok &= spread.ok;
    ok &= failover::traffic(scale, &spread);
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    let (failed_over, failover_line) = failover::failover(scale, world, &spread)?;
    ok &= failed_over;
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    ok &= failover::come_back(scale, world)?;
    ok &= stats(scale);
    // The issue's contract: the run ends with the one `failover …` line.
    println!("{failover_line}");
    Ok(ok)
}

/// Each box's counters (`sixfold stats` on its socket) and their sum.
fn stats(scale: &Scale) -> bool {
    let plan = &scale.plan;
    println!(
        "router counters, per box (sixfold stats --socket /run/sixfold-{}-rK.sock) and summed:",
        plan.prefix
    );
    let mut all: Vec<Snapshot> = Vec::new();
    let mut ok = true;
    for k in plan.boxes() {
        match super::checks::stats(&plan.socket(k)) {
            Ok(s) => {
                println!("  {}: {}", plan.r(k), summary(std::slice::from_ref(&s)));
                all.push(s);
            }
            Err(e) => {
                ok = false;
                println!("  {}: FAIL {e:#}", plan.r(k));
            }
        }
    }
    println!("  all boxes: {}", summary(&all));
    ok
}

/// Traffic, sessions, mappings and IPv6 firewall flows summed over `snapshots`.
fn summary(snapshots: &[Snapshot]) -> String {
    let sum = |f: &dyn Fn(&Snapshot) -> u64| snapshots.iter().map(f).sum::<u64>();
    let v4 = sum(&|s| s.bytes_by_family().0);
    let v6 = sum(&|s| s.bytes_by_family().1);
    let takeover = if snapshots.iter().any(|s| s.takeover.feed_messages > 0) {
        format!(
            "; takeover: fed {} (created {}, deleted {}, refused {}, from elsewhere {}, unreadable {}), adopted {}, unfed {}",
            sum(&|s| s.takeover.fed),
            sum(&|s| s.takeover.feed_created),
            sum(&|s| s.takeover.feed_deleted),
            sum(&|s| s.takeover.feed_refused),
            sum(&|s| s.takeover.feed_foreign),
            sum(&|s| s.takeover.feed_unreadable),
            sum(&|s| s.takeover.adopted),
            sum(&|s| s.takeover.unfed),
        )
    } else {
        String::new()
    };
    let packets = sum(&|s| {
        [&s.ipv4, &s.ipv6]
            .iter()
            .flat_map(|f| [&f.outbound, &f.inbound])
            .map(|d| d.total().packets)
            .sum()
    });
    let fast = sum(&|s| s.fastpath.packets);
    let paths = if snapshots
        .iter()
        .any(|s| s.fastpath.attached || s.fastpath.installs > 0)
    {
        format!(
            "; packets {packets}: fast path {fast}, slow path {} (fast-path sessions installed {})",
            packets - fast,
            sum(&|s| s.fastpath.installs)
        )
    } else {
        String::new()
    };
    format!(
        "IPv4 {v4} B, IPv6 {v6} B; sessions live {} (created {}); mappings {}; IPv6 firewall flows live {} (created {}); drops {}{paths}{takeover}",
        sum(&|s| s.sessions),
        sum(&|s| s.sessions_created),
        sum(&|s| s.mappings),
        sum(&|s| s.ipv6_flows),
        sum(&|s| s.ipv6_flows_created),
        sum(&|s| s.drops.nonzero().map(|(_, n)| n).sum::<u64>()),
    )
}
