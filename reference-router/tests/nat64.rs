//! Stateful NAT64 (RFC 6146) sessions through
//! `Router::process`, in memory: packets built with etherparse, every checksum
//! of what comes out checked with internet-checksum (neither written here), and
//! the translated fields compared with what the RFCs say, value by value.

mod common;
use common::nat64::*;
use common::*;
use sixfold_router::{Direction, DropReason, IcmpSent, Interface, PacketBuf, Verdict};
use std::net::Ipv4Addr;

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
    // Inbound refreshes too; 300 s of silence ends the session (RFC 6146 §4):
    // then dropped, answered with port unreachable (RFC 6146 §3.5.1).
    lab.advance(300);
    assert_eq!(lab.inb(&back).0, Verdict::Reply(Interface::Wan));
    let s = lab.router.snapshot();
    assert_eq!((s.sessions, s.drops[DropReason::NoMapping]), (0, 1));
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

/// `[ipfix]` with per-session events, after `[nat]`'s `extra` keys.
fn logging(extra: &str) -> sixfold_router::Config {
    nat64_config(&format!(
        "{extra}\n[ipfix]\ncollector = \"192.0.2.9:4739\"\nsessions = true\n"
    ))
}

fn nat_records(lab: &mut Lab) -> Vec<sixfold_router::ipfix::NatRecord> {
    std::iter::from_fn(|| lab.router.poll_ipfix())
        .filter_map(|r| match r {
            sixfold_router::ipfix::Record::Nat(n) => Some(n),
            sixfold_router::ipfix::Record::Flow(_) => None,
        })
        .collect()
}

/// No record names an alias (240.0.0.0/4): it means nothing outside the router.
fn assert_no_alias(records: &[sixfold_router::ipfix::NatRecord]) {
    for r in records {
        for a in [r.inside, r.outside, r.remote] {
            assert_ne!(a.octets()[0] & 0xf0, 0xf0, "{r:?}");
        }
    }
}

#[test]
fn session_logging_gives_nat64_events_with_the_ipv6_addresses() {
    use sixfold_router::ipfix::encode::Template;
    use sixfold_router::ipfix::{NatRecord, Record};
    use sixfold_router::stats::NatEvent;
    let mut lab = Lab::with(logging(""));
    let public = lab.out_ok(0, &udp6_to(V6A, 40000, SERVER, 53, 64));
    let back = udp(SERVER, 53, PUBLIC, public.port(), b"r");
    assert_eq!(lab.inb(&back).0, Verdict::Forward(Interface::Subscriber(0)));
    // The dual-stack subscriber's NAT44 session keeps natEvent 4.
    let nat44 = lab.out_ok(2, &udp(SUB0, 5000, SERVER, 53, b"q"));
    let r = nat_records(&mut lab);
    assert_no_alias(&r);
    let created = NatRecord {
        event: NatEvent::Nat64SessionCreate,
        time_ms: 0,
        inside: Ipv4Addr::UNSPECIFIED,
        outside: PUBLIC.parse().unwrap(),
        protocol: 17,
        inside_port: 40000,
        outside_port: public.port(),
        first_port: 0,
        last_port: 0,
        remote: SERVER.parse().unwrap(),
        remote_port: 53,
        inside6: six(V6A),
        remote6: six(&embed(SERVER)),
    };
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0], created);
    assert_eq!(Template::of(&Record::Nat(r[0])), Template::Nat64Session);
    assert_eq!(r[1].event, NatEvent::SessionCreate);
    assert_eq!(
        (r[1].inside, r[1].inside_port, r[1].inside6),
        (SUB0.parse().unwrap(), 5000, std::net::Ipv6Addr::UNSPECIFIED)
    );
    assert_eq!(
        (r[1].outside, r[1].outside_port),
        (*nat44.ip(), nat44.port())
    );
    assert_eq!(Template::of(&Record::Nat(r[1])), Template::Session);
    // At expiry (300 s after the reply), natEvent 7 with the same fields.
    for _ in 0..301 {
        lab.advance(1);
        for _ in 0..8 {
            lab.advance(0);
        }
    }
    let r = nat_records(&mut lab);
    assert_no_alias(&r);
    let deleted: Vec<&NatRecord> = r
        .iter()
        .filter(|x| x.event == NatEvent::Nat64SessionDelete)
        .collect();
    assert_eq!(deleted.len(), 1, "{r:?}");
    assert_eq!(
        *deleted[0],
        NatRecord {
            event: NatEvent::Nat64SessionDelete,
            time_ms: 300_000,
            ..created
        }
    );
    assert_eq!(
        r.iter()
            .filter(|x| x.event == NatEvent::SessionDelete)
            .count(),
        1
    );
    let s = lab.router.snapshot();
    assert_eq!(
        (
            s.ipfix.nat_events[NatEvent::Nat64SessionCreate],
            s.ipfix.nat_events[NatEvent::Nat64SessionDelete],
            s.ipfix.nat_events[NatEvent::SessionCreate],
        ),
        (1, 1, 1)
    );
}

#[test]
fn an_ipv6_only_subscribers_limit_event_names_its_ipv6_address() {
    use sixfold_router::stats::NatEvent;
    let mut lab = Lab::with(logging("ports_per_subscriber = 1"));
    lab.out_ok(0, &udp6_to(V6A, 1001, SERVER, 53, 64));
    let (v, _) = lab.out(0, &udp6_to(V6A, 1002, SERVER, 53, 64));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    let r = nat_records(&mut lab);
    assert_no_alias(&r);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1].event, NatEvent::QuotaExceeded);
    assert_eq!(
        (r[1].inside, r[1].inside6, r[1].outside, r[1].protocol),
        (Ipv4Addr::UNSPECIFIED, six(V6A), PUBLIC.parse().unwrap(), 17)
    );
}
