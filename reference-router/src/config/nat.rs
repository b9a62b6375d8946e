//! `[nat]`: the pool, mapping and filtering behaviour, limits and timers.

use super::check::{between, err, min};
use super::nets::nets;
use super::{Config, ConfigError};
use crate::iface::{Shard, blocks_in_slice};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// How external ports are given to subscribers (`[nat] allocation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocation {
    /// Each mapping takes a random free port of the subscriber's address (RFC
    /// 6056 §3.3.1); a per-session log is the only attribution.
    #[default]
    Dynamic,
    /// Ports come in blocks of `block_size` per inside address, allocated on
    /// demand at random aligned offsets and logged once per block (RFC 6888 §5,
    /// RFC 8158 natEvent 16/17); mappings inside a block stay random.
    Block,
    /// RFC 7422: each inside address's public address and port range follow from
    /// the configuration by arithmetic; nothing needs logging.
    Deterministic,
}

/// Ports on one public address that blocks and deterministic ranges use
/// (1024–65535: both modes map every internal port there).
pub const BLOCK_PORTS: u32 = 64512;

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

pub(super) fn validate_nat(nat: &Nat) -> Result<(), ConfigError> {
    let t = &nat.timeouts;
    min("nat.timeouts.udp", t.udp, 120, "RFC 4787 REQ-5")?;
    min(
        "nat.timeouts.tcp_established",
        t.tcp_established,
        7440,
        "RFC 5382 REQ-5: 2 h 4 min",
    )?;
    min(
        "nat.timeouts.tcp_transitory",
        t.tcp_transitory,
        240,
        "RFC 5382 REQ-5: 4 min",
    )?;
    min("nat.timeouts.icmp", t.icmp, 60, "RFC 5508 REQ-2")?;
    min("nat.timeouts.syn_hold", t.syn_hold, 6, "RFC 5382 REQ-4")?;
    min(
        "nat.timeouts.fragments",
        t.fragments,
        1,
        "fragments need time to arrive",
    )?;
    min(
        "nat.ports_per_subscriber",
        nat.ports_per_subscriber,
        1,
        "a subscriber needs a port",
    )?;
    if nat.ports_per_subscriber > 64512 {
        return Err(err(
            "nat.ports_per_subscriber",
            format!(
                "{} is more than one address has (64512)",
                nat.ports_per_subscriber
            ),
        ));
    }
    min(
        "nat.sessions_per_subscriber",
        nat.sessions_per_subscriber,
        1,
        "a subscriber needs a session",
    )?;
    min(
        "nat.max_sessions",
        nat.max_sessions,
        1,
        "the table needs room",
    )?;
    if nat.max_sessions >= u32::MAX / 2 {
        return Err(err("nat.max_sessions", "is too large (limit 2^31)"));
    }
    Ok(())
}

/// Checks `[nat]`'s allocation keys — the one place `block_size` is checked: a
/// block fits an address, the subscribers' inside addresses fit the pool in
/// deterministic mode, and with `workers` known (the router's worker threads,
/// 0 resolved to this machine's CPUs) a block fits every worker's slice.
/// `Config::problems` runs it, and each worker's NAT setup again with its count.
pub(crate) fn validate_allocation(
    config: &Config,
    workers: Option<u16>,
) -> Result<(), ConfigError> {
    let n = &config.nat;
    if n.allocation == Allocation::Dynamic {
        return Ok(());
    }
    if config.nat64.is_some() {
        // NAT64 sessions' inside hosts are IPv6 addresses behind per-worker
        // aliases, not the IPv4 inside addresses blocks and ranges belong to.
        return Err(err(
            "nat.allocation",
            "port blocks and deterministic ranges belong to IPv4 inside addresses: with [nat64] use \"dynamic\"",
        ));
    }
    between(
        "nat.block_size",
        n.block_size,
        8,
        BLOCK_PORTS,
        "ports per block; smaller blocks log as much as sessions",
    )?;
    if n.allocation == Allocation::Block {
        between(
            "nat.max_blocks",
            n.max_blocks,
            1,
            BLOCK_PORTS / n.block_size,
            "blocks per inside address: at most one address's ports 1024-65535",
        )?;
    }
    if n.allocation == Allocation::Deterministic {
        let inside: u64 = config
            .subscriber
            .iter()
            .flat_map(|s| &s.ipv4)
            .map(|net| 1u64 << (32 - u32::from(net.prefix_len())))
            .chain(config.subscriber_range.iter().map(|r| r.count_v4()))
            .sum();
        let per_address = u64::from(BLOCK_PORTS / n.block_size);
        let pool = config.nat.pool_addresses().len() as u64;
        if inside > pool * per_address {
            return Err(err(
                "nat.block_size",
                format!(
                    "{} ports for each of {inside} inside addresses need {} public addresses; the pool has {pool} (RFC 7422)",
                    n.block_size,
                    inside.div_ceil(per_address)
                ),
            ));
        }
    }
    match workers {
        Some(w) => validate_block_slice(config, w),
        None => Ok(()),
    }
}

/// Checks that a port block fits every one of `workers` workers' slice of
/// the ports (`[nat] allocation = "block"`): each worker gives out blocks of
/// its own slice, so a WAN packet finds its worker by port. `router.workers
/// = 0` is this machine's CPUs, and the error says so.
fn validate_block_slice(config: &Config, workers: u16) -> Result<(), ConfigError> {
    let n = &config.nat;
    if n.allocation != Allocation::Block {
        return Ok(());
    }
    let workers = workers.max(1);
    let short = (0..workers)
        .map(|index| Shard {
            index,
            count: workers,
        })
        .find(|&shard| blocks_in_slice(shard, n.block_size) == 0);
    let Some(shard) = short else { return Ok(()) };
    let (lo, hi) = shard.high_ports();
    let fits = |size: u32| {
        (0..workers).all(|index| {
            let shard = Shard {
                index,
                count: workers,
            };
            blocks_in_slice(shard, size) > 0
        })
    };
    let largest = (1..=BLOCK_PORTS / u32::from(workers))
        .rev()
        .find(|&size| fits(size))
        .unwrap_or(1);
    let counted = if config.router.workers == 0 {
        format!("router.workers = 0: one per CPU, {workers} on this machine")
    } else {
        format!("router.workers = {workers}")
    };
    Err(err(
        "nat.block_size",
        format!(
            "{} ports do not fit one worker's slice of the ports ({lo}-{hi}, {} ports, with {counted}): at most {} per block, or fewer workers",
            n.block_size,
            hi - lo + 1,
            largest
        ),
    ))
}
