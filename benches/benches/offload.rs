//! The cost of a super-packet through `Router::process`: a 64 KiB TCP/IPv4 TSO
//! packet with a partial checksum (45 segments of 1448 bytes on the wire) beside a
//! single 1500-byte segment of the same flow, outbound through the NAT on a known
//! session, and the same over IPv6 (routed, through the firewall). The headers are
//! translated once, whatever the size: the two should cost about the same, so the
//! per-segment cost of a super-packet is a 45th of it.
//!
//! `cargo bench -p sixfold-benches --bench offload`; criterion reports packets/s
//! (a super-packet counts once).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use sixfold_router::offload::{Gso, Offload};
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::hint::black_box;
use std::time::Instant;

const MSS: usize = 1448;

fn router(now: Instant) -> Router {
    let config = Config::from_toml(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\"]\n\
         [[subscriber]]\nname = \"s\"\nipv4 = [\"100.64.1.1\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n",
    )
    .expect("valid");
    Router::new(config, 7, now).expect("valid")
}

/// A TCP segment with `payload` bytes, flags `syn` or ACK|PSH, checksum complete.
fn tcp(v6: bool, payload: usize, syn: bool) -> Vec<u8> {
    let b = if v6 {
        PacketBuilder::ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2],
            [
                0x20, 1, 0xd, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
            ],
            64,
        )
    } else {
        PacketBuilder::ipv4([100, 64, 1, 1], [198, 18, 0, 1], 64)
    };
    let b = b.tcp(40000, 443, 1, 65535);
    let b = if syn { b.syn() } else { b.ack(1).psh() };
    let mut v = Vec::new();
    b.write(&mut v, &vec![0x5a; payload]).expect("fits");
    v
}

/// `p` as a super-packet of `MSS`-byte segments with a partial checksum (the
/// field's value does not change the work).
fn offloaded(p: Vec<u8>, v6: bool) -> (Vec<u8>, Offload) {
    let l4 = if v6 { 40 } else { 20 };
    let off = Offload {
        gso: if v6 { Gso::TcpV6 } else { Gso::TcpV4 },
        ecn: false,
        gso_size: MSS as u16,
        partial: Some((l4, 16)),
    };
    (p, off)
}

/// A buffer holding `p` with offload `off`, as a read would leave it.
fn loaded(p: &[u8], off: Offload) -> PacketBuf {
    let mut buf = PacketBuf::from_packet(p);
    buf.set_offload(off);
    buf
}

fn process(router: &mut Router, buf: &mut PacketBuf, now: Instant) {
    let v = router.process(Direction::Outbound(0), buf, now);
    assert!(matches!(v, Verdict::Forward(_)), "{v:?}");
    black_box(v);
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("offload");
    g.throughput(Throughput::Elements(1));
    for (family, v6) in [("ipv4", false), ("ipv6", true)] {
        let mut r = router(now);
        process(
            &mut r,
            &mut loaded(&tcp(v6, 0, true), Offload::default()),
            now,
        );
        let segment = loaded(&tcp(v6, MSS, false), Offload::default());
        let (p, off) = offloaded(tcp(v6, 45 * MSS, false), v6);
        let super_packet = loaded(&p, off);
        // The packet is copied back in before each run, untimed: a read puts it
        // in the buffer in the router's I/O.
        for (name, packet) in [
            ("1500-byte-segment", &segment),
            ("64k-super-packet", &super_packet),
        ] {
            g.bench_function(format!("{family}/{name}"), |b| {
                b.iter_batched_ref(
                    || packet.clone(),
                    |buf| process(&mut r, buf, now),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = sixfold_benches::criterion_config();
    targets = bench
}
criterion_main!(benches);
