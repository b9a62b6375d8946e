//! UDP's ±0 rules, as types and functions (RFC 768, RFC 8200 §8.1, RFC 6936).
//!
//! - A checksum *field* of 0 means "the sender computed no checksum" (RFC 768). Over
//!   IPv4 that is allowed and must survive every rewrite; over IPv6 it is invalid
//!   (RFC 8200 §8.1) unless the receiver enabled zero-checksum mode for the port
//!   (RFC 6935/6936).
//! - A *computed* checksum of 0 is sent as 0xFFFF, its other encoding (RFC 768:
//!   "If the computed checksum is zero, it is transmitted as all ones"; RFC 8200 §8.1
//!   for IPv6; Linux `CSUM_MANGLED_0`).
//! - Verification sums everything including the field and expects −0 (0xFFFF), which
//!   0xFFFF in the field satisfies exactly when the computed checksum was 0.

use crate::Sum;
use crate::incremental::Update;
use core::fmt;
use core::num::NonZeroU16;

/// What a UDP checksum field says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UdpChecksum {
    /// The field is 0: no checksum was computed.
    Absent,
    /// A checksum (0xFFFF stands for a computed 0).
    Present(NonZeroU16),
}

impl UdpChecksum {
    /// Reads the field's value.
    pub const fn from_field(field: u16) -> UdpChecksum {
        match NonZeroU16::new(field) {
            Some(value) => UdpChecksum::Present(value),
            None => UdpChecksum::Absent,
        }
    }

    /// The value to write into the field.
    pub const fn to_field(self) -> u16 {
        match self {
            UdpChecksum::Absent => 0,
            UdpChecksum::Present(value) => value.get(),
        }
    }

    /// The checksum of a datagram whose pseudo-header plus UDP bytes (field zeroed)
    /// sum to `sum`, as transmitted: a computed 0 becomes 0xFFFF.
    pub const fn compute(sum: Sum) -> UdpChecksum {
        match NonZeroU16::new(finish(sum)) {
            Some(value) => UdpChecksum::Present(value),
            None => UdpChecksum::Absent, // unreachable: finish never returns 0
        }
    }
}

/// The transmitted UDP checksum for a pseudo-header-plus-datagram `sum` (field
/// zeroed): the complement, with 0 sent as 0xFFFF. Never returns 0.
#[inline]
pub const fn finish(sum: Sum) -> u16 {
    match sum.checksum() {
        0 => 0xFFFF,
        c => c,
    }
}

/// Which network layer a UDP datagram came over, which decides what a 0 field means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// IPv4: 0 means "no checksum" and is accepted.
    Ipv4,
    /// IPv6: 0 is invalid (RFC 8200 §8.1).
    Ipv6,
    /// IPv6 on a port whose receiver opted into zero-checksum mode (RFC 6936): 0 is
    /// accepted as "no checksum".
    Ipv6ZeroChecksumMode,
}

/// A UDP checksum that passed [`verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// The field held a checksum and the data sums to −0 with it.
    Correct,
    /// The field was 0 where that means "no checksum": nothing to verify.
    Absent,
}

/// Why a UDP checksum failed [`verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The datagram, field included, sums to this instead of −0 (0xFFFF).
    Mismatch {
        /// The sum over pseudo-header and datagram including the field.
        sum: Sum,
    },
    /// A 0 field over IPv6 without zero-checksum mode (RFC 8200 §8.1: discard).
    ZeroOverIpv6,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Mismatch { sum } => {
                write!(
                    f,
                    "UDP checksum mismatch: data sums to {:#06x}, expected 0xffff",
                    sum.get()
                )
            }
            VerifyError::ZeroOverIpv6 => {
                f.write_str("UDP checksum 0 over IPv6 without zero-checksum mode (RFC 8200 8.1)")
            }
        }
    }
}

impl core::error::Error for VerifyError {}

