//! ICMP and ICMPv6 errors the router itself sends (RFC 1812 §4.3, RFC 4443 §2.4,
//! RFC 5508 REQ-8/10), built in place over the packet that caused them, plus the
//! rate limit that RFC 4443 §2.4 (f) requires.

use sixfold_checksum::{checksum, pseudo};
use std::net::{Ipv4Addr, Ipv6Addr};

/// ICMPv4 errors quote at most this much, so the error fits 576 bytes (RFC 1812 §4.3.2.3).
const V4_QUOTE: usize = 576 - 28;
/// ICMPv6 errors fit the minimum MTU (RFC 4443 §2.4 (c)).
const V6_QUOTE: usize = 1280 - 48;

/// Room a buffer needs beyond the packet for any error built over it.
pub(crate) const HEADROOM: usize = 48;

/// Whether RFC 1812 §4.3.2.7 lets the router send an ICMPv4 error about `packet`:
/// not about an ICMP error, a non-first fragment, or a packet from or to a
/// non-unicast address.
pub(crate) fn may_report_v4(packet: &[u8]) -> bool {
    if packet.len() < 20 {
        return false;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let frag_offset = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
    if frag_offset != 0 {
        return false;
    }
    let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
    if src.is_unspecified() || src.is_multicast() || src.is_broadcast() || src.is_loopback() {
        return false;
    }
    if dst.is_multicast() || dst.is_broadcast() {
        return false;
    }
    if packet[9] == 1 {
        let t = packet.get(ihl).copied().unwrap_or(0);
        // Only queries (echo, timestamp, info, mask) may cause errors.
        return matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18);
    }
    true
}

/// Replaces the IPv4 packet in `buf[..len]` by an ICMP error about it from `src`,
/// returning the error's length. `rest` is the 4 bytes after the checksum (the
/// next-hop MTU for "fragmentation needed"). `buf` must hold `len + 28` bytes or 576.
pub(crate) fn ipv4_error(
    buf: &mut [u8],
    len: usize,
    src: Ipv4Addr,
    kind: u8,
    code: u8,
    rest: u32,
) -> usize {
    let quote = len.min(V4_QUOTE);
    let dst = [buf[12], buf[13], buf[14], buf[15]];
    buf.copy_within(..quote, 28);
    let total = 28 + quote;
    let ip = &mut buf[..20];
    ip.copy_from_slice(&[
        0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst);
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut buf[20..total];
    icmp[..8].copy_from_slice(&[kind, code, 0, 0, 0, 0, 0, 0]);
    icmp[4..8].copy_from_slice(&rest.to_be_bytes());
    let c = checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    total
}

/// Whether RFC 4443 §2.4 (e) lets the router send an ICMPv6 error about `packet`.
/// `too_big` allows a multicast destination (§2.4 (e.3) exception).
pub(crate) fn may_report_v6(packet: &[u8], too_big: bool) -> bool {
    if packet.len() < 40 {
        return false;
    }
    let src = ipv6_at(packet, 8);
    let dst = ipv6_at(packet, 24);
    if src.is_unspecified() || src.is_multicast() || src.is_loopback() {
        return false;
    }
    if dst.is_multicast() && !too_big {
        return false;
    }
    if packet[6] == 58 {
        // ICMPv6 right after the header: errors (type < 128) are not reported on.
        return packet.get(40).is_some_and(|&t| t >= 128);
    }
    true
}

pub(crate) fn ipv6_at(buf: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&buf[at..at + 16]);
    Ipv6Addr::from(o)
}

/// Replaces the IPv6 packet in `buf[..len]` by an ICMPv6 error about it from `src`.
/// `buf` must hold `len + 48` bytes or 1280.
pub(crate) fn ipv6_error(
    buf: &mut [u8],
    len: usize,
    src: Ipv6Addr,
    kind: u8,
    code: u8,
    rest: u32,
) -> usize {
    let quote = len.min(V6_QUOTE);
    let dst = ipv6_at(buf, 8);
    buf.copy_within(..quote, 48);
    let payload = 8 + quote;
    write_ipv6_header(&mut buf[..40], src, dst, payload as u16, 58, 255);
    let icmp = &mut buf[40..40 + payload];
    icmp[..8].copy_from_slice(&[kind, code, 0, 0, 0, 0, 0, 0]);
    icmp[4..8].copy_from_slice(&rest.to_be_bytes());
    let c = icmpv6_checksum(src, dst, icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    40 + payload
}

pub(crate) fn write_ipv6_header(
    ip: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    payload: u16,
    next: u8,
    hop_limit: u8,
) {
    ip[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, next, hop_limit]);
    ip[4..6].copy_from_slice(&payload.to_be_bytes());
    ip[8..24].copy_from_slice(&src.octets());
    ip[24..40].copy_from_slice(&dst.octets());
}

/// The ICMPv6 checksum of `icmp` (checksum field zero) with its pseudo-header.
pub(crate) fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    pseudo::ipv6(src, dst, 58, icmp.len() as u32)
        .add(sixfold_checksum::sum(icmp))
        .checksum()
}

