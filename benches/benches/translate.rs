//! RFC 7915 translation per packet: a TCP segment of 60 and 1500 bytes (whole
//! packet) from IPv4 to IPv6 and from IPv6 to IPv4, every checksum updated
//! incrementally, into a second buffer (`Translator::ipv4_to_ipv6` /
//! `ipv6_to_ipv4`); stateful NAT64 style, with a new source port in the same pass.
//! NAT44's in-place rewrite of the same IPv4 packet sits in the group as the
//! baseline the issue compares with.
//!
//! `cargo bench -p sixfold-benches --bench translate`; criterion reports packets/s
//! (`Throughput::Elements`).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sixfold_checksum::{pseudo, sum};
use sixfold_rewrite::translate::{Config, Mapping, ToIpv4, ToIpv6, Translator};
use sixfold_rewrite::{Rewrite, Ttl};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const V4: (Ipv4Addr, Ipv4Addr) = (Ipv4Addr::new(198, 51, 100, 7), Ipv4Addr::new(192, 0, 2, 1));
const V6: (Ipv6Addr, Ipv6Addr) = (
    Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2),
);

/// A TCP segment (ACK|PSH, no options) of `len` bytes, checksum left 0.
fn tcp_segment(len: usize) -> Vec<u8> {
    let mut t = vec![
        0x01, 0xbb, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ];
    t.resize(len, 0x5a);
    t
}

/// A TCP/IPv4 packet of `len` bytes with its checksums, DF set.
fn tcp4(len: usize) -> Vec<u8> {
    let l4 = tcp_segment(len - 20);
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0];
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p.extend_from_slice(&V4.0.octets());
    p.extend_from_slice(&V4.1.octets());
    p.extend_from_slice(&l4);
    let c = (pseudo::ipv4(V4.0, V4.1, 6, l4.len() as u16) + sum(&p[20..])).checksum();
    p[36..38].copy_from_slice(&c.to_be_bytes());
    let c = sum(&p[..20]).checksum();
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

/// A TCP/IPv6 packet of `len` bytes with its checksum.
fn tcp6(len: usize) -> Vec<u8> {
    let l4 = tcp_segment(len - 40);
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.extend_from_slice(&[6, 64]);
    p.extend_from_slice(&V6.1.octets());
    p.extend_from_slice(&V6.0.octets());
    p.extend_from_slice(&l4);
    let c = (pseudo::ipv6(V6.1, V6.0, 6, l4.len() as u32) + sum(&p[40..])).checksum();
    p[56..58].copy_from_slice(&c.to_be_bytes());
    p
}

fn benches(c: &mut Criterion) {
    // A 1500-byte IPv4 packet with DF is 1520 bytes as IPv6: the IPv6 link must
    // take it, or the translator answers "fragmentation needed" instead.
    let translator = Translator::new(Config {
        ipv6_mtu: 1520,
        ..Config::default()
    })
    .unwrap();
    let to6 = ToIpv6::new(Mapping {
        dst_port: Some(40001),
        ..Mapping::new(V6.0, V6.1)
    });
    let to4 = ToIpv4::new(Mapping {
        src_port: Some(1024),
        ..Mapping::new(V4.1, V4.0)
    });
    let nat44 = Rewrite {
        dst: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
        dst_port: Some(40001),
        ttl: Some(Ttl::Sub(1)),
        ..Rewrite::new()
    };
    let mut g = c.benchmark_group("translate");
    g.throughput(Throughput::Elements(1));
    let mut out = vec![0u8; 1600];
    for len in [60, 1500] {
        let (p4, p6) = (tcp4(len), tcp6(len));
        // Measure translations, not refusals.
        assert!(translator.ipv4_to_ipv6(&p4, &to6, &mut out).is_ok());
        assert!(translator.ipv6_to_ipv4(&p6, &to4, &mut out).is_ok());
        g.bench_with_input(BenchmarkId::new("tcp 4to6", len), &p4, |b, p| {
            b.iter(|| black_box(translator.ipv4_to_ipv6(black_box(p), &to6, &mut out)))
        });
        g.bench_with_input(BenchmarkId::new("tcp 6to4", len), &p6, |b, p| {
            b.iter(|| black_box(translator.ipv6_to_ipv4(black_box(p), &to4, &mut out)))
        });
        // The NAT44 rewrite works in place: restore the packet each time.
        let mut work = p4.clone();
        g.bench_with_input(BenchmarkId::new("tcp nat44 rewrite", len), &p4, |b, p| {
            b.iter(|| {
                work.copy_from_slice(p);
                black_box(nat44.apply(black_box(&mut work)))
            })
        });
    }
    g.finish();
}

criterion_group! { name = translate; config = sixfold_benches::criterion_config(); targets = benches }
criterion_main!(translate);
