//! The record: NAT events (RFC 8158) as an exporter sent them and a collector
//! kept them — a capture of the IPFIX export (pcap or pcapng) or an nfcapd
//! store read through nfdump — with what the record itself says about how
//! complete it is: the exporter's runs (restarts), the data records missing by
//! the sequence numbers, the messages that could not be read.
//!
//! [`holdings`] turns it into who held a public endpoint when, with stated
//! semantics; `sixfold nat lookup` and `sixfold nat events` print it.

pub(crate) mod answer;
pub(crate) mod capture;
pub(crate) mod events;
pub(crate) mod holdings;
pub(crate) mod nfdump;
pub(crate) mod runs;
pub(crate) mod time;
pub(crate) mod udp;

#[cfg(test)]
mod law;
#[cfg(test)]
mod tests;

use crate::ipfix::{DataRecord, ie};
use runs::{Completeness, Run};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

/// One NAT event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    /// observationTimeMilliseconds.
    pub(crate) time: u64,
    /// Its run (index into [`Record::runs`]).
    pub(crate) run: usize,
    /// Its place in the run: the message's ordinal and the record's byte
    /// offset (ties in time keep the exporter's order; duplicates are dropped).
    pub(crate) place: (u64, usize),
    /// Whether its sequence position is known (it was counted: no unreadable
    /// set before it in its message).
    pub(crate) exact: bool,
    /// natEvent.
    pub(crate) nat_event: u8,
    /// The inside address (IPv4, or an IPv6-only subscriber's IPv6).
    pub(crate) inside: IpAddr,
    /// The inside port (sessions).
    pub(crate) inside_port: Option<u16>,
    /// The protocol (sessions, limits).
    pub(crate) protocol: Option<u8>,
    /// The public address.
    pub(crate) public: Ipv4Addr,
    /// The public ports: a session's port twice, or a block's first and last.
    pub(crate) ports: Option<(u16, u16)>,
    /// A NAT64 session's destination as the subscriber addressed it, the IPv4
    /// address it stands for, and the port.
    pub(crate) to: Option<(IpAddr, Option<IpAddr>, u16)>,
}

/// What kind of holding an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A port block (natEvent 16/17).
    Block,
    /// A NAT44 session (4/5).
    Nat44,
    /// A NAT64 session (6/7).
    Nat64,
}

impl Event {
    /// The event a data record carries, if it is a NAT event with a time, an
    /// inside and a public address.
    pub(crate) fn from_record(r: &DataRecord, run: usize, place: (u64, usize)) -> Option<Event> {
        let nat_event = u8::try_from(r.uint(ie::NAT_EVENT)?).ok()?;
        let IpAddr::V4(public) = r.addr(ie::POST_NAT_SOURCE_IPV4_ADDRESS)? else {
            return None;
        };
        let port = |id| r.uint(id).and_then(|p| u16::try_from(p).ok());
        let ports = match nat_event {
            16 | 17 => Some((port(ie::PORT_RANGE_START)?, port(ie::PORT_RANGE_END)?)),
            4..=7 => port(ie::POST_NAPT_SOURCE_TRANSPORT_PORT).map(|p| (p, p)),
            _ => None,
        };
        Some(Event {
            time: r.uint(ie::OBSERVATION_TIME_MILLISECONDS)?,
            run,
            place,
            exact: true,
            nat_event,
            inside: r.src()?,
            inside_port: port(ie::SOURCE_TRANSPORT_PORT),
            protocol: r
                .uint(ie::PROTOCOL_IDENTIFIER)
                .and_then(|p| u8::try_from(p).ok()),
            public,
            ports,
            to: r.dst().map(|d| {
                (
                    d,
                    r.addr(ie::POST_NAT_DESTINATION_IPV4_ADDRESS),
                    port(ie::DESTINATION_TRANSPORT_PORT).unwrap_or(0),
                )
            }),
        })
    }

    /// The kind of holding it begins or ends, if any.
    pub(crate) fn kind(&self) -> Option<Kind> {
        match self.nat_event {
            16 | 17 => Some(Kind::Block),
            4 | 5 => Some(Kind::Nat44),
            6 | 7 => Some(Kind::Nat64),
            _ => None,
        }
    }

