//! What NAT64 (RFC 6146) and SIIT (RFC 7915) do to packets through
//! `Router::process`, in memory — super-packets, fragments, link MTUs, SIIT's
//! stateless mapping: packets built with etherparse, every checksum
//! of what comes out checked with internet-checksum (neither written here), and
//! the translated fields compared with what the RFCs say, value by value.

mod common;
use common::nat64::*;
use common::*;
use etherparse::PacketBuilder;
use sixfold_router::offload::{self, Gso, Offload};
use sixfold_router::{Config, Direction, DropReason, Interface, PacketBuf, Verdict};
use std::net::{Ipv4Addr, Ipv6Addr};

#[test]
fn ipv4_without_df_is_fragmented_for_the_ipv6_link() {
    let mut lab = Lab::with(nat64_config(""));
    let public = lab.out_ok(0, &udp6_to(V6A, 40000, SERVER, 53, 64));
    let mut big = udp(SERVER, 53, PUBLIC, public.port(), &[7u8; 1400]);
    big[6] = 0; // DF clear
    sixfold_rewrite::recompute_checksums(&mut big).unwrap();
    let (v, first) = lab.inb(&big);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    // RFC 7915 §4.1: fragments of at most lowest_ipv6_mtu (1280).
    assert_eq!((first.len(), first[6]), (1280, 44));
    let rest = lab.transmit();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0, Interface::Subscriber(0));
    assert_eq!(rest[0].1.len(), 48 + 1408 - 1232);
    // With DF, too big for subscriber 1's 1400-byte link: fragmentation needed,
    // with the MTU an IPv4 sender may use (1400 - 20).
    let public = lab.out_ok(1, &udp6_to(V6B, 40000, SERVER, 53, 64));
    let big = udp(SERVER, 53, PUBLIC, public.port(), &[7u8; 1400]);
    let (v, p) = lab.inb(&big);
    assert_eq!(v, Verdict::Reply(Interface::Wan));
    assert_eq!((p[20], p[21]), (3, 4));
    assert_eq!(u16::from_be_bytes([p[26], p[27]]), 1380);
}

fn siit_config() -> Config {
    let text = format!(
        r#"
        [router]
        ra = false
        [nat]
        pool = ["{PUBLIC}"]
        [siit]
        pool6 = "64:ff9b::/96"
        [[siit.eamt]]
        ipv6 = "2001:db8:1:3::80"
        ipv4 = "198.51.100.80"
        [[subscriber]]
        name = "server"
        ipv6 = ["2001:db8:1:3::/64"]
        "#
    );
    Config::from_toml(&text).unwrap()
}

#[test]
fn siit_translates_an_eamt_host_both_ways_without_state() {
    let mut lab = Lab::with(siit_config());
    // An IPv4 client reaches the subscriber's server by its EAMT address.
    let (v, p) = lab.inb(&tcp("8.8.8.8", 5555, "198.51.100.80", 80, SYN));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(
        (src6(&p), dst6(&p)),
        (six("64:ff9b::808:808"), six("2001:db8:1:3::80"))
    );
    assert_eq!(ports6(&p), (5555, 80));
    // The answer leaves as IPv4 from the EAMT address.
    let (v, p) = lab.out(
        0,
        &tcp6("2001:db8:1:3::80", 80, "64:ff9b::808:808", 5555, false),
    );
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(src(&p), sa("198.51.100.80:80"));
    assert_eq!(dst(&p), sa("8.8.8.8:5555"));
    let s = lab.router.snapshot();
    assert_eq!((s.sessions, s.ipv6_flows), (0, 0), "stateless");
    // A host without an EAMT entry cannot be translated: 1/1 (RFC 7915 §5.4).
    let (v, p) = lab.out(
        0,
        &tcp6("2001:db8:1:3::81", 80, "64:ff9b::808:808", 5555, true),
    );
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!((p[40], p[41]), (1, 1));
    // IPv4 to an address no subscriber holds is not routed.
    assert_eq!(
        lab.inb(&tcp("8.8.8.8", 5555, "198.51.100.81", 80, SYN)).0,
        Verdict::Drop(DropReason::NoRoute)
    );
}

