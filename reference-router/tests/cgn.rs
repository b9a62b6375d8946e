//! Carrier-grade operations through `Router::process` with a fake clock: port
//! blocks (allocation, release, hold, exhaustion, interim re-logging),
//! deterministic NAT (RFC 7422), the NAT events they log for IPFIX (RFC 8158),
//! the README's RFC behaviours in all three allocation modes, two workers
//! steering replies to the worker that holds the mapping in every mode, and
//! flow accounting through NAT sessions and IPv6 firewall flows (records a
//! timeout exported and another flow reused are never counted into).

mod common;
use common::*;
use quickcheck::{QuickCheck, TestResult};
use sixfold_router::ipfix::{FlowEnd, NatRecord, Record};
use sixfold_router::stats::NatEvent;
use sixfold_router::{Config, Deterministic, Direction, DropReason, Interface, Router, Verdict};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;

const WAN_A: &str = "192.0.2.1";
const WAN_B: &str = "198.51.100.7";
const IPFIX: &str = "[ipfix]\ncollector = \"192.0.2.9:4739\"\n";

fn nat_records(router: &mut Router) -> Vec<NatRecord> {
    std::iter::from_fn(|| router.poll_ipfix())
        .filter_map(|r| match r {
            Record::Nat(n) => Some(n),
            Record::Flow(_) => None,
        })
        .collect()
}

fn of(records: &[NatRecord], event: NatEvent) -> Vec<NatRecord> {
    records
        .iter()
        .filter(|r| r.event == event)
        .copied()
        .collect()
}

/// Advances `secs` one second at a time, with enough idle ticks each second for
/// the bounded expiry to catch up.
fn walk(lab: &mut Lab, secs: u64) {
    for _ in 0..secs {
        lab.advance(1);
        for _ in 0..8 {
            lab.advance(0);
        }
    }
}

/// A lab in block mode (2 blocks of 128 at most, held 60 s, re-announced every
/// 30 s) whose SUB0 filled both blocks with UDP mappings and was refused the
/// next; the two blocks' allocation records.
fn two_full_blocks() -> (Lab, NatRecord, NatRecord) {
    let mut lab = Lab::new(&format!(
        "allocation = \"block\"\nmax_blocks = 2\nblock_timeout = 60\n{IPFIX}interim = 30\n"
    ));
    let ports: Vec<u16> = (0..128)
        .map(|i| {
            lab.out_ok(0, &udp(SUB0, 10_000 + i, WAN_A, 53, b"q"))
                .port()
        })
        .collect();
    let r = nat_records(&mut lab.router);
    assert_eq!(r.len(), 1, "{r:?}");
    let b1 = r[0];
    assert_eq!(b1.event, NatEvent::BlockAllocation);
    assert_eq!((b1.inside, b1.outside), (ip4(SUB0), ip4(PUBLIC)));
    assert_eq!((b1.time_ms, b1.protocol), (0, 0));
    assert_eq!((b1.first_port - 1024) % 128, 0, "aligned");
    assert_eq!(b1.last_port - b1.first_port, 127);
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (b1.first_port..=b1.last_port).collect::<Vec<u16>>());
    // RFC 6056: random inside the block (while it is half empty, at least).
    let steps = ports[..64].windows(2).filter(|w| w[1] == w[0] + 1).count();
    assert!(
        steps < 6,
        "{steps} of the first 63 mappings were sequential (RFC 6056)"
    );
    // The 129th mapping opens a second block; the 257th is over the quota.
    let p = lab.out_ok(0, &udp(SUB0, 20_000, WAN_A, 53, b"q")).port();
    let b2 = nat_records(&mut lab.router)[0];
    assert_eq!(b2.event, NatEvent::BlockAllocation);
    assert!((b2.first_port..=b2.last_port).contains(&p));
    assert_ne!(b1.first_port, b2.first_port);
    for i in 1..128 {
        lab.out_ok(0, &udp(SUB0, 20_000 + i, WAN_A, 53, b"q"));
    }
    let (v, reply) = lab.out(0, &udp(SUB0, 30_000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    assert_eq!(
        &reply[20..22],
        &[3, 13],
        "RFC 6888 REQ-4/11: refused, nothing evicted"
    );
    let r = nat_records(&mut lab.router);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].event, r[0].inside, r[0].protocol),
        (NatEvent::QuotaExceeded, ip4(SUB0), 17)
    );
    let s = lab.router.snapshot();
    assert_eq!((s.subscribers[0].blocks, s.ipfix.blocks), (2, 2));
    assert_eq!(s.drops[DropReason::PortLimit], 1);
    // TCP shares the blocks: same range, its own port space.
    let t = lab.out_ok(0, &tcp(SUB0, 40_000, WAN_A, 80, SYN)).port();
    assert!(
        (b1.first_port..=b1.last_port).contains(&t) || (b2.first_port..=b2.last_port).contains(&t)
    );
    (lab, b1, b2)
}

