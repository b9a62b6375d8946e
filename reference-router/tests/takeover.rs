//! Takeover (`[takeover]`) through `Router::process` with a fake clock: a
//! predecessor router logs its mappings (natEvent 8/9, `[ipfix] mappings`),
//! its own encoder makes the IPFIX messages, and the backup is fed them with
//! `Router::takeover_feed`. Each law of issue 25's "Done when": a fed mapping
//! is used exactly as exported, both ways; adoption never leaves the covered
//! slice and ranges (a property over random feeds); with takeover off
//! nothing is adopted; a missing 8 or 9 costs that flow only; a SYN-less
//! flood and forged IPFIX create nothing beyond the limits, and are counted.

mod common;
use common::*;
use quickcheck::{QuickCheck, TestResult};
use sixfold_router::ipfix::encode::Encoder;
use sixfold_router::ipfix::{NatRecord, Record};
use sixfold_router::stats::{DropReason, NatEvent, TakeoverUse};
use sixfold_router::{Config, Deterministic, Interface, Verdict};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

const WAN_A: &str = "192.0.2.1";
/// The predecessor's export source, as the backup's `[takeover] from` names it.
const FROM: &str = "192.0.2.100:50000";
const SLICE: &str = "203.0.113.64/30";
const DET: &str = "allocation = \"deterministic\"\nblock_size = 2016\n";

fn predecessor() -> Lab {
    predecessor_with("")
}

/// The predecessor with `ipfix` lines added to its `[ipfix]`.
fn predecessor_with(ipfix: &str) -> Lab {
    Lab::new(&format!(
        "pool = [\"{SLICE}\"]\n{DET}[ipfix]\ncollector = \"192.0.2.200:4740\"\nsource = \"192.0.2.100\"\nmappings = true\n{ipfix}"
    ))
}

fn backup_with(extra: &str) -> Lab {
    Lab::new(&format!(
        "pool = [\"{PUBLIC}\"]\n{DET}{extra}[takeover]\nslice = [\"{SLICE}\"]\nlisten = \"192.0.2.200:4740\"\nfrom = \"192.0.2.100\"\n"
    ))
}

fn backup() -> Lab {
    backup_with("")
}

/// The predecessor's export: its own encoder, its start message first.
struct Export {
    encoder: Encoder,
    started: bool,
}

impl Export {
    fn new() -> Export {
        Export {
            encoder: Encoder::new(1, 1_700_000_000_000),
            started: false,
        }
    }

    /// The messages carrying `records` (the start message first, once).
    fn messages(&mut self, records: &[NatRecord]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if !self.started {
            out.push(self.encoder.start(0));
            self.started = true;
        }
        let records: Vec<Record> = records.iter().copied().map(Record::Nat).collect();
        out.extend(self.encoder.data(&records, 0));
        out
    }
}

/// The predecessor's NAT records since the last call.
fn logged(lab: &mut Lab) -> Vec<NatRecord> {
    std::iter::from_fn(|| lab.router.poll_ipfix())
        .filter_map(|r| match r {
            Record::Nat(n) => Some(n),
            Record::Flow(_) => None,
        })
        .collect()
}

fn feed(backup: &mut Lab, messages: &[Vec<u8>], from: &str) {
    let from: SocketAddr = from.parse().unwrap();
    for m in messages {
        let now = backup.instant();
        backup.router.takeover_feed(from, m, now);
    }
}

/// Everything the predecessor logged, fed to the backup.
fn relay(pred: &mut Lab, x: &mut Export, backup: &mut Lab) -> Vec<NatRecord> {
    let records = logged(pred);
    feed(backup, &x.messages(&records), FROM);
    records
}

/// Advances `secs` one second at a time, with idle ticks for the bounded
/// expiry to catch up.
fn walk(lab: &mut Lab, secs: u64) {
    for _ in 0..secs {
        lab.advance(1);
        for _ in 0..8 {
            lab.advance(0);
        }
    }
}

fn counts(lab: &Lab) -> TakeoverUse {
    lab.router.snapshot().takeover
}

