//! Who held a public endpoint when: the record's events turned into
//! *holdings*, each a run of time segments that are either **certain** (the
//! record proves the holder had it throughout) or **uncertain** (it may have,
//! the record cannot tell), and nothing outside them. The rules:
//!
//! - Events are taken in the order of their own time
//!   (observationTimeMilliseconds), never capture order; ties keep the
//!   exporter's order.
//! - A session's public endpoint (protocol, address, port) is held by an
//!   inside endpoint from its first create until its creates and deletes
//!   balance (counting: two sessions of one inside endpoint to two
//!   destinations share the public port under EIM, and it is held until the
//!   second delete). A block is held from its allocation (or a
//!   re-announcement) until its release.
//! - A holding ends, at the latest, when someone else is seen holding the
//!   same endpoint or block (the NAT gives it to one holder at a time), or when
//!   the exporter restarts (the router starts empty). Where such an end was
//!   not itself recorded, the time from the holder's last evidence to it is
//!   uncertain.
//! - Where the record is unknown (a sequence gap's window, before the first
//!   record of a run whose start is not in the capture, after the last time a
//!   run was seen: `runs.rs`), nothing is certain: a holding running into such
//!   a window is uncertain from its start; after it, only new evidence makes it
//!   certain again — a create, allocation or re-announcement from then on, or
//!   a delete or release, which proves the holding since the window ended.
//!   Nobody is named on the strength of a window alone: only a holder the
//!   record shows.
//!
//! So a lookup never names for certain someone whose holding the record does
//! not prove, and names the holder for certain wherever the record around the
//! time is complete (the property test in `lookup_law.rs` checks both).

use super::runs::{Completeness, merge};
use super::{Event, Kind, Record};
use std::net::{IpAddr, Ipv4Addr};

/// Whether a holding covers a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    No,
    Uncertain,
    Certain,
}

/// Part of a holding: `from .. to` (milliseconds; `to` = `u64::MAX`: to the
/// end of the record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) status: Status,
}

/// One holding of a public endpoint or a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Holding {
    pub(crate) kind: Kind,
    pub(crate) exporter: usize,
    pub(crate) inside: IpAddr,
    pub(crate) inside_port: Option<u16>,
    pub(crate) protocol: Option<u8>,
    pub(crate) public: Ipv4Addr,
    pub(crate) ports: (u16, u16),
    pub(crate) to: Option<(IpAddr, Option<IpAddr>, u16)>,
    /// Events that began and ended it (first begin, last end), if seen.
    pub(crate) began: Option<u64>,
    pub(crate) ended: Option<u64>,
    pub(crate) segments: Vec<Segment>,
}

impl Holding {
    /// How it covers time `t`.
    pub(crate) fn at(&self, t: u64) -> Status {
        self.segments
            .iter()
            .find(|s| s.from <= t && t < s.to)
            .map_or(Status::No, |s| s.status)
    }
}

/// What a holder is, within its exporter: kind, protocol (sessions), inside
/// address and port (sessions).
type HolderKey = (Kind, Option<u8>, IpAddr, Option<u16>);

fn holder_of(e: &Event) -> Option<HolderKey> {
    let kind = e.kind()?;
    Some(match kind {
        Kind::Block => (kind, None, e.inside, None),
        _ => (kind, e.protocol, e.inside, e.inside_port),
    })
}

/// Holders exclude each other when they are of the same class: a block, or a
/// session of the same protocol (the endpoints asked about are the same).
fn same_class(a: &HolderKey, b: &HolderKey) -> bool {
    (a.0 == Kind::Block) == (b.0 == Kind::Block) && (a.0 == Kind::Block || a.1 == b.1)
}

/// Points in time, in the order they are taken: (time, order at that time, what).
type Points<'a> = Vec<(u64, u8, Point<'a>)>;

