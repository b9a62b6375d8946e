//! `[ipfix]`: export of NAT events (RFC 8158) and of flow accounting before the
//! NAT over IPFIX (RFC 7011, UDP). (`[nat]`'s allocation modes, which decide what
//! (`allocation`, `block_size`, `max_blocks`, `block_timeout`), which decide what
//! there is to log.
//!
//! Nothing is exported without `collector`; the other keys then only say what
//! would be.

use super::check::{between, err};
use super::{Config, ConfigError};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Allocation;

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
