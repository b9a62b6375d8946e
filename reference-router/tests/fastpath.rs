//! The core's fast-path decisions (issue 27), sans-IO: which sessions are
//! offered for installation (exactly their two translated directions), which
//! are not (SYN-only TCP, shaped subscribers, `[[subscriber]]` traffic is
//! refused by config, mode off), the program's counts taken back into the
//! counters and the idle timer, and a session's removal reported when it
//! expires — before its port can be given again.

mod common;

use common::{Lab, src, tcp, udp, udp6};
use sixfold_router::fastpath::{FastCounts, FastPathChange, Flow4, Flow6, Nat44, Routed6};
use sixfold_router::{Config, Interface, Verdict};
use std::net::SocketAddrV4;
use std::time::Duration;

const A: &str = "100.64.0.1";
const A_ID: u32 = 1;
const SERVER: &str = "198.51.100.1";

fn config(extra: &str) -> Config {
    Config::from_toml(&format!(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\"]\n\
         [[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.0.0/24\"\n\
         ipv6 = \"2001:db8:1::/48\"\n{extra}\n\
         [fastpath]\nmode = \"ebpf\"\ninside = \"access0\"\noutside = \"core0\"\n"
    ))
    .unwrap()
}

fn from_range(lab: &mut Lab, packet: &[u8]) -> (Verdict, Vec<u8>) {
    let sub = lab.router.classify_range(0, packet).unwrap();
    lab.out(sub, packet)
}

fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

fn flow(protocol: u8, s: SocketAddrV4, d: SocketAddrV4) -> Flow4 {
    Flow4 {
        protocol,
        src: s,
        dst: d,
    }
}

fn changes(lab: &mut Lab) -> Vec<FastPathChange> {
    std::iter::from_fn(|| lab.router.poll_fastpath_change()).collect()
}

#[test]
fn a_udp_session_is_offered_once_at_its_second_packet_with_both_directions() {
    let mut lab = Lab::with(config(""));
    let (v, out) = from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    // A flow of one packet is not worth a map update, its removal and a
    // reading of its counters every second.
    assert_eq!(changes(&mut lab), [], "after the first packet");
    from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    let public = src(&out);
    let inside = sa("100.64.0.1:5000");
    let remote = sa("198.51.100.1:53");
    assert_eq!(
        changes(&mut lab),
        [FastPathChange::Install(Nat44 {
            outbound: (flow(17, inside, remote), flow(17, public, remote)),
            inbound: (flow(17, remote, public), flow(17, remote, inside)),
            range: 0,
        })]
    );
    // Once: the next packets of the session (either way) offer nothing.
    from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    let (v, _) = lab.inb(&udp(
        SERVER,
        53,
        &public.ip().to_string(),
        public.port(),
        b"r",
    ));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(A_ID)));
    assert_eq!(changes(&mut lab), []);
}

#[test]
fn tcp_is_offered_only_once_established_in_both_directions() {
    let mut lab = Lab::with(config(""));
    let (_, syn) = from_range(&mut lab, &tcp(A, 6000, SERVER, 443, 0x02));
    assert_eq!(changes(&mut lab), [], "after the SYN alone");
    let public = src(&syn);
    // The SYN-ACK, forwarded by the router, makes the session established:
    // the handshake's last ACK may already take the fast path.
    lab.inb(&tcp(
        SERVER,
        443,
        &public.ip().to_string(),
        public.port(),
        0x12,
    ));
    let c = changes(&mut lab);
    assert_eq!(c.len(), 1, "after the SYN-ACK: {c:?}");
    assert!(matches!(c[0], FastPathChange::Install(n) if n.outbound.1.src == public));
}

#[test]
fn shaped_subscribers_and_mode_off_stay_on_the_slow_path() {
    let mut shaped = Lab::with(config("rate_mbps = 50"));
    from_range(&mut shaped, &udp(A, 5000, SERVER, 53, b"q"));
    assert_eq!(changes(&mut shaped), []);
    let mut wan = Lab::with(config("[wan]\nrate_mbps = 100"));
    from_range(&mut wan, &udp(A, 5000, SERVER, 53, b"q"));
    assert_eq!(changes(&mut wan), []);
    let text = "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\"]\n\
                [[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.0.0/24\"\n";
    let mut off = Lab::with(Config::from_toml(text).unwrap());
    from_range(&mut off, &udp(A, 5000, SERVER, 53, b"q"));
    assert_eq!(changes(&mut off), []);
}

