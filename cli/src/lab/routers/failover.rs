//! The scale-out lab's checks: sessions, routes, which box each subscriber
//! uses, traffic through every box, box 1's router killed, and brought back.

use super::plan::{AGGREGATE_V6, IDLE_TIMER_S, Plan, SERVER_V4_B, sub_v4, sub_v6, sub_v6_prefix};
use super::transfers::{check_transfers, start_transfers};
use super::{Scale, bird, probe, setup};
use crate::lab::checks::check;
use crate::lab::world::World;
use crate::lab::{HTTP_PORT, SERVER_V4, SERVER_V6};
use anyhow::{Context, bail};
use std::net::{IpAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

/// A subscriber as the lab found it before the failover.
pub(super) struct Sub {
    pub(super) k: u16,
    /// The box its IPv4 and its IPv6 go through.
    pub(super) box4: u16,
    pub(super) box6: u16,
    /// Its public endpoint, and the socket that holds the mapping.
    pub(super) public: SocketAddrV4,
    pub(super) socket: UdpSocket,
}

pub(super) struct Spread {
    pub(super) ok: bool,
    pub(super) subs: Vec<Sub>,
}

/// BGP and BFD sessions of every BIRD, as `birdc show protocols` and
/// `show bfd sessions` list them.
pub(super) fn sessions(scale: &Scale) -> bool {
    let plan = &scale.plan;
    println!("BGP and BFD sessions (birdc -s <socket> show protocols; show bfd sessions):");
    let mut ok = true;
    let mut roles = vec![("core".to_string(), plan.core(), 2 * usize::from(plan.n))];
    roles.push(("access".to_string(), plan.access(), 2 * usize::from(plan.n)));
    roles.extend(plan.boxes().map(|k| (format!("r{k}"), plan.r(k), 4)));
    for (role, ns, want) in roles {
        let result = (|| -> anyhow::Result<String> {
            let sessions = bird::bgp_sessions(&bird::birdc(plan, &role, &["show", "protocols"])?);
            let (up, listed) =
                bird::bfd_up(&bird::birdc(plan, &role, &["show", "bfd", "sessions"])?);
            let established: Vec<&str> = sessions
                .iter()
                .filter(|(_, _, info)| info.starts_with("Established"))
                .map(|(name, _, _)| name.as_str())
                .collect();
            let text = format!(
                "BGP {} of {want} Established ({}); BFD {up} of {listed} Up",
                established.len(),
                established.join(" ")
            );
            if established.len() != want || up != want {
                bail!("{text}");
            }
            Ok(text)
        })();
        ok &= check(&ns, result);
    }
    ok
}

/// The multipath routes on both sides: the core's slices and IPv6 aggregate,
/// the access side's resilient groups and how their buckets fall.
pub(super) fn routes(scale: &Scale) -> bool {
    let plan = &scale.plan;
    println!("routes at the core ({}; ip route):", plan.core());
    let mut ok = true;
    for k in plan.boxes() {
        let slice = plan.slice(k).to_string();
        let lines = probe::core_routes(plan, &slice);
        let want = format!("dev r{k}");
        ok &= check(
            &format!("slice of {}", plan.r(k)),
            match lines.first() {
                Some(l) if l.contains(&want) => Ok(l.clone()),
                _ => Err(anyhow::anyhow!("{slice} not through r{k}: {lines:?}")),
            },
        );
    }
    let aggregate = probe::core_routes(plan, AGGREGATE_V6).join(" ");
    let paths = aggregate.matches(" via ").count();
    ok &= check(
        "IPv6 aggregate (fallback)",
        if paths == usize::from(plan.n) {
            Ok(aggregate)
        } else {
            Err(anyhow::anyhow!("{paths} of {} paths: {aggregate}", plan.n))
        },
    );
    println!(
        "default routes in {} (resilient nexthop groups, hash on the source address):",
        plan.access()
    );
    for (family, group) in [("-4", super::plan::GROUP_V4), ("-6", super::plan::GROUP_V6)] {
        ok &= check(
            &format!(
                "group {group} ({})",
                if family == "-4" { "IPv4" } else { "IPv6" }
            ),
            buckets(scale, group),
        );
    }
    ok
}

/// Buckets of `group` per box.
fn buckets(scale: &Scale, group: u32) -> anyhow::Result<String> {
    let plan = &scale.plan;
    let out = std::process::Command::new("ip")
        .args([
            "-n",
            &plan.access(),
            "-j",
            "nexthop",
            "bucket",
            "show",
            "id",
        ])
        .arg(group.to_string())
        .output()
        .context("running ip nexthop bucket show")?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut per_box = vec![0usize; usize::from(plan.n)];
    for b in v.as_array().into_iter().flatten() {
        let id = b["bucket"]["nhid"].as_u64().unwrap_or(0);
        // Nexthop ids: box k is k (IPv4) or 100 + k (IPv6).
        let k = usize::try_from(id % 100).unwrap_or(0);
        if let Some(n) = k.checked_sub(1).and_then(|i| per_box.get_mut(i)) {
            *n += 1;
        }
    }
    let text = per_box
        .iter()
        .enumerate()
        .map(|(i, n)| format!("r{} {n}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    if per_box.contains(&0) {
        bail!("buckets {text}");
    }
    Ok(format!("{} buckets: {text}", per_box.iter().sum::<usize>()))
}

/// Which box each subscriber uses: `ip route get` in the access namespace, and
/// its public address as two reflectors see it (in that box's slice, the same
/// for both: endpoint-independent mapping).
pub(super) fn distribution(scale: &Scale) -> anyhow::Result<Spread> {
    let plan = &scale.plan;
    println!("which box each subscriber uses (its public address must lie in that box's slice):");
    let mut ok = true;
    let mut subs = Vec::new();
    for k in 1..=plan.subscribers {
        let box4 = probe::box_for(plan, IpAddr::V4(sub_v4(k)), SERVER_V4)?;
        let box6 = probe::box_for(plan, IpAddr::V6(sub_v6(k)), SERVER_V6)?;
        let socket = probe::udp_socket(plan, IpAddr::V4(sub_v4(k)))?;
        let seen = probe::external_twice(&socket);
        let public = seen.as_ref().map(|(a, _)| *a).ok();
        ok &= check(
            &format!("sub{k} {} → {}", sub_v4(k), plan.r(box4)),
            seen.and_then(|(a, b)| {
                let owner = plan.box_of(*a.ip());
                if owner != Some(box4) {
                    bail!(
                        "public {a} is not in {}'s slice {}",
                        plan.r(box4),
                        plan.slice(box4)
                    );
                }
                if a != b {
                    bail!(
                        "public {a} to {SERVER_V4}, {b} to {SERVER_V4_B}: not endpoint-independent"
                    );
                }
                Ok(format!(
                    "public {a} in {}, same to {SERVER_V4_B} (EIM); IPv6 {} → {}",
                    plan.slice(box4),
                    sub_v6(k),
                    plan.r(box6)
                ))
            }),
        );
        if let Some(public) = public {
            subs.push(Sub {
                k,
                box4,
                box6,
                public,
                socket,
            });
        }
    }
    let count = |f: &dyn Fn(&Sub) -> u16, b: u16| subs.iter().filter(|s| f(s) == b).count();
    let text = plan
        .boxes()
        .map(|b| {
            format!(
                "{} IPv4 {} IPv6 {}",
                plan.r(b),
                count(&|s| s.box4, b),
                count(&|s| s.box6, b)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let every = plan
        .boxes()
        .all(|b| count(&|s| s.box4, b) > 0 && count(&|s| s.box6, b) > 0);
    ok &= check(
        "every box carries subscribers",
        if every {
            Ok(text)
        } else {
            Err(anyhow::anyhow!("{text}"))
        },
    );
    Ok(Spread { ok, subs })
}

/// HTTP over IPv4 and IPv6 from every subscriber, through its box. IPv6 first
/// warms up: one ping creates the firewall state, whose /64 the box then
/// announces; until it reaches the core, replies may come back through the
/// IPv6 aggregate to a box without the state, which drops them.
pub(super) fn traffic(scale: &Scale, spread: &Spread) -> bool {
    let plan = &scale.plan;
    println!(
        "traffic from every subscriber (HTTP on the core's loopback; IPv6 after one warm-up ping):"
    );
    let results: Vec<(anyhow::Result<String>, anyhow::Result<String>)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = spread
                .subs
                .iter()
                .map(|s| {
                    scope.spawn(move || {
                        let v4 = probe::curl_from(
                            plan,
                            IpAddr::V4(sub_v4(s.k)),
                            &format!("http://{SERVER_V4}:{HTTP_PORT}/"),
                        );
                        (v4, ipv6_traffic(scale, s))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        (
                            Err(anyhow::anyhow!("panicked")),
                            Err(anyhow::anyhow!("panicked")),
                        )
                    })
                })
                .collect()
        });
    let mut ok = true;
    for (s, (v4, v6)) in spread.subs.iter().zip(results) {
        ok &= check(&format!("sub{} IPv4 via {}", s.k, plan.r(s.box4)), v4);
        ok &= check(&format!("sub{} IPv6 via {}", s.k, plan.r(s.box6)), v6);
    }
    let per_box: Vec<anyhow::Result<(u64, u64)>> = plan
        .boxes()
        .map(|k| Ok(crate::lab::checks::stats(&plan.socket(k))?.bytes_by_family()))
        .collect();
    let text = plan
        .boxes()
        .zip(&per_box)
        .map(|(k, r)| match r {
            Ok((v4, v6)) => format!("{} IPv4 {v4} B IPv6 {v6} B", plan.r(k)),
            Err(e) => format!("{}: {e:#}", plan.r(k)),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let every = per_box
        .iter()
        .all(|r| r.as_ref().is_ok_and(|&(v4, v6)| v4 > 0 && v6 > 0));
    ok &= check(
        "IPv4 and IPv6 through every box (its stats)",
        if every {
            Ok(text)
        } else {
            Err(anyhow::anyhow!("{text}"))
        },
    );
    ok
}

fn ipv6_traffic(scale: &Scale, s: &Sub) -> anyhow::Result<String> {
    let plan = &scale.plan;
    let src = IpAddr::V6(sub_v6(s.k));
    let start = Instant::now();
    // The ping runs while the /64 is watched for at the core.
    let mut ping = probe::ping_child(plan, src, SERVER_V6)?;
    let prefix = sub_v6_prefix(s.k).to_string();
    let announced = loop {
        let lines = probe::core_routes(plan, &prefix);
        if let Some(l) = lines.first() {
            if !l.contains(&format!("dev r{}", s.box6)) {
                bail!("{prefix} at the core through another box: {l}");
            }
            break Some(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(2) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let first = ping.wait().is_ok_and(|s| s.success());
    let http = probe::curl_from(plan, src, &format!("http://[{SERVER_V6}]:{HTTP_PORT}/"))?;
    let Some(announced) = announced else {
        bail!("{prefix} not announced at the core within 2 s ({http})");
    };
    Ok(format!(
        "warm-up ping {}; /64 at the core after {} ms; {http}",
        if first { "answered" } else { "lost" },
        announced.as_millis()
    ))
}

/// SIGKILLs box `k`'s router and waits until it is gone.
pub(super) fn kill_router(world: &mut World, k: u16) -> anyhow::Result<()> {
    let _ = sigkill(world, k)?.wait();
    Ok(())
}

/// Sends SIGKILL to box `k`'s router; the process, to be reaped.
fn sigkill(world: &mut World, k: u16) -> anyhow::Result<std::process::Child> {
    let slot = usize::from(k - 1);
    let mut child = world
        .boxes
        .get_mut(slot)
        .and_then(Option::take)
        .with_context(|| format!("box {k}'s router is not running"))?;
    child.kill().context("SIGKILL")?;
    Ok(child)
}

/// Starts box `k`'s router again: how long until its slice was at the core,
/// and until both access groups held it again.
pub(super) fn restart(
    scale: &Scale,
    world: &mut World,
    k: u16,
) -> anyhow::Result<(Duration, Duration)> {
    let plan = &scale.plan;
    let slot = usize::from(k - 1);
    if let Some(Some(child)) = world.boxes.get_mut(slot)
        && matches!(child.try_wait(), Ok(None))
    {
        bail!("box {k}'s router is running");
    }
    let start = Instant::now();
    setup::start_router(plan, &scale.base, world, k)?;
    let slice = plan.slice(k).to_string();
    let announced = wait_for(Duration::from_secs(10), || {
        probe::core_through(plan, &slice, k)
    })
    .map(|_| start.elapsed())
    .with_context(|| format!("{slice} not at the core 10 s after box {k}'s router started"))?;
    let joined = wait_for(Duration::from_secs(10), || {
        scale
            .members
            .lock()
            .is_ok_and(|m| m.v4.contains(&k) && m.v6.contains(&k))
    })
    .map(|_| start.elapsed())
    .with_context(|| format!("box {k} not in the access groups 10 s after its router started"))?;
    Ok((announced, joined))
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> Option<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// New connections from `src` (subscriber `k`), one started every 20 ms
/// (each given 1 s), until one succeeds or 10 s after `start` have passed: the
/// first success — the source the server saw, and when. Overlapping attempts
/// measure when a connection *can* succeed, not a client's retry timer.
fn reconnect(plan: &Plan, k: u16, src: IpAddr, start: Instant) -> anyhow::Result<Reconnected> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|attempts| {
        while start.elapsed() < Duration::from_secs(10) {
            let tx = tx.clone();
            attempts.spawn(move || {
                let _ = tx.send(
                    probe::tcp_whoami(plan, src, Duration::from_secs(1))
                        .map(|seen| (seen, start.elapsed())),
                );
            });
            // Successes first; failures only say why, if none comes.
            let deadline = Instant::now() + Duration::from_millis(20);
            while let Ok(r) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                if let Ok((seen, at)) = r {
                    return Ok((k, src, seen, at));
                }
            }
        }
        bail!("sub{k} from {src}: no new connection in 10 s")
    })
}

/// SIGKILLs box 1's router (while its subscribers upload and download) and measures: its slice withdrawn at the core, the
/// access side dropping it, a new connection from each of its subscribers
/// through a survivor (IPv4 and IPv6), and whether any survivor's subscriber
/// lost its mapping. Returns whether all passed and the `failover …` line,
/// which the lab prints last.
pub(super) fn failover(
    scale: &Scale,
    world: &mut World,
    spread: &Spread,
) -> anyhow::Result<(bool, String)> {
    let plan = &scale.plan;
    let slice = plan.slice(1).to_string();
    let transfers = start_transfers(plan, world, spread)?;
    println!("failover: SIGKILL to {}'s router", plan.r(1));
    let start = Instant::now();
    // Everything is measured from here: the probes start at once, while the
    // process is still going away.
    let router = sigkill(world, 1)?;
    let stranded = stranded_on_first_box(spread);
    let after = watch_failover(plan, router, &slice, &stranded, start);
    println!(
        "  the router process was reaped {:.3} s after the SIGKILL (its TUNs and their routes go while it exits)",
        after.exited.as_secs_f64()
    );
    let mut ok = check(
        &format!("{slice} withdrawn at the core"),
        after
            .withdrawn
            .map(|d| format!("after {:.3} s", d.as_secs_f64()))
            .with_context(|| format!("{slice} still at the core after 10 s")),
    );
    ok &= check_left_group(scale, start);
    let (reconnected, reconnect) = check_reconnects(plan, after.reconnects);
    ok &= reconnected;
    let (kept, lost) = check_mappings_kept(plan, spread);
    ok &= kept;
    let (flows_ok, carried, open) = check_transfers(plan, transfers, start);
    ok &= flows_ok;
    let line = format!(
        "failover withdrawn_s={:.3} reconnect_s={:.3} survivors_lost={lost} flows_kept={carried}/{open}",
        after.withdrawn.map_or(f64::NAN, |d| d.as_secs_f64()),
        reconnect.as_secs_f64()
    );
    Ok((ok, line))
}

/// A new connection after the failover: the subscriber, the source it came
/// from, the endpoint the server saw, and when.
type Reconnected = (u16, IpAddr, std::net::SocketAddr, Duration);

/// What the probes started at the SIGKILL saw, each timed from it.
struct AfterKill {
    /// When the killed router was reaped.
    exited: Duration,
    /// When box 1's slice left the core (none within 10 s: still there).
    withdrawn: Option<Duration>,
    /// One per source that went through box 1.
    reconnects: Vec<anyhow::Result<Reconnected>>,
}

/// The sources that went through box 1, which must find a survivor: each
/// subscriber's IPv4 address if its IPv4 used box 1, then each IPv6 address
/// if its IPv6 did (a subscriber's two families may use different boxes).
fn stranded_on_first_box(spread: &Spread) -> Vec<(u16, IpAddr)> {
    spread
        .subs
        .iter()
        .filter(|s| s.box4 == 1)
        .map(|s| (s.k, IpAddr::V4(sub_v4(s.k))))
        .chain(
            spread
                .subs
                .iter()
                .filter(|s| s.box6 == 1)
                .map(|s| (s.k, IpAddr::V6(sub_v6(s.k)))),
        )
        .collect()
}

/// Runs the probes side by side from `start`, so that none waits for
/// another: reaping the killed `router`, watching `slice` leave the core, and
/// reconnecting every `stranded` source.
fn watch_failover(
    plan: &Plan,
    mut router: std::process::Child,
    slice: &str,
    stranded: &[(u16, IpAddr)],
    start: Instant,
) -> AfterKill {
    std::thread::scope(|scope| {
        let exited = scope.spawn(move || {
            let _ = router.wait();
            start.elapsed()
        });
        let withdrawn = scope.spawn(|| {
            wait_for(Duration::from_secs(10), || {
                !probe::core_through(plan, slice, 1)
            })
            .map(|_| start.elapsed())
        });
        let handles: Vec<_> = stranded
            .iter()
            .map(|&(k, src)| scope.spawn(move || reconnect(plan, k, src, start)))
            .collect();
        let reconnects: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("panicked")))
            })
            .collect();
        AfterKill {
            exited: exited.join().unwrap_or_default(),
            withdrawn: withdrawn.join().ok().flatten(),
            reconnects,
        }
    })
}

/// Box 1 left the access side's IPv4 group: the keeper's first change after
/// `start` without it, which is when new IPv4 flows stopped going to it.
fn check_left_group(scale: &Scale, start: Instant) -> bool {
    let dropped = scale.members.lock().ok().and_then(|m| {
        m.changes
            .iter()
            .find(|(at, v6, boxes)| *at >= start && !*v6 && !boxes.contains(&1))
            .map(|(at, _, _)| at.duration_since(start))
    });
    check(
        &format!("{} left the access side's IPv4 group", scale.plan.r(1)),
        dropped
            .map(|d| format!("after {:.3} s", d.as_secs_f64()))
            .context("still in the group"),
    )
}

/// One check per stranded source: its new connection must be NATed by a
/// survivor (for IPv4, an address in a survivor's slice). Also returns the
/// slowest reconnection, the failover's reconnect time.
fn check_reconnects(plan: &Plan, reconnects: Vec<anyhow::Result<Reconnected>>) -> (bool, Duration) {
    let mut ok = true;
    let mut slowest = Duration::ZERO;
    for r in reconnects {
        ok &= check(
            "new connection through a survivor",
            r.and_then(|(k, src, seen, at)| {
                slowest = slowest.max(at);
                if let IpAddr::V4(a) = seen.ip() {
                    match plan.box_of(a) {
                        Some(b) if b != 1 => Ok(format!(
                            "sub{k} from {src} after {:.3} s, seen as {seen} ({})",
                            at.as_secs_f64(),
                            plan.r(b)
                        )),
                        _ => bail!("sub{k} seen as {seen}: not a survivor's address"),
                    }
                } else {
                    Ok(format!(
                        "sub{k} from {src} after {:.3} s, seen as {seen}",
                        at.as_secs_f64()
                    ))
                }
            }),
        );
    }
    (ok, slowest)
}

/// One check per subscriber whose IPv4 stayed on a survivor: the same public
/// endpoint as before, since a resilient group moves only box 1's buckets.
/// Also returns how many lost their mapping.
fn check_mappings_kept(plan: &Plan, spread: &Spread) -> (bool, usize) {
    let mut ok = true;
    let mut lost = 0;
    for s in spread.subs.iter().filter(|s| s.box4 != 1) {
        let now = probe::external(&s.socket, SERVER_V4);
        let kept = matches!(&now, Ok(a) if *a == s.public);
        if !kept {
            lost += 1;
        }
        ok &= check(
            &format!("sub{} on {} kept its mapping", s.k, plan.r(s.box4)),
            match now {
                Ok(a) if kept => Ok(format!("{a}")),
                Ok(a) => Err(anyhow::anyhow!("now {a}, was {}", s.public)),
                Err(e) => Err(e),
            },
        );
    }
    (ok, lost)
}

/// Box 1's router started again: its slice announced, it rejoins the access
/// groups, and subscribers that had not spoken yet land on it (once buckets
/// idle for [`IDLE_TIMER_S`] may move).
pub(super) fn come_back(scale: &Scale, world: &mut World) -> anyhow::Result<bool> {
    let plan = &scale.plan;
    println!("box coming back: {}'s router started again", plan.r(1));
    let (announced, joined) = restart(scale, world, 1)?;
    let mut ok = check(
        &format!("{} announced again", plan.slice(1)),
        Ok(format!(
            "at the core after {:.3} s, in the access groups after {:.3} s",
            announced.as_secs_f64(),
            joined.as_secs_f64()
        )),
    );
    std::thread::sleep(Duration::from_secs(IDLE_TIMER_S + 1));
    let mut on_first = 0;
    let newcomers = plan.subscribers + 1..=plan.subscribers + plan.newcomers;
    for k in newcomers.clone() {
        let result = (|| -> anyhow::Result<String> {
            let box4 = probe::box_for(plan, IpAddr::V4(sub_v4(k)), SERVER_V4)?;
            let socket = probe::udp_socket(plan, IpAddr::V4(sub_v4(k)))?;
            let public = probe::external(&socket, SERVER_V4)?;
            if plan.box_of(*public.ip()) != Some(box4) {
                bail!("→ {} but public {public}", plan.r(box4));
            }
            if box4 == 1 {
                on_first += 1;
            }
            Ok(format!("→ {}, public {public}", plan.r(box4)))
        })();
        ok &= check(&format!("newcomer sub{k} {}", sub_v4(k)), result);
    }
    ok &= check(
        &format!("newcomers on {}", plan.r(1)),
        if on_first > 0 {
            Ok(format!("{on_first} of {}", newcomers.len()))
        } else {
            Err(anyhow::anyhow!("0 of {}", newcomers.len()))
        },
    );
    Ok(ok)
}
