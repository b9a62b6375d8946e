//! The handover state ([`sixfold_router::state`]) through the sans-IO core:
//! a router restored from a saved one (`save_state` → bytes → a router built
//! from the same configuration, `restore_state`) decides every later packet
//! as the saved one does — verdicts, bytes out, IPFIX records, counters —
//! across NAT44 in port blocks with logging and accounting, the IPv6 firewall,
//! NAT64, expiry and block release. The document's header is exact bytes, and
//! no input, truncated, foreign or random, makes decoding panic.

mod common;
use common::nat64::*;
use common::*;
use quickcheck::{QuickCheck, TestResult};
use sixfold_router::state::{Common, Document, StateError, VERSION};
use sixfold_router::{Config, Direction, PacketBuf, Router};
use std::time::{Duration, Instant};

const WAN: &str = "192.0.2.1";
const IPFIX: &str = "[ipfix]\ncollector = \"192.0.2.9:4739\"\nsessions = true\naccounting = true\n";

/// A packet step: from a subscriber, from the WAN, or time passing.
#[derive(Clone, Debug)]
enum Step {
    Out(u32, Vec<u8>),
    In(Vec<u8>),
    Wait(u64),
}

/// Runs `steps` through `router` from `now` on: every verdict with the bytes
/// it left, every packet the router sent on its own, every IPFIX record, and
/// the counters after each step (time since the epoch left out).
fn run(router: &mut Router, t0: Instant, now: &mut Duration, steps: &[Step]) -> Vec<String> {
    let mut seen = Vec::new();
    for s in steps {
        let mut buf = PacketBuf::new();
        let packet = match s {
            Step::Out(sub, p) => Some((Direction::Outbound(*sub), p)),
            Step::In(p) => Some((Direction::Inbound, p)),
            Step::Wait(secs) => {
                for _ in 0..*secs {
                    *now += Duration::from_secs(1);
                    router.tick(t0 + *now);
                    router.tick(t0 + *now);
                }
                None
            }
        };
        if let Some((dir, p)) = packet {
            buf = PacketBuf::from_packet(p);
            let v = router.process(dir, &mut buf, t0 + *now);
            seen.push(format!("{v:?} {:02x?}", buf.packet()));
        }
        while let Some(i) = router.poll_transmit(&mut buf) {
            seen.push(format!("tx {i:?} {:02x?}", buf.packet()));
        }
        while let Some(r) = router.poll_ipfix() {
            seen.push(format!("ipfix {r:?}"));
        }
        let s = router.snapshot();
        seen.push(format!(
            "sessions {} flows {} drops {:?} v4 {:?} v6 {:?} ipfix {:?} shapers {:?}",
            s.sessions, s.ipv6_flows, s.drops, s.ipv4, s.ipv6, s.ipfix, s.shapers
        ));
    }
    seen
}

/// Runs `before` on a router of `config`, saves it, restores the bytes into a
/// fresh router of the same configuration, then runs `after` through both: the
/// two must see the same. Returns the saved section's size.
fn law(config: Config, before: &[Step], after: &[Step]) -> usize {
    let t0 = Instant::now();
    let mut now = Duration::ZERO;
    let mut a = Router::new(config.clone(), 42, t0).unwrap();
    run(&mut a, t0, &mut now, before);
    let bytes = a.save_state();
    let shapers = a.save_shapers(t0 + now);
    let doc = Document {
        common: Common::default(),
        workers: vec![bytes.clone()],
    };
    let read = Document::decode(&doc.encode()).unwrap();
    let mut b = Router::new(config, 7, t0).unwrap();
    b.restore_state(&read.workers[0], 0).unwrap();
    Router::relink(std::slice::from_mut(&mut b));
    b.restore_shapers(&shapers, t0 + now).unwrap();
    let mut later = now;
    let seen_a = run(&mut a, t0, &mut now, after);
    let seen_b = run(&mut b, t0, &mut later, after);
    for (k, (x, y)) in seen_a.iter().zip(&seen_b).enumerate() {
        assert_eq!(x, y, "step output {k} differs after the restore");
    }
    assert_eq!(seen_a.len(), seen_b.len());
    bytes.len()
}