#[test]
fn blocks_are_allocated_on_demand_aligned_random_and_quota_bound() {
    let (lab, b1, b2) = two_full_blocks();
    let s = lab.router.snapshot();
    assert_eq!((s.subscribers[0].blocks, s.ipfix.blocks), (2, 2));
    assert_eq!(s.ipfix.nat_events[NatEvent::BlockAllocation], 2);
    assert_ne!(b1.first_port, b2.first_port);
}

#[test]
fn blocks_are_re_logged_released_at_their_last_session_and_held() {
    let (mut lab, b1, b2) = two_full_blocks();
    // Interim: both blocks again at 30 s, 60 s, ...
    walk(&mut lab, 30);
    let r = nat_records(&mut lab.router);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r.iter()
            .all(|x| x.event == NatEvent::BlockAllocation && x.time_ms == 30_000)
    );
    // Every session idles out at 300 s (TCP transitory at 240): both blocks are
    // released then, and held 60 s.
    walk(&mut lab, 271);
    let r = nat_records(&mut lab.router);
    let released = of(&r, NatEvent::BlockDeallocation);
    let mut ranges: Vec<(u16, u16)> = released
        .iter()
        .map(|x| (x.first_port, x.last_port))
        .collect();
    ranges.sort_unstable();
    let mut want = vec![(b1.first_port, b1.last_port), (b2.first_port, b2.last_port)];
    want.sort_unstable();
    assert_eq!(ranges, want);
    assert!(
        released
            .iter()
            .all(|x| x.time_ms == 300_000 && x.inside == ip4(SUB0))
    );
    // Re-logged at 60, 90, ..., 300 s (at 300 s the interim comes before expiry).
    assert_eq!(of(&r, NatEvent::BlockAllocation).len(), 18);
    assert_eq!(lab.router.snapshot().ipfix.blocks, 0);
    // Held: a new mapping gets a third block.
    let p = lab.out_ok(0, &udp(SUB0, 10_000, WAN_A, 53, b"q")).port();
    assert!(
        !(b1.first_port..=b1.last_port).contains(&p)
            && !(b2.first_port..=b2.last_port).contains(&p)
    );
}

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A configuration with `n` subscribers 100.64.0.1, .2, ... and `nat` lines.
fn subscribers(n: u16, nat: &str) -> Config {
    let mut text = format!("[router]\nra = false\n[nat]\n{nat}\n");
    for k in 1..=n {
        text += &format!("[[subscriber]]\nname = \"s{k}\"\nipv4 = [\"100.64.0.{k}\"]\n");
    }
    Config::from_toml(&text).unwrap()
}

