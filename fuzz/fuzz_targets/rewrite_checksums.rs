//! Arbitrary bytes through every view (no panic), then through `Rewrite::apply` with
//! arbitrary values after the packet's checksums were made valid: every checksum the
//! packet carries must still be valid afterwards (a UDP/IPv4 0 must stay 0), and a
//! rewrite that fails must not have written anything.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sixfold_checksum::{Sum, pseudo, sum};
use sixfold_rewrite::{
    Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet, QuotedPacket, QuotedRewrite, Rewrite,
    TcpPacket, Ttl, UdpPacket,
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

/// Where the transport checksum is and what covers it: (offset, end, pseudo-header sum or none).
fn transport(p: &[u8]) -> Option<(usize, usize, u8, Option<Sum>)> {
    if p[0] >> 4 == 4 {
        let ip = Ipv4Packet::new_checked(p).ok()?;
        if ip.is_fragment() {
            return None;
        }
        let (s, e) = (ip.header_len(), ip.total_len());
        let ph = pseudo::ipv4(ip.src_addr(), ip.dst_addr(), ip.protocol(), (e - s) as u16);
        Some((
            s,
            e,
            ip.protocol(),
            if ip.protocol() == 1 { None } else { Some(ph) },
        ))
    } else {
        let ip = Ipv6Packet::new_checked(p).ok()?;
        let u = ip.upper_layer().ok()?;
        if u.fragment.is_some() || u.routing_pending {
            return None;
        }
        let e = 40 + ip.payload_len();
        if u.offset > e {
            return None;
        }
        Some((
            u.offset,
            e,
            u.protocol,
            Some(pseudo::ipv6(
                ip.src_addr(),
                ip.dst_addr(),
                u.protocol,
                (e - u.offset) as u32,
            )),
        ))
    }
}

fn field_at(protocol: u8, v6: bool, l4_len: usize) -> Option<usize> {
    // ICMPv4 is only checksummed as such over IPv4, ICMPv6 only over IPv6.
    let at = match (protocol, v6) {
        (6, _) => 16,
        (17, _) => 6,
        (1, false) | (58, true) => 2,
        _ => return None,
    };
    let need = if protocol == 6 { 20 } else { 8 };
    (l4_len >= need).then_some(at)
}

fn fill(p: &mut [u8]) {
    if p[0] >> 4 == 4
        && let Ok(mut ip) = Ipv4Packet::new_checked(&mut p[..])
    {
        ip.fill_checksum();
    }
    let Some((s, e, proto, ph)) = transport(p) else {
        return;
    };
    let Some(at) = field_at(proto, p[0] >> 4 == 6, e - s) else {
        return;
    };
    if proto == 17 && p[0] >> 4 == 4 && p[s + at..s + at + 2] == [0, 0] {
        return; // "no checksum" is a valid state
    }
    p[s + at..s + at + 2].fill(0);
    let total = ph.unwrap_or(Sum::ZERO) + sum(&p[s..e]);
    let c = if proto == 17 {
        sixfold_checksum::udp::finish(total)
    } else {
        total.checksum()
    };
    p[s + at..s + at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Whether every checksum the packet carries is valid.
fn valid(p: &[u8]) -> bool {
    if p[0] >> 4 == 4 && !Ipv4Packet::new_checked(p).is_ok_and(|ip| ip.verify_checksum()) {
        return false;
    }
    let Some((s, e, proto, ph)) = transport(p) else {
        return true;
    };
    let Some(at) = field_at(proto, p[0] >> 4 == 6, e - s) else {
        return true;
    };
    let field = u16::from_be_bytes([p[s + at], p[s + at + 1]]);
    if proto == 17 && field == 0 {
        return p[0] >> 4 == 4;
    }
    ph.unwrap_or(Sum::ZERO) + sum(&p[s..e]) == Sum::NEG_ZERO
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
        fill(&mut p);
    }
    let was_valid = valid(&p);
    let udp4_zero = transport(&p).and_then(|(s, e, proto, _)| {
        (proto == 17 && !v6 && e - s >= 8 && p[s + 6..s + 8] == [0, 0]).then_some(s)
    });
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
            if let Some(s) = udp4_zero {
                assert_eq!(
                    &p[s + 6..s + 8],
                    &[0, 0],
                    "UDP/IPv4 'no checksum' must stay 0"
                );
            }
        }
        Err(_) => assert_eq!(p, before, "a failed rewrite wrote bytes"),
    }
});
