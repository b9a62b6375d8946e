//! Every implementation of [`crate::sum`], public and with one signature
//! (`fn(&[u8]) -> Sum`), named after its method, for tests and benchmarks.
//!
//! | name | method |
//! |---|---|
//! | [`reference()`] | RFC 1071 §1, one big-endian word at a time: the oracle |
//! | [`accum32`] | 16-bit words into a u32, carries deferred, fold every 65,535 words |
//! | [`accum64`] | 32-bit words into four u64 accumulators |
//! | [`wide()`] | portable SIMD (`wide::u64x4`) |
//! | [`avx2`] | x86_64 AVX2: 32-byte vectors, (whole, high-half) 64-bit lane pairs |
//! | [`avx512`] | x86_64 AVX-512F + BW + VNNI: `vpdpwssd` on biased words, masked last load |
//! | [`neon`] | aarch64 `vpadalq_u32` (not compiled on the x86_64 development machines) |
//!
//! The SIMD variants fall back to [`accum64`] on CPUs without their feature, so all
//! are safe to call anywhere; [`Variant::native`] says whether the real thing runs.

mod portable;
mod scalar;
mod simd;

#[cfg(any(target_feature = "sse2", target_feature = "neon"))]
pub(crate) use portable::small;
pub use portable::wide;
#[cfg(not(any(target_feature = "sse2", target_feature = "neon")))]
pub(crate) use scalar::small;
pub use scalar::{ACCUM32_FOLD_WORDS, accum32, accum64, reference};
pub(crate) use scalar::{exact20, exact40};
pub(crate) use simd::long;
pub use simd::{avx2, avx512, chosen, has_avx2, has_avx512, has_neon, neon};

use crate::sum::{Sum, fold64, fold128, from_native};

/// One implementation: its name, the function, and whether this CPU runs it natively.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// Short name, as used in benchmark tables.
    pub name: &'static str,
    /// The implementation.
    pub sum: fn(&[u8]) -> Sum,
    /// Whether this CPU has the instructions the variant is written for (when it
    /// does not, `sum` still works: it falls back to [`accum64`]).
    pub native: fn() -> bool,
}

fn always() -> bool {
    true
}

/// All variants, slowest first.
pub const ALL: &[Variant] = &[
    Variant {
        name: "reference",
        sum: reference,
        native: always,
    },
    Variant {
        name: "accum32",
        sum: accum32,
        native: always,
    },
    Variant {
        name: "accum64",
        sum: accum64,
        native: always,
    },
    Variant {
        name: "wide",
        sum: wide,
        native: always,
    },
    Variant {
        name: "avx2",
        sum: avx2,
        native: has_avx2,
    },
    Variant {
        name: "avx512",
        sum: avx512,
        native: has_avx512,
    },
    Variant {
        name: "neon",
        sum: neon,
        native: has_neon,
    },
];

/// Per-lane accumulation shared by the vector variants.
///
/// A vector lane `w` of 64 bits holds two 32-bit words `lo` and `hi`; the loop adds
/// `w` (wrapping, mod 2^64) into `whole` and `hi` into `high`. Then
/// `whole ≡ Σlo + 2^32·Σhi (mod 2^64)`, so `Σlo = whole − 2^32·high (mod 2^64)`, which
/// is exact while `Σlo < 2^64`, i.e. for fewer than 2^32 vectors per lane. The sum of
/// both halves is `Σlo + Σhi`, and every 32-bit word is congruent to the sum of its
/// 16-bit halves modulo 2^16 − 1.
#[derive(Default)]
struct Lanes {
    total: u128,
}

impl Lanes {
    /// Vectors a caller may add to one lane before handing it to [`Lanes::add`].
    const MAX_VECTORS_PER_LANE: usize = 1 << 31;

    #[inline(always)]
    fn add(&mut self, whole: &[u64], high: &[u64]) {
        for (&w, &h) in whole.iter().zip(high) {
            let low = w.wrapping_sub(h << 32);
            self.total += low as u128 + h as u128;
        }
    }

    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    #[inline(always)]
    fn add_exact(&mut self, lanes: &[u64]) {
        for &l in lanes {
            self.total += l as u128;
        }
    }
}

/// Combines the sum of an unaligned scalar head (at offset 0) with the sum of the
/// rest, which starts at offset `head.len()`: when that is odd, every word of the
/// rest straddles two words of the data, so its sum is byte-swapped (RFC 1071 §2(B)).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn with_head(head: &[u8], rest: Sum) -> Sum {
    if head.is_empty() {
        return rest;
    }
    from_native(fold64(scalar::native_small(head))) + rest.at_offset(head.len())
}

/// Adds the scalar tail (fewer bytes than one vector, at an even offset because
/// vectors are whole words) to the vector lanes and folds.
#[inline(always)]
fn vector_tail(lanes: Lanes, tail: &[u8]) -> Sum {
    from_native(fold128(lanes.total + scalar::native_small(tail) as u128))
}