#[test]
fn an_address_out_of_blocks_refuses_until_a_held_block_is_free_again() {
    // 64512 / 16128: four blocks on the one address; one each for four subscribers.
    let config = subscribers(
        5,
        &format!(
            "pool = [\"{PUBLIC}\"]\nallocation = \"block\"\nblock_size = 16128\nmax_blocks = 1\nblock_timeout = 60\n{IPFIX}"
        ),
    );
    let mut lab = Lab::with(config);
    let mut first = Vec::new();
    for k in 0..4u32 {
        let from = format!("100.64.0.{}", k + 1);
        lab.out_ok(k, &udp(&from, 5000, WAN_A, 53, b"q"));
        first.push(nat_records(&mut lab.router)[0].first_port);
    }
    first.sort_unstable();
    assert_eq!(first, [1024, 17152, 33280, 49408]);
    let (v, _) = lab.out(4, &udp("100.64.0.5", 5000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(4)));
    let r = nat_records(&mut lab.router);
    // It has no address yet, and no address has room (natEvent 3).
    assert_eq!(
        (r[0].event, r[0].outside, r[0].inside),
        (
            NatEvent::AddressesExhausted,
            Ipv4Addr::UNSPECIFIED,
            ip4("100.64.0.5")
        )
    );
    assert_eq!(lab.router.snapshot().drops[DropReason::PoolExhausted], 1);
    // A second refusal in the same second is not logged again.
    lab.out(4, &udp("100.64.0.5", 5001, WAN_A, 53, b"q"));
    assert!(nat_records(&mut lab.router).is_empty());
    // Subscriber 1's only session ends at 300 s: its block is held until 360 s.
    let mine = lab
        .out_ok(0, &udp("100.64.0.1", 5000, WAN_A, 53, b"q"))
        .port();
    lab.out_ok(1, &udp("100.64.0.2", 5000, WAN_A, 53, b"q"));
    lab.out_ok(2, &udp("100.64.0.3", 5000, WAN_A, 53, b"q"));
    lab.out_ok(3, &udp("100.64.0.4", 5000, WAN_A, 53, b"q"));
    lab.advance(200);
    for k in 1..4u32 {
        lab.out_ok(
            k,
            &udp(&format!("100.64.0.{}", k + 1), 5000, WAN_A, 53, b"q"),
        );
    }
    walk(&mut lab, 101);
    let r = nat_records(&mut lab.router);
    let gone = of(&r, NatEvent::BlockDeallocation);
    assert_eq!(gone.len(), 1);
    assert!((gone[0].first_port..=gone[0].last_port).contains(&mine));
    let (v, _) = lab.out(4, &udp("100.64.0.5", 5000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(4)), "held");
    walk(&mut lab, 59);
    let p = lab
        .out_ok(4, &udp("100.64.0.5", 5000, WAN_A, 53, b"q"))
        .port();
    assert!((gone[0].first_port..=gone[0].last_port).contains(&p));
    let got = of(&nat_records(&mut lab.router), NatEvent::BlockAllocation);
    assert_eq!(
        (got[0].inside, got[0].first_port),
        (ip4("100.64.0.5"), gone[0].first_port)
    );
}

#[test]
fn deterministic_ports_follow_the_arithmetic_and_nothing_is_logged() {
    let config = config(&format!(
        "pool = [\"192.0.2.200\", \"{PUBLIC}\"]\nallocation = \"deterministic\"\nblock_size = 2016\n{IPFIX}sessions = false\n"
    ));
    let d = Deterministic::new(&config);
    let mut lab = Lab::with(config);
    for (sub, from) in [(0u32, SUB0), (1, SUB1)] {
        let range = d.range_of(ip4(from)).unwrap();
        assert_eq!(range.subscriber, sub);
        for i in 0..300u16 {
            let e = lab.out_ok(sub, &udp(from, 10_000 + i, WAN_A, 53, b"q"));
            assert_eq!(*e.ip(), range.public);
            assert!((range.first..=range.last).contains(&e.port()), "{e}");
            assert_eq!(d.owner_of(*e.ip(), e.port()).unwrap().inside, ip4(from));
        }
        let e = lab.out_ok(sub, &echo(from, WAN_A, 7, false));
        assert!((range.first..=range.last).contains(&e.port()));
    }
    assert!(nat_records(&mut lab.router).is_empty(), "RFC 7422: no log");
    // The range is the quota: 2016 UDP mappings, the next refused (and logged).
    for i in 300..2016u16 {
        lab.out_ok(0, &udp(SUB0, 10_000 + i, WAN_A, 53, b"q"));
    }
    let (v, _) = lab.out(0, &udp(SUB0, 20_000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(0)));
    let r = nat_records(&mut lab.router);
    assert_eq!((r.len(), r[0].event), (1, NatEvent::QuotaExceeded));
}

