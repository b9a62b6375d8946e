//! Teredo address decoding and the packet recogniser, which sits in the router's
//! per-packet path: it must cost nanoseconds and never allocate.
//!
//! `cargo bench -p sixfold-benches --bench teredo`, then
//! `cargo run --release -p sixfold-benches --bin bench-table -- teredo`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sixfold_checksum::{pseudo, sum};
use sixfold_teredo::address::encode_origin_indication;
use sixfold_teredo::packet::recognize;
use sixfold_teredo::{Teredo, classify};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

fn icmpv6_echo(len: usize) -> Vec<u8> {
    let src: Ipv6Addr = "2001:0:cb00:710a:1408:52d4:34ff:8efe".parse().unwrap();
    let dst: Ipv6Addr = "2001:0:cb00:710a:243f:45f7:34ff:8eeb".parse().unwrap();
    let l4 = len - 40;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(l4 as u16).to_be_bytes());
    p.extend_from_slice(&[58, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[128, 0, 0, 0, 0x26, 0x6a, 0, 1]);
    p.resize(len, 0xA5);
    let c = (pseudo::ipv6(src, dst, 58, l4 as u32) + sum(&p[40..])).checksum();
    p[42..44].copy_from_slice(&c.to_be_bytes());
    p
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("teredo/decode");
    let addrs: Vec<Ipv6Addr> = [
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2a00:1450:4001:82b::200e",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    for (name, a) in ["teredo", "native"].iter().zip(&addrs) {
        g.bench_with_input(
            BenchmarkId::new(format!("Teredo::decode {name}"), 16),
            a,
            |b, a| b.iter(|| Teredo::decode(black_box(*a))),
        );
        g.bench_with_input(
            BenchmarkId::new(format!("classify {name}"), 16),
            a,
            |b, a| b.iter(|| classify(black_box(*a))),
        );
    }
    g.finish();

    let mut g = c.benchmark_group("teredo/recognize");
    let bubble = {
        let mut b = vec![0u8; 40];
        b[0] = 0x60;
        b[6] = 59;
        b
    };
    let mut relayed = encode_origin_indication(44331, Ipv4Addr::new(203, 0, 113, 1)).to_vec();
    relayed.extend_from_slice(&icmpv6_echo(104));
    let mut dns = vec![0x61, 0x23, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7];
    dns.extend_from_slice(b"example\x03com\x00\x00\x1c\x00\x01");
    let mut quic = vec![0x4f; 1200];
    quic[0] = 0x65; // a short-header QUIC packet that starts with nibble 6
    let cases: [(&str, Vec<u8>); 6] = [
        ("teredo bubble", bubble),
        ("teredo data+origin", relayed),
        ("teredo data", icmpv6_echo(1280)),
        ("dns 0x6123", dns),
        ("quic short", quic),
        ("rtp", vec![0x80; 172]),
    ];
    for (name, payload) in &cases {
        g.throughput(Throughput::Bytes(payload.len() as u64));
        g.bench_with_input(BenchmarkId::new(*name, payload.len()), payload, |b, p| {
            b.iter(|| recognize(black_box(p)).is_ok())
        });
    }
    g.finish();
}

criterion_group! { name = teredo; config = sixfold_benches::criterion_config(); targets = benches }
criterion_main!(teredo);