/// The router's link-local address on every subscriber link: the RA source and the
/// clients' default router.
pub(crate) const ROUTER_LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// What a router advertisement says.
pub(crate) struct Advertisement<'a> {
    /// /64 prefixes for SLAAC.
    pub(crate) prefixes: &'a [Ipv6Addr],
    pub(crate) mtu: u32,
    pub(crate) rdnss: &'a [Ipv6Addr],
    /// Seconds between unsolicited advertisements; lifetimes derive from it.
    pub(crate) interval: u32,
}

/// Writes a router advertisement (RFC 4861 §4.2) to `dst` into `buf`, returning
/// its length: current hop limit 64, default-router preference high (RFC 4191),
/// router lifetime 3 × interval, then MTU, one prefix-information option per /64
/// (on-link, autonomous; valid 1 day, preferred 4 h) and RDNSS (RFC 8106, lifetime
/// 3 × interval).
pub(crate) fn router_advertisement(buf: &mut [u8], dst: Ipv6Addr, ad: &Advertisement<'_>) -> usize {
    let lifetime = (3 * ad.interval).min(9000);
    let mut icmp = vec![134, 0, 0, 0, 64, 0x08];
    icmp.extend_from_slice(&(lifetime as u16).to_be_bytes());
    icmp.extend_from_slice(&[0; 8]);
    icmp.extend_from_slice(&[5, 1, 0, 0]);
    icmp.extend_from_slice(&ad.mtu.to_be_bytes());
    for prefix in ad.prefixes {
        icmp.extend_from_slice(&[3, 4, 64, 0xc0]);
        icmp.extend_from_slice(&86_400u32.to_be_bytes());
        icmp.extend_from_slice(&14_400u32.to_be_bytes());
        icmp.extend_from_slice(&[0; 4]);
        icmp.extend_from_slice(&prefix.octets());
    }
    if !ad.rdnss.is_empty() {
        icmp.extend_from_slice(&[25, 1 + 2 * ad.rdnss.len() as u8, 0, 0]);
        icmp.extend_from_slice(&lifetime.to_be_bytes());
        for server in ad.rdnss {
            icmp.extend_from_slice(&server.octets());
        }
    }
    let c = icmpv6_checksum(ROUTER_LINK_LOCAL, dst, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    write_ipv6_header(
        &mut buf[..40],
        ROUTER_LINK_LOCAL,
        dst,
        icmp.len() as u16,
        58,
        255,
    );
    buf[40..40 + icmp.len()].copy_from_slice(&icmp);
    40 + icmp.len()
}

/// Whether `packet` (an IPv6 packet, `upper` the upper-layer header's offset) is a
/// router solicitation a router must answer (RFC 4861 §6.1.1: hop limit 255, ICMPv6
/// code 0, right checksum).
pub(crate) fn is_router_solicitation(packet: &[u8], upper: usize) -> bool {
    let Some(icmp) = packet.get(upper..) else {
        return false;
    };
    if packet[7] != 255 || icmp.len() < 8 || icmp[0] != 133 || icmp[1] != 0 {
        return false;
    }
    let (src, dst) = (ipv6_at(packet, 8), ipv6_at(packet, 24));
    pseudo::ipv6(src, dst, 58, icmp.len() as u32)
        .add(sixfold_checksum::sum(icmp))
        .checksum()
        == 0
}

/// A token bucket: `rate` errors per second, bursts of up to `rate` (at least 10).
#[derive(Clone, Debug)]
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
        assert!(may_report_v4(&buf[..30]));
        let n = ipv4_error(&mut buf, 30, Ipv4Addr::new(100, 64, 0, 1), 11, 0, 0);
        assert_eq!(n, 58);
        assert_eq!(&buf[..4], &[0x45, 0, 0, 58]);
        assert_eq!(&buf[12..20], &[100, 64, 0, 1, 10, 0, 0, 2]);
        assert_eq!(&buf[20..22], &[11, 0]);
        assert_eq!(&buf[28..58], &pkt);
        assert!(sixfold_checksum::verify(&buf[..20]));
        assert!(sixfold_checksum::verify(&buf[20..58]));
    }

    #[test]
    fn no_errors_about_errors_fragments_or_broadcast() {
        let mut p = [0u8; 28];
        p[0] = 0x45;
        p[9] = 1;
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&[192, 0, 2, 1]);
        p[20] = 3; // destination unreachable
        assert!(!may_report_v4(&p));
        p[20] = 8;
        assert!(may_report_v4(&p));
        p[7] = 1; // fragment offset 8
        assert!(!may_report_v4(&p));
        p[7] = 0;
        p[16..20].copy_from_slice(&[255, 255, 255, 255]);
        assert!(!may_report_v4(&p));
    }

    #[test]
    fn rate_limit_refills_each_second() {
        let mut r = RateLimit::new(10);
        assert_eq!((0..20).filter(|_| r.take(5)).count(), 10);
        assert!(r.take(6));
    }
}
