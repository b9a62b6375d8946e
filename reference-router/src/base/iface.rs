//! Who is who on the router's links: the interfaces, the direction a packet came
//! from, and a subscriber's id. Every other module names links with these.

use serde::{Deserialize, Serialize};
/// A subscriber: the index of its `[[subscriber]]` entry in the configuration,
/// or, for a `[[subscriber_range]]`'s subscriber, the number of `[[subscriber]]`
/// entries plus the subscribers of the ranges before it plus its index in its
/// range ([`crate::Config::range_first_id`]).
pub type SubscriberId = u32;

/// A change to the routes a `[[subscriber_range]]` with `announce` asks for:
/// applied by the I/O loop in `[wan] route_table`, via the WAN TUN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RouteChange {
    /// A subscriber's first IPv6 flow: its prefix is routed here.
    Announce(ipnet::Ipv6Net),
    /// Its last flow expired (or the router stops): the route goes.
    Withdraw(ipnet::Ipv6Net),
}

/// An interface of the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Interface {
    /// The uplink.
    Wan,
    /// A subscriber's TUN: its own, or its `[[subscriber_range]]`'s (the I/O
    /// loop writes there; [`crate::Router::range_of`] says which).
    Subscriber(SubscriberId),
}

/// Where a packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a subscriber, towards the WAN (or another subscriber).
    Outbound(SubscriberId),
    /// From the WAN.
    Inbound,
}

impl Direction {
    /// The interface the packet came in on.
    pub fn ingress(self) -> Interface {
        match self {
            Direction::Outbound(s) => Interface::Subscriber(s),
            Direction::Inbound => Interface::Wan,
        }
    }

    /// Whether the packet came from a subscriber.
    pub fn is_outbound(self) -> bool {
        matches!(self, Direction::Outbound(_))
    }
}

impl Interface {
    /// The direction of a packet that came in on this interface.
    pub fn direction(self) -> Direction {
        match self {
            Interface::Wan => Direction::Inbound,
            Interface::Subscriber(s) => Direction::Outbound(s),
        }
    }
}

/// One worker's share of the router, when several run side by side: each owns
/// the subscribers `k` with `k % count == index`, and a contiguous slice of every
/// public address's ports and ICMP identifiers, so a packet from the WAN can be
/// brought to the worker that holds its session by its destination port alone
/// (as VPP's NAT44-ED does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// This worker, 0-based.
    pub index: u16,
    /// Workers in all (at least 1).
    pub count: u16,
}

/// Well-known ports 1–1023, and the rest 1024–65535 (RFC 4787 REQ-3a keeps the
/// classes apart): each split into `count` contiguous slices.
const LOW: (u32, u32) = (1, 1023);
const HIGH: (u32, u32) = (1024, 65535);

impl Shard {
    /// The only worker.
    pub const SOLE: Shard = Shard { index: 0, count: 1 };

    /// The worker that owns subscriber `sub`.
    pub fn subscriber_owner(self, sub: SubscriberId) -> u16 {
        (sub % u32::from(self.count.max(1))) as u16
    }

    /// Whether this worker owns subscriber `sub`.
    pub fn owns_subscriber(self, sub: SubscriberId) -> bool {
        self.subscriber_owner(sub) == self.index
    }

    /// The worker whose slice holds external port (or ICMP identifier) `port`.
    pub fn port_owner(self, port: u16) -> u16 {
        let n = u32::from(self.count.max(1));
        let p = u32::from(port);
        let (lo, hi) = if p < HIGH.0 { LOW } else { HIGH };
        let size = ((hi - lo + 1) / n).max(1);
        ((p.saturating_sub(lo)) / size).min(n - 1) as u16
    }

    /// This worker's slice of `lo..=hi` (one of the two classes).
    fn slice(self, (lo, hi): (u32, u32)) -> (u32, u32) {
        let n = u32::from(self.count.max(1));
        let i = u32::from(self.index);
        let size = ((hi - lo + 1) / n).max(1);
        let first = lo + i * size;
        let last = if i + 1 == n { hi } else { first + size - 1 };
        (first, last)
    }

    /// This worker's slice of the well-known ports.
    pub(crate) fn low_ports(self) -> (u32, u32) {
        self.slice(LOW)
    }

    /// This worker's slice of ports 1024–65535.
    pub(crate) fn high_ports(self) -> (u32, u32) {
        self.slice(HIGH)
    }
}

/// Whole blocks of `size` ports (aligned from port 1024) in worker `shard`'s
/// slice of ports 1024-65535: its blocks on each public address.
pub(crate) fn blocks_in_slice(shard: Shard, size: u32) -> u32 {
    let size = size.max(1);
    let (lo, hi) = shard.high_ports();
    let first = (lo - HIGH.0).div_ceil(size);
    let end = (hi + 1 - HIGH.0) / size;
    end.saturating_sub(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_every_port_once_and_owners_agree() {
        for count in 1..=7u16 {
            let mut seen = vec![0u8; 65536];
            for index in 0..count {
                let s = Shard { index, count };
                for (lo, hi) in [s.low_ports(), s.high_ports()] {
                    for p in lo..=hi {
                        seen[p as usize] += 1;
                        assert_eq!(s.port_owner(p as u16), index, "port {p} of {count}");
                    }
                }
            }
            assert!(seen[1..].iter().all(|&n| n == 1), "{count} workers");
        }
        assert_eq!(Shard::SOLE.port_owner(40000), 0);
        let s = Shard { index: 1, count: 2 };
        assert!(s.owns_subscriber(3) && !s.owns_subscriber(4));
    }
}