fn nat44_steps() -> (Vec<Step>, Vec<Step>) {
    let mut before = vec![];
    for i in 0..40 {
        before.push(Step::Out(0, udp(SUB0, 10_000 + i, WAN, 53, b"q")));
    }
    before.push(Step::Out(1, tcp(SUB1, 40_000, WAN, 80, SYN)));
    before.push(Step::Out(0, echo(SUB0, WAN, 77, false)));
    before.push(Step::Out(
        0,
        udp6("2001:db8:1:1::5", 5555, "2001:db8:ffff::9", 443, b"v6", 64),
    ));
    before.push(Step::Wait(3));
    // The answers need the mappings the first router made: the restored one
    // must know them. The external ports come from the first run.
    let mut after = vec![];
    for i in 0..40 {
        after.push(Step::Out(0, udp(SUB0, 10_000 + i, WAN, 53, b"again")));
    }
    after.push(Step::Out(0, udp(SUB0, 20_000, WAN, 53, b"new")));
    after.push(Step::Out(1, tcp(SUB1, 40_000, WAN, 80, ACK)));
    after.push(Step::Out(
        0,
        udp6("2001:db8:1:1::5", 5555, "2001:db8:ffff::9", 443, b"v6", 64),
    ));
    after.push(Step::In(udp6(
        "2001:db8:ffff::9",
        443,
        "2001:db8:1:1::5",
        5555,
        b"answer",
        64,
    )));
    after.push(Step::In(udp6(
        "2001:db8:ffff::9",
        443,
        "2001:db8:1:1::5",
        5556,
        b"unasked",
        64,
    )));
    // Past every UDP timeout and the block hold: sessions end, blocks go,
    // both logged the same.
    after.push(Step::Wait(400));
    after.push(Step::Out(0, udp(SUB0, 30_000, WAN, 53, b"later")));
    (before, after)
}

/// The law for NAT44 in blocks (logged, interim, accounted), TCP, ICMP, the
/// IPv6 firewall, expiry and release: a restored router answers the inbound
/// packets to the saved router's mappings, keeps its ports and blocks, and
/// ends and logs them at the same second.
#[test]
fn a_restored_router_decides_as_the_saved_one_nat44_blocks_firewall() {
    let (before, mut after) = nat44_steps();
    // Inbound answers to the first run's external ports, found by asking a
    // twin that ran the same steps (same seed, same configuration).
    let config = config(&format!(
        "allocation = \"block\"\nmax_blocks = 4\nblock_timeout = 60\n{IPFIX}interim = 30\n"
    ));
    let t0 = Instant::now();
    let mut twin = Router::new(config.clone(), 42, t0).unwrap();
    let mut now = Duration::ZERO;
    let out = run(&mut twin, t0, &mut now, &before);
    assert!(out.iter().any(|l| l.contains("Forward(Wan)")));
    let ext = twin
        .mapping_of(
            sixfold_rewrite::IpProtocol::Udp,
            sa(&format!("{SUB0}:10005")),
        )
        .expect("a mapping");
    after.insert(
        0,
        Step::In(udp(WAN, 53, &ext.ip().to_string(), ext.port(), b"answer")),
    );
    let size = law(config, &before, &after);
    assert!(size > 1000, "a state with 40 sessions is {size} bytes");
}

/// The law for a shaped uplink (1 Mbit/s): packets waiting in the shaper at
/// the save leave the restored router at the same times, and its counts go on.
#[test]
fn a_restored_router_decides_as_the_saved_one_shaped() {
    let mut config = config("");
    config.wan.rate_mbps = Some(1);
    let burst: Vec<Step> = (0..30)
        .map(|i| Step::Out(0, udp(SUB0, 7000 + i, WAN, 53, &[0x55; 1000])))
        .collect();
    let mut after = vec![Step::Out(0, udp(SUB0, 7100, WAN, 53, &[0x55; 1000]))];
    after.extend((0..5).map(|_| Step::Wait(1)));
    law(config, &burst, &after);
}

/// The law for NAT64: sessions, aliases and the answers to them.
#[test]
fn a_restored_router_decides_as_the_saved_one_nat64() {
    let before = vec![
        Step::Out(0, udp6_to(V6A, 6000, SERVER, 53, 64)),
        Step::Out(1, tcp6(V6B, 6001, &embed(SERVER), 80, true)),
        Step::Out(0, echo6(V6A, &embed(SERVER), 9)),
        Step::Wait(2),
    ];
    let after = vec![
        Step::Out(0, udp6_to(V6A, 6000, SERVER, 53, 64)),
        Step::Out(0, udp6_to(V6A, 6002, SERVER, 53, 64)),
        Step::Out(1, tcp6(V6B, 6001, &embed(SERVER), 80, false)),
        Step::Wait(400),
        Step::Out(0, udp6_to(V6A, 6000, SERVER, 53, 64)),
    ];
    law(nat64_config(IPFIX), &before, &after);
}

