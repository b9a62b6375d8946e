//! The router core alone: packets per second through `Router::process` on the NAT
//! hit path with about a million live sessions (see `sixfold_benches::nat_load`),
//! outbound (subscriber → WAN) and inbound (reply → subscriber), 64-byte UDP/IPv4,
//! sessions picked across the whole table so lookups miss the CPU caches as they
//! would in a carrier NAT. Also: the miss path (a new session per packet), and
//! native IPv6 forwarding for comparison.
//!
//! `cargo bench -p sixfold-benches --bench router`; criterion reports packets/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sixfold_benches::nat_load::{self, inside};
use sixfold_router::{Direction, PacketBuf, Router, Verdict};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

fn run(
    router: &mut Router,
    packets: &[(Direction, Vec<u8>)],
    now: Instant,
    buf: &mut PacketBuf,
    i: &mut usize,
) {
    let (dir, p) = &packets[*i % packets.len()];
    *i += 1;
    buf.storage_mut()[..p.len()].copy_from_slice(p);
    buf.set_len(p.len());
    let v = router.process(*dir, buf, now);
    debug_assert!(matches!(v, Verdict::Forward(_)));
    black_box(v);
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let (mut router, out, back) = nat_load::loaded(now, 1 << 16);
    let sessions = router.snapshot().sessions;
    let mut g = c.benchmark_group(format!("router/{sessions}-sessions"));
    g.throughput(Throughput::Elements(1));
    let mut buf = PacketBuf::new();
    let mut i = 0;
    g.bench_function("nat-outbound-hit", |b| {
        b.iter(|| run(&mut router, &out, now, &mut buf, &mut i))
    });
    g.bench_function("nat-inbound-hit", |b| {
        b.iter(|| run(&mut router, &back, now, &mut buf, &mut i))
    });
    // New sessions on a fresh subscriber: mapping + session created per packet.
    let mut config = nat_load::config();
    config.nat.max_sessions = 1 << 23;
    config.nat.sessions_per_subscriber = 1 << 23;
    let mut fresh = Router::new(config, 2, now).unwrap();
    let mut d = 0u32;
    g.bench_function("nat-outbound-new-session", |b| {
        b.iter(|| {
            d = d.wrapping_add(1);
            let dst = Ipv4Addr::from(0xc612_0000 | (d & 0xffff));
            let p = nat_load::udp(inside(0), 10_000 + (d >> 16 & 0xfff) as u16, dst, 53);
            buf.storage_mut()[..p.len()].copy_from_slice(&p);
            buf.set_len(p.len());
            black_box(fresh.process(Direction::Outbound(0), &mut buf, now))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = sixfold_benches::criterion_config();
    targets = bench
}
criterion_main!(benches);