/// What happens at a point in time, for one holder.
#[derive(Clone, Copy, Debug)]
enum Point<'a> {
    /// Exporter restart: the router began empty then (`known`: its start
    /// record is in the record) or at some time before, unseen; `empty_after`:
    /// the record goes on from it without a window, so it is known empty
    /// right after.
    RunStart {
        known: bool,
        empty_after: bool,
    },
    UnknownFrom,
    UnknownTo,
    Own(&'a Event),
    Other(&'a Event),
}

/// The holdings the record's events show, every holder of every exporter.
pub(crate) fn holdings(record: &Record) -> Vec<Holding> {
    let complete = record.completeness();
    let mut out = Vec::new();
    for x in 0..record.exporters.len() {
        let events: Vec<&Event> = record
            .events
            .iter()
            .filter(|e| record.runs[e.run].exporter == x && e.kind().is_some())
            .collect();
        let mut holders: Vec<HolderKey> = events.iter().filter_map(|e| holder_of(e)).collect();
        holders.sort();
        holders.dedup();
        let mut frames: Vec<(HolderKey, Points)> = Vec::new();
        for h in &holders {
            let cached = frames
                .iter()
                .find(|(k, _)| same_class(k, h))
                .map(|(_, f)| f.clone());
            let frame = cached.unwrap_or_else(|| {
                let class: Vec<&Event> = events
                    .iter()
                    .copied()
                    .filter(|e| holder_of(e).is_some_and(|k| same_class(&k, h)))
                    .collect();
                let f = frame(record, x, &complete, &class);
                frames.push((*h, f.clone()));
                f
            });
            let mut points: Vec<(u64, u8, Point)> = frame;
            for e in &events {
                let Some(k) = holder_of(e) else { continue };
                if k == *h {
                    points.push((e.time, 2, Point::Own(e)));
                } else if same_class(&k, h) {
                    points.push((e.time, 2, Point::Other(e)));
                }
            }
            points.sort_by_key(|&(t, order, p)| {
                let place = match p {
                    Point::Own(e) | Point::Other(e) => (e.run, e.place),
                    _ => (0, (0, 0)),
                };
                (t, order, place)
            });
            out.extend(Machine::new(x, *h).run(&points));
        }
    }
    if !record.sequenced {
        // Without sequence numbers nothing shows the record complete anywhere.
        for h in &mut out {
            h.segments = vec![Segment {
                from: h.segments.first().map_or(0, |s| s.from),
                to: h.segments.last().map_or(0, |s| s.to),
                status: Status::Uncertain,
            }];
        }
    }
    out
}

/// The exporter's run starts and the unknown windows for endpoint events
/// `class` (all about one endpoint or block: each window narrowed by them,
/// `runs::Gap`), as points.
fn frame<'a>(
    record: &Record,
    x: usize,
    complete: &[Completeness],
    class: &[&Event],
) -> Vec<(u64, u8, Point<'a>)> {
    let mut points = Vec::new();
    let mut windows: Vec<(u64, u64)> = Vec::new();
    for k in record.runs_of(x) {
        let run = &record.runs[k];
        let known = run.start_seen() && record.sequenced;
        let mine: Vec<&&Event> = class.iter().filter(|e| e.run == k && e.exact).collect();
        let mut empty_after = known;
        for g in &complete[k].gaps {
            let from = mine
                .iter()
                .filter(|e| e.place.0 < g.after)
                .map(|e| e.time)
                .fold(g.from, u64::max);
            let to = mine
                .iter()
                .filter(|e| g.before.is_some_and(|b| e.place.0 >= b))
                .map(|e| e.time)
                .fold(g.to, u64::min);
            if from < to {
                windows.push((from, to));
                empty_after &= from > run.start();
            }
        }
        points.push((run.start(), 0, Point::RunStart { known, empty_after }));
    }
    for (a, b) in merge(windows) {
        // A window's ends are mostly an event about this endpoint itself: the
        // lost records lie after the one it starts at and before the one it
        // ends at.
        points.push((a, 3, Point::UnknownFrom));
        if b != u64::MAX {
            points.push((b, 1, Point::UnknownTo));
        }
    }
    points
}

/// One holder's state through the points.
struct Machine {
    exporter: usize,
    holder: HolderKey,
    /// Lower and upper bounds of its live sessions (blocks: 0 or 1); `None`:
    /// unknown.
    lower: u32,
    upper: Option<u32>,
    in_window: bool,
    /// Since when nothing could have changed unseen (the end of the last
    /// window or restart, or the last event about this endpoint).
    quiet_since: u64,
    /// Since when the state is unknown (the start of the last window).
    unknown_since: u64,
    /// The last time the holding was proven (an own event).
    evidence: u64,
    open: Option<Holding>,
    status: Status,
    from: u64,
    done: Vec<Holding>,
}

impl Machine {
    fn new(exporter: usize, holder: HolderKey) -> Machine {
        Machine {
            exporter,
            holder,
            lower: 0,
            upper: None,
            in_window: false,
            quiet_since: 0,
            unknown_since: 0,
            evidence: 0,
            open: None,
            status: Status::No,
            from: 0,
            done: Vec::new(),
        }
    }

