//! Counters: every dropped packet has a reason, every forwarded packet a family,
//! direction and protocol, every ICMP message the router sends a kind. `sixfold
//! stats` prints a [`Snapshot`] of them as JSON, and reads it back with the same
//! types: a renamed reason fails to compile instead of reading 0.

mod counts;
pub mod exposition;
mod fastpath;
mod keys;
mod takeover;

use crate::iface::SubscriberId;
use crate::persub::PerSubscriber;
pub use counts::{Counts, DropCounts, IcmpCounts, NatEventCounts};
pub use fastpath::FastPathUse;
pub use keys::{CounterKey, DropReason, IcmpSent, NatEvent};
pub use takeover::TakeoverUse;

use serde::{Deserialize, Serialize};
use sixfold_rewrite::IpProtocol;

/// Transport protocols counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Tcp,
    Udp,
    Icmp,
    Other,
}

impl Proto {
    pub(crate) fn of(protocol: IpProtocol) -> Proto {
        match protocol {
            IpProtocol::Tcp => Proto::Tcp,
            IpProtocol::Udp => Proto::Udp,
            IpProtocol::Icmp | IpProtocol::Icmpv6 => Proto::Icmp,
            _ => Proto::Other,
        }
    }
}

/// Packets and bytes.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Traffic {
    /// Packets.
    pub packets: u64,
    /// Bytes of IP packets.
    pub bytes: u64,
}

impl Traffic {
    fn add(&mut self, other: Traffic) {
        self.packets += other.packets;
        self.bytes += other.bytes;
    }
}

/// Traffic in one direction by transport protocol.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProtocolTraffic {
    /// ICMP or ICMPv6.
    pub icmp: Traffic,
    /// Every other protocol.
    pub other: Traffic,
    /// TCP.
    pub tcp: Traffic,
    /// UDP.
    pub udp: Traffic,
}

impl ProtocolTraffic {
    fn slot(&mut self, p: Proto) -> &mut Traffic {
        match p {
            Proto::Tcp => &mut self.tcp,
            Proto::Udp => &mut self.udp,
            Proto::Icmp => &mut self.icmp,
            Proto::Other => &mut self.other,
        }
    }

    /// Every protocol with its name (`tcp`, `udp`, `icmp`, `other`).
    pub fn iter(&self) -> [(&'static str, Traffic); 4] {
        [
            ("tcp", self.tcp),
            ("udp", self.udp),
            ("icmp", self.icmp),
            ("other", self.other),
        ]
    }

    /// All protocols together.
    pub fn total(&self) -> Traffic {
        let mut t = Traffic::default();
        for (_, x) in self.iter() {
            t.add(x);
        }
        t
    }

    fn merge(&mut self, other: &ProtocolTraffic) {
        self.tcp.add(other.tcp);
        self.udp.add(other.udp);
        self.icmp.add(other.icmp);
        self.other.add(other.other);
    }
}

/// Traffic of one family by direction and protocol.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FamilyTraffic {
    /// Subscriber to WAN (and hairpin).
    pub outbound: ProtocolTraffic,
    /// WAN to subscriber.
    pub inbound: ProtocolTraffic,
}

/// Which address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

/// The live counters of a router.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Counters {
    drops: DropCounts,
    icmp_sent: IcmpCounts,
    forwarded: [FamilyTraffic; 2],
    hairpinned: u64,
    fragments_translated: u64,
    fragments_generated: u64,
    segmented: u64,
    /// Per subscriber, on its side of the NAT.
    subscribers: PerSubscriber<SubscriberTraffic>,
}

impl Counters {
    /// Counters for a router with `subscribers` `[[subscriber]]` entries (range
    /// subscribers are counted apart, once they have traffic).
    pub(crate) fn new(subscribers: usize) -> Counters {
        Counters {
            subscribers: PerSubscriber::new(subscribers, SubscriberTraffic::default()),
            ..Counters::default()
        }
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops.add(reason, 1);
    }

    pub(crate) fn drops(&mut self, reason: DropReason, n: u64) {
        self.drops.add(reason, n);
    }

    /// Counts forwarded traffic: `packets` on the wire (a super-packet counts its
    /// segments) and their `bytes`.
    pub(crate) fn forward(
        &mut self,
        family: Family,
        outbound: bool,
        protocol: IpProtocol,
        packets: u64,
        bytes: u64,
    ) {
        let f = &mut self.forwarded[family as usize];
        let dir = if outbound {
            &mut f.outbound
        } else {
            &mut f.inbound
        };
        dir.slot(Proto::of(protocol))
            .add(Traffic { packets, bytes });
    }

