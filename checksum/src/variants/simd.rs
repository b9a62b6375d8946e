//! Explicit SIMD: AVX2 and AVX-512 on x86_64, NEON on aarch64.
//!
//! This is the only module of the crate allowed to use `unsafe`, and only for one
//! thing: calling a `#[target_feature]` function, which is sound exactly when the
//! CPU has that feature. Each public function checks the CPU first (at run time with
//! the `std` feature, at compile time without) and falls back to
//! [`super::accum64`] when the feature is missing, so every public function here is
//! safe to call on any CPU. Loads go through `bytemuck::pod_align_to`, never pointer
//! casts (`pod_read_unaligned` compiles to one unaligned vector load).
#![allow(unsafe_code)]

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
use super::{Lanes, vector_tail, with_head};

/// From this many bytes on, the x86 loops align their vector loads (see `vector_sum!`).
#[cfg(target_arch = "x86_64")]
const ALIGN_FROM: usize = 4096;
use crate::sum::Sum;

/// Whether this CPU can run [`avx2`] natively (otherwise it falls back).
pub fn has_avx2() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(target_arch = "x86_64", target_feature = "avx2"))
    }
}

/// Whether this CPU can run [`avx512`] natively (otherwise it falls back).
pub fn has_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(target_arch = "x86_64", target_feature = "avx512f"))
    }
}

/// Whether this CPU can run [`neon`] natively: NEON is part of every aarch64 CPU.
pub fn has_neon() -> bool {
    cfg!(target_arch = "aarch64")
}

/// AVX2: 32-byte vectors, four independent pairs of accumulators (whole-word and
/// high-half, as in [`super::wide`]), so 128 bytes per loop iteration with no
/// dependency between the four. Falls back to [`super::accum64`] without AVX2.
pub fn avx2(data: &[u8]) -> Sum {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: `avx2_sum` only requires the `avx2` target feature, and
        // `has_avx2()` just confirmed this CPU has it (cpuid via
        // `is_x86_feature_detected!`, or the build's own target features).
        return unsafe { x86::avx2_sum(data) };
    }
    super::accum64(data)
}

/// AVX-512F: 64-byte vectors, four accumulator pairs, 256 bytes per loop iteration.
/// Falls back to [`super::accum64`] without AVX-512F.
pub fn avx512(data: &[u8]) -> Sum {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: `avx512_sum` only requires the `avx512f` target feature, and
        // `has_avx512()` just confirmed this CPU has it.
        return unsafe { x86::avx512_sum(data) };
    }
    super::accum64(data)
}

/// NEON (aarch64): `vpadalq_u32` adds adjacent 32-bit halves into 64-bit lanes, one
/// instruction per 16 bytes. Falls back to [`super::accum64`] on other architectures.
///
/// Not compiled on the x86_64 machines this crate is developed on (no aarch64
/// target installed there); see the README.
pub fn neon(data: &[u8]) -> Sum {
    #[cfg(target_arch = "aarch64")]
    {
        return arm::neon_sum(data);
    }
    #[allow(unreachable_code)]
    super::accum64(data)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Lanes, Sum, vector_tail, with_head};
    use core::arch::x86_64::*;

    /// The loop shared by the AVX2 and AVX-512 bodies: unaligned vector loads through
    /// `bytemuck::pod_read_unaligned`, four independent (whole, high) accumulator
    /// pairs per iteration, combined in registers at the end (the recovery in
    /// [`Lanes`] is linear modulo 2^64, so lanes may be added before it).
    macro_rules! vector_sum {
        ($data:expr, $vec:ty, $bytes:literal, $lanes:literal, $zero:expr, $add:ident, $srli:ident) => {{
            // Large inputs start the vector loop at a vector-aligned address: glibc
            // hands out big buffers at page + 16, where every other unaligned load
            // would split a cache line (measured: 81% vs 91% of the read ceiling at
            // 16 MiB). Short ones skip the scalar head, which costs more than it saves.
            let data: &[u8] = $data;
            let head_len = if data.len() >= super::ALIGN_FROM {
                bytemuck::pod_align_to::<u8, $vec>(data).0.len()
            } else {
                0
            };
            let (head, body) = data.split_at(head_len);
            let mut lanes = Lanes::default();
            let (vectors, tail) = body.as_chunks::<$bytes>();
            for block in vectors.chunks(Lanes::MAX_VECTORS_PER_LANE) {
                let load = |v: &[u8; $bytes]| bytemuck::pod_read_unaligned::<$vec>(v);
                let mut whole = [$zero; 4];
                let mut high = [$zero; 4];
                let (quads, rest) = block.as_chunks::<4>();
                for quad in quads {
                    for i in 0..4 {
                        let v = load(&quad[i]);
                        whole[i] = $add(whole[i], v);
                        high[i] = $add(high[i], $srli::<32>(v));
                    }
                }
                for (i, v) in rest.iter().enumerate() {
                    let v = load(v);
                    whole[i] = $add(whole[i], v);
                    high[i] = $add(high[i], $srli::<32>(v));
                }
                let whole = $add($add(whole[0], whole[1]), $add(whole[2], whole[3]));
                let high = $add($add(high[0], high[1]), $add(high[2], high[3]));
                lanes.add(
                    &bytemuck::cast::<$vec, [u64; $lanes]>(whole),
                    &bytemuck::cast::<$vec, [u64; $lanes]>(high),
                );
            }
            with_head(head, vector_tail(lanes, tail))
        }};
    }

    /// Sums `data` in AVX2 registers.
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2_sum(data: &[u8]) -> Sum {
        vector_sum!(
            data,
            __m256i,
            32,
            4,
            _mm256_setzero_si256(),
            _mm256_add_epi64,
            _mm256_srli_epi64
        )
    }

    /// Sums `data` in AVX-512 registers.
    #[target_feature(enable = "avx512f")]
    pub(super) fn avx512_sum(data: &[u8]) -> Sum {
        vector_sum!(
            data,
            __m512i,
            64,
            8,
            _mm512_setzero_si512(),
            _mm512_add_epi64,
            _mm512_srli_epi64
        )
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{Lanes, Sum, vector_tail};
    use core::arch::aarch64::*;

    /// Sums the aligned body of `data` in NEON registers: `vpadalq_u32` widens and
    /// adds, so each u64 lane holds an exact sum of 32-bit words (no high-half trick).
    pub(super) fn neon_sum(data: &[u8]) -> Sum {
        let (vectors, tail) = data.as_chunks::<16>();
        let mut lanes = Lanes::default();
        for block in vectors.chunks(Lanes::MAX_VECTORS_PER_LANE) {
            let load = |v: &[u8; 16]| bytemuck::pod_read_unaligned::<uint32x4_t>(v);
            let zero = vdupq_n_u64(0);
            let mut acc = [zero; 4];
            let (quads, rest) = block.as_chunks::<4>();
            for quad in quads {
                for i in 0..4 {
                    acc[i] = vpadalq_u32(acc[i], load(&quad[i]));
                }
            }
            for (i, v) in rest.iter().enumerate() {
                acc[i] = vpadalq_u32(acc[i], load(v));
            }
            for a in acc {
                lanes.add_exact(&bytemuck::cast::<uint64x2_t, [u64; 2]>(a));
            }
        }
        vector_tail(lanes, tail)
    }
}
