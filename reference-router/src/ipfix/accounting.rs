//! Flow accounting before the NAT (`[ipfix] accounting = true`): the router
//! counts each forwarded packet under the flow the subscriber sees — its own
//! inside address and port, the remote's — as FreeBSD's `ng_netflow` does on the
//! customer-facing interface, and exports a flow when it has been idle
//! `idle_timeout` seconds or alive `active_timeout` seconds (softflowd's
//! defaults: 15 s and 30 min), and when the router stops.
//!
//! Flows sit in a slab with one hash index and the router's [`Wheel`], like NAT
//! sessions: a packet of a known flow is one hash probe and a few stores; expiry
//! is bounded work per call. A NAT session or IPv6 firewall flow keeps where its
//! flows' records are ([`Accounting::count_at`]), so its packets skip the probe:
//! the place is checked against the record's key (a freed record's matches no
//! key), so a record exported and reused is never counted through a stale place
//! — the packet takes the probe and the place is refreshed. The table holds at most `max_flows`; a packet of a
//! new flow beyond that is forwarded unaccounted and counted
//! (`ipfix.flows_overflow`): memory is bounded, forwarding never waits.

use super::{Exports, FlowEnd, FlowRecord, Record};
use crate::wheel::{self, NIL, Wheel};
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A flow's key: addresses (an IPv4 address in the low 32 bits), and in `rest`
/// the ports (source port in bits 48-63, destination 32-47), the protocol
/// (bits 8-15) and the family (bit 0: IPv6). Plain words: a probe hashes and
/// compares five of them, no more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct FlowKey {
    src: u128,
    dst: u128,
    rest: u64,
}

impl FlowKey {
    fn rest(ports: (u16, u16), protocol: u8, v6: bool) -> u64 {
        u64::from(ports.0) << 48
            | u64::from(ports.1) << 32
            | u64::from(protocol) << 8
            | u64::from(v6)
    }

    /// An IPv4 flow.
    pub(crate) fn v4(src: Ipv4Addr, dst: Ipv4Addr, ports: (u16, u16), protocol: u8) -> FlowKey {
        FlowKey {
            src: u32::from(src).into(),
            dst: u32::from(dst).into(),
            rest: FlowKey::rest(ports, protocol, false),
        }
    }

    /// A key no flow has (bit 1 of `rest` is never set): a freed record's.
    const FREED: FlowKey = FlowKey {
        src: 0,
        dst: 0,
        rest: 2,
    };

    /// An IPv6 flow.
    pub(crate) fn v6(src: Ipv6Addr, dst: Ipv6Addr, ports: (u16, u16), protocol: u8) -> FlowKey {
        FlowKey {
            src: src.into(),
            dst: dst.into(),
            rest: FlowKey::rest(ports, protocol, true),
        }
    }

    /// The record of the flow: addresses, ports, protocol.
    fn parts(&self) -> (IpAddr, IpAddr, u16, u16, u8) {
        let address = |a: u128| match self.rest & 1 {
            0 => IpAddr::V4(Ipv4Addr::from(a as u32)),
            _ => IpAddr::V6(Ipv6Addr::from(a)),
        };
        let r = self.rest;
        (
            address(self.src),
            address(self.dst),
            (r >> 48) as u16,
            (r >> 32) as u16,
            (r >> 8) as u8,
        )
    }
}

/// One flow being counted.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Flow {
    key: FlowKey,
    packets: u64,
    bytes: u64,
    start_ms: u64,
    last_ms: u64,
    /// Second of the first packet (for the active timeout).
    start: u32,
    /// Absolute second the flow is due: idle or active timeout, the earlier.
    expires: u32,
    prev: u32,
    next: u32,
    slot: u16,
}

crate::wheel::timed_record!(Flow);

#[derive(Serialize, Deserialize)]
pub(crate) struct Accounting {
    flows: Vec<Flow>,
    free: u32,
    index: HashMap<FlowKey, u32, RandomState>,
    wheel: Wheel,
    idle: u32,
    active: u32,
    max: u32,
    live: u32,
    /// Packets not accounted because the table was full.
    pub(crate) overflow: u64,
}

