//! NAT44 behaviour through `Router::process`, one scripted test per requirement of
//! RFC 4787 (UDP), 5382 (TCP), 5508 (ICMP), 6888 (CGN) and 7857. The README's
//! requirement table points here.

mod common;
use common::*;
use sixfold_router::{DropReason, Interface, Verdict};
use std::collections::HashSet;
use std::time::Duration;

const WAN_A: &str = "192.0.2.1";
const WAN_B: &str = "198.51.100.7";

#[test]
fn rfc4787_req1_eim_same_external_endpoint_for_every_destination() {
    let mut lab = Lab::new("");
    let a = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"x"));
    let b = lab.out_ok(0, &udp(SUB0, 5000, WAN_B, 53, b"x"));
    let c = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 1234, b"x"));
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.ip().to_string(), PUBLIC);
    assert_ne!(
        a,
        lab.out_ok(0, &udp(SUB0, 5001, WAN_A, 53, b"x")),
        "another internal port, another mapping"
    );
    // TCP too (RFC 5382 REQ-1), and ICMP query identifiers (RFC 5508 REQ-1a).
    let t1 = lab.out_ok(0, &tcp(SUB0, 6000, WAN_A, 80, SYN));
    let t2 = lab.out_ok(0, &tcp(SUB0, 6000, WAN_B, 443, SYN));
    assert_eq!(t1, t2);
    let i1 = lab.out_ok(0, &echo(SUB0, WAN_A, 77, false));
    let i2 = lab.out_ok(0, &echo(SUB0, WAN_B, 77, false));
    assert_eq!(i1, i2);
}

#[test]
fn mapping_adm_and_apdm_are_configurable() {
    let mut adm = Lab::new("mapping = \"adm\"");
    let a = adm.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"x"));
    assert_eq!(
        a,
        adm.out_ok(0, &udp(SUB0, 5000, WAN_A, 54, b"x")),
        "same address, same mapping"
    );
    assert_ne!(a, adm.out_ok(0, &udp(SUB0, 5000, WAN_B, 53, b"x")));
    let mut apdm = Lab::new("mapping = \"apdm\"");
    let a = apdm.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"x"));
    assert_eq!(a, apdm.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"y")));
    assert_ne!(a, apdm.out_ok(0, &udp(SUB0, 5000, WAN_A, 54, b"x")));
}

/// Sends from SUB0:5000 to WAN_A:53, then tries three inbound senders.
fn filtering(mode: &str) -> [bool; 3] {
    let mut lab = Lab::new(&format!("filtering = \"{mode}\""));
    let ext = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let e = ext.to_string();
    let (h, p) = e.split_once(':').unwrap();
    let p: u16 = p.parse().unwrap();
    let mut admitted = [false; 3];
    for (i, (from, port)) in [(WAN_A, 53), (WAN_A, 99), (WAN_B, 53)]
        .into_iter()
        .enumerate()
    {
        let (v, out) = lab.inb(&udp(from, port, h, p, b"r"));
        admitted[i] = v == Verdict::Forward(Interface::Subscriber(0));
        if admitted[i] {
            assert_eq!(dst(&out), sa(&format!("{SUB0}:5000")));
            assert_eq!(
                src(&out),
                sa(&format!("{from}:{port}")),
                "the remote is not translated"
            );
        } else {
            assert!(matches!(v, Verdict::Drop(DropReason::Filtered)), "{v:?}");
        }
    }
    admitted
}

#[test]
fn rfc4787_req8_filtering_eif_adf_apdf() {
    // [same endpoint, same address other port, other address]
    assert_eq!(filtering("eif"), [true, true, true]);
    assert_eq!(filtering("adf"), [true, true, false]);
    assert_eq!(filtering("apdf"), [true, false, false]);
}

#[test]
fn default_filtering_is_apdf_and_unknown_ports_are_no_mapping() {
    let mut lab = Lab::new("");
    let (v, _) = lab.inb(&udp(WAN_A, 53, PUBLIC, 40000, b"r"));
    assert_eq!(v, Verdict::Drop(DropReason::NoMapping));
    let (v, _) = lab.inb(&udp(WAN_A, 53, "203.0.113.99", 40000, b"r"));
    assert_eq!(v, Verdict::Drop(DropReason::NoRoute));
}