    /// Whether it begins (or re-announces) a holding rather than ending one.
    pub(crate) fn begins(&self) -> bool {
        matches!(self.nat_event, 4 | 6 | 16)
    }

    /// Whether it concerns public endpoint `public`:`port` (of `protocol`, if
    /// given).
    pub(crate) fn covers(&self, public: Ipv4Addr, port: u16, protocol: Option<u8>) -> bool {
        let Some((first, last)) = self.ports else {
            return false;
        };
        self.public == public
            && (first..=last).contains(&port)
            && (self.kind() == Some(Kind::Block)
                || protocol.is_none_or(|p| self.protocol == Some(p)))
    }
}

/// Counts of what was read, and what could not be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Frames in the capture.
    pub(crate) frames: u64,
    /// IPFIX messages read.
    pub(crate) messages: u64,
    /// Datagrams to the collector's port that are no readable IPFIX message.
    pub(crate) unreadable: u64,
    /// Messages in which a set or record could not be read (the rest was).
    pub(crate) damaged: u64,
    /// IP fragments to the collector's port (not reassembled).
    pub(crate) fragments: u64,
    /// Duplicated records dropped.
    pub(crate) duplicates: u64,
    /// The capture could not be read to its end: why.
    pub(crate) cut: Option<String>,
    /// First problems, for the operator (at most a few).
    pub(crate) notes: Vec<String>,
}

/// The record: runs, the events kept, the tally.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Exporters: address and observation domain.
    pub(crate) exporters: Vec<(IpAddr, u32)>,
    pub(crate) runs: Vec<Run>,
    /// The events kept (those the caller's filter wanted), in time order after
    /// [`Record::finish`].
    pub(crate) events: Vec<Event>,
    pub(crate) tally: Tally,
    /// Whether the record has sequence numbers (an nfcapd store has none).
    pub(crate) sequenced: bool,
    seen: HashSet<(usize, u64, usize)>,
}

impl Record {
    /// Keeps `event` unless it is a duplicate of one kept.
    pub(crate) fn keep(&mut self, event: Event) {
        if self.seen.insert((event.run, event.place.0, event.place.1)) {
            self.events.push(event);
        } else {
            self.tally.duplicates += 1;
        }
    }

    /// Notes a problem (the first few are kept to print).
    pub(crate) fn note(&mut self, what: String) {
        if self.tally.notes.len() < 8 {
            self.tally.notes.push(what);
        }
    }

    /// Sorts the events by their time (ties: run, then place).
    pub(crate) fn finish(&mut self) {
        self.events.sort_by_key(|e| (e.time, e.run, e.place));
        self.seen = HashSet::new();
    }

    /// The runs of exporter `x` in order of their start.
    pub(crate) fn runs_of(&self, x: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.runs.len())
            .filter(|&k| self.runs[k].exporter == x)
            .collect();
        v.sort_by_key(|&k| self.runs[k].start());
        v
    }

    /// Each run's completeness, by run index.
    pub(crate) fn completeness(&self) -> Vec<Completeness> {
        let mut out = vec![Completeness::default(); self.runs.len()];
        for x in 0..self.exporters.len() {
            let order = self.runs_of(x);
            for (i, &k) in order.iter().enumerate() {
                let lower = i
                    .checked_sub(1)
                    .map_or(0, |p| self.runs[order[p]].last_seen);
                let next = order.get(i + 1).map(|&n| self.runs[n].start());
                out[k] = if self.sequenced {
                    self.runs[k].completeness(lower, next)
                } else {
                    // No sequence numbers: known only between the first and
                    // the last event (and even there, not certain).
                    let w = [
                        (lower, self.runs[k].first_seen),
                        (self.runs[k].last_seen, next.unwrap_or(u64::MAX)),
                    ];
                    Completeness {
                        missing: 0,
                        unknown: w.to_vec(),
                        gaps: w
                            .iter()
                            .map(|&(from, to)| runs::Gap {
                                from,
                                to,
                                after: 0,
                                before: None,
                            })
                            .collect(),
                    }
                };
            }
        }
        out
    }
}