impl Accounting {
    /// A table of at most `max` flows, timing out after `idle` / `active` seconds.
    pub(crate) fn new(max: u32, idle: u32, active: u32, now: u32) -> Accounting {
        Accounting {
            flows: Vec::new(),
            free: NIL,
            index: HashMap::default(),
            wheel: Wheel::new(now),
            idle,
            active,
            max: max.max(1),
            live: 0,
            overflow: 0,
        }
    }

    /// Takes a reload's bound and timeouts for what comes next (a flow's
    /// expiry moves with its next packet).
    pub(crate) fn set_limits(&mut self, max: u32, idle: u32, active: u32) {
        (self.max, self.idle, self.active) = (max.max(1), idle, active);
    }

    /// Flows counted now.
    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    /// Counts `packets` and `bytes` of flow `key` at second `now` (`now_ms`).
    pub(crate) fn count(&mut self, key: &FlowKey, packets: u64, bytes: u64, now: u32, now_ms: u64) {
        self.count_at(NIL, key, packets, bytes, now, now_ms);
    }

    /// Counts as [`Accounting::count`] does, looking first at record `at` (where
    /// the flow's record was, kept by its NAT session or firewall flow; [`NIL`]
    /// for nowhere): if that record is `key`'s, no hash probe. Returns where the
    /// record is now, [`NIL`] if the table was full.
    pub(crate) fn count_at(
        &mut self,
        at: u32,
        key: &FlowKey,
        packets: u64,
        bytes: u64,
        now: u32,
        now_ms: u64,
    ) -> u32 {
        let found = match self.flows.get(at as usize) {
            Some(f) if f.key == *key => Some(at),
            _ => self.index.get(key).copied(),
        };
        if let Some(i) = found {
            let f = &mut self.flows[i as usize];
            f.packets += packets;
            f.bytes += bytes;
            f.last_ms = now_ms;
            // A later expiry is picked up when the wheel reaches the old one.
            f.expires = now
                .saturating_add(self.idle)
                .min(f.start.saturating_add(self.active));
            return i;
        }
        if self.live >= self.max {
            self.overflow += packets;
            return NIL;
        }
        let flow = Flow {
            key: *key,
            packets,
            bytes,
            start_ms: now_ms,
            last_ms: now_ms,
            start: now,
            expires: now.saturating_add(self.idle.min(self.active)),
            prev: NIL,
            next: NIL,
            slot: 0,
        };
        let i = wheel::place(&mut self.flows, &mut self.free, flow);
        self.index.insert(*key, i);
        self.wheel.link(&mut self.flows, i);
        self.live += 1;
        i
    }

    /// Exports flow `i` to `out` and frees it.
    fn export(&mut self, i: u32, end: FlowEnd, out: &mut Exports) {
        self.wheel.unlink(&mut self.flows, i);
        let f = self.flows[i as usize];
        self.index.remove(&f.key);
        let (src, dst, src_port, dst_port, protocol) = f.key.parts();
        out.push(Record::Flow(FlowRecord {
            src,
            dst,
            src_port,
            dst_port,
            protocol,
            packets: f.packets,
            bytes: f.bytes,
            start_ms: f.start_ms,
            end_ms: f.last_ms,
            end,
        }));
        self.flows[i as usize].key = FlowKey::FREED;
        wheel::release(&mut self.flows, &mut self.free, i);
        self.live -= 1;
    }

    /// Exports flows whose time is up at second `now`, with bounded work.
    pub(crate) fn expire(&mut self, now: u32, budget: usize, out: &mut Exports) {
        if !self.wheel.due(now) {
            return;
        }
        let mut work = 0;
        while let Some(i) = self
            .wheel
            .next_expired(&mut self.flows, now, &mut work, budget)
        {
            let f = &self.flows[i as usize];
            let end = if now >= f.start.saturating_add(self.active) {
                FlowEnd::Active
            } else {
                FlowEnd::Idle
            };
            self.export(i, end, out);
        }
    }