#[test]
fn session_events_only_when_asked() {
    let mut lab = Lab::new(&format!("{IPFIX}sessions = true\n"));
    let e = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let r = nat_records(&mut lab.router);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].event, NatEvent::SessionCreate);
    assert_eq!(
        (r[0].inside, r[0].inside_port, r[0].protocol),
        (ip4(SUB0), 5000, 17)
    );
    assert_eq!((r[0].outside, r[0].outside_port), (*e.ip(), e.port()));
    walk(&mut lab, 301);
    let r = nat_records(&mut lab.router);
    assert_eq!(
        (r.len(), r[0].event, r[0].time_ms),
        (1, NatEvent::SessionDelete, 300_000)
    );
    let mut quiet = Lab::new(IPFIX);
    quiet.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    assert!(nat_records(&mut quiet.router).is_empty());
}

#[test]
fn bib_events_once_per_mapping_only_when_asked() {
    let mut lab = Lab::new(&format!(
        "allocation = \"deterministic\"\nblock_size = 2016\n{IPFIX}mappings = true\n"
    ));
    // Two sessions of one inside endpoint (EIM): one mapping, one natEvent 8.
    let e = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    lab.advance(100);
    assert_eq!(e, lab.out_ok(0, &udp(SUB0, 5000, WAN_B, 53, b"q")));
    let r = nat_records(&mut lab.router);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].event, NatEvent::BibCreate);
    assert_eq!(
        (r[0].inside, r[0].inside_port, r[0].protocol),
        (ip4(SUB0), 5000, 17)
    );
    assert_eq!((r[0].outside, r[0].outside_port), (*e.ip(), e.port()));
    // The first session ends at 300 s: the mapping lives on.
    walk(&mut lab, 201);
    assert!(nat_records(&mut lab.router).is_empty());
    // The second at 400 s: natEvent 9, with the same endpoints.
    walk(&mut lab, 100);
    let r = nat_records(&mut lab.router);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (
            r[0].event,
            r[0].time_ms,
            r[0].outside_port,
            r[0].inside_port
        ),
        (NatEvent::BibDelete, 400_000, e.port(), 5000)
    );
    let mut quiet = Lab::new(&format!("{IPFIX}sessions = true\n"));
    quiet.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let r = nat_records(&mut quiet.router);
    assert!(
        r.iter().all(|r| r.event == NatEvent::SessionCreate),
        "{r:?}"
    );
    let e = Config::from_toml(&format!(
        "[nat]\nmapping = \"adm\"\n{IPFIX}mappings = true\n"
    ))
    .unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("ipfix.mappings", Some(5)));
}

const MODES: [&str; 3] = [
    "allocation = \"dynamic\"",
    "allocation = \"block\"",
    "allocation = \"deterministic\"\nblock_size = 4096",
];

