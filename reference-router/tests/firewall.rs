//! RFC 6092 simple security for IPv6 through `Router::process`: outbound flows open
//! their return path with the NAT's state machine and timers, unsolicited inbound
//! traffic is dropped (and an unsolicited SYN answered with ICMPv6 1/1 after the
//! hold), ICMPv6 errors pass only for known flows, IPsec passes, per-subscriber
//! openings, limits. Packets are built with etherparse (or by hand where it cannot:
//! ESP, fragments) and every checksum is checked with internet-checksum.

mod common;
use common::*;
use etherparse::PacketBuilder;
use sixfold_router::{DropReason, IcmpSent, Interface, Verdict};
use std::net::Ipv6Addr;

const HOST0: &str = "2001:db8:1:1::2";
const HOST1: &str = "2001:db8:1:2::2";
const SERVER: &str = "2001:db8:ffff::80";
const OTHER: &str = "2001:db8:eeee::9";

const PASS0: Verdict = Verdict::Forward(Interface::Subscriber(0));
const OUT: Verdict = Verdict::Forward(Interface::Wan);

fn a(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;

fn tcp6(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Vec<u8> {
    let mut b = PacketBuilder::ipv6(a(src), a(dst), 64).tcp(sport, dport, 1000, 65535);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & ACK != 0 {
        b = b.ack(1);
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

fn echo6(src: &str, dst: &str, id: u16, reply: bool) -> Vec<u8> {
    let b = PacketBuilder::ipv6(a(src), a(dst), 64);
    let b = if reply {
        b.icmpv6_echo_reply(id, 1)
    } else {
        b.icmpv6_echo_request(id, 1)
    };
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}

/// An IPv6 packet with next header `next` and `payload`, no checksum of its own.
/// A fragment (fragment header, then `data`) of datagram `id` at `offset` bytes.
fn fragment6(src: &str, dst: &str, id: u32, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let mut ext = vec![17, 0];
    ext.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
    ext.extend_from_slice(&id.to_be_bytes());
    ext.extend_from_slice(data);
    raw6(src, dst, 44, &ext)
}

fn drops(lab: &Lab, reason: DropReason) -> u64 {
    lab.router.snapshot().drops[reason]
}

#[test]
fn unsolicited_inbound_is_dropped_and_an_outbound_flow_opens_only_its_return_path() {
    let mut lab = Lab::new("");
    let reply = udp6(SERVER, 53, HOST0, 5000, b"r", 64);
    assert_eq!(lab.inb(&reply).0, Verdict::Drop(DropReason::Filtered));
    assert_eq!(lab.out(0, &udp6(HOST0, 5000, SERVER, 53, b"q", 64)).0, OUT);
    let (v, out) = lab.inb(&reply);
    assert_eq!(v, PASS0);
    assert_eq!(&out[8..], &reply[8..], "nothing is translated");
    // Address-and-port-dependent by default: another port or host stays out.
    for other in [
        udp6(SERVER, 54, HOST0, 5000, b"r", 64),
        udp6(OTHER, 53, HOST0, 5000, b"r", 64),
        udp6(SERVER, 53, HOST0, 5001, b"r", 64),
    ] {
        assert_eq!(lab.inb(&other).0, Verdict::Drop(DropReason::Filtered));
    }
    let s = lab.router.snapshot();
    assert_eq!((s.ipv6_flows, s.ipv6_flows_created), (1, 1));
    assert_eq!(s.subscribers[0].ipv6_flows, 1);
    assert_eq!(s.drops[DropReason::Filtered], 4);
    assert_eq!(s.sessions, 0, "no NAT session for IPv6");
}

#[test]
fn endpoint_and_address_dependent_filtering_admit_new_remotes_as_configured() {
    let mut eif = Lab::new("[firewall]\nfiltering = \"eif\"");
    eif.out(0, &udp6(HOST0, 5000, SERVER, 53, b"q", 64));
    assert_eq!(eif.inb(&udp6(OTHER, 9, HOST0, 5000, b"r", 64)).0, PASS0);
    assert_eq!(
        eif.inb(&udp6(OTHER, 9, HOST0, 5001, b"r", 64)).0,
        Verdict::Drop(DropReason::Filtered)
    );
    assert_eq!(
        eif.router.snapshot().ipv6_flows,
        2,
        "the admitted flow has state"
    );

    let mut adf = Lab::new("[firewall]\nfiltering = \"adf\"");
    adf.out(0, &udp6(HOST0, 5000, SERVER, 53, b"q", 64));
    assert_eq!(adf.inb(&udp6(SERVER, 9, HOST0, 5000, b"r", 64)).0, PASS0);
    assert_eq!(
        adf.inb(&udp6(OTHER, 53, HOST0, 5000, b"r", 64)).0,
        Verdict::Drop(DropReason::Filtered)
    );
}

#[test]
fn udp_state_lives_the_nat_udp_timeout_and_outbound_refreshes_it() {
    let mut lab = Lab::new("");
    let (q, r) = (
        udp6(HOST0, 5000, SERVER, 53, b"q", 64),
        udp6(SERVER, 53, HOST0, 5000, b"r", 64),
    );
    lab.out(0, &q);
    lab.advance(299);
    assert_eq!(lab.inb(&r).0, PASS0);
    lab.advance(299);
    lab.out(0, &q);
    lab.advance(299);
    assert_eq!(lab.inb(&r).0, PASS0);
    lab.advance(300);
    assert_eq!(lab.inb(&r).0, Verdict::Drop(DropReason::Filtered));
    let s = lab.router.snapshot();
    assert_eq!((s.ipv6_flows, s.ipv6_flows_expired), (0, 1));
}

#[test]
fn tcp_established_and_transitory_timers_are_the_nat_ones() {
    let mut lab = Lab::new("");
    lab.out(0, &tcp6(HOST0, 40000, SERVER, 443, SYN));
    assert_eq!(
        lab.inb(&tcp6(SERVER, 443, HOST0, 40000, SYN | ACK)).0,
        PASS0
    );
    lab.out(0, &tcp6(HOST0, 40000, SERVER, 443, ACK));
    // Established: 2 h 4 min idle is fine (RFC 6092 / RFC 5382 REQ-5).
    lab.advance(7439);
    assert_eq!(lab.inb(&tcp6(SERVER, 443, HOST0, 40000, ACK)).0, PASS0);
    // Closing: the transitory 4 minutes.
    lab.out(0, &tcp6(HOST0, 40000, SERVER, 443, FIN | ACK));
    lab.inb(&tcp6(SERVER, 443, HOST0, 40000, FIN | ACK));
    lab.advance(239);
    assert_eq!(lab.inb(&tcp6(SERVER, 443, HOST0, 40000, ACK)).0, PASS0);
    lab.advance(241);
    assert_eq!(
        lab.inb(&tcp6(SERVER, 443, HOST0, 40000, ACK)).0,
        Verdict::Drop(DropReason::Filtered)
    );
}

#[test]
fn unsolicited_syn_is_held_then_refused_with_admin_prohibited_unless_opened_from_inside() {
    let mut lab = Lab::new("");
    let syn = tcp6(SERVER, 443, HOST0, 40000, SYN);
    assert_eq!(lab.inb(&syn).0, Verdict::Drop(DropReason::SynHeld));
    lab.advance(5);
    assert!(lab.transmit().is_empty());
    lab.advance(1);
    let sent = lab.transmit();
    assert_eq!(sent.len(), 1);
    let (to, err) = &sent[0];
    assert_eq!(*to, Interface::Wan);
    assert_checksums_v6(err);
    assert_eq!(&err[8..24], &a("2001:db8::1"), "from the router");
    assert_eq!(&err[24..40], &a(SERVER), "to the sender");
    assert_eq!(&err[40..42], &[1, 1], "administratively prohibited");
    assert_eq!(&err[48..], &syn[..], "quoting the SYN");
    assert_eq!(
        lab.router.snapshot().icmp_sent[IcmpSent::Ipv6AdminProhibited],
        1
    );

    // Simultaneous open: the inside SYN within the hold time wins, no error.
    let syn = tcp6(SERVER, 443, HOST0, 40001, SYN);
    assert_eq!(lab.inb(&syn).0, Verdict::Drop(DropReason::SynHeld));
    lab.advance(2);
    assert_eq!(lab.out(0, &tcp6(HOST0, 40001, SERVER, 443, SYN)).0, OUT);
    assert_eq!(
        lab.inb(&tcp6(SERVER, 443, HOST0, 40001, SYN | ACK)).0,
        PASS0
    );
    lab.advance(10);
    assert!(lab.transmit().is_empty());
}

#[test]
fn icmpv6_errors_pass_only_for_known_flows_and_never_refresh_them() {
    let mut lab = Lab::new("");
    let (_, sent) = lab.out(0, &udp6(HOST0, 5000, SERVER, 53, b"q", 64));
    let too_big = icmp6_error(SERVER, HOST0, 2, 0, &sent);
    assert_eq!(lab.inb(&too_big).0, PASS0);
    let time_exceeded = icmp6_error(OTHER, HOST0, 3, 0, &sent);
    assert_eq!(
        lab.inb(&time_exceeded).0,
        PASS0,
        "from a router on the path"
    );
    let (_, unknown) = lab.out(0, &udp6(HOST0, 6000, SERVER, 53, b"q", 64));
    lab.advance(301);
    assert_eq!(
        lab.inb(&icmp6_error(SERVER, HOST0, 1, 4, &unknown)).0,
        Verdict::Drop(DropReason::IcmpErrorNoSession)
    );
    // Errors every 100 s do not keep a flow alive.
    let (_, q) = lab.out(0, &udp6(HOST0, 7000, SERVER, 53, b"q", 64));
    for _ in 0..2 {
        lab.advance(100);
        assert_eq!(lab.inb(&icmp6_error(SERVER, HOST0, 1, 4, &q)).0, PASS0);
    }
    lab.advance(101);
    assert_eq!(
        lab.inb(&udp6(SERVER, 53, HOST0, 7000, b"r", 64)).0,
        Verdict::Drop(DropReason::Filtered)
    );
    // A quote that is not from the destination, and a broken checksum.
    let mut bad = icmp6_error(SERVER, HOST1, 2, 0, &sent);
    assert_eq!(
        lab.inb(&bad).0,
        Verdict::Drop(DropReason::IcmpErrorBadQuote)
    );
    bad = icmp6_error(SERVER, HOST0, 2, 0, &sent);
    bad[42] ^= 1;
    assert_eq!(
        lab.inb(&bad).0,
        Verdict::Drop(DropReason::IcmpErrorBadChecksum)
    );
}

#[test]
fn echo_requests_pass_by_default_and_replies_only_for_their_request() {
    let mut lab = Lab::new("");
    assert_eq!(lab.inb(&echo6(SERVER, HOST0, 7, false)).0, PASS0);
    assert_eq!(lab.out(0, &echo6(HOST0, SERVER, 7, true)).0, OUT);
    assert_eq!(lab.out(0, &echo6(HOST0, SERVER, 9, false)).0, OUT);
    assert_eq!(lab.inb(&echo6(SERVER, HOST0, 9, true)).0, PASS0);
    assert_eq!(
        lab.inb(&echo6(SERVER, HOST0, 10, true)).0,
        Verdict::Drop(DropReason::Filtered)
    );
    let mut closed = Lab::new("[firewall]\ninbound_echo = false");
    assert_eq!(
        closed.inb(&echo6(SERVER, HOST0, 7, false)).0,
        Verdict::Drop(DropReason::Filtered)
    );
}

#[test]
fn ipsec_passes_by_default_and_is_stateful_by_three_tuple_when_asked() {
    let esp_in = raw6(SERVER, HOST0, 50, &[0, 0, 1, 0, 0, 0, 0, 1, 0xaa, 0xbb]);
    let ike_in = udp6(SERVER, 500, HOST0, 500, b"ike", 64);
    let mut lab = Lab::new("");
    assert_eq!(lab.inb(&esp_in).0, PASS0);
    assert_eq!(lab.inb(&ike_in).0, PASS0);
    let mut strict = Lab::new("[firewall]\nipsec = false");
    assert_eq!(strict.inb(&esp_in).0, Verdict::Drop(DropReason::Filtered));
    assert_eq!(strict.inb(&ike_in).0, Verdict::Drop(DropReason::Filtered));
    let esp_out = raw6(HOST0, SERVER, 50, &[0, 0, 2, 0, 0, 0, 0, 1, 0xcc]);
    assert_eq!(strict.out(0, &esp_out).0, OUT);
    // Any SPI between the two addresses (RFC 6092: no SPI in the key).
    assert_eq!(strict.inb(&esp_in).0, PASS0);
    assert_eq!(
        strict.inb(&raw6(OTHER, HOST0, 50, &[0; 10])).0,
        Verdict::Drop(DropReason::Filtered)
    );
}

#[test]
fn open_subscribers_and_open_ports_admit_unsolicited_flows() {
    let config = sixfold_router::Config::from_toml(
        r#"
        [router]
        ra = false
        [[subscriber]]
        name = "a"
        ipv6 = ["2001:db8:1:1::/64"]
        open_ports = ["tcp/22", "udp/60000-60010"]
        [[subscriber]]
        name = "b"
        ipv6 = ["2001:db8:1:2::/64"]
        open = true
        "#,
    )
    .unwrap();
    let mut lab = Lab::with(config);
    assert_eq!(lab.inb(&tcp6(SERVER, 5555, HOST0, 22, SYN)).0, PASS0);
    assert_eq!(lab.inb(&udp6(SERVER, 1, HOST0, 60010, b"x", 64)).0, PASS0);
    assert_eq!(
        lab.inb(&udp6(SERVER, 1, HOST0, 60011, b"x", 64)).0,
        Verdict::Drop(DropReason::Filtered)
    );
    assert_eq!(
        lab.inb(&tcp6(SERVER, 5555, HOST0, 23, SYN)).0,
        Verdict::Drop(DropReason::SynHeld)
    );
    assert_eq!(
        lab.inb(&udp6(SERVER, 1, HOST0, 22, b"x", 64)).0,
        Verdict::Drop(DropReason::Filtered),
        "tcp/22 opens TCP only"
    );
    for p in [
        tcp6(SERVER, 5555, HOST1, 80, SYN),
        udp6(SERVER, 1, HOST1, 9, b"x", 64),
    ] {
        assert_eq!(lab.inb(&p).0, Verdict::Forward(Interface::Subscriber(1)));
    }
}

#[test]
fn flow_limits_refuse_with_admin_prohibited_and_evict_nothing() {
    let mut lab = Lab::new("sessions_per_subscriber = 2");
    for port in [1, 2] {
        assert_eq!(lab.out(0, &udp6(HOST0, port, SERVER, 53, b"q", 64)).0, OUT);
    }
    let (v, r) = lab.out(0, &udp6(HOST0, 3, SERVER, 53, b"q", 64));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!(&r[40..42], &[1, 1]);
    assert_eq!(&r[24..40], &a(HOST0));
    assert_eq!(drops(&lab, DropReason::SubscriberSessionLimit), 1);
    // The first two flows still work; the other subscriber is not affected.
    assert_eq!(lab.inb(&udp6(SERVER, 53, HOST0, 1, b"r", 64)).0, PASS0);
    assert_eq!(lab.out(1, &udp6(HOST1, 3, SERVER, 53, b"q", 64)).0, OUT);
    let mut lab = Lab::new("max_sessions = 1");
    lab.out(0, &udp6(HOST0, 1, SERVER, 53, b"q", 64));
    assert_eq!(
        lab.out(1, &udp6(HOST1, 1, SERVER, 53, b"q", 64)).0,
        Verdict::Reply(Interface::Subscriber(1))
    );
    assert_eq!(drops(&lab, DropReason::SessionLimit), 1);
}

#[test]
fn later_fragments_follow_an_admitted_first_fragment() {
    let mut lab = Lab::new("");
    lab.out(0, &udp6(HOST0, 5000, SERVER, 53, b"q", 64));
    let mut first = vec![0, 53, 0x13, 0x88, 0x05, 0xdc, 0, 0];
    first.extend_from_slice(&[0u8; 64]);
    let later = fragment6(SERVER, HOST0, 77, 72, false, &[1u8; 32]);
    assert_eq!(
        lab.inb(&later).0,
        Verdict::Drop(DropReason::FragmentOrphan),
        "before its first fragment"
    );
    assert_eq!(
        lab.inb(&fragment6(SERVER, HOST0, 77, 0, true, &first)).0,
        PASS0
    );
    assert_eq!(lab.inb(&later).0, PASS0);
    // A first fragment of an unknown flow opens nothing.
    let mut stray = vec![0, 53, 0x17, 0x70, 0x05, 0xdc, 0, 0];
    stray.extend_from_slice(&[0u8; 64]);
    assert_eq!(
        lab.inb(&fragment6(OTHER, HOST0, 78, 0, true, &stray)).0,
        Verdict::Drop(DropReason::Filtered)
    );
    assert_eq!(
        lab.inb(&fragment6(OTHER, HOST0, 78, 72, false, &[1u8; 32]))
            .0,
        Verdict::Drop(DropReason::FragmentOrphan)
    );
}

/// `raw6` with a routing header of `kind` (segments left 1, one address) before UDP.
fn with_routing_header(src: &str, dst: &str, kind: u8) -> Vec<u8> {
    let mut ext = vec![17, 2, kind, 1, 0, 0, 0, 0];
    ext.extend_from_slice(&a(OTHER));
    ext.extend_from_slice(&[0, 53, 0x13, 0x88, 0, 9, 0, 0, b'x']);
    raw6(src, dst, 43, &ext)
}

#[test]
fn routing_header_type_0_never_crosses_the_wan() {
    let mut lab = Lab::new("[firewall]\nenabled = false");
    for (v, p) in [
        lab.out(0, &with_routing_header(HOST0, SERVER, 0)),
        lab.inb(&with_routing_header(SERVER, HOST0, 0)),
    ] {
        assert_eq!(v, Verdict::Drop(DropReason::Ipv6RoutingHeader0), "{p:02x?}");
    }
    // Type 2 (mobility) is not deprecated.
    assert_eq!(lab.out(0, &with_routing_header(HOST0, SERVER, 2)).0, OUT);
    assert_eq!(drops(&lab, DropReason::Ipv6RoutingHeader0), 2);
}

#[test]
fn transparent_mode_forwards_everything_and_keeps_no_state() {
    let mut lab = Lab::new("[firewall]\nenabled = false");
    assert_eq!(lab.inb(&tcp6(SERVER, 1, HOST0, 23, SYN)).0, PASS0);
    assert_eq!(lab.inb(&udp6(SERVER, 1, HOST0, 9, b"x", 64)).0, PASS0);
    lab.out(0, &udp6(HOST0, 5000, SERVER, 53, b"q", 64));
    assert_eq!(lab.router.snapshot().ipv6_flows, 0);
}
