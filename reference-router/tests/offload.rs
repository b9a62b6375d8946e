//! Offloaded super-packets through the router: translated once, never split, and
//! equal — segment by segment — to what segmenting first and translating each
//! segment with every checksum computed from scratch gives. One test per
//! checksum state: partial (TSO/USO, `NEEDS_CSUM`), complete, UDP 0. Packets are
//! built with etherparse and checked with internet-checksum, neither written
//! here; the segmenter stands in for the receiving kernel.

mod common;
use common::*;
use etherparse::PacketBuilder;
use sixfold_router::offload::{self, Gso, Offload};
use sixfold_router::{Direction, Interface, PacketBuf, Verdict};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A TCP/IPv4 segment (ACK|PSH, sequence `seq`) with `payload`, complete checksum.
fn tcp_data(src: &str, sport: u16, dst: &str, dport: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(ip(src), ip(dst), 64)
        .tcp(sport, dport, seq, 65535)
        .ack(5000)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

/// The folded, uncomplemented pseudo-header sum over `p`'s addresses and its
/// transport length: what a `NEEDS_CSUM` field holds.
fn partial_field(p: &[u8], protocol: u8) -> [u8; 2] {
    let ihl = usize::from(p[0] & 15) * 4;
    let len = (p.len() - ihl) as u16;
    let sum = sixfold_checksum::pseudo::ipv4(
        Ipv4Addr::new(p[12], p[13], p[14], p[15]),
        Ipv4Addr::new(p[16], p[17], p[18], p[19]),
        protocol,
        len,
    );
    sum.to_be_bytes()
}

/// Makes the complete packet `p` a super-packet with a partial checksum.
fn to_partial(mut p: Vec<u8>, gso: Gso, gso_size: u16) -> (Vec<u8>, Offload) {
    let ihl = usize::from(p[0] & 15) * 4;
    let (protocol, field) = if p[9] == 6 { (6, 16) } else { (17, 6) };
    let f = partial_field(&p, protocol);
    p[ihl + field..ihl + field + 2].copy_from_slice(&f);
    let off = Offload {
        gso,
        ecn: false,
        gso_size,
        partial: Some((ihl as u16, field as u16)),
    };
    (p, off)
}

/// What the NAT must make of one segment: source → `public`, TTL − 1, every
/// checksum recomputed from scratch.
fn nat_from_scratch(seg: &[u8], public: SocketAddrV4) -> Vec<u8> {
    let mut s = seg.to_vec();
    let ihl = usize::from(s[0] & 15) * 4;
    s[12..16].copy_from_slice(&public.ip().octets());
    s[ihl..ihl + 2].copy_from_slice(&public.port().to_be_bytes());
    s[8] -= 1;
    sixfold_rewrite::recompute_checksums(&mut s).unwrap();
    s
}

fn process(lab: &mut Lab, dir: Direction, packet: &[u8], off: Offload) -> (Verdict, PacketBuf) {
    let mut buf = PacketBuf::from_packet(packet);
    buf.set_offload(off);
    let v = lab.router.process(dir, &mut buf, lab.instant());
    (v, buf)
}

/// Sends the super-packet out of subscriber 0 after a SYN opened its flow, and
/// checks the law: translate-then-segment == segment-then-translate-from-scratch.
fn super_packet_law(packet: Vec<u8>, off: Offload, syn: Option<Vec<u8>>) {
    let mut lab = Lab::new("");
    let opened = syn.is_some();
    if let Some(syn) = syn {
        assert!(matches!(
            lab.out(0, &syn).0,
            Verdict::Forward(Interface::Wan)
        ));
    }
    let (v, out) = process(&mut lab, Direction::Outbound(0), &packet, off);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    // Translated once: one packet, the same size, its offload kept.
    assert_eq!(out.len(), packet.len());
    assert_eq!(out.offload(), off);
    let public = src(out.packet());
    let got = offload::segment(out.packet(), &off).unwrap();
    let want: Vec<Vec<u8>> = offload::segment(&packet, &off)
        .unwrap()
        .iter()
        .map(|s| nat_from_scratch(s, public))
        .collect();
    assert!(got.len() > 1 || !off.is_super());
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_checksums(g);
        assert_eq!(g, w, "segment {k}");
    }
    // Counted as the segments it stands for (and the SYN before), bytes as on
    // the wire.
    let s = lab.router.snapshot();
    let counted = s.ipv4.outbound.tcp.packets + s.ipv4.outbound.udp.packets;
    assert_eq!(counted, got.len() as u64 + u64::from(opened));
    let bytes = s.ipv4.outbound.tcp.bytes + s.ipv4.outbound.udp.bytes;
    let syn_bytes = if opened { 40 } else { 0 };
    assert_eq!(
        bytes,
        got.iter().map(|g| g.len() as u64).sum::<u64>() + syn_bytes
    );
}