#[test]
fn a_fed_mapping_is_used_exactly_as_exported_both_ways() {
    let (mut pred, mut b, mut x) = (predecessor(), backup(), Export::new());
    // An upload from SUB0, a download to SUB1, a UDP flow of SUB0.
    let up = pred.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, SYN));
    let down = pred.out_ok(1, &tcp(SUB1, 41000, WAN_A, 443, SYN));
    let dns = pred.out_ok(0, &udp(SUB0, 5353, WAN_A, 53, b"q"));
    // Before the feed, the backup has nothing for them.
    let (v, _) = b.out(0, &tcp(SUB0, 40000, WAN_A, 80, ACK));
    assert_eq!(v, Verdict::Drop(DropReason::NoMapping));
    let records = relay(&mut pred, &mut x, &mut b);
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.event == NatEvent::BibCreate));
    let c = counts(&b);
    assert_eq!((c.fed, c.feed_created, c.feed_messages), (3, 3, 2), "{c:?}");
    assert_eq!((c.adopted, c.feed_refused, c.feed_foreign), (0, 0, 0));
    // The predecessor is gone: the upload's next segment goes out from the
    // very endpoint the predecessor gave it.
    assert_eq!(b.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, ACK)), up);
    // The download's data arrives first: it finds its subscriber.
    let d = down.ip().to_string();
    let (v, p) = b.inb(&tcp(WAN_A, 443, &d, down.port(), ACK));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(1)));
    assert_eq!(dst(&p), sa(&format!("{SUB1}:41000")));
    // And the subscriber's answers take the same endpoint back.
    assert_eq!(b.out_ok(1, &tcp(SUB1, 41000, WAN_A, 443, ACK)), down);
    assert_eq!(b.out_ok(0, &udp(SUB0, 5353, WAN_A, 53, b"q")), dns);
    let c = counts(&b);
    // The one segment before the feed was unfed.
    assert_eq!((c.fed, c.adopted, c.unfed), (0, 3, 1), "{c:?}");
    let s = b.router.snapshot();
    assert_eq!(s.sessions, 3);
    // Adopted TCP takes the established timer: alive after the transitory
    // one (240 s) would have ended it.
    b.advance(300);
    assert_eq!(b.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, ACK)), up);
    // A new flow of the subscriber gets this box's own range.
    let own = b.out_ok(0, &tcp(SUB0, 40001, WAN_A, 80, SYN));
    assert_eq!(*own.ip(), PUBLIC.parse::<Ipv4Addr>().unwrap());
}

#[test]
fn with_takeover_off_nothing_is_adopted() {
    let (mut pred, mut x) = (predecessor(), Export::new());
    let mut off = Lab::new(&format!("pool = [\"{PUBLIC}\"]\n{DET}"));
    let up = pred.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, SYN));
    relay(&mut pred, &mut x, &mut off);
    let (v, _) = off.out(0, &tcp(SUB0, 40000, WAN_A, 80, ACK));
    assert_eq!(v, Verdict::Drop(DropReason::NoMapping));
    let (v, _) = off.inb(&tcp(WAN_A, 80, &up.ip().to_string(), up.port(), ACK));
    assert_ne!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(counts(&off), TakeoverUse::default());
    assert_eq!(off.router.snapshot().sessions, 0);
}

#[test]
fn a_missing_create_or_delete_costs_that_flow_only() {
    let (mut pred, mut b, mut x) = (predecessor(), backup(), Export::new());
    // The start message (templates) arrives.
    feed(&mut b, &x.messages(&[]), FROM);
    let lost = pred.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, SYN));
    let lost_record = logged(&mut pred);
    let kept = pred.out_ok(0, &tcp(SUB0, 40002, WAN_A, 80, SYN));
    // The first create never arrives (its message is lost); the second does.
    let _ = x.messages(&lost_record);
    relay(&mut pred, &mut x, &mut b);
    let (v, _) = b.out(0, &tcp(SUB0, 40000, WAN_A, 80, ACK));
    assert_eq!(v, Verdict::Drop(DropReason::NoMapping), "{lost}");
    let (v, _) = b.inb(&tcp(WAN_A, 80, &lost.ip().to_string(), lost.port(), ACK));
    assert_ne!(v, Verdict::Forward(Interface::Subscriber(0)));
    assert_eq!(b.out_ok(0, &tcp(SUB0, 40002, WAN_A, 80, ACK)), kept);
    assert_eq!((counts(&b).unfed, counts(&b).adopted), (1, 1));

    // A UDP mapping ends at the predecessor, and its 9 is lost; the
    // predecessor maps the same inside endpoint anew, to another port once
    // the old one's reuse delay holds it: the newer create replaces the
    // stale one, and the flow goes on from the new endpoint.
    let (mut pred, mut b, mut x) = (predecessor(), backup(), Export::new());
    feed(&mut b, &x.messages(&[]), FROM);
    let old = pred.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    relay(&mut pred, &mut x, &mut b);
    walk(&mut pred, 301);
    let ended = logged(&mut pred);
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].event, NatEvent::BibDelete);
    let _ = x.messages(&ended);
    let new = pred.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    assert_ne!(old, new);
    relay(&mut pred, &mut x, &mut b);
    assert_eq!(counts(&b).fed, 1);
    assert_eq!(b.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q")), new);
    // And a 9 that arrives ends its fed mapping.
    let (mut pred, mut b, mut x) = (predecessor(), backup(), Export::new());
    pred.out_ok(1, &udp(SUB1, 6000, WAN_A, 53, b"q"));
    relay(&mut pred, &mut x, &mut b);
    walk(&mut pred, 301);
    relay(&mut pred, &mut x, &mut b);
    let c = counts(&b);
    assert_eq!((c.fed, c.feed_created, c.feed_deleted), (0, 1, 1), "{c:?}");
}

