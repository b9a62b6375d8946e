//! ICMP and ICMPv6 errors the router itself sends ([`IcmpError`]; RFC 1812 §4.3,
//! RFC 4443 §2.4, RFC 5508 REQ-8/10), built in place over the packet that caused
//! them; when RFC 1812 §4.3.2.7 and RFC 4443 §2.4 (e) allow one; the rate limit
//! that RFC 4443 §2.4 (f) requires; and router advertisements ([`ra`]).

use serde::{Deserialize, Serialize};
pub(crate) mod ra;

use crate::stats::IcmpSent;
use sixfold_checksum::{checksum, pseudo};
use sixfold_rewrite::translate::IcmpReply;
use sixfold_rewrite::{
    Icmpv4TimeExceeded, Icmpv4Type, Icmpv4Unreachable, Icmpv6ParameterProblem, Icmpv6TimeExceeded,
    Icmpv6Type, Icmpv6Unreachable, IpProtocol, Ipv4Packet, Ipv6Packet,
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// ICMPv4 errors quote at most this much, so the error fits 576 bytes (RFC 1812 §4.3.2.3).
pub(crate) const V4_QUOTE: usize = 576 - 28;
/// ICMPv6 errors fit the minimum MTU (RFC 4443 §2.4 (c)).
pub(crate) const V6_QUOTE: usize = 1280 - 48;

/// Room a buffer needs beyond the packet for any error built over it (a
/// building block's constant: [`crate::buf::PacketBuf`] is sized with it).
pub(crate) use crate::buf::HEADROOM;

/// An error the router sends about a packet it drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IcmpError {
    /// ICMPv4 time exceeded in transit (RFC 1812 §5.3.1).
    TimeExceeded,
    /// ICMPv4 fragmentation needed and DF set, with the next-hop MTU (RFC 1191).
    FragmentationNeeded { mtu: u16 },
    /// ICMPv4 communication administratively prohibited: the NAT refused a new
    /// flow (RFC 5508 REQ-8, RFC 6888 REQ-11).
    AdminProhibited,
    /// ICMPv4 port unreachable: an unsolicited SYN was held in vain (RFC 5382 REQ-4).
    PortUnreachable,
    /// ICMPv6 hop limit exceeded in transit (RFC 4443 §3.3).
    HopLimitExceeded,
    /// ICMPv6 packet too big, with the next-hop MTU (RFC 4443 §3.2).
    PacketTooBig { mtu: u32 },
    /// ICMPv6 communication administratively prohibited (RFC 6092 §3.3).
    Ipv6AdminProhibited,
    /// ICMPv4 source route failed: an unexpired source route the translator
    /// cannot follow (RFC 7915 §4.1).
    SourceRouteFailed,
    /// ICMPv6 parameter problem, erroneous header field at `pointer`: a routing
    /// header with segments left, which the translator cannot follow (RFC 7915 §5.1).
    Ipv6ParameterProblem { pointer: u32 },
    /// ICMPv6 address unreachable: the NAT64 could not create a binding
    /// (RFC 6146 §3.5.1.1, §3.5.2.1).
    Ipv6AddressUnreachable,
    /// ICMPv6 port unreachable: an IPv6 subscriber's SYN, hairpinned through
    /// the NAT64 to a public endpoint, was held in vain (RFC 6146 §3.5.2.2's
    /// port unreachable, in the sender's family).
    Ipv6PortUnreachable,
}

