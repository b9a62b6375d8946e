//! Writing the translated IP headers (RFC 7915 §4.1, §5.1, §5.1.1), and the checks
//! on the incoming header that decide whether to translate at all.

use crate::protocol::IpProtocol;
use core::net::{Ipv4Addr, Ipv6Addr};
use sixfold_checksum::checksum;

/// The IPv6 fixed header's length.
pub(crate) const IPV6_HEADER: usize = 40;
/// The Fragment Header's length (RFC 8200 §4.5).
pub(crate) const FRAGMENT_HEADER: usize = 8;
/// The IPv4 header's length without options (the translator writes none).
pub(crate) const IPV4_HEADER: usize = 20;

/// IPv4 flag bits in the flags/fragment-offset word.
const DF: u16 = 0x4000;
const MF: u16 = 0x2000;

/// RFC 7915 §5.1: a translated packet of up to this size gets DF clear, so IPv4
/// routers may fragment what an IPv6 host sent at the IPv6 minimum MTU.
pub(crate) const DF_THRESHOLD: usize = 1260;

/// The fields of a translated IPv6 header.
pub(crate) struct Ipv6Fields {
    pub(crate) traffic_class: u8,
    pub(crate) payload_len: u16,
    pub(crate) next_header: IpProtocol,
    pub(crate) hop_limit: u8,
    pub(crate) src: Ipv6Addr,
    pub(crate) dst: Ipv6Addr,
}

/// Writes the 40-byte IPv6 header; the flow label is 0 (RFC 7915 §4.1).
pub(crate) fn write_ipv6(out: &mut [u8], h: &Ipv6Fields) {
    let out = &mut out[..IPV6_HEADER];
    out[0] = 0x60 | h.traffic_class >> 4;
    out[1] = h.traffic_class << 4;
    out[2..4].fill(0);
    out[4..6].copy_from_slice(&h.payload_len.to_be_bytes());
    out[6] = h.next_header.into();
    out[7] = h.hop_limit;
    out[8..24].copy_from_slice(&h.src.octets());
    out[24..40].copy_from_slice(&h.dst.octets());
}

/// The fragment fields both families carry (offset in bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FragmentFields {
    pub(crate) offset: usize,
    pub(crate) more: bool,
    pub(crate) ident: u32,
}

/// Writes an 8-byte Fragment Header (RFC 8200 §4.5).
pub(crate) fn write_fragment_header(out: &mut [u8], next: IpProtocol, f: FragmentFields) {
    let out = &mut out[..FRAGMENT_HEADER];
    out[0] = next.into();
    out[1] = 0;
    let off_flags = (f.offset as u16 & 0xFFF8) | u16::from(f.more);
    out[2..4].copy_from_slice(&off_flags.to_be_bytes());
    out[4..8].copy_from_slice(&f.ident.to_be_bytes());
}

/// The fields of a translated IPv4 header.
pub(crate) struct Ipv4Fields {
    pub(crate) tos: u8,
    pub(crate) total_len: u16,
    pub(crate) ident: u16,
    pub(crate) dont_frag: bool,
    pub(crate) more_frags: bool,
    pub(crate) frag_offset: usize,
    pub(crate) ttl: u8,
    pub(crate) protocol: IpProtocol,
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
}

/// Writes the 20-byte IPv4 header (no options) with its checksum.
pub(crate) fn write_ipv4(out: &mut [u8], h: &Ipv4Fields) {
    let out = &mut out[..IPV4_HEADER];
    out[0] = 0x45;
    out[1] = h.tos;
    out[2..4].copy_from_slice(&h.total_len.to_be_bytes());
    out[4..6].copy_from_slice(&h.ident.to_be_bytes());
    let flags = if h.dont_frag { DF } else { 0 } | if h.more_frags { MF } else { 0 };
    let off_flags = flags | (h.frag_offset / 8) as u16 & 0x1FFF;
    out[6..8].copy_from_slice(&off_flags.to_be_bytes());
    out[8] = h.ttl;
    out[9] = h.protocol.into();
    out[10..12].fill(0);
    out[12..16].copy_from_slice(&h.src.octets());
    out[16..20].copy_from_slice(&h.dst.octets());
    let c = checksum(out);
    out[10..12].copy_from_slice(&c.to_be_bytes());
}

/// The IPv6 next header for an IPv4 protocol: ICMP becomes ICMPv6, every other
/// protocol is copied (RFC 7915 §4.1 "Next Header").
pub(crate) fn protocol_to_ipv6(p: IpProtocol) -> IpProtocol {
    match p {
        IpProtocol::Icmp => IpProtocol::Icmpv6,
        other => other,
    }
}

