//! Explicit SIMD: AVX2 and AVX-512 on x86_64, NEON on aarch64, and the dispatch
//! that [`crate::sum`] uses for long inputs.
//!
//! This is the only module of the crate allowed to use `unsafe`, for three things:
//! calling a `#[target_feature]` function, which is sound exactly when the CPU has
//! that feature; one masked AVX-512 load, which touches only the bytes its mask
//! selects; and turning the dispatch's stored pointer back into the function it was
//! made from. Each public function checks the CPU first (at run time with the `std`
//! feature, at compile time without) and falls back to [`super::accum64`] when the
//! feature is missing, so every public function here is safe to call on any CPU.
//! Whole-vector loads go through `bytemuck`, never pointer casts
//! (`pod_read_unaligned` compiles to one unaligned vector load).
#![allow(unsafe_code)]

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
use super::{Lanes, vector_tail, with_head};

/// From this many bytes on, the x86 loops align their vector loads (see `split_aligned`).
#[cfg(target_arch = "x86_64")]
const ALIGN_FROM: usize = 4096;
use crate::sum::Sum;
use core::sync::atomic::{AtomicPtr, Ordering};

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

/// Whether this CPU can run [`avx512`] natively (otherwise it falls back): it needs
/// AVX-512F, AVX-512BW (byte-masked loads) and AVX-512 VNNI (`vpdpwssd`), as on
/// Intel Ice Lake and later and AMD Zen 4 and later.
pub fn has_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
    {
        cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vnni"
        ))
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

/// AVX-512 with VNNI: each 64-byte vector is 32 words, biased to signed (`w ^ 0x8000`
/// is `w − 32768` as an `i16`) and summed in pairs into 32-bit lanes by one
/// `vpdpwssd` (multiply by 1 and accumulate); eight independent accumulators.
/// Two vector operations per 64 bytes and no carry in the loop: the lanes wrap
/// modulo 2^32, and the exact sum of a block of at most 65,536 words (128 KiB) is
/// below 2^32, so adding the bias back modulo 2^32 recovers it exactly. The last
/// partial vector is read with a byte-masked load. Falls back to
/// [`super::accum64`] without AVX-512F, BW and VNNI (see [`has_avx512`]).
pub fn avx512(data: &[u8]) -> Sum {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: `avx512_sum` only requires the `avx512f`, `avx512bw` and
        // `avx512vnni` target features, and `has_avx512()` just confirmed this CPU
        // has all three.
        return unsafe { x86::avx512_sum(data) };
    }
    super::accum64(data)
}

/// NEON (aarch64): `vpadalq_u32` adds adjacent 32-bit halves into 64-bit lanes, one
/// instruction per 16 bytes. Falls back to [`super::accum64`] on other architectures.
///
/// Not compiled on the x86_64 machines this crate is developed on (no aarch64
/// target installed there); see docs/performance.md.
pub fn neon(data: &[u8]) -> Sum {
    #[cfg(target_arch = "aarch64")]
    {
        return arm::neon_sum(data);
    }
    #[allow(unreachable_code)]
    super::accum64(data)
}

/// A kernel as the dispatch stores it. `unsafe` because a `#[target_feature]`
/// kernel may only be called on a CPU with its features.
type Kernel = unsafe fn(&[u8]) -> Sum;

/// The kernel [`long`] calls: [`detect`] until the first call has chosen one.
/// Only values of type [`Kernel`] are ever stored, and only [`detect`] or a
/// kernel whose features [`best`] confirmed.
static CHOSEN: AtomicPtr<()> = AtomicPtr::new(detect as Kernel as *mut ());

/// The sum of an input longer than [`crate::SMALL_MAX`], by the fastest kernel for
/// this CPU. When the build itself enables AVX-512 (`-C target-cpu=...`) this is a
/// direct call. Otherwise the CPU is examined once, on the first call, and every
/// later call is one relaxed load of the stored function pointer (a plain `mov` on
/// x86_64 and aarch64) and an indirect call: no feature test, no branch.
#[inline(always)]
pub(crate) fn long(data: &[u8]) -> Sum {
    #[cfg(target_arch = "x86_64")]
    if cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vnni"
    )) {
        // SAFETY: this branch exists only in builds told to assume AVX-512F, BW
        // and VNNI (`-C target-feature`/`target-cpu`), which run only on such CPUs.
        return unsafe { x86::avx512_sum(data) };
    }
    let stored = CHOSEN.load(Ordering::Relaxed);
    // SAFETY: `CHOSEN` only ever holds pointers made from values of type `Kernel`
    // (its initialiser and the store in `detect`), and a function pointer converted
    // to `*mut ()` and back is the same function pointer.
    let kernel = unsafe { core::mem::transmute::<*mut (), Kernel>(stored) };
    // SAFETY: the stored kernel is `detect`, which has no preconditions, or the
    // kernel `best()` chose because this CPU has its target features.
    unsafe { kernel(data) }
}

