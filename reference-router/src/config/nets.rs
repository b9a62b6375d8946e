//! Prefix lists as the configuration writes them: `"a.b.c.d/n"`, or a plain
//! address meaning its host prefix. A leaf every section's file may use.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