#[test]
fn partial_tcp_super_packet_is_translated_once() {
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let p = tcp_data(SUB0, 40000, "192.0.2.1", 443, 1001, &payload);
    let (p, off) = to_partial(p, Gso::TcpV4, 1448);
    super_packet_law(p, off, Some(tcp(SUB0, 40000, "192.0.2.1", 443, SYN)));
}

#[test]
fn partial_udp_super_packet_is_translated_once() {
    let payload: Vec<u8> = (0..4_000u32).map(|i| (i * 13) as u8).collect();
    let p = udp(SUB0, 5000, "192.0.2.1", 53, &payload);
    let (p, off) = to_partial(p, Gso::UdpL4, 1200);
    super_packet_law(p, off, None);
}

#[test]
fn complete_checksum_plain_packet() {
    let p = tcp_data(SUB0, 40000, "192.0.2.1", 443, 1001, b"hello");
    super_packet_law(
        p,
        Offload::default(),
        Some(tcp(SUB0, 40000, "192.0.2.1", 443, SYN)),
    );
}

#[test]
fn udp_zero_checksum_stays_zero() {
    let mut p = udp(SUB0, 5000, "192.0.2.1", 53, b"no checksum");
    p[26..28].copy_from_slice(&[0, 0]);
    let mut lab = Lab::new("");
    let (v, out) = process(&mut lab, Direction::Outbound(0), &p, Offload::default());
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(&out.packet()[26..28], &[0, 0]);
    assert_checksums(out.packet());
}

#[test]
fn a_partial_checksum_in_the_wrong_place_is_dropped() {
    let p = udp(SUB0, 5000, "192.0.2.1", 53, b"x");
    let off = Offload {
        partial: Some((20, 16)),
        ..Offload::default()
    };
    let mut lab = Lab::new("");
    let (v, _) = process(&mut lab, Direction::Outbound(0), &p, off);
    assert_eq!(v, Verdict::Drop(sixfold_router::DropReason::Malformed));
}

#[test]
fn a_super_packet_too_big_for_the_link_is_cut_in_software_when_df_is_clear() {
    // The WAN's MTU (1280) is below a segment (20 + 8 + 1400): DF clear, so the
    // router segments, then fragments each datagram.
    let mut lab = Lab::new("[wan]\nmtu = 1280\n");
    let payload = vec![0x5a; 2800];
    let mut p = udp(SUB0, 5000, "192.0.2.1", 53, &payload);
    p[6] &= !0x40; // DF off
    let c = internet_checksum::checksum(&{
        let mut h = p[..20].to_vec();
        h[10..12].copy_from_slice(&[0, 0]);
        h
    });
    p[10..12].copy_from_slice(&c);
    let (p, off) = to_partial(p, Gso::UdpL4, 1400);
    let (v, first) = process(&mut lab, Direction::Outbound(0), &p, off);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    let mut pieces = vec![first.packet().to_vec()];
    let mut buf = PacketBuf::new();
    while lab.router.poll_transmit(&mut buf).is_some() {
        assert_eq!(buf.offload(), Offload::default());
        pieces.push(buf.packet().to_vec());
    }
    // Two datagrams of 1428 bytes, each in two fragments.
    assert_eq!(pieces.len(), 4);
    for piece in &pieces {
        assert!(piece.len() <= 1280);
        assert_checksums(piece);
    }
    assert_eq!(lab.router.snapshot().segments_generated, 2);
}

#[test]
fn a_super_packet_too_big_with_df_gets_fragmentation_needed() {
    let mut lab = Lab::new("[wan]\nmtu = 1280\n");
    assert!(matches!(
        lab.out(0, &tcp(SUB0, 40000, "192.0.2.1", 443, SYN)).0,
        Verdict::Forward(Interface::Wan)
    ));
    let p = tcp_data(SUB0, 40000, "192.0.2.1", 443, 1001, &vec![1; 6000]);
    let (p, off) = to_partial(p, Gso::TcpV4, 1448);
    let (v, reply) = process(&mut lab, Direction::Outbound(0), &p, off);
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!(reply.offload(), Offload::default());
    let icmp = &reply.packet()[20..];
    assert_eq!((icmp[0], icmp[1]), (3, 4));
    assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1280);
    assert_checksums(reply.packet());
}