/// UDP hole punching between two subscribers through their public endpoints.
#[test]
fn rfc4787_req9_hairpin_shows_the_external_source() {
    let mut lab = Lab::new("");
    // Each learns its external endpoint from a server (as STUN does).
    let e0 = lab.out_ok(0, &udp(SUB0, 6666, WAN_A, 3478, b"stun"));
    let e1 = lab.out_ok(1, &udp(SUB1, 5555, WAN_A, 3478, b"stun"));
    // sub2 punches towards sub1's external endpoint: sub1's mapping filters it (APDF).
    let (v, _) = lab.out(
        1,
        &udp(SUB1, 5555, &e0.ip().to_string(), e0.port(), b"punch"),
    );
    assert_eq!(v, Verdict::Drop(DropReason::Filtered));
    // sub1 sends to sub2's external endpoint: hairpinned, and sub2 sees sub1's
    // *external* address and port (REQ-9a).
    let (v, p) = lab.out(
        0,
        &udp(SUB0, 6666, &e1.ip().to_string(), e1.port(), b"hello"),
    );
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    assert_eq!(src(&p), e0);
    assert_eq!(dst(&p), sa(&format!("{SUB1}:5555")));
    assert_eq!(p[8], 63, "TTL decremented once");
    // And back.
    let (v, p) = lab.out(1, &udp(SUB1, 5555, &e0.ip().to_string(), e0.port(), b"hi"));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(src(&p), e1);
    assert_eq!(lab.router.snapshot().hairpinned, 2);
}

#[test]
fn rfc5382_req8_tcp_hairpin_and_hairpin_off() {
    let mut lab = Lab::new("filtering = \"eif\"");
    let e1 = lab.out_ok(1, &tcp(SUB1, 8080, WAN_A, 80, SYN));
    let (v, p) = lab.out(0, &tcp(SUB0, 40000, &e1.ip().to_string(), e1.port(), SYN));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    assert_eq!(dst(&p), sa(&format!("{SUB1}:8080")));
    assert_eq!(src(&p).ip().to_string(), PUBLIC);
    let mut off = Lab::new("hairpin = false\nfiltering = \"eif\"");
    let e1 = off.out_ok(1, &tcp(SUB1, 8080, WAN_A, 80, SYN));
    let (v, _) = off.out(0, &tcp(SUB0, 40000, &e1.ip().to_string(), e1.port(), SYN));
    assert_eq!(v, Verdict::Drop(DropReason::HairpinOff));
}

