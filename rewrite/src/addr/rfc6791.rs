//! Source addresses for ICMP errors whose source cannot be translated (RFC 6791).
//!
//! A router on the IPv6 side with an address that maps to no IPv4 address (neither
//! RFC 6052 nor the EAMT) still sends "hop limit exceeded" to a traceroute from
//! IPv4; the translator gives the error a source from a configured IPv4 pool
//! (`rfc6791_v4`). Jool adds the mirror image for ICMPv4 errors from untranslatable
//! IPv4 routers (`rfc6791_v6`), which [`Rfc6791Ipv6`] serves.
//!
//! RFC 6791 §5 RECOMMENDS a random choice so that two hops of one traceroute do not
//! show the same address (which reads as a routing loop). [`Rfc6791Ipv4::pick`]
//! instead hashes the untranslatable source with a seed: distinct hops still get
//! independent, uniformly spread addresses, the same hop keeps its address across
//! probes (a stable traceroute), and the choice needs no random number generator in
//! the packet path. With a secret seed the address is as unpredictable to others
//! as a random one.

use super::{Ipv4Prefix, Ipv6Prefix};
use core::net::{Ipv4Addr, Ipv6Addr};

/// splitmix64's finaliser: a bijective mix with full avalanche.
const fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A 64-bit hash of a 128-bit value under `seed`.
const fn hash(seed: u64, value: u128) -> u64 {
    mix(mix(seed ^ value as u64) ^ (value >> 64) as u64)
}

/// An IPv4 pool (one address or a prefix) for ICMPv6 errors from untranslatable
/// IPv6 sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rfc6791Ipv4 {
    prefix: Ipv4Prefix,
    seed: u64,
}

impl Rfc6791Ipv4 {
    /// A pool over `prefix` (a /32 is a single address), hashing with `seed`.
    pub const fn new(prefix: Ipv4Prefix, seed: u64) -> Rfc6791Ipv4 {
        Rfc6791Ipv4 { prefix, seed }
    }

    /// The pool.
    pub const fn prefix(&self) -> Ipv4Prefix {
        self.prefix
    }

    /// The address for errors from `source`: the same for the same source. In a
    /// prefix of four or more addresses the first and last (network and broadcast
    /// on a classic subnet) are never chosen.
    pub const fn pick(&self, source: Ipv6Addr) -> Ipv4Addr {
        let host_bits = self.prefix.host_bits() as u32;
        let h = hash(self.seed, source.to_bits());
        let host = match host_bits {
            0 => 0,
            1 => h & 1,
            _ => 1 + h % ((1u64 << host_bits) - 2),
        };
        Ipv4Addr::from_bits(self.prefix.bits() | host as u32)
    }
}

/// An IPv6 pool (one address or a prefix) for ICMPv4 errors from untranslatable
/// IPv4 sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rfc6791Ipv6 {
    prefix: Ipv6Prefix,
    seed: u64,
}

impl Rfc6791Ipv6 {
    /// A pool over `prefix` (a /128 is a single address), hashing with `seed`.
    pub const fn new(prefix: Ipv6Prefix, seed: u64) -> Rfc6791Ipv6 {
        Rfc6791Ipv6 { prefix, seed }
    }

    /// The pool.
    pub const fn prefix(&self) -> Ipv6Prefix {
        self.prefix
    }

    /// The address for errors from `source`: the same for the same source, never
    /// the all-zero host part (the subnet-router anycast address, RFC 4291 §2.6.1)
    /// when the prefix has more than one address.
    pub const fn pick(&self, source: Ipv4Addr) -> Ipv6Addr {
        let host_bits = self.prefix.host_bits() as u32;
        if host_bits == 0 {
            return self.prefix.addr();
        }
        let h = hash(self.seed, source.to_bits() as u128);
        let wide = (mix(h) as u128) << 64 | h as u128;
        let mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let host = match wide & mask {
            0 => 1,
            host => host,
        };
        Ipv6Addr::from_bits(self.prefix.bits() | host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn single_address_pools() {
        let p4 = Rfc6791Ipv4::new(Ipv4Prefix::new(Ipv4Addr::new(192, 0, 2, 1), 32).unwrap(), 7);
        assert_eq!(
            p4.pick("2001:db8::1".parse().unwrap()),
            Ipv4Addr::new(192, 0, 2, 1)
        );
        let one: Ipv6Addr = "2001:db8::6791".parse().unwrap();
        let p6 = Rfc6791Ipv6::new(Ipv6Prefix::new(one, 128).unwrap(), 7);
        assert_eq!(p6.pick(Ipv4Addr::new(203, 0, 113, 1)), one);
    }

    #[test]
    fn deterministic_spread_and_in_range() {
        let prefix = Ipv4Prefix::new(Ipv4Addr::new(198, 51, 100, 0), 24).unwrap();
        let pool = Rfc6791Ipv4::new(prefix, 0x5eed);
        let mut seen = BTreeSet::new();
        for hop in 1..=64u128 {
            let source = Ipv6Addr::from_bits(0x2001_0db8_00ff << 80 | hop);
            let a = pool.pick(source);
            assert_eq!(a, pool.pick(source), "same source, same address");
            assert!(prefix.contains(a));
            let last = a.octets()[3];
            assert!(last != 0 && last != 255, "{a}");
            seen.insert(a);
        }
        // 64 hops over 254 addresses: a good hash collides a few times at most.
        assert!(seen.len() >= 50, "only {} distinct addresses", seen.len());
        let other_seed = Rfc6791Ipv4::new(prefix, 0x5eee);
        let s: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_ne!(pool.pick(s), other_seed.pick(s), "the seed matters");
        // A /31 uses both addresses.
        let pair = Rfc6791Ipv4::new(Ipv4Prefix::new(Ipv4Addr::new(192, 0, 2, 0), 31).unwrap(), 1);
        let both: BTreeSet<_> = (0..32u128)
            .map(|i| pair.pick(Ipv6Addr::from_bits(i)))
            .collect();
        assert_eq!(both.len(), 2);
    }

    #[test]
    fn ipv6_pool_stays_inside_and_avoids_anycast() {
        let prefix = Ipv6Prefix::new("2001:db8:6791::".parse().unwrap(), 126).unwrap();
        let pool = Rfc6791Ipv6::new(prefix, 3);
        for i in 0..200u32 {
            let a = pool.pick(Ipv4Addr::from_bits(i));
            assert!(prefix.contains(a));
            assert_ne!(a, prefix.addr());
        }
        let all = Rfc6791Ipv6::new(Ipv6Prefix::new(Ipv6Addr::UNSPECIFIED, 0).unwrap(), 3);
        assert_ne!(all.pick(Ipv4Addr::new(192, 0, 2, 1)), Ipv6Addr::UNSPECIFIED);
    }
}