/// A TCP data segment (ACK|PSH, sequence 1001) with `payload`, as a super-packet
/// of `gso` with segments of `gso_size` bytes and a partial checksum: the field
/// holds the pseudo-header sum (what `NEEDS_CSUM` means).
fn tcp_super(ip: &[u8], gso_size: u16) -> (Vec<u8>, Offload) {
    let v6 = ip[0] >> 4 == 6;
    let l4 = if v6 { 40 } else { 20 };
    let mut p = ip.to_vec();
    let len = p.len() - l4;
    let sum = if v6 {
        sixfold_checksum::pseudo::ipv6(six_of(&p[8..24]), six_of(&p[24..40]), 6, len as u32)
    } else {
        sixfold_checksum::pseudo::ipv4(four_of(&p[12..16]), four_of(&p[16..20]), 6, len as u16)
    };
    p[l4 + 16..l4 + 18].copy_from_slice(&sum.to_be_bytes());
    let gso = if v6 { Gso::TcpV6 } else { Gso::TcpV4 };
    let off = Offload {
        gso,
        ecn: false,
        gso_size,
        partial: Some((l4 as u16, 16)),
    };
    (p, off)
}

fn six_of(b: &[u8]) -> Ipv6Addr {
    Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap())
}

fn four_of(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::from(<[u8; 4]>::try_from(b).unwrap())
}

