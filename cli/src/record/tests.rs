//! The cases of issue 23's "Why", each as the export would carry it: messages
//! the router's own encoder writes, fed to the record as a collector gets
//! them (lost, reordered, duplicated, across a restart), then asked.

use super::capture::State;
use super::holdings::{Status, holdings};
use super::{Event, Record};
use sixfold_router::ipfix::encode::Encoder;
use sixfold_router::ipfix::{NatRecord, Record as Rec};
use sixfold_router::stats::NatEvent;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub(crate) const PUBLIC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
const COLLECTOR: &str = "192.0.2.9:4739";

pub(crate) fn inside(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(100, 64, 1, k)
}

/// A NAT event at `ms` (UNIX milliseconds: the encoder's epoch is 0) about
/// subscriber `k`: a block 40000-40127 (16/17) or a UDP session from inside
/// port 5000 to public port 40000 (4/5).
pub(crate) fn nat(event: NatEvent, ms: u64, k: u8) -> Rec {
    let block = matches!(
        event,
        NatEvent::BlockAllocation | NatEvent::BlockDeallocation
    );
    Rec::Nat(NatRecord {
        event,
        time_ms: ms,
        inside: inside(k),
        outside: PUBLIC,
        protocol: if block { 0 } else { 17 },
        inside_port: if block { 0 } else { 5000 },
        outside_port: if block { 0 } else { 40000 },
        first_port: if block { 40000 } else { 0 },
        last_port: if block { 40127 } else { 0 },
        remote: Ipv4Addr::UNSPECIFIED,
        remote_port: 0,
        inside6: Ipv6Addr::UNSPECIFIED,
        remote6: Ipv6Addr::UNSPECIFIED,
    })
}

/// One exporting process: its source and encoder.
pub(crate) struct Exporter {
    pub(crate) source: SocketAddr,
    encoder: Encoder,
}

impl Exporter {
    /// A process starting at `ms` from source port `port`: its start message.
    pub(crate) fn start(port: u16, ms: u64) -> (Exporter, Vec<u8>) {
        // Record times count from 0 here (UNIX milliseconds as they are), so
        // the start record's time comes from an encoder with that epoch.
        let first = Encoder::new(1, ms).start((ms / 1000) as u32);
        let mut encoder = Encoder::new(1, 0);
        encoder.start(0);
        let source = SocketAddr::from(([192, 0, 2, 1], port));
        (Exporter { source, encoder }, first)
    }

    /// A template refresh (what a collector that starts mid-run learns from).
    pub(crate) fn refresh(&self) -> Vec<u8> {
        self.encoder.templates(0)
    }

    /// One message carrying `records`, exported at the last record's time.
    pub(crate) fn send(&mut self, records: &[Rec]) -> Vec<u8> {
        let at = records.iter().map(|r| match r {
            Rec::Nat(n) => n.time_ms,
            Rec::Flow(f) => f.end_ms,
        });
        let secs = (at.max().unwrap_or(0) / 1000) as u32;
        let mut m = self.encoder.data(records, secs);
        assert_eq!(m.len(), 1);
        m.remove(0)
    }
}

/// The record of `messages` (source, bytes) as received, keeping what
/// concerns the public port 40000.
pub(crate) fn record_of(messages: &[(SocketAddr, Vec<u8>)]) -> Record {
    let mut state = State::default();
    let mut record = Record {
        sequenced: true,
        ..Record::default()
    };
    let collector: SocketAddr = COLLECTOR.parse().unwrap();
    let mut want = |e: &Event| e.covers(PUBLIC, 40000, None);
    for (src, m) in messages {
        let session = state.session(*src, collector);
        let m = state.reader.decode(session, m).unwrap();
        state.message(&mut record, *src, m, &mut want);
    }
    record.finish();
    record
}