/// The IPv4 protocol for an IPv6 upper layer: ICMPv6 becomes ICMP (§5.1).
pub(crate) fn protocol_to_ipv4(p: IpProtocol) -> IpProtocol {
    match p {
        IpProtocol::Icmpv6 => IpProtocol::Icmp,
        other => other,
    }
}

/// An IPv4 source no router forwards from (RFC 1812 §5.3.7): "this network"
/// 0/8, loopback 127/8, multicast 224/4 and reserved 240/4 (with the limited
/// broadcast). RFC 7915 §4.1: "SHOULD silently drop".
pub(crate) fn illegal_ipv4_source(a: Ipv4Addr) -> bool {
    let first = a.octets()[0];
    first == 0 || first == 127 || first >= 224
}

/// An IPv4 destination no router forwards to (RFC 1812 §5.3.7, §4.2.2.11):
/// "this network" 0/8, loopback 127/8, multicast 224/4 (the translator does not
/// route multicast) and reserved 240/4 with the limited broadcast. An IPv6
/// destination under a network-specific prefix may embed any of them.
pub(crate) fn not_forwardable_ipv4(a: Ipv4Addr) -> bool {
    illegal_ipv4_source(a)
}

/// An IPv6 source no router forwards from: unspecified, loopback, multicast
/// (RFC 4291 §2.5.2, §2.5.3, §2.7). RFC 7915 §5.1: "SHOULD silently drop".
pub(crate) fn illegal_ipv6_source(a: Ipv6Addr) -> bool {
    a.is_unspecified() || a.is_loopback() || a.is_multicast()
}

/// IPv4 options (RFC 791 §3.1).
const OPTION_END: u8 = 0;
const OPTION_NOP: u8 = 1;
const OPTION_LSRR: u8 = 131;
const OPTION_SSRR: u8 = 137;

/// Whether the options hold a loose or strict source route that still has
/// addresses to visit: its pointer (third byte, 1-based) does not point past the
/// option (RFC 791: "If the pointer is greater than the length, the source route
/// is empty"). RFC 7915 §4.1 refuses those.
///
/// A malformed option (a length below 2 or past the options' end, a source
/// route shorter than its 3-byte head) ends the walk, but must not hide a
/// route behind it: the rest is searched byte by byte for anything that reads
/// as a pending LSRR or SSRR ([`route_in`]).
pub(crate) fn source_route_pending(options: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&kind) = options.get(at) {
        match kind {
            OPTION_END => return false,
            OPTION_NOP => at += 1,
            _ => {
                let len = options.get(at + 1).map_or(0, |&l| usize::from(l));
                let route = matches!(kind, OPTION_LSRR | OPTION_SSRR);
                if len < 2 || at + len > options.len() || (route && len < 3) {
                    return options.get(at + 1..).is_some_and(route_in);
                }
                if route && usize::from(options[at + 2]) <= len {
                    return true;
                }
                at += len;
            }
        }
    }
    false
}

