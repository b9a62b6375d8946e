//! Scalar implementations: the RFC 1071 oracle, 32- and 64-bit accumulators, and the
//! branch-light path for headers (≤ 128 bytes) that [`crate::sum`] inlines.

use crate::sum::{Sum, fold32, fold64, fold128, from_native};

/// RFC 1071 §1 literally: one big-endian 16-bit word at a time, the end-around carry
/// added back after every word, an odd last byte padded with a zero low byte.
///
/// This is the oracle every other variant is tested against. It is slow on purpose:
/// nothing in it can hide a lost carry.
pub fn reference(data: &[u8]) -> Sum {
    let (words, rest) = data.as_chunks::<2>();
    let mut acc: u32 = 0;
    for word in words {
        acc += u16::from_be_bytes(*word) as u32;
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    if let [last] = rest {
        acc += (*last as u32) << 8;
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    Sum::new(acc as u16)
}

/// How many 16-bit words [`accum32`] adds before it folds.
///
/// After a fold the accumulator holds at most 0xFFFF; each word adds at most 0xFFFF;
/// `0xFFFF × (1 + n) ≤ 0xFFFF_FFFF` holds up to n = 65,536. We fold every
/// 2^16 − 1 = 65,535 words (2^17 − 2 = 131,070 bytes), inside that bound. One IPv4
/// packet (≤ 65,535 bytes) never needs a second fold, but an IPv6 jumbogram
/// (RFC 2675, up to 4 GiB) does: a u32 accumulator that never folds — smoltcp,
/// pnet and DPDK's single-call loop — is wrong past 131,074 bytes of 0xFF.
pub const ACCUM32_FOLD_WORDS: usize = 65_535;

/// RFC 1071 §2(D) deferred carries: native-endian 16-bit words summed into a 32-bit
/// accumulator whose high half collects the carries, folded every
/// [`ACCUM32_FOLD_WORDS`] words so it can never overflow.
pub fn accum32(data: &[u8]) -> Sum {
    let (words, rest) = data.as_chunks::<2>();
    let mut folded: u16 = 0;
    for block in words.chunks(ACCUM32_FOLD_WORDS) {
        let mut acc = folded as u32;
        for word in block {
            acc += u16::from_ne_bytes(*word) as u32;
        }
        folded = fold32(acc);
    }
    let mut acc = folded as u32;
    if let [last] = rest {
        acc += u16::from_ne_bytes([*last, 0]) as u32;
    }
    from_native(fold32(acc))
}

/// Native-endian 32-bit words summed into 64-bit accumulators (carries deferred into
/// the high half), four independent accumulators so the adds do not wait on each other.
/// A u64 holds 2^32 + 1 words of 0xFFFF_FFFF; blocks of 2^30 words per accumulator
/// keep every input length exact.
pub fn accum64(data: &[u8]) -> Sum {
    const BLOCK_WORDS: usize = 1 << 30;
    let (quads, rest) = data.as_chunks::<16>();
    let mut total: u128 = 0;
    for block in quads.chunks(BLOCK_WORDS) {
        let mut acc = [0u64; 4];
        for quad in block {
            let (words, _) = quad.as_chunks::<4>();
            for (a, w) in acc.iter_mut().zip(words) {
                *a += u32::from_ne_bytes(*w) as u64;
            }
        }
        total += acc.iter().map(|&a| a as u128).sum::<u128>();
    }
    // `rest` starts at a multiple of 16 bytes: an even offset, no rotation.
    total += native_small(rest) as u128;
    from_native(fold128(total))
}

/// Sum of up to any length with u64 words into a u128 accumulator (the compiler
/// emits `add`/`adc` pairs), then 4/2/1-byte steps: the short-input path on targets
/// without 128-bit vectors (see [`super::portable::small`] for the others).
#[cfg_attr(
    any(target_feature = "sse2", target_feature = "neon"),
    allow(dead_code)
)]
#[inline(always)]
pub(crate) fn small(data: &[u8]) -> Sum {
    from_native(fold64(native_small(data)))
}

/// The IPv4 header case: exactly 20 bytes, five 32-bit words.
#[inline(always)]
pub(crate) fn exact20(data: &[u8; 20]) -> Sum {
    let (w, _) = data.as_chunks::<4>();
    let acc = w.iter().map(|w| u32::from_ne_bytes(*w) as u64).sum::<u64>();
    from_native(fold64(acc))
}

