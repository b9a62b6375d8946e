//! Golden translations and one test per rejection. Expected packets are built
//! field by field with every checksum computed from scratch, independently of the
//! translator's incremental updates.

use super::*;
use core::net::{Ipv4Addr, Ipv6Addr};
use sixfold_checksum::{Sum, pseudo, sum};
use std::vec::Vec;

mod golden;
mod icmp;
mod rejections;

pub(super) const A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub(super) const B4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
pub(super) const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc000, 0x201);
pub(super) const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc633, 0x6407);

pub(super) fn translator() -> Translator {
    Translator::new(Config::default()).unwrap()
}

/// An IPv4 header's fields; `build` adds options and payload and the checksum.
#[derive(Clone, Copy)]
pub(super) struct V4 {
    pub(super) tos: u8,
    pub(super) ident: u16,
    /// The raw flags / fragment-offset word.
    pub(super) flags_offset: u16,
    pub(super) ttl: u8,
    pub(super) protocol: u8,
    pub(super) src: Ipv4Addr,
    pub(super) dst: Ipv4Addr,
}

impl V4 {
    /// B4 → A4, TTL 64, DF, the given protocol.
    pub(super) fn new(protocol: u8) -> V4 {
        V4 {
            tos: 0,
            ident: 0x1234,
            flags_offset: 0x4000,
            ttl: 64,
            protocol,
            src: B4,
            dst: A4,
        }
    }

    /// What A6 → B6 becomes: A4 → B4, TTL 63, no Identification, DF clear.
    pub(super) fn translated(protocol: u8) -> V4 {
        V4 {
            ident: 0,
            flags_offset: 0,
            ttl: 63,
            src: A4,
            dst: B4,
            ..V4::new(protocol)
        }
    }

    pub(super) fn build(&self, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let header = 20 + options.len();
        let mut p = std::vec![0x40 | (header / 4) as u8, self.tos];
        p.extend_from_slice(&((header + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&self.ident.to_be_bytes());
        p.extend_from_slice(&self.flags_offset.to_be_bytes());
        p.extend_from_slice(&[self.ttl, self.protocol, 0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(options);
        let c = sixfold_checksum::checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }
}

/// An IPv6 packet: `next` is the first next header, `ext` the extension headers.
pub(super) fn ipv6(
    traffic_class: u8,
    next: u8,
    hop_limit: u8,
    (src, dst): (Ipv6Addr, Ipv6Addr),
    ext: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut p = std::vec![0x60 | traffic_class >> 4, traffic_class << 4, 0, 0];
    p.extend_from_slice(&((ext.len() + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[next, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(ext);
    p.extend_from_slice(payload);
    p
}

/// A Fragment Header.
pub(super) fn frag_header(next: u8, offset: u16, more: bool, ident: u32) -> [u8; 8] {
    let mut h = [next, 0, 0, 0, 0, 0, 0, 0];
    h[2..4].copy_from_slice(&(offset | u16::from(more)).to_be_bytes());
    h[4..8].copy_from_slice(&ident.to_be_bytes());
    h
}

/// The pseudo-header sum of either family.
pub(super) fn pseudo_of(src: IpAddrs, protocol: u8, len: usize) -> Sum {
    match src {
        IpAddrs::V4(s, d) => pseudo::ipv4(s, d, protocol, len as u16),
        IpAddrs::V6(s, d) => pseudo::ipv6(s, d, protocol, len as u32),
    }
}

/// A packet's address pair, for its pseudo-header.
#[derive(Clone, Copy)]
pub(super) enum IpAddrs {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

/// A UDP datagram with its checksum over `addrs` (a computed 0 sent as 0xFFFF).
pub(super) fn udp(sport: u16, dport: u16, data: &[u8], addrs: IpAddrs) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(data);
    let c = sixfold_checksum::udp::finish(pseudo_of(addrs, 17, d.len()) + sum(&d));
    d[6..8].copy_from_slice(&c.to_be_bytes());
    d
}

/// A TCP segment (ACK|PSH, no options) with its checksum over `addrs`.
pub(super) fn tcp(sport: u16, dport: u16, data: &[u8], addrs: IpAddrs) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[
        0, 0, 0x10, 0, 0, 0, 0x20, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    t.extend_from_slice(data);
    let c = (pseudo_of(addrs, 6, t.len()) + sum(&t)).checksum();
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// An ICMPv4 message with its checksum.
pub(super) fn icmp4(icmp_type: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = std::vec![icmp_type, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = sixfold_checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An ICMPv6 message with its checksum over `src`/`dst`.
pub(super) fn icmp6(
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
    (src, dst): (Ipv6Addr, Ipv6Addr),
) -> Vec<u8> {
    let mut m = std::vec![icmp_type, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = (pseudo::ipv6(src, dst, 58, m.len() as u32) + sum(&m)).checksum();
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Runs the IPv4 → IPv6 translation into a fresh buffer.
pub(super) fn to6(t: &Translator, p: &[u8], plan: &ToIpv6) -> Result<(Vec<u8>, Option<usize>)> {
    let mut out = std::vec![0u8; 1600.max(p.len() + 28)];
    let r = t.ipv4_to_ipv6(p, plan, &mut out)?;
    out.truncate(r.len);
    Ok((out, r.fragment_len))
}

/// Runs the IPv6 → IPv4 translation into a fresh buffer.
pub(super) fn to4(t: &Translator, p: &[u8], plan: &ToIpv4) -> Result<(Vec<u8>, Option<usize>)> {
    let mut out = std::vec![0u8; 1600.max(p.len())];
    let r = t.ipv6_to_ipv4(p, plan, &mut out)?;
    out.truncate(r.len);
    Ok((out, r.fragment_len))
}

/// The plan B4 → A4 becomes B6 → A6.
pub(super) fn plan6() -> ToIpv6 {
    ToIpv6::new(Mapping::new(B6, A6))
}

/// The plan A6 → B6 becomes A4 → B4.
pub(super) fn plan4() -> ToIpv4 {
    ToIpv4::new(Mapping::new(A4, B4))
}

/// A quoted IPv4 packet A4 → B4: a header and 8 bytes.
pub(super) fn quote4() -> Vec<u8> {
    V4 {
        src: A4,
        dst: B4,
        ..V4::new(17)
    }
    .build(&[], &[0; 8])
}

/// The plan for an ICMPv4 error B4 → A4 quoting A4 → B4.
pub(super) fn error_plan6() -> ToIpv6 {
    ToIpv6 {
        quote: Some(Mapping::new(A6, B6)),
        ..plan6()
    }
}

/// The plan for an ICMPv6 error B6 → A6 quoting A6 → B6.
pub(super) fn error_plan4() -> ToIpv4 {
    ToIpv4 {
        quote: Some(Mapping::new(A4, B4)),
        ..ToIpv4::new(Mapping::new(B4, A4))
    }
}

/// An ICMPv6 error from B6 to A6 (hop limit 64) with its checksum.
pub(super) fn error6(icmp_type: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Vec<u8> {
    ipv6(
        0,
        58,
        64,
        (B6, A6),
        &[],
        &icmp6(icmp_type, code, rest, quote, (B6, A6)),
    )
}
