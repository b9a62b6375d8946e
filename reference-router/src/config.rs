//! Router configuration: TOML with a default for every key, validated before use.
//!
//! [`Config::from_toml`] rejects unknown keys (with the key's name and position, from
//! the TOML parser) and every value that the RFCs forbid or that cannot work, with an
//! error naming the key: `nat.timeouts.udp = 60: must be at least 120 s (RFC 4787 REQ-5)`.
//!
//! ```
//! let config = sixfold_router::Config::from_toml(r#"
//!     [nat]
//!     pool = ["203.0.113.1", "198.51.100.16/30"]
//!     filtering = "eif"
//!     [[subscriber]]
//!     name = "sub1"
//!     ipv4 = ["100.64.0.11"]
//! "#).unwrap();
//! // A /30 has two usable addresses.
//! assert_eq!(config.nat.pool_addresses().len(), 3);
//! ```

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use sixfold_rewrite::IpProtocol;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

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
}

impl Default for Nat {
    fn default() -> Nat {
        Nat {
            pool: vec![Ipv4Net::new(Ipv4Addr::new(203, 0, 113, 1), 32).unwrap_or_default()],
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

/// Transition-tunnel blocking, each mechanism switchable (all on by default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tunnels {
    /// IPv4 protocol 41: 6in4, 6to4, ISATAP, 6rd.
    pub proto41: bool,
    /// The 6to4 relay anycast prefix 192.88.99.0/24.
    pub relay_anycast: bool,
    /// Teredo: UDP 3544 either side, and Teredo recognised on any other port.
    pub teredo: bool,
    /// AYIYA: UDP 5072 and by header shape.
    pub ayiya: bool,
    /// TSP: TCP/UDP 3653.
    pub tsp: bool,
    /// GRE carrying IPv6.
    pub gre: bool,
    /// IPv4-in-IPv6 and IPv6-in-IPv6 from subscribers.
    pub ip_in_ipv6: bool,
    /// IPv6 sources or destinations in 2001::/32 and 2002::/16 (the relays' side).
    pub relay_prefixes: bool,
    /// The 6rd domain to name 6rd packets by (`"2001:db8::/32"`), if any.
    pub six_rd_prefix: Option<Ipv6Net>,
    /// The IPv4 bits common to the 6rd domain's customers, with `six_rd_prefix`.
    pub six_rd_ipv4: Option<Ipv4Net>,
}

impl Default for Tunnels {
    fn default() -> Tunnels {
        Tunnels::all(true)
    }
}

impl Tunnels {
    /// Every mechanism blocked (`true`) or allowed (`false`).
    pub fn all(block: bool) -> Tunnels {
        Tunnels {
            proto41: block,
            relay_anycast: block,
            teredo: block,
            ayiya: block,
            tsp: block,
            gre: block,
            ip_in_ipv6: block,
            relay_prefixes: block,
            six_rd_prefix: None,
            six_rd_ipv4: None,
        }
    }

    /// The 6rd domain, if configured.
    pub fn six_rd(&self) -> Option<sixfold_teredo::SixRd> {
        let (p, v4) = (self.six_rd_prefix?, self.six_rd_ipv4?);
        sixfold_teredo::SixRd::new(p.network(), p.prefix_len(), v4.network(), v4.prefix_len()).ok()
    }
}

/// How a shaper shares a saturated line between the families.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduling {
    /// IPv4 leaves only when no IPv6 packet waits.
    #[default]
    Strict,
    /// Bytes in the ratio `ipv6_weight : ipv4_weight`.
    Weighted,
}

/// The egress shapers (`wan.rate_mbps`, `subscriber[].rate_mbps`) and how they
/// serve IPv6 before IPv4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shaper {
    /// Strict priority for IPv6 (the default) or weights.
    pub scheduling: Scheduling,
    /// IPv6's weight under `weighted`.
    pub ipv6_weight: u32,
    /// IPv4's weight under `weighted`.
    pub ipv4_weight: u32,
    /// Bytes each family's queue holds before it drops at the tail.
    pub queue_bytes: u32,
}

impl Default for Shaper {
    fn default() -> Shaper {
        Shaper {
            scheduling: Scheduling::Strict,
            ipv6_weight: 3,
            ipv4_weight: 1,
            queue_bytes: 256 * 1024,
        }
    }
}