/// The IPv6 header case: exactly 40 bytes, five 64-bit words.
#[inline(always)]
pub(crate) fn exact40(data: &[u8; 40]) -> Sum {
    let (w, _) = data.as_chunks::<8>();
    let acc = w
        .iter()
        .map(|w| u64::from_ne_bytes(*w) as u128)
        .sum::<u128>();
    from_native(fold128(acc))
}

/// Unfolded native-endian partial sum of `data`, which starts at an even offset.
/// The result is congruent modulo 2^16 − 1 to the native 16-bit word sum, and is
/// zero only when every byte is.
#[inline(always)]
pub(crate) fn native_small(data: &[u8]) -> u64 {
    // Two independent add/adc chains, so each word waits only for its own chain's
    // carry flag.
    let (pairs, mut rest) = data.as_chunks::<16>();
    let (mut even, mut odd): (u128, u128) = (0, 0);
    for pair in pairs {
        let (words, _) = pair.as_chunks::<8>();
        even += u64::from_ne_bytes(words[0]) as u128;
        odd += u64::from_ne_bytes(words[1]) as u128;
    }
    // At most 2^124 words fit each chain; the sum of both cannot overflow a u128.
    let mut acc = even + odd;
    if let Some((w, r)) = rest.split_first_chunk::<8>() {
        acc += u64::from_ne_bytes(*w) as u128;
        rest = r;
    }
    acc += under8(rest) as u128;
    let (s, carry) = (acc as u64).overflowing_add((acc >> 64) as u64);
    s + carry as u64
}

/// The unfolded native-endian sum of fewer than 8 bytes at an even offset (4, 2
/// and 1 bytes; an odd last byte is padded with a zero byte), below 2^33.
#[inline(always)]
pub(crate) fn under8(mut rest: &[u8]) -> u64 {
    debug_assert!(rest.len() < 8);
    let mut sum: u64 = 0;
    if let Some((w, r)) = rest.split_first_chunk::<4>() {
        sum += u32::from_ne_bytes(*w) as u64;
        rest = r;
    }
    if let Some((w, r)) = rest.split_first_chunk::<2>() {
        sum += u16::from_ne_bytes(*w) as u64;
        rest = r;
    }
    if let [last] = rest {
        sum += u16::from_ne_bytes([*last, 0]) as u64;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_rfc1071_section3_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xDDF2 (after the
        // end-around carry of 0x2DDF0), checksum 0x220D.
        let data = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];
        for f in [reference, accum32, accum64, small] {
            assert_eq!(f(&data), Sum::new(0xDDF2));
        }
    }

    #[test]
    fn odd_length_pads_low_byte() {
        assert_eq!(reference(&[0x42]), Sum::new(0x4200));
        assert_eq!(accum32(&[0x42]), Sum::new(0x4200));
        assert_eq!(accum64(&[0x42]), Sum::new(0x4200));
        assert_eq!(small(&[0x42]), Sum::new(0x4200));
        assert_eq!(small(&[0x01, 0x02, 0x03]), Sum::new(0x0402));
    }

    #[test]
    fn empty_and_all_zero_are_plus_zero() {
        for f in [reference, accum32, accum64, small] {
            assert_eq!(f(&[]), Sum::ZERO);
            assert_eq!(f(&[0; 77]), Sum::ZERO);
        }
    }

    #[test]
    fn accum32_folds_before_overflow() {
        // 65,537 words of 0xFFFF fill a u32 exactly; one more word wraps it. The
        // right sum of any run of 0xFFFF words is 0xFFFF.
        let data = [0xFF; 131_076];
        assert_eq!(accum32(&data), Sum::NEG_ZERO);
        assert_eq!(reference(&data), Sum::NEG_ZERO);
    }

    #[test]
    fn header_shortcuts_match_reference() {
        let mut h = [0u8; 40];
        for (i, b) in h.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(97).wrapping_add(0xE1);
        }
        let h20: &[u8; 20] = h.first_chunk().unwrap();
        assert_eq!(exact20(h20), reference(h20));
        assert_eq!(exact40(&h), reference(&h));
        assert_eq!(exact40(&[0xFF; 40]), Sum::NEG_ZERO);
        assert_eq!(exact20(&[0; 20]), Sum::ZERO);
    }
}
