//! Stateful NAT64 (RFC 6146) and stateless SIIT (RFC 7915) through
//! `Router::process`, in memory: packets built with etherparse, every checksum
//! of what comes out checked with internet-checksum (neither written here), and
//! the translated fields compared with what the RFCs say, value by value.

mod common;
use common::*;
use etherparse::PacketBuilder;
use sixfold_router::offload::{self, Gso, Offload};
use sixfold_router::{Config, Direction, DropReason, IcmpSent, Interface, PacketBuf, Verdict};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The IPv6-only subscribers (0 and 1) and a dual-stack one (2).
const V6A: &str = "2001:db8:1:3::2";
const V6B: &str = "2001:db8:1:4::2";
const PREFIX: &str = "2001:db8:64::";
const SERVER: &str = "192.0.2.80";

fn nat64_config(extra: &str) -> Config {
    with_prefix("2001:db8:64::/96", extra)
}

fn with_prefix(prefix: &str, extra: &str) -> Config {
    let text = format!(
        r#"
        [router]
        ra = false
        ipv6 = "2001:db8:ffff::1"
        [nat]
        pool = ["{PUBLIC}"]
        {extra}
        [nat64]
        prefix = "{prefix}"
        [[subscriber]]
        name = "only6a"
        ipv6 = ["2001:db8:1:3::/64"]
        [[subscriber]]
        name = "only6b"
        ipv6 = ["2001:db8:1:4::/64"]
        mtu = 1400
        [[subscriber]]
        name = "dual"
        ipv4 = ["{SUB0}"]
        ipv6 = ["2001:db8:1:5::/64"]
        "#
    );
    Config::from_toml(&text).unwrap()
}

/// `v4` embedded in the network-specific prefix 2001:db8:64::/96 (the lab's:
/// RFC 6052 §3.1 keeps documentation addresses from the Well-Known Prefix).
fn embed(v4: &str) -> String {
    let o = v4.parse::<Ipv4Addr>().unwrap().octets();
    format!(
        "{PREFIX}{:x}:{:x}",
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]])
    )
}

fn udp6_to(src: &str, sport: u16, dst4: &str, dport: u16, hop: u8) -> Vec<u8> {
    udp6(src, sport, &embed(dst4), dport, b"query", hop)
}

fn tcp6(src: &str, sport: u16, dst: &str, dport: u16, syn: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = PacketBuilder::ipv6(a6(src), a6(dst), 64).tcp(sport, dport, 1000, 65535);
    if syn {
        b = b.syn();
    } else {
        b = b.ack(1);
    }
    b.write(&mut v, &[]).unwrap();
    v
}

fn echo6(src: &str, dst: &str, id: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(a6(src), a6(dst), 64)
        .icmpv6_echo_request(id, 7)
        .write(&mut v, b"ping")
        .unwrap();
    v
}

fn src6(p: &[u8]) -> Ipv6Addr {
    Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap())
}

fn dst6(p: &[u8]) -> Ipv6Addr {
    Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap())
}

fn ports6(p: &[u8]) -> (u16, u16) {
    (
        u16::from_be_bytes([p[40], p[41]]),
        u16::from_be_bytes([p[42], p[43]]),
    )
}

