//! The law: for every valid packet and every rewrite, the result is byte-identical to
//! building the packet with the new fields and computing every checksum from scratch
//! — with pnet_packet's builders, an independent implementation — apart from UDP's 0
//! rules (pnet writes a computed 0 as 0; RFC 768 sends 0xFFFF; a 0 field stays 0).
//! Half the cases are forced so that the new checksums land on ±0.

use pnet_packet::icmp::{self as picmp, MutableIcmpPacket};
use pnet_packet::icmpv6::{self as picmpv6, MutableIcmpv6Packet};
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::{self as pipv4, MutableIpv4Packet};
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::tcp::{self as ptcp, MutableTcpPacket};
use pnet_packet::udp::{self as pudp, MutableUdpPacket};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use sixfold_checksum::Sum;
use sixfold_rewrite::{L4Checksum, QuotedRewrite, Rewrite, Ttl};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Proto {
    Tcp,
    Udp,
    Echo,
}

/// Everything that goes into one packet.
#[derive(Clone, Debug)]
struct Fields {
    v6: bool,
    proto: Proto,
    src: u128,
    dst: u128,
    sport: u16,
    dport: u16,
    ttl: u8,
    ident: u16,
    syn_mss: Option<u16>,
    udp_no_checksum: bool,
    payload: Vec<u8>,
}

impl Fields {
    fn addr(&self, bits: u128) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from_bits(bits))
        } else {
            IpAddr::V4(Ipv4Addr::from_bits(bits as u32))
        }
    }
}

fn l4_len(f: &Fields) -> usize {
    let header = match f.proto {
        Proto::Tcp => 20 + if f.syn_mss.is_some() { 4 } else { 0 },
        Proto::Udp | Proto::Echo => 8,
    };
    header + f.payload.len()
}

/// Builds the transport segment with pnet, checksum from scratch.
fn build_l4(f: &Fields) -> Vec<u8> {
    let mut b = vec![0u8; l4_len(f)];
    let (src, dst) = (f.addr(f.src), f.addr(f.dst));
    match f.proto {
        Proto::Tcp => {
            let opts = if f.syn_mss.is_some() { 1 } else { 0 };
            let mut t = MutableTcpPacket::new(&mut b).unwrap();
            t.set_source(f.sport);
            t.set_destination(f.dport);
            t.set_sequence(0x0102_0304);
            t.set_data_offset(5 + opts);
            t.set_flags(if f.syn_mss.is_some() { 0x02 } else { 0x18 });
            t.set_window(64240);
            if let Some(mss) = f.syn_mss {
                t.set_options(&[pnet_packet::tcp::TcpOption::mss(mss)]);
            }
            t.set_payload(&f.payload);
            let c = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => ptcp::ipv4_checksum(&t.to_immutable(), &s, &d),
                (IpAddr::V6(s), IpAddr::V6(d)) => ptcp::ipv6_checksum(&t.to_immutable(), &s, &d),
                _ => unreachable!(),
            };
            t.set_checksum(c);
        }
        Proto::Udp => {
            let len = b.len() as u16;
            let mut u = MutableUdpPacket::new(&mut b).unwrap();
            u.set_source(f.sport);
            u.set_destination(f.dport);
            u.set_length(len);
            u.set_payload(&f.payload);
            let c = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => pudp::ipv4_checksum(&u.to_immutable(), &s, &d),
                (IpAddr::V6(s), IpAddr::V6(d)) => pudp::ipv6_checksum(&u.to_immutable(), &s, &d),
                _ => unreachable!(),
            };
            // RFC 768: a computed 0 is sent as 0xFFFF (pnet writes 0, libpnet#585).
            let c = if f.udp_no_checksum && !f.v6 {
                0
            } else if c == 0 {
                0xFFFF
            } else {
                c
            };
            u.set_checksum(c);
        }
        Proto::Echo => {
            if f.v6 {
                let mut i = MutableIcmpv6Packet::new(&mut b).unwrap();
                i.set_icmpv6_type(pnet_packet::icmpv6::Icmpv6Types::EchoRequest);
                i.set_payload(&[&f.sport.to_be_bytes()[..], &[0, 1], &f.payload].concat());
                let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
                    unreachable!()
                };
                let c = picmpv6::checksum(&i.to_immutable(), &s, &d);
                i.set_checksum(c);
            } else {
                let mut i = MutableIcmpPacket::new(&mut b).unwrap();
                i.set_icmp_type(pnet_packet::icmp::IcmpTypes::EchoRequest);
                i.set_payload(&[&f.sport.to_be_bytes()[..], &[0, 1], &f.payload].concat());
                let c = picmp::checksum(&i.to_immutable());
                i.set_checksum(c);
            }
        }
    }
    b
}