/// Verifies a received UDP checksum. `field` is the checksum field's value and
/// `sum` the sum of pseudo-header plus the whole datagram *including* the field.
pub const fn verify(network: Network, field: u16, sum: Sum) -> Result<Verified, VerifyError> {
    if field == 0 {
        return match network {
            Network::Ipv4 | Network::Ipv6ZeroChecksumMode => Ok(Verified::Absent),
            Network::Ipv6 => Err(VerifyError::ZeroOverIpv6),
        };
    }
    if sum.get() == Sum::NEG_ZERO.get() {
        Ok(Verified::Correct)
    } else {
        Err(VerifyError::Mismatch { sum })
    }
}

/// Applies an incremental update to a UDP checksum field: a 0 field ("no checksum")
/// stays 0, and an update that comes out 0 is written 0xFFFF — exactly what
/// recomputing and [`finish`]ing would give.
pub const fn update(field: u16, update: &Update) -> u16 {
    if field == 0 {
        return 0;
    }
    match update.apply(field) {
        0 => 0xFFFF,
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudo;
    use crate::variants::reference;
    use core::net::Ipv4Addr;

    #[test]
    fn computed_zero_is_sent_as_all_ones() {
        assert_eq!(finish(Sum::NEG_ZERO), 0xFFFF);
        assert_eq!(finish(Sum::new(0x1234)), 0xEDCB);
        assert_eq!(UdpChecksum::compute(Sum::NEG_ZERO).to_field(), 0xFFFF);
    }

    #[test]
    fn field_semantics() {
        assert_eq!(UdpChecksum::from_field(0), UdpChecksum::Absent);
        assert_eq!(UdpChecksum::from_field(0xFFFF).to_field(), 0xFFFF);
    }

    #[test]
    fn verify_rules() {
        assert_eq!(
            verify(Network::Ipv4, 0, Sum::new(0x1234)),
            Ok(Verified::Absent)
        );
        assert_eq!(
            verify(Network::Ipv6ZeroChecksumMode, 0, Sum::new(1)),
            Ok(Verified::Absent)
        );
        assert_eq!(
            verify(Network::Ipv6, 0, Sum::NEG_ZERO),
            Err(VerifyError::ZeroOverIpv6)
        );
        assert_eq!(
            verify(Network::Ipv6, 0xFFFF, Sum::NEG_ZERO),
            Ok(Verified::Correct)
        );
        assert_eq!(
            verify(Network::Ipv4, 0x1111, Sum::new(0xFFFE)),
            Err(VerifyError::Mismatch {
                sum: Sum::new(0xFFFE)
            })
        );
    }

    /// A datagram whose checksum computes to exactly 0 must carry 0xFFFF, verify, and
    /// keep 0xFFFF (not 0x0000, which would mean "no checksum") across an update.
    #[test]
    fn zero_checksum_datagram_end_to_end() {
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let dst = Ipv4Addr::new(192, 0, 2, 2);
        let mut dgram = [
            0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let ph = pseudo::ipv4(src, dst, 17, 12);
        // Choose the last word so that everything sums to −0.
        let need = (ph + reference(&dgram)).checksum();
        dgram[10..12].copy_from_slice(&need.to_be_bytes());
        let s = ph + reference(&dgram);
        assert_eq!(s, Sum::NEG_ZERO);
        let field = finish(s);
        assert_eq!(field, 0xFFFF);
        dgram[6..8].copy_from_slice(&field.to_be_bytes());
        assert_eq!(
            verify(Network::Ipv4, field, ph + reference(&dgram)),
            Ok(Verified::Correct)
        );
        // Source port 12345 → 12346 and last word down by one: the sum stays −0.
        let upd = Update::new().field16(12345, 12346).field16(need, need - 1);
        assert_eq!(update(field, &upd), 0xFFFF);
        // And "no checksum" stays "no checksum".
        assert_eq!(update(0, &upd), 0);
    }
}