fn six(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn udp_out_and_back_with_eim_and_apdf() {
    let mut lab = Lab::with(nat64_config(""));
    let (v, p) = lab.out(0, &udp6_to(V6A, 40000, SERVER, 53, 64));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(p[0], 0x45, "IPv4 without options");
    assert_eq!(p[8], 63, "TTL = hop limit - 1");
    let public = src(&p);
    assert_eq!(*public.ip(), PUBLIC.parse::<Ipv4Addr>().unwrap());
    assert_eq!(dst(&p), sa("192.0.2.80:53"));
    assert_eq!(&p[28..], b"query");
    // EIM (RFC 6146 §3.5.1): the same external endpoint for another destination.
    let (_, p2) = lab.out(0, &udp6_to(V6A, 40000, "198.51.100.9", 53, 64));
    assert_eq!(src(&p2), public);
    // The reply comes back as IPv6 from the server's embedded address.
    let reply = udp(SERVER, 53, PUBLIC, public.port(), b"answer");
    let (v, p) = lab.inb(&reply);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(p[0] >> 4, 6);
    assert_eq!((src6(&p), dst6(&p)), (six(&embed(SERVER)), six(V6A)));
    assert_eq!(ports6(&p), (53, 40000));
    assert_eq!(p[7], 63, "hop limit = TTL - 1");
    assert_eq!(&p[48..], b"answer");
    // APDF (the default): a remote the mapping has not sent to is filtered.
    let (v, _) = lab.inb(&udp("198.51.100.10", 53, PUBLIC, public.port(), b"x"));
    assert_eq!(v, Verdict::Drop(DropReason::Filtered));
    let s = lab.router.snapshot();
    assert_eq!((s.sessions, s.mappings, s.nat64_hosts), (2, 1, 1));
    assert_eq!(s.subscribers[0].ports.udp, 1);
    assert_eq!(s.ipv4.outbound.udp.packets, 2);
    assert_eq!(s.ipv6.inbound.udp.packets, 1);
}

#[test]
fn echo_identifiers_are_mapped_both_ways() {
    let mut lab = Lab::with(nat64_config(""));
    let (v, p) = lab.out(0, &echo6(V6A, &embed(SERVER), 0x1234));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!((p[9], p[20]), (1, 8), "ICMPv4 echo request");
    let id = src(&p).port();
    let (v, p) = lab.inb(&echo(SERVER, PUBLIC, id, true));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!((p[6], p[40]), (58, 129), "ICMPv6 echo reply");
    assert_eq!(u16::from_be_bytes([p[44], p[45]]), 0x1234);
    assert_eq!(&p[48..], b"ping");
}

#[test]
fn unsolicited_syn_is_held_six_seconds_then_answered_3_3() {
    let mut lab = Lab::with(nat64_config(""));
    let (_, p) = lab.out(0, &tcp6(V6A, 40000, &embed(SERVER), 80, true));
    let public = src(&p);
    // From a remote the mapping never sent to: held (RFC 6146 §3.5.2.2).
    let syn = tcp("198.51.100.7", 5555, PUBLIC, public.port(), SYN);
    assert_eq!(lab.inb(&syn).0, Verdict::Drop(DropReason::SynHeld));
    lab.advance(5);
    assert!(lab.transmit().is_empty());
    lab.advance(1);
    let out = lab.transmit();
    assert_eq!(out.len(), 1);
    let (to, e) = &out[0];
    assert_eq!(*to, Interface::Wan);
    assert_eq!((e[20], e[21]), (3, 3), "ICMPv4 port unreachable");
    assert_eq!(dst(e).ip(), &"198.51.100.7".parse::<Ipv4Addr>().unwrap());
    // A simultaneous open within the hold lets it through instead.
    let syn = tcp("198.51.100.8", 6666, PUBLIC, public.port(), SYN);
    assert_eq!(lab.inb(&syn).0, Verdict::Drop(DropReason::SynHeld));
    lab.out(0, &tcp6(V6A, 40000, &embed("198.51.100.8"), 6666, true));
    lab.advance(7);
    assert!(
        lab.transmit().is_empty(),
        "the held SYN was dropped silently"
    );
    let (v, p) = lab.inb(&tcp("198.51.100.8", 6666, PUBLIC, public.port(), SYNACK));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(ports6(&p), (6666, 40000));
}

#[test]
fn icmpv4_errors_come_in_as_icmpv6_with_the_quote_translated() {
    let mut lab = Lab::with(nat64_config(""));
    let (_, sent) = lab.out(0, &udp6_to(V6A, 40000, SERVER, 53, 64));
    let public = src(&sent);
    // Port unreachable from the server (RFC 7915 §4.2: 3/3 → 1/4).
    let (v, p) = lab.inb(&icmp_error(SERVER, PUBLIC, 3, 3, &sent));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!((p[6], p[40], p[41]), (58, 1, 4));
    assert_eq!((src6(&p), dst6(&p)), (six(&embed(SERVER)), six(V6A)));
    // The quote is the packet the subscriber sent, TTL as the server saw it.
    let q = &p[48..];
    assert_eq!((src6(q), dst6(q)), (six(V6A), six(&embed(SERVER))));
    assert_eq!(ports6(q), (40000, 53));
    assert_eq!(q[7], 63);
    // Time exceeded from a router on the way (traceroute): its address embedded.
    let (v, p) = lab.inb(&icmp_error("198.51.100.1", PUBLIC, 11, 0, &sent));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!((p[40], p[41]), (3, 0));
    assert_eq!(src6(&p), six(&embed("198.51.100.1")));
    // Under a network-specific prefix a private router is embedded too.
    let (v, p) = lab.inb(&icmp_error("10.1.1.1", PUBLIC, 11, 0, &sent));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(src6(&p), six(&embed("10.1.1.1")));
    // An error about a port with no session is dropped.
    let mut other = sent.clone();
    other[20..22].copy_from_slice(&(public.port() ^ 1).to_be_bytes());
    sixfold_rewrite::recompute_checksums(&mut other).unwrap();
    let (v, _) = lab.inb(&icmp_error(SERVER, PUBLIC, 3, 3, &other));
    assert_eq!(v, Verdict::Drop(DropReason::IcmpErrorNoSession));
}

#[test]
fn icmpv6_errors_go_out_as_icmpv4() {
    let mut lab = Lab::with(nat64_config(""));
    let (_, sent) = lab.out(0, &udp6_to(V6A, 40000, SERVER, 53, 64));
    let public = src(&sent);
    let (_, delivered) = lab.inb(&udp(SERVER, 53, PUBLIC, public.port(), b"answer"));
    // The subscriber answers port unreachable (1/4 → 3/3).
    let err = icmp6_error(V6A, &embed(SERVER), 1, 4, &delivered);
    let (v, p) = lab.out(0, &err);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!((p[9], p[20], p[21]), (1, 3, 3));
    assert_eq!(src(&p).ip(), public.ip());
    assert_eq!(*dst(&p).ip(), SERVER.parse::<Ipv4Addr>().unwrap());
    // The quote: server → public endpoint, as the server sent it.
    let q = &p[28..];
    assert_eq!(src(q), sa("192.0.2.80:53"));
    assert_eq!(dst(q), public);
}

#[test]
fn the_well_known_prefix_carries_only_global_addresses() {
    let mut lab = Lab::with(with_prefix("64:ff9b::/96", ""));
    let out = udp6(V6A, 40000, "64:ff9b::808:808", 53, b"q", 64);
    let public = lab.out_ok(0, &out);
    let sent = udp("8.8.8.8", 53, PUBLIC, public.port(), b"a");
    assert_eq!(lab.inb(&sent).0, Verdict::Forward(Interface::Subscriber(0)));
    // 10.0.0.1 (RFC 6052 §3.1): refused with 1/1.
    let (v, p) = lab.out(0, &udp6(V6A, 40000, "64:ff9b::a00:1", 53, b"q", 64));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!((p[40], p[41]), (1, 1));
    assert_eq!(
        lab.router.snapshot().drops[DropReason::UnmappableAddress],
        1
    );
    // A time exceeded from a private router on the way speaks through the
    // router's own address.
    let (_, first) = lab.out(0, &out);
    let (v, p) = lab.inb(&icmp_error("10.1.1.1", PUBLIC, 11, 0, &first));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(src6(&p), six("2001:db8:ffff::1"));
    // Unsolicited data from a private address cannot be embedded.
    let (v, _) = lab.inb(&udp("10.1.1.1", 53, PUBLIC, public.port(), b"a"));
    assert_eq!(v, Verdict::Drop(DropReason::Filtered));
}

#[test]
fn hop_limit_is_answered_and_ipv4_from_an_ipv6_only_subscriber_is_spoofed() {
    let mut lab = Lab::with(nat64_config(""));
    let (v, p) = lab.out(0, &udp6_to(V6A, 40000, SERVER, 53, 1));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!((p[40], p[41]), (3, 0));
    assert_eq!(src6(&p), six("2001:db8:ffff::1"));
    assert_eq!(lab.router.snapshot().drops[DropReason::TtlExceeded], 1);
    // An IPv6-only subscriber that sends IPv4 is spoofing.
    let (v, _) = lab.out(0, &udp("100.64.9.9", 1, SERVER, 53, b"x"));
    assert_eq!(v, Verdict::Drop(DropReason::Spoofed));
}

#[test]
fn port_exhaustion_refuses_with_1_3_and_evicts_nothing() {
    let mut lab = Lab::with(nat64_config("ports_per_subscriber = 2"));
    let a = lab.out_ok(0, &udp6_to(V6A, 1001, SERVER, 53, 64));
    let b = lab.out_ok(0, &udp6_to(V6A, 1002, SERVER, 53, 64));
    assert_ne!(a.port(), b.port());
    let (v, p) = lab.out(0, &udp6_to(V6A, 1003, SERVER, 53, 64));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!(
        (p[40], p[41]),
        (1, 3),
        "RFC 6146 §3.5.1.1: address unreachable"
    );
    let s = lab.router.snapshot();
    assert_eq!(s.drops[DropReason::PortLimit], 1);
    assert_eq!(s.icmp_sent[IcmpSent::Ipv6AddressUnreachable], 1);
    // Both mappings still work.
    for m in [a, b] {
        let (v, _) = lab.inb(&udp(SERVER, 53, PUBLIC, m.port(), b"r"));
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    }
    // Another subscriber has its own share.
    lab.out_ok(1, &udp6_to(V6B, 1003, SERVER, 53, 64));
}

#[test]
fn sessions_expire_with_the_nat_timers() {
    let mut lab = Lab::with(nat64_config(""));
    let public = lab.out_ok(0, &udp6_to(V6A, 40000, SERVER, 53, 64));
    lab.advance(299);
    let back = udp(SERVER, 53, PUBLIC, public.port(), b"r");
    assert_eq!(lab.inb(&back).0, Verdict::Forward(Interface::Subscriber(0)));
    // Inbound refreshes too; 300 s of silence ends the session (RFC 6146 §4).
    lab.advance(300);
    assert_eq!(lab.inb(&back).0, Verdict::Drop(DropReason::NoMapping));
    assert_eq!(lab.router.snapshot().sessions, 0);
}

#[test]
fn hairpin_between_ipv6_only_and_dual_stack_subscribers() {
    let mut lab = Lab::with(nat64_config("filtering = \"eif\""));
    // B (IPv6-only) and the dual-stack subscriber open mappings.
    let b = lab.out_ok(1, &udp6_to(V6B, 5000, SERVER, 3478, 64));
    let d = lab.out_ok(2, &udp(SUB0, 6000, SERVER, 3478, b"x"));
    // A to B's public endpoint: B gets IPv6 from A's public endpoint, embedded.
    let (v, p) = lab.out(0, &udp6_to(V6A, 4000, PUBLIC, b.port(), 64));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    assert_eq!(dst6(&p), six(V6B));
    assert_eq!(src6(&p), six(&embed(PUBLIC)));
    let a_public = ports6(&p).0;
    assert_eq!(ports6(&p).1, 5000);
    assert_eq!(p[7], 63);
    // A to the dual-stack subscriber's public endpoint: IPv4 from A's.
    let (v, p) = lab.out(0, &udp6_to(V6A, 4000, PUBLIC, d.port(), 64));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(2)));
    assert_eq!(src(&p), sa(&format!("{PUBLIC}:{a_public}")));
    assert_eq!(dst(&p), sa(&format!("{SUB0}:6000")));
    // The dual-stack subscriber to A's public endpoint: IPv6 to A.
    let (v, p) = lab.out(2, &udp(SUB0, 6000, PUBLIC, a_public, b"y"));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!((src6(&p), dst6(&p)), (six(&embed(PUBLIC)), six(V6A)));
    assert_eq!(ports6(&p), (d.port(), 4000));
    assert_eq!(lab.router.snapshot().hairpinned, 3);
}

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

