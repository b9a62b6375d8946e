//! `[ipfix]`: export of NAT events (RFC 8158) and of flow accounting before the
//! NAT over IPFIX (RFC 7011, UDP), and `[nat]`'s port allocation modes
//! (`allocation`, `block_size`, `max_blocks`, `block_timeout`), which decide what
//! there is to log.
//!
//! Nothing is exported without `collector`; the other keys then only say what
//! would be.

use super::validate::err;
use super::{Config, ConfigError};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

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

/// IPFIX export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ipfix {
    /// Where to send IPFIX messages over UDP (`"192.0.2.9:4739"`); none: no export.
    pub collector: Option<SocketAddr>,
    /// The Observation Domain ID in every message header (RFC 7011 §3.1).
    pub observation_domain: u32,
    /// Seconds between re-sending the templates (RFC 7011 §8.4; also sent at start).
    pub template_refresh: u32,
    /// Source address of the export socket (none: the kernel chooses).
    pub source: Option<IpAddr>,
    /// Network namespace the export socket is opened in (none: the router's own).
    pub netns: Option<String>,
    /// Per-session create/delete events (natEvent 4/5, NAT64 6/7); off by default: per-flow
    /// logs are what port blocks avoid.
    pub sessions: bool,
    /// NAT44 BIB create/delete events (natEvent 8/9) per endpoint-independent
    /// mapping: one record per mapping, not per session; what a takeover
    /// backup (`[takeover]`) is fed with. Needs `nat.mapping = "eim"`.
    pub mappings: bool,
    /// Seconds between re-logging every live port block (natEvent 16 again), so a
    /// lost UDP message never leaves a block without a record.
    pub interim: u32,
    /// Flow accounting before the NAT: per-flow records with the subscriber's own
    /// addresses and ports, IPv4 and IPv6.
    pub accounting: bool,
    /// A flow that lasts longer than this many seconds is exported and counted anew.
    pub active_timeout: u32,
    /// A flow without a packet for this many seconds is exported and forgotten.
    pub idle_timeout: u32,
    /// Flows accounted at once, over all workers; beyond, packets pass unaccounted
    /// (counted: `ipfix.flows_overflow`).
    pub max_flows: u32,
    /// Records waiting for the exporter, per worker; beyond, records are dropped
    /// (counted: `ipfix.records_dropped`), never the packets.
    pub queue: u32,
}

impl Default for Ipfix {
    fn default() -> Ipfix {
        Ipfix {
            collector: None,
            observation_domain: 1,
            template_refresh: 600,
            source: None,
            netns: None,
            sessions: false,
            mappings: false,
            interim: 1800,
            accounting: false,
            active_timeout: 1800,
            idle_timeout: 15,
            max_flows: 1 << 16,
            queue: 1 << 14,
        }
    }
}

impl Ipfix {
    /// Whether anything is exported.
    pub fn enabled(&self) -> bool {
        self.collector.is_some()
    }
}

/// Ports on one public address that blocks and deterministic ranges use
/// (1024–65535: both modes map every internal port there).
pub const BLOCK_PORTS: u32 = 64512;

fn between(key: &str, value: u32, low: u32, high: u32, why: &str) -> Result<(), ConfigError> {
    if value < low || value > high {
        return Err(err(
            key,
            format!("{value} is out of range: {low} to {high} ({why})"),
        ));
    }
    Ok(())
}

/// Checks `[ipfix]`.
pub(super) fn validate_ipfix(config: &Config) -> Result<(), ConfigError> {
    let x = &config.ipfix;
    between(
        "ipfix.template_refresh",
        x.template_refresh,
        1,
        86400,
        "seconds; RFC 7011 §8.4",
    )?;
    between("ipfix.interim", x.interim, 1, 86400, "seconds")?;
    between(
        "ipfix.active_timeout",
        x.active_timeout,
        1,
        604_800,
        "seconds",
    )?;
    between(
        "ipfix.idle_timeout",
        x.idle_timeout,
        1,
        x.active_timeout,
        "seconds, at most ipfix.active_timeout",
    )?;
    between("ipfix.max_flows", x.max_flows, 1, 1 << 24, "flows")?;
    between("ipfix.queue", x.queue, 1, 1 << 20, "records")?;
    if x.mappings && config.nat.mapping != super::Mapping::Eim {
        return Err(err(
            "ipfix.mappings",
            "BIB events (natEvent 8/9) describe endpoint-independent mappings: needs nat.mapping = \"eim\"",
        ));
    }
    if let Some(c) = x.collector
        && (c.port() == 0 || c.ip().is_unspecified())
    {
        return Err(err(
            "ipfix.collector",
            format!("{c}: needs an address and a port"),
        ));
    }
    if let (Some(c), Some(s)) = (x.collector, x.source)
        && c.is_ipv4() != s.is_ipv4()
    {
        return Err(err(
            "ipfix.source",
            format!("{s} and the collector {c} are of different families"),
        ));
    }
    Ok(())
}

