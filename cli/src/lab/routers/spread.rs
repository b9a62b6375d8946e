//! The scale-out lab's checks before any failure: sessions, routes, which box
//! each subscriber uses (the spread), traffic through every box.

use super::plan::{AGGREGATE_V6, SERVER_V4_B, sub_v4, sub_v6, sub_v6_prefix};
use super::{Scale, bird, probe};
use crate::lab::args::{HTTP_PORT, SERVER_V4, SERVER_V6};
use crate::lab::checks::check;
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