/// IPv6 simple security (RFC 6092) for traffic from the WAN to the subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Firewall {
    /// The stateful filter; `false` is RFC 6092's transparent mode (everything from
    /// the WAN to a subscriber prefix is forwarded).
    pub enabled: bool,
    /// Which new inbound flows an inside endpoint that has sent out admits: only
    /// replies from the remote endpoint (`apdf`, the default, as the NAT), from the
    /// remote address (`adf`), or from anyone (`eif`, RFC 6092's choice for
    /// application transparency).
    pub filtering: Filtering,
    /// Unsolicited ICMPv6 echo requests pass (RFC 4890 §4.3.1).
    pub inbound_echo: bool,
    /// ESP, AH, HIP and IKE (UDP 500) pass unsolicited, as RFC 6092 asks of the
    /// default mode; `false` puts them under state like every other protocol.
    pub ipsec: bool,
}

impl Default for Firewall {
    fn default() -> Firewall {
        Firewall {
            enabled: true,
            filtering: Filtering::Apdf,
            inbound_echo: true,
            ipsec: true,
        }
    }
}

/// A port or port range opened to unsolicited inbound IPv6, written `"tcp/22"` or
/// `"udp/60000-60100"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OpenPort {
    /// TCP or UDP.
    pub protocol: IpProtocol,
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive).
    pub last: u16,
}

impl OpenPort {
    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl std::str::FromStr for OpenPort {
    type Err = String;

    fn from_str(s: &str) -> Result<OpenPort, String> {
        let usage = || format!("{s:?}: write \"tcp/PORT\", \"udp/PORT\" or \"tcp/FIRST-LAST\"");
        let (proto, ports) = s.split_once('/').ok_or_else(usage)?;
        let protocol = match proto {
            "tcp" => IpProtocol::Tcp,
            "udp" => IpProtocol::Udp,
            _ => return Err(usage()),
        };
        let (first, last) = ports.split_once('-').unwrap_or((ports, ports));
        let first: u16 = first.parse().map_err(|_| usage())?;
        let last: u16 = last.parse().map_err(|_| usage())?;
        if first == 0 || first > last {
            return Err(format!(
                "{s:?}: the range must start at 1 or above and not end before it starts"
            ));
        }
        Ok(OpenPort {
            protocol,
            first,
            last,
        })
    }
}

impl TryFrom<String> for OpenPort {
    type Error = String;

    fn try_from(s: String) -> Result<OpenPort, String> {
        s.parse()
    }
}

impl fmt::Display for OpenPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = if self.protocol == IpProtocol::Tcp {
            "tcp"
        } else {
            "udp"
        };
        if self.first == self.last {
            write!(f, "{proto}/{}", self.first)
        } else {
            write!(f, "{proto}/{}-{}", self.first, self.last)
        }
    }
}

impl From<OpenPort> for String {
    fn from(p: OpenPort) -> String {
        p.to_string()
    }
}

/// The router itself: addresses it sends ICMP from, and its control socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSection {
    /// Source of ICMPv4 errors sent to subscribers (RFC 1812 §4.3.2.4: an address
    /// of the router). Errors sent to the WAN come from the first pool address.
    pub ipv4: Ipv4Addr,
    /// Source of ICMPv6 errors.
    pub ipv6: Ipv6Addr,
    /// Unix socket on which `sixfold stats` reads the counters.
    pub control_socket: String,
    /// ICMP errors the router may generate per second (RFC 1812 §4.3.2.8, RFC 4443 §2.4 f).
    pub icmp_rate: u32,
    /// Send router advertisements into each subscriber TUN (RFC 4861): its /64 for
    /// SLAAC, MTU, RDNSS, default-router preference high (RFC 4191); answer router
    /// solicitations.
    pub ra: bool,
    /// Seconds between unsolicited advertisements (RFC 4861 MaxRtrAdvInterval, 4-1800).
    pub ra_interval: u32,
    /// Recursive DNS servers to advertise (RFC 8106); none: no RDNSS option.
    pub rdnss: Vec<Ipv6Addr>,
}

