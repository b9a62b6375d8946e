//! Arbitrary bytes through every view (no panic), then through `Rewrite::apply` with
//! arbitrary values after the packet's checksums were made valid: every checksum the
//! packet carries must still be valid afterwards (a UDP/IPv4 0 must stay 0), and a
//! rewrite that fails must not have written anything.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sixfold_rewrite::{
    Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, QuotedPacket, QuotedRewrite, Rewrite,
    TcpPacket, Ttl, UdpPacket, recompute_checksums,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Arbitrary, Debug)]
struct Input {
    packet: Vec<u8>,
    src: Option<u128>,
    dst: Option<u128>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    icmp_id: Option<u16>,
    ttl: Option<(u8, u8)>,
    mss: Option<u16>,
    quoted: Option<(Option<u128>, Option<u16>)>,
    fix_checksums: bool,
}

#[path = "shared/valid.rs"]
mod shared;
use shared::valid;

/// The offset of a UDP/IPv4 checksum field that holds 0 ("no checksum").
fn udp4_zero(p: &[u8]) -> Option<usize> {
    let ip = Ipv4Packet::new_checked(p).ok()?;
    let at = ip.header_len() + 6;
    (ip.protocol() == 17
        && ip.frag_offset() == 0
        && ip.total_len() >= at + 2
        && p[at..at + 2] == [0, 0])
    .then_some(at)
}

fn addr(bits: Option<u128>, v6: bool) -> Option<IpAddr> {
    bits.map(|b| {
        if v6 {
            IpAddr::V6(Ipv6Addr::from_bits(b))
        } else {
            IpAddr::V4(Ipv4Addr::from_bits(b as u32))
        }
    })
}

fuzz_target!(|input: Input| {
    let mut p = input.packet;
    // Views: nothing panics after new_checked.
    if let Ok(ip) = Ipv4Packet::new_checked(&p[..]) {
        let _ = (
            ip.payload(),
            ip.options(),
            ip.verify_checksum(),
            ip.frag_offset(),
            ip.src_addr(),
        );
    }
    if let Ok(ip) = Ipv6Packet::new_checked(&p[..]) {
        let _ = (ip.payload(), ip.upper_layer(), ip.dst_addr());
    }
    if let Ok(t) = TcpPacket::new_checked(&p[..]) {
        let _ = (t.mss(), t.options(), t.flags());
    }
    if let Ok(u) = UdpPacket::new_checked(&p[..]) {
        let _ = u.payload();
    }
    if let Ok(i) = Icmpv4Packet::new_checked(&p[..]) {
        let _ = (i.quoted(), i.is_error(), i.ident());
    }
    if let Ok(i) = Icmpv6Packet::new_checked(&p[..]) {
        let _ = (i.quoted(), i.is_query());
    }
    if let Ok(q) = QuotedPacket::new(&p[..]) {
        let _ = (
            q.src_addr(),
            q.dst_addr(),
            q.src_port(),
            q.dst_port(),
            q.icmp_id(),
            q.transport(),
        );
    }
    let Some(&first) = p.first() else { return };
    let v6 = first >> 4 == 6;
    if input.fix_checksums {
        let _ = recompute_checksums(&mut p);
    }
    let was_valid = valid(&p);
    let udp4_zero = udp4_zero(&p);
    let rewrite = Rewrite {
        src: addr(input.src, v6),
        dst: addr(input.dst, v6),
        src_port: input.src_port,
        dst_port: input.dst_port,
        icmp_id: input.icmp_id,
        ttl: input.ttl.map(|(kind, v)| match kind % 3 {
            0 => Ttl::Set(v),
            1 => Ttl::Add(v),
            _ => Ttl::Sub(v),
        }),
        mss: input.mss,
        quoted: input.quoted.map(|(a, port)| QuotedRewrite {
            src: addr(a, v6),
            src_port: port,
            ..QuotedRewrite::default()
        }),
        ..Rewrite::new()
    };
    let before = p.clone();
    match rewrite.apply(&mut p) {
        Ok(_) => {
            if was_valid {
                assert!(
                    valid(&p),
                    "a rewrite broke a checksum:\n before {before:02x?}\n after  {p:02x?}"
                );
            }
            if let Some(at) = udp4_zero {
                assert_eq!(
                    &p[at..at + 2],
                    &[0, 0],
                    "UDP/IPv4 'no checksum' must stay 0"
                );
            }
        }
        Err(_) => assert_eq!(p, before, "a failed rewrite wrote bytes"),
    }
});
