//! Counters: every dropped packet has a reason, every forwarded packet a family,
//! direction and protocol, every ICMP message the router sends a kind. `sixfold
//! stats` prints a [`Snapshot`] of them as JSON, and reads it back with the same
//! types: a renamed reason fails to compile instead of reading 0.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use sixfold_rewrite::IpProtocol;
use std::fmt;
use std::marker::PhantomData;

/// A kind of event counted by name: the names are the JSON keys.
pub trait CounterKey: Copy + 'static {
    /// Every key, in counter order.
    const ALL: &'static [Self];
    /// The key's name in counters and logs.
    fn name(self) -> &'static str;
    /// The key's position in [`CounterKey::ALL`].
    fn index(self) -> usize;
}

macro_rules! counter_keys {
    (
        $(#[$meta:meta])* pub enum $enum:ident {
            $($(#[$doc:meta])* $name:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $enum {
            $($(#[$doc])* $name,)*
        }

        impl $enum {
            /// Every value, in counter order.
            pub const ALL: &'static [$enum] = &[$($enum::$name,)*];

            /// The name in counters and logs.
            pub const fn name(self) -> &'static str {
                match self {
                    $($enum::$name => $text,)*
                }
            }

            /// The value named `name`, if any.
            pub fn from_name(name: &str) -> Option<$enum> {
                $enum::ALL.iter().copied().find(|k| k.name() == name)
            }
        }

        impl fmt::Display for $enum {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl CounterKey for $enum {
            const ALL: &'static [$enum] = $enum::ALL;

            fn name(self) -> &'static str {
                $enum::name(self)
            }

            fn index(self) -> usize {
                // A field-less enum: the discriminant is the position in `ALL`.
                self as usize
            }
        }
    };
}

counter_keys! {
    /// Why a packet was dropped.
    pub enum DropReason {
        /// Not an IPv4 or IPv6 packet, or a header that does not parse.
        Malformed = "malformed",
        /// The IPv4 header checksum is wrong.
        BadIpChecksum = "bad_ip_checksum",
        /// A subscriber sent from an address that is not its own (anti-spoofing).
        Spoofed = "spoofed",
        /// No route: an IPv4 destination outside the pool from the WAN, an IPv6
        /// destination in no subscriber's prefix from the WAN.
        NoRoute = "no_route",
        /// Addressed to a link-local, multicast or unspecified address; not routed.
        NotRoutable = "not_routable",
        /// TTL or hop limit ran out; a time exceeded went back.
        TtlExceeded = "ttl_exceeded",
        /// Too big for the egress link with DF set (IPv4) or at all (IPv6); an ICMP went back.
        TooBig = "too_big",
        /// From the WAN, for no mapping.
        NoMapping = "no_mapping",
        /// From the WAN, for a mapping whose filtering does not admit the sender.
        Filtered = "filtered",
        /// An unsolicited inbound SYN, held (RFC 5382 REQ-4).
        SynHeld = "syn_held",
        /// An inbound SYN dropped because a held one for the same flow waits already, or
        /// because the hold table is full.
        SynHoldFull = "syn_hold_full",
        /// A subscriber to a public address of the pool with hairpinning off.
        HairpinOff = "hairpin_off",
        /// The subscriber has no free port for the protocol (RFC 6888 REQ-4).
        PortLimit = "port_limit",
        /// The subscriber has its maximum number of sessions.
        SubscriberSessionLimit = "subscriber_session_limit",
        /// The table holds `nat.max_sessions`.
        SessionLimit = "session_limit",
        /// The subscriber's public address has no free port.
        PoolExhausted = "pool_exhausted",
        /// An IPv4 protocol the NAT cannot translate (no ports or identifiers).
        UnsupportedProtocol = "unsupported_protocol",
        /// An ICMP type the NAT does not pass (RFC 5508 REQ-11).
        UnsupportedIcmp = "unsupported_icmp",
        /// An ICMP error for which no session exists (RFC 5508 REQ-4).
        IcmpErrorNoSession = "icmp_error_no_session",
        /// An ICMP error with a bad ICMP checksum or a bad quoted IP header (RFC 5508 REQ-3).
        IcmpErrorBadChecksum = "icmp_error_bad_checksum",
        /// An ICMP error whose quoted packet does not parse or does not match its outer header.
        IcmpErrorBadQuote = "icmp_error_bad_quote",
        /// A fragment beyond the fragment-tracking limits.
        FragmentLimit = "fragment_limit",
        /// Fragments whose first fragment never came in time.
        FragmentTimeout = "fragment_timeout",
        /// A non-first fragment of an IPv4 datagram whose translation failed.
        FragmentOrphan = "fragment_orphan",
        /// An IPv6 packet with a source outside the subscriber's prefixes (anti-spoofing),
        /// or from the WAN with a source inside a subscriber prefix.
        Ipv6Spoofed = "ipv6_spoofed",
        /// An IPv6 packet crossing the WAN with a type 0 routing header before its upper
        /// layer (deprecated by RFC 5095; RFC 6092 says never forward it).
        Ipv6RoutingHeader0 = "ipv6_routing_header_0",
        /// Packets generated by the router that were not sent because of the ICMP rate limit.
        IcmpRateLimited = "icmp_rate_limited",
        /// The router's own output queue was full.
        QueueFull = "queue_full",
        /// The egress shaper's queue for the packet's family was full (a saturated line).
        ShaperQueueFull = "shaper_queue_full",
        /// IPv4 protocol 41, a configured 6in4 tunnel (RFC 4213).
        Tunnel6in4 = "tunnel_6in4",
        /// IPv4 protocol 41 with 6to4 inner addresses (RFC 3056).
        Tunnel6to4 = "tunnel_6to4",
        /// IPv4 protocol 41 with ISATAP inner addresses (RFC 5214).
        TunnelIsatap = "tunnel_isatap",
        /// IPv4 protocol 41 in the configured 6rd domain (RFC 5969).
        Tunnel6rd = "tunnel_6rd",
        /// To or from the 6to4 relay anycast prefix 192.88.99.0/24.
        Tunnel6to4Relay = "tunnel_6to4_relay",
        /// Teredo (RFC 4380): UDP 3544 or recognised on another port.
        TunnelTeredo = "tunnel_teredo",
        /// AYIYA.
        TunnelAyiya = "tunnel_ayiya",
        /// TSP (RFC 5572), port 3653.
        TunnelTsp = "tunnel_tsp",
        /// GRE carrying IPv6.
        TunnelGreIpv6 = "tunnel_gre_ipv6",
        /// IPv4-in-IPv6 from a subscriber.
        Tunnel4in6 = "tunnel_4in6",
        /// IPv6-in-IPv6 from a subscriber.
        Tunnel6in6 = "tunnel_6in6",
        /// An IPv6 source or destination in 2001::/32 (Teredo relays).
        TunnelTeredoPrefix = "tunnel_teredo_prefix",
        /// An IPv6 source or destination in 2002::/16 (6to4 relays).
        Tunnel6to4Prefix = "tunnel_6to4_prefix",
    }
}

counter_keys! {
    /// An ICMP or ICMPv6 message the router sent on its own.
    pub enum IcmpSent {
        /// ICMPv4 time exceeded (TTL ran out).
        TimeExceeded = "time_exceeded",
        /// ICMPv4 fragmentation needed, with the next-hop MTU (RFC 1191).
        FragmentationNeeded = "fragmentation_needed",
        /// ICMPv4 communication administratively prohibited: the NAT refused a
        /// new flow (RFC 5508 REQ-8, RFC 6888 REQ-11).
        AdminProhibited = "admin_prohibited",
        /// ICMPv4 port unreachable for an unsolicited SYN held in vain (RFC 5382 REQ-4).
        PortUnreachable = "port_unreachable",
        /// ICMPv6 time exceeded (hop limit ran out).
        Ipv6TimeExceeded = "ipv6_time_exceeded",
        /// ICMPv6 packet too big.
        Ipv6PacketTooBig = "ipv6_packet_too_big",
        /// ICMPv6 administratively prohibited: the firewall refused a flow, or an
        /// unsolicited SYN was held in vain (RFC 6092).
        Ipv6AdminProhibited = "ipv6_admin_prohibited",
        /// Router advertisements (RFC 4861), solicited or not.
        RouterAdvertisement = "router_advertisement",
    }
}

/// One count per key of `K`, indexed by the key; serialised as a map from every
/// key's name to its count (zero included).
#[derive(Clone, PartialEq, Eq)]
pub struct Counts<K> {
    counts: Vec<u64>,
    keys: PhantomData<K>,
}

/// Dropped packets by reason.
pub type DropCounts = Counts<DropReason>;
/// ICMP messages the router sent, by kind.
pub type IcmpCounts = Counts<IcmpSent>;

impl<K: CounterKey> Counts<K> {
    /// All zero.
    pub fn new() -> Counts<K> {
        Counts {
            counts: vec![0; K::ALL.len()],
            keys: PhantomData,
        }
    }

    /// Adds `n` to `key`.
    pub fn add(&mut self, key: K, n: u64) {
        self.counts[key.index()] += n;
    }

    /// Every key with its count, in counter order.
    pub fn iter(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        K::ALL.iter().map(|&k| (k, self.counts[k.index()]))
    }

    /// The keys whose count is not zero.
    pub fn nonzero(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.iter().filter(|(_, n)| *n > 0)
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts<K>) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }
}

impl<K: CounterKey> Default for Counts<K> {
    fn default() -> Counts<K> {
        Counts::new()
    }
}

impl<K: CounterKey> std::ops::Index<K> for Counts<K> {
    type Output = u64;

    fn index(&self, key: K) -> &u64 {
        &self.counts[key.index()]
    }
}

impl<K: CounterKey> fmt::Debug for Counts<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.nonzero().map(|(k, n)| (k.name(), n)))
            .finish()
    }
}