impl Default for RouterSection {
    fn default() -> RouterSection {
        RouterSection {
            ipv4: Ipv4Addr::new(100, 64, 0, 1),
            ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            control_socket: "/run/sixfold.sock".into(),
            icmp_rate: 1000,
            ra: true,
            ra_interval: 200,
            rdnss: Vec::new(),
        }
    }
}

/// The uplink TUN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Wan {
    /// TUN device name.
    pub name: String,
    /// Network namespace the TUN lives in (none: the router's own).
    pub netns: Option<String>,
    /// MTU of the link.
    pub mtu: u16,
    /// Egress shaper towards the WAN, Mbit/s (none: as fast as the router goes).
    pub rate_mbps: Option<u32>,
}

impl Default for Wan {
    fn default() -> Wan {
        Wan {
            name: "wan".into(),
            netns: None,
            mtu: 1500,
            rate_mbps: None,
        }
    }
}

/// One subscriber: a TUN, like a PPP session on an LNS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriber {
    /// TUN device name.
    pub name: String,
    /// Network namespace the TUN lives in.
    #[serde(default)]
    pub netns: Option<String>,
    /// MTU of the link.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// IPv4 addresses the subscriber may send from (anti-spoofing).
    #[serde(default, deserialize_with = "nets")]
    pub ipv4: Vec<Ipv4Net>,
    /// IPv6 prefixes routed to the subscriber (a /64 or a delegated prefix).
    #[serde(default, deserialize_with = "nets")]
    pub ipv6: Vec<Ipv6Net>,
    /// All unsolicited inbound IPv6 to the subscriber's prefixes passes the firewall.
    #[serde(default)]
    pub open: bool,
    /// Ports open to unsolicited inbound IPv6 (`["tcp/22", "udp/60000-60100"]`).
    #[serde(default)]
    pub open_ports: Vec<OpenPort>,
    /// Egress shaper towards the subscriber (its downstream line), Mbit/s.
    #[serde(default)]
    pub rate_mbps: Option<u32>,
}

/// Prefixes written `a.b.c.d/n`, or plain addresses meaning a host prefix.
fn nets<'de, D, N>(d: D) -> Result<Vec<N>, D::Error>
where
    D: serde::Deserializer<'de>,
    N: std::str::FromStr + From<N::Host>,
    N: HostNet,
{
    let texts = Vec::<String>::deserialize(d)?;
    texts
        .iter()
        .map(|t| {
            t.parse::<N>()
                .or_else(|_| t.parse::<N::Host>().map(N::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!("{t:?} is neither an address nor a prefix"))
                })
        })
        .collect()
}

/// A prefix type and its address type.
trait HostNet: Sized {
    type Host: std::str::FromStr;
}

impl HostNet for Ipv4Net {
    type Host = Ipv4Addr;
}

impl HostNet for Ipv6Net {
    type Host = Ipv6Addr;
}

fn default_mtu() -> u16 {
    1500
}

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The router's own addresses and control socket.
    pub router: RouterSection,
    /// The IPv4 NAT.
    pub nat: Nat,
    /// The uplink.
    pub wan: Wan,
    /// Transition-tunnel blocking.
    pub tunnels: Tunnels,
    /// The IPv6 firewall.
    pub firewall: Firewall,
    /// How the egress shapers schedule the families.
    pub shaper: Shaper,
    /// The subscribers, in order: the first is subscriber 0.
    pub subscriber: Vec<Subscriber>,
}

/// A configuration that cannot be used: which key, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, as written in TOML (`nat.timeouts.udp`, `subscriber[2].ipv4`).
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        problem: problem.into(),
    }
}

fn min(key: &str, value: u32, least: u32, why: &str) -> Result<(), ConfigError> {
    if value < least {
        return Err(err(
            key,
            format!("{value} is too small: must be at least {least} ({why})"),
        ));
    }
    Ok(())
}

fn interface_name(key: String, name: &str) -> Result<(), ConfigError> {
    // IFNAMSIZ is 16 including the terminating NUL.
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '\0']) || name == "." {
        return Err(err(
            key,
            format!("{name:?} is not a Linux interface name (1-15 characters, no '/' or space)"),
        ));
    }
    Ok(())
}

fn mtu(key: String, value: u16, least: u16) -> Result<(), ConfigError> {
    if value < least {
        return Err(err(key, format!("{value} is below the minimum {least}")));
    }
    Ok(())
}

