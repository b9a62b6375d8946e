//! The router's links as the packet path needs them: MTUs, names, the IPv4
//! addresses each subscriber may send from, and the IPv6 routes to the
//! subscribers' prefixes. A `[[subscriber_range]]`'s subscribers share its TUN;
//! their addresses and prefixes are arithmetic on the range's, so a range costs
//! the same whatever its size.

use crate::config::{Config, SubscriberRange};
use crate::iface::{Interface, SubscriberId};
use crate::layout::Layout;
use crate::stats::DropReason;
use foldhash::fast::RandomState;
use ipnet::{Ipv4Net, Ipv6Net};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

struct Link {
    name: String,
    mtu: usize,
    ipv4: Vec<Ipv4Net>,
    /// The prefixes it may send from (validated: no other subscriber's overlaps
    /// them), as (network, mask): `ipnet`'s `contains` costs ten times the AND.
    ipv6: Vec<(u128, u128)>,
    /// The /64s the subscriber is told to configure addresses from (a delegated
    /// shorter prefix is advertised by its first /64: SLAAC needs a /64).
    slaac: Vec<Ipv6Addr>,
}

/// The `[[subscriber]]` links by id: a vector indexed by id for ids below
/// [`DENSE`] (the layout numbers the entries first; a reload adds a few), a
/// hash map beyond. An IPv6 packet from a subscriber asks up to three times
/// (known, range or not, source owned): a hash probe each was ~100 of a known
/// flow's ~1,400 instructions.
#[derive(Default)]
struct Entries {
    dense: Vec<Option<Link>>,
    sparse: HashMap<SubscriberId, Link, RandomState>,
}

/// Entry ids below this are kept in [`Entries`]' vector.
const DENSE: usize = 4096;

impl Entries {
    fn get(&self, id: &SubscriberId) -> Option<&Link> {
        match self.dense.get(*id as usize) {
            Some(link) => link.as_ref(),
            None => self.sparse.get(id),
        }
    }

    fn contains_key(&self, id: &SubscriberId) -> bool {
        self.get(id).is_some()
    }
}

impl FromIterator<(SubscriberId, Link)> for Entries {
    fn from_iter<I: IntoIterator<Item = (SubscriberId, Link)>>(links: I) -> Entries {
        let mut e = Entries::default();
        for (id, link) in links {
            let at = id as usize;
            if at < DENSE {
                if e.dense.len() <= at {
                    e.dense.resize_with(at + 1, || None);
                }
                e.dense[at] = Some(link);
            } else {
                e.sparse.insert(id, link);
            }
        }
        e
    }
}

/// A range: its TUN, its first subscriber id and its prefixes.
struct RangeLink {
    first: SubscriberId,
    count: u32,
    range: SubscriberRange,
}

pub(super) struct Links {
    wan_name: String,
    wan_mtu: usize,
    /// The `[[subscriber]]` entries by id ([`Layout`]: ids stay across reloads,
    /// so they need not be dense).
    subscribers: Entries,
    /// Their ids in configuration order.
    order: Vec<SubscriberId>,
    /// The ranges in configuration order.
    ranges: Vec<RangeLink>,
    /// Subscriber prefixes: per prefix length present (longest first), the upper
    /// 64 bits of each prefix → its subscriber. A lookup is one probe per length,
    /// on every IPv6 packet: foldhash, not SipHash (the keys are the subscribers'
    /// own configured prefixes, nothing a sender chooses).
    v6_routes: Vec<(u8, V6Routes)>,
    /// The longest prefix that covers every subscriber and range prefix, as
    /// (network, mask); `None` without any. An address outside it routes to
    /// nobody without a probe: most packets' other end is on the Internet.
    v6_cover: Option<(u128, u128)>,
}

/// The longest prefix covering all of `nets`, as (network, mask).
fn cover6(nets: impl IntoIterator<Item = Ipv6Net>) -> Option<(u128, u128)> {
    let mut nets = nets.into_iter();
    let first = nets.next()?;
    let base = u128::from(first.network());
    let len = nets.fold(u32::from(first.prefix_len()), |len, n| {
        let common = (base ^ u128::from(n.network())).leading_zeros();
        len.min(u32::from(n.prefix_len())).min(common)
    });
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    Some((base & mask, mask))
}

type V6Routes = HashMap<u64, SubscriberId, RandomState>;