impl<K: CounterKey> Serialize for Counts<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Sorted by name, as the JSON has always been.
        let mut keys: Vec<K> = K::ALL.to_vec();
        keys.sort_by_key(|k| k.name());
        let mut map = serializer.serialize_map(Some(keys.len()))?;
        for k in keys {
            map.serialize_entry(k.name(), &self[k])?;
        }
        map.end()
    }
}

impl<'de, K: CounterKey> Deserialize<'de> for Counts<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Counts<K>, D::Error> {
        struct CountsVisitor<K>(PhantomData<K>);

        impl<'de, K: CounterKey> Visitor<'de> for CountsVisitor<K> {
            type Value = Counts<K>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from counter names to counts")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counts<K>, A::Error> {
                let mut counts = Counts::new();
                while let Some((name, n)) = map.next_entry::<String, u64>()? {
                    let key = K::ALL
                        .iter()
                        .find(|k| k.name() == name)
                        .ok_or_else(|| de::Error::custom(format!("unknown counter {name:?}")))?;
                    counts.counts[key.index()] = n;
                }
                Ok(counts)
            }
        }

        deserializer.deserialize_map(CountsVisitor(PhantomData))
    }
}

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
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    drops: DropCounts,
    icmp_sent: IcmpCounts,
    forwarded: [FamilyTraffic; 2],
    hairpinned: u64,
    fragments_translated: u64,
    fragments_generated: u64,
}

