//! What the lab is asked for and the fixed names of its world: `sixfold lab`'s
//! arguments, the "internet" hosts and ports, the subscribers' addresses. A leaf
//! every part of the lab (`world`, `checks`, `xlat`, `routers/…`) imports, so none
//! reaches back into `lab/mod.rs`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// The lab's "internet" hosts, on the WAN namespace's loopback.
pub(super) const SERVER_V4: &str = "192.0.2.80";
pub(super) const SERVER_V6: &str = "2001:db8:ffff::80";
pub(super) const HTTP_PORT: u16 = 8080;
pub(super) const REFLECTOR_PORT: u16 = 3478;
/// The dual-stack name in each subscriber namespace's hosts file.
pub(super) const DUAL_STACK_NAME: &str = "www.lab.example";

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum MappingArg {
    Eim,
    Adm,
    Apdm,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum FilteringArg {
    Eif,
    Adf,
    Apdf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum SchedulingArg {
    Strict,
    Weighted,
}

#[derive(Args, Debug)]
pub(crate) struct LabArgs {
    /// Number of subscribers: namespaces of their own (default 2), or with
    /// --routers above 1 addresses in the access namespace (default 4 per box).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=250))]
    pub(super) subscribers: Option<u16>,
    /// Router boxes: 1 is the lab above; more builds the scale-out world (an
    /// access namespace, boxes PREFIX-r1..rN each running `sixfold run` and BIRD,
    /// a core namespace with BIRD), shows BGP/BFD, ECMP and each subscriber's
    /// box, SIGKILLs box 1's router and reports the failover, then restarts it.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub(super) routers: u16,
    /// Namespace name prefix: namespaces are PREFIX-sub1, ..., PREFIX-wan (with
    /// --routers above 1: PREFIX-access, PREFIX-r1, ..., PREFIX-core).
    #[arg(long, default_value = "sixfold")]
    pub(super) prefix: String,
    /// NAT mapping behaviour (overrides the configuration file).
    #[arg(long, value_enum)]
    pub(super) mapping: Option<MappingArg>,
    /// NAT filtering behaviour (overrides the configuration file).
    #[arg(long, value_enum)]
    pub(super) filtering: Option<FilteringArg>,
    /// Hairpinning (overrides the configuration file).
    #[arg(long, value_enum)]
    pub(super) hairpin: Option<OnOff>,
    /// Router configuration whose [router], [nat] (allocation keys included) and
    /// [ipfix] sections the lab uses; the lab supplies [wan] and the subscribers.
    #[arg(long)]
    pub(super) config: Option<PathBuf>,
    /// Build the world, start the router, print `ready` and `config PATH` (the
    /// file the router runs from; with --routers, `config K PATH` per box), and
    /// run until SIGINT/SIGTERM. Standard input takes `reload` (`reload K`):
    /// the router reads its file again; with --routers above 1 also `kill K`
    /// (SIGKILL to box K's router) and `start K` (start it again); each is
    /// answered on one line.
    #[arg(long)]
    pub(super) keep: bool,
    /// Turn all transition-tunnel blocking off, to show the difference.
    #[arg(long)]
    pub(super) allow_tunnels: bool,
    /// Shape the WAN link's egress (the uplink) to this many Mbit/s.
    #[arg(long, value_name = "MBPS")]
    pub(super) wan_rate: Option<u32>,
    /// Shape each subscriber link's egress (the downlink) to this many Mbit/s.
    #[arg(long, value_name = "MBPS")]
    pub(super) subscriber_rate: Option<u32>,
    /// How shapers share a saturated link: IPv6 first (`strict`) or by weight
    /// (`weighted`, see --ipv6-weight).
    #[arg(long, value_enum)]
    pub(super) scheduling: Option<SchedulingArg>,
    /// IPv6's weight against IPv4's 1 under `--scheduling weighted`.
    #[arg(long, value_name = "N")]
    pub(super) ipv6_weight: Option<u32>,
    /// Worker threads of the router (overrides the configuration; 0: one per CPU).
    #[arg(long, value_name = "N")]
    pub(super) workers: Option<u32>,
    /// TUN offload (super-packets): on by default (overrides the configuration).
    #[arg(long, value_enum)]
    pub(super) offload: Option<OnOff>,
    /// Serve the router's metrics (127.0.0.1:9108 in the WAN namespace, per
    /// subscriber), run Debian's Prometheus there scraping them every second,
    /// and report figures read back from it.
    #[arg(long)]
    pub(super) metrics: bool,
    /// Add one IPv6-only subscriber (the last, sub N+1): the router as NAT64
    /// (PLAT, [nat64] prefix 2001:db8:64::/96 unless the configuration has
    /// one), unbound as DNS64 in the WAN namespace, tayga as its CLAT (464XLAT).
    #[arg(long)]
    pub(super) ipv6_only: bool,
    /// Export IPFIX (NAT events, flow accounting before the NAT) to a collector
    /// in the WAN namespace, and report the port blocks and per-subscriber
    /// volume it received.
    #[arg(long)]
    pub(super) ipfix: bool,
    /// Also save every IPFIX message the collector received as a pcap (UDP) when
    /// the lab ends, `--keep` and SIGTERM included; implies --ipfix.
    #[arg(long, value_name = "FILE")]
    pub(super) ipfix_pcap: Option<PathBuf>,
    /// The in-kernel fast path on each box (`[fastpath] mode`, issue 27): with
    /// `ebpf` an XDP program on the box's two veths forwards the established
    /// NAT44 flows; each box's counters then show packets on the fast and the
    /// slow path. Needs --routers 2 or more (boxes between two interfaces).
    #[arg(long, value_enum, default_value = "off")]
    pub(super) fastpath: FastPathArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FastPathArg {
    Off,
    Ebpf,
}

impl LabArgs {
    /// Dual-stack subscribers: `--subscribers`, or its default (2 for one
    /// router, 4 per box for more).
    pub(crate) fn subscribers(&self) -> u16 {
        self.subscribers.unwrap_or(if self.routers > 1 {
            4 * self.routers
        } else {
            2
        })
    }

    /// Subscribers in all: the dual-stack ones and the IPv6-only one.
    pub(crate) fn all_subscribers(&self) -> u16 {
        self.subscribers() + u16::from(self.ipv6_only)
    }

    /// Whether subscriber `k` (1-based) is the IPv6-only one.
    pub(crate) fn is_ipv6_only(&self, k: u16) -> bool {
        self.ipv6_only && k == self.all_subscribers()
    }
}

/// Addresses of subscriber `k` (1-based).
pub(super) fn subscriber_v4(k: u16) -> String {
    format!("100.64.1.{k}")
}

pub(super) fn subscriber_v6_prefix(k: u16) -> String {
    format!("2001:db8:1:{k:x}::/64")
}

pub(super) fn subscriber_v6_host(k: u16) -> String {
    format!("2001:db8:1:{k:x}::2")
}
