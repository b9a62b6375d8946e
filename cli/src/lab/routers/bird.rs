//! BIRD 2 in the scale-out world: each box exports the routes its router keeps
//! in the kernel (the slice and IPv6 routes via its WAN TUN to the core, the
//! default via its inside TUN to the access side) over eBGP with BFD; the core
//! and the access side install what they learn as multipath routes.

use super::plan::{
    ACCESS_AS, ACCESS_BGP_TABLE, AGGREGATE_V6, BOX_AS, CORE_AS, INSIDE_TABLE, Plan, WAN_TABLE,
    access_link, core_link,
};
use crate::lab::world::{World, netns_command};
use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// BFD: a peer silent for 5 × 100 ms is down. Shorter intervals flap on two
/// shared cores under iperf3.
const BFD: &str = "protocol bfd { interface \"*\" { min rx interval 100 ms; min tx interval 100 ms; multiplier 5; }; }";

/// Timers of every BGP session: reconnect fast, hold for 3 s (BFD is faster).
const SESSION: &str = "template bgp session { bfd on; hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5; }";

fn head(plan: &Plan, role: &str, router_id: &str) -> String {
    format!(
        "log \"{}\" all;\nrouter id {router_id};\nprotocol device {{ scan time 5; }}\n{BFD}\n{SESSION}\n",
        plan.dir.join(format!("bird-{role}.log")).display()
    )
}

/// Box `k`: kernel protocols learn the router's routes from tables
/// [`WAN_TABLE`] (the slice; the IPv6 aggregate and the /64s of subscribers
/// with state here) and [`INSIDE_TABLE`] (the default into the inside TUN);
/// BGP exports the first to the core and the second to the access side, with
/// this box as next hop.
pub(super) fn box_conf(plan: &Plan, k: u16) -> String {
    let (_, a4, _, a6) = access_link(k);
    let (c4_peer, c4, c6_peer, c6) = core_link(k);
    let (a4_peer, _, a6_peer, _) = access_link(k);
    let asn = BOX_AS + u32::from(k);
    let slice = plan.slice(k);
    // In a ring of backups, box `k` also announces its predecessor's slice,
    // its AS twice more on the path: the core prefers the predecessor while
    // it is there, and has this box the moment BFD withdraws it.
    let (covered, prepend) = if plan.takeover {
        let pred = plan.slice(plan.predecessor(k));
        (
            format!(", {pred}"),
            format!(
                "export filter {{ if net ~ [ {pred} ] then {{ bgp_path.prepend({asn}); bgp_path.prepend({asn}); }} accept; }}; "
            ),
        )
    } else {
        (String::new(), "export all; ".to_string())
    };
    let mut s = head(plan, &format!("r{k}"), &a4.to_string());
    s += "ipv4 table wan4;\nipv6 table wan6;\nipv4 table in4;\nipv6 table in6;\n";
    s += &format!(
        "protocol kernel kwan4 {{ ipv4 {{ table wan4; import where net ~ [ {slice}{covered} ]; export none; }}; kernel table {WAN_TABLE}; learn; scan time 2; }}\n"
    );
    s += &format!(
        "protocol kernel kwan6 {{ ipv6 {{ table wan6; import where net ~ [ {AGGREGATE_V6}{{48,64}} ]; export none; }}; kernel table {WAN_TABLE}; learn; scan time 2; }}\n"
    );
    s += &format!(
        "protocol kernel kin4 {{ ipv4 {{ table in4; import where net = 0.0.0.0/0; export none; }}; kernel table {INSIDE_TABLE}; learn; scan time 2; }}\n"
    );
    s += &format!(
        "protocol kernel kin6 {{ ipv6 {{ table in6; import where net = ::/0; export none; }}; kernel table {INSIDE_TABLE}; learn; scan time 2; }}\n"
    );
    for (name, local, peer, peer_as, channel, table) in [
        (
            "core4",
            c4.to_string(),
            c4_peer.to_string(),
            CORE_AS,
            "ipv4",
            "wan4",
        ),
        (
            "core6",
            c6.to_string(),
            c6_peer.to_string(),
            CORE_AS,
            "ipv6",
            "wan6",
        ),
        (
            "access4",
            a4.to_string(),
            a4_peer.to_string(),
            ACCESS_AS,
            "ipv4",
            "in4",
        ),
        (
            "access6",
            a6.to_string(),
            a6_peer.to_string(),
            ACCESS_AS,
            "ipv6",
            "in6",
        ),
    ] {
        let export = if name == "core4" {
            prepend.as_str()
        } else {
            "export all; "
        };
        s += &format!(
            "protocol bgp {name} from session {{ local {local} as {asn}; neighbor {peer} as {peer_as}; {channel} {{ table {table}; import none; {export}next hop self; }}; }}\n"
        );
    }
    s
}

