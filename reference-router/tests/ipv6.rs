//! Native IPv6 routing through `Router::process`: no translation, hop limit, ICMPv6
//! errors from the router (RFC 4443), per-subscriber prefixes and anti-spoofing.

mod common;
use common::*;
use sixfold_router::{DropReason, IcmpSent, Interface, Verdict};

const HOST0: &str = "2001:db8:1:1::2";
const HOST1: &str = "2001:db8:1:2::2";
const SERVER: &str = "2001:db8:ffff::80";

#[test]
fn routed_both_ways_untranslated_with_hop_limit_decremented() {
    let mut lab = Lab::new("");
    let p = udp6(HOST0, 5000, SERVER, 53, b"q", 64);
    let (v, out) = lab.out(0, &p);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(out[7], 63);
    assert_eq!(&out[8..], &p[8..], "nothing else changes");
    let (v, out) = lab.inb(&udp6(SERVER, 53, HOST0, 5000, b"r", 64));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(out[7], 63);
    // Subscriber to subscriber stays inside.
    assert_eq!(
        lab.out(0, &udp6(HOST0, 1, HOST1, 2, b"x", 64)).0,
        Verdict::Forward(Interface::Subscriber(1))
    );
    assert_eq!(lab.router.snapshot().ipv6.outbound.udp.packets, 2);
    assert_eq!(lab.router.snapshot().sessions, 0, "IPv6 keeps no NAT state");
}

#[test]
fn hop_limit_expiry_and_too_big_answer_from_the_router() {
    let mut lab = Lab::new("");
    let p = udp6(HOST0, 5000, SERVER, 53, b"q", 1);
    let (v, r) = lab.out(0, &p);
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!(r[6], 58);
    assert_eq!(&r[40..42], &[3, 0], "time exceeded in transit");
    assert_eq!(
        r[8..24],
        "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
    );
    assert_eq!(&r[48..48 + p.len()], &p[..]);
    // sub2's link has MTU 1400 (the flow is open: the firewall lets the reply in).
    lab.out(1, &udp6(HOST1, 5000, SERVER, 53, b"q", 64));
    let big = udp6(SERVER, 53, HOST1, 5000, &[0u8; 1400], 64);
    let (v, r) = lab.inb(&big);
    assert_eq!(v, Verdict::Reply(Interface::Wan));
    assert_eq!(&r[40..42], &[2, 0], "packet too big");
    assert_eq!(&r[44..48], &1400u32.to_be_bytes());
    assert_eq!(r.len(), 1280, "the error fits the minimum MTU");
}

#[test]
fn spoofed_and_unroutable_sources_are_dropped() {
    let mut lab = Lab::new("");
    assert_eq!(
        lab.out(0, &udp6(HOST1, 1, SERVER, 2, b"x", 64)).0,
        Verdict::Drop(DropReason::Ipv6Spoofed)
    );
    assert_eq!(
        lab.inb(&udp6(HOST1, 1, HOST0, 2, b"x", 64)).0,
        Verdict::Drop(DropReason::Ipv6Spoofed)
    );
    assert_eq!(
        lab.inb(&udp6(SERVER, 1, "2001:db8:9::1", 2, b"x", 64)).0,
        Verdict::Drop(DropReason::NoRoute)
    );
    assert_eq!(
        lab.out(0, &udp6(HOST0, 1, "ff02::1", 2, b"x", 64)).0,
        Verdict::Drop(DropReason::NotRoutable)
    );
    assert_eq!(
        lab.out(0, &[0x60, 0, 0]).0,
        Verdict::Drop(DropReason::Malformed)
    );
}

fn two_subscribers(
    a: &str,
    b: &str,
) -> Result<sixfold_router::Config, sixfold_router::ConfigError> {
    sixfold_router::Config::from_toml(&format!(
        "[firewall]\nenabled = false\n[[subscriber]]\nname = \"a\"\nipv6 = [{a}]\n[[subscriber]]\nname = \"b\"\nipv6 = [{b}]\n"
    ))
}

