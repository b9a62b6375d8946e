//! The Explicit Address Mapping Table of stateless SIIT (RFC 7757).
//!
//! Each entry pairs an IPv4 prefix with an IPv6 prefix whose suffix is at least as
//! long (RFC 7757 §3.2). An address is looked up by longest-prefix match among the
//! entries of its family (§3.3); its suffix bits are copied to the bits right after
//! the other prefix, and any IPv6 bits after them are zero (IPv4 → IPv6) or
//! ignored (IPv6 → IPv4).
//!
//! The table borrows or owns its entries through any `AsRef<[EamEntry]>`: a
//! `&[EamEntry]` the router keeps in a `Vec`, an array, or a `Vec` itself. A lookup
//! walks every entry once (O(n), no allocation), which suits the tens to hundreds
//! of entries a SIIT-DC border relay or CLAT has.

use super::{AddrError, Ipv4Prefix, Ipv6Prefix};
use core::net::{Ipv4Addr, Ipv6Addr};

/// One EAMT entry: `ipv4` maps to `ipv6` and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EamEntry {
    ipv4: Ipv4Prefix,
    ipv6: Ipv6Prefix,
}

impl EamEntry {
    /// An entry. Refused when the IPv4 suffix is longer than the IPv6 one: the
    /// IPv4 suffix bits would not fit (RFC 7757 §3.2).
    pub const fn new(ipv4: Ipv4Prefix, ipv6: Ipv6Prefix) -> Result<EamEntry, AddrError> {
        if ipv4.host_bits() > ipv6.host_bits() {
            return Err(AddrError::EamSuffixTooLong {
                ipv4_suffix: ipv4.host_bits(),
                ipv6_suffix: ipv6.host_bits(),
            });
        }
        Ok(EamEntry { ipv4, ipv6 })
    }

    /// The IPv4 side.
    pub const fn ipv4(&self) -> Ipv4Prefix {
        self.ipv4
    }

    /// The IPv6 side.
    pub const fn ipv6(&self) -> Ipv6Prefix {
        self.ipv6
    }

    /// `addr` (inside the IPv4 prefix) mapped: its suffix right after the IPv6
    /// prefix, the remaining IPv6 bits zero.
    const fn to_ipv6(self, addr: Ipv4Addr) -> Ipv6Addr {
        let suffix_len = self.ipv4.host_bits() as u32;
        if suffix_len == 0 {
            return self.ipv6.addr();
        }
        let suffix = (addr.to_bits() as u128) & ((1u128 << suffix_len) - 1);
        // The suffix goes right after the IPv6 prefix: shift it up by the IPv6
        // host bits it does not use.
        let shift = (self.ipv6.host_bits() as u32) - suffix_len;
        Ipv6Addr::from_bits(self.ipv6.bits() | suffix << shift)
    }

    /// `addr` (inside the IPv6 prefix) mapped: the bits right after the IPv6
    /// prefix become the IPv4 suffix; later IPv6 bits are ignored.
    const fn to_ipv4(self, addr: Ipv6Addr) -> Ipv4Addr {
        let suffix_len = self.ipv4.host_bits() as u32;
        if suffix_len == 0 {
            return self.ipv4.addr();
        }
        let shift = (self.ipv6.host_bits() as u32) - suffix_len;
        let suffix = (addr.to_bits() >> shift) & ((1u128 << suffix_len) - 1);
        Ipv4Addr::from_bits(self.ipv4.bits() | suffix as u32)
    }
}

/// An EAMT over any storage of entries (see the module docs).
#[derive(Clone, Debug)]
pub struct Eamt<S> {
    entries: S,
}