/// The first call of [`long`]: chooses the kernel, stores it, and calls it.
fn detect(data: &[u8]) -> Sum {
    let (_, kernel) = best();
    CHOSEN.store(kernel as *mut (), Ordering::Relaxed);
    // SAFETY: `best()` returns a kernel only when this CPU has its target features.
    unsafe { kernel(data) }
}

/// The fastest kernel this CPU runs, with its name. AVX-512 first: on the Zen 5
/// machine of docs/performance.md's table it is the fastest from 256 bytes up (VNNI does
/// the widening add in one instruction, and Zen 5 has full-width 512-bit units).
fn best() -> (&'static str, Kernel) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return ("avx512", x86::avx512_sum);
        }
        if has_avx2() {
            return ("avx2", x86::avx2_sum);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        return ("neon", arm::neon_sum);
    }
    #[allow(unreachable_code)]
    ("wide", super::wide)
}

/// The name of the variant [`crate::sum`] uses for inputs longer than
/// [`crate::SMALL_MAX`] on this CPU.
pub fn chosen() -> &'static str {
    best().0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Lanes, Sum, vector_tail, with_head};
    use crate::sum::{fold32, fold128, from_native};
    use core::arch::x86_64::*;

    /// Splits off the scalar head that makes the rest start at an `align`-byte
    /// boundary, for inputs of [`super::ALIGN_FROM`] bytes and more. glibc hands out
    /// big buffers at page + 16, where every other unaligned 32- or 64-byte load
    /// would split a cache line (measured: 81% vs 91% of the read ceiling at 16 MiB).
    /// Short inputs skip the head, which costs more than it saves.
    #[inline(always)]
    fn split_aligned<V: bytemuck::Pod>(data: &[u8]) -> (&[u8], &[u8]) {
        let head_len = if data.len() >= super::ALIGN_FROM {
            bytemuck::pod_align_to::<u8, V>(data).0.len()
        } else {
            0
        };
        data.split_at(head_len)
    }

    /// Sums `data` in AVX2 registers: unaligned vector loads through
    /// `bytemuck::pod_read_unaligned`, four independent (whole, high) accumulator
    /// pairs per iteration, combined in registers at the end (the recovery in
    /// [`Lanes`] is linear modulo 2^64, so lanes may be added before it).
    #[target_feature(enable = "avx2")]
    pub(super) fn avx2_sum(data: &[u8]) -> Sum {
        let (head, body) = split_aligned::<__m256i>(data);
        let mut lanes = Lanes::default();
        let (vectors, tail) = body.as_chunks::<32>();
        let load = |v: &[u8; 32]| bytemuck::pod_read_unaligned::<__m256i>(v);
        for block in vectors.chunks(Lanes::MAX_VECTORS_PER_LANE) {
            let mut whole = [_mm256_setzero_si256(); 4];
            let mut high = [_mm256_setzero_si256(); 4];
            let (quads, rest) = block.as_chunks::<4>();
            for quad in quads {
                for i in 0..4 {
                    let v = load(&quad[i]);
                    whole[i] = _mm256_add_epi64(whole[i], v);
                    high[i] = _mm256_add_epi64(high[i], _mm256_srli_epi64::<32>(v));
                }
            }
            for (i, v) in rest.iter().enumerate() {
                let v = load(v);
                whole[i] = _mm256_add_epi64(whole[i], v);
                high[i] = _mm256_add_epi64(high[i], _mm256_srli_epi64::<32>(v));
            }
            let sum4 = |x: [__m256i; 4]| {
                _mm256_add_epi64(_mm256_add_epi64(x[0], x[1]), _mm256_add_epi64(x[2], x[3]))
            };
            lanes.add(
                &bytemuck::cast::<__m256i, [u64; 4]>(sum4(whole)),
                &bytemuck::cast::<__m256i, [u64; 4]>(sum4(high)),
            );
        }
        with_head(head, vector_tail(lanes, tail))
    }

    /// Vectors per block of [`avx512_sum`]: with the masked last vector, at most
    /// 2,041 × 32 = 65,312 words, whose sum (≤ 65,312 × 0xFFFF) is below 2^32.
    const BLOCK_VECTORS: usize = 2040;

    /// Sums `data` in AVX-512 registers (see [`super::avx512`]). Inputs shorter
    /// than [`super::ALIGN_FROM`] are one block, whose exact sum is a `u32`; the
    /// rest take [`avx512_long`], out of line so that this path stays lean.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn avx512_sum(data: &[u8]) -> Sum {
        const _: () = assert!(super::ALIGN_FROM <= BLOCK_VECTORS * 64);
        if data.len() >= super::ALIGN_FROM {
            return avx512_long(data);
        }
        let (vectors, tail) = data.as_chunks::<64>();
        from_native(fold32(avx512_block(vectors, tail)))
    }

    /// [`avx512_sum`] for inputs of [`super::ALIGN_FROM`] bytes and more: an
    /// aligning scalar head, then blocks of [`BLOCK_VECTORS`] vectors.
    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn avx512_long(data: &[u8]) -> Sum {
        let (head, body) = split_aligned::<__m512i>(data);
        let (vectors, tail) = body.as_chunks::<64>();
        let (full, last) = vectors.split_at(vectors.len() - vectors.len() % BLOCK_VECTORS);
        let mut total: u128 = 0;
        for block in full.chunks_exact(BLOCK_VECTORS) {
            total += avx512_block(block, &[]) as u128;
        }
        total += avx512_block(last, tail) as u128;
        with_head(head, from_native(fold128(total)))
    }

    /// The exact native-endian word sum of `vectors` followed by `tail` (shorter than
    /// one vector), for at most [`BLOCK_VECTORS`] vectors.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn avx512_block(vectors: &[[u8; 64]], tail: &[u8]) -> u32 {
        debug_assert!(vectors.len() <= BLOCK_VECTORS && tail.len() < 64);
        let bias = _mm512_set1_epi16(i16::MIN);
        let ones = _mm512_set1_epi16(1);
        let add =
            |acc: __m512i, v: __m512i| _mm512_dpwssd_epi32(acc, _mm512_xor_si512(v, bias), ones);
        let load = |v: &[u8; 64]| bytemuck::pod_read_unaligned::<__m512i>(v);
        let mut acc = [_mm512_setzero_si512(); 8];
        let (octets, rest) = vectors.as_chunks::<8>();
        for octet in octets {
            for i in 0..8 {
                acc[i] = add(acc[i], load(&octet[i]));
            }
        }
        for (i, v) in rest.iter().enumerate() {
            acc[i] = add(acc[i], load(v));
        }
        let mut words = vectors.len() * 32;
        if !tail.is_empty() {
            let mask: __mmask64 = (1 << tail.len()) - 1;
            // SAFETY: `mask` selects bytes 0..tail.len() of the 64 the load could
            // touch, and exactly those bytes lie in `tail`. A masked-off byte is not
            // read and cannot fault (Intel SDM vol. 1 §15.4.1, "Memory Fault
            // Suppression"); it comes back as zero, which is the zero padding
            // RFC 1071 asks for after an odd last byte.
            let v = unsafe { _mm512_maskz_loadu_epi8(mask, tail.as_ptr().cast()) };
            acc[7] = add(acc[7], v);
            words += 32;
        }
        let a = _mm512_add_epi32(
            _mm512_add_epi32(
                _mm512_add_epi32(acc[0], acc[1]),
                _mm512_add_epi32(acc[2], acc[3]),
            ),
            _mm512_add_epi32(
                _mm512_add_epi32(acc[4], acc[5]),
                _mm512_add_epi32(acc[6], acc[7]),
            ),
        );
        // Every lane and this sum wrap modulo 2^32; the sum of `w − 32768` over
        // `words` words plus `words · 32768` is the word sum, which is below 2^32.
        (_mm512_reduce_add_epi32(a) as u32).wrapping_add((words as u32).wrapping_mul(1 << 15))
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
