//! `[router]`, `[wan]` and `[[subscriber]]`: the router's own addresses and
//! control socket, and its links.

use super::OpenPort;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where the control socket is unless configured: the systemd unit's
/// `RuntimeDirectory=sixfold`, where `sixfold stats` and `sixfold reload` look
/// by default.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/sixfold/sixfold.sock";

/// The router itself: addresses it sends ICMP from, and its control socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSection {
    /// Source of ICMPv4 errors sent to subscribers (RFC 1812 §4.3.2.4: an address
    /// of the router). Errors sent to the WAN come from the first pool address.
    pub ipv4: Ipv4Addr,
    /// Source of ICMPv6 errors.
    pub ipv6: Ipv6Addr,
    /// Unix socket on which `sixfold stats` reads the counters and `sixfold
    /// reload` asks for a new configuration. Its directory is made (0755) if
    /// missing; under systemd it is the unit's `RuntimeDirectory`.
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
    /// Outside systemd: the user `sixfold run` becomes once its devices, routes
    /// and sockets exist, keeping only the capabilities it still needs (none:
    /// it stays who started it). Under systemd the unit's `User=` does this.
    pub user: Option<String>,
    /// The group it becomes (none: `user`'s primary group).
    pub group: Option<String>,
    /// How the log is written to standard error: `text` (colours only on a
    /// terminal) or `json` (one object per line).
    pub log_format: LogFormat,
}

/// How `sixfold run` writes its log (`[router] log_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event: time, level, message, fields.
    #[default]
    Text,
    /// One JSON object per event and line.
    Json,
}

