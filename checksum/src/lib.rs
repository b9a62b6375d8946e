#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]

#[cfg(any(feature = "std", test))]
extern crate std;

mod accumulator;
pub mod incremental;
pub mod offload;
pub mod pseudo;
mod sum;
pub mod udp;
pub mod variants;

pub use accumulator::Accumulator;
pub use sum::Sum;

/// Inputs up to this many bytes are summed inline with 16-byte vectors (SSE2 on
/// x86_64, NEON on aarch64, scalar elsewhere); longer ones go to the widest kernel
/// this CPU runs, whose call and set-up cost more than they save below it.
pub const SMALL_MAX: usize = 128;

/// The final Internet checksum of `data`: the complement of the folded sum, as the
/// number whose `to_be_bytes()` are the wire bytes. Empty input gives 0xFFFF.
///
/// For UDP, which sends a computed 0 as 0xFFFF, use [`udp::finish`] on the [`sum`].
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    sum(data).checksum()
}

/// The folded, uncomplemented one's-complement sum of `data`.
///
/// Headers (20 and 40 bytes are special-cased) and other inputs up to
/// [`SMALL_MAX`] bytes are summed inline; longer ones go to the fastest vector
/// variant for this CPU, chosen once on first use.
#[inline]
pub fn sum(data: &[u8]) -> Sum {
    if let Ok(header) = <&[u8; 20]>::try_from(data) {
        return variants::exact20(header);
    }
    if let Ok(header) = <&[u8; 40]>::try_from(data) {
        return variants::exact40(header);
    }
    if data.len() <= SMALL_MAX {
        return variants::small(data);
    }
    variants::long(data)
}

/// Whether `data`, checksum field included, sums to −0 (RFC 1071 §1 (2)). For UDP,
/// where a 0 field means "no checksum", use [`udp::verify`].
#[inline]
pub fn verify(data: &[u8]) -> bool {
    sum(data) == Sum::NEG_ZERO
}

/// The name of the variant [`sum`] uses for inputs longer than [`SMALL_MAX`] on
/// this CPU: `"avx512"`, `"avx2"`, `"neon"` or `"wide"`.
pub fn chosen_variant() -> &'static str {
    variants::chosen()
}
