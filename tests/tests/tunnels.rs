//! Transition-tunnel blocking through `Router::process`: scapy-crafted packets for
//! every mechanism (with the evasions of router.md §5.7: origin indication before
//! the IPv6 header, non-standard ports, bubbles, authentication), the real captures
//! under `teredo/tests/data/`, ordinary UDP that must pass (DNS ids 0x6000–0x6fff,
//! QUIC, RTP), and the same with every mechanism allowed.

// The router's own in-memory test harness (a `Lab` with a fake clock, packet
// builders), shared rather than copied.
#[path = "../../reference-router/tests/common/mod.rs"]
mod common;
use common::*;
use sixfold::capture;
use sixfold_router::{Direction, DropReason, Verdict};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// (direction, expected counter, packet) from the scapy script.
fn crafted(tag: &str) -> Vec<(Direction, String, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("sixfold-tunnels-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/make_tunnels.py");
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("python3 with scapy (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = capture::read(&dir.join("tunnels.pcap")).unwrap();
    let expect: Vec<(Direction, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (d, e) = l.split_once(' ').unwrap();
            (
                if d == "sub" {
                    Direction::Outbound(0)
                } else {
                    Direction::Inbound
                },
                e.to_string(),
            )
        })
        .collect();
    assert_eq!(frames.len(), expect.len());
    let _ = std::fs::remove_dir_all(&dir);
    frames
        .iter()
        .zip(expect)
        .map(|(f, (d, e))| (d, e, f.ip().unwrap().to_vec()))
        .collect()
}

fn name(v: Verdict) -> String {
    match v {
        Verdict::Drop(r) => r.name().to_string(),
        Verdict::Forward(_) => "pass".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn every_mechanism_is_blocked_and_counted_and_ordinary_udp_passes() {
    let cases = crafted("block");
    let mut lab = Lab::new("filtering = \"eif\"");
    let mut wanted: BTreeMap<String, u64> = BTreeMap::new();
    for (i, (dir, expect, packet)) in cases.iter().enumerate() {
        let (v, _) = lab.send(*dir, packet);
        assert_eq!(name(v), *expect, "case {i}");
        *wanted.entry(expect.clone()).or_default() += 1;
    }
    let drops = lab.router.snapshot().drops;
    for (reason, n) in &wanted {
        if reason != "pass" {
            let r = DropReason::from_name(reason).expect("a drop reason");
            assert_eq!(drops[r], *n, "{reason}");
        }
    }
    // 12 mechanisms (6rd needs a configured domain: see the next test) and "pass".
    assert_eq!(wanted.len(), 13, "every mechanism has a case: {wanted:?}");
}

#[test]
fn six_rd_is_named_by_its_configured_domain() {
    let mut config = config("");
    config.tunnels.six_rd_prefix = Some("2001:db8:6000::/40".parse().unwrap());
    config.tunnels.six_rd_ipv4 = Some("100.64.0.0/10".parse().unwrap());
    config.validate().unwrap();
    let mut lab = Lab::with(config);
    // Inner source: the 6rd prefix followed by the subscriber's IPv4 bits.
    let mut inner = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
    inner.extend_from_slice(
        &"2001:db8:6000:280::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    inner.extend_from_slice(
        &"2001:db8:ffff::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    let mut p = Vec::new();
    etherparse::PacketBuilder::ipv4(ip(SUB0), ip("192.0.2.1"), 64)
        .write(&mut p, etherparse::IpNumber(41), &inner)
        .unwrap();
    assert_eq!(name(lab.out(0, &p).0), "tunnel_6rd");
}

#[test]
fn allowed_tunnels_are_not_blocked() {
    let mut config = config("filtering = \"eif\"");
    config.tunnels = sixfold_router::config::Tunnels::all(false);
    let mut lab = Lab::with(config);
    for (i, (dir, _, packet)) in crafted("allow").iter().enumerate() {
        let (v, _) = lab.send(*dir, packet);
        assert!(!name(v).starts_with("tunnel_"), "case {i}: {v:?}");
    }
    // Teredo over UDP, IPv6 in IPv6, and the relay prefixes now go through.
    let drops = lab.router.snapshot().drops;
    assert!(
        drops
            .iter()
            .all(|(r, n)| !r.name().starts_with("tunnel_") || n == 0)
    );
}

#[test]
fn dns_ids_0x6000_to_0x6fff_pass() {
    let mut lab = Lab::new("");
    for id in 0x6000..=0x6fffu16 {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        // A name that makes "payload length + 40" line up with the datagram.
        q.extend_from_slice(&[1 + (id % 40) as u8]);
        q.extend(std::iter::repeat_n(b'a', 1 + usize::from(id % 40)));
        q.extend_from_slice(&[0, 0, 28, 0, 1]);
        let (v, _) = lab.out(0, &udp(SUB0, 5353, "192.0.2.53", 53, &q));
        assert_eq!(name(v), "pass", "DNS id {id:#x}");
    }
}

fn data(file: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../teredo/tests/data")
        .join(file);
    capture::read(&path)
        .unwrap()
        .iter()
        .filter_map(|f| f.ip().map(<[u8]>::to_vec))
        .collect()
}

#[test]
fn real_captures_are_blocked() {
    // miredo qualifying through a NAT: every packet is Teredo (UDP 3544).
    let mut lab = Lab::new("");
    let miredo = data("miredo-qualification.pcap");
    assert!(!miredo.is_empty());
    for p in &miredo {
        let (v, _) = lab.inb(p);
        assert_eq!(name(v), "tunnel_teredo");
    }
    // 6in4, 6to4 and ISATAP over protocol 41.
    let mut lab = Lab::new("");
    for p in &data("proto41-6in4-6to4-isatap.pcap") {
        lab.inb(p);
    }
    let drops = lab.router.snapshot().drops;
    for reason in [
        DropReason::Tunnel6in4,
        DropReason::Tunnel6to4,
        DropReason::TunnelIsatap,
    ] {
        assert!(drops[reason] > 0, "{reason}: {drops:?}");
    }
    // IPv6 from assorted sources (the crate's oracle vectors): on the native path,
    // the Teredo and 6to4 sources are the relays' side; the others are no tunnel.
    let mut lab = Lab::new("");
    let got: Vec<String> = data("teredo-oracle-vectors.pcap")
        .iter()
        .map(|p| name(lab.inb(p).0))
        .collect();
    let tunnel: Vec<&str> = got
        .iter()
        .map(|n| {
            if n.starts_with("tunnel_") {
                n.as_str()
            } else {
                "-"
            }
        })
        .collect();
    let want = [
        ["tunnel_teredo_prefix"; 6].as_slice(),
        &["tunnel_6to4_prefix"; 2],
        &["-"; 5],
    ]
    .concat();
    assert_eq!(tunnel, want);
}