#[test]
fn the_programs_counts_reach_the_counters_and_keep_the_session_alive() {
    let mut lab = Lab::with(config(""));
    from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    let (_, out) = from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    let FastPathChange::Install(nat) = changes(&mut lab)[0] else {
        panic!("no install")
    };
    let before = lab.router.snapshot();
    // 100 s later the program has forwarded 10 + 7 packets, the last one
    // just now: the session (UDP timeout 300 s by default) lives on past
    // its first expiry.
    lab.advance(100);
    let counts = FastCounts {
        outbound: (10, 10 * 29),
        inbound: (7, 7 * 29),
        idle: Some(Duration::ZERO),
    };
    let now = lab.instant();
    lab.router.fastpath_seen(&nat.outbound.0, counts, now);
    let after = lab.router.snapshot();
    assert_eq!(
        after.ipv4.outbound.udp.packets - before.ipv4.outbound.udp.packets,
        10
    );
    assert_eq!(
        after.ipv4.inbound.udp.bytes - before.ipv4.inbound.udp.bytes,
        7 * 29
    );
    let a = &after.subscribers[0];
    assert_eq!(a.traffic.ipv4_out.packets, 2 + 10);
    assert_eq!(a.traffic.ipv4_in.packets, 7);
    let timeout = lab.router.config().nat.timeouts.udp as u64;
    lab.advance(timeout - 50);
    assert_eq!(lab.router.snapshot().sessions, 1, "refreshed at second 100");
    assert_eq!(changes(&mut lab), []);
    // No packet since: it expires at 100 + timeout + 1 (the reading's slack),
    // and its removal is the next change.
    // (One second at a time: the wheel's work per tick is bounded.)
    for _ in 0..50 {
        lab.advance(1);
    }
    assert_eq!(lab.now.as_secs(), 100 + timeout);
    assert_eq!(lab.router.snapshot().sessions, 1, "the slack second");
    lab.advance(1);
    assert_eq!(lab.router.snapshot().sessions, 0);
    assert_eq!(
        changes(&mut lab),
        [FastPathChange::Remove(Nat44 { range: 0, ..nat })]
    );
    let _ = out;
}

#[test]
fn a_session_the_fast_path_forgot_is_offered_again() {
    let mut lab = Lab::with(config(""));
    from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    let FastPathChange::Install(nat) = changes(&mut lab)[0] else {
        panic!("no install")
    };
    let now = lab.instant();
    lab.router.fastpath_forget(&nat.outbound.0, now);
    from_range(&mut lab, &udp(A, 5000, SERVER, 53, b"q"));
    assert_eq!(changes(&mut lab), [FastPathChange::Install(nat)]);
}

#[test]
fn an_ipv6_flow_the_firewall_accepted_is_offered_and_removed_on_expiry() {
    let mut lab = Lab::with(config(""));
    let me = "2001:db8:1:1::5";
    let packet = udp6(me, 5000, "2001:db8:ffff::80", 53, b"q", 64);
    let sub = lab.router.classify_range(0, &packet).unwrap();
    let (v, out) = lab.out(sub, &packet);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(out[7], 63, "the hop limit");
    assert_eq!(changes(&mut lab), [], "after the first packet");
    lab.out(sub, &packet);
    let inside: std::net::SocketAddrV6 = "[2001:db8:1:1::5]:5000".parse().unwrap();
    let remote: std::net::SocketAddrV6 = "[2001:db8:ffff::80]:53".parse().unwrap();
    let routed = Routed6 {
        outbound: Flow6 {
            protocol: 17,
            src: inside,
            dst: remote,
        },
        inbound: Flow6 {
            protocol: 17,
            src: remote,
            dst: inside,
        },
        range: 0,
    };
    assert_eq!(changes(&mut lab), [FastPathChange::Install6(routed)]);
    let before = lab.router.snapshot();
    let now = lab.instant();
    let counts = FastCounts {
        outbound: (4, 4 * 49),
        inbound: (3, 3 * 49),
        idle: Some(Duration::ZERO),
    };
    lab.router.fastpath_seen6(&routed.outbound, counts, now);
    let after = lab.router.snapshot();
    assert_eq!(
        after.ipv6.outbound.udp.packets - before.ipv6.outbound.udp.packets,
        4
    );
    assert_eq!(
        after.ipv6.inbound.udp.bytes - before.ipv6.inbound.udp.bytes,
        3 * 49
    );
    assert_eq!(after.fastpath.packets, 7);
    // No more packets: the flow expires (one second at a time) and its
    // removal is reported.
    let timeout = lab.router.config().nat.timeouts.udp as u64;
    for _ in 0..timeout + 2 {
        lab.advance(1);
    }
    assert_eq!(lab.router.snapshot().ipv6_flows, 0);
    assert_eq!(
        changes(&mut lab),
        [FastPathChange::Remove6(Routed6 { range: 0, ..routed })]
    );
}