fn protocol(f: &Fields) -> u8 {
    match (f.proto, f.v6) {
        (Proto::Tcp, _) => 6,
        (Proto::Udp, _) => 17,
        (Proto::Echo, false) => 1,
        (Proto::Echo, true) => 58,
    }
}

/// Builds the whole packet with pnet, every checksum from scratch.
fn build(f: &Fields) -> Vec<u8> {
    let l4 = build_l4(f);
    ip_around(f, &l4)
}

fn ip_around(f: &Fields, l4: &[u8]) -> Vec<u8> {
    if f.v6 {
        let mut b = vec![0u8; 40 + l4.len()];
        let mut p = MutableIpv6Packet::new(&mut b).unwrap();
        p.set_version(6);
        p.set_payload_length(l4.len() as u16);
        p.set_next_header(IpNextHeaderProtocol(protocol(f)));
        p.set_hop_limit(f.ttl);
        p.set_source(Ipv6Addr::from_bits(f.src));
        p.set_destination(Ipv6Addr::from_bits(f.dst));
        p.set_payload(l4);
        b
    } else {
        let mut b = vec![0u8; 20 + l4.len()];
        let mut p = MutableIpv4Packet::new(&mut b).unwrap();
        p.set_version(4);
        p.set_header_length(5);
        p.set_total_length((20 + l4.len()) as u16);
        p.set_identification(f.ident);
        p.set_flags(2);
        p.set_ttl(f.ttl);
        p.set_next_level_protocol(IpNextHeaderProtocol(protocol(f)));
        p.set_source(Ipv4Addr::from_bits(f.src as u32));
        p.set_destination(Ipv4Addr::from_bits(f.dst as u32));
        p.set_payload(l4);
        let c = pipv4::checksum(&p.to_immutable());
        p.set_checksum(c);
        b
    }
}

/// A packet, a rewrite, and whether to force the new checksums onto ±0.
#[derive(Clone, Debug)]
struct Case {
    old: Fields,
    rewrite: Rewrite,
    force_zero: bool,
}

fn opt<T: Arbitrary>(g: &mut Gen) -> Option<T> {
    if bool::arbitrary(g) {
        Some(T::arbitrary(g))
    } else {
        None
    }
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Case {
        let v6 = bool::arbitrary(g);
        let proto = *g.choose(&[Proto::Tcp, Proto::Udp, Proto::Echo]).unwrap();
        let len = usize::arbitrary(g) % 64 + 2;
        let old = Fields {
            v6,
            proto,
            src: u128::arbitrary(g),
            dst: u128::arbitrary(g),
            sport: u16::arbitrary(g),
            dport: u16::arbitrary(g),
            ttl: u8::arbitrary(g).max(1),
            ident: u16::arbitrary(g),
            syn_mss: if proto == Proto::Tcp && bool::arbitrary(g) {
                Some(u16::arbitrary(g))
            } else {
                None
            },
            udp_no_checksum: !v6 && proto == Proto::Udp && u8::arbitrary(g) < 64,
            payload: (0..len).map(|_| u8::arbitrary(g)).collect(),
        };
        let addr = |g: &mut Gen| -> Option<IpAddr> {
            let bits = u128::arbitrary(g);
            bool::arbitrary(g).then(|| {
                if v6 {
                    IpAddr::V6(Ipv6Addr::from_bits(bits))
                } else {
                    IpAddr::V4(Ipv4Addr::from_bits(bits as u32))
                }
            })
        };
        let ttl = match u8::arbitrary(g) % 4 {
            0 => None,
            1 => Some(Ttl::Set(u8::arbitrary(g))),
            2 => Some(Ttl::Add(u8::arbitrary(g))),
            _ => Some(Ttl::Sub(u8::arbitrary(g))),
        };
        let rewrite = Rewrite {
            src: addr(g),
            dst: addr(g),
            src_port: opt(g),
            dst_port: opt(g),
            icmp_id: opt(g),
            ttl,
            mss: opt(g),
            l4_checksum: L4Checksum::Complete,
            quoted: None,
        };
        Case {
            old,
            rewrite,
            force_zero: bool::arbitrary(g),
        }
    }
}