#[test]
fn every_mode_keeps_eim_filtering_hairpin_paired_pooling_and_timers() {
    for mode in MODES {
        let pool = "pool = [\"192.0.2.200\", \"198.51.100.64/30\", \"203.0.113.9\"]";
        let mut lab = Lab::new(&format!("{pool}\n{mode}\n"));
        // RFC 4787 REQ-1: one external endpoint for every destination.
        let a = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"x"));
        assert_eq!(
            a,
            lab.out_ok(0, &udp(SUB0, 5000, WAN_B, 53, b"x")),
            "{mode}"
        );
        // REQ-2, RFC 6888 REQ-2: paired pooling for every protocol.
        let t = lab.out_ok(0, &tcp(SUB0, 6000, WAN_A, 80, SYN));
        let i = lab.out_ok(0, &echo(SUB0, WAN_B, 9, false));
        assert_eq!((t.ip(), i.ip()), (a.ip(), a.ip()), "{mode}");
        // REQ-8: APDF by default.
        let (h, p) = (a.ip().to_string(), a.port());
        let (v, _) = lab.inb(&udp(WAN_A, 54, &h, p, b"r"));
        assert_eq!(v, Verdict::Drop(DropReason::Filtered), "{mode}");
        let (v, back) = lab.inb(&udp(WAN_A, 53, &h, p, b"r"));
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)), "{mode}");
        assert_eq!(dst(&back), sa(&format!("{SUB0}:5000")));
        // REQ-9: hairpin, with the sender's external endpoint as the source.
        let e1 = lab.out_ok(1, &udp(SUB1, 7000, WAN_A, 3478, b"s"));
        // Sub0 sends to sub1's endpoint first (sub1's APDF filter drops that),
        // which lets sub1's packets in through sub0's mapping.
        lab.out(0, &udp(SUB0, 5000, &e1.ip().to_string(), e1.port(), b"h"));
        let (v, hp) = lab.out(1, &udp(SUB1, 7000, &h, p, b"h"));
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)), "{mode}");
        assert_eq!(src(&hp), e1, "{mode}");
        // REQ-5: the UDP mapping lives 300 s without traffic, not 301.
        lab.advance(299);
        let (v, _) = lab.inb(&udp(WAN_A, 53, &h, p, b"r"));
        assert_eq!(v, Verdict::Forward(Interface::Subscriber(0)), "{mode}");
        walk(&mut lab, 301);
        let (v, _) = lab.inb(&udp(WAN_A, 53, &h, p, b"r"));
        assert_eq!(v, Verdict::Drop(DropReason::NoMapping), "{mode}");
    }
}

#[test]
fn two_workers_steer_every_reply_to_the_worker_that_holds_its_mapping() {
    for mode in MODES {
        let config = subscribers(
            4,
            &format!("pool = [\"{PUBLIC}\", \"192.0.2.200\"]\n{mode}\n"),
        );
        let now = Instant::now();
        let mut workers = Router::workers(config, 9, now, 2).unwrap();
        for sub in 0..4u32 {
            let owner = (sub % 2) as usize;
            let from = format!("100.64.0.{}", sub + 1);
            for port in [5000u16, 80] {
                let mut b =
                    sixfold_router::PacketBuf::from_packet(&udp(&from, port, WAN_A, 53, b"q"));
                let v = workers[owner].process(Direction::Outbound(sub), &mut b, now);
                assert_eq!(v, Verdict::Forward(Interface::Wan), "{mode}");
                let e = src(b.packet());
                let reply = udp(WAN_A, 53, &e.ip().to_string(), e.port(), b"r");
                let error = icmp_error(WAN_A, &e.ip().to_string(), 3, 3, b.packet());
                for w in &workers {
                    assert_eq!(
                        usize::from(w.steer(Direction::Inbound, &reply)),
                        owner,
                        "{mode} {e}"
                    );
                    assert_eq!(
                        usize::from(w.steer(Direction::Inbound, &error)),
                        owner,
                        "{mode} {e}"
                    );
                }
                let mut b = sixfold_router::PacketBuf::from_packet(&reply);
                let v = workers[owner].process(Direction::Inbound, &mut b, now);
                assert_eq!(v, Verdict::Forward(Interface::Subscriber(sub)), "{mode}");
            }
        }
    }
}