#[test]
fn rfc4787_req5_udp_timer_is_300_s_and_refreshed_outbound() {
    let mut lab = Lab::new("");
    let e = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let reply = udp(WAN_A, 53, PUBLIC, e.port(), b"r");
    lab.advance(299);
    assert_eq!(
        lab.inb(&reply).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    // The inbound packet refreshed too; after 300 idle seconds the session is gone.
    lab.advance(300);
    assert_eq!(lab.inb(&reply).0, Verdict::Drop(DropReason::NoMapping));
    assert_eq!(lab.router.snapshot().sessions, 0);
    // REQ-6: outbound refresh keeps it.
    let e = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    for _ in 0..5 {
        lab.advance(200);
        assert_eq!(e, lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q")));
    }
}

#[test]
fn config_refuses_udp_timer_below_two_minutes() {
    let e = sixfold_router::Config::from_toml("[nat.timeouts]\nudp = 119").unwrap_err();
    assert_eq!(e.key, "nat.timeouts.udp");
}

#[test]
fn rfc5382_req5_tcp_established_2h4m_and_transitory_4min() {
    let mut lab = Lab::new("");
    let e = lab.out_ok(0, &tcp(SUB0, 7000, WAN_A, 80, SYN));
    // Half open: transitory timer.
    lab.advance(239);
    assert_eq!(
        lab.inb(&tcp(WAN_A, 80, PUBLIC, e.port(), SYNACK)).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    assert_eq!(e, lab.out_ok(0, &tcp(SUB0, 7000, WAN_A, 80, ACK)));
    // Established: 2 h 4 min.
    lab.advance(7439);
    assert_eq!(e, lab.out_ok(0, &tcp(SUB0, 7000, WAN_A, 80, ACK)));
    lab.advance(7440);
    assert_eq!(
        lab.inb(&tcp(WAN_A, 80, PUBLIC, e.port(), ACK)).0,
        Verdict::Drop(DropReason::NoMapping)
    );
    // A FIN each way puts it on the transitory timer (RFC 7857 §2.2).
    let e = lab.out_ok(0, &tcp(SUB0, 7001, WAN_A, 80, SYN));
    lab.inb(&tcp(WAN_A, 80, PUBLIC, e.port(), SYNACK));
    lab.out_ok(0, &tcp(SUB0, 7001, WAN_A, 80, FIN));
    lab.inb(&tcp(WAN_A, 80, PUBLIC, e.port(), FIN));
    lab.advance(240);
    assert_eq!(
        lab.inb(&tcp(WAN_A, 80, PUBLIC, e.port(), ACK)).0,
        Verdict::Drop(DropReason::NoMapping)
    );
    assert_eq!(lab.router.snapshot().sessions, 0);
}

#[test]
fn rfc5382_req2_simultaneous_open() {
    let mut lab = Lab::new("port_preservation = true");
    // Both sides know each other's endpoints (the public port is preserved here).
    let e = lab.out_ok(0, &tcp(SUB0, 7100, WAN_A, 9000, SYN));
    assert_eq!(e.port(), 7100);
    // The peer's SYN crosses ours: it matches the session and passes.
    let (v, p) = lab.inb(&tcp(WAN_A, 9000, PUBLIC, 7100, SYN));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(dst(&p), sa(&format!("{SUB0}:7100")));
    assert_eq!(
        lab.out(0, &tcp(SUB0, 7100, WAN_A, 9000, SYNACK)).0,
        Verdict::Forward(Interface::Wan)
    );
    assert_eq!(
        lab.inb(&tcp(WAN_A, 9000, PUBLIC, 7100, SYNACK)).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    // Established: survives more than the transitory timer.
    lab.advance(3600);
    assert_eq!(
        lab.inb(&tcp(WAN_A, 9000, PUBLIC, 7100, ACK)).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
}

#[test]
fn rfc5382_req4_unsolicited_syn_held_6s_then_port_unreachable() {
    let mut lab = Lab::new("port_preservation = true");
    let syn = tcp(WAN_A, 9000, PUBLIC, 7200, SYN);
    assert_eq!(lab.inb(&syn).0, Verdict::Drop(DropReason::SynHeld));
    lab.advance(5);
    assert!(lab.transmit().is_empty(), "nothing answers within 6 s");
    lab.advance(1);
    let out = lab.transmit();
    assert_eq!(out.len(), 1);
    let (to, icmp) = &out[0];
    assert_eq!(*to, Interface::Wan);
    assert_eq!(icmp[9], 1);
    assert_eq!(&icmp[20..22], &[3, 3], "port unreachable");
    assert_eq!(
        &icmp[12..16],
        &ip(PUBLIC),
        "from the address the SYN was sent to"
    );
    assert_eq!(&icmp[16..20], &ip(WAN_A));
    assert_eq!(&icmp[28..28 + syn.len()], &syn[..], "quotes the SYN");

    // An outbound SYN within 6 s: the held SYN is dropped silently, no ICMP.
    let syn = tcp(WAN_A, 9001, PUBLIC, 7201, SYN);
    assert_eq!(lab.inb(&syn).0, Verdict::Drop(DropReason::SynHeld));
    lab.advance(3);
    let e = lab.out_ok(0, &tcp(SUB0, 7201, WAN_A, 9001, SYN));
    assert_eq!(e.port(), 7201);
    lab.advance(10);
    assert!(lab.transmit().is_empty());
    assert_eq!(
        lab.inb(&tcp(WAN_A, 9001, PUBLIC, 7201, SYNACK)).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
}

#[test]
fn rfc6888_req4_req11_port_limit_refuses_with_3_13_and_evicts_nothing() {
    let mut lab = Lab::new("ports_per_subscriber = 50");
    let mut ext = Vec::new();
    for port in 0..50u16 {
        ext.push(lab.out_ok(0, &udp(SUB0, 10000 + port, WAN_A, 53, b"q")));
    }
    let (v, p) = lab.out(0, &udp(SUB0, 20000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!(&p[20..22], &[3, 13], "administratively prohibited");
    assert_eq!(&p[16..20], &ip(SUB0));
    assert_eq!(&p[12..16], &[100, 64, 0, 1], "from the router's address");
    assert_eq!(lab.router.snapshot().drops[DropReason::PortLimit], 1);
    // Every existing mapping still works both ways.
    for (i, e) in ext.iter().enumerate() {
        assert_eq!(
            *e,
            lab.out_ok(0, &udp(SUB0, 10000 + i as u16, WAN_A, 53, b"q"))
        );
        let (v, p) = lab.inb(&udp(WAN_A, 53, PUBLIC, e.port(), b"r"));
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
        assert_eq!(dst(&p).port(), 10000 + i as u16);
    }
    // TCP has its own limit (REQ-4b), and the other subscriber is unaffected.
    lab.out_ok(0, &tcp(SUB0, 20000, WAN_A, 80, SYN));
    lab.out_ok(1, &udp(SUB1, 20000, WAN_A, 53, b"q"));
    let s = lab.router.snapshot();
    assert_eq!(s.subscribers[0].ports.udp, 50);
    assert_eq!(s.subscribers[0].ports.tcp, 1);
}

#[test]
fn global_session_limit_refuses_without_eviction() {
    let mut lab = Lab::new("max_sessions = 10");
    for i in 0..10u16 {
        lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 1000 + i, b"q"));
    }
    let (v, _) = lab.out(1, &udp(SUB1, 5000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(1)));
    assert_eq!(lab.router.snapshot().drops[DropReason::SessionLimit], 1);
    assert_eq!(lab.router.snapshot().sessions, 10);
    assert_eq!(
        lab.router.snapshot().mappings,
        1,
        "the refused flow left no mapping behind"
    );
}

#[test]
fn refused_flows_hold_no_ports() {
    // A subscriber at its session limit floods new flows: each is refused, none
    // takes (or quarantines) a port, and the pool stays usable for others.
    let mut lab = Lab::new("sessions_per_subscriber = 10\nports_per_subscriber = 100");
    for port in 0..10u16 {
        lab.out_ok(0, &udp(SUB0, 1024 + port, WAN_A, 53, b"q"));
    }
    for port in 0..5000u16 {
        let (v, _) = lab.out(0, &udp(SUB0, 20000 + port, WAN_A, 53, b"q"));
        assert!(
            matches!(
                v,
                Verdict::Reply(_) | Verdict::Drop(DropReason::SubscriberSessionLimit)
            ),
            "{v:?}"
        );
    }
    let s = lab.router.snapshot();
    assert_eq!(s.subscribers[0].ports.udp, 10);
    assert_eq!(s.mappings, 10);
    assert_eq!(s.drops[DropReason::SubscriberSessionLimit], 5000);
    lab.out_ok(1, &udp(SUB1, 1024, WAN_A, 53, b"q"));
}

#[test]
fn rfc6888_req8_freed_port_not_reused_for_120s() {
    // One well-known port range of 1023 ports: easy to exhaust and observe.
    let mut lab = Lab::new("ports_per_subscriber = 1023");
    let mut all: Vec<u16> = (1..=1023)
        .map(|i| lab.out_ok(0, &udp(SUB0, i, WAN_A, 53, b"q")).port())
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=1023).collect::<Vec<u16>>(),
        "well-known ports map into 1-1023 (REQ-3a)"
    );
    // All expire; the ports stay quarantined for 120 s after expiry.
    lab.advance(300);
    lab.advance(1);
    let (v, _) = lab.out(0, &udp(SUB0, 1, WAN_A, 53, b"q"));
    assert!(
        matches!(v, Verdict::Reply(_)),
        "{v:?}: no port may be reused yet"
    );
    lab.advance(119);
    for _ in 0..200 {
        lab.advance(0);
    }
    let (v, _) = lab.out(0, &udp(SUB0, 1, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
}

#[test]
fn rfc6888_req2_paired_pooling_over_a_non_contiguous_pool() {
    let mut lab = Lab::new("pool = [\"192.0.2.200\", \"198.51.100.64/30\", \"203.0.113.9\"]");
    for sub in 0..2u32 {
        let from = if sub == 0 { SUB0 } else { SUB1 };
        let mut addrs = HashSet::new();
        for i in 0..200u16 {
            addrs.insert(
                *lab.out_ok(sub, &udp(from, 2000 + i, WAN_A, 53 + i, b"q"))
                    .ip(),
            );
        }
        for i in 0..50u16 {
            addrs.insert(*lab.out_ok(sub, &tcp(from, 3000 + i, WAN_B, 80, SYN)).ip());
            addrs.insert(*lab.out_ok(sub, &echo(from, WAN_B, i, false)).ip());
        }
        assert_eq!(addrs.len(), 1, "subscriber {sub} used {addrs:?}");
    }
}

#[test]
fn rfc7857_ports_are_random_not_sequential() {
    let mut lab = Lab::new("");
    let ports: Vec<u16> = (0..500)
        .map(|i| lab.out_ok(0, &udp(SUB0, 30000 + i, WAN_A, 53, b"q")).port())
        .collect();
    let steps = ports
        .windows(2)
        .filter(|w| w[1].abs_diff(w[0]) <= 2)
        .count();
    assert!(
        steps < 5,
        "{steps} of 499 allocations were next to the previous one"
    );
    assert!(ports.iter().all(|&p| p >= 1024));
    let spread = ports.iter().max().unwrap() - ports.iter().min().unwrap();
    assert!(spread > 50000, "ports span only {spread}");
}

#[test]
fn rfc5508_req1_req2_echo_id_mapping_and_60s_timer() {
    let mut lab = Lab::new("");
    let (v, p) = lab.out(0, &echo(SUB0, WAN_A, 0x1234, false));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    let id = src(&p).port();
    assert_eq!(&p[12..16], &ip(PUBLIC));
    let (v, p) = lab.inb(&echo(WAN_A, PUBLIC, id, true));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(dst(&p).port(), 0x1234, "identifier restored");
    assert_eq!(&p[16..20], &ip(SUB0));
    // Inbound echo requests open nothing.
    assert_eq!(
        lab.inb(&echo(WAN_A, PUBLIC, id, false)).0,
        Verdict::Drop(DropReason::UnsupportedIcmp)
    );
    lab.advance(60);
    assert_eq!(
        lab.inb(&echo(WAN_A, PUBLIC, id, true)).0,
        Verdict::Drop(DropReason::NoMapping)
    );
}

#[test]
fn rfc5508_req4_req6_inbound_error_reverts_the_quote_and_does_not_refresh() {
    let mut lab = Lab::new("");
    let (_, sent) = lab.out(0, &udp(SUB0, 5000, WAN_A, 53, b"query"));
    let ext = src(&sent);
    lab.advance(200);
    let err = icmp_error("198.51.100.254", PUBLIC, 3, 3, &sent);
    let (v, p) = lab.inb(&err);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(&p[12..16], &ip("198.51.100.254"), "outer source kept");
    assert_eq!(&p[16..20], &ip(SUB0), "outer destination = internal host");
    assert_eq!(&p[20..22], &[3, 3], "type and code kept");
    let q = &p[28..];
    assert_eq!(
        src(q),
        sa(&format!("{SUB0}:5000")),
        "quoted source reverted"
    );
    assert_eq!(dst(q), sa(&format!("{WAN_A}:53")));
    // REQ-6: the error did not refresh the session: it still expires at 300 s.
    lab.advance(100);
    assert_eq!(
        lab.inb(&udp(WAN_A, 53, PUBLIC, ext.port(), b"r")).0,
        Verdict::Drop(DropReason::NoMapping)
    );
}

#[test]
fn rfc5508_req3_bad_checksums_drop_the_error() {
    let mut lab = Lab::new("");
    let (_, sent) = lab.out(0, &udp(SUB0, 5000, WAN_A, 53, b"query"));
    let mut err = icmp_error(WAN_A, PUBLIC, 3, 3, &sent);
    err[22] ^= 0xff; // the ICMP checksum
    assert_eq!(
        lab.inb(&err).0,
        Verdict::Drop(DropReason::IcmpErrorBadChecksum)
    );
    // Quoted IP header checksum wrong, ICMP checksum right.
    let mut bad = sent.clone();
    bad[10] ^= 1;
    let err = icmp_error(WAN_A, PUBLIC, 3, 3, &bad);
    assert_eq!(
        lab.inb(&err).0,
        Verdict::Drop(DropReason::IcmpErrorBadChecksum)
    );
    // A quoted transport checksum is not checked (REQ-3c): a wrong one passes.
    let mut bad = sent.clone();
    bad[26] ^= 1;
    let err = icmp_error(WAN_A, PUBLIC, 3, 3, &bad);
    assert_eq!(lab.inb(&err).0, Verdict::Forward(Interface::Subscriber(0)));
    // No session: dropped.
    let other = udp(PUBLIC, 1111, WAN_A, 53, b"x");
    assert_eq!(
        lab.inb(&icmp_error(WAN_A, PUBLIC, 3, 3, &other)).0,
        Verdict::Drop(DropReason::IcmpErrorNoSession)
    );
}

#[test]
fn rfc5508_req5_outbound_error_and_echo_error_both_ways() {
    let mut lab = Lab::new("filtering = \"eif\"");
    let ext = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let (_, delivered) = lab.inb(&udp(WAN_B, 4444, PUBLIC, ext.port(), b"in"));
    // The host answers with port unreachable quoting what it got.
    let err = icmp_error(SUB0, WAN_B, 3, 3, &delivered);
    let (v, p) = lab.out(0, &err);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(&p[12..16], &ip(PUBLIC), "outer source = public address");
    assert_eq!(dst(&p[28..]), ext, "quoted destination = external endpoint");
    assert_eq!(src(&p[28..]), sa(&format!("{WAN_B}:4444")));
    // Time exceeded about an echo request, from a router on the path.
    let (_, ping) = lab.out(0, &echo(SUB0, WAN_A, 99, false));
    let (v, p) = lab.inb(&icmp_error("198.51.100.1", PUBLIC, 11, 0, &ping));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(src(&p[28..]).port(), 99, "quoted identifier restored");
}

#[test]
fn rfc1812_ttl_expiry_answers_from_the_router() {
    let mut lab = Lab::new("");
    let mut p = udp(SUB0, 5000, WAN_A, 53, b"q");
    p[8] = 1;
    p[10..12].copy_from_slice(&[0, 0]);
    let c = internet_checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c);
    let (v, r) = lab.out(0, &p);
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!(&r[20..22], &[11, 0]);
    assert_eq!(&r[12..16], &[100, 64, 0, 1]);
    assert_eq!(&r[28..28 + p.len()], &p[..]);
    assert_eq!(
        lab.router.snapshot().sessions,
        0,
        "no session for a packet that died"
    );
    // Forwarded packets lose one.
    let (_, f) = lab.out(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    assert_eq!(f[8], 63);
}

#[test]
fn anti_spoofing_drops_foreign_sources() {
    let mut lab = Lab::new("");
    assert_eq!(
        lab.out(0, &udp(SUB1, 5000, WAN_A, 53, b"q")).0,
        Verdict::Drop(DropReason::Spoofed)
    );
    assert_eq!(
        lab.out(0, &udp("10.0.0.1", 5000, WAN_A, 53, b"q")).0,
        Verdict::Drop(DropReason::Spoofed)
    );
    assert_eq!(lab.router.snapshot().drops[DropReason::Spoofed], 2);
}

fn fragments(datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
    let ihl = 20;
    let payload = &datagram[ihl..];
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, c)| {
            let mut p = datagram[..ihl].to_vec();
            p.extend_from_slice(c);
            let total = p.len() as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            let more = (i + 1) * size < payload.len();
            let off = ((i * size) / 8) as u16 | if more { 0x2000 } else { 0 };
            p[6..8].copy_from_slice(&off.to_be_bytes());
            p[10..12].copy_from_slice(&[0, 0]);
            let c = internet_checksum::checksum(&p[..20]);
            p[10..12].copy_from_slice(&c);
            p
        })
        .collect()
}

#[test]
fn rfc4787_req14_fragments_in_and_out_of_order() {
    let mut lab = Lab::new("");
    let big = udp(SUB0, 5000, WAN_A, 53, &[7u8; 3000]);
    let frags = fragments(&big, 1000);
    assert_eq!(frags.len(), 4);
    // Out of order: the last two first, then the first, then the second.
    assert_eq!(lab.out(0, &frags[3]).0, Verdict::Held);
    assert_eq!(lab.out(0, &frags[2]).0, Verdict::Held);
    let (v, first) = lab.out(0, &frags[0]);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    let early = lab.transmit();
    assert_eq!(early.len(), 2);
    let (v, second) = lab.out(0, &frags[1]);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    // Reassemble what left, in offset order, and check the datagram.
    let mut all: Vec<Vec<u8>> = vec![first, second, early[0].1.clone(), early[1].1.clone()];
    all.sort_by_key(|p| u16::from_be_bytes([p[6], p[7]]) & 0x1fff);
    let mut payload = Vec::new();
    for p in &all {
        assert_eq!(&p[12..16], &ip(PUBLIC));
        assert_eq!(&p[16..20], &ip(WAN_A));
        payload.extend_from_slice(&p[20..]);
    }
    let mut whole = all[0][..20].to_vec();
    whole.extend_from_slice(&payload);
    let total = whole.len() as u16;
    whole[2..4].copy_from_slice(&total.to_be_bytes());
    whole[6..8].copy_from_slice(&[0, 0]);
    whole[10..12].copy_from_slice(&[0, 0]);
    let c = internet_checksum::checksum(&whole[..20]);
    whole[10..12].copy_from_slice(&c);
    assert_checksums(&whole);
    assert_eq!(&whole[28..], &[7u8; 3000][..]);
    let ext = src(&whole);
    // Inbound fragments of the reply, out of order.
    let reply = udp(WAN_A, 53, PUBLIC, ext.port(), &[9u8; 2000]);
    let rf = fragments(&reply, 1000);
    assert_eq!(lab.inb(&rf[2]).0, Verdict::Held);
    assert_eq!(
        lab.inb(&rf[0]).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    assert_eq!(lab.transmit().len(), 1);
    let (v, p) = lab.inb(&rf[1]);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(&p[16..20], &ip(SUB0));
}

#[test]
fn rfc4787_req14a_fragment_flood_is_bounded_and_times_out() {
    let mut lab = Lab::new("max_fragment_flows = 8");
    for id in 0..20u16 {
        let mut f = fragments(&udp(SUB0, 5000, WAN_A, 53, &[1u8; 1600]), 800)[1].clone();
        f[4..6].copy_from_slice(&id.to_be_bytes());
        f[10..12].copy_from_slice(&[0, 0]);
        let c = internet_checksum::checksum(&f[..20]);
        f[10..12].copy_from_slice(&c);
        let v = lab.out(0, &f).0;
        assert_eq!(
            v,
            if id < 8 {
                Verdict::Held
            } else {
                Verdict::Drop(DropReason::FragmentLimit)
            }
        );
    }
    // Unfragmented traffic is untouched.
    lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    lab.advance(31);
    assert_eq!(lab.router.snapshot().drops[DropReason::FragmentTimeout], 8);
}

#[test]
fn rfc4787_req13_df_too_big_gets_frag_needed_and_df0_is_fragmented() {
    let mut lab = Lab::new("filtering = \"eif\"");
    let ext = lab.out_ok(1, &udp(SUB1, 5000, WAN_A, 53, b"q"));
    // sub2's link has MTU 1400: a 1450-byte DF packet from the WAN bounces.
    let mut big = udp(WAN_A, 53, PUBLIC, ext.port(), &[5u8; 1422]);
    assert_eq!(big.len(), 1450);
    big[6] |= 0x40;
    big[10..12].copy_from_slice(&[0, 0]);
    let c = internet_checksum::checksum(&big[..20]);
    big[10..12].copy_from_slice(&c);
    let (v, r) = lab.inb(&big);
    assert_eq!(v, Verdict::Reply(Interface::Wan));
    assert_eq!(&r[20..22], &[3, 4]);
    assert_eq!(&r[26..28], &1400u16.to_be_bytes(), "next-hop MTU");
    assert_eq!(&r[12..16], &ip(PUBLIC));
    // DF=0: the router fragments it.
    let mut big = udp(WAN_A, 53, PUBLIC, ext.port(), &[5u8; 1422]);
    big[6] &= !0x40;
    big[10..12].copy_from_slice(&[0, 0]);
    let c = internet_checksum::checksum(&big[..20]);
    big[10..12].copy_from_slice(&c);
    let (v, first) = lab.inb(&big);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    let rest = lab.transmit();
    assert_eq!(rest.len(), 1);
    assert!(first.len() <= 1400 && rest[0].1.len() <= 1400);
    assert_eq!(first.len() - 20 + rest[0].1.len() - 20, 1430);
    assert_eq!(
        u16::from_be_bytes([rest[0].1[6], rest[0].1[7]]),
        (1376 / 8) as u16
    );
}

/// The load that crashed FreeBSD's libalias: one internal address and port to many
/// destinations, with churn.
#[test]
fn hundred_thousand_flows_from_one_port_with_churn() {
    let mut lab = Lab::new("");
    let mut ext = None;
    for i in 0..100_000u32 {
        let dst = format!("198.18.{}.{}", (i >> 8) & 0xff, i & 0xff);
        let port = 1000 + (i >> 16) as u16;
        let e = lab.out_ok(0, &udp(SUB0, 4000, &dst, port, b"x"));
        assert_eq!(*ext.get_or_insert(e), e, "EIM holds for every destination");
        if i % 1000 == 999 {
            lab.advance(1);
        }
    }
    let s = lab.router.snapshot();
    assert_eq!(s.sessions, 100_000);
    assert_eq!(s.mappings, 1);
    assert_eq!(s.subscribers[0].ports.udp, 1);
    // Replies from every destination find their way (APDF admits each).
    let e = ext.unwrap();
    for i in (0..100_000u32).step_by(997) {
        let from = format!("198.18.{}.{}", (i >> 8) & 0xff, i & 0xff);
        let (v, _) = lab.inb(&udp(&from, 1000 + (i >> 16) as u16, PUBLIC, e.port(), b"r"));
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)));
    }
    // Churn: everything expires with bounded work per tick, new flows come in.
    for _ in 0..400 {
        lab.advance(1);
        lab.out_ok(0, &udp(SUB0, 4001, WAN_A, 53, b"x"));
    }
    for _ in 0..2000 {
        lab.advance(0);
    }
    let s = lab.router.snapshot();
    assert_eq!(s.sessions, 1, "only the flow kept alive remains");
    assert_eq!(s.sessions_expired, 100_000);
}

/// Expiry behind its budget asks the I/O loop not to sleep: an idle router
/// drains a backlog round after round, not one budget (64) per poll timeout
/// (100 ms) — found by `benches/scripts/cgn-load.sh`, where 20,000 idle
/// sessions took 11 s to expire.
#[test]
fn an_expiry_backlog_keeps_the_loop_awake_until_it_is_drained() {
    let mut lab = Lab::new("");
    for i in 0..1000u16 {
        lab.out_ok(0, &udp(SUB0, 2000 + i, WAN_A, 53, b"x"));
    }
    assert_eq!(lab.router.next_wakeup(lab.instant()), None, "nothing due");
    lab.advance(301);
    let mut rounds = 0;
    while lab.router.next_wakeup(lab.instant()) == Some(Duration::ZERO) {
        lab.advance(0);
        rounds += 1;
        assert!(rounds < 1000, "the backlog shrinks every round");
    }
    let s = lab.router.snapshot();
    assert_eq!((s.sessions, s.sessions_expired), (0, 1000));
    // Bounded work per round: 1000 sessions (and 301 seconds walked) take rounds.
    assert!(rounds >= 1000 / 64, "{rounds} rounds");
    assert_eq!(lab.router.next_wakeup(lab.instant()), None);
}

/// The NAT may give a session any external port, 3544 (Teredo), 5072 (AYIYA)
/// and 3653 (TSP) included: the reply to such a session is the session's
/// traffic, not a tunnel, and is forwarded. (Found by the SYN flood of
/// `benches/scripts/syn-flood.sh`: replies to flows on external port 3653 were
/// dropped as `tunnel_tsp`.) A packet *from* those ports is still blocked.
#[test]
fn replies_to_sessions_given_a_tunnel_port_are_forwarded() {
    let mut lab = Lab::new("ports_per_subscriber = 64512");
    let wanted = [(false, 3544), (false, 5072), (false, 3653), (true, 3653)];
    for (is_tcp, port) in wanted {
        let packet = |inside: u16| {
            if is_tcp {
                tcp(SUB0, inside, WAN_A, 80, 0x02)
            } else {
                udp(SUB0, inside, WAN_A, 80, b"x")
            }
        };
        // Inside ports that are tunnel ports are blocked on the way out.
        let inside = (1024..=u16::MAX)
            .filter(|p| ![3544, 5072, 3653].contains(p))
            .find(|&inside| lab.out_ok(0, &packet(inside)).port() == port)
            .expect("every external port is handed out once all are in use");
        let reply = if is_tcp {
            tcp(WAN_A, 80, PUBLIC, port, 0x12)
        } else {
            udp(WAN_A, 80, PUBLIC, port, b"y")
        };
        let (v, p) = lab.inb(&reply);
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)), "{port}");
        assert_eq!(dst(&p), sa(&format!("{SUB0}:{inside}")));
        // New sessions for the next protocol's search.
        lab.advance(7441);
    }
    let (v, _) = lab.inb(&udp(WAN_A, 3544, PUBLIC, 40000, b"z"));
    assert_eq!(v, Verdict::Drop(DropReason::TunnelTeredo));
}