/// A fed mapping's timer: the protocol's idle timeout from its create.
#[test]
fn fed_mappings_expire_with_the_mapping_timers() {
    let (mut pred, mut b, mut x) = (predecessor(), backup(), Export::new());
    pred.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    relay(&mut pred, &mut x, &mut b);
    b.advance(299);
    assert_eq!(counts(&b).fed, 1);
    b.advance(1);
    b.advance(0);
    let c = counts(&b);
    assert_eq!((c.fed, c.feed_expired), (0, 1), "{c:?}");
    let (v, _) = b.out(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    assert_eq!(
        v,
        Verdict::Forward(Interface::Wan),
        "a new mapping of its own"
    );
}

fn bib(event: NatEvent, inside: Ipv4Addr, public: Ipv4Addr, (ip, op): (u16, u16)) -> NatRecord {
    NatRecord {
        protocol: 6,
        inside_port: ip,
        outside_port: op,
        ..NatRecord::new(event, inside, public)
    }
}

fn slice_config() -> Config {
    config(&format!("pool = [\"{SLICE}\"]\n{DET}"))
}

/// The law: whatever the feed says — events, inside addresses, public
/// endpoints, at random, most of them outside the predecessor's ranges — a
/// packet the backup translates through a fed mapping carries a public
/// endpoint of its own pool, or one inside the predecessor's range of the
/// packet's own inside address; nothing else is ever adopted.
#[test]
fn adoption_never_leaves_the_covered_slice_and_ranges() {
    fn law(feed_: Vec<(u8, bool, u8, u16, u16)>) -> TestResult {
        let pred = Deterministic::new(&slice_config());
        let mut b = backup();
        let mut x = Export::new();
        let subs = [SUB0, SUB1];
        let publics: [Ipv4Addr; 4] = [
            "203.0.113.65".parse().unwrap(),
            "203.0.113.66".parse().unwrap(),
            PUBLIC.parse().unwrap(),
            "198.51.100.9".parse().unwrap(),
        ];
        let records: Vec<NatRecord> = feed_
            .iter()
            .map(|&(pick, create, p, ip, op)| {
                let inside = subs[usize::from(pick & 1)].parse().unwrap();
                let event = if create {
                    NatEvent::BibCreate
                } else {
                    NatEvent::BibDelete
                };
                // Ports near the two ranges (1024-3039 and 3040-5055) half the time.
                let op = if pick & 2 != 0 { 1024 + op % 4100 } else { op };
                bib(event, inside, publics[usize::from(p % 4)], (ip, op))
            })
            .collect();
        feed(&mut b, &x.messages(&records), FROM);
        for r in &records {
            let sub = u32::from(r.inside == SUB1.parse::<Ipv4Addr>().unwrap());
            let from = r.inside.to_string();
            let (v, p) = b.out(sub, &tcp(&from, r.inside_port, WAN_A, 80, ACK));
            if v == Verdict::Forward(Interface::Wan) {
                let e = src(&p);
                let range = pred.range_of(r.inside).unwrap();
                let fits =
                    *e.ip() == range.public && (range.first..=range.last).contains(&e.port());
                if !fits {
                    return TestResult::error(format!("{r:?} went out as {e}"));
                }
            }
            let public = r.outside.to_string();
            let (v, p) = b.inb(&tcp(WAN_A, 80, &public, r.outside_port, ACK));
            if let Verdict::Forward(Interface::Subscriber(_)) = v {
                let to = dst(&p);
                let range = pred.range_of(*to.ip()).unwrap();
                let fits = r.outside == range.public
                    && (range.first..=range.last).contains(&r.outside_port);
                if !fits {
                    return TestResult::error(format!("{r:?} came in to {to}"));
                }
            }
        }
        let c = counts(&b);
        if c.adopted > c.feed_created {
            return TestResult::error(format!("{c:?}"));
        }
        TestResult::passed()
    }
    QuickCheck::new()
        .tests(200)
        .quickcheck(law as fn(Vec<(u8, bool, u8, u16, u16)>) -> TestResult);
}

#[test]
fn forged_ipfix_from_anywhere_else_creates_nothing_and_is_counted() {
    let (mut pred, mut b, mut x) = (predecessor(), backup(), Export::new());
    let up = pred.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, SYN));
    let messages = x.messages(&logged(&mut pred));
    // The same messages, from another address (any port), and garbage.
    feed(&mut b, &messages, "192.0.2.101:50000");
    feed(&mut b, &messages, "[2001:db8::100]:50000");
    feed(&mut b, &[b"not ipfix".to_vec()], FROM);
    let c = counts(&b);
    assert_eq!(
        (c.feed_foreign, c.feed_unreadable, c.fed),
        (4, 1, 0),
        "{c:?}"
    );
    let (v, _) = b.inb(&tcp(WAN_A, 80, &up.ip().to_string(), up.port(), ACK));
    assert_ne!(v, Verdict::Forward(Interface::Subscriber(0)));
    // A record from the predecessor that puts SUB0 on SUB1's range is refused.
    let theirs = pred.out_ok(1, &tcp(SUB1, 41000, WAN_A, 80, SYN));
    let mut r = logged(&mut pred);
    r[0].inside = SUB0.parse().unwrap();
    // From the predecessor this time, templates first.
    feed(&mut b, &Export::new().messages(&r), FROM);
    let c = counts(&b);
    assert_eq!((c.feed_refused, c.fed), (1, 0), "{c:?}");
    let (v, _) = b.inb(&tcp(
        WAN_A,
        80,
        &theirs.ip().to_string(),
        theirs.port(),
        ACK,
    ));
    assert_ne!(v, Verdict::Forward(Interface::Subscriber(0)));
}