impl Counters {
    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops.add(reason, 1);
    }

    pub(crate) fn drops(&mut self, reason: DropReason, n: u64) {
        self.drops.add(reason, n);
    }

    pub(crate) fn forward(
        &mut self,
        family: Family,
        outbound: bool,
        protocol: IpProtocol,
        bytes: usize,
    ) {
        let f = &mut self.forwarded[family as usize];
        let dir = if outbound {
            &mut f.outbound
        } else {
            &mut f.inbound
        };
        dir.slot(Proto::of(protocol)).add(Traffic {
            packets: 1,
            bytes: bytes as u64,
        });
    }

    pub(crate) fn hairpinned(&mut self) {
        self.hairpinned += 1;
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
    }
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
    /// TUN name.
    pub name: String,
    /// The public address all its sessions use (paired pooling), once it has one.
    pub public_ipv4: Option<std::net::Ipv4Addr>,
    /// External ports in use.
    pub ports: PortUse,
    /// Sessions.
    pub sessions: u32,
    /// IPv6 firewall flows.
    pub ipv6_flows: u32,
}

/// Everything `sixfold stats` prints.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
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
    /// Per subscriber.
    pub subscribers: Vec<SubscriberUse>,
    /// Per egress shaper (links with a rate).
    pub shapers: Vec<ShaperUse>,
}

impl Snapshot {
    /// Bytes forwarded in both directions, IPv4 and IPv6.
    pub fn bytes_by_family(&self) -> (u64, u64) {
        let total = |f: &FamilyTraffic| f.outbound.total().bytes + f.inbound.total().bytes;
        (total(&self.ipv4), total(&self.ipv6))
    }

    /// Adds another router's counters to these (several workers, one report).
    /// Subscribers and shapers of `other` are appended.
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
        self.subscribers.extend(other.subscribers.iter().cloned());
        self.shapers.extend(other.shapers.iter().cloned());
    }
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
        fn check<K: CounterKey + PartialEq + fmt::Debug>() {
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
    }

    #[test]
    fn snapshot_json_round_trips_with_every_key_named() {
        let mut c = Counters::default();
        c.drop(DropReason::TunnelTeredo);
        c.drops(DropReason::FragmentTimeout, 3);
        c.icmp(IcmpSent::Ipv6PacketTooBig);
        c.forward(Family::V6, true, IpProtocol::Tcp, 1500);
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
