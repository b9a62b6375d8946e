//! A lenient view of the start of a transport header, for code that keys flows
//! (a NAT, a stateful firewall, a tunnel detector): the ports of TCP, UDP and the
//! other port-based protocols, TCP's flags, ICMP's type, code and query
//! identifier.
//!
//! Unlike [`crate::TcpPacket`] or [`crate::UdpPacket`] it does not need the
//! whole segment: a first fragment's UDP length runs past the fragment, and a
//! flow is known from the first bytes. [`L4Header::new`] checks that the fields
//! it exposes are there; [`L4Header::header_complete`] says whether the fixed
//! header is, for callers that will rewrite it.

use crate::error::{Layer, Result, need};
use crate::protocol::IpProtocol;
use crate::{icmp, tcp, udp};

/// The start of a transport header of `protocol`. After [`L4Header::new`]
/// succeeds no accessor panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L4Header<'a> {
    protocol: IpProtocol,
    bytes: &'a [u8],
}

impl<'a> L4Header<'a> {
    /// Views `bytes` (from the transport header on) as `protocol`. Needs the
    /// ports of port-based protocols, the flags byte of TCP, and the 8-byte header
    /// of ICMP / ICMPv6; other protocols need nothing.
    #[inline]
    pub fn new(protocol: IpProtocol, bytes: &'a [u8]) -> Result<L4Header<'a>> {
        match protocol {
            IpProtocol::Tcp => need(Layer::Tcp, tcp::FLAGS_END, bytes.len())?,
            IpProtocol::Icmp => need(Layer::Icmpv4, icmp::QUOTE_OFFSET, bytes.len())?,
            IpProtocol::Icmpv6 => need(Layer::Icmpv6, icmp::QUOTE_OFFSET, bytes.len())?,
            p if p.has_ports() => need(Layer::Udp, 4, bytes.len())?,
            _ => {}
        }
        Ok(L4Header { protocol, bytes })
    }

    /// The protocol.
    #[inline]
    pub fn protocol(&self) -> IpProtocol {
        self.protocol
    }

    /// The bytes from the transport header on.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    #[inline]
    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    /// Source and destination port, for port-based protocols.
    #[inline]
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.protocol
            .has_ports()
            .then(|| (self.u16_at(0), self.u16_at(2)))
    }

    /// TCP's flags byte (`crate::tcp::flags`).
    #[inline]
    pub fn tcp_flags(&self) -> Option<u8> {
        (self.protocol == IpProtocol::Tcp).then(|| self.bytes[tcp::FLAGS_END - 1])
    }

    /// ICMP / ICMPv6 type and code.
    #[inline]
    pub fn icmp_type_code(&self) -> Option<(u8, u8)> {
        self.protocol
            .is_icmp()
            .then(|| (self.bytes[0], self.bytes[1]))
    }

    /// The identifier field of an ICMP / ICMPv6 message (meaningful for queries).
    #[inline]
    pub fn icmp_ident(&self) -> Option<u16> {
        self.protocol.is_icmp().then(|| self.u16_at(icmp::IDENT))
    }

    /// Whether the whole fixed header is present (TCP 20 bytes, UDP 8, ICMP 8), as a
    /// rewrite of it needs.
    #[inline]
    pub fn header_complete(&self) -> bool {
        let need = match self.protocol {
            IpProtocol::Tcp => tcp::HEADER_LEN,
            IpProtocol::Udp | IpProtocol::UdpLite => udp::HEADER_LEN,
            _ => 0,
        };
        self.bytes.len() >= need
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn deconstruct_a_first_fragment_of_udp() {
        // UDP 40000 → 53 whose length (1000) runs past the 8 bytes present.
        let b = [0x9c, 0x40, 0x00, 0x35, 0x03, 0xe8, 0x12, 0x34];
        let h = L4Header::new(IpProtocol::Udp, &b).unwrap();
        assert_eq!(h.ports(), Some((40000, 53)));
        assert_eq!((h.tcp_flags(), h.icmp_ident()), (None, None));
        assert!(h.header_complete());
        assert!(
            !L4Header::new(IpProtocol::Udp, &b[..6])
                .unwrap()
                .header_complete()
        );
    }

    #[test]
    fn tcp_flags_and_icmp_fields() {
        let mut syn = [0u8; 20];
        syn[..4].copy_from_slice(&[0x04, 0xd2, 0x01, 0xbb]);
        syn[13] = tcp::flags::SYN;
        let h = L4Header::new(IpProtocol::Tcp, &syn).unwrap();
        assert_eq!((h.ports(), h.tcp_flags()), (Some((1234, 443)), Some(0x02)));
        let h = L4Header::new(IpProtocol::Tcp, &syn[..14]).unwrap();
        assert!(!h.header_complete());
        let echo = [128, 0, 0xab, 0xcd, 0x12, 0x34, 0, 1];
        let h = L4Header::new(IpProtocol::Icmpv6, &echo).unwrap();
        assert_eq!(
            (h.icmp_type_code(), h.icmp_ident()),
            (Some((128, 0)), Some(0x1234))
        );
        assert_eq!(h.ports(), None);
        let esp = L4Header::new(IpProtocol::Esp, &[]).unwrap();
        assert_eq!((esp.ports(), esp.icmp_type_code()), (None, None));
    }

    #[test]
    fn one_rejection_per_protocol_class() {
        assert_eq!(
            L4Header::new(IpProtocol::Tcp, &[0; 13]),
            Err(Error::Truncated {
                layer: Layer::Tcp,
                need: 14,
                got: 13
            })
        );
        assert_eq!(
            L4Header::new(IpProtocol::Sctp, &[0; 3]),
            Err(Error::Truncated {
                layer: Layer::Udp,
                need: 4,
                got: 3
            })
        );
        assert_eq!(
            L4Header::new(IpProtocol::Icmp, &[0; 7]),
            Err(Error::Truncated {
                layer: Layer::Icmpv4,
                need: 8,
                got: 7
            })
        );
    }
}
