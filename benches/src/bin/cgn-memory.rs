//! Memory per live port block and per accounted flow: the growth of resident
//! memory (`VmRSS`: allocator overhead and hash-table headroom count), each
//! contender in a fresh process, of a router in `block` mode over the same
//! router in `dynamic` mode with the same mappings — 16,384 subscribers with
//! one 128-port block each, and 16 subscribers using every port of an address
//! (504 blocks each) — and of a router with flow accounting over one without,
//! with 262,144 IPv6 flows (no NAT state: the firewall's flows are the same in
//! both).
//!
//! `cargo run --release -p sixfold-benches --bin cgn-memory`

use sixfold_benches::nat_load::{udp, udp6};
use sixfold_benches::rss;
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

/// A router with `subscribers` subscribers (100.64.0.0 onwards, one address
/// each; the first also 2001:db8:1::/48), pool 203.0.113.0/26.
fn router(subscribers: u32, nat: &str, ipfix: &str) -> Router {
    let mut text = format!(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.0/26\"]\nports_per_subscriber = 64512\n\
         sessions_per_subscriber = 1048576\nmax_sessions = 1048576\n{nat}\n[ipfix]\n{ipfix}\n"
    );
    for k in 0..subscribers {
        let v6 = if k == 0 {
            "ipv6 = [\"2001:db8:1::/48\"]\n"
        } else {
            ""
        };
        text += &format!(
            "[[subscriber]]\nname = \"s{k}\"\nipv4 = [\"{}\"]\n{v6}",
            inside(k)
        );
    }
    Router::new(Config::from_toml(&text).expect("valid"), 3, Instant::now()).expect("valid")
}

fn inside(k: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + k)
}

/// Resident growth while `load` fills a router built by `make`; the router is
/// kept until the measurement is taken.
fn grown(make: impl Fn() -> Router, packets: &[(u16, Vec<u8>)]) -> (u64, Router) {
    let before = rss();
    let mut r = make();
    let mut buf = PacketBuf::new();
    let now = Instant::now();
    for (sub, p) in packets {
        buf.storage_mut()[..p.len()].copy_from_slice(p);
        buf.set_len(p.len());
        let v = r.process(Direction::Outbound(u32::from(*sub)), &mut buf, now);
        assert!(matches!(v, Verdict::Forward(_)), "{v:?}");
        while r.poll_ipfix().is_some() {}
    }
    (rss().saturating_sub(before), r)
}

/// Subscribers in the block measurement: one block each.
const SUBSCRIBERS: u32 = 16_384;
/// IPv6 flows in the accounting measurement.
const FLOWS: u32 = 262_144;

/// One measurement, in this process: the resident growth (bytes) and the
/// count it is divided by (live blocks, accounted flows).
fn measure(which: &str) -> (u64, u64) {
    let collector = "collector = \"192.0.2.9:4739\"";
    let accounting = "collector = \"192.0.2.9:4739\"\naccounting = true\nmax_flows = 1048576";
    if which.starts_with("full") {
        // 16 subscribers each use every port of an address: 504 blocks of 128
        // each in block mode. The same mappings and sessions in both modes,
        // and a small configuration, so the blocks' own memory shows.
        let remote = Ipv4Addr::new(198, 18, 0, 1);
        let v4: Vec<(u16, Vec<u8>)> = (0..16u32)
            .flat_map(|k| {
                (1024..=65535u16)
                    .filter(|p| ![3544, 3653, 5072].contains(p))
                    .map(move |p| (k as u16, udp(inside(k), p, remote, 53)))
            })
            .collect();
        let nat = if which == "full-on" {
            "allocation = \"block\"\nmax_blocks = 504"
        } else {
            ""
        };
        let (grew, r) = grown(|| router(16, nat, collector), &v4);
        let s = r.snapshot();
        assert_eq!(s.mappings, 16 * 64509);
        return (grew, s.ipfix.blocks);
    }
    if which.starts_with("blocks") {
        // Each subscriber one flow: one mapping, and in block mode one block
        // (128 ports, the default).
        let remote = Ipv4Addr::new(198, 18, 0, 1);
        let v4: Vec<(u16, Vec<u8>)> = (0..SUBSCRIBERS)
            .map(|k| (k as u16, udp(inside(k), 40000, remote, 53)))
            .collect();
        let nat = if which == "blocks-on" {
            "allocation = \"block\""
        } else {
            ""
        };
        let (grew, r) = grown(|| router(SUBSCRIBERS, nat, collector), &v4);
        let s = r.snapshot();
        assert_eq!(s.mappings, u64::from(SUBSCRIBERS));
        return (grew, s.ipfix.blocks);
    }
    let remote6 = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x80);
    let v6: Vec<(u16, Vec<u8>)> = (0..FLOWS)
        .map(|k| {
            let src = Ipv6Addr::new(0x2001, 0xdb8, 1, (k >> 16) as u16, 0, 0, 0, k as u16);
            (0, udp6(src, 40000, remote6, 53))
        })
        .collect();
    let ipfix = if which == "flows-on" { accounting } else { "" };
    let (grew, r) = grown(|| router(1, "", ipfix), &v6);
    (grew, r.snapshot().ipfix.flows)
}

/// `which` measured in a fresh process (the same starting point for each).
fn child(which: &str) -> (u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let out = std::process::Command::new(exe)
        .arg(which)
        .output()
        .expect("run self");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut w = text
        .split_whitespace()
        .map(|x| x.parse::<u64>().expect("a number"));
    (w.next().expect("growth"), w.next().expect("count"))
}

fn main() {
    if let Some(which) = std::env::args().nth(1) {
        let (grew, count) = measure(&which);
        println!("{grew} {count}");
        return;
    }
    for (what, contenders, with, without, unit) in [
        (
            "port blocks, one per subscriber",
            "blocks",
            "block mode",
            "dynamic mode",
            "live block",
        ),
        (
            "port blocks, 504 for each of 16 subscribers using every port",
            "full",
            "block mode",
            "dynamic mode",
            "live block",
        ),
        (
            "accounted flows",
            "flows",
            "accounting",
            "no accounting",
            "accounted flow",
        ),
    ] {
        let ((off, _), (on, count)) = (
            child(&format!("{contenders}-off")),
            child(&format!("{contenders}-on")),
        );
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        println!(
            "{what}: {count}; resident growth {:.2} MiB with {with}, {:.2} MiB with {without}: {:.0} B per {unit}",
            mib(on),
            mib(off),
            (on as f64 - off as f64) / count as f64
        );
    }
}