/// Each inside address named at `t`, with how certainly.
pub(crate) fn named(record: &Record, t: u64) -> BTreeMap<IpAddr, Status> {
    let mut out = BTreeMap::new();
    for h in holdings(record) {
        let s = h.at(t);
        if s != Status::No {
            let e = out.entry(h.inside).or_insert(Status::No);
            *e = (*e).max(s);
        }
    }
    out
}

/// A session of subscriber 9 on another public port: a later message that
/// shows the record goes on.
pub(crate) fn elsewhere(ms: u64) -> Rec {
    let mut other = nat(NatEvent::SessionCreate, ms, 9);
    if let Rec::Nat(n) = &mut other {
        n.outside_port = 50000;
    }
    other
}

fn only(k: u8, s: Status) -> BTreeMap<IpAddr, Status> {
    BTreeMap::from([(IpAddr::V4(inside(k)), s)])
}

const S: u64 = 1000;

#[test]
fn a_restart_closes_the_earlier_runs_block() {
    use NatEvent::BlockAllocation as Alloc;
    // Run 1: sub1 gets the block, re-announced; killed (no release logged).
    let (mut one, start1) = Exporter::start(30000, 5 * S);
    let m1 = one.send(&[nat(Alloc, 10 * S, 1)]);
    let m2 = one.send(&[nat(Alloc, 20 * S, 1)]);
    // Run 2, from a new source port: the same block goes to sub2.
    let (mut two, start2) = Exporter::start(30001, 100 * S);
    let m3 = two.send(&[nat(Alloc, 110 * S, 2)]);
    let m4 = two.send(&[elsewhere(200 * S)]);
    let r = record_of(&[
        (one.source, start1),
        (one.source, m1),
        (one.source, m2),
        (two.source, start2),
        (two.source, m3),
        (two.source, m4),
    ]);
    assert_eq!(r.runs.len(), 2);
    assert_eq!(named(&r, 15 * S), only(1, Status::Certain));
    // After run 1 was last seen, before run 2 began: sub1 maybe.
    assert_eq!(named(&r, 50 * S), only(1, Status::Uncertain));
    // During run 2, sub1 is not named at all.
    assert_eq!(named(&r, 105 * S), BTreeMap::new());
    assert_eq!(named(&r, 115 * S), only(2, Status::Certain));
}

#[test]
fn a_run_whose_templates_were_lost_does_not_cloud_the_next_run() {
    use NatEvent::BlockAllocation as Alloc;
    // Run 1's start message (its templates) is lost: its data cannot be read,
    // its record is unknown from the start — but only until run 2 began.
    let (mut one, _lost) = Exporter::start(30000, 5 * S);
    let m1 = one.send(&[nat(Alloc, 10 * S, 1)]);
    let (mut two, start2) = Exporter::start(30001, 100 * S);
    let m2 = two.send(&[nat(Alloc, 110 * S, 2)]);
    let m3 = two.send(&[elsewhere(200 * S)]);
    let r = record_of(&[
        (one.source, m1),
        (two.source, start2),
        (two.source, m2),
        (two.source, m3),
    ]);
    assert_eq!(r.runs.len(), 2);
    assert_eq!(r.completeness()[0].unknown, [(0, 100 * S)]);
    assert_eq!(named(&r, 115 * S), only(2, Status::Certain));
    assert_eq!(named(&r, 105 * S), BTreeMap::new());
}

#[test]
fn a_release_after_a_lost_allocation_in_a_new_run_names_its_holder_uncertain() {
    use NatEvent::{BlockAllocation as A, BlockDeallocation as R};
    let (mut one, start1) = Exporter::start(30000, 5 * S);
    let m1 = one.send(&[nat(A, 10 * S, 1)]);
    let (mut two, start2) = Exporter::start(30001, 100 * S);
    let _lost = two.send(&[nat(A, 105 * S, 2)]);
    let m2 = two.send(&[nat(R, 125 * S, 2)]);
    let m3 = two.send(&[nat(A, 130 * S, 1)]);
    let m4 = two.send(&[elsewhere(200 * S)]);
    let r = record_of(&[
        (one.source, start1),
        (one.source, m1),
        (two.source, start2),
        (two.source, m2),
        (two.source, m3),
        (two.source, m4),
    ]);
    // Bob's allocation is lost; his release proves he held the block since
    // the restart at the earliest.
    assert_eq!(named(&r, 115 * S), only(2, Status::Uncertain));
    assert_eq!(named(&r, 95 * S), only(1, Status::Uncertain));
    assert_eq!(named(&r, 135 * S), only(1, Status::Certain));
}

