//! `[tunnels]`, `[firewall]` and `[shaper]`: what the router blocks, admits and
//! serves first.

use super::Filtering;
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use sixfold_rewrite::IpProtocol;
use std::fmt;

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