fn data6(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(a6(V6A), a6(&embed(SERVER)), 64)
        .tcp(40000, 443, 1001, 65535)
        .ack(1)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn data4(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(ip(SERVER), ip(PUBLIC), 64)
        .tcp(443, dport, 1001, 65535)
        .ack(1)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn process_off(lab: &mut Lab, dir: Direction, p: &[u8], off: Offload) -> (Verdict, PacketBuf) {
    let mut buf = PacketBuf::from_packet(p);
    buf.set_offload(off);
    let v = lab.router.process(dir, &mut buf, lab.instant());
    (v, buf)
}

/// The segments of the translated super-packet against the router's
/// translation of each segment alone — IPv4 Identification and DF aside: a
/// device counts the first up per segment and copies the super-packet's DF
/// (RFC 7915 §5.1 sets it above 1260 bytes) into a short last segment, which
/// alone would go without it (and with Identification 0).
fn same_segments(got: &[Vec<u8>], alone: &[Vec<u8>]) {
    assert_eq!(got.len(), alone.len());
    for (k, (g, a)) in got.iter().zip(alone).enumerate() {
        assert_checksums(g);
        let mut g = g.clone();
        if g[0] >> 4 == 4 {
            g[4..8].copy_from_slice(&a[4..8]);
            g[10..12].copy_from_slice(&a[10..12]);
        }
        assert_eq!(&g, a, "segment {k}");
    }
}

#[test]
fn super_packets_are_translated_once_both_ways() {
    let mut lab = Lab::with(nat64_config(""));
    let syn = tcp6(V6A, 40000, &embed(SERVER), 443, true);
    let public = lab.out_ok(0, &syn);
    // Out: TCPv6 TSO becomes TCPv4 TSO, 20 bytes shorter, checksum still partial.
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let (p, off) = tcp_super(&data6(&payload), 1428);
    let (v, out) = process_off(&mut lab, Direction::Outbound(0), &p, off);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(out.len(), p.len() - 20);
    let want = Offload {
        gso: Gso::TcpV4,
        partial: Some((20, 16)),
        ..off
    };
    assert_eq!(out.offload(), want);
    let got = offload::segment(out.packet(), &out.offload()).unwrap();
    assert_eq!(got.len(), 8);
    let alone: Vec<Vec<u8>> = offload::segment(&p, &off)
        .unwrap()
        .iter()
        .map(|s| lab.out(0, s).1)
        .collect();
    same_segments(&got, &alone);
    // In: TCPv4 TSO becomes TCPv6 TSO for the subscriber's 1500-byte link.
    let (p, off) = tcp_super(&data4(public.port(), &payload), 1400);
    let (v, back) = process_off(&mut lab, Direction::Inbound, &p, off);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(back.offload().gso, Gso::TcpV6);
    assert_eq!(back.offload().partial, Some((40, 16)));
    let got = offload::segment(back.packet(), &back.offload()).unwrap();
    let alone: Vec<Vec<u8>> = offload::segment(&p, &off)
        .unwrap()
        .iter()
        .map(|s| lab.inb(s).1)
        .collect();
    same_segments(&got, &alone);
    // Segments of 1448 bytes would be 1508 as IPv6: DF, so fragmentation
    // needed with what an IPv4 sender may use on this link (1480).
    let (p, off) = tcp_super(&data4(public.port(), &payload), 1448);
    let (v, reply) = process_off(&mut lab, Direction::Inbound, &p, off);
    assert_eq!(v, Verdict::Reply(Interface::Wan));
    let icmp = &reply.packet()[20..];
    assert_eq!((icmp[0], icmp[1]), (3, 4));
    assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1480);
    assert_checksums(reply.packet());
}

/// The IPv4 fragment of `whole` (a UDP/IPv4 packet without options) holding
/// payload bytes `from..to` of its IP payload.
fn fragment4(whole: &[u8], from: usize, to: usize) -> Vec<u8> {
    let payload = &whole[20..];
    let mut f = whole[..20].to_vec();
    f.extend_from_slice(&payload[from..to]);
    let len = f.len() as u16;
    f[2..4].copy_from_slice(&len.to_be_bytes());
    let more = if to < payload.len() { 0x2000 } else { 0 };
    f[6..8].copy_from_slice(&(more | (from / 8) as u16).to_be_bytes());
    f[10..12].copy_from_slice(&[0, 0]);
    let c = internet_checksum::checksum(&f[..20]);
    f[10..12].copy_from_slice(&c);
    f
}

/// The IPv6 fragment (identification `id`) of `whole` (a UDP/IPv6 packet
/// without extension headers) holding payload bytes `from..to`.
fn fragment6(whole: &[u8], id: u32, from: usize, to: usize) -> Vec<u8> {
    let payload = &whole[40..];
    let mut f = whole[..40].to_vec();
    f[6] = 44;
    let more = u16::from(to < payload.len());
    f.extend_from_slice(&[17, 0]);
    f.extend_from_slice(&(from as u16 | more).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&payload[from..to]);
    let len = (f.len() - 40) as u16;
    f[4..6].copy_from_slice(&len.to_be_bytes());
    f
}

#[test]
fn fragments_both_ways_in_and_out_of_order() {
    let mut lab = Lab::with(nat64_config(""));
    let public = lab.out_ok(0, &udp6_to(V6A, 40000, SERVER, 53, 64));
    // In: 2000 bytes of UDP from the server in two IPv4 fragments, the last first.
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 3) as u8).collect();
    let mut whole = udp(SERVER, 53, PUBLIC, public.port(), &data);
    whole[6] = 0; // DF clear
    let (a, b) = (fragment4(&whole, 0, 1480), fragment4(&whole, 1480, 2008));
    assert_eq!(lab.inb(&b).0, Verdict::Held);
    let (v, first) = lab.inb(&a);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    let mut pieces = vec![first];
    pieces.extend(lab.transmit().into_iter().map(|(i, p)| {
        assert_eq!(i, Interface::Subscriber(0));
        p
    }));
    // Reassembled by offset: the whole UDP datagram, its checksum right under
    // the IPv6 pseudo-header, ports translated.
    let mut parts: Vec<(usize, Vec<u8>)> = pieces
        .iter()
        .map(|p| {
            assert_eq!(
                (p[6], src6(p), dst6(p)),
                (44, six(&embed(SERVER)), six(V6A))
            );
            assert!(p.len() <= 1280);
            let off = usize::from(u16::from_be_bytes([p[42], p[43]]) & 0xfff8);
            (off, p[48..].to_vec())
        })
        .collect();
    parts.sort();
    let udp_whole: Vec<u8> = parts.into_iter().flat_map(|(_, d)| d).collect();
    assert_eq!(udp_whole.len(), 2008);
    assert_eq!(u16::from_be_bytes([udp_whole[2], udp_whole[3]]), 40000);
    assert_eq!(&udp_whole[8..], &data[..]);
    let mut pseudo = six(&embed(SERVER)).octets().to_vec();
    pseudo.extend_from_slice(&six(V6A).octets());
    pseudo.extend_from_slice(&(udp_whole.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    pseudo.extend_from_slice(&udp_whole);
    assert_eq!(internet_checksum::checksum(&pseudo), [0, 0]);
    // Out: 3000 bytes of UDP in three IPv6 fragments; each leaves as an IPv4
    // fragment from the session's public address, the identification kept.
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 5) as u8).collect();
    let whole = udp6(V6A, 40000, &embed(SERVER), 53, &data, 64);
    let mut got = Vec::new();
    for (from, to) in [(0, 1232), (1232, 2464), (2464, 3008)] {
        let (v, p) = lab.out(0, &fragment6(&whole, 0xabcd, from, to));
        assert_eq!(v, Verdict::Forward(Interface::Wan));
        assert_eq!(&p[4..6], &[0xab, 0xcd]);
        assert_eq!(&p[12..16], &ip(PUBLIC));
        got.push((
            usize::from(u16::from_be_bytes([p[6], p[7]]) & 0x1fff) * 8,
            p[20..].to_vec(),
        ));
    }
    let udp_whole: Vec<u8> = got.into_iter().flat_map(|(_, d)| d).collect();
    assert_eq!(
        u16::from_be_bytes([udp_whole[0], udp_whole[1]]),
        public.port()
    );
    let mut pseudo = ip(PUBLIC).to_vec();
    pseudo.extend_from_slice(&ip(SERVER));
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(udp_whole.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&udp_whole);
    assert_eq!(internet_checksum::checksum(&pseudo), [0, 0]);
    // A later fragment of a datagram whose first never passed.
    let (v, _) = lab.out(0, &fragment6(&whole, 0xabce, 1232, 2464));
    assert_eq!(v, Verdict::Drop(DropReason::FragmentOrphan));
    assert_eq!(lab.router.snapshot().fragments_translated, 3);
}

