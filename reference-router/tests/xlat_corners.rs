//! RFC 7915 / RFC 7757 corners through `Router::process`, for stateless SIIT
//! and stateful NAT64 alike: EAM hairpinning, destinations no router forwards,
//! atomic fragments, extension headers after the Fragment Header. Packets are
//! built with etherparse, every checksum of what comes out checked with
//! internet-checksum (neither written here).

mod common;
use common::nat64::*;
use common::*;
use sixfold_router::stats::IcmpSent;
use sixfold_router::{Config, DropReason, Interface, Verdict};

/// Two subscribers, each with a host published by an EAMT entry; IPv4 hosts
/// under the network-specific 2001:db8:64::/96.
fn siit_pair() -> Config {
    let text = format!(
        r#"
        [router]
        ra = false
        [nat]
        pool = ["{PUBLIC}"]
        [siit]
        pool6 = "2001:db8:64::/96"
        [[siit.eamt]]
        ipv6 = "2001:db8:1:3::80"
        ipv4 = "198.51.100.80"
        [[siit.eamt]]
        ipv6 = "2001:db8:1:4::90"
        ipv4 = "198.51.100.90"
        [[subscriber]]
        name = "a"
        ipv6 = ["2001:db8:1:3::/64"]
        [[subscriber]]
        name = "b"
        ipv6 = ["2001:db8:1:4::/64"]
        "#
    );
    Config::from_toml(&text).unwrap()
}

const A: &str = "2001:db8:1:3::80";
const B: &str = "2001:db8:1:4::90";

/// `p` with an atomic Fragment Header (offset 0, M = 0, `ident`) after its
/// fixed header: the upper layer and its checksum are unchanged.
fn atomic(p: &[u8], ident: u32) -> Vec<u8> {
    let mut out = p[..40].to_vec();
    let len = u16::from_be_bytes([p[4], p[5]]) + 8;
    out[4..6].copy_from_slice(&len.to_be_bytes());
    out[6] = 44;
    out.extend_from_slice(&[p[6], 0, 0, 0]);
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&p[40..]);
    out
}

#[test]
fn eam_hairpinning_goes_back_to_the_peer_as_ipv6() {
    let mut lab = Lab::with(siit_pair());
    // A writes to B by the address IPv4 knows B by (RFC 7757 §4): B gets it,
    // translated there and back, from A's RFC 6052 address — never the WAN.
    let sent = udp6(A, 40000, &embed("198.51.100.90"), 53, b"query", 64);
    let (v, p) = lab.out(0, &sent);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    assert_eq!((src6(&p), dst6(&p)), (six(&embed("198.51.100.80")), six(B)));
    assert_eq!((p[6], p[7]), (17, 63), "UDP, one hop");
    assert_eq!(ports6(&p), (40000, 53));
    assert_eq!(&p[48..], b"query");
    assert_checksums_v6(&p);
    // B's port unreachable about it reaches A from B's RFC 6052 address,
    // quoting what A sent.
    let error = icmp6_error(B, &embed("198.51.100.80"), 1, 4, &p);
    let (v, e) = lab.out(1, &error);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!((src6(&e), dst6(&e)), (six(&embed("198.51.100.90")), six(A)));
    assert_eq!((e[40], e[41]), (1, 4));
    assert_checksums_v6(&e);
    let mut quote = sent.clone();
    quote[7] = 63; // the hop limit it had when B got it
    assert_eq!(&e[48..], &quote[..], "the quote is A's packet");
    assert!(lab.transmit().is_empty(), "nothing left on the WAN");
    let s = lab.router.snapshot();
    assert_eq!(s.hairpinned, 2);
}

#[test]
fn destinations_no_router_forwards_are_dropped_through_both_prefixes() {
    let mut siit = Lab::with(siit_pair());
    let mut nat64 = Lab::with(nat64_config(""));
    for v4 in ["127.0.0.1", "255.255.255.255", "224.0.0.1", "0.0.0.0"] {
        let (v, _) = siit.out(0, &udp6(A, 1, &embed(v4), 53, b"x", 64));
        assert_eq!(v, Verdict::Drop(DropReason::NotRoutable), "siit {v4}");
        let (v, _) = nat64.out(0, &udp6(V6A, 1, &embed(v4), 53, b"x", 64));
        assert_eq!(v, Verdict::Drop(DropReason::NotRoutable), "nat64 {v4}");
    }
    assert_eq!(siit.router.snapshot().drops[DropReason::NotRoutable], 4);
    assert!(siit.transmit().is_empty() && nat64.transmit().is_empty());
}