/// Checks that a port block fits every one of `workers` workers' slice of
/// the ports (`[nat] allocation = "block"`): each worker gives out blocks of
/// its own slice, so a WAN packet finds its worker by port. `router.workers
/// = 0` is this machine's CPUs, and the error says so.
pub(super) fn validate_block_slice(config: &Config, workers: u16) -> Result<(), ConfigError> {
    let n = &config.nat;
    if n.allocation != Allocation::Block {
        return Ok(());
    }
    let workers = workers.max(1);
    let short = (0..workers)
        .map(|index| crate::iface::Shard {
            index,
            count: workers,
        })
        .find(|&shard| crate::nat::blocks::blocks_in_slice(shard, n.block_size) == 0);
    let Some(shard) = short else { return Ok(()) };
    let (lo, hi) = shard.high_ports();
    let fits = |size: u32| {
        (0..workers).all(|index| {
            let shard = crate::iface::Shard {
                index,
                count: workers,
            };
            crate::nat::blocks::blocks_in_slice(shard, size) > 0
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

/// Checks `[nat]`'s allocation keys: a block fits an address, the
/// subscribers' inside addresses fit the pool in deterministic mode.
pub(super) fn validate_allocation(config: &Config) -> Result<(), ConfigError> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(toml: &str) -> (String, Option<usize>, String) {
        let e = Config::from_toml(toml).unwrap_err();
        (e.key, e.line, e.problem)
    }

    #[test]
    fn defaults_and_every_key() {
        let c = Config::from_toml(
            "[nat]\nallocation = \"block\"\n[ipfix]\ncollector = \"192.0.2.9:4739\"\nsource = \"192.0.2.1\"\nnetns = \"wan\"\nsessions = true\naccounting = true\nidle_timeout = 5\n",
        )
        .unwrap();
        assert_eq!(c.nat.allocation, Allocation::Block);
        assert_eq!(
            (c.nat.block_size, c.nat.max_blocks, c.nat.block_timeout),
            (128, 8, 120)
        );
        let x = &c.ipfix;
        assert!(x.enabled() && x.sessions && x.accounting);
        assert_eq!(
            (x.observation_domain, x.template_refresh, x.interim),
            (1, 600, 1800)
        );
        assert_eq!((x.active_timeout, x.idle_timeout), (1800, 5));
        assert_eq!(Config::default().nat.allocation, Allocation::Dynamic);
        assert!(!Config::default().ipfix.enabled());
    }

    #[test]
    fn bad_values_name_their_key_and_line() {
        let (key, line, problem) = refused("[nat]\nallocation = \"block\"\nblock_size = 4\n");
        assert_eq!((key.as_str(), line), ("nat.block_size", Some(3)));
        assert!(problem.contains("8 to 64512"), "{problem}");
        let (key, _, _) =
            refused("[nat]\nallocation = \"block\"\nblock_size = 4096\nmax_blocks = 16\n");
        assert_eq!(key, "nat.max_blocks");
        let (key, line, problem) = refused(
            "[nat]\npool = [\"192.0.2.1\"]\nallocation = \"deterministic\"\nblock_size = 32256\n[[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.0/30\"]\n",
        );
        assert_eq!((key.as_str(), line), ("nat.block_size", Some(4)));
        assert_eq!(
            problem,
            "32256 ports for each of 4 inside addresses need 2 public addresses; the pool has 1 (RFC 7422)"
        );
        assert_eq!(
            refused("[ipfix]\nidle_timeout = 0\n").0,
            "ipfix.idle_timeout"
        );
        assert_eq!(
            refused("[ipfix]\nactive_timeout = 10\nidle_timeout = 15\n").0,
            "ipfix.idle_timeout"
        );
        assert_eq!(
            refused("[ipfix]\ncollector = \"0.0.0.0:4739\"\n").0,
            "ipfix.collector"
        );
        assert_eq!(
            refused("[ipfix]\ncollector = \"192.0.2.9:4739\"\nsource = \"::1\"\n").0,
            "ipfix.source"
        );
        assert_eq!(
            refused("[ipfix]\ntemplate_refresh = 0\n").0,
            "ipfix.template_refresh"
        );
        let (key, line, _) = refused("[ipfix]\ncolector = \"192.0.2.9:4739\"\n");
        assert_eq!((key.as_str(), line), ("ipfix.colector", Some(2)));
        assert_eq!(refused("[nat]\nallocation = \"pba\"\n").0, "nat.allocation");
        let with_nat64 = "[nat]\nallocation = \"block\"\n[nat64]\n";
        let e = Config::from_toml(with_nat64).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("nat.allocation", Some(2)));
    }
}
