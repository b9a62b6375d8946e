//! Carrier-grade operations through `Router::process`, contenders in one run:
//! the first packet of a new flow (mapping, port and session) under each port
//! allocation mode — `dynamic`, `block` (a new block every 128 flows),
//! `deterministic` — and a packet of a known flow with flow accounting before
//! the NAT off and on (the NAT session or firewall flow keeps where the flow's
//! record is: no second hash probe), IPv4 (64-byte UDP, NAT) and IPv6 (84-byte
//! UDP, firewall).
//!
//! `benches/scripts/cgn.sh` runs it three times and prints the medians of the
//! runs' medians (`cargo bench -p sixfold-benches --bench cgn` for one run).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sixfold_benches::nat_load::{udp, udp6};
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const INSIDE4: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 1);
const REMOTE4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const INSIDE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, 2);
const REMOTE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x80);
/// New flows per fresh router: every port of the address, less a margin.
const FLOWS: u32 = 60_000;

/// A router with one subscriber, `nat` lines and `ipfix` lines.
fn router(nat: &str, ipfix: &str, now: Instant) -> Router {
    let config = Config::from_toml(&format!(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\"]\n\
         sessions_per_subscriber = 1048576\nports_per_subscriber = 64512\n{nat}\n\
         [ipfix]\n{ipfix}\n\
         [[subscriber]]\nname = \"s\"\nipv4 = [\"{INSIDE4}\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n"
    ))
    .expect("valid");
    Router::new(config, 7, now).expect("valid")
}

fn process(router: &mut Router, dir: Direction, p: &[u8], buf: &mut PacketBuf, now: Instant) {
    buf.storage_mut()[..p.len()].copy_from_slice(p);
    buf.set_len(p.len());
    let v = router.process(dir, buf, now);
    // Checked on every packet: a benchmark of the drop path would say nothing.
    assert!(matches!(v, Verdict::Forward(_)), "{v:?}");
    black_box(v);
}

/// Records for the exporter are taken away as the I/O loop would.
fn drain(router: &mut Router) {
    while let Some(r) = router.poll_ipfix() {
        black_box(r);
    }
}

fn new_session(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("cgn-new-session");
    g.throughput(Throughput::Elements(1));
    let mut buf = PacketBuf::new();
    // Source ports past the transition tunnels' (3544, 3653, 5072: blocked).
    let packets: Vec<Vec<u8>> = (0..FLOWS)
        .map(|k| udp(INSIDE4, 5100 + k as u16, REMOTE4, 53))
        .collect();
    let modes = [
        ("dynamic", "allocation = \"dynamic\"", ""),
        (
            "block",
            "allocation = \"block\"\nmax_blocks = 504",
            "collector = \"192.0.2.9:4739\"",
        ),
        (
            "deterministic",
            "allocation = \"deterministic\"\nblock_size = 64512",
            "",
        ),
    ];
    for (name, nat, ipfix) in modes {
        g.bench_function(BenchmarkId::new(name, 64), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(u64::from(FLOWS));
                    let mut r = router(nat, ipfix, now);
                    let start = Instant::now();
                    for p in &packets[..n as usize] {
                        process(&mut r, Direction::Outbound(0), p, &mut buf, now);
                        drain(&mut r);
                    }
                    total += start.elapsed();
                    left -= n;
                }
                total
            })
        });
    }
    g.finish();
}

/// A packet of one of `flows` live flows (visited in turn), accounting off and
/// on: 16 flows stay in the caches, 4096 do not.
fn known_flow(c: &mut Criterion) {
    for flows in [16u16, 4096] {
        let now = Instant::now();
        let mut g = c.benchmark_group(format!("cgn-known-flow-{flows}"));
        g.throughput(Throughput::Elements(1));
        let mut buf = PacketBuf::new();
        let v4: Vec<Vec<u8>> = (0..flows)
            .map(|k| udp(INSIDE4, 10_000 + k, REMOTE4, 53))
            .collect();
        let v6: Vec<Vec<u8>> = (0..flows)
            .map(|k| udp6(INSIDE6, 10_000 + k, REMOTE6, 53))
            .collect();
        let setups = [
            ("accounting-off", ""),
            (
                "accounting-on",
                "collector = \"192.0.2.9:4739\"\naccounting = true\nmax_flows = 65536",
            ),
        ];
        for (packets, size) in [(&v4, 64), (&v6, 84)] {
            for (name, ipfix) in setups {
                let mut r = router("", ipfix, now);
                for p in packets.iter() {
                    process(&mut r, Direction::Outbound(0), p, &mut buf, now);
                }
                let mut i = 0;
                g.bench_function(BenchmarkId::new(name, size), |b| {
                    b.iter(|| {
                        i += 1;
                        let p = &packets[i % packets.len()];
                        process(&mut r, Direction::Outbound(0), p, &mut buf, now);
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = sixfold_benches::criterion_config();
    targets = new_session, known_flow
}
criterion_main!(benches);