impl Default for RouterSection {
    fn default() -> RouterSection {
        RouterSection {
            ipv4: Ipv4Addr::new(100, 64, 0, 1),
            ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            control_socket: DEFAULT_CONTROL_SOCKET.into(),
            icmp_rate: 1000,
            ra: true,
            ra_interval: 200,
            rdnss: Vec::new(),
            offload: true,
            workers: 0,
            user: None,
            group: None,
            log_format: LogFormat::Text,
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
    /// Routes installed on the TUN (in its namespace) once it is up; they die
    /// with the TUN, so a crash withdraws them.
    #[serde(deserialize_with = "nets")]
    pub routes: Vec<IpNet>,
    /// The kernel routing table of `routes` and of the ranges' announce routes
    /// (none: main, 254).
    pub route_table: Option<u32>,
}

impl Default for Wan {
    fn default() -> Wan {
        Wan {
            name: "wan".into(),
            netns: None,
            mtu: 1500,
            rate_mbps: None,
            routes: Vec::new(),
            route_table: None,
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

/// One inside TUN carrying many subscribers, each known by its source address:
/// subscriber `i` of the range has IPv4 address `ipv4.network() + i` and IPv6
/// prefix number `i` of length `ipv6_length` inside `ipv6`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberRange {
    /// TUN device name.
    pub name: String,
    /// Network namespace the TUN lives in.
    #[serde(default)]
    pub netns: Option<String>,
    /// MTU of the link.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// One subscriber per address of this prefix.
    #[serde(default)]
    pub ipv4: Option<Ipv4Net>,
    /// One subscriber per `ipv6_length` prefix inside this one.
    #[serde(default)]
    pub ipv6: Option<Ipv6Net>,
    /// The length of each subscriber's IPv6 prefix (48 to 64).
    #[serde(default = "default_ipv6_length")]
    pub ipv6_length: u8,
    /// Routes installed on the TUN (in its namespace) once it is up.
    #[serde(default, deserialize_with = "nets")]
    pub routes: Vec<IpNet>,
    /// The kernel routing table of `routes` (none: main).
    #[serde(default)]
    pub route_table: Option<u32>,
    /// While a subscriber of the range has IPv6 firewall state, a route for its
    /// prefix exists via the WAN TUN in `wan.route_table`, for BGP to announce.
    #[serde(default)]
    pub announce: bool,
    /// As `[[subscriber]] open`, for each subscriber of the range.
    #[serde(default)]
    pub open: bool,
    /// As `[[subscriber]] open_ports`, for each subscriber of the range.
    #[serde(default)]
    pub open_ports: Vec<OpenPort>,
    /// As `[[subscriber]] rate_mbps`, for each subscriber of the range.
    #[serde(default)]
    pub rate_mbps: Option<u32>,
}

impl SubscriberRange {
    /// Subscribers with an IPv4 address.
    pub fn count_v4(&self) -> u64 {
        self.ipv4
            .map_or(0, |n| 1u64 << (32 - u32::from(n.prefix_len())))
    }

    /// Subscribers with an IPv6 prefix (0 when `ipv6_length` is shorter than
    /// the prefix, which validation refuses).
    pub fn count_v6(&self) -> u64 {
        self.ipv6.map_or(0, |n| {
            let bits = u32::from(self.ipv6_length).saturating_sub(u32::from(n.prefix_len()));
            1u64.checked_shl(bits).unwrap_or(u64::MAX)
        })
    }

    /// Subscribers of the range: the larger of the two families' counts.
    pub fn len(&self) -> u64 {
        self.count_v4().max(self.count_v6())
    }

    /// Whether the range has no subscriber (neither family given).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The IPv4 address of subscriber `i` of the range.
    pub fn ipv4_of(&self, i: u32) -> Option<Ipv4Addr> {
        let net = self.ipv4?;
        (u64::from(i) < self.count_v4())
            .then(|| Ipv4Addr::from(u32::from(net.network()).wrapping_add(i)))
    }

    /// The IPv6 prefix of subscriber `i` of the range.
    pub fn ipv6_of(&self, i: u32) -> Option<Ipv6Net> {
        let net = self.ipv6?;
        if u64::from(i) >= self.count_v6() {
            return None;
        }
        let shift = 128 - u32::from(self.ipv6_length);
        let base = u128::from(net.network());
        let addr = base | (u128::from(i) << shift);
        Ipv6Net::new(Ipv6Addr::from(addr), self.ipv6_length).ok()
    }

    /// Subscriber `i`'s name in the statistics: `<name>/<IPv4 address>`, or
    /// `<name>/<IPv6 prefix>` for a subscriber without IPv4.
    pub fn subscriber_name(&self, i: u32) -> String {
        match (self.ipv4_of(i), self.ipv6_of(i)) {
            (Some(a), _) => format!("{}/{a}", self.name),
            (None, Some(p)) => format!("{}/{p}", self.name),
            (None, None) => format!("{}/#{i}", self.name),
        }
    }

    /// Which subscriber of the range has IPv4 address `addr`.
    pub fn index_v4(&self, addr: Ipv4Addr) -> Option<u32> {
        let net = self.ipv4?;
        net.contains(&addr)
            .then(|| u32::from(addr) - u32::from(net.network()))
    }

    /// Which subscriber of the range has the IPv6 prefix holding `addr`.
    pub fn index_v6(&self, addr: Ipv6Addr) -> Option<u32> {
        let net = self.ipv6?;
        if !net.contains(&addr) || self.ipv6_length < net.prefix_len() {
            return None;
        }
        let offset = u128::from(addr) - u128::from(net.network());
        let i = offset >> (128 - u32::from(self.ipv6_length));
        u32::try_from(i)
            .ok()
            .filter(|&i| u64::from(i) < self.count_v6())
    }
}

fn default_ipv6_length() -> u8 {
    64
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

impl HostNet for IpNet {
    type Host = IpAddr;
}

fn default_mtu() -> u16 {
    1500
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn range(text: &str) -> SubscriberRange {
        let c = Config::from_toml(&format!(
            "[nat]\npool = [\"192.0.2.1\"]\n[[subscriber_range]]\nname = \"in\"\n{text}\n"
        ))
        .unwrap();
        c.subscriber_range[0].clone()
    }

    #[test]
    fn ipv4_subscribers_are_the_addresses_of_the_prefix_in_order() {
        let r = range("ipv4 = \"100.64.0.0/24\"");
        assert_eq!((r.count_v4(), r.count_v6(), r.len()), (256, 0, 256));
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(r.ipv4_of(0), Some(a("100.64.0.0")));
        assert_eq!(r.ipv4_of(255), Some(a("100.64.0.255")));
        assert_eq!(r.ipv4_of(256), None);
        assert_eq!(r.index_v4(a("100.64.0.0")), Some(0));
        assert_eq!(r.index_v4(a("100.64.0.255")), Some(255));
        assert_eq!(r.index_v4(a("100.63.255.255")), None);
        assert_eq!(r.index_v4(a("100.64.1.0")), None);
        assert_eq!(r.ipv6_of(0), None);
        assert_eq!(r.subscriber_name(7), "in/100.64.0.7");
    }

    #[test]
    fn ipv6_subscribers_are_prefixes_of_ipv6_length() {
        let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let n = |s: &str| s.parse::<Ipv6Net>().unwrap();
        // /48 in /56s: 256 subscribers.
        let r = range("ipv6 = \"2001:db8:1::/48\"\nipv6_length = 56");
        assert_eq!((r.count_v6(), r.len()), (256, 256));
        assert_eq!(r.ipv6_of(0), Some(n("2001:db8:1::/56")));
        assert_eq!(r.ipv6_of(1), Some(n("2001:db8:1:100::/56")));
        assert_eq!(r.ipv6_of(255), Some(n("2001:db8:1:ff00::/56")));
        assert_eq!(r.ipv6_of(256), None);
        assert_eq!(r.index_v6(a("2001:db8:1:1ff::1")), Some(1));
        assert_eq!(
            r.index_v6(a("2001:db8:1:ffff:ffff:ffff:ffff:ffff")),
            Some(255)
        );
        assert_eq!(r.index_v6(a("2001:db8:2::")), None);
        assert_eq!(r.index_v6(a("2001:db8:0:ffff::1")), None);
        assert_eq!(r.subscriber_name(1), "in/2001:db8:1:100::/56");
        // /48 in /64s (the default): 65536.
        let r = range("ipv6 = \"2001:db8:1::/48\"");
        assert_eq!(r.len(), 65536);
        assert_eq!(r.ipv6_of(65535), Some(n("2001:db8:1:ffff::/64")));
        assert_eq!(r.index_v6(a("2001:db8:1:abcd::42")), Some(0xabcd));
        // Both families: the larger count; subscriber i has both.
        let r = range("ipv4 = \"100.64.0.0/30\"\nipv6 = \"2001:db8:1::/60\"");
        assert_eq!((r.count_v4(), r.count_v6(), r.len()), (4, 16, 16));
        assert_eq!(r.ipv4_of(3), Some(Ipv4Addr::new(100, 64, 0, 3)));
        assert_eq!(r.ipv4_of(4), None);
        assert_eq!(r.ipv6_of(15), Some(n("2001:db8:1:f::/64")));
        assert_eq!(r.subscriber_name(3), "in/100.64.0.3");
        assert_eq!(r.subscriber_name(4), "in/2001:db8:1:4::/64");
    }

    #[test]
    fn every_range_key_and_its_default() {
        let c = Config::from_toml(
            "[nat]\npool = [\"198.51.100.1\"]\n[wan]\nroutes = [\"203.0.113.0/28\", \"2001:db8:1::/48\", \"192.0.2.1\"]\nroute_table = 110\n\
             [[subscriber]]\nname = \"s\"\nipv4 = [\"100.65.0.1\"]\n\
             [[subscriber_range]]\nname = \"inside\"\nnetns = \"r1\"\nmtu = 1400\nipv4 = \"100.64.0.0/24\"\n\
             ipv6 = \"2001:db8:1::/48\"\nipv6_length = 56\nroutes = [\"0.0.0.0/0\", \"::/0\"]\nroute_table = 100\n\
             announce = true\nopen = true\nopen_ports = [\"tcp/22\"]\nrate_mbps = 10\n\
             [[subscriber_range]]\nname = \"b\"\nipv4 = \"100.64.1.0/30\"\n",
        )
        .unwrap();
        let routes: Vec<String> = c.wan.routes.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            routes,
            ["203.0.113.0/28", "2001:db8:1::/48", "192.0.2.1/32"]
        );
        assert_eq!(c.wan.route_table, Some(110));
        let r = &c.subscriber_range[0];
        assert_eq!(
            (
                r.netns.as_deref(),
                r.mtu,
                r.ipv6_length,
                r.route_table,
                r.announce,
                r.open
            ),
            (Some("r1"), 1400, 56, Some(100), true, true)
        );
        assert_eq!(r.routes.len(), 2);
        assert_eq!((r.open_ports.len(), r.rate_mbps), (1, Some(10)));
        let b = &c.subscriber_range[1];
        assert_eq!(
            (
                b.netns.as_deref(),
                b.mtu,
                b.ipv6_length,
                b.route_table,
                b.announce,
                b.open
            ),
            (None, 1500, 64, None, false, false)
        );
        assert!(b.routes.is_empty() && b.open_ports.is_empty() && b.rate_mbps.is_none());
        // Ids: the [[subscriber]] first, then range by range.
        assert_eq!((c.range_first_id(0), c.range_first_id(1)), (1, 257));
        assert_eq!(c.subscriber_count(), 261);
        assert_eq!(c.subscriber_name(0).as_deref(), Some("s"));
        assert_eq!(c.subscriber_name(1).as_deref(), Some("inside/100.64.0.0"));
        assert_eq!(
            c.subscriber_name(256).as_deref(),
            Some("inside/100.64.0.255")
        );
        assert_eq!(c.subscriber_name(257).as_deref(), Some("b/100.64.1.0"));
        assert_eq!(c.subscriber_name(260).as_deref(), Some("b/100.64.1.3"));
        assert_eq!(c.subscriber_name(261), None);
        assert_eq!(Config::default().wan.route_table, None);
    }

    /// The error for a configuration with one range of `keys` (after `extra`).
    fn refused(extra: &str, keys: &str) -> String {
        Config::from_toml(&format!(
            "{extra}\n[[subscriber_range]]\nname = \"in\"\n{keys}\n"
        ))
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn range_errors_name_the_key() {
        let e = refused("", "");
        assert_eq!(
            e,
            "subscriber_range[0].ipv4 (line 2): missing: a range needs ipv4, ipv6 or both"
        );
        let e = refused("", "ipv4 = \"100.64.0.1/24\"");
        assert_eq!(
            e,
            "subscriber_range[0].ipv4 (line 4): 100.64.0.1/24 has host bits set: write 100.64.0.0/24"
        );
        let e = refused("", "ipv4 = \"100.64.0.0/11\"");
        assert_eq!(
            e,
            "subscriber_range[0].ipv4 (line 4): 100.64.0.0/11 holds more than 2^20 subscribers (a /12 at most)"
        );
        let e = refused("", "ipv4 = \"127.0.0.0/24\"");
        assert_eq!(
            e,
            "subscriber_range[0].ipv4 (line 4): 127.0.0.0/24 is loopback (127.0.0.0/8)"
        );
        let e = refused("", "ipv6 = \"2001:db8::/48\"\nipv6_length = 47");
        assert_eq!(
            e,
            "subscriber_range[0].ipv6_length (line 5): 47: each subscriber's prefix is 48 to 64 bits long"
        );
        let e = refused("", "ipv6 = \"2001:db8::/48\"\nipv6_length = 65");
        assert!(e.starts_with("subscriber_range[0].ipv6_length"), "{e}");
        let e = refused("", "ipv6 = \"2001:db8::/56\"\nipv6_length = 48");
        assert_eq!(
            e,
            "subscriber_range[0].ipv6_length (line 5): 48 is shorter than ipv6 2001:db8::/56: a subscriber's prefix lies inside the range's"
        );
        let e = refused("", "ipv6 = \"2001:db8::/40\"");
        assert_eq!(
            e,
            "subscriber_range[0].ipv6 (line 4): 2001:db8::/40 holds 2^24 /64 prefixes: at most 2^20 subscribers"
        );
        let e = refused("", "ipv6 = \"fe80::/48\"");
        assert!(
            e.starts_with("subscriber_range[0].ipv6 (line 4): fe80::/48 is link-local"),
            "{e}"
        );
        let e = refused("", "ipv4 = \"100.64.0.0/24\"\nannounce = true");
        assert_eq!(
            e,
            "subscriber_range[0].announce (line 5): announces IPv6 prefixes: the range needs ipv6"
        );
        let e = refused("", "ipv4 = \"100.64.0.0/24\"\nroute_table = 0");
        assert!(
            e.starts_with("subscriber_range[0].route_table (line 5): 0 is not a table"),
            "{e}"
        );
        let e = refused("[wan]\nroute_table = 255", "ipv4 = \"100.64.0.0/24\"");
        assert!(
            e.starts_with("wan.route_table (line 2): 255 is not a table"),
            "{e}"
        );
        let e = refused(
            "[wan]\nroutes = [\"203.0.113.1/28\"]",
            "ipv4 = \"100.64.0.0/24\"",
        );
        assert_eq!(
            e,
            "wan.routes (line 2): 203.0.113.1/28 has host bits set: write 203.0.113.0/28"
        );
        let e = refused(
            "",
            "ipv4 = \"100.64.0.0/24\"\nroutes = [\"::/0\", \"10.1.2.3/8\"]",
        );
        assert_eq!(
            e,
            "subscriber_range[0].routes (line 5): 10.1.2.3/8 has host bits set: write 10.0.0.0/8"
        );
        let e = refused("", "ipv4 = \"100.64.0.0/24\"\nmtu = 1000");
        assert!(e.starts_with("subscriber_range[0].mtu"), "{e}");
        let e = refused("", "ipv4 = \"100.64.0.0/24\"\nrate_mbps = 0");
        assert!(e.starts_with("subscriber_range[0].rate_mbps"), "{e}");
        let e = refused("", "ipv4 = \"100.64.0.0/24\"\nprefix = \"x\"");
        assert!(e.starts_with("subscriber_range[0].prefix"), "{e}");
        let e = refused("", "ipv4 = \"100.64.0.0/24\"\nname = \"wan\"");
        assert!(e.contains("duplicate key"), "{e}");
        let e = refused("[[subscriber]]\nname = \"in\"", "ipv4 = \"100.64.0.0/24\"");
        assert_eq!(e, "subscriber_range[0].name (line 4): \"in\" is used twice");
    }

    #[test]
    fn ranges_overlap_nobody_and_stay_within_2_to_the_20() {
        let e = refused(
            "[[subscriber]]\nname = \"s\"\nipv4 = [\"100.64.0.7\"]",
            "ipv4 = \"100.64.0.0/24\"",
        );
        assert_eq!(
            e,
            "subscriber_range[0].ipv4 (line 6): 100.64.0.0/24 overlaps subscriber[0].ipv4 100.64.0.7/32"
        );
        let e = refused(
            "[[subscriber]]\nname = \"s\"\nipv6 = [\"2001:db8:1:5::/64\"]",
            "ipv6 = \"2001:db8:1::/48\"",
        );
        assert_eq!(
            e,
            "subscriber_range[0].ipv6 (line 6): 2001:db8:1::/48 overlaps subscriber[0].ipv6 2001:db8:1:5::/64"
        );
        let e = refused(
            "[nat]\npool = [\"100.64.0.128/25\"]",
            "ipv4 = \"100.64.0.0/24\"",
        );
        assert_eq!(
            e,
            "subscriber_range[0].ipv4 (line 5): 100.64.0.0/24 overlaps nat.pool 100.64.0.128/25"
        );
        let e = refused(
            "[[subscriber_range]]\nname = \"a\"\nipv4 = \"100.64.0.0/16\"",
            "ipv4 = \"100.64.7.0/24\"",
        );
        assert_eq!(
            e,
            "subscriber_range[1].ipv4 (line 6): 100.64.7.0/24 overlaps subscriber_range[0].ipv4 100.64.0.0/16"
        );
        let e = refused(
            "[[subscriber_range]]\nname = \"a\"\nipv4 = \"10.0.0.0/12\"",
            "ipv4 = \"100.64.0.0/32\"",
        );
        assert_eq!(
            e,
            "subscriber_range[1].ipv4 (line 6): ranges hold 1048577 subscribers with this one: at most 2^20 in all (per-subscriber ids and state)"
        );
        // 2^20 exactly is fine.
        Config::from_toml(
            "[nat]\npool = [\"192.0.2.1\"]\n[[subscriber_range]]\nname = \"a\"\nipv4 = \"10.0.0.0/12\"\n",
        )
        .unwrap();
        let e = refused(
            "[nat64]\nprefix = \"2001:db8:1::/96\"",
            "ipv6 = \"2001:db8:1::/48\"",
        );
        assert!(
            e.contains("overlaps subscriber_range[0].ipv6 2001:db8:1::/48"),
            "{e}"
        );
    }
}
