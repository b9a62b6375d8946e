//! IPv6 against IPv4 through `Router::process`, in the same run: the first packet
//! of a new flow (IPv4: NAT mapping, port and session; IPv6: an RFC 6092 firewall
//! flow, nothing translated) and a packet of a known flow, each way. Same payload
//! (36 bytes of UDP data; 64-byte IPv4 and 84-byte IPv6 packets), one subscriber,
//! default configuration.
//!
//! `cargo bench -p sixfold-benches --bench families`; criterion reports packets/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sixfold_benches::known_flow::{Known, flow, process, router};
use sixfold_router::{Direction, PacketBuf};
use std::time::{Duration, Instant};

/// New flows per fresh router (a new router when they are used up, untimed).
const FLOWS: u32 = 1 << 18;

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
        let Known {
            router: mut r,
            out,
            back,
        } = Known::new(v6, now);
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