fn rate(key: String, mbps: Option<u32>) -> Result<(), ConfigError> {
    match mbps {
        Some(r) if r == 0 || r > 100_000 => Err(err(
            key,
            format!("{r} Mbit/s: a shaper's rate is 1 to 100000 (leave it out for none)"),
        )),
        _ => Ok(()),
    }
}

impl Config {
    /// Parses and validates TOML.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let key = e.span().map_or_else(
                || "config".to_string(),
                |s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}")
                },
            );
            err(key, e.message().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nat = &self.nat;
        if nat.pool.is_empty() {
            return Err(err(
                "nat.pool",
                "is empty: the NAT needs at least one public address",
            ));
        }
        let mut pool = nat.pool_addresses();
        let total = pool.len();
        pool.sort_unstable();
        pool.dedup();
        if pool.len() != total {
            return Err(err(
                "nat.pool",
                "lists an address twice (overlapping prefixes)",
            ));
        }
        if pool.len() > 1 << 20 {
            return Err(err(
                "nat.pool",
                format!("{} addresses: at most 2^20 are supported", pool.len()),
            ));
        }
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
        min(
            "router.icmp_rate",
            self.router.icmp_rate,
            1,
            "errors must be able to leave",
        )?;
        min(
            "router.ra_interval",
            self.router.ra_interval,
            4,
            "RFC 4861 §6.2.1",
        )?;
        if self.router.ra_interval > 1800 {
            return Err(err(
                "router.ra_interval",
                format!(
                    "{} is too large: at most 1800 (RFC 4861 §6.2.1)",
                    self.router.ra_interval
                ),
            ));
        }
        if self.router.rdnss.len() > 8 {
            return Err(err("router.rdnss", "at most 8 servers"));
        }
        if self.router.control_socket.is_empty() {
            return Err(err("router.control_socket", "is empty"));
        }
        let sh = &self.shaper;
        min(
            "shaper.ipv6_weight",
            sh.ipv6_weight,
            1,
            "a family needs a share",
        )?;
        min(
            "shaper.ipv4_weight",
            sh.ipv4_weight,
            1,
            "a family needs a share",
        )?;
        let largest = self
            .subscriber
            .iter()
            .map(|s| s.mtu)
            .chain([self.wan.mtu])
            .max()
            .unwrap_or(1500);
        min(
            "shaper.queue_bytes",
            sh.queue_bytes,
            u32::from(largest),
            "a queue must hold the largest packet a link carries",
        )?;
        rate("wan.rate_mbps".into(), self.wan.rate_mbps)?;
        interface_name("wan.name".into(), &self.wan.name)?;
        mtu("wan.mtu".into(), self.wan.mtu, 1280)?;
        let mut names = vec![self.wan.name.clone()];
        let mut v6: Vec<(usize, Ipv6Net)> = Vec::new();
        let mut v4: Vec<(usize, Ipv4Net)> = Vec::new();
        for (i, sub) in self.subscriber.iter().enumerate() {
            let key = |field: &str| format!("subscriber[{i}].{field}");
            interface_name(key("name"), &sub.name)?;
            if names.contains(&sub.name) {
                return Err(err(key("name"), format!("{:?} is used twice", sub.name)));
            }
            names.push(sub.name.clone());
            mtu(key("mtu"), sub.mtu, 1280)?;
            rate(key("rate_mbps"), sub.rate_mbps)?;
            for net in &sub.ipv4 {
                if pool.iter().any(|a| net.contains(a)) {
                    return Err(err(key("ipv4"), format!("{net} overlaps nat.pool")));
                }
                if let Some((j, other)) = v4
                    .iter()
                    .find(|(_, o)| o.contains(&net.network()) || net.contains(&o.network()))
                {
                    return Err(err(
                        key("ipv4"),
                        format!("{net} overlaps subscriber[{j}].ipv4 {other}"),
                    ));
                }
                v4.push((i, *net));
            }
            for net in &sub.ipv6 {
                if net.prefix_len() > 64 {
                    return Err(err(
                        key("ipv6"),
                        format!("{net}: a subscriber needs a /64 or shorter for SLAAC"),
                    ));
                }
                if let Some((j, other)) = v6
                    .iter()
                    .find(|(_, o)| o.contains(&net.network()) || net.contains(&o.network()))
                {
                    return Err(err(
                        key("ipv6"),
                        format!("{net} overlaps subscriber[{j}].ipv6 {other}"),
                    ));
                }
                v6.push((i, *net));
            }
        }
        if self.tunnels.six_rd_prefix.is_some() != self.tunnels.six_rd_ipv4.is_some() {
            return Err(err(
                "tunnels.six_rd_prefix",
                "needs tunnels.six_rd_ipv4 too (and the other way round)",
            ));
        }
        if self.tunnels.six_rd_prefix.is_some() && self.tunnels.six_rd().is_none() {
            return Err(err(
                "tunnels.six_rd_prefix",
                "with six_rd_ipv4 leaves more than 64 bits",
            ));
        }
        if self.subscriber.len() > u16::MAX as usize {
            return Err(err("subscriber", "more than 65535 subscribers"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_the_default() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.nat.mapping, Mapping::Eim);
        assert_eq!(config.nat.filtering, Filtering::Apdf);
        assert!(config.nat.hairpin);
        assert_eq!(config.nat.ports_per_subscriber, 4096);
        assert_eq!(config.nat.timeouts.tcp_established, 7440);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_toml("[nat.timeouts]\nudp = 60\n").unwrap_err();
        assert_eq!(e.key, "nat.timeouts.udp");
        assert!(e.problem.contains("at least 120"), "{e}");
        let e = Config::from_toml("[nat]\npool = []\n").unwrap_err();
        assert_eq!(e.key, "nat.pool");
        let e = Config::from_toml("[[subscriber]]\nname = \"a\"\n[[subscriber]]\nname = \"a\"\n")
            .unwrap_err();
        assert_eq!(e.to_string(), "subscriber[1].name: \"a\" is used twice");
        let e = Config::from_toml("[[subscriber]]\nname = \"a\"\nipv4 = [\"203.0.113.0/24\"]\n")
            .unwrap_err();
        assert_eq!(e.key, "subscriber[0].ipv4");
    }

    #[test]
    fn unknown_keys_and_bad_values_say_where() {
        let e = Config::from_toml("[nat]\nmaping = \"eim\"\n").unwrap_err();
        assert_eq!(e.key, "line 2");
        assert!(e.problem.contains("maping"), "{e}");
        let e = Config::from_toml("[nat]\nfiltering = \"full-cone\"\n").unwrap_err();
        assert!(e.problem.contains("full-cone"), "{e}");
    }

    #[test]
    fn firewall_defaults_and_open_ports() {
        let c = Config::from_toml(
            "[[subscriber]]\nname = \"a\"\nopen_ports = [\"tcp/22\", \"udp/60000-60100\"]\n",
        )
        .unwrap();
        assert!(c.firewall.enabled && c.firewall.ipsec && c.firewall.inbound_echo);
        assert_eq!(c.firewall.filtering, Filtering::Apdf);
        let ports = &c.subscriber[0].open_ports;
        assert_eq!(
            ports,
            &[
                OpenPort {
                    protocol: IpProtocol::Tcp,
                    first: 22,
                    last: 22
                },
                OpenPort {
                    protocol: IpProtocol::Udp,
                    first: 60000,
                    last: 60100
                }
            ]
        );
        assert_eq!(ports[1].to_string(), "udp/60000-60100");
        assert!(ports[1].contains(60100) && !ports[1].contains(60101));
        for bad in [
            "\"sctp/1\"",
            "\"tcp/0\"",
            "\"tcp/9-8\"",
            "\"tcp/70000\"",
            "\"22\"",
        ] {
            let e = Config::from_toml(&format!(
                "[[subscriber]]\nname = \"a\"\nopen_ports = [{bad}]\n"
            ))
            .unwrap_err();
            assert_eq!(e.key, "line 3", "{bad}: {e}");
        }
    }

    #[test]
    fn pool_is_non_contiguous_and_counted() {
        let c =
            Config::from_toml("[nat]\npool = [\"192.0.2.7/32\", \"198.51.100.0/30\"]\n").unwrap();
        let a = c.nat.pool_addresses();
        assert_eq!(
            a,
            ["192.0.2.7", "198.51.100.1", "198.51.100.2"].map(|s| s.parse::<Ipv4Addr>().unwrap())
        );
    }
}