impl IcmpError {
    /// The counter it is sent under.
    pub(crate) fn counter(self) -> IcmpSent {
        match self {
            IcmpError::TimeExceeded => IcmpSent::TimeExceeded,
            IcmpError::FragmentationNeeded { .. } => IcmpSent::FragmentationNeeded,
            IcmpError::AdminProhibited => IcmpSent::AdminProhibited,
            IcmpError::PortUnreachable => IcmpSent::PortUnreachable,
            IcmpError::HopLimitExceeded => IcmpSent::Ipv6TimeExceeded,
            IcmpError::PacketTooBig { .. } => IcmpSent::Ipv6PacketTooBig,
            IcmpError::Ipv6AdminProhibited => IcmpSent::Ipv6AdminProhibited,
            IcmpError::SourceRouteFailed => IcmpSent::SourceRouteFailed,
            IcmpError::Ipv6ParameterProblem { .. } => IcmpSent::Ipv6ParameterProblem,
            IcmpError::Ipv6AddressUnreachable => IcmpSent::Ipv6AddressUnreachable,
            IcmpError::Ipv6PortUnreachable => IcmpSent::Ipv6PortUnreachable,
        }
    }

    /// The error RFC 7915 answers a refused translation with
    /// ([`TranslateError::reply`](sixfold_rewrite::translate::TranslateError::reply)),
    /// if the router sends that kind.
    pub(crate) fn of_reply(reply: IcmpReply) -> Option<IcmpError> {
        Some(match reply {
            IcmpReply::V4 {
                icmp_type: Icmpv4Type::TimeExceeded,
                ..
            } => IcmpError::TimeExceeded,
            IcmpReply::V4 {
                icmp_type: Icmpv4Type::DestUnreachable,
                code,
                rest,
            } => match Icmpv4Unreachable::from(code) {
                Icmpv4Unreachable::FragmentationNeeded => IcmpError::FragmentationNeeded {
                    mtu: rest.min(u32::from(u16::MAX)) as u16,
                },
                Icmpv4Unreachable::AdminProhibited => IcmpError::AdminProhibited,
                Icmpv4Unreachable::SourceRouteFailed => IcmpError::SourceRouteFailed,
                _ => return None,
            },
            IcmpReply::V6 {
                icmp_type: Icmpv6Type::TimeExceeded,
                ..
            } => IcmpError::HopLimitExceeded,
            IcmpReply::V6 {
                icmp_type: Icmpv6Type::PacketTooBig,
                rest,
                ..
            } => IcmpError::PacketTooBig { mtu: rest },
            IcmpReply::V6 {
                icmp_type: Icmpv6Type::ParameterProblem,
                rest,
                ..
            } => IcmpError::Ipv6ParameterProblem { pointer: rest },
            IcmpReply::V6 {
                icmp_type: Icmpv6Type::DestUnreachable,
                code,
                ..
            } if Icmpv6Unreachable::from(code) == Icmpv6Unreachable::AdminProhibited => {
                IcmpError::Ipv6AdminProhibited
            }
            _ => return None,
        })
    }

    /// Whether this is an ICMPv6 error (about an IPv6 packet).
    pub(crate) fn is_v6(self) -> bool {
        matches!(
            self,
            IcmpError::HopLimitExceeded
                | IcmpError::PacketTooBig { .. }
                | IcmpError::Ipv6AdminProhibited
                | IcmpError::Ipv6ParameterProblem { .. }
                | IcmpError::Ipv6AddressUnreachable
                | IcmpError::Ipv6PortUnreachable
        )
    }