#[test]
fn delegated_prefixes_route_by_longest_match() {
    // The firewall in transparent mode (RFC 6092): routing alone decides here.
    // a's /56 contains b's /64: refused as overlapping.
    let e = two_subscribers("\"2001:db8:1:100::/56\"", "\"2001:db8:1:1ff::/64\"").unwrap_err();
    assert_eq!(e.key, "subscriber[1].ipv6");
    let config = two_subscribers(
        "\"2001:db8:1:100::/56\"",
        "\"2001:db8:1:200::/64\", \"2001:db8:2::/48\"",
    )
    .unwrap();
    let mut lab = Lab::with(config);
    let (v, _) = lab.out(
        0,
        &udp6("2001:db8:1:1ff::5", 1, "2001:db8:2:ffff::9", 2, b"x", 64),
    );
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    let (v, _) = lab.inb(&udp6(SERVER, 1, "2001:db8:1:142::1", 2, b"x", 64));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    let (v, _) = lab.inb(&udp6(SERVER, 1, "2001:db8:1:200::1", 2, b"x", 64));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    let (v, _) = lab.inb(&udp6(SERVER, 1, "2001:db8:1:201::1", 2, b"x", 64));
    assert_eq!(v, Verdict::Drop(DropReason::NoRoute));
}

/// A router solicitation from `src` with hop limit `hops` (checksum right).
fn solicitation(src: &str, hops: u8) -> Vec<u8> {
    let (s, d) = (
        src.parse::<std::net::Ipv6Addr>().unwrap(),
        "ff02::2".parse::<std::net::Ipv6Addr>().unwrap(),
    );
    let mut p = vec![0x60, 0, 0, 0, 0, 8, 58, hops];
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(&[133, 0, 0, 0, 0, 0, 0, 0]);
    let mut pseudo = p[8..40].to_vec();
    pseudo.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 58]);
    pseudo.extend_from_slice(&p[40..]);
    let c = internet_checksum::checksum(&pseudo);
    p[42..44].copy_from_slice(&c);
    p
}

#[test]
fn router_solicitation_gets_an_advertisement_with_prefix_mtu_rdnss_and_high_preference() {
    let mut lab = Lab::new("[router]\nra = true\nrdnss = [\"2001:db8:ffff::53\"]");
    let (v, ra) = lab.out(1, &solicitation("fe80::1234", 255));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(1)));
    // IPv6 header: from fe80::1 to all-nodes, hop limit 255 (RFC 4861 §6.1.2).
    assert_eq!(ra[6..8], [58, 255]);
    assert_eq!(
        ra[8..24],
        "fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(
        ra[24..40],
        "ff02::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
    );
    let icmp = &ra[40..];
    assert_eq!(icmp[0..2], [134, 0]);
    assert_eq!(icmp[4], 64, "current hop limit");
    assert_eq!(
        icmp[5], 0x08,
        "M=0, O=0, default-router preference high (RFC 4191)"
    );
    assert_eq!(
        u16::from_be_bytes([icmp[6], icmp[7]]),
        600,
        "router lifetime 3 × 200 s"
    );
    // Options: MTU (sub2's link: 1400), prefix information, RDNSS.
    assert_eq!(icmp[16..24], [5, 1, 0, 0, 0, 0, 0x05, 0x78]);
    let pio = &icmp[24..56];
    assert_eq!(
        pio[0..4],
        [3, 4, 64, 0xc0],
        "PIO, /64, on-link + autonomous"
    );
    assert_eq!(
        pio[16..32],
        "2001:db8:1:2::"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
    );
    let rdnss = &icmp[56..];
    assert_eq!(rdnss[0..2], [25, 3]);
    assert_eq!(
        rdnss[8..24],
        "2001:db8:ffff::53"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
    );
    assert_eq!(rdnss.len(), 24);
    // Not a valid solicitation: hop limit below 255 (it crossed a router).
    assert_eq!(
        lab.out(1, &solicitation("fe80::1234", 64)).0,
        Verdict::Drop(DropReason::NotRoutable)
    );
}

#[test]
fn unsolicited_advertisements_go_out_every_interval() {
    let mut lab = Lab::new("[router]\nra = true\nra_interval = 30");
    lab.advance(0);
    let sent = lab.transmit();
    assert_eq!(
        sent.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [Interface::Subscriber(0), Interface::Subscriber(1)]
    );
    assert!(sent.iter().all(|(_, p)| p[40] == 134));
    lab.advance(29);
    assert!(lab.transmit().is_empty());
    lab.advance(1);
    assert_eq!(lab.transmit().len(), 2);
    assert_eq!(
        lab.router.snapshot().icmp_sent[IcmpSent::RouterAdvertisement],
        4
    );
}
