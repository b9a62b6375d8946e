//! IP protocol numbers by name (IANA "Assigned Internet Protocol Numbers"; the
//! IPv4 Protocol field and the IPv6 Next Header field share the registry).
//!
//! [`IpProtocol`] is what code matches on instead of `6`, `17` or `58`; every
//! number converts losslessly both ways, unknown ones as [`IpProtocol::Other`].

use crate::numbered::numbered;
use core::fmt;

numbered! {
    /// An IP protocol (IPv4 Protocol / IPv6 Next Header value).
    pub enum IpProtocol {
        /// IPv6 hop-by-hop options (RFC 8200 §4.3).
        HopByHop = 0, "hopopt";
        /// ICMP for IPv4 (RFC 792).
        Icmp = 1, "icmp";
        /// IPv4 encapsulated in IP (RFC 2003): IPv4-in-IPv6 when the outer is IPv6.
        Ipv4 = 4, "ipv4";
        /// TCP (RFC 9293).
        Tcp = 6, "tcp";
        /// UDP (RFC 768).
        Udp = 17, "udp";
        /// DCCP (RFC 4340).
        Dccp = 33, "dccp";
        /// IPv6 encapsulated in IP (RFC 2473, RFC 4213): 6in4, 6to4, ISATAP, 6rd.
        Ipv6 = 41, "ipv6";
        /// IPv6 routing header (RFC 8200 §4.4).
        Ipv6Route = 43, "ipv6-route";
        /// IPv6 fragment header (RFC 8200 §4.5).
        Ipv6Frag = 44, "ipv6-frag";
        /// GRE (RFC 2784).
        Gre = 47, "gre";
        /// IPsec ESP (RFC 4303).
        Esp = 50, "esp";
        /// IPsec AH (RFC 4302).
        Ah = 51, "ah";
        /// ICMP for IPv6 (RFC 4443).
        Icmpv6 = 58, "icmpv6";
        /// No next header (RFC 8200 §4.7).
        Ipv6NoNxt = 59, "ipv6-nonxt";
        /// IPv6 destination options (RFC 8200 §4.6).
        Ipv6Opts = 60, "ipv6-opts";
        /// SCTP (RFC 9260).
        Sctp = 132, "sctp";
        /// UDP-Lite (RFC 3828).
        UdpLite = 136, "udplite";
        /// HIP (RFC 7401).
        Hip = 139, "hip";
    }
}

impl IpProtocol {
    /// Whether this is an IPv6 extension header that [`crate::Ipv6Packet::upper_layer`]
    /// walks past (hop-by-hop, routing, fragment, destination options).
    pub const fn is_ipv6_extension(self) -> bool {
        matches!(
            self,
            IpProtocol::HopByHop
                | IpProtocol::Ipv6Route
                | IpProtocol::Ipv6Frag
                | IpProtocol::Ipv6Opts
        )
    }

    /// Whether the transport header starts with a 16-bit source and destination
    /// port (TCP, UDP, UDP-Lite, DCCP, SCTP).
    #[inline]
    pub const fn has_ports(self) -> bool {
        matches!(
            self,
            IpProtocol::Tcp
                | IpProtocol::Udp
                | IpProtocol::UdpLite
                | IpProtocol::Dccp
                | IpProtocol::Sctp
        )
    }

    /// Whether this is ICMP of either family.
    #[inline]
    pub const fn is_icmp(self) -> bool {
        matches!(self, IpProtocol::Icmp | IpProtocol::Icmpv6)
    }
}

/// The IP version of a packet, from its first nibble.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4 (RFC 791).
    V4,
    /// IPv6 (RFC 8200).
    V6,
}

impl IpVersion {
    /// The version of the packet starting `packet`; `None` for an empty buffer or
    /// a version other than 4 and 6.
    pub fn of(packet: &[u8]) -> Option<IpVersion> {
        match packet.first()? >> 4 {
            4 => Some(IpVersion::V4),
            6 => Some(IpVersion::V6),
            _ => None,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "protocol {}", u8::from(*self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_round_trips() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(n)), n);
        }
    }

    #[test]
    fn versions_from_the_first_nibble() {
        assert_eq!(IpVersion::of(&[0x45]), Some(IpVersion::V4));
        assert_eq!(IpVersion::of(&[0x60, 0]), Some(IpVersion::V6));
        assert_eq!(IpVersion::of(&[0x50]), None);
        assert_eq!(IpVersion::of(&[]), None);
    }

    #[test]
    fn named_numbers_are_the_iana_ones() {
        assert_eq!(IpProtocol::from(6), IpProtocol::Tcp);
        assert_eq!(IpProtocol::from(17), IpProtocol::Udp);
        assert_eq!(IpProtocol::from(58), IpProtocol::Icmpv6);
        assert_eq!(IpProtocol::from(41), IpProtocol::Ipv6);
        assert_eq!(IpProtocol::from(200), IpProtocol::Other(200));
        assert_eq!(std::format!("{}", IpProtocol::Icmpv6), "icmpv6");
        assert_eq!(std::format!("{}", IpProtocol::Other(200)), "protocol 200");
        assert!(IpProtocol::Ipv6Frag.is_ipv6_extension() && !IpProtocol::Ah.is_ipv6_extension());
        assert!(IpProtocol::Sctp.has_ports() && !IpProtocol::Icmp.has_ports());
    }
}