/// Whether an LSRR or SSRR with a pointer inside it (at least 4, at most its
/// length) and a length that fits starts anywhere in `bytes`.
fn route_in(bytes: &[u8]) -> bool {
    (0..bytes.len()).any(|i| {
        let (Some(&kind), Some(&len), Some(&pointer)) =
            (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2))
        else {
            return false;
        };
        matches!(kind, OPTION_LSRR | OPTION_SSRR)
            && len >= 3
            && i + usize::from(len) <= bytes.len()
            && (4..=len).contains(&pointer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_header_golden_bytes() {
        let mut out = [0xEEu8; 40];
        write_ipv6(
            &mut out,
            &Ipv6Fields {
                traffic_class: 0xB8, // EF
                payload_len: 1232,
                next_header: IpProtocol::Ipv6Frag,
                hop_limit: 63,
                src: "2001:db8::1".parse().unwrap(),
                dst: "64:ff9b::c633:6407".parse().unwrap(),
            },
        );
        assert_eq!(&out[..8], &[0x6B, 0x80, 0, 0, 0x04, 0xD0, 44, 63]);
        assert_eq!(out[23], 1);
        assert_eq!(&out[36..40], &[198, 51, 100, 7]);
    }

    #[test]
    fn fragment_header_golden_bytes() {
        let mut out = [0xEEu8; 8];
        let f = FragmentFields {
            offset: 1232,
            more: true,
            ident: 0xBEEF,
        };
        write_fragment_header(&mut out, IpProtocol::Udp, f);
        // 1232 = 0x4D0; offset field keeps the byte offset's top 13 bits, M = 1.
        assert_eq!(out, [17, 0, 0x04, 0xD1, 0, 0, 0xBE, 0xEF]);
    }

    #[test]
    fn ipv4_header_golden_bytes() {
        let mut out = [0xEEu8; 20];
        write_ipv4(
            &mut out,
            &Ipv4Fields {
                tos: 0,
                total_len: 28,
                ident: 0x1234,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
                ttl: 64,
                protocol: IpProtocol::Udp,
                src: Ipv4Addr::new(192, 0, 2, 1),
                dst: Ipv4Addr::new(198, 51, 100, 2),
            },
        );
        // The same header as ipv4.rs's golden test, checksum 0x3c66.
        assert_eq!(
            out,
            [
                0x45, 0, 0, 0x1c, 0x12, 0x34, 0x40, 0, 64, 17, 0x3c, 0x66, 192, 0, 2, 1, 198, 51,
                100, 2
            ]
        );
        write_ipv4(
            &mut out,
            &Ipv4Fields {
                tos: 0x10,
                total_len: 1500,
                ident: 7,
                dont_frag: false,
                more_frags: true,
                frag_offset: 2960,
                ttl: 1,
                protocol: IpProtocol::Icmp,
                src: Ipv4Addr::new(192, 0, 2, 1),
                dst: Ipv4Addr::new(198, 51, 100, 2),
            },
        );
        assert_eq!(
            &out[..10],
            &[0x45, 0x10, 0x05, 0xdc, 0, 7, 0x21, 0x72, 1, 1]
        );
        assert!(sixfold_checksum::verify(&out));
    }

    #[test]
    fn protocol_numbers() {
        assert_eq!(protocol_to_ipv6(IpProtocol::Icmp), IpProtocol::Icmpv6);
        assert_eq!(protocol_to_ipv6(IpProtocol::Tcp), IpProtocol::Tcp);
        assert_eq!(protocol_to_ipv4(IpProtocol::Icmpv6), IpProtocol::Icmp);
        assert_eq!(
            protocol_to_ipv4(IpProtocol::Other(253)),
            IpProtocol::Other(253)
        );
    }

    #[test]
    fn illegal_sources() {
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(illegal_ipv4_source(a.parse().unwrap()), "{a}");
        }
        for a in ["1.0.0.0", "192.0.2.1", "223.255.255.255"] {
            assert!(!illegal_ipv4_source(a.parse().unwrap()), "{a}");
        }
        for a in ["::", "::1", "ff02::1"] {
            assert!(illegal_ipv6_source(a.parse().unwrap()), "{a}");
        }
        assert!(!illegal_ipv6_source("fe80::1".parse().unwrap()));
    }

    #[test]
    fn source_routes() {
        // NOP, then LSRR of two addresses with the pointer at the first (4).
        let pending = [1, 131, 11, 4, 192, 0, 2, 1, 192, 0, 2, 2, 0];
        assert!(source_route_pending(&pending));
        // The same route, exhausted: pointer 12 > length 11.
        let mut done = pending;
        done[3] = 12;
        assert!(!source_route_pending(&done));
        // SSRR pending after a record-route option.
        let ssrr = [7, 7, 4, 0, 0, 0, 0, 137, 7, 4, 10, 0, 0, 1];
        assert!(source_route_pending(&ssrr));
        // Record route only; END before a source route; malformed lengths.
        assert!(!source_route_pending(&[7, 7, 4, 0, 0, 0, 0, 0]));
        assert!(!source_route_pending(&[0, 131, 7, 4, 1, 2, 3, 4]));
        assert!(!source_route_pending(&[131, 1, 4]));
        assert!(!source_route_pending(&[131, 40, 4, 0]));
        assert!(!source_route_pending(&[131]));
        assert!(!source_route_pending(&[]));
        // A malformed option (length 1, length 0, past the end) before a
        // pending LSRR does not hide it.
        let lsrr = [131, 7, 4, 10, 0, 0, 1];
        for bad in [&[0x99, 1][..], &[0x99, 0], &[7, 40]] {
            let mut o = bad.to_vec();
            o.extend_from_slice(&lsrr);
            assert!(source_route_pending(&o), "{o:?}");
        }
        // An LSRR of length 2 has no pointer: the next option's first byte
        // is not read as one (NOP = 1 would be "pending").
        assert!(!source_route_pending(&[131, 2, 1, 1, 0, 0, 0, 0]));
        assert!(!source_route_pending(&[137, 2, 1, 0]));
        let mut o = std::vec![131, 2];
        o.extend_from_slice(&lsrr);
        assert!(source_route_pending(&o));
        // An exhausted route after a malformed option is still no route.
        assert!(!source_route_pending(&[0x99, 1, 131, 7, 8, 10, 0, 0, 1]));
    }
}