impl<S: AsRef<[EamEntry]>> Eamt<S> {
    /// A table of `entries`. Refused when two entries share an IPv4 prefix or an
    /// IPv6 prefix: the mapping would not be a function in one direction (RFC 7757
    /// §3.3 leaves overlapping prefixes of different lengths to longest match).
    pub fn new(entries: S) -> Result<Eamt<S>, AddrError> {
        let list = entries.as_ref();
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                if a.ipv4 == b.ipv4 {
                    return Err(AddrError::EamDuplicate);
                }
                if a.ipv6 == b.ipv6 {
                    return Err(AddrError::EamDuplicate);
                }
            }
        }
        Ok(Eamt { entries })
    }

    /// The entries.
    pub fn entries(&self) -> &[EamEntry] {
        self.entries.as_ref()
    }

    /// The entry whose IPv4 prefix is the longest one containing `addr`.
    pub fn lookup_ipv4(&self, addr: Ipv4Addr) -> Option<&EamEntry> {
        self.entries()
            .iter()
            .filter(|e| e.ipv4.contains(addr))
            .max_by_key(|e| e.ipv4.prefix_len())
    }

    /// The entry whose IPv6 prefix is the longest one containing `addr`.
    pub fn lookup_ipv6(&self, addr: Ipv6Addr) -> Option<&EamEntry> {
        self.entries()
            .iter()
            .filter(|e| e.ipv6.contains(addr))
            .max_by_key(|e| e.ipv6.prefix_len())
    }

    /// `addr` mapped to IPv6 by its longest matching entry (RFC 7757 §3.2).
    pub fn to_ipv6(&self, addr: Ipv4Addr) -> Option<Ipv6Addr> {
        self.lookup_ipv4(addr).map(|e| e.to_ipv6(addr))
    }

    /// `addr` mapped to IPv4 by its longest matching entry (RFC 7757 §3.2).
    pub fn to_ipv4(&self, addr: Ipv6Addr) -> Option<Ipv4Addr> {
        self.lookup_ipv6(addr).map(|e| e.to_ipv4(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v4: &str, len4: u8, v6: &str, len6: u8) -> EamEntry {
        EamEntry::new(
            Ipv4Prefix::new(v4.parse().unwrap(), len4).unwrap(),
            Ipv6Prefix::new(v6.parse().unwrap(), len6).unwrap(),
        )
        .unwrap()
    }

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn rfc7757_examples() {
        // RFC 7757 §3.2's examples: 192.0.2.1/32 ↔ 2001:db8:aaaa::/128,
        // 192.0.2.0/24 ↔ 2001:db8:bbbb::/120, 192.0.2.0/24 ↔ 2001:db8:cccc::/64.
        let one = [entry("192.0.2.1", 32, "2001:db8:aaaa::", 128)];
        let t = Eamt::new(&one[..]).unwrap();
        assert_eq!(t.to_ipv6(v4("192.0.2.1")), Some(v6("2001:db8:aaaa::")));
        assert_eq!(t.to_ipv4(v6("2001:db8:aaaa::")), Some(v4("192.0.2.1")));
        assert_eq!(t.to_ipv6(v4("192.0.2.2")), None);

        let same_suffix = [entry("192.0.2.0", 24, "2001:db8:bbbb::", 120)];
        let t = Eamt::new(same_suffix).unwrap();
        assert_eq!(t.to_ipv6(v4("192.0.2.200")), Some(v6("2001:db8:bbbb::c8")));
        assert_eq!(t.to_ipv4(v6("2001:db8:bbbb::c8")), Some(v4("192.0.2.200")));

        // A longer IPv6 suffix: the IPv4 suffix goes right after the prefix, the
        // rest is zero — and ignored on the way back.
        let longer = [entry("192.0.2.0", 24, "2001:db8:cccc::", 64)];
        let t = Eamt::new(longer).unwrap();
        assert_eq!(
            t.to_ipv6(v4("192.0.2.200")),
            Some(v6("2001:db8:cccc:0:c800::"))
        );
        assert_eq!(
            t.to_ipv4(v6("2001:db8:cccc:0:c8ff:ffff:ffff:ffff")),
            Some(v4("192.0.2.200"))
        );
    }

    #[test]
    fn longest_prefix_wins_both_ways() {
        let entries = [
            entry("198.51.100.0", 24, "2001:db8:1::", 120),
            entry("198.51.100.8", 29, "2001:db8:2::", 125),
            entry("0.0.0.0", 0, "2001:db8:ffff::", 96),
        ];
        let t = Eamt::new(&entries[..]).unwrap();
        assert_eq!(t.to_ipv6(v4("198.51.100.9")), Some(v6("2001:db8:2::1")));
        assert_eq!(t.to_ipv6(v4("198.51.100.7")), Some(v6("2001:db8:1::7")));
        assert_eq!(t.to_ipv6(v4("8.8.8.8")), Some(v6("2001:db8:ffff::808:808")));
        assert_eq!(t.to_ipv4(v6("2001:db8:2::7")), Some(v4("198.51.100.15")));
        assert_eq!(
            t.to_ipv4(v6("2001:db8:ffff::c000:201")),
            Some(v4("192.0.2.1"))
        );
        assert_eq!(t.to_ipv4(v6("2001:db8:3::1")), None);
        assert_eq!(t.entries().len(), 3);
    }

    #[test]
    fn rejections() {
        assert_eq!(
            EamEntry::new(
                Ipv4Prefix::new(v4("192.0.2.0"), 24).unwrap(),
                Ipv6Prefix::new(v6("2001:db8::"), 125).unwrap()
            ),
            Err(AddrError::EamSuffixTooLong {
                ipv4_suffix: 8,
                ipv6_suffix: 3
            })
        );
        let dup4 = [
            entry("192.0.2.0", 24, "2001:db8:1::", 120),
            entry("192.0.2.0", 24, "2001:db8:2::", 120),
        ];
        assert_eq!(Eamt::new(dup4).err(), Some(AddrError::EamDuplicate));
        let dup6 = [
            entry("192.0.2.0", 24, "2001:db8:1::", 120),
            entry("198.51.100.0", 24, "2001:db8:1::", 120),
        ];
        assert_eq!(Eamt::new(dup6).err(), Some(AddrError::EamDuplicate));
    }
}