    fn run(mut self, points: &[(u64, u8, Point)]) -> Vec<Holding> {
        for &(t, _, p) in points {
            match p {
                Point::RunStart { known, empty_after } => {
                    self.go(t, Status::No);
                    // The router began empty: nothing held before goes on.
                    // If the run's record is unknown from its start, what
                    // followed is unknown, but began no earlier than a restart
                    // the record shows.
                    (self.lower, self.upper) = (0, empty_after.then_some(0));
                    self.quiet_since = t;
                    if known || !self.in_window {
                        self.unknown_since = t;
                    }
                }
                Point::UnknownFrom => {
                    self.in_window = true;
                    // Unknown since then, unless it already was.
                    if self.upper.is_some() || self.status != Status::No {
                        self.unknown_since = t;
                    }
                    (self.lower, self.upper) = (0, None);
                    if self.status == Status::Certain {
                        self.go(t, Status::Uncertain);
                    }
                }
                Point::UnknownTo => {
                    self.in_window = false;
                    // What was seen inside the window proves no count after
                    // it: lost deletes or a lost release may follow it there.
                    self.lower = 0;
                    self.quiet_since = t;
                }
                Point::Own(e) => self.own(t, e),
                Point::Other(_) => self.other(t),
            }
        }
        if let Some(mut h) = self.open.take() {
            h.segments.push(Segment {
                from: self.from,
                to: u64::MAX,
                status: self.status,
            });
            self.done.push(h);
        }
        self.done
    }

    /// Changes the status at `t`, opening or closing a holding.
    fn go(&mut self, t: u64, status: Status) {
        if status == self.status {
            return;
        }
        if let Some(h) = self.open.as_mut()
            && t > self.from
        {
            h.segments.push(Segment {
                from: self.from,
                to: t,
                status: self.status,
            });
        }
        self.status = status;
        self.from = t;
        // A status held for no time between two stretches of another joins
        // them: one stretch, as it was.
        if let Some(h) = self.open.as_mut()
            && let Some(last) = h.segments.last().copied()
            && (last.to, last.status) == (t, status)
        {
            h.segments.pop();
            self.from = last.from;
        }
        if status == Status::No
            && let Some(h) = self.open.take()
        {
            self.done.push(h);
        }
    }

    fn holding(&mut self, e: &Event) -> &mut Holding {
        let (exporter, (kind, protocol, inside, inside_port)) = (self.exporter, self.holder);
        self.open.get_or_insert_with(|| Holding {
            kind,
            exporter,
            inside,
            inside_port,
            protocol,
            public: e.public,
            ports: e.ports.unwrap_or((0, 0)),
            to: e.to,
            began: None,
            ended: None,
            segments: Vec::new(),
        })
    }

    fn own(&mut self, t: u64, e: &Event) {
        let block = self.holder.0 == Kind::Block;
        if self.open.is_none() {
            if e.begins() && self.upper.is_some() {
                self.status = Status::No;
                self.from = t;
            } else {
                // Maybe held before t since the state became unknown (a
                // re-announcement or a second session looks like the first),
                // or — an end, with the state known empty — since the last
                // event about the endpoint: its begin was lost unseen.
                self.status = Status::Uncertain;
                let since = if self.upper.is_none() {
                    self.unknown_since
                } else {
                    self.quiet_since
                };
                self.from = since.min(t);
            }
        }
        let h = self.holding(e);
        if e.begins() {
            h.began.get_or_insert(t);
            self.lower = if block { 1 } else { self.lower + 1 };
            self.upper = self.upper.map(|u| if block { 1 } else { u + 1 });
        } else {
            h.ended = Some(t);
            // Held just before t, and since the record was last quiet.
            if !self.in_window && self.status == Status::Uncertain && self.upper.is_none() {
                let since = self.quiet_since.max(self.from);
                self.go(since, Status::Certain);
            }
            self.lower = if block {
                0
            } else {
                self.lower.saturating_sub(1)
            };
            self.upper = if block {
                Some(0)
            } else {
                self.upper.map(|u| u.saturating_sub(1))
            };
        }
        self.evidence = t;
        self.quiet_since = t;
        let next = if self.in_window {
            if self.upper == Some(0) {
                Status::No
            } else {
                Status::Uncertain
            }
        } else if self.lower > 0 {
            Status::Certain
        } else if self.upper == Some(0) {
            Status::No
        } else {
            Status::Uncertain
        };
        self.go(t, next);
        self.forget_in_window(t);
    }

    /// Inside an unknown window, what an event proves holds only at its time:
    /// lost records may follow it, so the state after it is unknown from then.
    fn forget_in_window(&mut self, t: u64) {
        if self.in_window && self.upper.is_some() {
            self.upper = None;
            self.unknown_since = t;
        }
    }

    /// Someone else holds the endpoint at `t`: this holder does not.
    fn other(&mut self, t: u64) {
        if self.status == Status::Certain && self.evidence < t {
            // Its end was never recorded: uncertain since its last evidence.
            let since = self.evidence.max(self.from);
            self.go(since, Status::Uncertain);
        }
        self.go(t, Status::No);
        (self.lower, self.upper) = (0, Some(0));
        self.quiet_since = t;
        self.forget_in_window(t);
    }
}