    /// The first 8 bytes of the message, checksum zero: type, code, and the word
    /// after the checksum (an MTU, or unused).
    fn header(self) -> [u8; 8] {
        let (kind, code, rest) = match self {
            IcmpError::TimeExceeded => (
                u8::from(Icmpv4Type::TimeExceeded),
                u8::from(Icmpv4TimeExceeded::Ttl),
                0,
            ),
            IcmpError::FragmentationNeeded { mtu } => (
                u8::from(Icmpv4Type::DestUnreachable),
                u8::from(Icmpv4Unreachable::FragmentationNeeded),
                u32::from(mtu),
            ),
            IcmpError::AdminProhibited => (
                u8::from(Icmpv4Type::DestUnreachable),
                u8::from(Icmpv4Unreachable::AdminProhibited),
                0,
            ),
            IcmpError::PortUnreachable => (
                u8::from(Icmpv4Type::DestUnreachable),
                u8::from(Icmpv4Unreachable::Port),
                0,
            ),
            IcmpError::HopLimitExceeded => (
                u8::from(Icmpv6Type::TimeExceeded),
                u8::from(Icmpv6TimeExceeded::HopLimit),
                0,
            ),
            IcmpError::PacketTooBig { mtu } => (u8::from(Icmpv6Type::PacketTooBig), 0, mtu),
            IcmpError::Ipv6AdminProhibited => (
                u8::from(Icmpv6Type::DestUnreachable),
                u8::from(Icmpv6Unreachable::AdminProhibited),
                0,
            ),
            IcmpError::SourceRouteFailed => (
                u8::from(Icmpv4Type::DestUnreachable),
                u8::from(Icmpv4Unreachable::SourceRouteFailed),
                0,
            ),
            IcmpError::Ipv6ParameterProblem { pointer } => (
                u8::from(Icmpv6Type::ParameterProblem),
                u8::from(Icmpv6ParameterProblem::ErroneousHeaderField),
                pointer,
            ),
            IcmpError::Ipv6AddressUnreachable => (
                u8::from(Icmpv6Type::DestUnreachable),
                u8::from(Icmpv6Unreachable::Address),
                0,
            ),
            IcmpError::Ipv6PortUnreachable => (
                u8::from(Icmpv6Type::DestUnreachable),
                u8::from(Icmpv6Unreachable::Port),
                0,
            ),
        };
        let r = rest.to_be_bytes();
        [kind, code, 0, 0, r[0], r[1], r[2], r[3]]
    }

    /// Whether the rules let the router send this error about `packet`: RFC 1812
    /// §4.3.2.7 for IPv4, RFC 4443 §2.4 (e) for IPv6 (packet too big may answer a
    /// multicast destination).
    pub(crate) fn allowed_about(self, packet: &[u8]) -> bool {
        if self.is_v6() {
            may_report_v6(packet, matches!(self, IcmpError::PacketTooBig { .. }))
        } else {
            may_report_v4(packet)
        }
    }
}

/// Whether RFC 1812 §4.3.2.7 lets the router send an ICMPv4 error about `packet`:
/// not about an ICMP error (only queries may cause errors), a non-first fragment,
/// or a packet from or to a non-unicast address.
fn may_report_v4(packet: &[u8]) -> bool {
    // A held SYN's quote is cut short: the fixed header is all that is needed.
    let Some(header) = packet.get(..20) else {
        return false;
    };
    let ip = Ipv4Packet::new_unchecked(header);
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if ip.frag_offset() != 0
        || src.is_unspecified()
        || src.is_multicast()
        || src.is_broadcast()
        || src.is_loopback()
        || dst.is_multicast()
        || dst.is_broadcast()
    {
        return false;
    }
    if ip.ip_protocol() == IpProtocol::Icmp {
        return packet
            .get(ip.header_len())
            .is_some_and(|&t| Icmpv4Type::from(t).is_query());
    }
    true
}

/// Whether RFC 4443 §2.4 (e) lets the router send an ICMPv6 error about `packet`.
/// `too_big` allows a multicast destination (§2.4 (e.3) exception).
fn may_report_v6(packet: &[u8], too_big: bool) -> bool {
    // A quote may be cut short: the fixed header is all that is needed.
    let Some(header) = packet.get(..40) else {
        return false;
    };
    let ip = Ipv6Packet::new_unchecked(header);
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if src.is_unspecified() || src.is_multicast() || src.is_loopback() {
        return false;
    }
    if dst.is_multicast() && !too_big {
        return false;
    }
    if ip.ip_protocol() == IpProtocol::Icmpv6 {
        // ICMPv6 right after the header: errors are not reported on.
        return packet
            .get(40)
            .is_some_and(|&t| !Icmpv6Type::from(t).is_error());
    }
    true
}

