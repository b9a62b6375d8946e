//! Lenient views of the packet quoted inside an ICMP error (RFC 792, RFC 4443 §2.4(c),
//! RFC 5508 §4): an IP header and as much of the rest as fit — often just 8 bytes of
//! the transport header. Unlike [`crate::Ipv4Packet::new_checked`], the total length
//! may exceed what is there, and IPv6 extension headers may be cut off.
//!
//! After [`QuotedPacket::new`] succeeds, no accessor panics; transport fields are
//! `None` when the quote ends before them.

use crate::error::Result;
use crate::rewrite::quoted_header;
use core::net::{IpAddr, Ipv4Addr};

/// A view of a (possibly truncated) IPv4 or IPv6 packet quoted in an ICMP error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedPacket<'a> {
    bytes: &'a [u8],
    ip_len: usize,
    protocol: u8,
}

impl<'a> QuotedPacket<'a> {
    /// Views `quote` (the bytes after the ICMP header). Needs the whole IP header
    /// (20+ bytes with options for IPv4, 40 for IPv6), nothing more.
    pub fn new(quote: &'a [u8]) -> Result<QuotedPacket<'a>> {
        let v6 = quote.first().is_some_and(|b| b >> 4 == 6);
        let (ip_len, protocol) = quoted_header(quote, v6)?;
        Ok(QuotedPacket {
            bytes: quote,
            ip_len,
            protocol,
        })
    }

    /// Whether the quoted packet is IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.bytes[0] >> 4 == 6
    }

    fn addr(&self, v4_at: usize, v6_at: usize) -> IpAddr {
        let b = self.bytes;
        if self.is_ipv6() {
            IpAddr::V6(crate::ipv6::addr_at(b, v6_at))
        } else {
            IpAddr::V4(Ipv4Addr::new(
                b[v4_at],
                b[v4_at + 1],
                b[v4_at + 2],
                b[v4_at + 3],
            ))
        }
    }

    /// The quoted packet's source address.
    pub fn src_addr(&self) -> IpAddr {
        self.addr(crate::ipv4::SRC, crate::ipv6::SRC)
    }

    /// The quoted packet's destination address.
    pub fn dst_addr(&self) -> IpAddr {
        self.addr(crate::ipv4::DST, crate::ipv6::DST)
    }

    /// The transport protocol, or 59 (none) when the quote is a non-first fragment.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The transport protocol, by name ([`crate::IpProtocol::Ipv6NoNxt`] for a quoted
    /// non-first fragment).
    pub fn ip_protocol(&self) -> crate::IpProtocol {
        crate::IpProtocol::from(self.protocol)
    }

    /// The transport bytes present in the quote.
    pub fn transport(&self) -> &'a [u8] {
        &self.bytes[self.ip_len.min(self.bytes.len())..]
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let t = self.transport();
        Some(u16::from_be_bytes([*t.get(at)?, *t.get(at + 1)?]))
    }

    /// Source port of a port-based protocol (TCP, UDP, UDP-Lite, DCCP, SCTP), if
    /// quoted.
    pub fn src_port(&self) -> Option<u16> {
        self.ip_protocol()
            .has_ports()
            .then(|| self.u16_at(0))
            .flatten()
    }

    /// Destination port of a port-based protocol, if quoted.
    pub fn dst_port(&self) -> Option<u16> {
        self.ip_protocol()
            .has_ports()
            .then(|| self.u16_at(2))
            .flatten()
    }

    /// The identifier of a quoted ICMP/ICMPv6 query, if quoted.
    pub fn icmp_id(&self) -> Option<u16> {
        let t = self.transport();
        let query = match (self.protocol, self.is_ipv6()) {
            (1, false) => crate::icmp::is_icmpv4_query(*t.first()?),
            (58, true) => crate::icmp::is_icmpv6_query(*t.first()?),
            _ => false,
        };
        query.then(|| self.u16_at(crate::icmp::IDENT)).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Layer};
    use core::net::Ipv6Addr;

    #[test]
    fn ipv4_udp_quote_of_28_bytes() {
        // The classic quote: IPv4 header (total length 1500, far beyond the quote) and
        // the first 8 bytes of UDP.
        let q = [
            0x45, 0, 0x05, 0xdc, 0, 1, 0, 0, 63, 17, 0, 0, 203, 0, 113, 1, 198, 51, 100, 7, 0x04,
            0x00, 0x00, 0x35, 0x05, 0xc8, 0xab, 0xcd,
        ];
        let v = QuotedPacket::new(&q).unwrap();
        assert!(!v.is_ipv6());
        assert_eq!(v.src_addr(), IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)));
        assert_eq!(v.dst_addr(), IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
        assert_eq!(
            (v.protocol(), v.src_port(), v.dst_port(), v.icmp_id()),
            (17, Some(1024), Some(53), None)
        );
        // Cut after 2 transport bytes: the source port only.
        let v = QuotedPacket::new(&q[..22]).unwrap();
        assert_eq!((v.src_port(), v.dst_port()), (Some(1024), None));
    }

    #[test]
    fn ipv6_echo_quote_and_rejections() {
        let mut q = std::vec![0x60, 0, 0, 0, 0x05, 0x00, 58, 64];
        q.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        q.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        q.extend_from_slice(&[128, 0, 0x12, 0x34, 0xbe, 0xef, 0, 1]);
        let v = QuotedPacket::new(&q).unwrap();
        assert_eq!(v.dst_addr(), IpAddr::V6("2001:db8::2".parse().unwrap()));
        assert_eq!(
            (v.protocol(), v.icmp_id(), v.src_port()),
            (58, Some(0xbeef), None)
        );
        assert_eq!(
            QuotedPacket::new(&q[..39]),
            Err(Error::Truncated {
                layer: Layer::Quote,
                need: 40,
                got: 39
            })
        );
        assert_eq!(
            QuotedPacket::new(&[0x45; 10]),
            Err(Error::Truncated {
                layer: Layer::Quote,
                need: 20,
                got: 10
            })
        );
        assert_eq!(
            QuotedPacket::new(&[]),
            Err(Error::Truncated {
                layer: Layer::Quote,
                need: 20,
                got: 0
            })
        );
    }
}