/// The fields after the rewrite.
fn rewritten(f: &Fields, r: &Rewrite) -> Fields {
    let bits = |a: Option<IpAddr>, old: u128| match a {
        Some(IpAddr::V4(a)) => a.to_bits() as u128,
        Some(IpAddr::V6(a)) => a.to_bits(),
        None => old,
    };
    let mut n = f.clone();
    n.src = bits(r.src, f.src);
    n.dst = bits(r.dst, f.dst);
    match f.proto {
        Proto::Tcp | Proto::Udp => {
            n.sport = r.src_port.unwrap_or(f.sport);
            n.dport = r.dst_port.unwrap_or(f.dport);
        }
        Proto::Echo => n.sport = r.icmp_id.unwrap_or(f.sport),
    }
    if let Some(t) = r.ttl {
        n.ttl = t.apply(f.ttl);
    }
    if let (Some(clamp), Some(mss)) = (r.mss, f.syn_mss) {
        n.syn_mss = Some(mss.min(clamp));
    }
    n
}

/// Adjusts payload and ident (same in old and new) so the *new* packet's L4 and IPv4
/// header checksums compute to 0 (sum −0).
fn force_zero(old: &mut Fields, new: &mut Fields) {
    let l4 = build_l4(new);
    let at = l4_len(new) - new.payload.len();
    let field = match new.proto {
        Proto::Tcp => 16,
        Proto::Udp => 6,
        Proto::Echo => 2,
    };
    let c = u16::from_be_bytes([l4[field], l4[field + 1]]);
    let c = if new.proto == Proto::Udp && c == 0xFFFF {
        0
    } else {
        c
    };
    let _ = at;
    let w = Sum::from_be_bytes([new.payload[0], new.payload[1]]) + Sum::new(c);
    for f in [&mut *old, &mut *new] {
        f.payload[..2].copy_from_slice(&w.to_be_bytes());
    }
    if !new.v6 {
        let packet = build(new);
        let h = u16::from_be_bytes([packet[10], packet[11]]);
        let ident = (Sum::new(new.ident) + Sum::new(h)).get();
        old.ident = ident;
        new.ident = ident;
    }
}

