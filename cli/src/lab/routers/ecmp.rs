//! The access side's default routes as resilient nexthop groups.
//!
//! BIRD installs multipath routes with `RTA_MULTIPATH`, which the kernel
//! spreads by hash-threshold: when one of three boxes leaves, the hash range is
//! cut anew and some subscribers of the survivors move to the other survivor —
//! losing their NAT mappings. A resilient group (`ip nexthop … type resilient`)
//! only hands the leaving box's buckets to the others, and gives a box that
//! joins only buckets idle for [`IDLE_TIMER_S`]. BIRD 2.0.12 cannot install
//! nexthop objects, so this thread copies the next hops BIRD put into table
//! [`ACCESS_BGP_TABLE`] into the groups [`GROUP_V4`] and [`GROUP_V6`], on every
//! route change (`ip monitor route`) and every 500 ms.
//!
//! In a ring of backups (`[takeover]`), the access side follows the ring: a
//! box that leaves stays in the groups, but its nexthop objects are pointed
//! at its first successor still there, so its subscribers — and only they —
//! move to the box that holds their mappings; when it comes back its nexthop
//! objects point at it again. What an operator's access router needs for
//! this is the same small daemon: nexthop objects per box, re-pointed along
//! the ring on the routing system's changes.

use super::plan::{ACCESS_BGP_TABLE, BUCKETS, GROUP_V4, GROUP_V6, IDLE_TIMER_S, Plan, access_link};
use crate::lab::world::{World, ip};
use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The boxes in each family's group, and when each change was made.
#[derive(Default)]
pub(super) struct Members {
    pub(super) v4: Vec<u16>,
    pub(super) v6: Vec<u16>,
    /// (when, IPv6?, the boxes from then on).
    pub(super) changes: Vec<(Instant, bool, Vec<u16>)>,
    /// In a ring of backups: where each box's nexthop objects point now
    /// (IPv4, IPv6; index `k - 1`).
    ring: Option<(Vec<u16>, Vec<u16>)>,
}

/// Nexthop ids of box `k`: IPv4, IPv6.
fn nexthop_ids(k: u16) -> (u32, u32) {
    (u32::from(k), 100 + u32::from(k))
}

/// Creates each box's nexthop objects in the access namespace and, once BIRD
/// has a default route through every box (20 s at most), both groups with all
/// boxes at once — the buckets then fall the same way every run, as the hash
/// seed is fixed — then starts the thread that keeps them.
pub(super) fn start(plan: &Plan, world: &mut World) -> anyhow::Result<Arc<Mutex<Members>>> {
    let ns = plan.access();
    add_nexthops(plan, &ns)?;
    wait_for_every_box(plan, &ns)?;
    let changes = watch_routes(&ns, world)?;
    let members = Members {
        ring: plan
            .takeover
            .then(|| (plan.boxes().collect(), plan.boxes().collect())),
        ..Members::default()
    };
    Ok(keep_groups(ns, changes, members, world))
}

/// Each box's two next hops (IPv4, IPv6) as nexthop objects in `ns`: a group
/// names its members by nexthop id, so they must exist before any group.
fn add_nexthops(plan: &Plan, ns: &str) -> anyhow::Result<()> {
    for k in plan.boxes() {
        let (_, v4, _, v6) = access_link(k);
        let (id4, id6) = nexthop_ids(k);
        let dev = format!("r{k}");
        ip(&[
            "-n",
            ns,
            "nexthop",
            "add",
            "id",
            &id4.to_string(),
            "via",
            &v4.to_string(),
            "dev",
            &dev,
        ])?;
        ip(&[
            "-n",
            ns,
            "-6",
            "nexthop",
            "add",
            "id",
            &id6.to_string(),
            "via",
            &v6.to_string(),
            "dev",
            &dev,
        ])?;
    }
    Ok(())
}