    /// Counts forwarded traffic of subscriber `sub`.
    pub(crate) fn subscriber(
        &mut self,
        sub: SubscriberId,
        family: Family,
        outbound: bool,
        packets: u64,
        bytes: u64,
    ) {
        self.subscribers
            .update(sub, |t| t.add(family, outbound, packets, bytes));
    }

    /// Subscriber `sub`'s forwarded traffic.
    pub(crate) fn subscriber_traffic(&self, sub: SubscriberId) -> SubscriberTraffic {
        *self.subscribers.get(sub)
    }

    /// Forgets the traffic of subscribers a reload removed.
    pub(crate) fn forget_subscribers(&mut self, gone: &dyn Fn(SubscriberId) -> bool) {
        self.subscribers.forget(gone);
    }

    /// Range subscribers with traffic counted.
    pub(crate) fn range_subscribers(&self) -> impl Iterator<Item = SubscriberId> + '_ {
        self.subscribers.sparse_ids()
    }

    pub(crate) fn hairpinned(&mut self, packets: u64) {
        self.hairpinned += packets;
    }

    /// Super-packets the router had to cut into segments itself.
    pub(crate) fn segmented(&mut self, segments: u64) {
        self.segmented += segments;
    }

    pub(crate) fn fragment_translated(&mut self) {
        self.fragments_translated += 1;
    }

    pub(crate) fn fragments_generated(&mut self, n: u64) {
        self.fragments_generated += n;
    }

    pub(crate) fn icmp(&mut self, kind: IcmpSent) {
        self.icmp_sent.add(kind, 1);
    }

    /// The counters' part of a snapshot.
    pub(crate) fn fill(&self, s: &mut Snapshot) {
        s.drops = self.drops.clone();
        s.icmp_sent = self.icmp_sent.clone();
        s.ipv4 = self.forwarded[Family::V4 as usize];
        s.ipv6 = self.forwarded[Family::V6 as usize];
        s.hairpinned = self.hairpinned;
        s.fragments_translated = self.fragments_translated;
        s.fragments_generated = self.fragments_generated;
        s.segments_generated = self.segmented;
    }
}

/// The router process (`sixfold stats` → `process`): which it is, since when,
/// and since when its state exists across upgrades.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// When this process started (RFC 3339, UTC).
    pub started: String,
    /// When the state it runs was first created: the first process's start
    /// (RFC 3339, UTC).
    pub state_since: String,
    /// Handovers to a new process so far (`sixfold upgrade`).
    pub upgrades: u64,
}

/// External ports a subscriber uses, per protocol.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortUse {
    /// ICMP query identifiers.
    pub icmp: u32,
    /// TCP ports.
    pub tcp: u32,
    /// UDP ports.
    pub udp: u32,
}

/// One subscriber's use of the NAT and the firewall.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubscriberUse {
    /// TUN name; for a `[[subscriber_range]]`'s subscriber `<range>/<IPv4
    /// address>` (`<range>/<IPv6 prefix>` in a range without IPv4).
    pub name: String,
    /// The public address all its sessions use (paired pooling), once it has one.
    pub public_ipv4: Option<std::net::Ipv4Addr>,
    /// External ports in use.
    pub ports: PortUse,
    /// Sessions.
    pub sessions: u32,
    /// IPv6 firewall flows.
    pub ipv6_flows: u32,
    /// Port blocks it holds (`[nat] allocation = "block"`).
    pub blocks: u32,
    /// Its forwarded traffic, counted on its side of the NAT.
    pub traffic: SubscriberTraffic,
}

/// A subscriber's forwarded traffic by family and direction (what flow
/// accounting before the NAT must add up to).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubscriberTraffic {
    /// IPv4 it sent (hairpinned included).
    pub ipv4_out: Traffic,
    /// IPv4 it received (hairpinned included).
    pub ipv4_in: Traffic,
    /// IPv6 it sent.
    pub ipv6_out: Traffic,
    /// IPv6 it received.
    pub ipv6_in: Traffic,
}

impl SubscriberTraffic {
    /// Adds `packets` and `bytes` in `family` and direction.
    pub(crate) fn add(&mut self, family: Family, outbound: bool, packets: u64, bytes: u64) {
        let slot = match (family, outbound) {
            (Family::V4, true) => &mut self.ipv4_out,
            (Family::V4, false) => &mut self.ipv4_in,
            (Family::V6, true) => &mut self.ipv6_out,
            (Family::V6, false) => &mut self.ipv6_in,
        };
        slot.add(Traffic { packets, bytes });
    }