#[test]
fn rewrite_equals_rebuild_from_scratch() {
    fn prop(case: Case) -> TestResult {
        let mut old = case.old.clone();
        let mut new = rewritten(&old, &case.rewrite);
        if case.force_zero && !(old.udp_no_checksum) {
            force_zero(&mut old, &mut new);
        }
        let mut got = build(&old);
        let want = build(&new);
        if let Err(e) = case.rewrite.apply(&mut got) {
            return TestResult::error(format!("apply failed: {e}"));
        }
        if got != want {
            return TestResult::error(format!("\n got  {got:02x?}\n want {want:02x?}"));
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop as fn(Case) -> TestResult);
}

/// The law for captures cut short by a snapshot length: rewriting the first `k`
/// bytes of a packet gives exactly the first `k` bytes of the whole packet
/// rewritten — every field and checksum present is exact — for every `k` that
/// holds the IP header — except the one byte of a two-byte field (port,
/// identifier, checksum) that the cut splits: a checksum cannot be updated
/// without its other half, and a half-changed field cannot be accounted for in
/// the checksum, so that byte is left as it was. (An MSS is
/// clamped only when the whole TCP header is present, so cuts inside a SYN's
/// options are left out of the law.)
#[test]
fn truncated_rewrite_is_a_prefix_of_the_whole() {
    fn prop(case: Case, cut: u8) -> TestResult {
        let old = case.old.clone();
        let whole = build(&old);
        let header = if old.v6 { 40 } else { 20 };
        let k = header + usize::from(cut) % (whole.len() - header + 1);
        let tcp_header = if old.syn_mss.is_some() { 24 } else { 20 };
        if case.rewrite.mss.is_some() && old.syn_mss.is_some() && k < header + tcp_header {
            return TestResult::discard();
        }
        let mut full = whole.clone();
        let mut cut_short = whole[..k].to_vec();
        let (Ok(_), Ok(out)) = (
            case.rewrite.apply(&mut full),
            case.rewrite.apply_truncated(&mut cut_short),
        ) else {
            return TestResult::error("a rewrite failed");
        };
        let field = header
            + match old.proto {
                Proto::Tcp => 16,
                Proto::Udp => 6,
                Proto::Echo => 2,
            };
        // The checksum is missing when not (wholly) captured, or when it would have
        // to follow an ICMP identifier that was not.
        let id_missing =
            old.proto == Proto::Echo && case.rewrite.icmp_id.is_some() && k < header + 6;
        if out.l4_checksum_missing != (k < field + 2 || id_missing) {
            return TestResult::error(format!("l4_checksum_missing wrong at {k}"));
        }
        let mut want = full[..k].to_vec();
        let fields: &[usize] = match old.proto {
            Proto::Tcp | Proto::Udp => &[0, 2, field - header],
            Proto::Echo => &[2, 4],
        };
        if let Some(&split) = fields.iter().find(|&&at| k == header + at + 1) {
            want[header + split] = whole[header + split];
        }
        if id_missing && k >= field + 2 {
            want[field..field + 2].copy_from_slice(&whole[field..field + 2]);
        }
        if cut_short != want {
            return TestResult::error(format!(
                "\n got  {cut_short:02x?}\n want {:02x?}",
                &full[..k]
            ));
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop as fn(Case, u8) -> TestResult);
}

#[test]
fn forced_cases_really_land_on_zero() {
    // The forcing itself, checked once: a TCP/IPv4 packet whose new checksums are 0.
    let mut old = Fields {
        v6: false,
        proto: Proto::Tcp,
        src: 0x0a00_0002,
        dst: 0xc633_6407,
        sport: 40000,
        dport: 80,
        ttl: 64,
        ident: 7,
        syn_mss: None,
        udp_no_checksum: false,
        payload: b"hello!".to_vec(),
    };
    let r = Rewrite {
        src: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1))),
        src_port: Some(1024),
        ..Rewrite::new()
    };
    let mut new = rewritten(&old, &r);
    force_zero(&mut old, &mut new);
    let want = build(&new);
    assert_eq!(&want[10..12], &[0, 0], "IPv4 header checksum 0x0000");
    assert_eq!(&want[36..38], &[0, 0], "TCP checksum 0x0000");
    let mut got = build(&old);
    r.apply(&mut got).unwrap();
    assert_eq!(got, want);
}

