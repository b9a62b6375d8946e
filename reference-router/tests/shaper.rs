//! Egress shapers through `Router::process`: forwarded packets wait in the link's
//! shaper (`Verdict::Queued`), leave through `poll_transmit` at the configured rate
//! with IPv6 first, and a full queue drops at its tail with a counted reason.

mod common;
use common::*;
use sixfold_router::{Config, DropReason, Interface, Verdict};
use std::time::Duration;

const HOST0: &str = "2001:db8:1:1::2";
const SERVER6: &str = "2001:db8:ffff::80";

fn shaped(extra: &str) -> Config {
    let mut c = config(extra);
    c.wan.rate_mbps = Some(8); // 1,000,000 bytes/s, a 4000-byte bucket
    c
}

#[test]
fn forwarded_packets_leave_at_the_line_rate_ipv6_first() {
    let mut lab = Lab::with(shaped(""));
    let v4 = udp(SUB0, 5000, "192.0.2.80", 53, &[4u8; 972]); // 1000 bytes
    let v6 = udp6(HOST0, 5000, SERVER6, 53, &[6u8; 952], 64); // 1000 bytes
    // Spend the bucket, then queue IPv4 before IPv6.
    for _ in 0..4 {
        assert_eq!(lab.out(0, &v6).0, Verdict::Queued(Interface::Wan));
    }
    assert_eq!(lab.transmit().len(), 4, "the first 4000 bytes go at once");
    for _ in 0..3 {
        assert_eq!(lab.out(0, &v4).0, Verdict::Queued(Interface::Wan));
    }
    for _ in 0..3 {
        assert_eq!(lab.out(0, &v6).0, Verdict::Queued(Interface::Wan));
    }
    assert!(lab.transmit().is_empty(), "no tokens yet");
    let mut order = Vec::new();
    for ms in 1..=6 {
        lab.advance_by(Duration::from_millis(1));
        let sent = lab.transmit();
        assert_eq!(sent.len(), 1, "one 1000-byte packet per ms at {ms} ms");
        assert_eq!(sent[0].0, Interface::Wan);
        order.push(sent[0].1[0] >> 4);
    }
    assert_eq!(order, [6, 6, 6, 4, 4, 4], "strict priority");
    let s = lab.router.snapshot();
    assert_eq!(s.shapers.len(), 1);
    let w = &s.shapers[0];
    assert_eq!((w.name.as_str(), w.rate_mbps), ("wan", 8));
    assert_eq!((w.ipv6.packets, w.ipv6.bytes), (7, 7000));
    assert_eq!((w.ipv4.packets, w.ipv4.bytes), (3, 3000));
}

#[test]
fn a_full_queue_drops_at_the_tail_and_says_so() {
    let mut lab = Lab::with(shaped("[shaper]\nqueue_bytes = 3000"));
    let v6 = udp6(HOST0, 5000, SERVER6, 53, &[6u8; 952], 64);
    // 4 leave with the bucket, 3 wait, the 8th finds the queue full.
    for _ in 0..7 {
        assert_eq!(lab.out(0, &v6).0, Verdict::Queued(Interface::Wan));
    }
    assert_eq!(
        lab.out(0, &v6).0,
        Verdict::Drop(DropReason::ShaperQueueFull)
    );
    let s = lab.router.snapshot();
    assert_eq!(s.drops[DropReason::ShaperQueueFull], 1);
    assert_eq!(s.shapers[0].ipv6.dropped, 1);
    // Nothing is lost silently: the rest leaves as tokens come.
    assert_eq!(lab.transmit().len(), 4);
    lab.advance_by(Duration::from_millis(3));
    assert_eq!(lab.transmit().len(), 3);
}

#[test]
fn links_without_a_rate_are_not_shaped_and_rates_are_validated() {
    let mut lab = Lab::with(shaped(""));
    let (v, _) = lab.inb(&udp6(SERVER6, 1, HOST0, 2, b"x", 64));
    assert_eq!(v, Verdict::Drop(DropReason::Filtered));
    lab.out(0, &udp6(HOST0, 2, SERVER6, 1, b"x", 64));
    assert_eq!(
        lab.inb(&udp6(SERVER6, 1, HOST0, 2, b"x", 64)).0,
        Verdict::Forward(Interface::Subscriber(0)),
        "the subscriber link has no rate"
    );
    let e = Config::from_toml("[wan]\nrate_mbps = 0\n").unwrap_err();
    assert_eq!(e.key, "wan.rate_mbps");
    let e = Config::from_toml("[shaper]\nipv6_weight = 0\n").unwrap_err();
    assert_eq!(e.key, "shaper.ipv6_weight");
    let e = Config::from_toml("[shaper]\nqueue_bytes = 100\n").unwrap_err();
    assert_eq!(e.key, "shaper.queue_bytes");
}
