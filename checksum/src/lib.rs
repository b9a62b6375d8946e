//! The Internet checksum (RFC 1071), exact at ±0 and fast.
//!
//! - [`checksum`] and [`sum`]: the checksum of a buffer, and its uncomplemented
//!   [`Sum`], using the fastest [`variants`] implementation for this CPU.
//! - [`incremental`]: RFC 1624 eqn. 3 updates of a stored checksum when fields change.
//! - [`pseudo`]: IPv4 and IPv6 pseudo-header sums for TCP, UDP and ICMPv6.
//! - [`udp`] and [`offload`]: the ±0 rules as types — UDP's "0 means no checksum",
//!   "a computed 0 is sent as 0xFFFF", IPv6 zero-checksum mode, and offload partial
//!   checksums that are sums, not checksums.
//!
//! No function panics on any input; every variant agrees with the RFC 1071
//! [`variants::reference`] on every length and alignment (property-tested and
//! fuzzed). `unsafe` is confined to the SIMD module, where it only calls
//! `#[target_feature]` functions after checking the CPU.
//!
//! ```
//! use sixfold_checksum::{checksum, sum, verify};
//! // RFC 1071 §3's example bytes.
//! let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
//! assert_eq!(sum(&data).get(), 0xddf2);
//! assert_eq!(checksum(&data), 0x220d);
//! // Data followed by its checksum sums to −0.
//! let mut packet = data.to_vec();
//! packet.extend_from_slice(&checksum(&data).to_be_bytes());
//! assert!(verify(&packet));
//! ```
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

/// Inputs up to this many bytes take the inlined scalar path: below it, vector
/// set-up and the alignment head and tail cost more than they save.
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