/// Replaces the IPv4 packet in `buf[..len]` by ICMPv4 `error` about it from `src`,
/// returning the message's length. `buf` must hold `len + 28` bytes or 576.
pub(crate) fn ipv4_error(buf: &mut [u8], len: usize, src: Ipv4Addr, error: IcmpError) -> usize {
    let quote = len.min(V4_QUOTE);
    let dst = Ipv4Packet::new_unchecked(&buf[..20]).src_addr();
    buf.copy_within(..quote, 28);
    let total = 28 + quote;
    write_ipv4_header(&mut buf[..20], src, dst, total as u16, IpProtocol::Icmp, 64);
    let icmp = &mut buf[20..total];
    icmp[..8].copy_from_slice(&error.header());
    let c = checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    total
}

/// Writes a 20-byte IPv4 header (no options, DF clear, identification 0) with
/// its checksum.
fn write_ipv4_header(
    ip: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    total: u16,
    protocol: IpProtocol,
    ttl: u8,
) {
    ip.copy_from_slice(&[
        0x45, 0, 0, 0, 0, 0, 0, 0, ttl, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[9] = u8::from(protocol);
    let mut view = Ipv4Packet::new_unchecked(ip);
    view.set_src_addr(src);
    view.set_dst_addr(dst);
    view.fill_checksum();
}

/// Replaces the IPv6 packet in `buf[..len]` by ICMPv6 `error` about it from `src`.
/// `buf` must hold `len + 48` bytes or 1280.
pub(crate) fn ipv6_error(buf: &mut [u8], len: usize, src: Ipv6Addr, error: IcmpError) -> usize {
    let quote = len.min(V6_QUOTE);
    let dst = Ipv6Packet::new_unchecked(&buf[..40]).src_addr();
    buf.copy_within(..quote, 48);
    let payload = 8 + quote;
    write_ipv6_header(&mut buf[..40], src, dst, payload as u16, 255);
    let icmp = &mut buf[40..40 + payload];
    icmp[..8].copy_from_slice(&error.header());
    let c = icmpv6_checksum(src, dst, icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    40 + payload
}

/// Writes a 40-byte IPv6 header carrying ICMPv6.
pub(crate) fn write_ipv6_header(
    ip: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    payload: u16,
    hop_limit: u8,
) {
    ip[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, u8::from(IpProtocol::Icmpv6), hop_limit]);
    ip[4..6].copy_from_slice(&payload.to_be_bytes());
    let mut view = Ipv6Packet::new_unchecked(ip);
    view.set_src_addr(src);
    view.set_dst_addr(dst);
}

/// The ICMPv6 checksum of `icmp` (its checksum field counted as it is; zero when
/// building) with its pseudo-header: 0 when verifying a correct message.
pub(crate) fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    pseudo::ipv6(src, dst, u8::from(IpProtocol::Icmpv6), icmp.len() as u32)
        .add(sixfold_checksum::sum(icmp))
        .checksum()
}

/// A token bucket: `rate` errors per second, bursts of up to `rate` (at least 10).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RateLimit {
    rate: u32,
    tokens: u32,
    second: u32,
}

impl RateLimit {
    pub(crate) fn new(rate: u32) -> RateLimit {
        RateLimit {
            rate: rate.max(10),
            tokens: rate.max(10),
            second: 0,
        }
    }