#[test]
fn eim_two_destinations_share_the_port_until_both_sessions_end() {
    use NatEvent::{SessionCreate as C, SessionDelete as D};
    let (mut x, start) = Exporter::start(30000, S);
    // Two sessions of 100.64.1.1:5000 (two destinations, one public port):
    // identical natEvent 4 records; sub2 gets the port 15 minutes later.
    let ms = [
        x.send(&[nat(C, 10 * S, 1)]),
        x.send(&[nat(C, 11 * S, 1)]),
        x.send(&[nat(D, 20 * S, 1)]),
        x.send(&[nat(D, 30 * S, 1)]),
        x.send(&[nat(C, 930 * S, 2)]),
        x.send(&[nat(D, 990 * S, 2)]),
    ];
    let mut messages = vec![(x.source, start)];
    messages.extend(ms.into_iter().map(|m| (x.source, m)));
    let r = record_of(&messages);
    assert_eq!(
        named(&r, 25 * S),
        only(1, Status::Certain),
        "one session still up"
    );
    assert_eq!(named(&r, 30 * S), BTreeMap::new(), "both ended");
    // Never sub2 before its first session, never sub1 after its last.
    assert_eq!(named(&r, 500 * S), BTreeMap::new());
    assert_eq!(named(&r, 950 * S), only(2, Status::Certain));
    assert_eq!(named(&r, 5 * S), BTreeMap::new());
}

#[test]
fn a_lost_release_leaves_the_first_holder_uncertain_not_named() {
    use NatEvent::{BlockAllocation as A, BlockDeallocation as R};
    let (mut x, start) = Exporter::start(30000, S);
    let m1 = x.send(&[nat(A, 10 * S, 1)]);
    let m2 = x.send(&[nat(A, 20 * S, 1)]);
    let _lost = x.send(&[nat(R, 30 * S, 1)]);
    let m4 = x.send(&[nat(A, 40 * S, 2)]);
    let m5 = x.send(&[nat(A, 50 * S, 2)]);
    let r = record_of(&[
        (x.source, start),
        (x.source, m1),
        (x.source, m2),
        (x.source, m4),
        (x.source, m5),
    ]);
    assert_eq!(r.completeness()[0].missing, 1);
    assert_eq!(named(&r, 15 * S), only(1, Status::Certain));
    // Within the lost record's window either may have had it: the lost
    // record may as well have been sub2's allocation (40 s looks the same as
    // a re-announcement).
    assert_eq!(
        named(&r, 35 * S),
        BTreeMap::from([
            (IpAddr::V4(inside(1)), Status::Uncertain),
            (IpAddr::V4(inside(2)), Status::Uncertain)
        ])
    );
    assert_eq!(named(&r, 45 * S), only(2, Status::Certain));
    // Lost inside the router (no sequence gap): the reallocation still ends
    // sub1's holding, uncertain since its last re-announcement.
    let (mut y, start) = Exporter::start(30000, S);
    let ms = [
        y.send(&[nat(A, 10 * S, 1)]),
        y.send(&[nat(A, 20 * S, 1)]),
        y.send(&[nat(A, 40 * S, 2)]),
        y.send(&[elsewhere(200 * S)]),
    ];
    let mut messages = vec![(y.source, start)];
    messages.extend(ms.into_iter().map(|m| (y.source, m)));
    let r = record_of(&messages);
    assert_eq!(named(&r, 15 * S), only(1, Status::Certain));
    assert_eq!(named(&r, 30 * S), only(1, Status::Uncertain));
    assert_eq!(named(&r, 45 * S), only(2, Status::Certain));
}