#[test]
fn a_syn_less_flood_creates_nothing_beyond_the_limits_and_is_counted() {
    let (mut pred, mut b, mut x) = (
        predecessor(),
        backup_with("sessions_per_subscriber = 4\n"),
        Export::new(),
    );
    // Ten fed mappings of SUB0.
    let fed: Vec<SocketAddrV4> = (0..10)
        .map(|i| pred.out_ok(0, &tcp(SUB0, 40000 + i, WAN_A, 80, SYN)))
        .collect();
    relay(&mut pred, &mut x, &mut b);
    assert_eq!(counts(&b).fed, 10);
    // 5000 SYN-less segments with pseudo-random ports, the fed ones among them.
    let mut seed = 0x2545_f491_u32;
    let mut forwarded = 0;
    for i in 0..5000u32 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let port = if i % 500 == 0 {
            40000 + (i / 500) as u16
        } else {
            seed as u16
        };
        let (v, _) = b.out(0, &tcp(SUB0, port, WAN_A, 80, ACK));
        forwarded += u32::from(v == Verdict::Forward(Interface::Wan));
    }
    let s = b.router.snapshot();
    // Four sessions (the subscriber's limit), on four of the fed endpoints.
    assert_eq!((forwarded, s.sessions, s.takeover.adopted), (4, 4, 4));
    assert_eq!(s.takeover.fed, 6, "the refused ones stay fed");
    // Every other segment is unfed (a random port may hit a refused fed one).
    assert!(s.takeover.unfed >= 4980, "{:?}", s.takeover);
    let limited = s
        .drops
        .iter()
        .find(|(r, _)| *r == DropReason::SubscriberSessionLimit);
    assert_eq!(limited.map(|(_, n)| n), Some(6));
    let _ = fed;
}

