//! What is counted by name: [`DropReason`] and [`IcmpSent`], and the
//! [`CounterKey`] trait that lets [`super::Counts`] index by them.

use std::fmt;

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
        /// Nothing to translate it to (RFC 7915): an ICMP type, code, pointer or
        /// quote without a counterpart, a protocol number of the other family, a
        /// fragmented ICMP error.
        Untranslatable = "untranslatable",
        /// An IPv6 extension header after the Fragment Header, a second Fragment
        /// Header included (RFC 7915 §5.1.1); answered with ICMPv6 administratively
        /// prohibited (§5.4).
        ExtensionAfterFragment = "extension_after_fragment",
        /// UDP/IPv4 without a checksum, which IPv6 requires (RFC 7915 §4.5;
        /// `amend_udp_checksum_zero` computes it for whole datagrams).
        UdpChecksumZero = "udp_checksum_zero",
        /// An unexpired IPv4 source route the translator cannot follow (RFC 7915 §4.1).
        SourceRoute = "source_route",
        /// An IPv6 routing header with segments left (RFC 7915 §5.1).
        SegmentsLeft = "segments_left",
        /// An address that no translation maps: outside the EAMT and the RFC 6052
        /// prefix, or a non-global IPv4 address under the Well-Known Prefix
        /// (RFC 6052 §3.1).
        UnmappableAddress = "unmappable_address",
        /// A source no router forwards from: unspecified, loopback, multicast,
        /// broadcast or class E (RFC 7915 §4.1, §5.1).
        IllegalSource = "illegal_source",
        /// Forwarded, then refused by the kernel: the egress TUN's queue was full
        /// (a congested link). Counted in `forwarded` too.
        TunQueueFull = "tun_queue_full",
        /// Forwarded, then the write to the egress TUN failed otherwise (logged).
        /// Counted in `forwarded` too.
        TunWriteFailed = "tun_write_failed",
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
        /// ICMPv4 source route failed (RFC 7915 §4.1: a source route the translator
        /// cannot follow).
        SourceRouteFailed = "source_route_failed",
        /// ICMPv6 parameter problem (RFC 7915 §5.1: segments left in a routing header).
        Ipv6ParameterProblem = "ipv6_parameter_problem",
        /// ICMPv6 address unreachable: the NAT64 could not create a binding
        /// (RFC 6146 §3.5.1.1).
        Ipv6AddressUnreachable = "ipv6_address_unreachable",
        /// ICMPv6 port unreachable: an IPv6-only subscriber's SYN to another
        /// subscriber's public endpoint was held in vain (RFC 6146 §3.5.2.2).
        Ipv6PortUnreachable = "ipv6_port_unreachable",
    }
}

impl DropReason {
    /// The transition mechanism a `tunnel_` reason blocks (`teredo`, `6to4`, …).
    pub fn tunnel_mechanism(self) -> Option<&'static str> {
        self.name().strip_prefix("tunnel_")
    }
}

counter_keys! {
    /// A NAT event logged over IPFIX (RFC 8158 §4.1 natEvent); see
    /// [`NatEvent::value`] for the number on the wire.
    pub enum NatEvent {
        /// No public address has room for a subscriber (natEvent 3).
        AddressesExhausted = "addresses_exhausted",
        /// A NAT44 session was created (natEvent 4).
        SessionCreate = "nat44_session_create",
        /// A NAT44 session was deleted (natEvent 5).
        SessionDelete = "nat44_session_delete",
        /// A subscriber's public address has no free port or block (natEvent 12).
        PortsExhausted = "ports_exhausted",
        /// A subscriber reached a limit: its ports or blocks, its sessions, or the
        /// table's (natEvent 13).
        QuotaExceeded = "quota_exceeded",
        /// A port block was allocated, or re-announced while it lives (natEvent 16).
        BlockAllocation = "port_block_allocation",
        /// A port block was released (natEvent 17).
        BlockDeallocation = "port_block_deallocation",
        /// A NAT64 session was created (natEvent 6): an IPv6-only subscriber's.
        Nat64SessionCreate = "nat64_session_create",
        /// A NAT64 session was deleted (natEvent 7).
        Nat64SessionDelete = "nat64_session_delete",
        /// A pool address a reload removed is free: no mapping or port block
        /// holds it any more, it is bound to no one (natEvent 15, address
        /// binding delete, with no inside address).
        AddressBindingDelete = "address_binding_delete",
        /// An endpoint-independent mapping was created: its first session
        /// (natEvent 8, NAT44 BIB create; `[ipfix] mappings`).
        BibCreate = "nat44_bib_create",
        /// That mapping's last session ended (natEvent 9, NAT44 BIB delete).
        BibDelete = "nat44_bib_delete",
    }
}

impl NatEvent {
    /// The natEvent value (RFC 8158 §4.1, IANA "NAT Event Type").
    pub const fn value(self) -> u8 {
        match self {
            NatEvent::AddressesExhausted => 3,
            NatEvent::SessionCreate => 4,
            NatEvent::SessionDelete => 5,
            NatEvent::PortsExhausted => 12,
            NatEvent::QuotaExceeded => 13,
            NatEvent::BlockAllocation => 16,
            NatEvent::BlockDeallocation => 17,
            NatEvent::Nat64SessionCreate => 6,
            NatEvent::Nat64SessionDelete => 7,
            NatEvent::AddressBindingDelete => 15,
            NatEvent::BibCreate => 8,
            NatEvent::BibDelete => 9,
        }
    }
}
