//! The router's links as the packet path needs them: MTUs, names, the IPv4
//! addresses each subscriber may send from, and the IPv6 routes to the
//! subscribers' prefixes.

use crate::config::Config;
use crate::iface::{Interface, SubscriberId};
use ipnet::Ipv4Net;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

struct Link {
    name: String,
    mtu: usize,
    ipv4: Vec<Ipv4Net>,
    /// The /64s the subscriber is told to configure addresses from (a delegated
    /// shorter prefix is advertised by its first /64: SLAAC needs a /64).
    slaac: Vec<Ipv6Addr>,
}

pub(super) struct Links {
    wan_name: String,
    wan_mtu: usize,
    subscribers: Vec<Link>,
    /// Subscriber prefixes: per prefix length present (longest first), the upper
    /// 64 bits of each prefix → its subscriber. A lookup is one probe per length.
    v6_routes: Vec<(u8, HashMap<u64, SubscriberId>)>,
}

fn upper64(a: Ipv6Addr) -> u64 {
    (u128::from(a) >> 64) as u64
}

impl Links {
    pub(super) fn new(config: &Config) -> Links {
        let mut v6_routes: Vec<(u8, HashMap<u64, SubscriberId>)> = Vec::new();
        for (i, sub) in config.subscriber.iter().enumerate() {
            for net in &sub.ipv6 {
                let len = net.prefix_len();
                let at = match v6_routes.iter().position(|(l, _)| *l == len) {
                    Some(at) => at,
                    None => {
                        v6_routes.push((len, HashMap::new()));
                        v6_routes.len() - 1
                    }
                };
                v6_routes[at]
                    .1
                    .insert(upper64(net.network()), i as SubscriberId);
            }
        }
        v6_routes.sort_by_key(|r| std::cmp::Reverse(r.0));
        Links {
            wan_name: config.wan.name.clone(),
            wan_mtu: usize::from(config.wan.mtu),
            subscribers: config
                .subscriber
                .iter()
                .map(|s| Link {
                    name: s.name.clone(),
                    mtu: usize::from(s.mtu),
                    ipv4: s.ipv4.clone(),
                    slaac: s.ipv6.iter().map(|n| n.network()).collect(),
                })
                .collect(),
            v6_routes,
        }
    }

    pub(super) fn has_subscriber(&self, sub: SubscriberId) -> bool {
        usize::from(sub) < self.subscribers.len()
    }

    /// Subscriber ids, in order.
    pub(super) fn subscribers(&self) -> impl Iterator<Item = SubscriberId> + use<> {
        0..self.subscribers.len() as SubscriberId
    }

    pub(super) fn mtu(&self, i: Interface) -> usize {
        match i {
            Interface::Wan => self.wan_mtu,
            Interface::Subscriber(s) => self.subscribers[usize::from(s)].mtu,
        }
    }

    /// The TUN name.
    pub(super) fn name(&self, i: Interface) -> &str {
        match i {
            Interface::Wan => &self.wan_name,
            Interface::Subscriber(s) => &self.subscribers[usize::from(s)].name,
        }
    }

    /// Whether subscriber `sub` may send from `addr` (anti-spoofing).
    pub(super) fn owns_ipv4(&self, sub: SubscriberId, addr: Ipv4Addr) -> bool {
        self.subscribers[usize::from(sub)]
            .ipv4
            .iter()
            .any(|n| n.contains(&addr))
    }

    /// The subscriber whose prefix holds `addr`, longest prefix first.
    pub(super) fn route_v6(&self, addr: Ipv6Addr) -> Option<SubscriberId> {
        let upper = upper64(addr);
        self.v6_routes.iter().find_map(|(len, routes)| {
            // Prefixes are at most /64 (validated); a /0 matches everything.
            let mask = u64::MAX.checked_shl(64 - u32::from(*len)).unwrap_or(0);
            routes.get(&(upper & mask)).copied()
        })
    }

    /// The /64s advertised to subscriber `sub` for SLAAC.
    pub(super) fn slaac_prefixes(&self, sub: SubscriberId) -> &[Ipv6Addr] {
        &self.subscribers[usize::from(sub)].slaac
    }
}