/// An ICMP error quoting a UDP packet, built both ways: the quoted addresses and
/// ports translated with every checksum patched, versus the quote cut from a packet
/// built with the new fields and the outer ICMP checksum recomputed.
#[test]
fn icmp_error_quote_equals_rebuild() {
    fn error_around(outer: &Fields, inner_full: &[u8], quote_len: usize) -> Vec<u8> {
        let quote = &inner_full[..quote_len.min(inner_full.len())];
        let mut msg = vec![
            if outer.v6 { 1 } else { 3 },
            if outer.v6 { 4 } else { 3 },
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        msg.extend_from_slice(quote);
        let s = sixfold_checksum::sum(&msg);
        let c = if outer.v6 {
            (sixfold_checksum::pseudo::ipv6(
                Ipv6Addr::from_bits(outer.src),
                Ipv6Addr::from_bits(outer.dst),
                58,
                msg.len() as u32,
            ) + s)
                .checksum()
        } else {
            s.checksum()
        };
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        ip_around(outer, &msg)
    }
    fn prop(
        inner: Case,
        quote_extra: u8,
        new_src: u128,
        new_port: u16,
        outer_v6_src: u128,
    ) -> TestResult {
        let mut inner_old = inner.old.clone();
        if inner_old.proto == Proto::Echo {
            inner_old.proto = Proto::Udp;
        }
        inner_old.syn_mss = None;
        let q = QuotedRewrite {
            src: Some(inner_old.addr(new_src)),
            src_port: Some(new_port),
            ..QuotedRewrite::default()
        };
        let inner_new = Fields {
            src: match q.src {
                Some(IpAddr::V4(a)) => a.to_bits() as u128,
                Some(IpAddr::V6(a)) => a.to_bits(),
                None => inner_old.src,
            },
            sport: new_port,
            ..inner_old.clone()
        };
        let ip_len = if inner_old.v6 { 40 } else { 20 };
        let mut quote_len = ip_len + 8 + quote_extra as usize % 32;
        if inner_old.proto == Proto::Tcp && quote_len == ip_len + 17 {
            // Half a checksum field cannot be updated (see quote_cutting_a_checksum_in_half).
            quote_len += 1;
        }
        let outer = Fields {
            proto: Proto::Echo,
            src: outer_v6_src,
            dst: inner_old.src,
            ..inner_old.clone()
        };
        let mut got = error_around(&outer, &build(&inner_old), quote_len);
        let want = error_around(&outer, &build(&inner_new), quote_len);
        let r = Rewrite {
            quoted: Some(q),
            ..Rewrite::new()
        };
        if let Err(e) = r.apply(&mut got) {
            return TestResult::error(format!("apply failed: {e}"));
        }
        if got != want {
            return TestResult::error(format!("\n got  {got:02x?}\n want {want:02x?}"));
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(Case, u8, u128, u16, u128) -> TestResult);
}

/// A quote that ends inside the quoted TCP checksum: that byte cannot be updated
/// exactly (the carry from the missing byte is unknown), so it is left as it was,
/// and the outer ICMP checksum is still exact over the bytes as written.
#[test]
fn quote_cutting_a_checksum_in_half() {
    let inner = Fields {
        v6: false,
        proto: Proto::Tcp,
        src: 0x0a00_0002,
        dst: 0xc633_6407,
        sport: 40000,
        dport: 443,
        ttl: 64,
        ident: 1,
        syn_mss: None,
        udp_no_checksum: false,
        payload: vec![1, 2, 3, 4],
    };
    let full = build(&inner);
    let mut msg = vec![11, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&full[..20 + 17]);
    let c = sixfold_checksum::checksum(&msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    let outer = Fields {
        proto: Proto::Echo,
        src: 0xcb00_7101,
        dst: 0x0a00_0002,
        ..inner.clone()
    };
    let mut p = ip_around(&outer, &msg);
    let half = p[20 + 8 + 20 + 16];
    let r = Rewrite {
        quoted: Some(QuotedRewrite {
            src_port: Some(1024),
            ..QuotedRewrite::default()
        }),
        ..Rewrite::new()
    };
    r.apply(&mut p).unwrap();
    assert_eq!(u16::from_be_bytes([p[48], p[49]]), 1024);
    assert_eq!(
        p[20 + 8 + 20 + 16],
        half,
        "the half checksum byte is left alone"
    );
    assert!(
        sixfold_checksum::verify(&p[20..]),
        "outer ICMP checksum exact"
    );
    assert!(
        sixfold_checksum::verify(&p[28..48]),
        "quoted IPv4 header checksum exact"
    );
}
