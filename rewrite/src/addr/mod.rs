//! Address mapping for IPv4/IPv6 translation: which IPv6 address stands for an IPv4
//! one and back.
//!
//! - [`Nat64Prefix`]: RFC 6052 IPv4-embedded IPv6 addresses under the Well-Known
//!   Prefix 64:ff9b::/96 or a network-specific prefix of /32, /40, /48, /56, /64 or
//!   /96, with the u octet, and the RFC 6052 §3.1 check that keeps non-global IPv4
//!   addresses away from the Well-Known Prefix ([`Nat64Prefix::allows`]).
//! - [`Eamt`]: RFC 7757 explicit address mappings, longest-prefix match both ways.
//! - [`Rfc6791Ipv4`] / [`Rfc6791Ipv6`]: the RFC 6791 pools that give ICMP errors
//!   from untranslatable sources an address.
//! - [`Siit`]: the three together as stateless SIIT uses them (EAMT first, then
//!   RFC 6052, RFC 7757 §3.3), producing the plan a [`crate::translate::Translator`]
//!   call needs.
//!
//! Everything is `const`-friendly, allocation-free and total: no input panics.

use core::fmt;

mod eamt;
mod prefix;
mod rfc6052;
mod rfc6791;
mod siit;

pub use eamt::{EamEntry, Eamt};
pub use prefix::{Ipv4Prefix, Ipv6Prefix};
pub use rfc6052::{Nat64Prefix, is_non_global};
pub use rfc6791::{Rfc6791Ipv4, Rfc6791Ipv6};
pub use siit::Siit;

/// Why a prefix, an EAMT entry or a table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddrError {
    /// A prefix length beyond the address width.
    PrefixLength {
        /// The length given.
        len: u8,
        /// The address width (32 or 128).
        max: u8,
    },
    /// The address has bits set past the prefix length.
    HostBitsSet,
    /// RFC 6052 §2.2 allows only /32, /40, /48, /56, /64 and /96.
    Rfc6052Length(u8),
    /// Bits 64–71 (the u octet) of a NAT64 prefix must be zero (RFC 6052 §2.2).
    UOctetSet,
    /// An EAMT entry whose IPv4 suffix is longer than its IPv6 suffix (RFC 7757
    /// §3.2).
    EamSuffixTooLong {
        /// IPv4 host bits.
        ipv4_suffix: u8,
        /// IPv6 host bits.
        ipv6_suffix: u8,
    },
    /// Two EAMT entries with the same IPv4 prefix or the same IPv6 prefix.
    EamDuplicate,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AddrError::PrefixLength { len, max } => {
                write!(f, "prefix length /{len} exceeds /{max}")
            }
            AddrError::HostBitsSet => {
                f.write_str("the address has bits set past the prefix length")
            }
            AddrError::Rfc6052Length(len) => write!(
                f,
                "NAT64 prefix length /{len} is not one of /32, /40, /48, /56, /64, /96 (RFC 6052 2.2)"
            ),
            AddrError::UOctetSet => {
                f.write_str("NAT64 prefix has non-zero bits 64-71, the u octet (RFC 6052 2.2)")
            }
            AddrError::EamSuffixTooLong {
                ipv4_suffix,
                ipv6_suffix,
            } => write!(
                f,
                "EAMT entry maps {ipv4_suffix} IPv4 suffix bits into {ipv6_suffix} IPv6 suffix bits (RFC 7757 3.2)"
            ),
            AddrError::EamDuplicate => {
                f.write_str("two EAMT entries share a prefix (RFC 7757 3.3)")
            }
        }
    }
}

impl core::error::Error for AddrError {}