    fn merge(&mut self, other: &SubscriberTraffic) {
        self.ipv4_out.add(other.ipv4_out);
        self.ipv4_in.add(other.ipv4_in);
        self.ipv6_out.add(other.ipv6_out);
        self.ipv6_in.add(other.ipv6_in);
    }
}

/// IPFIX export: what was produced and what was lost, by the workers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IpfixUse {
    /// NAT events produced, by kind (every kind listed).
    pub nat_events: NatEventCounts,
    /// Flow-accounting records produced.
    pub flow_records: u64,
    /// Records dropped because a queue towards the exporter was full.
    pub records_dropped: u64,
    /// Records handed to the exporter.
    pub records_exported: u64,
    /// Flows being accounted now.
    pub flows: u64,
    /// Forwarded packets not accounted because the flow table was full.
    pub flows_overflow: u64,
    /// Port blocks live now.
    pub blocks: u64,
    /// IPFIX messages (templates or records) the exporter's socket refused to
    /// send: lost, counted by the exporter, not the workers.
    #[serde(default)]
    pub messages_unsent: u64,
}

impl IpfixUse {
    fn merge(&mut self, other: &IpfixUse) {
        self.nat_events.merge(&other.nat_events);
        self.flow_records += other.flow_records;
        self.records_dropped += other.records_dropped;
        self.records_exported += other.records_exported;
        self.flows += other.flows;
        self.flows_overflow += other.flows_overflow;
        self.blocks += other.blocks;
        self.messages_unsent += other.messages_unsent;
    }
}

/// Everything `sixfold stats` prints.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    /// The process that answers: its pid, start, the state's age, upgrades
    /// (set by the device layer; empty in the sans-IO core).
    #[serde(default)]
    pub process: Process,
    /// Dropped packets by reason (every reason listed, zero or not).
    pub drops: DropCounts,
    /// Forwarded IPv4.
    pub ipv4: FamilyTraffic,
    /// Forwarded IPv6.
    pub ipv6: FamilyTraffic,
    /// Packets sent back to a subscriber through its own public address.
    pub hairpinned: u64,
    /// ICMP messages the router generated, by kind (every kind listed).
    pub icmp_sent: IcmpCounts,
    /// Live NAT sessions.
    pub sessions: u64,
    /// Live NAT mappings (external ports in use).
    pub mappings: u64,
    /// Sessions created since start.
    pub sessions_created: u64,
    /// Sessions expired since start.
    pub sessions_expired: u64,
    /// Live IPv6 firewall flows (RFC 6092 state).
    pub ipv6_flows: u64,
    /// IPv6 flows created since start.
    pub ipv6_flows_created: u64,
    /// IPv6 flows expired since start.
    pub ipv6_flows_expired: u64,
    /// Non-first IPv4 fragments translated.
    pub fragments_translated: u64,
    /// Fragments the router made (DF=0 and too big for the egress link).
    pub fragments_generated: u64,
    /// Segments the router cut offloaded super-packets into itself (their
    /// segments too big for the egress link; normally the kernel segments).
    pub segments_generated: u64,
    /// The data path: offload and workers.
    pub datapath: Datapath,
    /// The in-kernel fast path (`[fastpath]`).
    #[serde(default)]
    pub fastpath: FastPathUse,
    /// Per subscriber: every `[[subscriber]]`, then the range subscribers
    /// with sessions, IPv6 flows or counted traffic.
    pub subscribers: Vec<SubscriberUse>,
    /// Per egress shaper (links with a rate).
    pub shapers: Vec<ShaperUse>,
    /// IPv6 addresses with NAT64 state (RFC 6146): their sessions are among
    /// `sessions`, their ports among the subscribers' `ports`.
    pub nat64_hosts: u64,
    /// IPFIX export.
    pub ipfix: IpfixUse,
    /// Pool addresses a reload removed that still carry sessions: they drain
    /// (nothing new is given them) until their last session ends.
    #[serde(default)]
    pub draining: Vec<DrainingAddress>,
    /// The takeover of a predecessor's slice (`[takeover]`).
    #[serde(default)]
    pub takeover: TakeoverUse,
}

/// A pool address being drained.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DrainingAddress {
    /// The public address.
    pub address: std::net::Ipv4Addr,
    /// Its live sessions.
    pub sessions: u64,
    /// Its live mappings (external ports in use).
    pub mappings: u64,
}