/// Waits (20 s at most) until BIRD's table holds a default route through
/// every box in both families, so the first groups hold all boxes at once.
fn wait_for_every_box(plan: &Plan, ns: &str) -> anyhow::Result<()> {
    let all: Vec<u16> = plan.boxes().collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while [false, true]
        .iter()
        .any(|&v6| bird_boxes(ns, v6).ok() != Some(all.clone()))
    {
        if Instant::now() > deadline {
            bail!(
                "BIRD in {ns} has no default route through every box after 20 s (table {ACCESS_BGP_TABLE})"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Starts `ip monitor route` in `ns` (a child of the world, killed with it)
/// and a thread that turns each line it prints into a message: a route
/// change wakes the keeper at once instead of at its next 500 ms poll.
fn watch_routes(ns: &str, world: &mut World) -> anyhow::Result<mpsc::Receiver<()>> {
    let mut monitor = Command::new("ip")
        .args(["-n", ns, "monitor", "route"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting ip monitor route")?;
    let lines = monitor.stdout.take().context("ip monitor's output")?;
    world.children.push(monitor);
    let (tx, rx) = mpsc::channel();
    // Ends when the world kills `ip monitor`.
    std::thread::spawn(move || {
        for line in BufReader::new(lines).lines() {
            if line.is_err() || tx.send(()).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// The thread that keeps the groups in line with BIRD's table in `ns`: on
/// each route change and every 500 ms, until the world stops it. The members
/// it returns are how the checks see which boxes the groups hold, and when.
fn keep_groups(
    ns: String,
    changes: mpsc::Receiver<()>,
    members: Members,
    world: &mut World,
) -> Arc<Mutex<Members>> {
    let members = Arc::new(Mutex::new(members));
    let stop = Arc::new(AtomicBool::new(false));
    let (m, s) = (Arc::clone(&members), Arc::clone(&stop));
    let handle = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            if let Err(e) = sync(&ns, &m) {
                eprintln!("sixfold lab: keeping the access side's groups: {e:#}");
            }
            match changes.recv_timeout(Duration::from_millis(500)) {
                // On a change, read again after the burst of notifications.
                Ok(()) => {
                    std::thread::sleep(Duration::from_millis(2));
                    while changes.try_recv().is_ok() {}
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // `ip monitor` ended (the world is going): poll, not spin.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    });
    world.threads.push((stop, handle));
    members
}

/// The boxes BIRD has a default route through in [`ACCESS_BGP_TABLE`], from
/// `ip -j route show`'s output (by device: box `k` is behind `rK`).
fn boxes_in(json: &[u8]) -> Vec<u16> {
    let routes: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let mut boxes: Vec<u16> = routes
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["dst"] == "default")
        .flat_map(|r| match r["nexthops"].as_array() {
            Some(hops) => hops.iter().map(|h| h["dev"].clone()).collect(),
            None => vec![r["dev"].clone()],
        })
        .filter_map(|dev| dev.as_str()?.strip_prefix('r')?.parse().ok())
        .collect();
    boxes.sort_unstable();
    boxes.dedup();
    boxes
}

/// The boxes of family `v6`'s default route in BIRD's table.
fn bird_boxes(ns: &str, v6: bool) -> anyhow::Result<Vec<u16>> {
    let family = if v6 { "-6" } else { "-4" };
    let out = Command::new("ip")
        .args([
            "-n",
            ns,
            family,
            "-j",
            "route",
            "show",
            "table",
            &ACCESS_BGP_TABLE.to_string(),
        ])
        .output()
        .context("running ip route show")?;
    Ok(boxes_in(&out.stdout))
}

/// Brings both groups and default routes in line with BIRD's table.
fn sync(ns: &str, members: &Mutex<Members>) -> anyhow::Result<()> {
    for v6 in [false, true] {
        let want = bird_boxes(ns, v6)?;
        let have = {
            let m = members.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            if v6 { m.v6.clone() } else { m.v4.clone() }
        };
        if want == have {
            continue;
        }
        let mut m = members.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        match &mut m.ring {
            // The groups hold every box from the start; who serves a box's
            // buckets follows the ring.
            Some((v4, v6_targets)) if !have.is_empty() => {
                let targets = if v6 { v6_targets } else { v4 };
                follow_ring(ns, v6, &want, targets)?;
            }
            _ => apply(ns, v6, &want, have.is_empty())?,
        }
        m.changes.push((Instant::now(), v6, want.clone()));
        if v6 {
            m.v6 = want;
        } else {
            m.v4 = want;
        }
    }
    Ok(())
}

/// Points each box's family-`v6` nexthop object at itself if it is in
/// `present`, else at its first successor in the ring that is; `targets`
/// holds where each points, and is kept. With nobody present nothing moves.
fn follow_ring(ns: &str, v6: bool, present: &[u16], targets: &mut [u16]) -> anyhow::Result<()> {
    let n = targets.len() as u16;
    for k in 1..=n {
        let Some(to) = (0..n)
            .map(|i| (k - 1 + i) % n + 1)
            .find(|b| present.contains(b))
        else {
            return Ok(());
        };
        let slot = usize::from(k - 1);
        if targets[slot] == to {
            continue;
        }
        let (id4, id6) = nexthop_ids(k);
        let (_, v4_addr, _, v6_addr) = access_link(to);
        let (family, id, via) = if v6 {
            ("-6", id6, v6_addr.to_string())
        } else {
            ("-4", id4, v4_addr.to_string())
        };
        let (id, dev) = (id.to_string(), format!("r{to}"));
        ip(&[
            "-n", ns, family, "nexthop", "replace", "id", &id, "via", &via, "dev", &dev,
        ])?;
        targets[slot] = to;
    }
    Ok(())
}

/// Sets family `v6`'s group to `boxes` (none: no group, no default route).
fn apply(ns: &str, v6: bool, boxes: &[u16], was_empty: bool) -> anyhow::Result<()> {
    let (group, family) = if v6 {
        (GROUP_V6, "-6")
    } else {
        (GROUP_V4, "-4")
    };
    let group = group.to_string();
    if boxes.is_empty() {
        // A group cannot be empty; deleting it removes the route using it.
        return ip(&["-n", ns, "nexthop", "del", "id", &group]);
    }
    let ids: Vec<String> = boxes
        .iter()
        .map(|&k| {
            let (id4, id6) = nexthop_ids(k);
            if v6 { id6 } else { id4 }.to_string()
        })
        .collect();
    let mut args = vec!["-n", ns, "nexthop", "replace", "id", &group, "group"];
    let members = ids.join("/");
    args.push(&members);
    let (buckets, idle) = (BUCKETS.to_string(), IDLE_TIMER_S.to_string());
    // Replacing a group must name its type and buckets again.
    args.extend([
        "type",
        "resilient",
        "buckets",
        &buckets,
        "idle_timer",
        &idle,
    ]);
    ip(&args)?;
    if was_empty {
        ip(&[
            "-n", ns, family, "route", "replace", "default", "nhid", &group,
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_read_from_the_route_table() {
        let multipath = br#"[{"dst":"default","protocol":"bird","metric":32,"flags":[],"nexthops":[{"gateway":"10.0.1.2","dev":"r1","weight":1,"flags":[]},{"gateway":"10.0.3.2","dev":"r3","weight":1,"flags":[]}]}]"#;
        assert_eq!(boxes_in(multipath), vec![1, 3]);
        let single = br#"[{"dst":"default","gateway":"fd00:a:2::2","dev":"r2","protocol":"bird","metric":32,"flags":[]}]"#;
        assert_eq!(boxes_in(single), vec![2]);
        assert_eq!(boxes_in(b"[]"), Vec::<u16>::new());
        assert_eq!(boxes_in(b""), Vec::<u16>::new());
    }
}