#[test]
fn router_advertisements_carry_pref64() {
    let mut config = nat64_config("");
    config.router.ra = true;
    let mut lab = Lab::with(config);
    lab.advance(0);
    let out = lab.transmit();
    let ra = &out
        .iter()
        .find(|(i, _)| *i == Interface::Subscriber(0))
        .unwrap()
        .1;
    // RFC 8781: type 38, length 2, lifetime 3 × 200 s in 8-s units, PLC 0 (/96).
    let at = ra
        .windows(2)
        .position(|w| w == [38, 2])
        .expect("a PREF64 option");
    assert_eq!(
        &ra[at..at + 16],
        &[
            38, 2, 0x02, 0x58, 0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0
        ]
    );
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

#[test]
fn workers_keep_nat64_sessions_on_the_subscribers_owner() {
    let config = nat64_config("");
    let t0 = std::time::Instant::now();
    let mut workers = sixfold_router::Router::workers(config, 7, t0, 2).unwrap();
    // Subscriber 1 belongs to worker 1; its port is in worker 1's slice, so the
    // reply is steered there.
    let mut buf = sixfold_router::PacketBuf::from_packet(&udp6_to(V6B, 40000, SERVER, 53, 64));
    let dir = Direction::Outbound(1);
    assert_eq!(workers[0].steer(dir, buf.packet()), 1);
    let v = workers[1].process(dir, &mut buf, t0);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    let public = src(buf.packet());
    let reply = udp(SERVER, 53, PUBLIC, public.port(), b"r");
    assert_eq!(workers[0].steer(Direction::Inbound, &reply), 1);
    let mut buf = sixfold_router::PacketBuf::from_packet(&reply);
    let v = workers[1].process(Direction::Inbound, &mut buf, t0);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    assert_checksums(buf.packet());
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

#[test]
fn a_hairpin_to_another_workers_port_is_handed_over_translated() {
    let config = nat64_config("filtering = \"eif\"");
    let t0 = std::time::Instant::now();
    let mut w = sixfold_router::Router::workers(config, 7, t0, 2).unwrap();
    // B (subscriber 1) is worker 1's: its public port is in worker 1's slice.
    let mut buf = PacketBuf::from_packet(&udp6_to(V6B, 5000, SERVER, 3478, 64));
    assert_eq!(
        w[1].process(Direction::Outbound(1), &mut buf, t0),
        Verdict::Forward(Interface::Wan)
    );
    let b = src(buf.packet());
    // A (subscriber 0, worker 0) to B's public endpoint: translated to IPv4 on
    // its way out here, handed to worker 1, which takes it in as from the WAN.
    let mut buf = PacketBuf::from_packet(&udp6_to(V6A, 4000, PUBLIC, b.port(), 64));
    assert_eq!(
        w[0].process(Direction::Outbound(0), &mut buf, t0),
        Verdict::Handoff(1)
    );
    assert_eq!(buf.packet()[0] >> 4, 4);
    assert_eq!(buf.packet()[8], 63, "TTL taken once, here");
    let v = w[1].process_handoff(&mut buf, t0);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    let p = buf.packet();
    assert_checksums(p);
    assert_eq!((dst6(p), ports6(p).1), (six(V6B), 5000));
    assert_eq!(src6(p), six(&embed(PUBLIC)));
    assert_eq!(p[7], 63, "not decremented a second time");
    assert_eq!(w[1].snapshot().hairpinned, 1);
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