    /// Exports every flow (the router stops).
    pub(crate) fn flush(&mut self, out: &mut Exports) {
        let live: Vec<u32> = self.index.values().copied().collect();
        for i in live {
            self.export(i, FlowEnd::Forced, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        FlowKey::v4(a("100.64.1.1"), a("192.0.2.80"), (port, 80), 6)
    }

    fn flows(out: &mut Exports) -> Vec<FlowRecord> {
        std::iter::from_fn(|| out.pop())
            .map(|r| match r {
                Record::Flow(f) => f,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn idle_and_active_timeouts_and_the_bound() {
        let mut a = Accounting::new(2, 15, 60, 0);
        let mut out = Exports::new(100);
        a.count(&key(1), 1, 100, 0, 10);
        a.count(&key(1), 2, 3000, 10, 10_500);
        a.count(&key(2), 1, 60, 1, 1_000);
        a.count(&key(3), 1, 60, 1, 1_000);
        assert_eq!((a.live(), a.overflow), (2, 1), "full: counted, not kept");
        a.expire(15, usize::MAX, &mut out);
        assert!(flows(&mut out).is_empty(), "key 1 was refreshed at 10");
        a.expire(16, usize::MAX, &mut out);
        let got = flows(&mut out);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].src_port, got[0].end), (2, FlowEnd::Idle));
        // Key 1 stays busy: exported at 60 by the active timeout.
        for t in (20..60).step_by(5) {
            a.count(&key(1), 1, 10, t, u64::from(t) * 1000);
        }
        a.expire(59, usize::MAX, &mut out);
        assert!(flows(&mut out).is_empty());
        a.expire(60, usize::MAX, &mut out);
        let got = flows(&mut out);
        assert_eq!(got.len(), 1);
        let f = got[0];
        assert_eq!((f.packets, f.bytes, f.end), (11, 3180, FlowEnd::Active));
        assert_eq!((f.start_ms, f.end_ms), (10, 55_000));
        assert_eq!(f.src.to_string(), "100.64.1.1");
        assert_eq!(a.live(), 0);
        a.count(&key(4), 1, 1, 61, 61_000);
        a.flush(&mut out);
        assert_eq!(flows(&mut out)[0].end, FlowEnd::Forced);
    }

    #[test]
    fn flow_records_stay_as_the_readme_says() {
        // Two cache lines: docs/performance.md's "what is left per packet".
        assert_eq!(size_of::<Flow>(), 112);
        assert_eq!(size_of::<FlowKey>(), 48);
    }

    #[test]
    fn a_place_kept_elsewhere_is_checked_against_the_key() {
        let mut a = Accounting::new(2, 15, 60, 0);
        let mut out = Exports::new(100);
        let one = a.count_at(NIL, &key(1), 1, 100, 0, 0);
        assert_eq!(a.count_at(one, &key(1), 1, 50, 1, 1_000), one);
        // A place that is another flow's counts the right flow, and says where.
        let two = a.count_at(one, &key(2), 1, 60, 1, 1_000);
        assert_ne!(two, one);
        // Both exported by the idle timeout; key 3 takes a freed record.
        a.expire(16, usize::MAX, &mut out);
        let got = flows(&mut out);
        assert!(got.iter().all(|f| f.end == FlowEnd::Idle));
        let counts = |f: &FlowRecord| (f.src_port, f.packets, f.bytes);
        let mut exported: Vec<_> = got.iter().map(counts).collect();
        exported.sort_unstable();
        assert_eq!(exported, [(1, 2, 150), (2, 1, 60)]);
        let three = a.count_at(NIL, &key(3), 1, 7, 20, 20_000);
        // Stale places: one of them is key 3's record now, the other freed;
        // neither counts key 1 or 2 into key 3 or into nothing.
        let one_again = a.count_at(one, &key(1), 1, 10, 21, 21_000);
        assert_eq!(a.live(), 2);
        assert_eq!(a.count_at(two, &key(2), 1, 20, 21, 21_000), NIL);
        assert_eq!((a.live(), a.overflow), (2, 1), "full: counted, not kept");
        assert_eq!(a.count_at(three, &key(3), 1, 7, 22, 22_000), three);
        assert_eq!(a.count_at(one, &key(1), 1, 10, 22, 22_000), one_again);
        a.flush(&mut out);
        let got = flows(&mut out);
        let counts = |f: &FlowRecord| (f.src_port, f.packets, f.bytes, f.start_ms, f.end_ms);
        let mut exported: Vec<_> = got.iter().map(counts).collect();
        exported.sort_unstable();
        assert_eq!(
            exported,
            [(1, 2, 20, 21_000, 22_000), (3, 2, 14, 20_000, 22_000)]
        );
    }
}