impl Snapshot {
    /// Bytes forwarded in both directions, IPv4 and IPv6.
    pub fn bytes_by_family(&self) -> (u64, u64) {
        let total = |f: &FamilyTraffic| f.outbound.total().bytes + f.inbound.total().bytes;
        (total(&self.ipv4), total(&self.ipv6))
    }

    /// Adds another worker's counters to these (several workers, one report).
    /// Subscribers are summed by name (each worker lists every `[[subscriber]]`,
    /// with use only for those it serves, and the range subscribers it has
    /// state for); shapers are summed by link.
    pub fn merge(&mut self, other: &Snapshot) {
        self.drops.merge(&other.drops);
        self.icmp_sent.merge(&other.icmp_sent);
        for (mine, theirs) in [(&mut self.ipv4, &other.ipv4), (&mut self.ipv6, &other.ipv6)] {
            mine.outbound.merge(&theirs.outbound);
            mine.inbound.merge(&theirs.inbound);
        }
        self.hairpinned += other.hairpinned;
        self.sessions += other.sessions;
        self.mappings += other.mappings;
        self.sessions_created += other.sessions_created;
        self.sessions_expired += other.sessions_expired;
        self.ipv6_flows += other.ipv6_flows;
        self.ipv6_flows_created += other.ipv6_flows_created;
        self.ipv6_flows_expired += other.ipv6_flows_expired;
        self.fragments_translated += other.fragments_translated;
        self.fragments_generated += other.fragments_generated;
        self.segments_generated += other.segments_generated;
        self.merge_subscribers(&other.subscribers);
        for theirs in &other.shapers {
            match self.shapers.iter_mut().find(|s| s.name == theirs.name) {
                Some(mine) => {
                    for (m, t) in [
                        (&mut mine.ipv4, &theirs.ipv4),
                        (&mut mine.ipv6, &theirs.ipv6),
                    ] {
                        m.packets += t.packets;
                        m.bytes += t.bytes;
                        m.dropped += t.dropped;
                    }
                    mine.rate_mbps += theirs.rate_mbps;
                }
                None => self.shapers.push(theirs.clone()),
            }
        }
        for theirs in &other.draining {
            match self
                .draining
                .iter_mut()
                .find(|d| d.address == theirs.address)
            {
                Some(mine) => {
                    mine.sessions += theirs.sessions;
                    mine.mappings += theirs.mappings;
                }
                None => self.draining.push(theirs.clone()),
            }
        }
        self.draining.sort_by_key(|d| d.address);
        self.nat64_hosts += other.nat64_hosts;
        self.datapath.handoffs += other.datapath.handoffs;
        self.datapath.handoff_full += other.datapath.handoff_full;
        self.datapath.route_failures += other.datapath.route_failures;
        self.datapath.wakeups += other.datapath.wakeups;
        self.datapath.packets_read += other.datapath.packets_read;
        self.datapath.io_calls += other.datapath.io_calls;
        self.datapath.super_packets_whole += other.datapath.super_packets_whole;
        self.datapath.super_packets_segmented += other.datapath.super_packets_segmented;
        self.ipfix.merge(&other.ipfix);
        self.takeover.merge(&other.takeover);
        self.fastpath.merge(&other.fastpath);
    }

    /// Subscribers summed by name; one only another worker lists is added.
    fn merge_subscribers(&mut self, others: &[SubscriberUse]) {
        let mut at: std::collections::HashMap<String, usize> = self
            .subscribers
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        for theirs in others {
            match at.get(&theirs.name).map(|&i| &mut self.subscribers[i]) {
                Some(mine) => {
                    mine.public_ipv4 = mine.public_ipv4.or(theirs.public_ipv4);
                    mine.ports.tcp += theirs.ports.tcp;
                    mine.ports.udp += theirs.ports.udp;
                    mine.ports.icmp += theirs.ports.icmp;
                    mine.sessions += theirs.sessions;
                    mine.ipv6_flows += theirs.ipv6_flows;
                    mine.blocks += theirs.blocks;
                    mine.traffic.merge(&theirs.traffic);
                }
                None => {
                    at.insert(theirs.name.clone(), self.subscribers.len());
                    self.subscribers.push(theirs.clone());
                }
            }
        }
    }
}