/// The core (`access` false) or the access side: a BGP session per box and
/// family, importing everything the boxes announce (the access side only
/// their defaults), installed as multipath routes into the main table (the
/// core) or [`ACCESS_BGP_TABLE`] (the access side, from which the lab keeps
/// its resilient groups).
pub(super) fn hub_conf(plan: &Plan, access: bool) -> String {
    let (role, asn, router_id) = if access {
        ("access", ACCESS_AS, "10.0.0.1")
    } else {
        ("core", CORE_AS, "10.1.0.1")
    };
    let mut s = head(plan, role, router_id);
    let table = if access {
        format!("kernel table {ACCESS_BGP_TABLE}; ")
    } else {
        String::new()
    };
    for family in ["ipv4", "ipv6"] {
        s += &format!(
            "protocol kernel {{ {family} {{ import none; export all; }}; {table}merge paths on; }}\n"
        );
    }
    for k in plan.boxes() {
        let (l4, p4, l6, p6) = if access { access_link(k) } else { core_link(k) };
        let peer_as = BOX_AS + u32::from(k);
        for (family, local, peer, default) in [
            ("ipv4", l4.to_string(), p4.to_string(), "0.0.0.0/0"),
            ("ipv6", l6.to_string(), p6.to_string(), "::/0"),
        ] {
            let import = if access {
                format!("import where net = {default}")
            } else {
                "import all".to_string()
            };
            s += &format!(
                "protocol bgp r{k}v{} from session {{ local {local} as {asn}; neighbor {peer} as {peer_as}; {family} {{ {import}; export none; }}; }}\n",
                &family[3..]
            );
        }
    }
    s
}

/// Writes `conf` for `role`, checks it with `bird -p`, starts BIRD in `ns`
/// (foreground, a child of the lab) and waits for its control socket.
pub(super) fn start(
    plan: &Plan,
    world: &mut World,
    ns: &str,
    role: &str,
    conf: &str,
) -> anyhow::Result<()> {
    let path = plan.dir.join(format!("bird-{role}.conf"));
    std::fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))?;
    let check = std::process::Command::new("bird")
        .arg("-p")
        .arg("-c")
        .arg(&path)
        .output()
        .context("running bird (Debian package bird2)")?;
    if !check.status.success() {
        bail!(
            "bird refuses {}: {}",
            path.display(),
            String::from_utf8_lossy(&check.stderr).trim()
        );
    }
    let socket = plan.bird_socket(role);
    let child = netns_command(ns, "bird")
        .arg("-f")
        .arg("-c")
        .arg(&path)
        .arg("-s")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting bird")?;
    world.children.push(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while birdc(plan, role, &["show", "status"]).is_err() {
        if Instant::now() > deadline {
            bail!(
                "bird in {ns} did not answer on {} in 10 s",
                socket.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `birdc -s <socket> args` for the BIRD of `role`; its output.
pub(super) fn birdc(plan: &Plan, role: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("birdc")
        .arg("-s")
        .arg(plan.bird_socket(role))
        .args(args)
        .output()
        .context("running birdc")?;
    if !out.status.success() {
        bail!(
            "birdc {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A BGP session as `show protocols` lists it: (name, state, info).
pub(super) fn bgp_sessions(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 5 && w[1] == "BGP").then(|| {
                (
                    w[0].to_string(),
                    w[3].to_string(),
                    w.get(5..).map_or(String::new(), |i| i.join(" ")),
                )
            })
        })
        .collect()
}

/// BFD sessions `show bfd sessions` lists as Up, and all it lists.
pub(super) fn bfd_up(text: &str) -> (usize, usize) {
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok())
        })
        .collect();
    let up = rows
        .iter()
        .filter(|l| l.split_whitespace().nth(2) == Some("Up"))
        .count();
    (up, rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTOCOLS: &str = "BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     23:40:01.123
kernel1    Kernel     master4    up     23:40:01.123
r1v4       BGP        ---        up     23:40:02.456  Established
r1v6       BGP        ---        start  23:40:02.456  Connect       Socket: Connection refused
";

    #[test]
    fn sessions_are_read_from_show_protocols() {
        assert_eq!(
            bgp_sessions(PROTOCOLS),
            vec![
                ("r1v4".into(), "up".into(), "Established".into()),
                (
                    "r1v6".into(),
                    "start".into(),
                    "Connect Socket: Connection refused".into()
                ),
            ]
        );
    }

    #[test]
    fn bfd_sessions_are_counted() {
        let text = "BIRD 2.0.12 ready.
bfd1:
IP address                Interface  State      Since         Interval  Timeout
10.1.1.2                  r1         Up         23:40:02.500    0.100    0.500
fd00:c:1::2               r1         Init       23:40:02.500    1.000    0.000
";
        assert_eq!(bfd_up(text), (1, 2));
    }
}
