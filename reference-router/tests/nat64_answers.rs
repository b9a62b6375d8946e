//! What the NAT64 answers (RFC 6146) through `Router::process`: a held SYN's
//! port unreachable quotes all of it, goes back to a hairpinned IPv6 sender in
//! IPv6, and an IPv4 UDP packet to the pool without a mapping gets port
//! unreachable. Packets built with etherparse, every checksum of what comes out
//! checked with internet-checksum.

mod common;
use common::nat64::*;
use common::*;
use etherparse::{PacketBuilder, TcpOptionElement};
use sixfold_router::stats::IcmpSent;
use sixfold_router::{DropReason, Interface, Verdict};

/// A TCP SYN carrying an MSS option: 44 bytes with its IPv4 header.
fn syn_with_mss(src: &str, sport: u16, dst: &str, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(ip(src), ip(dst), 64)
        .tcp(sport, dport, 1000, 65535)
        .syn()
        .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
        .unwrap()
        .write(&mut v, &[])
        .unwrap();
    v
}

#[test]
fn a_held_syns_port_unreachable_quotes_all_of_it() {
    let mut lab = Lab::with(nat64_config(""));
    let (_, p) = lab.out(0, &tcp6(V6A, 40000, &embed(SERVER), 80, true));
    let public = src(&p);
    let syn = syn_with_mss("198.51.100.7", 5555, PUBLIC, public.port());
    assert_eq!(syn.len(), 44);
    assert_eq!(lab.inb(&syn).0, Verdict::Drop(DropReason::SynHeld));
    lab.advance(6);
    let out = lab.transmit();
    assert_eq!(out.len(), 1);
    let (to, e) = &out[0];
    assert_eq!(*to, Interface::Wan);
    assert_eq!((e[20], e[21]), (3, 3));
    // RFC 1812 §4.3.2.3: as much as fits in 576 bytes — here all 44, options
    // included (40 before).
    assert_eq!(&e[28..], &syn[..], "the whole SYN is quoted");
    assert_eq!(src(e).ip().octets(), ip(PUBLIC));
}

#[test]
fn a_hairpinned_ipv6_syn_held_in_vain_is_answered_in_ipv6() {
    let mut lab = Lab::with(nat64_config(""));
    // Subscriber 1 (IPv6-only) has a public endpoint ...
    let (_, p) = lab.out(1, &tcp6(V6B, 40000, &embed(SERVER), 80, true));
    let public = src(&p);
    // ... to which subscriber 0 (IPv6-only) sends an unsolicited SYN through
    // the prefix: held (APDF), then, 6 s on, ICMPv6 port unreachable back to
    // it from the endpoint it wrote to, quoting its SYN.
    let syn = tcp6(V6A, 41000, &embed(PUBLIC), public.port(), true);
    assert_eq!(lab.out(0, &syn).0, Verdict::Drop(DropReason::SynHeld));
    // The same from the dual-stack subscriber 2 in IPv4.
    let syn4 = tcp(SUB0, 42000, PUBLIC, public.port(), SYN);
    assert_eq!(lab.out(2, &syn4).0, Verdict::Drop(DropReason::SynHeld));
    lab.advance(5);
    assert!(lab.transmit().is_empty());
    lab.advance(1);
    let mut out = lab.transmit();
    out.sort_by_key(|(to, _)| format!("{to:?}"));
    assert_eq!(out.len(), 2, "{out:?}");
    let (to, e) = &out[0];
    assert_eq!(*to, Interface::Subscriber(0));
    assert_eq!((src6(e), dst6(e)), (six(&embed(PUBLIC)), six(V6A)));
    assert_eq!((e[6], e[40], e[41]), (58, 1, 4), "ICMPv6 port unreachable");
    assert_eq!(&e[48..], &syn[..]);
    assert_checksums_v6(e);
    let (to, e) = &out[1];
    assert_eq!(*to, Interface::Subscriber(2));
    assert_eq!((e[20], e[21]), (3, 3));
    assert_eq!(
        (src(e).ip().octets(), dst(e).ip().octets()),
        (ip(PUBLIC), ip(SUB0))
    );
    assert_eq!(&e[28..], &syn4[..]);
    let s = lab.router.snapshot();
    assert_eq!(s.icmp_sent[IcmpSent::Ipv6PortUnreachable], 1);
    assert_eq!(s.icmp_sent[IcmpSent::PortUnreachable], 1);
}

#[test]
fn udp_to_the_pool_without_a_mapping_gets_port_unreachable() {
    // RFC 6146 §3.5.1: discarded; a NAT64 answers port unreachable (3/3)
    // from the address it was sent to, quoting it.
    let mut lab = Lab::with(nat64_config(""));
    let probe = udp("198.51.100.7", 5353, PUBLIC, 9999, b"anyone?");
    let (v, e) = lab.inb(&probe);
    assert_eq!(v, Verdict::Reply(Interface::Wan));
    assert_eq!((e[20], e[21]), (3, 3));
    assert_eq!(src(&e).ip().octets(), ip(PUBLIC));
    assert_eq!(dst(&e).ip().octets(), ip("198.51.100.7"));
    assert_eq!(&e[28..], &probe[..]);
    let s = lab.router.snapshot();
    assert_eq!(
        (
            s.drops[DropReason::NoMapping],
            s.icmp_sent[IcmpSent::PortUnreachable]
        ),
        (1, 1)
    );
    // A NAT44-only router stays silent, as before.
    let mut nat44 = Lab::new("");
    assert_eq!(nat44.inb(&probe).0, Verdict::Drop(DropReason::NoMapping));
}