#[test]
fn no_two_inside_addresses_ever_hold_overlapping_blocks() {
    // Random flows from four subscribers and random waits: at every step the
    // live blocks are disjoint, and each mapping's port lies in a block of its
    // own inside address.
    fn law(steps: Vec<(u8, u16, u8)>) -> TestResult {
        let config = subscribers(
            4,
            "pool = [\"203.0.113.1\", \"203.0.113.2\"]\nallocation = \"block\"\nblock_size = 64\nmax_blocks = 3\nblock_timeout = 10\n[nat.timeouts]\nudp = 120\n",
        );
        let mut lab = Lab::with(config);
        for (sub, port, wait) in steps.into_iter().take(150) {
            let sub = u32::from(sub % 4);
            if wait > 200 {
                lab.advance(u64::from(wait - 200) * 4);
            }
            let from = format!("100.64.0.{}", sub + 1);
            let (v, p) = lab.out(sub, &udp(&from, 1024 + port % 400, WAN_A, 53, b"q"));
            let blocks = lab.router.port_blocks();
            let mut ports = HashSet::new();
            for &(_, public, first, last) in &blocks {
                if last - first != 63 || !(first..=last).all(|x| ports.insert((public, x))) {
                    return TestResult::failed();
                }
            }
            if v == Verdict::Forward(Interface::Wan) {
                let e: SocketAddrV4 = src(&p);
                let mine = blocks.iter().any(|&(inside, public, first, last)| {
                    inside == ip4(&from) && public == *e.ip() && (first..=last).contains(&e.port())
                });
                if !mine {
                    return TestResult::failed();
                }
            }
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(60)
        .quickcheck(law as fn(Vec<(u8, u16, u8)>) -> TestResult);
}

/// A flow record as (source, destination, protocol, packets, bytes, first and
/// last millisecond, why exported).
type Flow = (String, String, u8, u64, u64, u64, u64, FlowEnd);

/// The flow records waiting for the exporter, sorted.
fn flow_records(router: &mut Router) -> Vec<Flow> {
    let mut flows: Vec<Flow> = std::iter::from_fn(|| router.poll_ipfix())
        .filter_map(|r| match r {
            Record::Flow(f) => Some((
                SocketAddr::new(f.src, f.src_port).to_string(),
                SocketAddr::new(f.dst, f.dst_port).to_string(),
                f.protocol,
                f.packets,
                f.bytes,
                f.start_ms,
                f.end_ms,
                f.end,
            )),
            Record::Nat(_) => None,
        })
        .collect();
    flows.sort_unstable_by(|a, b| (&a.0, &a.1, a.5).cmp(&(&b.0, &b.1, b.5)));
    flows
}

fn flow(src: &str, dst: &str, (packets, bytes): (u64, u64), ms: (u64, u64), end: FlowEnd) -> Flow {
    (src.into(), dst.into(), 17, packets, bytes, ms.0, ms.1, end)
}

#[test]
fn accounting_counts_sessions_and_firewall_flows_and_never_into_a_reused_record() {
    use FlowEnd::{Forced, Idle};
    let mut lab = Lab::new(&format!("{IPFIX}accounting = true\nidle_timeout = 10\n"));
    // IPv4 through a NAT session: 29-byte queries, 30-byte replies.
    let public = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let (h, p) = (public.ip().to_string(), public.port());
    let reply = udp(WAN_A, 53, &h, p, b"rr");
    assert_eq!(
        lab.inb(&reply).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    // IPv6 through a firewall flow: 49-byte queries, 50-byte replies.
    let (in6, wan6) = ("2001:db8:1:1::2", "2001:db8:ffff::80");
    let query6 = udp6(in6, 6000, wan6, 53, b"q", 64);
    let reply6 = udp6(wan6, 53, in6, 6000, b"rr", 64);
    assert_eq!(lab.out(0, &query6).0, Verdict::Forward(Interface::Wan));
    lab.advance(5);
    assert_eq!(
        lab.inb(&reply).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    assert_eq!(
        lab.inb(&reply6).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    assert_eq!(
        lab.inb(&reply6).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    // Idle 10 s: every record exported; the session and the firewall flow live on.
    walk(&mut lab, 11);
    let (a, w) = (&format!("{SUB0}:5000"), &format!("{WAN_A}:53"));
    let (a6, w6) = (&format!("[{in6}]:6000"), &format!("[{wan6}]:53"));
    assert_eq!(
        flow_records(&mut lab.router),
        [
            flow(a, w, (2, 58), (0, 0), Idle),
            flow(w, a, (2, 60), (0, 5000), Idle),
            flow(a6, w6, (1, 49), (0, 0), Idle),
            flow(w6, a6, (2, 100), (5000, 5000), Idle),
        ]
    );
    // New flows take the freed records first; then the old flows' places
    // point at records of other flows, or at freed ones: each counts anew.
    let b = &format!("{SUB0}:5001");
    lab.out_ok(0, &udp(SUB0, 5001, WAN_A, 53, b"q"));
    assert_eq!(
        lab.out(0, &udp6(in6, 6001, wan6, 53, b"q", 64)).0,
        Verdict::Forward(Interface::Wan)
    );
    assert_eq!(
        lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q")),
        public,
        "same session"
    );
    assert_eq!(
        lab.inb(&reply).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    assert_eq!(lab.out(0, &query6).0, Verdict::Forward(Interface::Wan));
    assert_eq!(
        lab.inb(&reply6).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    lab.router.flush_ipfix();
    let b6 = &format!("[{in6}]:6001");
    let now = (16_000, 16_000);
    assert_eq!(
        flow_records(&mut lab.router),
        [
            flow(a, w, (1, 29), now, Forced),
            flow(b, w, (1, 29), now, Forced),
            flow(w, a, (1, 30), now, Forced),
            flow(a6, w6, (1, 49), now, Forced),
            flow(b6, w6, (1, 49), now, Forced),
            flow(w6, a6, (1, 50), now, Forced),
        ]
    );
}

#[test]
fn accounting_counts_a_hairpin_for_the_sender_and_the_receiver() {
    let mut lab = Lab::new(&format!("{IPFIX}accounting = true\n"));
    let public = lab.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let e1 = lab.out_ok(1, &udp(SUB1, 7000, WAN_A, 3478, b"q"));
    // Sub1's APDF filter drops sub0's packet to it (not accounted), which lets
    // sub1's packets in through sub0's mapping.
    let (v, _) = lab.out(0, &udp(SUB0, 5000, &e1.ip().to_string(), e1.port(), b"h"));
    assert_eq!(v, Verdict::Drop(DropReason::Filtered));
    let hairpin = udp(SUB1, 7000, &public.ip().to_string(), public.port(), b"hh");
    for _ in 0..2 {
        assert_eq!(
            lab.out(1, &hairpin).0,
            Verdict::Forward(Interface::Subscriber(0))
        );
    }
    lab.router.flush_ipfix();
    let (a, b) = (&format!("{SUB0}:5000"), &format!("{SUB1}:7000"));
    let forced = |src: &str, dst: &str, counts| flow(src, dst, counts, (0, 0), FlowEnd::Forced);
    assert_eq!(
        flow_records(&mut lab.router),
        [
            forced(a, &format!("{WAN_A}:53"), (1, 29)),
            forced(b, &format!("{WAN_A}:3478"), (1, 29)),
            // The sender's flow (its session's) and the receiver's (read from
            // the packet as it leaves).
            forced(b, &public.to_string(), (2, 60)),
            forced(&e1.to_string(), a, (2, 60)),
        ]
    );
}
