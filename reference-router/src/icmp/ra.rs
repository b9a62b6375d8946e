//! Router advertisements (RFC 4861 §4.2, §6.2) into the subscriber links, and the
//! router solicitations that ask for one.

use super::{icmpv6_checksum, write_ipv6_header};
use sixfold_rewrite::addr::Nat64Prefix;
use sixfold_rewrite::{Icmpv6Type, Ipv6Packet};
use std::net::Ipv6Addr;

/// The router's link-local address on every subscriber link: the RA source and the
/// clients' default router.
pub(crate) const ROUTER_LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
/// Where unsolicited (and, here, solicited) advertisements go.
pub(crate) const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Where router solicitations go.
pub(crate) const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// Option types (RFC 4861 §4.6, RFC 8106).
const OPTION_PREFIX: u8 = 3;
const OPTION_MTU: u8 = 5;
const OPTION_RDNSS: u8 = 25;
const OPTION_PREF64: u8 = 38;

/// What a router advertisement says.
pub(crate) struct Advertisement<'a> {
    /// /64 prefixes for SLAAC.
    pub(crate) prefixes: &'a [Ipv6Addr],
    pub(crate) mtu: u32,
    pub(crate) rdnss: &'a [Ipv6Addr],
    /// Seconds between unsolicited advertisements; lifetimes derive from it.
    pub(crate) interval: u32,
    /// The NAT64 prefix (RFC 8781), if the router translates.
    pub(crate) pref64: Option<Nat64Prefix>,
}

/// The PREF64 option (RFC 8781 §4): the lifetime in units of 8 seconds (13 bits,
/// rounded up so it covers `lifetime`), the prefix length code (PLC) and the
/// prefix's first 96 bits.
fn pref64_option(prefix: Nat64Prefix, lifetime: u32) -> [u8; 16] {
    let plc: u16 = match prefix.prefix().prefix_len() {
        96 => 0,
        64 => 1,
        56 => 2,
        48 => 3,
        40 => 4,
        _ => 5, // 32: RFC 6052 allows no other length
    };
    let scaled = lifetime.div_ceil(8).min(0x1FFF) as u16;
    let mut o = [0u8; 16];
    o[0] = OPTION_PREF64;
    o[1] = 2;
    o[2..4].copy_from_slice(&(scaled << 3 | plc).to_be_bytes());
    o[4..].copy_from_slice(&prefix.prefix().addr().octets()[..12]);
    o
}

/// A router advertisement to all-nodes, the whole IPv6 packet:
/// current hop limit 64, default-router preference high (RFC 4191), router
/// lifetime 3 × interval, then MTU, one prefix-information option per /64 (on-link,
/// autonomous; valid 1 day, preferred 4 h) and RDNSS (RFC 8106, lifetime 3 ×
/// interval), and PREF64 (RFC 8781) when the router translates.
pub(crate) fn router_advertisement(ad: &Advertisement<'_>) -> Vec<u8> {
    let lifetime = (3 * ad.interval).min(9000);
    let mut icmp = vec![u8::from(Icmpv6Type::RouterAdvertisement), 0, 0, 0, 64, 0x08];
    icmp.extend_from_slice(&(lifetime as u16).to_be_bytes());
    icmp.extend_from_slice(&[0; 8]);
    icmp.extend_from_slice(&[OPTION_MTU, 1, 0, 0]);
    icmp.extend_from_slice(&ad.mtu.to_be_bytes());
    for prefix in ad.prefixes {
        icmp.extend_from_slice(&[OPTION_PREFIX, 4, 64, 0xc0]);
        icmp.extend_from_slice(&86_400u32.to_be_bytes());
        icmp.extend_from_slice(&14_400u32.to_be_bytes());
        icmp.extend_from_slice(&[0; 4]);
        icmp.extend_from_slice(&prefix.octets());
    }
    if !ad.rdnss.is_empty() {
        icmp.extend_from_slice(&[OPTION_RDNSS, 1 + 2 * ad.rdnss.len() as u8, 0, 0]);
        icmp.extend_from_slice(&lifetime.to_be_bytes());
        for server in ad.rdnss {
            icmp.extend_from_slice(&server.octets());
        }
    }
    if let Some(prefix) = ad.pref64 {
        // RFC 8781 §4.1: a lifetime of at least 3 x MaxRtrAdvInterval.
        icmp.extend_from_slice(&pref64_option(prefix, lifetime));
    }
    let c = icmpv6_checksum(ROUTER_LINK_LOCAL, ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut packet = vec![0u8; 40];
    write_ipv6_header(
        &mut packet,
        ROUTER_LINK_LOCAL,
        ALL_NODES,
        icmp.len() as u16,
        255,
    );
    packet.extend_from_slice(&icmp);
    packet
}

/// Whether `packet` (an IPv6 packet whose upper layer, at `upper`, is ICMPv6) is a
/// router solicitation to all-routers that a router must answer (RFC 4861 §6.1.1:
/// hop limit 255, code 0, right checksum).
pub(crate) fn is_router_solicitation(packet: &[u8], upper: usize) -> bool {
    let (Ok(ip), Some(icmp)) = (Ipv6Packet::new_checked(packet), packet.get(upper..)) else {
        return false;
    };
    ip.dst_addr() == ALL_ROUTERS
        && ip.hop_limit() == 255
        && icmp.len() >= 8
        && Icmpv6Type::from(icmp[0]) == Icmpv6Type::RouterSolicitation
        && icmp[1] == 0
        && icmpv6_checksum(ip.src_addr(), ip.dst_addr(), icmp) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pref64_option_bytes() {
        // RFC 8781 §4: 2001:db8:64::/96 for 600 s: 75 units of 8 s, PLC 0.
        let p = Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap();
        assert_eq!(
            pref64_option(p, 600),
            [
                38, 2, 0x02, 0x58, 0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0
            ]
        );
        // 64:ff9b::/96 for 601 s rounds up to 76 units; a /32 is PLC 5.
        assert_eq!(
            pref64_option(Nat64Prefix::WELL_KNOWN, 601)[2..4],
            [0x02, 0x60]
        );
        let p = Nat64Prefix::new("2001:db8::".parse().unwrap(), 32).unwrap();
        assert_eq!(pref64_option(p, 65535 * 8)[2..4], [0xff, 0xfd]);
        let ad = Advertisement {
            prefixes: &[],
            mtu: 1500,
            rdnss: &[],
            interval: 200,
            pref64: Some(Nat64Prefix::WELL_KNOWN),
        };
        let ra = router_advertisement(&ad);
        // Header 16, MTU 8, PREF64 16; the option last.
        assert_eq!(ra.len(), 40 + 40);
        assert_eq!(&ra[64..68], &[38, 2, 0x02, 0x58]);
        assert_eq!(icmpv6_checksum(ROUTER_LINK_LOCAL, ALL_NODES, &ra[40..]), 0);
    }
}