#[test]
fn a_later_fragment_at_the_wrong_worker_goes_to_the_sessions() {
    let t0 = std::time::Instant::now();
    let mut w = sixfold_router::Router::workers(nat64_config(""), 7, t0, 2).unwrap();
    let mut buf = PacketBuf::from_packet(&udp6_to(V6B, 40000, SERVER, 53, 64));
    assert_eq!(
        w[1].process(Direction::Outbound(1), &mut buf, t0),
        Verdict::Forward(Interface::Wan)
    );
    let public = src(buf.packet());
    let mut whole = udp(SERVER, 53, PUBLIC, public.port(), &[1u8; 1000]);
    whole[6] = 0;
    let (a, b) = (fragment4(&whole, 0, 504), fragment4(&whole, 504, 1008));
    assert_eq!(w[0].steer(Direction::Inbound, &a), 1);
    let mut buf = PacketBuf::from_packet(&a);
    let v = w[1].process(Direction::Inbound, &mut buf, t0);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    // The later fragment has no port: it stays where it was read.
    assert_eq!(w[0].steer(Direction::Inbound, &b), 0);
    let mut buf = PacketBuf::from_packet(&b);
    assert_eq!(
        w[0].process(Direction::Inbound, &mut buf, t0),
        Verdict::Handoff(1)
    );
    assert_eq!(
        w[1].process_handoff(&mut buf, t0),
        Verdict::Forward(Interface::Subscriber(1))
    );
    let p = buf.packet();
    assert_eq!((p[6], p[7], dst6(p)), (44, 63, six(V6B)));
    assert_eq!(u16::from_be_bytes([p[42], p[43]]), 504);
}
