//! Parse + NAT-style rewrite (source address, source port, TTL − 1, every checksum
//! patched incrementally) per packet: 64-byte UDP/IPv4, 1500-byte TCP/IPv4 and
//! TCP/IPv6, and an ICMP error quoting a UDP packet (outer destination and quoted
//! source translated back, as a NAT does for inbound errors).
//!
//! `cargo bench -p sixfold-benches --bench rewrite`; criterion reports packets/s
//! (`Throughput::Elements`). The target is ≥ 30 M rewrites/s for the UDP case.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sixfold_checksum::{pseudo, sum};
use sixfold_rewrite::{QuotedRewrite, Rewrite, Ttl};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn ipv4(protocol: u8, l4: &[u8]) -> Vec<u8> {
    let (s, d) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(198, 51, 100, 7));
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, protocol, 0, 0];
    p[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(l4);
    let at = match protocol {
        6 => Some(20 + 16),
        17 => Some(20 + 6),
        _ => None,
    };
    if let Some(at) = at {
        let c = (pseudo::ipv4(s, d, protocol, l4.len() as u16) + sum(&p[20..])).checksum();
        p[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    let c = sum(&p[..20]).checksum();
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

fn tcp_segment(len: usize) -> Vec<u8> {
    let mut t = vec![
        0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ];
    t.resize(len, 0x5a);
    t
}

fn ipv6_tcp(len: usize) -> Vec<u8> {
    let (s, d): (Ipv6Addr, Ipv6Addr) = (
        "2001:db8:1::2".parse().unwrap(),
        "2001:db8:ffff::7".parse().unwrap(),
    );
    let l4 = tcp_segment(len - 40);
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.extend_from_slice(&[6, 64]);
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(&l4);
    let c = (pseudo::ipv6(s, d, 6, l4.len() as u32) + sum(&p[40..])).checksum();
    p[56..58].copy_from_slice(&c.to_be_bytes());
    p
}

fn benches(c: &mut Criterion) {
    let public4 = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    let nat4 = Rewrite {
        src: Some(public4),
        src_port: Some(1024),
        ttl: Some(Ttl::Sub(1)),
        ..Rewrite::new()
    };
    let nat6 = Rewrite {
        src: Some(IpAddr::V6("2001:db8:aa::1".parse().unwrap())),
        src_port: Some(1024),
        ttl: Some(Ttl::Sub(1)),
        ..Rewrite::new()
    };
    // An ICMP port unreachable from 198.51.100.7 to the public address, quoting the
    // NATed UDP packet; inbound translation restores 10.0.0.2:40000 in both places.
    let mut quoted = ipv4(
        17,
        &[
            0x04, 0x00, 0x00, 0x35, 0x00, 0x10, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ],
    );
    quoted[12..16].copy_from_slice(&[203, 0, 113, 1]);
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted[..28]);
    let icmp_checksum = sum(&icmp).checksum();
    icmp[2..4].copy_from_slice(&icmp_checksum.to_be_bytes());
    let mut error = ipv4(1, &icmp);
    error[12..20].copy_from_slice(&[198, 51, 100, 7, 203, 0, 113, 1]);
    let inbound_error = Rewrite {
        dst: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
        ttl: Some(Ttl::Sub(1)),
        quoted: Some(QuotedRewrite {
            src: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
            src_port: Some(40000),
            ..QuotedRewrite::default()
        }),
        ..Rewrite::new()
    };

    let cases: [(&str, Vec<u8>, Rewrite); 4] = [
        (
            "udp4 nat",
            ipv4(
                17,
                &[0x9c, 0x40, 0, 53, 0, 44, 0, 0]
                    .iter()
                    .copied()
                    .chain([0xAB; 36])
                    .collect::<Vec<u8>>(),
            ),
            nat4,
        ),
        ("tcp4 nat", ipv4(6, &tcp_segment(1480)), nat4),
        ("tcp6 rewrite", ipv6_tcp(1500), nat6),
        ("icmp error quote", error, inbound_error),
    ];
    let mut g = c.benchmark_group("rewrite");
    g.throughput(Throughput::Elements(1));
    for (name, packet, rewrite) in &cases {
        // Two copies alternate so every iteration really changes bytes (a rewrite of
        // an already-rewritten packet would be a no-op).
        let original = packet.clone();
        let mut work = packet.clone();
        g.bench_with_input(BenchmarkId::new(*name, packet.len()), rewrite, |b, r| {
            b.iter(|| {
                work.copy_from_slice(&original);
                black_box(r.apply(black_box(&mut work)))
            })
        });
    }
    g.finish();
}

criterion_group! { name = rewrite; config = sixfold_benches::criterion_config(); targets = benches }
criterion_main!(rewrite);
