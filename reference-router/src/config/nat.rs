//! `[nat]`: the pool, mapping and filtering behaviour, limits and timers.

use super::Allocation;
use super::links::nets;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use sixfold_rewrite::IpProtocol;
use std::net::Ipv4Addr;

/// NAT mapping behaviour (RFC 4787 §4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mapping {
    /// Endpoint-independent: one external port per internal address and port.
    #[default]
    Eim,
    /// Address-dependent: one per internal endpoint and remote address.
    Adm,
    /// Address-and-port-dependent: one per internal endpoint and remote endpoint.
    Apdm,
}

/// NAT filtering behaviour (RFC 4787 §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filtering {
    /// Endpoint-independent: anyone may send to a mapping.
    Eif,
    /// Address-dependent: remote addresses the mapping has sent to.
    Adf,
    /// Address-and-port-dependent: remote endpoints the mapping has sent to.
    #[default]
    Apdf,
}

/// Idle timeouts in seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// UDP mapping (RFC 4787 REQ-5: ≥ 120, default 300).
    pub udp: u32,
    /// Established TCP (RFC 5382 REQ-5: ≥ 7440).
    pub tcp_established: u32,
    /// Partially open or closing TCP (RFC 5382 REQ-5: ≥ 240).
    pub tcp_transitory: u32,
    /// ICMP query (RFC 5508 REQ-2: ≥ 60).
    pub icmp: u32,
    /// How long an unsolicited inbound SYN is held before ICMP 3/3 (RFC 5382 REQ-4: ≥ 6).
    pub syn_hold: u32,
    /// A freed external port is not reused for this long (RFC 6888 REQ-8: 120).
    pub port_reuse_delay: u32,
    /// How long fragments of one datagram are tracked.
    pub fragments: u32,
}

impl Timeouts {
    /// The idle timeout of a flow of `protocol` whose TCP state is `tcp_state`
    /// (`crate::nat::tcp`). Protocols other than TCP, UDP and ICMP/ICMPv6 (ESP, AH,
    /// SCTP, ... through the IPv6 firewall) get the UDP timer: RFC 6092 asks at
    /// least two minutes for them, five by default.
    pub(crate) fn idle(&self, protocol: IpProtocol, tcp_state: u8) -> u32 {
        match protocol {
            IpProtocol::Tcp if crate::nat::tcp::established(tcp_state) => self.tcp_established,
            IpProtocol::Tcp => self.tcp_transitory,
            IpProtocol::Icmp | IpProtocol::Icmpv6 => self.icmp,
            _ => self.udp,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            icmp: 60,
            syn_hold: 6,
            port_reuse_delay: 120,
            fragments: 30,
        }
    }
}

/// The IPv4 NAT (NAPT44).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Nat {
    /// Public addresses and prefixes; non-contiguous allowed (RFC 6888 REQ-3).
    /// No default: needed as soon as an IPv4 subscriber, an IPv4 range or
    /// `[nat64]` exists.
    #[serde(deserialize_with = "nets")]
    pub pool: Vec<Ipv4Net>,
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: Filtering,
    /// Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8).
    pub hairpin: bool,
    /// Try the internal port first when allocating.
    pub port_preservation: bool,
    /// Keep the parity of the internal port (RFC 4787 REQ-4, relaxed by RFC 7857).
    pub port_parity: bool,
    /// External ports per subscriber and protocol (RFC 6888 REQ-4); ICMP ids included.
    pub ports_per_subscriber: u32,
    /// Sessions per subscriber (RFC 6888 REQ-5).
    pub sessions_per_subscriber: u32,
    /// Sessions in total; this bounds the table's memory.
    pub max_sessions: u32,
    /// Timers.
    pub timeouts: Timeouts,
    /// IPv4 datagrams being tracked as fragments at once.
    pub max_fragment_flows: u32,
    /// Bytes of out-of-order fragments buffered at once, over all datagrams.
    pub max_fragment_bytes: u32,
    /// Unsolicited inbound SYNs held at once (RFC 5382 REQ-4).
    pub max_held_syns: u32,
    /// How ports are given out: `dynamic`, `block` or `deterministic`.
    pub allocation: Allocation,
    /// Ports per block (`block`), or per inside address (`deterministic`).
    pub block_size: u32,
    /// Blocks one inside address may hold at once (`block`): its port limit is
    /// `max_blocks × block_size`, instead of `ports_per_subscriber`.
    pub max_blocks: u32,
    /// Seconds a freed block is held before anyone may get it again (`block`).
    pub block_timeout: u32,
}

impl Default for Nat {
    fn default() -> Nat {
        Nat {
            pool: Vec::new(),
            mapping: Mapping::Eim,
            filtering: Filtering::Apdf,
            hairpin: true,
            port_preservation: false,
            port_parity: false,
            ports_per_subscriber: 4096,
            sessions_per_subscriber: 131_072,
            max_sessions: 1 << 20,
            timeouts: Timeouts::default(),
            max_fragment_flows: 1024,
            max_fragment_bytes: 4 << 20,
            max_held_syns: 1024,
            allocation: Allocation::Dynamic,
            block_size: 128,
            max_blocks: 8,
            block_timeout: 120,
        }
    }
}

impl Nat {
    /// Every address of the pool, in configuration order (a prefix shorter than /31
    /// without its network and broadcast addresses).
    pub fn pool_addresses(&self) -> Vec<Ipv4Addr> {
        self.pool.iter().flat_map(|net| net.hosts()).collect()
    }
}
