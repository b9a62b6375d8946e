//! Portable SIMD with the `wide` crate: the same code on every target, lowered to
//! whatever vector instructions the build enables (SSE2 on a default x86-64 build,
//! NEON on aarch64, AVX2 with `-C target-cpu=native`).

use super::{Lanes, scalar, vector_tail};
use crate::sum::{Sum, fold32, from_native};
use wide::{i16x8, i32x4, u64x4};

/// 32-byte vectors of four u64 lanes; each lane accumulates the whole word (mod 2^64)
/// and, separately, its high 32 bits, from which the exact sum of both 32-bit halves
/// is recovered at the end (`whole − 2^32·high`). Three vector operations per 32 bytes and
/// no carry in the loop.
pub fn wide(data: &[u8]) -> Sum {
    let (vectors, tail) = data.as_chunks::<32>();
    let load = |v: &[u8; 32]| bytemuck::pod_read_unaligned::<u64x4>(v);
    let mut lanes = Lanes::default();
    for block in vectors.chunks(Lanes::MAX_VECTORS_PER_LANE) {
        let mut whole = [u64x4::ZERO; 2];
        let mut high = [u64x4::ZERO; 2];
        let (pairs, rest) = block.as_chunks::<2>();
        for pair in pairs {
            for i in 0..2 {
                let v = load(&pair[i]);
                whole[i] += v;
                high[i] += v >> 32;
            }
        }
        for v in rest {
            let v = load(v);
            whole[0] += v;
            high[0] += v >> 32;
        }
        lanes.add(
            &(whole[0] + whole[1]).to_array(),
            &(high[0] + high[1]).to_array(),
        );
    }
    vector_tail(lanes, tail)
}

/// The inline path of [`crate::sum`] for short inputs (up to [`crate::SMALL_MAX`]
/// bytes): 16-byte vectors of eight words, each biased to signed (`w ^ 0x8000` is
/// `w − 32768` as an `i16`) and added in pairs into 32-bit lanes by one
/// multiply-add (`pmaddwd` on x86, `smull` + `addp` on aarch64). The lanes wrap
/// modulo 2^32; the exact word sum of up to 65,536 words is below 2^32, so adding
/// the bias back modulo 2^32 recovers it. A partial last vector is the last 16
/// bytes at an even offset with the bytes already counted masked to zero, and an
/// odd last byte is added on its own; inputs under 16 bytes are scalar.
///
/// Exact for inputs up to 128 KiB; [`crate::sum`] calls it only for short ones.
#[inline(always)]
pub(crate) fn small(data: &[u8]) -> Sum {
    debug_assert!(data.len() <= 1 << 17);
    let (vectors, tail) = data.as_chunks::<16>();
    if vectors.is_empty() {
        let x = tail_sum(tail);
        let x = (x & 0xFFFF) + (x >> 16);
        let x = (x & 0xFFFF) + (x >> 16);
        let x = (x & 0xFFFF) + (x >> 16);
        return from_native(x as u16);
    }
    let bias = i16x8::splat(i16::MIN);
    let ones = i16x8::splat(1);
    let add = |acc: i32x4, v: i16x8| acc + (v ^ bias).dot(ones);
    let load = |v: &[u8; 16]| bytemuck::pod_read_unaligned::<i16x8>(v);
    // One accumulator: at most eight vectors, and LLVM unrolls the loop by four
    // and reassociates the adds (two accumulators measured slower at 64 B).
    let mut acc = i32x4::ZERO;
    for v in vectors {
        acc = add(acc, load(v));
    }
    let mut words = vectors.len() * 8;
    let mut odd_byte = 0;
    if !tail.is_empty() {
        // The last 16 bytes from an even offset; the first `counted − start`
        // (1 to 16) of them were in the last whole vector.
        let start = (data.len() - 16) & !1;
        let counted = data.len() - tail.len();
        let window: &[u8; 16] = data[start..].first_chunk().unwrap_or(&[0; 16]);
        let mask: &[u8; 16] = MASK_AFTER[16 - (counted - start)..]
            .first_chunk()
            .unwrap_or(&[0; 16]);
        acc = add(acc, load(window) & load(mask));
        words += 8;
        if let [.., last] = tail
            && tail.len() % 2 == 1
        {
            odd_byte = u16::from_ne_bytes([*last, 0]) as u32;
        }
    }
    let x = (acc.reduce_add() as u32).wrapping_add((words as u32).wrapping_mul(1 << 15)) + odd_byte;
    from_native(fold32(x))
}

/// Sixteen zero bytes, then sixteen 0xFF: `MASK_AFTER[16 - k..][..16]` zeroes the
/// first `k` bytes of a vector and keeps the rest.
static MASK_AFTER: [u8; 32] = {
    let mut m = [0xFF; 32];
    let mut i = 0;
    while i < 16 {
        m[i] = 0;
        i += 1;
    }
    m
};

/// The unfolded native-endian sum of fewer than 16 bytes at an even offset, below
/// 2^35 (an 8-byte word as two 32-bit halves, then [`scalar::under8`]).
#[inline(always)]
fn tail_sum(tail: &[u8]) -> u64 {
    debug_assert!(tail.len() < 16);
    match tail.split_first_chunk::<8>() {
        Some((w, rest)) => {
            let w = u64::from_ne_bytes(*w);
            (w & 0xFFFF_FFFF) + (w >> 32) + scalar::under8(rest)
        }
        None => scalar::under8(tail),
    }
}