fn mask6(net: &Ipv6Net) -> u128 {
    u128::from(net.netmask())
}

fn upper64(a: Ipv6Addr) -> u64 {
    (u128::from(a) >> 64) as u64
}

impl Links {
    /// The links of `config`, whose subscribers have the ids of `layout`.
    pub(super) fn new(config: &Config, layout: &Layout) -> Links {
        let mut v6_routes: Vec<(u8, V6Routes)> = Vec::new();
        for (i, id) in layout.subscribers() {
            for net in &config.subscriber[i].ipv6 {
                let len = net.prefix_len();
                let at = match v6_routes.iter().position(|(l, _)| *l == len) {
                    Some(at) => at,
                    None => {
                        v6_routes.push((len, V6Routes::default()));
                        v6_routes.len() - 1
                    }
                };
                v6_routes[at].1.insert(upper64(net.network()), id);
            }
        }
        v6_routes.sort_by_key(|r| std::cmp::Reverse(r.0));
        let fixed = config
            .subscriber
            .iter()
            .flat_map(|s| s.ipv6.iter().copied());
        let ranged = config.ranges().filter_map(|(_, _, r)| r.ipv6);
        Links {
            v6_cover: cover6(fixed.chain(ranged)),
            wan_name: config.wan.name.clone(),
            wan_mtu: usize::from(config.wan.mtu),
            subscribers: layout
                .subscribers()
                .map(|(i, id)| {
                    let s = &config.subscriber[i];
                    let link = Link {
                        name: s.name.clone(),
                        mtu: usize::from(s.mtu),
                        ipv4: s.ipv4.clone(),
                        ipv6: s
                            .ipv6
                            .iter()
                            .map(|n| (u128::from(n.network()), mask6(n)))
                            .collect(),
                        slaac: s.ipv6.iter().map(|n| n.network()).collect(),
                    };
                    (id, link)
                })
                .collect(),
            order: layout.subscribers().map(|(_, id)| id).collect(),
            v6_routes,
            ranges: layout
                .ranges()
                .zip(&config.subscriber_range)
                .map(|((first, count), range)| RangeLink {
                    first,
                    count,
                    range: range.clone(),
                })
                .collect(),
        }
    }

    pub(super) fn has_subscriber(&self, sub: SubscriberId) -> bool {
        self.subscribers.contains_key(&sub) || self.range_link(sub).is_some()
    }

    /// Whether `sub` is a `[[subscriber]]` entry's id (not a range's).
    pub(super) fn is_entry(&self, sub: SubscriberId) -> bool {
        self.subscribers.contains_key(&sub)
    }

