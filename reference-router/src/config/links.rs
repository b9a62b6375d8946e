//! `[router]`, `[wan]` and `[[subscriber]]`: the router's own addresses and
//! control socket, and its links.

use super::OpenPort;
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

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
    /// Open the TUNs with offload (virtio-net header, TSO/USO): super-packets of
    /// up to 64 KiB in and out, translated once. Falls back, and says so, where
    /// the kernel refuses.
    pub offload: bool,
    /// Worker threads, each with its own queue on the uplink; 0: one per CPU.
    pub workers: u32,
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
            offload: true,
            workers: 0,
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
pub(super) fn nets<'de, D, N>(d: D) -> Result<Vec<N>, D::Error>
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
pub(super) trait HostNet: Sized {
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
