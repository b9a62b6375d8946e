//! Pseudo-header sums: what TCP, UDP and ICMPv6 checksums cover besides their own
//! bytes.
//!
//! The results are uncomplemented [`Sum`]s: add the segment's [`crate::sum`] and take
//! [`Sum::checksum`] (or [`crate::udp::finish`] for UDP). The same value, stored
//! uncomplemented in the checksum field, is what offload hardware expects
//! ([`crate::offload::PartialChecksum`]).

use crate::Sum;
use core::net::{Ipv4Addr, Ipv6Addr};

/// IPv4 pseudo-header (RFC 793 §3.1, RFC 768): source, destination, zero, protocol,
/// and the TCP/UDP length (header plus data).
///
/// ```
/// use sixfold_checksum::{pseudo, sum};
/// use core::net::Ipv4Addr;
/// // 0xc000 + 0x0201 + 0xc633 + 0x6402 + 17 + 10 + 0x04d2 + 0x35 + 10 + 0xcafe = 0x1_bc61 → 0xbc62
/// let udp = [0x04, 0xd2, 0x00, 0x35, 0x00, 0x0a, 0x00, 0x00, 0xca, 0xfe];
/// let ph = pseudo::ipv4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 2), 17, 10);
/// assert_eq!((ph + sum(&udp)).checksum(), 0x439d);
/// ```
#[inline]
pub const fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> Sum {
    Sum::from_u32(src.to_bits())
        .add(Sum::from_u32(dst.to_bits()))
        .add(Sum::new(protocol as u16))
        .add(Sum::new(length))
}

/// IPv6 pseudo-header (RFC 8200 §8.1): source, destination, upper-layer packet length
/// (32 bits), three zero bytes, next header. `src`/`dst` are the final addresses the
/// packet is delivered with (for a routing header, the last segment).
#[inline]
pub const fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> Sum {
    Sum::from_u128(src.to_bits())
        .add(Sum::from_u128(dst.to_bits()))
        .add(Sum::from_u32(length))
        .add(Sum::new(next_header as u16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::reference;

    #[test]
    fn ipv4_matches_bytes() {
        let src = Ipv4Addr::new(10, 1, 2, 3);
        let dst = Ipv4Addr::new(203, 0, 113, 250);
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&src.octets());
        bytes[4..8].copy_from_slice(&dst.octets());
        bytes[9] = 6;
        bytes[10..].copy_from_slice(&1480u16.to_be_bytes());
        assert_eq!(ipv4(src, dst, 6, 1480), reference(&bytes));
    }

    #[test]
    fn ipv6_matches_bytes() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "fe80::ffff:ffff:ffff".parse().unwrap();
        let mut bytes = [0u8; 40];
        bytes[..16].copy_from_slice(&src.octets());
        bytes[16..32].copy_from_slice(&dst.octets());
        bytes[32..36].copy_from_slice(&70_000u32.to_be_bytes());
        bytes[39] = 58;
        assert_eq!(ipv6(src, dst, 58, 70_000), reference(&bytes));
    }
}
