//! Internet checksum: every sixfold variant, `checksum()`, the peer crates, and plain
//! u64 wrapping sums as the read-bandwidth ceiling, side by side per size.
//!
//! The read loops are the same Rust loop compiled three ways: for the default
//! x86-64 target (SSE2), and with AVX2 or AVX-512F enabled on the function, where
//! LLVM vectorises it with 32- or 64-byte loads into four accumulators. The faster
//! of the AVX2 and AVX-512 loops is the ceiling `checksum()` is measured against.
//!
//! `scripts/bench-checksum.sh` runs this and prints the table; by hand:
//! `cargo bench -p sixfold-benches --bench checksum`, then
//! `cargo run --release -p sixfold-benches --bin bench-table -- checksum`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sixfold_checksum::variants::ALL;
use std::hint::black_box;

const SIZES: [usize; 9] = [20, 40, 64, 128, 576, 1500, 9000, 65_535, 16 << 20];

/// Wrapping sum of native u64 words: not a checksum (carries are lost), only the
/// speed at which one core can read and add the bytes.
#[inline(always)]
fn u64_sum(data: &[u8]) -> u64 {
    let (words, rest) = data.as_chunks::<8>();
    let mut acc = words
        .iter()
        .fold(0u64, |a, w| a.wrapping_add(u64::from_ne_bytes(*w)));
    for &b in rest {
        acc = acc.wrapping_add(b as u64);
    }
    acc
}

/// [`u64_sum`] for the default target: SSE2, 16-byte loads.
fn read_loop_sse2(data: &[u8]) -> u64 {
    u64_sum(data)
}

/// [`u64_sum`] vectorised with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_loop_avx2(data: &[u8]) -> u64 {
    u64_sum(data)
}

/// [`u64_sum`] vectorised with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn read_loop_avx512(data: &[u8]) -> u64 {
    u64_sum(data)
}

fn input(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn checksum_benches(c: &mut Criterion) {
    for size in SIZES {
        let data = input(size);
        let mut group = c.benchmark_group(format!("checksum/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        if size > 1 << 20 {
            group.sample_size(20);
        }
        let data = data.as_slice();

        group.bench_with_input(
            BenchmarkId::new("sixfold checksum()", size),
            data,
            |b, d| b.iter(|| sixfold_checksum::checksum(black_box(d))),
        );
        for v in ALL.iter().filter(|v| (v.native)()) {
            group.bench_with_input(
                BenchmarkId::new(format!("sixfold {}", v.name), size),
                data,
                |b, d| b.iter(|| (v.sum)(black_box(d))),
            );
        }
        group.bench_with_input(
            BenchmarkId::new("internet-checksum 0.2", size),
            data,
            |b, d| b.iter(|| internet_checksum::checksum(black_box(d))),
        );
        group.bench_with_input(BenchmarkId::new("smoltcp 0.14", size), data, |b, d| {
            b.iter(|| smoltcp::wire::checksum::data(black_box(d)))
        });
        group.bench_with_input(BenchmarkId::new("etherparse 0.21", size), data, |b, d| {
            b.iter(|| {
                etherparse::checksum::Sum16BitWords::new()
                    .add_slice(black_box(d))
                    .ones_complement()
            })
        });
        group.bench_with_input(BenchmarkId::new("pnet_packet 0.35", size), data, |b, d| {
            b.iter(|| pnet_packet::util::checksum(black_box(d), usize::MAX))
        });
        group.bench_with_input(
            BenchmarkId::new("u64 read loop, SSE2 (default build)", size),
            data,
            |b, d| b.iter(|| read_loop_sse2(black_box(d))),
        );
        #[cfg(target_arch = "x86_64")]
        for (name, present, read_loop) in [
            (
                "u64 read loop, AVX2 (ceiling)",
                is_x86_feature_detected!("avx2"),
                read_loop_avx2 as unsafe fn(&[u8]) -> u64,
            ),
            (
                "u64 read loop, AVX-512 (ceiling)",
                is_x86_feature_detected!("avx512f"),
                read_loop_avx512,
            ),
        ] {
            if present {
                group.bench_with_input(BenchmarkId::new(name, size), data, |b, d| {
                    // SAFETY: each read loop needs only the one target feature
                    // (AVX2, AVX-512F) whose presence `present` says.
                    b.iter(|| unsafe { read_loop(black_box(d)) })
                });
            }
        }
        group.finish();
    }
}

criterion_group! { name = benches; config = sixfold_benches::criterion_config(); targets = checksum_benches }
criterion_main!(benches);