#[test]
fn a_create_inside_an_unknown_window_counts_for_nothing_after_it() {
    use NatEvent::{SessionCreate as C, SessionDelete as D};
    let (mut x, start) = Exporter::start(30000, S);
    // Two losses whose windows join: sub2's delete, then sub3's; sub3's first
    // create lies inside the joined window.
    let m0 = x.send(&[nat(C, 50 * S, 2)]);
    let _lost = x.send(&[nat(D, 70 * S, 2)]);
    let m1 = x.send(&[nat(C, 83 * S, 3)]);
    let _lost = x.send(&[nat(D, 84 * S, 3)]);
    let m3 = x.send(&[nat(C, 91 * S, 3)]);
    let m4 = x.send(&[nat(D, 108 * S, 3)]);
    let m5 = x.send(&[elsewhere(200 * S)]);
    let r = record_of(&[
        (x.source, start),
        (x.source, m0),
        (x.source, m1),
        (x.source, m3),
        (x.source, m4),
        (x.source, m5),
    ]);
    assert_eq!(named(&r, 95 * S), only(3, Status::Certain));
    // The delete at 108 s may have ended the only session (the lost record
    // may have been the first one's delete): not certain after it.
    assert_eq!(named(&r, 110 * S), only(3, Status::Uncertain));
}

#[test]
fn reordered_and_duplicated_datagrams_are_taken_by_their_time() {
    use NatEvent::{SessionCreate as C, SessionDelete as D};
    let (mut x, start) = Exporter::start(30000, S);
    let (create, delete) = (x.send(&[nat(C, 10 * S, 1)]), x.send(&[nat(D, 20 * S, 1)]));
    let later = x.send(&[nat(C, 60 * S, 2)]);
    let last = x.send(&[elsewhere(200 * S)]);
    let r = record_of(&[
        (x.source, start),
        (x.source, delete.clone()),
        (x.source, create.clone()),
        (x.source, create),
        (x.source, later),
        (x.source, delete),
        (x.source, last),
    ]);
    assert_eq!(r.tally.duplicates, 2);
    assert_eq!(r.completeness()[0].missing, 0);
    assert_eq!(named(&r, 15 * S), only(1, Status::Certain));
    assert_eq!(named(&r, 25 * S), BTreeMap::new(), "the delete ended it");
    assert_eq!(named(&r, 65 * S), only(2, Status::Certain));
}

#[test]
fn a_release_seen_alone_is_uncertain_before_the_record_begins() {
    use NatEvent::BlockDeallocation as R;
    // The capture begins mid-run: no start record, a release at 30 s.
    let (mut x, _start) = Exporter::start(30000, S);
    let m = x.send(&[elsewhere(10 * S)]);
    let release = x.send(&[nat(R, 30 * S, 1)]);
    let last = x.send(&[elsewhere(60 * S)]);
    let r = record_of(&[
        (x.source, x.refresh()),
        (x.source, m),
        (x.source, release),
        (x.source, last),
    ]);
    // Before the record's first time (10 s) plus the slack: unknown.
    assert_eq!(named(&r, 5 * S), only(1, Status::Uncertain));
    assert_eq!(named(&r, 20 * S), only(1, Status::Certain));
    assert_eq!(named(&r, 31 * S), BTreeMap::new());
    let h = holdings(&r)
        .into_iter()
        .find(|h| h.inside == IpAddr::V4(inside(1)))
        .unwrap();
    assert_eq!(
        super::answer::describe(&h),
        "block 40000-40127, allocation not in the record, released 1970-01-01T00:00:30.000Z \
         (uncertain between the start of the record and 1970-01-01T00:00:11.000Z; certain from \
         1970-01-01T00:00:11.000Z to 1970-01-01T00:00:30.000Z)"
    );
}