    /// Takes a token at time `now` (seconds); `false` if none is left this second.
    pub(crate) fn take(&mut self, now: u32) -> bool {
        if now != self.second {
            self.second = now;
            self.tokens = self.rate;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_error_bytes() {
        // A 30-byte UDP/IPv4 packet 10.0.0.2 -> 192.0.2.1.
        let mut buf = vec![0u8; 128];
        let pkt = [
            0x45, 0, 0, 30, 0, 1, 0, 0, 1, 17, 0, 0, 10, 0, 0, 2, 192, 0, 2, 1, 0x30, 0x39, 0, 53,
            0, 10, 0, 0, b'h', b'i',
        ];
        buf[..30].copy_from_slice(&pkt);
        assert!(IcmpError::TimeExceeded.allowed_about(&buf[..30]));
        let n = ipv4_error(
            &mut buf,
            30,
            Ipv4Addr::new(100, 64, 0, 1),
            IcmpError::TimeExceeded,
        );
        assert_eq!(n, 58);
        assert_eq!(&buf[..4], &[0x45, 0, 0, 58]);
        assert_eq!(&buf[12..20], &[100, 64, 0, 1, 10, 0, 0, 2]);
        assert_eq!(&buf[20..22], &[11, 0]);
        assert_eq!(&buf[28..58], &pkt);
        assert!(sixfold_checksum::verify(&buf[..20]));
        assert!(sixfold_checksum::verify(&buf[20..58]));
    }

    #[test]
    fn error_headers_are_the_rfc_types_and_codes() {
        assert_eq!(
            IcmpError::FragmentationNeeded { mtu: 1400 }.header(),
            [3, 4, 0, 0, 0, 0, 0x05, 0x78]
        );
        assert_eq!(IcmpError::AdminProhibited.header()[..2], [3, 13]);
        assert_eq!(IcmpError::PortUnreachable.header()[..2], [3, 3]);
        assert_eq!(IcmpError::HopLimitExceeded.header()[..2], [3, 0]);
        assert_eq!(
            IcmpError::PacketTooBig { mtu: 1280 }.header(),
            [2, 0, 0, 0, 0, 0, 0x05, 0x00]
        );
        assert_eq!(IcmpError::Ipv6AdminProhibited.header()[..2], [1, 1]);
        assert_eq!(IcmpError::Ipv6AddressUnreachable.header()[..2], [1, 3]);
        assert_eq!(IcmpError::SourceRouteFailed.header()[..2], [3, 5]);
        assert_eq!(
            IcmpError::Ipv6ParameterProblem { pointer: 43 }.header(),
            [4, 0, 0, 0, 0, 0, 0, 43]
        );
    }

    #[test]
    fn translator_replies_become_router_errors() {
        use sixfold_rewrite::translate::TranslateError;
        let of = |e: TranslateError| e.reply().and_then(IcmpError::of_reply);
        assert_eq!(
            of(TranslateError::FragmentationNeeded { mtu: 1480 }),
            Some(IcmpError::FragmentationNeeded { mtu: 1480 })
        );
        assert_eq!(
            of(TranslateError::PacketTooBig { mtu: 1520 }),
            Some(IcmpError::PacketTooBig { mtu: 1520 })
        );
        assert_eq!(
            of(TranslateError::SegmentsLeft { pointer: 43 }),
            Some(IcmpError::Ipv6ParameterProblem { pointer: 43 })
        );
        assert_eq!(
            of(TranslateError::TtlExceeded),
            Some(IcmpError::TimeExceeded)
        );
        assert_eq!(
            of(TranslateError::HopLimitExceeded),
            Some(IcmpError::HopLimitExceeded)
        );
        assert_eq!(
            of(TranslateError::SourceRoute),
            Some(IcmpError::SourceRouteFailed)
        );
        assert_eq!(
            of(TranslateError::UdpChecksumZero { fragment: false }),
            Some(IcmpError::AdminProhibited)
        );
        assert_eq!(of(TranslateError::UntranslatableQuote), None);
    }

    #[test]
    fn no_errors_about_errors_fragments_or_broadcast() {
        let mut p = [0u8; 28];
        p[0] = 0x45;
        p[3] = 28;
        p[9] = 1;
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&[192, 0, 2, 1]);
        let allowed = |p: &[u8]| IcmpError::TimeExceeded.allowed_about(p);
        p[20] = 3; // destination unreachable
        assert!(!allowed(&p));
        p[20] = 8;
        assert!(allowed(&p));
        p[7] = 1; // fragment offset 8
        assert!(!allowed(&p));
        p[7] = 0;
        p[16..20].copy_from_slice(&[255, 255, 255, 255]);
        assert!(!allowed(&p));
    }

    #[test]
    fn rate_limit_refills_each_second() {
        let mut r = RateLimit::new(10);
        assert_eq!((0..20).filter(|_| r.take(5)).count(), 10);
        assert!(r.take(6));
    }
}
