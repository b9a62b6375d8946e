//! Native IPv6 routing through `Router::process`: no translation, hop limit, ICMPv6
//! errors from the router (RFC 4443), per-subscriber prefixes and anti-spoofing.

mod common;
use common::*;
use sixfold_router::{DropReason, Interface, Verdict};

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
    assert_eq!(lab.router.snapshot().ipv6.outbound["udp"].packets, 2);
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
    // sub2's link has MTU 1400.
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
        "[[subscriber]]\nname = \"a\"\nipv6 = [{a}]\n[[subscriber]]\nname = \"b\"\nipv6 = [{b}]\n"
    ))
}

#[test]
fn delegated_prefixes_route_by_longest_match() {
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
