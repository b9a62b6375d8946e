//! IPv6 against IPv4 through `Router::process`, in the same run: the first packet
//! of a new flow (IPv4: NAT mapping, port and session; IPv6: an RFC 6092 firewall
//! flow, nothing translated) and a packet of a known flow, each way. Same payload
//! (36 bytes of UDP data; 64-byte IPv4 and 84-byte IPv6 packets), one subscriber,
//! default configuration.
//!
//! `cargo bench -p sixfold-benches --bench families`; criterion reports packets/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sixfold_benches::nat_load::{udp, udp6};
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const INSIDE4: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 1);
const REMOTE4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const INSIDE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, 2);
const REMOTE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x80);
/// New flows per fresh router (a new router when they are used up, untimed).
const FLOWS: u32 = 1 << 18;

fn router(now: Instant) -> Router {
    let config = Config::from_toml(&format!(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.0/28\"]\n\
         sessions_per_subscriber = 1048576\nports_per_subscriber = 64512\n\
         [[subscriber]]\nname = \"s\"\nipv4 = [\"{INSIDE4}\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n"
    ))
    .expect("valid");
    Router::new(config, 7, now).expect("valid")
}

/// Packet `k` of a distinct flow: source port and destination port vary (above
/// the transition-tunnel ports, which the router blocks).
fn flow(v6: bool, k: u32) -> Vec<u8> {
    let (sport, dport) = (10_000 + (k % 50_000) as u16, 10_000 + (k / 50_000) as u16);
    if v6 {
        udp6(INSIDE6, sport, REMOTE6, dport)
    } else {
        udp(INSIDE4, sport, REMOTE4, dport)
    }
}

fn process(router: &mut Router, dir: Direction, p: &[u8], buf: &mut PacketBuf, now: Instant) {
    buf.storage_mut()[..p.len()].copy_from_slice(p);
    buf.set_len(p.len());
    let v = router.process(dir, buf, now);
    // Checked on every packet: a benchmark of the drop path would say nothing.
    assert!(matches!(v, Verdict::Forward(_)), "{v:?}");
    black_box(v);
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("families");
    g.throughput(Throughput::Elements(1));
    let mut buf = PacketBuf::new();
    for (name, v6) in [("ipv4", false), ("ipv6", true)] {
        let packets: Vec<Vec<u8>> = (0..FLOWS).map(|k| flow(v6, k)).collect();
        g.bench_function(format!("{name}/first-packet"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(u64::from(FLOWS));
                    let mut r = router(now);
                    let start = Instant::now();
                    for p in &packets[..n as usize] {
                        process(&mut r, Direction::Outbound(0), p, &mut buf, now);
                    }
                    total += start.elapsed();
                    left -= n;
                }
                total
            })
        });
    }
    for (name, v6) in [("ipv4", false), ("ipv6", true)] {
        // 4096 live flows; replies come back to the external endpoint.
        let mut r = router(now);
        let mut out = Vec::new();
        let mut back = Vec::new();
        for k in 0..4096 {
            let p = flow(v6, k);
            let mut b = PacketBuf::from_packet(&p);
            let v = r.process(Direction::Outbound(0), &mut b, now);
            assert!(matches!(v, Verdict::Forward(_)), "{name} flow {k}: {v:?}");
            let sent = b.packet();
            let reply = if v6 {
                let at = |o: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&sent[o..o + 16]).unwrap());
                let port = |o: usize| u16::from_be_bytes([sent[o], sent[o + 1]]);
                udp6(at(24), port(42), at(8), port(40))
            } else {
                let at = |o: usize| Ipv4Addr::new(sent[o], sent[o + 1], sent[o + 2], sent[o + 3]);
                let port = |o: usize| u16::from_be_bytes([sent[o], sent[o + 1]]);
                udp(at(16), port(22), at(12), port(20))
            };
            out.push(p);
            back.push(reply);
        }
        let mut i = 0;
        g.bench_function(format!("{name}/outbound-known-flow"), |b| {
            b.iter(|| {
                i += 1;
                process(
                    &mut r,
                    Direction::Outbound(0),
                    &out[i % out.len()],
                    &mut buf,
                    now,
                )
            })
        });
        g.bench_function(format!("{name}/inbound-known-flow"), |b| {
            b.iter(|| {
                i += 1;
                process(
                    &mut r,
                    Direction::Inbound,
                    &back[i % back.len()],
                    &mut buf,
                    now,
                )
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