#[test]
fn atomic_fragments_are_whole_packets_on_both_paths() {
    // NAT64 (RFC 6146 §3.4 with RFC 6946): an echo request, UDP and TCP in
    // atomic fragments leave as IPv4 with the Fragment Header's identification.
    let mut lab = Lab::with(nat64_config(""));
    for (i, p) in [
        echo6(V6A, &embed(SERVER), 7),
        udp6_to(V6A, 40000, SERVER, 53, 64),
        tcp6(V6A, 40001, &embed(SERVER), 80, true),
    ]
    .iter()
    .enumerate()
    {
        let ident = 0x0102_0300 + i as u32;
        let (v, out) = lab.out(0, &atomic(p, ident));
        assert_eq!(v, Verdict::Forward(Interface::Wan), "packet {i}");
        assert_eq!(u16::from_be_bytes([out[4], out[5]]), ident as u16);
        assert_eq!(u16::from_be_bytes([out[6], out[7]]), 0, "no DF, MF, offset");
        assert_eq!(out[9], [1, 17, 6][i]);
    }
    let s = lab.router.snapshot();
    assert_eq!(s.sessions, 3);
    // SIIT: an echo request in an atomic fragment to an IPv4 host.
    let mut lab = Lab::with(siit_pair());
    let (v, out) = lab.out(0, &atomic(&echo6(A, &embed("192.0.2.7"), 9), 0xabcd));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!((out[9], out[20]), (1, 8), "ICMP echo request");
    assert_eq!(u16::from_be_bytes([out[4], out[5]]), 0xabcd);
}

#[test]
fn an_extension_header_after_the_fragment_header_is_answered_1_1() {
    let mut lab = Lab::with(siit_pair());
    let p = udp6(A, 1, &embed("192.0.2.7"), 53, b"x", 64);
    // A destination-options header after a first fragment's Fragment Header,
    // then two Fragment Headers (M = 1, then M = 0): dropped, answered with
    // ICMPv6 destination unreachable code 1 (RFC 7915 §5.1.1, §5.4).
    let mut opts = p[..40].to_vec();
    opts[6] = 44;
    opts.extend_from_slice(&[60, 0, 0, 1, 0, 0, 0, 5, 17, 0, 1, 4, 0, 0, 0, 0]);
    opts.extend_from_slice(&p[40..]);
    let mut two = p[..40].to_vec();
    two[6] = 44;
    two.extend_from_slice(&[44, 0, 0, 1, 0, 0, 0, 6, 17, 0, 0, 0, 0, 0, 0, 6]);
    two.extend_from_slice(&p[40..]);
    for mut bad in [opts, two] {
        let len = (bad.len() - 40) as u16;
        bad[4..6].copy_from_slice(&len.to_be_bytes());
        let (v, e) = lab.out(0, &bad);
        assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
        assert_eq!((e[6], e[40], e[41]), (58, 1, 1));
        assert_eq!(&e[48..48 + 40], &bad[..40], "the quote");
        assert_checksums_v6(&e);
    }
    let s = lab.router.snapshot();
    assert_eq!(s.drops[DropReason::ExtensionAfterFragment], 2);
    assert_eq!(s.icmp_sent[IcmpSent::Ipv6AdminProhibited], 2);
}

#[test]
fn icmpv4_errors_from_illegal_sources_are_translated_for_troubleshooting() {
    // RFC 7915 §4.1: an ICMPv4 error from 127.0.0.1 or 0.0.0.0 about a packet
    // the subscriber's host sent reaches it, from the RFC 6052 form of that
    // source; anything else from such a source is dropped.
    let mut lab = Lab::with(siit_pair());
    let (v, sent) = lab.out(0, &udp6(A, 40000, &embed("192.0.2.7"), 53, b"q", 64));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    for bad in ["127.0.0.1", "0.0.0.0"] {
        let (v, p) = lab.inb(&icmp_error(bad, "198.51.100.80", 3, 3, &sent));
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)), "{bad}");
        assert_eq!((src6(&p), dst6(&p)), (six(&embed(bad)), six(A)));
        assert_eq!((p[40], p[41]), (1, 4));
        let (v, _) = lab.inb(&echo(bad, "198.51.100.80", 1, false));
        assert_eq!(v, Verdict::Drop(DropReason::IllegalSource), "{bad}");
    }
}