/// The header, byte by byte: magic, version, section count, each section's
/// length and bytes.
#[test]
fn the_header_is_these_bytes() {
    let doc = Document {
        common: Common::default(),
        workers: vec![vec![0xaa, 0xbb]],
    };
    let bytes = doc.encode();
    let mut want = b"sixfold state\r\n\0".to_vec();
    want.extend_from_slice(&[0, 0, 0, 1]); // version 1
    want.extend_from_slice(&[0, 0, 0, 2]); // 2 sections
    // Common::default() in postcard: six fields, each 0 or None or empty.
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0]);
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb]);
    assert_eq!(bytes, want);
    assert_eq!(VERSION, 1);
    assert_eq!(Document::decode(&bytes).unwrap(), doc);
}

/// Another version is refused, saying both; so is something else entirely.
#[test]
fn another_version_or_no_state_is_refused_with_what_it_is() {
    let mut bytes = Document {
        common: Common::default(),
        workers: vec![],
    }
    .encode();
    bytes[19] = 2;
    let e = Document::decode(&bytes).unwrap_err();
    assert_eq!(
        e,
        StateError::Version {
            found: 2,
            supported: 1
        }
    );
    assert_eq!(
        e.to_string(),
        "state format version 2, this binary reads version 1 only"
    );
    assert_eq!(
        Document::decode(b"[router]\nworkers = 2\n...........").unwrap_err(),
        StateError::BadMagic
    );
    let mut t0 = Router::new(config(""), 1, Instant::now()).unwrap();
    let e = t0.restore_state(&[1, 2, 3], 0).unwrap_err();
    assert!(e.to_string().starts_with("state section 1: "), "{e}");
}

/// Law: every strict prefix of a document is refused (truncated), and so is a
/// document with bytes after its end; no byte string makes `decode` or
/// `restore_state` panic.
#[test]
fn truncated_or_garbage_state_is_an_error_never_a_panic() {
    let t0 = Instant::now();
    let mut a = Router::new(config(IPFIX), 42, t0).unwrap();
    let mut now = Duration::ZERO;
    run(
        &mut a,
        t0,
        &mut now,
        &[
            Step::Out(0, udp(SUB0, 1000, WAN, 53, b"q")),
            Step::Out(1, udp(SUB1, 1001, WAN, 53, b"q")),
        ],
    );
    let doc = Document {
        common: Common {
            upgrades: 3,
            ..Common::default()
        },
        workers: vec![a.save_state()],
    }
    .encode();
    for cut in 0..doc.len() {
        assert!(Document::decode(&doc[..cut]).is_err(), "prefix of {cut}");
    }
    let mut longer = doc.clone();
    longer.push(0);
    assert_eq!(
        Document::decode(&longer).unwrap_err(),
        StateError::Trailing(1)
    );
    let section = Document::decode(&doc).unwrap().workers.remove(0);
    let mut b = Router::new(config(IPFIX), 42, t0).unwrap();
    for cut in (0..section.len()).step_by(7) {
        assert!(
            b.restore_state(&section[..cut], 0).is_err(),
            "section cut at {cut}"
        );
    }

    thread_local! {
        static SAVED: Vec<u8> = Document {
            common: Common::default(),
            workers: vec![Router::new(config(""), 1, Instant::now()).unwrap().save_state()],
        }
        .encode();
        static ROUTER: std::cell::RefCell<Router> =
            std::cell::RefCell::new(Router::new(config(""), 1, Instant::now()).unwrap());
    }
    fn no_panic(bytes: Vec<u8>, flips: Vec<(usize, u8)>) -> TestResult {
        let _ = Document::decode(&bytes);
        ROUTER.with_borrow_mut(|b| {
            let _ = b.restore_state(&bytes, 0);
        });
        // A real document with bytes changed: decoded or refused, never a panic.
        let mut doc = SAVED.with(Clone::clone);
        for (at, x) in flips {
            let n = doc.len();
            doc[at % n] ^= x;
        }
        if let Ok(d) = Document::decode(&doc) {
            ROUTER.with_borrow_mut(|b| {
                for w in &d.workers {
                    let _ = b.restore_state(w, 0);
                }
            });
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(no_panic as fn(Vec<u8>, Vec<(usize, u8)>) -> TestResult);
}