#[test]
fn fed_mappings_are_bounded_by_the_session_limit_and_counted() {
    let (mut pred, mut b, mut x) = (
        predecessor(),
        backup_with("max_sessions = 4\n"),
        Export::new(),
    );
    for i in 0..10 {
        pred.out_ok(0, &tcp(SUB0, 40000 + i, WAN_A, 80, SYN));
    }
    relay(&mut pred, &mut x, &mut b);
    let c = counts(&b);
    assert_eq!((c.fed, c.feed_created, c.feed_overflow), (4, 4, 6), "{c:?}");
}

/// A reload that appends a subscriber (deterministic mode keeps everyone's
/// range) keeps the fed mappings, and the new subscriber is covered too.
#[test]
fn a_reload_keeps_the_feed_and_covers_appended_subscribers() {
    const SUB2: &str = "100.64.0.30";
    let subs = |n: usize| -> String {
        [SUB0, SUB1, SUB2][..n]
            .iter()
            .enumerate()
            .map(|(i, a)| format!("[[subscriber]]\nname = \"s{i}\"\nipv4 = [\"{a}\"]\n"))
            .collect()
    };
    let pred_text = format!(
        "[router]\nra = false\n[nat]\npool = [\"{SLICE}\"]\n{DET}[ipfix]\ncollector = \"192.0.2.200:4740\"\nsource = \"192.0.2.100\"\nmappings = true\n{}",
        subs(3)
    );
    let backup_text = |n| {
        format!(
            "[router]\nra = false\n[nat]\npool = [\"{PUBLIC}\"]\n{DET}[takeover]\nslice = [\"{SLICE}\"]\nlisten = \"192.0.2.200:4740\"\nfrom = \"192.0.2.100\"\n{}",
            subs(n)
        )
    };
    let mut pred = Lab::with(Config::from_toml(&pred_text).unwrap());
    let mut b = Lab::with(Config::from_toml(&backup_text(2)).unwrap());
    let mut x = Export::new();
    let kept = pred.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, SYN));
    relay(&mut pred, &mut x, &mut b);
    let base = b.router.reload_base();
    let plan = sixfold_router::Reload::plan(&base, &backup_text(3), b.instant()).unwrap();
    assert!(b.router.check_reload(&plan).is_empty());
    b.router.apply_reload(&plan, b.instant());
    let new = pred.out_ok(2, &tcp(SUB2, 41000, WAN_A, 80, SYN));
    relay(&mut pred, &mut x, &mut b);
    assert_eq!(counts(&b).fed, 2, "{:?}", counts(&b));
    assert_eq!(b.out_ok(0, &tcp(SUB0, 40000, WAN_A, 80, ACK)), kept);
    // The slice is still this box's to answer for: a download's data to the
    // new subscriber's fed endpoint finds it.
    let (v, p) = b.inb(&tcp(WAN_A, 80, &new.ip().to_string(), new.port(), ACK));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(2)));
    assert_eq!(dst(&p), sa(&format!("{SUB2}:41000")));
}

/// Every live mapping is announced again every `[ipfix] interim` seconds: a
/// backup that was not listening when a mapping was made is fed it then.
#[test]
fn a_backup_that_missed_the_create_is_fed_by_the_re_announcement() {
    let (mut pred, mut b, mut x) = (predecessor_with("interim = 30\n"), backup(), Export::new());
    let e = pred.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    let first = logged(&mut pred);
    assert_eq!(first.len(), 1);
    // The backup hears the start message only: the create is lost.
    feed(&mut b, &x.messages(&[]), FROM);
    let _ = x.messages(&first);
    walk(&mut pred, 29);
    assert!(logged(&mut pred).is_empty());
    walk(&mut pred, 1);
    let again = logged(&mut pred);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        (again[0].event, again[0].inside_port, again[0].outside_port),
        (NatEvent::BibCreate, 5000, e.port())
    );
    feed(&mut b, &x.messages(&again), FROM);
    assert_eq!(b.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q")), e);
    // Without `mappings`, nothing is re-announced.
    let mut quiet = Lab::new(&format!(
        "pool = [\"{SLICE}\"]\n{DET}[ipfix]\ncollector = \"192.0.2.200:4740\"\ninterim = 30\n"
    ));
    quiet.out_ok(0, &udp(SUB0, 5000, WAN_A, 53, b"q"));
    walk(&mut quiet, 31);
    assert!(logged(&mut quiet).is_empty());
}
