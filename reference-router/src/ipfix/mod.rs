//! IPFIX (RFC 7011) records the router produces: NAT events (RFC 8158) from the
//! NAT, and flow accounting before the NAT (`ipfix/accounting.rs`). The core only
//! *produces* records, into a bounded queue per worker that the I/O loop drains
//! ([`crate::Router::poll_ipfix`]); a full queue drops the record and counts it,
//! never the packet. [`encode`] turns records into IPFIX messages, off the data
//! path (the device layer's exporter thread sends them over UDP); [`decode`]
//! reads IPFIX messages as a collector does (the record reader, a takeover
//! backup's feed).
//!
//! Times in records are milliseconds since the router's epoch (the `now` it was
//! built with); the encoder adds the wall-clock time of that epoch.

use serde::{Deserialize, Serialize};
pub(crate) mod accounting;
pub mod decode;
pub mod encode;
pub mod ie;

use crate::stats::{IpfixUse, NatEvent};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A NAT event (RFC 8158): which fields matter depends on the event — ports
/// for sessions, the port range for blocks; unused fields are zero.
///
/// An IPv6-only subscriber's NAT64 sessions and limits carry its IPv6 address
/// in `inside6` and `0.0.0.0` in `inside`: the NAT's table knows it by an
/// alias from 240.0.0.0/4 (`router/xlat/aliases.rs`), which means nothing outside the
/// router and is never exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatRecord {
    /// What happened.
    #[serde(with = "crate::state::with::nat_event")]
    pub event: NatEvent,
    /// When, in milliseconds since the router's epoch.
    pub time_ms: u64,
    /// The subscriber's inside address (`0.0.0.0` where none applies).
    pub inside: Ipv4Addr,
    /// The public (post-NAT) address (`0.0.0.0` where none applies).
    pub outside: Ipv4Addr,
    /// IP protocol (0 where it does not apply: blocks serve every protocol).
    pub protocol: u8,
    /// Inside port or ICMP identifier (sessions).
    pub inside_port: u16,
    /// Outside port or ICMP identifier (sessions).
    pub outside_port: u16,
    /// First port of the block (blocks).
    pub first_port: u16,
    /// Last port of the block (blocks).
    pub last_port: u16,
    /// The remote's IPv4 address (sessions; `0.0.0.0` otherwise).
    pub remote: Ipv4Addr,
    /// The remote's port (sessions; ICMP: 0).
    pub remote_port: u16,
    /// An IPv6-only subscriber's own address (NAT64 sessions and limits; `::`
    /// otherwise).
    pub inside6: Ipv6Addr,
    /// The remote as that subscriber addressed it: `remote` embedded in the
    /// NAT64 prefix (RFC 6052; NAT64 sessions; `::` otherwise).
    pub remote6: Ipv6Addr,
}

impl NatRecord {
    /// An event about `inside` and `outside` with every other field zero.
    pub fn new(event: NatEvent, inside: Ipv4Addr, outside: Ipv4Addr) -> NatRecord {
        NatRecord {
            event,
            time_ms: 0,
            inside,
            outside,
            protocol: 0,
            inside_port: 0,
            outside_port: 0,
            first_port: 0,
            last_port: 0,
            remote: Ipv4Addr::UNSPECIFIED,
            remote_port: 0,
            inside6: Ipv6Addr::UNSPECIFIED,
            remote6: Ipv6Addr::UNSPECIFIED,
        }
    }
}

/// Why a flow record was exported (IPFIX flowEndReason, IE 136).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlowEnd {
    /// No packet for `idle_timeout` (1).
    Idle = 1,
    /// Alive for `active_timeout`: exported, and counted anew (2).
    Active = 2,
    /// The router stopped (4, "forced end").
    Forced = 4,
}

/// One accounted flow, as the subscriber sees it (inside addresses and ports;
/// ICMP: source port 0, destination port type × 256 + code, as NetFlow does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol.
    pub protocol: u8,
    /// Packets (segments of a super-packet count one each).
    pub packets: u64,
    /// Bytes of IP packets.
    pub bytes: u64,
    /// First packet, milliseconds since the router's epoch.
    pub start_ms: u64,
    /// Last packet, milliseconds since the router's epoch.
    pub end_ms: u64,
    /// Why it was exported.
    pub end: FlowEnd,
}

/// Something to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// A NAT event.
    Nat(NatRecord),
    /// An accounted flow.
    Flow(FlowRecord),
}

/// A worker's records waiting for the exporter: bounded, counted.
#[derive(Serialize, Deserialize)]
pub(crate) struct Exports {
    queue: VecDeque<Record>,
    capacity: usize,
    pub(crate) counts: IpfixUse,
}

impl Exports {
    pub(crate) fn new(capacity: u32) -> Exports {
        Exports {
            queue: VecDeque::new(),
            capacity: capacity as usize,
            counts: IpfixUse::default(),
        }
    }

    /// Queues `record`, or drops it (counted) when the queue is full.
    pub(crate) fn push(&mut self, record: Record) {
        if let Record::Nat(r) = record {
            self.counts.nat_events.add(r.event, 1);
        } else {
            self.counts.flow_records += 1;
        }
        if self.queue.len() >= self.capacity {
            self.counts.records_dropped += 1;
            return;
        }
        self.queue.push_back(record);
    }

    pub(crate) fn pop(&mut self) -> Option<Record> {
        self.queue.pop_front()
    }
}
