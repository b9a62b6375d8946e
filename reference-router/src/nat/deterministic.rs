//! Deterministic NAT (RFC 7422, `[nat] allocation = "deterministic"`): the
//! subscribers' inside addresses and the pool fix, by arithmetic alone, each
//! inside address's public address and port range, so "who had this public
//! address and port" is answered from the configuration with no log at all
//! (RFC 7422 §1: the configuration history is the log).
//!
//! The inside addresses are every address of every subscriber's `ipv4` prefixes,
//! numbered in configuration order (subscriber by subscriber, prefix by prefix,
//! address by address). Inside address `i` gets public address
//! `pool[i / per_address]` and ports `1024 + (i % per_address) × block_size`
//! onwards, `block_size` of them, where `per_address = 64512 / block_size` — the
//! forward algorithm of RFC 7422 §2 with a fixed number of ports per user.
//! Appending a subscriber keeps everyone else's range. The addresses of the
//! `[[subscriber_range]]`s are numbered after every `[[subscriber]]`'s, range by
//! range, address by address: a range's address `k` (0-based) is inside address
//! `S + R + k`, where `S` counts the `[[subscriber]]`s' addresses and `R` the
//! earlier ranges' (their `ipv4` prefixes' sizes). So a box's slice of the pool
//! follows from its configuration alone.

use crate::config::{BLOCK_PORTS, Config};
use crate::iface::SubscriberId;
use crate::layout::Layout;
use foldhash::fast::RandomState;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// The first port of any range.
const FIRST_PORT: u32 = 1024;

/// One inside address's share of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// The inside address.
    pub inside: Ipv4Addr,
    /// The subscriber it belongs to (index of its `[[subscriber]]`).
    pub subscriber: SubscriberId,
    /// Its public address.
    pub public: Ipv4Addr,
    /// Index of the public address in the pool.
    pub pool_index: u32,
    /// First port of the range.
    pub first: u16,
    /// Last port of the range.
    pub last: u16,
}

/// The arithmetic of one configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Deterministic {
    /// Each subscriber prefix with the number of its first address, its
    /// subscriber and whether it is a range (address `k` of it belonging to
    /// subscriber `sub + k`).
    prefixes: Vec<(Ipv4Net, u64, SubscriberId, bool)>,
    pool: Vec<Ipv4Addr>,
    pool_index: HashMap<Ipv4Addr, u32, RandomState>,
    size: u32,
    per_address: u64,
}

impl Deterministic {
    /// The mapping `config` fixes (its `[nat] block_size`, pool and subscribers;
    /// whatever its `allocation`).
    pub fn new(config: &Config) -> Deterministic {
        Deterministic::with_layout(config, &Layout::of(config))
    }

    /// The mapping of `config` whose subscribers have the ids of `layout`
    /// (after a reload; the arithmetic still numbers inside addresses in
    /// configuration order).
    pub fn with_layout(config: &Config, layout: &Layout) -> Deterministic {
        let mut next = 0u64;
        let mut prefixes = Vec::new();
        for (i, sub) in layout.subscribers() {
            for net in &config.subscriber[i].ipv4 {
                let net = net.trunc();
                prefixes.push((net, next, sub, false));
                next += 1u64 << (32 - u32::from(net.prefix_len()));
            }
        }
        for ((first, _), range) in layout.ranges().zip(&config.subscriber_range) {
            if let Some(net) = range.ipv4 {
                prefixes.push((net.trunc(), next, first, true));
                next += range.count_v4();
            }
        }
        let pool = config.nat.pool_addresses();
        let size = config.nat.block_size.clamp(1, BLOCK_PORTS);
        Deterministic {
            prefixes,
            pool_index: pool
                .iter()
                .enumerate()
                .map(|(i, &a)| (a, i as u32))
                .collect(),
            pool,
            size,
            per_address: u64::from(BLOCK_PORTS / size),
        }
    }

    /// Whether every inside address of `old` keeps its public address and
    /// ports here: `old`'s prefixes are the first of these, numbered and
    /// owned alike, over the same pool and block size (a subscriber or range
    /// may only be added after all others).
    pub fn extends(&self, old: &Deterministic) -> bool {
        self.pool == old.pool
            && self.size == old.size
            && self.prefixes.get(..old.prefixes.len()) == Some(&old.prefixes[..])
    }

    /// Ports per inside address.
    pub fn ports_per_address(&self) -> u32 {
        self.size
    }

    /// Inside address number `i`, and its subscriber.
    fn inside(&self, i: u64) -> Option<(Ipv4Addr, SubscriberId)> {
        let k = self
            .prefixes
            .partition_point(|&(_, start, _, _)| start <= i);
        let (net, start, sub, range) = *self.prefixes.get(k.checked_sub(1)?)?;
        let offset = u32::try_from(i - start).ok()?;
        let hosts = 1u64 << (32 - u32::from(net.prefix_len()));
        let sub = if range { sub + offset } else { sub };
        (u64::from(offset) < hosts)
            .then(|| (Ipv4Addr::from(u32::from(net.network()) + offset), sub))
    }

    /// The range of inside address `inside`; `None` if no subscriber has it or
    /// the pool has no room for it.
    pub fn range_of(&self, inside: Ipv4Addr) -> Option<PortRange> {
        let a = u32::from(inside);
        let &(net, start, sub, range) = self
            .prefixes
            .iter()
            .find(|(n, _, _, _)| n.contains(&inside))?;
        let offset = a - u32::from(net.network());
        let i = start + u64::from(offset);
        let subscriber = if range { sub + offset } else { sub };
        let pool_index = u32::try_from(i / self.per_address).ok()?;
        let public = *self.pool.get(pool_index as usize)?;
        let first = FIRST_PORT + (i % self.per_address) as u32 * self.size;
        Some(PortRange {
            inside,
            subscriber,
            public,
            pool_index,
            first: first as u16,
            last: (first + self.size - 1) as u16,
        })
    }