    /// The `[[subscriber]]` entries' ids, in configuration order (not the
    /// ranges').
    pub(super) fn subscribers(&self) -> impl Iterator<Item = SubscriberId> + '_ {
        self.order.iter().copied()
    }

    /// The range subscriber `sub` belongs to, and its index there.
    fn range_link(&self, sub: SubscriberId) -> Option<(&RangeLink, u32)> {
        if self.subscribers.contains_key(&sub) {
            return None;
        }
        let r = self
            .ranges
            .iter()
            .find(|r| sub >= r.first && sub - r.first < r.count)?;
        Some((r, sub - r.first))
    }

    /// The range (its index in the configuration) subscriber `sub` belongs to.
    pub(super) fn range_index(&self, sub: SubscriberId) -> Option<usize> {
        let (r, _) = self.range_link(sub)?;
        self.ranges.iter().position(|x| std::ptr::eq(x, r))
    }

    pub(super) fn mtu(&self, i: Interface) -> usize {
        match i {
            Interface::Wan => self.wan_mtu,
            Interface::Subscriber(s) => match self.subscribers.get(&s) {
                Some(link) => link.mtu,
                None => self
                    .range_link(s)
                    .map_or(self.wan_mtu, |(r, _)| usize::from(r.range.mtu)),
            },
        }
    }

    /// The TUN name.
    pub(super) fn name(&self, i: Interface) -> &str {
        match i {
            Interface::Wan => &self.wan_name,
            Interface::Subscriber(s) => match self.subscribers.get(&s) {
                Some(link) => &link.name,
                None => self.range_link(s).map_or("", |(r, _)| &r.range.name),
            },
        }
    }

    /// A subscriber's name in the statistics: its TUN's, or for a range
    /// subscriber `<range>/<IPv4 address>` (`<range>/<IPv6 prefix>` for a range
    /// with IPv6 only).
    pub(super) fn subscriber_name(&self, sub: SubscriberId) -> String {
        match self.range_link(sub) {
            Some((r, i)) => r.range.subscriber_name(i),
            None => self.name(Interface::Subscriber(sub)).to_string(),
        }
    }

    /// Whether `sub` is a range's subscriber (no router advertisements).
    pub(super) fn is_range(&self, sub: SubscriberId) -> bool {
        self.range_link(sub).is_some()
    }

    /// Whether subscriber `sub` may send from `addr` (anti-spoofing).
    pub(super) fn owns_ipv4(&self, sub: SubscriberId, addr: Ipv4Addr) -> bool {
        match self.subscribers.get(&sub) {
            Some(link) => link.ipv4.iter().any(|n| n.contains(&addr)),
            None => self
                .range_link(sub)
                .is_some_and(|(r, i)| r.range.ipv4_of(i) == Some(addr)),
        }
    }

    /// Whether subscriber `sub` may send from `addr` (anti-spoofing): whether
    /// [`Links::route_v6`] names `sub` for it — prefixes never overlap
    /// (validated), so it is the subscriber's own prefixes that decide, without
    /// a hash probe.
    pub(super) fn owns_ipv6(&self, sub: SubscriberId, addr: Ipv6Addr) -> bool {
        match self.subscribers.get(&sub) {
            Some(link) => {
                let a = u128::from(addr);
                link.ipv6.iter().any(|&(net, mask)| a & mask == net)
            }
            None => self
                .range_link(sub)
                .is_some_and(|(r, i)| r.range.index_v6(addr) == Some(i)),
        }
    }

    /// The subscriber whose prefix holds `addr`: the `[[subscriber]]`s' longest
    /// prefix first, then the ranges'.
    pub(super) fn route_v6(&self, addr: Ipv6Addr) -> Option<SubscriberId> {
        let (net, mask) = self.v6_cover?;
        if u128::from(addr) & mask != net {
            return None;
        }
        let upper = upper64(addr);
        let fixed = self.v6_routes.iter().find_map(|(len, routes)| {
            // Prefixes are at most /64 (validated); a /0 matches everything.
            let mask = u64::MAX.checked_shl(64 - u32::from(*len)).unwrap_or(0);
            routes.get(&(upper & mask)).copied()
        });
        fixed.or_else(|| {
            self.ranges
                .iter()
                .find_map(|r| Some(r.first + r.range.index_v6(addr)?))
        })
    }

    /// The subscriber of range `range` a packet read from its TUN belongs to,
    /// by its source address (`packet` is an IP packet): outside the range, or
    /// link-local, it is spoofed.
    pub(super) fn classify_range(
        &self,
        range: usize,
        packet: &[u8],
    ) -> Result<SubscriberId, DropReason> {
        let r = self.ranges.get(range).ok_or(DropReason::Malformed)?;
        let index = match packet.first().map(|b| b >> 4) {
            Some(4) => {
                let src: [u8; 4] = packet
                    .get(12..16)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(DropReason::Malformed)?;
                r.range
                    .index_v4(Ipv4Addr::from(src))
                    .ok_or(DropReason::Spoofed)?
            }
            Some(6) => {
                let src: [u8; 16] = packet
                    .get(8..24)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(DropReason::Malformed)?;
                r.range
                    .index_v6(Ipv6Addr::from(src))
                    .ok_or(DropReason::Ipv6Spoofed)?
            }
            _ => return Err(DropReason::Malformed),
        };
        Ok(r.first + index)
    }

    /// The /64s advertised to subscriber `sub` for SLAAC (none for a range's).
    pub(super) fn slaac_prefixes(&self, sub: SubscriberId) -> &[Ipv6Addr] {
        self.subscribers.get(&sub).map_or(&[], |link| &link.slaac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_find_ids_below_and_above_the_dense_bound() {
        let link = |name: &str| Link {
            name: name.into(),
            mtu: 1500,
            ipv4: Vec::new(),
            ipv6: Vec::new(),
            slaac: Vec::new(),
        };
        let e: Entries = [(3, link("a")), (DENSE as SubscriberId + 7, link("b"))]
            .into_iter()
            .collect();
        assert_eq!(e.get(&3).map(|l| l.name.as_str()), Some("a"));
        assert_eq!(
            e.get(&(DENSE as SubscriberId + 7)).map(|l| l.name.as_str()),
            Some("b")
        );
        for absent in [0, 2, 4, DENSE as SubscriberId - 1, DENSE as SubscriberId] {
            assert!(!e.contains_key(&absent), "{absent}");
        }
    }

    fn links() -> Links {
        let config = Config::from_toml(
            "[nat]\npool = [\"192.0.2.1\"]\n\
             [[subscriber]]\nname = \"s0\"\nipv4 = [\"100.65.0.1\"]\nipv6 = [\"2001:db8:9::/48\"]\n\
             [[subscriber_range]]\nname = \"a\"\nipv4 = \"100.64.0.0/24\"\nipv6 = \"2001:db8:1::/48\"\nipv6_length = 56\n\
             [[subscriber_range]]\nname = \"b\"\nipv6 = \"2001:db8:2::/56\"\nmtu = 1400\n",
        )
        .unwrap();
        Links::new(&config, &Layout::of(&config))
    }

    /// The cover is the longest prefix over all of them: every subscriber's
    /// address inside, the neighbours outside.
    #[test]
    fn the_cover_of_the_subscriber_prefixes() {
        let nets = |s: &[&str]| {
            s.iter()
                .map(|n| n.parse::<Ipv6Net>().unwrap())
                .collect::<Vec<_>>()
        };
        let cover = |s: &[&str]| cover6(nets(s)).map(|(n, m)| (Ipv6Addr::from(n), m.count_ones()));
        assert_eq!(cover(&[]), None);
        assert_eq!(
            cover(&["2001:db8:1::/48"]),
            Some(("2001:db8:1::".parse().unwrap(), 48))
        );
        // 2001:db8:9::/48, 2001:db8:1::/48 and 2001:db8:2::/56 share 44 bits.
        assert_eq!(
            cover(&["2001:db8:9::/48", "2001:db8:1::/48", "2001:db8:2::/56"]),
            Some(("2001:db8::".parse().unwrap(), 44))
        );
        assert_eq!(cover(&["2001:db8::/32", "2001:db8:ff::/48"]).unwrap().1, 32);
        assert_eq!(cover(&["::/0", "2001:db8::/32"]).unwrap().1, 0);
        assert_eq!(cover(&["8000::/1", "::/1"]).unwrap().1, 0);
        let l = links();
        assert_eq!(
            l.v6_cover,
            cover(&["2001:db8:9::/48", "2001:db8:1::/48", "2001:db8:2::/56"])
                .map(|(n, len)| (u128::from(n), u128::MAX << (128 - len)))
        );
        assert_eq!(l.route_v6("2001:db8:10::1".parse().unwrap()), None);
        assert_eq!(l.route_v6("2001:db9:9::1".parse().unwrap()), None);
    }

    /// Anti-spoofing asks the subscriber's own prefixes: the answer is the
    /// route's, for every subscriber, inside and at the edges of every prefix.
    #[test]
    fn an_ipv6_source_is_owned_by_the_subscriber_it_routes_to() {
        let l = links();
        let addrs = [
            "2001:db8:9::",
            "2001:db8:9:ffff:ffff:ffff:ffff:ffff",
            "2001:db8:8:ffff::1",
            "2001:db8:a::",
            "2001:db8:1::1",
            "2001:db8:1:ff::1",
            "2001:db8:1:100::",
            "2001:db8:1:ffff::1",
            "2001:db8:2::",
            "2001:db8:2:ff:ffff::",
            "2001:db8:2:100::1",
            "2001:db8:0:ffff::1",
            "fe80::1",
            "::",
        ];
        for a in addrs {
            let a: Ipv6Addr = a.parse().unwrap();
            for sub in [0, 1, 2, 255, 256, 257, 264, 512, 513, 9999] {
                assert_eq!(l.owns_ipv6(sub, a), l.route_v6(a) == Some(sub), "{a} {sub}");
            }
        }
        assert!(l.owns_ipv6(0, "2001:db8:9:1::2".parse().unwrap()));
        assert!(l.owns_ipv6(256, "2001:db8:1:ff00::9".parse().unwrap()));
        assert!(!l.owns_ipv6(255, "2001:db8:1:ff00::9".parse().unwrap()));
    }

    /// A minimal IPv4 header from `src` (classification reads the source only).
    fn v4(src: &str) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0];
        p.extend(src.parse::<Ipv4Addr>().unwrap().octets());
        p.extend([192, 0, 2, 1]);
        p
    }

    fn v6(src: &str) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
        p.extend(src.parse::<Ipv6Addr>().unwrap().octets());
        p.extend("2001:db8:ff::1".parse::<Ipv6Addr>().unwrap().octets());
        p
    }

    #[test]
    fn ipv4_sources_at_the_range_edges() {
        let l = links();
        // Range a's ids start after the one [[subscriber]]: 1..=256.
        assert_eq!(l.classify_range(0, &v4("100.64.0.0")), Ok(1));
        assert_eq!(l.classify_range(0, &v4("100.64.0.255")), Ok(256));
        assert_eq!(
            l.classify_range(0, &v4("100.63.255.255")),
            Err(DropReason::Spoofed)
        );
        assert_eq!(
            l.classify_range(0, &v4("100.64.1.0")),
            Err(DropReason::Spoofed)
        );
        // Range b has no IPv4.
        assert_eq!(
            l.classify_range(1, &v4("100.64.0.1")),
            Err(DropReason::Spoofed)
        );
        assert_eq!(
            l.classify_range(2, &v4("100.64.0.1")),
            Err(DropReason::Malformed)
        );
        assert_eq!(
            l.classify_range(0, &v4("100.64.0.1")[..15]),
            Err(DropReason::Malformed)
        );
        assert_eq!(l.classify_range(0, &[]), Err(DropReason::Malformed));
        assert!(l.owns_ipv4(1, "100.64.0.0".parse().unwrap()));
        assert!(!l.owns_ipv4(1, "100.64.0.1".parse().unwrap()));
        assert!(l.owns_ipv4(256, "100.64.0.255".parse().unwrap()));
        assert!(l.owns_ipv4(0, "100.65.0.1".parse().unwrap()));
    }

    #[test]
    fn ipv6_sources_by_prefix_of_ipv6_length() {
        let l = links();
        // a: /48 in /56s, ids 1..=256; b: /56 in /64s, ids 257..=512.
        assert_eq!(l.classify_range(0, &v6("2001:db8:1::1")), Ok(1));
        assert_eq!(l.classify_range(0, &v6("2001:db8:1:ff::1")), Ok(1));
        assert_eq!(l.classify_range(0, &v6("2001:db8:1:100::1")), Ok(2));
        assert_eq!(l.classify_range(0, &v6("2001:db8:1:ffff::1")), Ok(256));
        assert_eq!(
            l.classify_range(0, &v6("2001:db8:0:ffff::1")),
            Err(DropReason::Ipv6Spoofed)
        );
        assert_eq!(
            l.classify_range(0, &v6("2001:db8:2::1")),
            Err(DropReason::Ipv6Spoofed)
        );
        assert_eq!(
            l.classify_range(0, &v6("fe80::1")),
            Err(DropReason::Ipv6Spoofed)
        );
        assert_eq!(l.classify_range(1, &v6("2001:db8:2::1")), Ok(257));
        assert_eq!(l.classify_range(1, &v6("2001:db8:2:ff::1")), Ok(512));
        assert_eq!(
            l.classify_range(1, &v6("2001:db8:2:100::1")),
            Err(DropReason::Ipv6Spoofed)
        );
        // Routing to them, and their links.
        assert_eq!(l.route_v6("2001:db8:1:ff00::9".parse().unwrap()), Some(256));
        assert_eq!(l.route_v6("2001:db8:2:7::9".parse().unwrap()), Some(264));
        assert_eq!(l.route_v6("2001:db8:9:7::9".parse().unwrap()), Some(0));
        assert_eq!(l.route_v6("2001:db8:3::9".parse().unwrap()), None);
        assert_eq!(
            (
                l.mtu(Interface::Subscriber(264)),
                l.name(Interface::Subscriber(264))
            ),
            (1400, "b")
        );
        assert_eq!(l.subscriber_name(264), "b/2001:db8:2:7::/64");
        assert_eq!(l.subscriber_name(2), "a/100.64.0.1");
        assert_eq!(
            (l.range_index(1), l.range_index(512), l.range_index(513)),
            (Some(0), Some(1), None)
        );
        assert!(l.has_subscriber(512) && !l.has_subscriber(513));
        assert!(l.slaac_prefixes(5).is_empty() && l.is_range(5) && !l.is_range(0));
    }
}
