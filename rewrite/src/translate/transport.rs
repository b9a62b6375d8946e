//! Transport headers across the family change (RFC 7915 §4.5, §5.5): ports and
//! checksums of TCP, UDP, DCCP and UDP-Lite, and ICMP echo headers.
//!
//! Every checksum is updated incrementally (RFC 1624 eqn. 3) through
//! [`crate::rewrite::patch`], which records each byte it writes. The TCP/UDP
//! pseudo-headers of the two families hold the same protocol number and the same
//! upper-layer length (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1), so only the
//! address sum changes: a known difference, exact for fragments too. ICMPv4 has
//! no pseudo-header and ICMPv6 has one (RFC 4443 §2.3): translating echo adds or
//! removes all of it.

use super::{Result as TranslateResult, TranslateError};
use crate::error::{Layer, Result, need};
use crate::protocol::IpProtocol;
use crate::rewrite::{L4Checksum, patch};
use core::net::{Ipv4Addr, Ipv6Addr};
use sixfold_checksum::Sum;
use sixfold_checksum::incremental::Update;
use sixfold_checksum::offload::PartialChecksum;

/// The sum of an IPv4 packet's two addresses.
pub(crate) fn addresses4(src: Ipv4Addr, dst: Ipv4Addr) -> Sum {
    Sum::from_u32(src.to_bits()) + Sum::from_u32(dst.to_bits())
}

/// The sum of an IPv6 packet's two addresses.
pub(crate) fn addresses6(src: Ipv6Addr, dst: Ipv6Addr) -> Sum {
    Sum::from_u128(src.to_bits()) + Sum::from_u128(dst.to_bits())
}

/// Where a transport protocol with a pseudo-header checksum keeps it.
struct Checksummed {
    /// Offset of the checksum field.
    at: usize,
    /// Bytes of header a packet must have for it to be translated.
    header: usize,
    layer: Layer,
    /// UDP's rules: a 0 field means "none" and stays 0, a computed 0 is sent as
    /// 0xFFFF (RFC 768; UDP-Lite the same, RFC 3828 §3.1).
    udp_zero: bool,
}

fn checksummed(p: IpProtocol) -> Option<Checksummed> {
    let (at, header, layer, udp_zero) = match p {
        IpProtocol::Tcp => (16, 20, Layer::Tcp, false),
        IpProtocol::Udp | IpProtocol::UdpLite => (6, 8, Layer::Udp, true),
        // DCCP (RFC 4340 §5.1): the checksum is bytes 6–7 of the generic header.
        IpProtocol::Dccp => (6, 8, Layer::Dccp, false),
        _ => return None,
    };
    Some(Checksummed {
        at,
        header,
        layer,
        udp_zero,
    })
}

/// Whether `p` carries ports and a pseudo-header checksum this module translates.
pub(crate) fn has_pseudo_checksum(p: IpProtocol) -> bool {
    checksummed(p).is_some()
}

/// Checks that a whole (not quoted) segment of protocol `p` has its header.
pub(crate) fn check_segment(p: IpProtocol, segment: &[u8]) -> Result<()> {
    if p == IpProtocol::Tcp {
        crate::tcp::TcpPacket::new_checked(segment)?;
    } else if let Some(c) = checksummed(p) {
        need(c.layer, c.header, segment.len())?;
    }
    Ok(())
}

/// New ports and the checksum of a TCP/UDP/DCCP/UDP-Lite segment whose
/// pseudo-header changed by `pseudo`. In a quote the segment may be cut short:
/// fields that are not all there are left alone. Other protocols are untouched
/// (RFC 7915 §4.5: every protocol is forwarded; DCCP is the optional one done here).
pub(crate) fn ports_and_checksum(
    segment: &mut [u8],
    p: IpProtocol,
    pseudo: Update,
    ports: [Option<u16>; 2],
    mode: L4Checksum,
) {
    let Some(c) = checksummed(p) else {
        return;
    };
    let mut header = Update::new();
    for (port, at) in ports.into_iter().zip([0, 2]) {
        if let Some(port) = port
            && segment.len() >= at + 2
        {
            patch(segment, at, &port.to_be_bytes(), &mut [(&mut header, 0)]);
        }
    }
    let Some(field) = segment.get_mut(c.at..c.at + 2) else {
        return;
    };
    let old = u16::from_be_bytes([field[0], field[1]]);
    let new = match mode {
        // The device sums the header itself: only the pseudo-header moves.
        L4Checksum::Partial => PartialChecksum::from_field(old)
            .update_pseudo(&pseudo)
            .to_field(),
        L4Checksum::Complete if c.udp_zero => {
            sixfold_checksum::udp::update(old, &pseudo.combine(header))
        }
        L4Checksum::Complete => pseudo.combine(header).apply(old),
    };
    field.copy_from_slice(&new.to_be_bytes());
}

/// The offset of the UDP checksum field.
pub(crate) const UDP_CHECKSUM: usize = 6;

/// The length an ICMP echo's pseudo-header counts: the whole message, which is
/// `here` unless the packet is a first fragment; then only the caller can know it
/// (`given`, from reassembly or the last fragment).
pub(crate) fn echo_length(
    fragmented: bool,
    given: Option<usize>,
    here: usize,
) -> TranslateResult<u32> {
    match fragmented {
        false => Ok(here as u32),
        true => given
            .map(|len| len as u32)
            .ok_or(TranslateError::IcmpLengthUnknown),
    }
}