    /// The range that holds public `(address, port)`, if any (RFC 7422's reverse
    /// algorithm).
    pub fn owner_of(&self, public: Ipv4Addr, port: u16) -> Option<PortRange> {
        let pool_index = *self.pool_index.get(&public)?;
        let offset = u32::from(port).checked_sub(FIRST_PORT)? / self.size;
        if u64::from(offset) >= self.per_address {
            return None;
        }
        let i = u64::from(pool_index) * self.per_address + u64::from(offset);
        let (inside, _) = self.inside(i)?;
        self.range_of(inside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{QuickCheck, TestResult};

    fn config(pool: &str, subscribers: &[&str], block_size: u32) -> Config {
        let mut text = format!(
            "[nat]\npool = [{pool}]\nallocation = \"deterministic\"\nblock_size = {block_size}\n"
        );
        for (k, nets) in subscribers.iter().enumerate() {
            text += &format!("[[subscriber]]\nname = \"s{k}\"\nipv4 = [{nets}]\n");
        }
        Config::from_toml(&text).unwrap()
    }

    #[test]
    fn forward_and_reverse_agree_with_a_brute_force_model_over_the_whole_pool() {
        // 2 + 8 + 1 + 4 = 15 inside addresses over 3 public addresses: 32, 15
        // and 5 ranges per address.
        for size in [2016, 4096, 12800] {
            let c = config(
                "\"192.0.2.1\", \"198.51.100.8/30\"",
                &[
                    "\"100.64.0.2/31\"",
                    "\"100.64.8.0/29\"",
                    "\"100.64.0.9\", \"10.1.0.0/30\"",
                ],
                size,
            );
            let d = Deterministic::new(&c);
            // The model: walk inside addresses in order, handing out ranges.
            let mut model: HashMap<(Ipv4Addr, u16), Ipv4Addr> = HashMap::new();
            let mut ranges = Vec::new();
            let (mut pool, mut port) = (0usize, 1024u32);
            let pool_addrs = c.nat.pool_addresses();
            for s in &c.subscriber {
                for net in &s.ipv4 {
                    for a in
                        (u32::from(net.network())..=u32::from(net.broadcast())).map(Ipv4Addr::from)
                    {
                        if port + size - 1 > 65535 {
                            (pool, port) = (pool + 1, 1024);
                        }
                        for p in port..port + size {
                            model.insert((pool_addrs[pool], p as u16), a);
                        }
                        ranges.push((a, pool_addrs[pool], port as u16, (port + size - 1) as u16));
                        port += size;
                    }
                }
            }
            assert_eq!(ranges.len(), 15);
            for &(a, public, first, last) in &ranges {
                let r = d.range_of(a).unwrap();
                assert_eq!((r.public, r.first, r.last), (public, first, last), "{a}");
            }
            for &public in &pool_addrs {
                for port in 0..=65535u16 {
                    let got = d.owner_of(public, port).map(|r| r.inside);
                    assert_eq!(got, model.get(&(public, port)).copied(), "{public}:{port}");
                }
            }
            assert_eq!(d.range_of("100.64.0.1".parse().unwrap()), None);
            assert_eq!(d.owner_of("192.0.2.2".parse().unwrap(), 2000), None);
        }
        // Subscriber indexes follow the configuration.
        let c = config("\"192.0.2.1\"", &["\"100.64.0.1\"", "\"100.64.0.7\""], 128);
        let r = Deterministic::new(&c)
            .owner_of("192.0.2.1".parse().unwrap(), 1024 + 128 + 5)
            .unwrap();
        assert_eq!(
            (r.subscriber, r.inside.to_string()),
            (1, "100.64.0.7".into())
        );
    }

    #[test]
    fn no_two_inside_addresses_ever_share_a_port() {
        // Random subscriber prefixes and block sizes: every range lies in
        // 1024-65535 of a pool address, and no two overlap.
        fn law(lens: Vec<u8>, size: u16) -> TestResult {
            let size = u32::from(size).clamp(8, 64512);
            let nets: Vec<String> = lens
                .iter()
                .take(6)
                .enumerate()
                .map(|(k, &len)| format!("\"100.{}.0.0/{}\"", 64 + k, 28 + u32::from(len) % 5))
                .collect();
            let subs: Vec<&str> = nets.iter().map(String::as_str).collect();
            let text_pool = "\"192.0.2.0/29\", \"198.51.100.1\"";
            let mut c = config(text_pool, &[], size);
            c.subscriber = config("\"192.0.2.1\"", &subs, 128).subscriber;
            if c.validate().is_err() {
                return TestResult::discard();
            }
            let d = Deterministic::new(&c);
            let mut seen: HashMap<(Ipv4Addr, u16), Ipv4Addr> = HashMap::new();
            for net in c.subscriber.iter().flat_map(|s| &s.ipv4) {
                for a in (u32::from(net.network())..=u32::from(net.broadcast())).map(Ipv4Addr::from)
                {
                    let r = d.range_of(a).unwrap();
                    if r.first < 1024 || u32::from(r.last) - u32::from(r.first) + 1 != size {
                        return TestResult::failed();
                    }
                    for p in [r.first, r.last] {
                        if seen.insert((r.public, p), a).is_some() {
                            return TestResult::failed();
                        }
                        if d.owner_of(r.public, p).map(|o| o.inside) != Some(a) {
                            return TestResult::failed();
                        }
                    }
                }
            }
            TestResult::passed()
        }
        QuickCheck::new()
            .tests(200)
            .quickcheck(law as fn(Vec<u8>, u16) -> TestResult);
    }
}