/// How packets reach the router and leave it (set by the I/O loop; the core
/// alone reports the defaults).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Datapath {
    /// The TUNs were opened with offload (virtio-net header): super-packets in
    /// and out.
    pub offload: bool,
    /// TCP segmentation offload was accepted by the kernel (TSO4/6).
    pub tso: bool,
    /// UDP segmentation offload was accepted by the kernel (USO4/6; Linux ≥ 6.2).
    pub uso: bool,
    /// Why offload is off, when it was asked for and refused.
    pub offload_refused: Option<String>,
    /// Worker threads.
    pub workers: u32,
    /// Packets handed from one worker to another (they came in on the wrong
    /// queue).
    pub handoffs: u64,
    /// Packets dropped because the other worker's hand-off ring was full.
    pub handoff_full: u64,
    /// Announce routes (`[[subscriber_range]] announce`) the kernel refused to
    /// add or remove while the router ran (each is logged).
    #[serde(default)]
    pub route_failures: u64,
    /// Times a worker waited in `poll(2)` for packets: a worker waits only when
    /// its last round left nothing to read, and then reads a burst from every
    /// ready device, so `packets_read / wakeups` is the packets per wake-up.
    #[serde(default)]
    pub wakeups: u64,
    /// Packets read from the TUNs (a super-packet once).
    #[serde(default)]
    pub packets_read: u64,
    /// System calls that moved packets on the TUNs: one per packet, or with
    /// io_uring one per burst of reads or writes (see `packets_read`).
    #[serde(default)]
    pub io_calls: u64,
    /// Super-packets written whole, with their virtio-net header, to a TUN that
    /// takes offload: the receiving kernel segments them if it must.
    #[serde(default)]
    pub super_packets_whole: u64,
    /// Super-packets the router cut into segments itself, because the TUN they
    /// left through takes no offload.
    #[serde(default)]
    pub super_packets_segmented: u64,
}

/// What one egress shaper let out, and dropped, per family.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShaperUse {
    /// The link (TUN name).
    pub name: String,
    /// Its rate, Mbit/s.
    pub rate_mbps: u32,
    /// IPv6 sent and dropped.
    pub ipv6: ShapedTraffic,
    /// IPv4 sent and dropped.
    pub ipv4: ShapedTraffic,
}

/// One family through a shaper.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShapedTraffic {
    /// Packets sent.
    pub packets: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Packets dropped at the queue's tail.
    pub dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_follow_all_and_names_are_unique() {
        fn check<K: CounterKey + PartialEq + std::fmt::Debug>() {
            for (i, k) in K::ALL.iter().enumerate() {
                assert_eq!(k.index(), i, "{k:?}");
            }
            let mut names: Vec<&str> = K::ALL.iter().map(|k| k.name()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), K::ALL.len());
        }
        check::<DropReason>();
        check::<IcmpSent>();
        check::<NatEvent>();
    }

    #[test]
    fn snapshot_json_round_trips_with_every_key_named() {
        let mut c = Counters::default();
        c.drop(DropReason::TunnelTeredo);
        c.drops(DropReason::FragmentTimeout, 3);
        c.icmp(IcmpSent::Ipv6PacketTooBig);
        c.forward(Family::V6, true, IpProtocol::Tcp, 1, 1500);
        let mut s = Snapshot::default();
        c.fill(&mut s);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["drops"]["tunnel_teredo"], 1);
        assert_eq!(json["drops"]["malformed"], 0);
        assert_eq!(json["icmp_sent"]["ipv6_packet_too_big"], 1);
        assert_eq!(json["ipv6"]["outbound"]["tcp"]["bytes"], 1500);
        assert_eq!(
            json["drops"].as_object().unwrap().len(),
            DropReason::ALL.len()
        );
        let back: Snapshot = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.drops[DropReason::FragmentTimeout], 3);
        let bad = serde_json::json!({"drops": {"no_such_reason": 1}});
        let e = serde_json::from_value::<Snapshot>(bad).unwrap_err();
        assert!(e.to_string().contains("no_such_reason"), "{e}");
    }

    #[test]
    fn merged_snapshots_add_up() {
        let mut a = Snapshot::default();
        a.drops.add(DropReason::Filtered, 2);
        a.sessions = 5;
        a.ipv4.inbound.udp.bytes = 100;
        let mut b = a.clone();
        b.subscribers.push(SubscriberUse::default());
        a.merge(&b);
        assert_eq!(a.drops[DropReason::Filtered], 4);
        assert_eq!((a.sessions, a.ipv4.inbound.udp.bytes), (10, 200));
        assert_eq!(a.subscribers.len(), 1);
    }
}