/// An ICMP echo header (type, code, checksum, identifier, sequence) in `message`
/// gets `new_type`, the identifier `id` if given, and the checksum the change plus
/// `pseudo` (the ICMPv6 pseudo-header added or removed) gives. Fields cut off in a
/// quote are left alone.
pub(crate) fn echo(message: &mut [u8], new_type: u8, id: Option<u16>, pseudo: Update) {
    let mut change = pseudo;
    if !message.is_empty() {
        patch(message, 0, &[new_type], &mut [(&mut change, 0)]);
    }
    if let Some(id) = id
        && message.len() >= 6
    {
        patch(message, 4, &id.to_be_bytes(), &mut [(&mut change, 0)]);
    }
    if let Some(field) = message.get_mut(2..4) {
        let old = u16::from_be_bytes([field[0], field[1]]);
        field.copy_from_slice(&change.apply(old).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sixfold_checksum::{pseudo, sum};

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// UDP 10 bytes 192.0.2.1:1234 → 198.51.100.2:53 with its IPv4 checksum.
    fn udp4() -> [u8; 10] {
        let mut d = [0x04, 0xd2, 0x00, 0x35, 0x00, 0x0a, 0, 0, 0xca, 0xfe];
        let c = (pseudo::ipv4(v4("192.0.2.1"), v4("198.51.100.2"), 17, 10) + sum(&d)).checksum();
        d[6..8].copy_from_slice(&c.to_be_bytes());
        d
    }

    #[test]
    fn udp_to_ipv6_equals_recompute() {
        let (s6, d6) = (v6("2001:db8::1"), v6("64:ff9b::c633:6402"));
        let mut d = udp4();
        let change = Update::new().sum(
            addresses4(v4("192.0.2.1"), v4("198.51.100.2")),
            addresses6(s6, d6),
        );
        ports_and_checksum(
            &mut d,
            IpProtocol::Udp,
            change,
            [Some(4000), None],
            L4Checksum::Complete,
        );
        assert_eq!(&d[..2], &4000u16.to_be_bytes());
        assert_eq!(pseudo::ipv6(s6, d6, 17, 10) + sum(&d), Sum::NEG_ZERO);
        // Golden: the checksum a recompute writes.
        let mut fresh = d;
        fresh[6..8].fill(0);
        let want = sixfold_checksum::udp::finish(pseudo::ipv6(s6, d6, 17, 10) + sum(&fresh));
        assert_eq!(u16::from_be_bytes([d[6], d[7]]), want);
    }

    #[test]
    fn udp_zero_stays_zero_and_partial_moves_only_with_the_pseudo_header() {
        let mut d = udp4();
        d[6..8].fill(0);
        let change = Update::new().sum(Sum::new(0x1234), Sum::new(0x4321));
        ports_and_checksum(
            &mut d,
            IpProtocol::Udp,
            change,
            [Some(1), Some(2)],
            L4Checksum::Complete,
        );
        assert_eq!(&d[..8], &[0, 1, 0, 2, 0, 10, 0, 0]);
        d[6..8].copy_from_slice(&0x1111u16.to_be_bytes());
        ports_and_checksum(
            &mut d,
            IpProtocol::Udp,
            change,
            [Some(9), None],
            L4Checksum::Partial,
        );
        // 0x1111 - 0x1234 + 0x4321 = 0x41fe, uncomplemented; the port is the device's.
        assert_eq!(&d[6..8], &[0x41, 0xfe]);
    }

    #[test]
    fn cut_quotes_touch_only_what_is_there() {
        let mut d = udp4();
        let before = d;
        let change = Update::new().sum(Sum::new(1), Sum::new(2));
        ports_and_checksum(
            &mut d[..3],
            IpProtocol::Tcp,
            change,
            [Some(7), Some(8)],
            L4Checksum::Complete,
        );
        assert_eq!(&d[..2], &[0, 7]);
        assert_eq!(&d[2..], &before[2..], "the cut destination port stays");
        // Unknown protocols are left alone.
        let mut other = before;
        ports_and_checksum(
            &mut other,
            IpProtocol::Sctp,
            change,
            [Some(7), None],
            L4Checksum::Complete,
        );
        assert_eq!(other, before);
    }

    #[test]
    fn echo_gains_the_icmpv6_pseudo_header() {
        // ICMPv4 echo request id 0x1234 seq 1, payload "hi".
        let mut m = [8, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i'];
        let c = sixfold_checksum::checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        let (s6, d6) = (v6("2001:db8::1"), v6("2001:db8::2"));
        let ph = pseudo::ipv6(s6, d6, 58, 10);
        echo(&mut m, 128, Some(0x4321), Update::new().sum(Sum::ZERO, ph));
        assert_eq!(&m[..2], &[128, 0]);
        assert_eq!(&m[4..6], &[0x43, 0x21]);
        assert_eq!(ph + sum(&m), Sum::NEG_ZERO);
        // And back: remove it.
        echo(&mut m, 8, None, Update::new().sum(ph, Sum::ZERO));
        assert!(sixfold_checksum::verify(&m));
        // A quote cut after the type only changes the type.
        let mut cut = [0u8; 1];
        echo(&mut cut, 129, Some(1), Update::new());
        assert_eq!(cut, [129]);
    }

    #[test]
    fn segment_checks() {
        assert!(check_segment(IpProtocol::Udp, &[0; 8]).is_ok());
        assert_eq!(
            check_segment(IpProtocol::Udp, &[0; 7]),
            Err(crate::Error::Truncated {
                layer: Layer::Udp,
                need: 8,
                got: 7
            })
        );
        assert_eq!(
            check_segment(IpProtocol::Tcp, &[0; 20]),
            Err(crate::Error::BadTcpHeaderLen(0))
        );
        assert!(check_segment(IpProtocol::Gre, &[]).is_ok());
        assert!(has_pseudo_checksum(IpProtocol::Dccp) && !has_pseudo_checksum(IpProtocol::Icmp));
    }
}
