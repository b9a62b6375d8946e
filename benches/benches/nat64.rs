//! The router core per packet, stateful NAT64 against NAT44 on the same table:
//! `Router::process` on the hit path, outbound and inbound, for a dual-stack
//! subscriber's UDP/IPv4 (NAT44: rewritten in place) and an IPv6-only
//! subscriber's UDP/IPv6 to the NAT64 prefix (translated into a second buffer
//! that is then swapped in). 36 bytes of payload (64-byte IPv4, 84-byte IPv6
//! packets); 65,536 live sessions of each kind (4096 ports × 16 destinations),
//! visited in turn.
//!
//! `cargo bench -p sixfold-benches --bench nat64`; criterion reports packets/s.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sixfold_benches::nat_load::{remote, udp, udp6};
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

const PORTS: u16 = 4096;
const DESTINATIONS: u16 = 16;
const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const INSIDE4: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 1);
const INSIDE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 2);

fn config() -> Config {
    Config::from_toml(
        r#"
        [router]
        ra = false
        [nat]
        pool = ["203.0.113.1"]
        max_sessions = 1048576
        [nat64]
        prefix = "2001:db8:64::/96"
        [[subscriber]]
        name = "dual"
        ipv4 = ["100.64.1.1"]
        ipv6 = ["2001:db8:1:1::/64"]
        [[subscriber]]
        name = "only6"
        ipv6 = ["2001:db8:1:2::/64"]
        "#,
    )
    .expect("valid")
}

/// `v4` under 2001:db8:64::/96.
fn embed(v4: Ipv4Addr) -> Ipv6Addr {
    let o = v4.octets();
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        0x64,
        0,
        0,
        0,
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]]),
    )
}

type Packets = Vec<(Direction, Vec<u8>)>;

/// Sessions for both subscribers; the packets that hit them, each way.
fn loaded(router: &mut Router, now: Instant) -> [Packets; 4] {
    let mut buf = PacketBuf::new();
    let mut sets: [Packets; 4] = Default::default();
    for port in 0..PORTS {
        for d in 0..DESTINATIONS {
            let (sport, dst) = (10_000 + port, remote(d));
            let out4 = udp(INSIDE4, sport, dst, 53);
            let out6 = udp6(INSIDE6, sport, embed(dst), 53);
            for (k, (sub, p)) in [(0u32, out4), (1, out6)].into_iter().enumerate() {
                buf.set_packet(&p);
                let v = router.process(Direction::Outbound(sub), &mut buf, now);
                assert_eq!(v, Verdict::Forward(sixfold_router::Interface::Wan));
                let public = u16::from_be_bytes([buf.packet()[20], buf.packet()[21]]);
                sets[2 * k].push((Direction::Outbound(sub), p));
                let back = udp(dst, 53, PUBLIC, public);
                sets[2 * k + 1].push((Direction::Inbound, back));
            }
        }
    }
    sets
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let mut router = Router::new(config(), 3, now).expect("valid");
    let sets = loaded(&mut router, now);
    let sessions = router.snapshot().sessions;
    let mut g = c.benchmark_group(format!("nat64-vs-nat44/{sessions}-sessions"));
    g.throughput(Throughput::Elements(1));
    let mut buf = PacketBuf::new();
    let names = [
        ("nat44 outbound", 64),
        ("nat44 inbound", 64),
        ("nat64 outbound", 84),
        ("nat64 inbound", 64),
    ];
    for ((name, size), packets) in names.into_iter().zip(&sets) {
        let mut i = 0;
        g.bench_function(BenchmarkId::new(name, size), |b| {
            b.iter(|| {
                let (dir, p) = &packets[i % packets.len()];
                i += 1;
                buf.storage_mut()[..p.len()].copy_from_slice(p);
                buf.set_len(p.len());
                let v = router.process(*dir, &mut buf, now);
                debug_assert!(matches!(v, Verdict::Forward(_)));
                black_box(v)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = sixfold_benches::criterion_config();
    targets = bench
}
criterion_main!(benches);
