//! Portable SIMD with the `wide` crate: the same code on every target, lowered to
//! whatever vector instructions the build enables (SSE2 on a default x86-64 build,
//! NEON on aarch64, AVX2 with `-C target-cpu=native`).

use super::{Lanes, vector_tail};
use crate::sum::Sum;
use wide::u64x4;

/// 32-byte vectors of four u64 lanes; each lane accumulates the whole word (mod 2^64)
/// and, separately, its high 32 bits, from which the exact sum of both 32-bit halves
/// is recovered at the end (see [`Lanes`]). Three vector operations per 32 bytes and
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
