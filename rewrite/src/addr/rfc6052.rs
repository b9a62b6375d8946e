//! IPv4-embedded IPv6 addresses (RFC 6052): the NAT64 / SIIT `pool6` prefix.
//!
//! RFC 6052 §2.2 places the 32 IPv4 bits right after the prefix, skipping bits
//! 64–71 (the "u" octet, kept zero for compatibility with the RFC 4291 interface
//! identifier format); what is left after them is the suffix, zero when generated:
//!
//! ```text
//! |PL| 0-------------32--40--48--56--64--72--80--88--96--104---------|
//! |32|     prefix    |v4(32)         | u | suffix                    |
//! |40|     prefix        |v4(24)     | u |(8)| suffix                |
//! |48|     prefix            |v4(16) | u | (16)  | suffix            |
//! |56|     prefix                |(8)| u |  v4(24)   | suffix        |
//! |64|     prefix                    | u |   v4(32)      | suffix    |
//! |96|     prefix                                    |    v4(32)     |
//! ```

use super::{AddrError, Ipv4Prefix, Ipv6Prefix};
use core::net::{Ipv4Addr, Ipv6Addr};

/// The byte of an IPv6 address that RFC 6052 §2.2 reserves (bits 64–71).
const U_OCTET: usize = 8;

/// A NAT64 prefix of one of the lengths RFC 6052 §2.2 allows: /32, /40, /48, /56,
/// /64 or /96.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nat64Prefix {
    prefix: Ipv6Prefix,
}

impl Nat64Prefix {
    /// The Well-Known Prefix 64:ff9b::/96 (RFC 6052 §2.1). Addresses under it are
    /// subject to [`Nat64Prefix::allows`].
    pub const WELL_KNOWN: Nat64Prefix = Nat64Prefix {
        prefix: match Ipv6Prefix::new(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
            Ok(p) => p,
            Err(_) => panic!("64:ff9b::/96 is a valid prefix"),
        },
    };

    /// The local-use prefix 64:ff9b:1::/48 (RFC 8215). Network-specific: every
    /// IPv4 address may be embedded under it.
    pub const LOCAL_USE: Nat64Prefix = Nat64Prefix {
        prefix: match Ipv6Prefix::new(Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48) {
            Ok(p) => p,
            Err(_) => panic!("64:ff9b:1::/48 is a valid prefix"),
        },
    };

    /// A network-specific prefix (or the well-known one spelled out). Refused
    /// unless the length is one RFC 6052 §2.2 allows, the bits past it are zero
    /// and, for /96, the u octet (bits 64–71) is zero.
    pub const fn new(addr: Ipv6Addr, len: u8) -> Result<Nat64Prefix, AddrError> {
        if !matches!(len, 32 | 40 | 48 | 56 | 64 | 96) {
            return Err(AddrError::Rfc6052Length(len));
        }
        let prefix = match Ipv6Prefix::new(addr, len) {
            Ok(p) => p,
            Err(e) => return Err(e),
        };
        if addr.octets()[U_OCTET] != 0 {
            return Err(AddrError::UOctetSet);
        }
        Ok(Nat64Prefix { prefix })
    }

    /// Like [`Nat64Prefix::new`], but the bits of `addr` past `len` are ignored
    /// rather than refused (what `sixfold addr --nat64-prefix` and
    /// `sixfold_teredo`'s classifier have always done).
    pub const fn new_truncating(addr: Ipv6Addr, len: u8) -> Result<Nat64Prefix, AddrError> {
        if len > 128 {
            return Err(AddrError::Rfc6052Length(len));
        }
        let kept = if len == 0 {
            0
        } else {
            addr.to_bits() & (u128::MAX << (128 - len as u32))
        };
        Nat64Prefix::new(Ipv6Addr::from_bits(kept), len)
    }

    /// The prefix.
    pub const fn prefix(&self) -> Ipv6Prefix {
        self.prefix
    }

    /// The prefix length in bits: 32, 40, 48, 56, 64 or 96.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix.prefix_len()
    }

    /// Whether this is the Well-Known Prefix 64:ff9b::/96.
    pub const fn is_well_known(&self) -> bool {
        self.prefix.bits() == Nat64Prefix::WELL_KNOWN.prefix.bits()
            && self.prefix.prefix_len() == Nat64Prefix::WELL_KNOWN.prefix.prefix_len()
    }

    /// The byte positions of the four IPv4 octets: the bytes after the prefix,
    /// skipping the u octet.
    const fn ipv4_positions(&self) -> [usize; 4] {
        let mut at = [0usize; 4];
        let mut next = self.prefix.prefix_len() as usize / 8;
        let mut i = 0;
        while i < 4 {
            if next == U_OCTET {
                next += 1;
            }
            at[i] = next;
            next += 1;
            i += 1;
        }
        at
    }

    /// The IPv4-embedded IPv6 address of `ipv4` (RFC 6052 §2.3): u octet and
    /// suffix zero.
    pub const fn embed(&self, ipv4: Ipv4Addr) -> Ipv6Addr {
        let mut octets = self.prefix.addr().octets();
        let v4 = ipv4.octets();
        let at = self.ipv4_positions();
        let mut i = 0;
        while i < 4 {
            octets[at[i]] = v4[i];
            i += 1;
        }
        Ipv6Addr::from_bits(u128::from_be_bytes(octets))
    }

    /// The IPv4 address embedded in `addr` (RFC 6052 §2.3), or `None` when `addr`
    /// is not under this prefix or its u octet is not zero. The suffix is ignored:
    /// RFC 6052 reserves it for future extensions.
    pub const fn extract(&self, addr: Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.prefix.contains(addr) {
            return None;
        }
        let octets = addr.octets();
        if octets[U_OCTET] != 0 {
            return None;
        }
        let at = self.ipv4_positions();
        Some(Ipv4Addr::new(
            octets[at[0]],
            octets[at[1]],
            octets[at[2]],
            octets[at[3]],
        ))
    }

    /// Whether `ipv4` may be embedded under this prefix. RFC 6052 §3.1: the
    /// Well-Known Prefix MUST NOT represent non-global IPv4 addresses, and a
    /// translator MUST drop a packet with such an address in either direction.
    /// Network-specific prefixes allow every address.
    pub const fn allows(&self, ipv4: Ipv4Addr) -> bool {
        !self.is_well_known() || !is_non_global(ipv4)
    }
}

/// The blocks RFC 6052 §3.1 keeps away from the Well-Known Prefix: RFC 1918 and
/// RFC 5735 §3's special-use list, plus RFC 6598's shared address space
/// (100.64.0.0/10, carrier-grade NAT, which postdates RFC 5735 and is not global).
const NON_GLOBAL: [(Ipv4Addr, u8); 16] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),          // "this" network (RFC 1122)
    (Ipv4Addr::new(10, 0, 0, 0), 8),         // private (RFC 1918)
    (Ipv4Addr::new(100, 64, 0, 0), 10),      // shared address space (RFC 6598)
    (Ipv4Addr::new(127, 0, 0, 0), 8),        // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),     // link local (RFC 3927)
    (Ipv4Addr::new(172, 16, 0, 0), 12),      // private (RFC 1918)
    (Ipv4Addr::new(192, 0, 0, 0), 24),       // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),       // TEST-NET-1 (RFC 5737)
    (Ipv4Addr::new(192, 88, 99, 0), 24),     // 6to4 relay anycast (RFC 3068)
    (Ipv4Addr::new(192, 168, 0, 0), 16),     // private (RFC 1918)
    (Ipv4Addr::new(198, 18, 0, 0), 15),      // benchmarking (RFC 2544)
    (Ipv4Addr::new(198, 51, 100, 0), 24),    // TEST-NET-2 (RFC 5737)
    (Ipv4Addr::new(203, 0, 113, 0), 24),     // TEST-NET-3 (RFC 5737)
    (Ipv4Addr::new(224, 0, 0, 0), 4),        // multicast (RFC 5771)
    (Ipv4Addr::new(240, 0, 0, 0), 4),        // reserved (RFC 1112)
    (Ipv4Addr::new(255, 255, 255, 255), 32), // limited broadcast
];

/// Whether `ipv4` is in one of the non-global blocks of RFC 6052 §3.1 (see
/// [`Nat64Prefix::allows`]).
pub const fn is_non_global(ipv4: Ipv4Addr) -> bool {
    let mut i = 0;
    while i < NON_GLOBAL.len() {
        let (addr, len) = NON_GLOBAL[i];
        if let Ok(block) = Ipv4Prefix::new(addr, len)
            && block.contains(ipv4)
        {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// `new` refuses bits past the length, `new_truncating` drops them (the
    /// behaviour `sixfold_teredo`'s own type had before it became this one), and
    /// RFC 8215's local-use prefix embeds like any network-specific one.
    #[test]
    fn truncating_constructor_and_local_use() {
        assert_eq!(
            Nat64Prefix::new(v6("2001:db8:122:344::"), 32),
            Err(AddrError::HostBitsSet)
        );
        let p = Nat64Prefix::new_truncating(v6("2001:db8:122:344::"), 32).unwrap();
        assert_eq!(p, Nat64Prefix::new(v6("2001:db8::"), 32).unwrap());
        assert_eq!(p.prefix_len(), 32);
        assert_eq!(
            Nat64Prefix::new_truncating(v6("2001:db8::"), 129),
            Err(AddrError::Rfc6052Length(129))
        );
        assert_eq!(
            Nat64Prefix::new_truncating(v6("2001:db8::ff00:0:0:0"), 96),
            Err(AddrError::UOctetSet)
        );
        let local = Nat64Prefix::LOCAL_USE;
        assert_eq!(local.prefix_len(), 48);
        assert!(!local.is_well_known());
        assert_eq!(
            local.embed(Ipv4Addr::new(192, 0, 2, 1)),
            v6("64:ff9b:1:c000:2:100::")
        );
        assert!(local.allows(Ipv4Addr::new(10, 0, 0, 1)));
    }

    /// RFC 6052 §2.4's example table: 192.0.2.33 under 2001:db8::/n for every n.
    #[test]
    fn rfc6052_section_2_4_examples() {
        let ipv4 = Ipv4Addr::new(192, 0, 2, 33);
        for (prefix, len, embedded) in [
            ("2001:db8::", 32, "2001:db8:c000:221::"),
            ("2001:db8:100::", 40, "2001:db8:1c0:2:21::"),
            ("2001:db8:122::", 48, "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::", 56, "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::", 64, "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::", 96, "2001:db8:122:344::192.0.2.33"),
        ] {
            let p = Nat64Prefix::new(v6(prefix), len).unwrap();
            assert_eq!(p.embed(ipv4), v6(embedded), "/{len}");
            assert_eq!(p.extract(v6(embedded)), Some(ipv4), "/{len}");
        }
        assert_eq!(
            Nat64Prefix::WELL_KNOWN.embed(ipv4),
            v6("64:ff9b::192.0.2.33")
        );
    }

    #[test]
    fn extract_ignores_the_suffix_and_refuses_the_u_octet() {
        let p = Nat64Prefix::new(v6("2001:db8::"), 32).unwrap();
        let ipv4 = Ipv4Addr::new(198, 51, 100, 7);
        let mut octets = p.embed(ipv4).octets();
        octets[15] = 0xAB; // suffix
        assert_eq!(p.extract(Ipv6Addr::from(octets)), Some(ipv4));
        octets[8] = 1; // u octet
        assert_eq!(p.extract(Ipv6Addr::from(octets)), None);
        assert_eq!(p.extract(v6("2001:db9::c633:6407")), None, "other prefix");
    }

    #[test]
    fn rejections() {
        assert_eq!(
            Nat64Prefix::new(v6("2001:db8::"), 33),
            Err(AddrError::Rfc6052Length(33))
        );
        assert_eq!(
            Nat64Prefix::new(v6("2001:db8::1"), 64),
            Err(AddrError::HostBitsSet)
        );
        assert_eq!(
            Nat64Prefix::new(v6("2001:db8:0:0:100::"), 96),
            Err(AddrError::UOctetSet)
        );
    }

    #[test]
    fn well_known_prefix_refuses_non_global_ipv4() {
        let wkp = Nat64Prefix::WELL_KNOWN;
        assert!(wkp.is_well_known());
        for blocked in [
            Ipv4Addr::new(10, 1, 2, 3),
            Ipv4Addr::new(100, 127, 255, 255),
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(172, 31, 0, 1),
            Ipv4Addr::new(192, 0, 2, 80),
            Ipv4Addr::new(192, 168, 1, 1),
            Ipv4Addr::new(198, 19, 0, 1),
            Ipv4Addr::new(198, 51, 100, 7),
            Ipv4Addr::new(203, 0, 113, 9),
            Ipv4Addr::new(224, 0, 0, 1),
            Ipv4Addr::new(255, 255, 255, 255),
        ] {
            assert!(!wkp.allows(blocked), "{blocked}");
        }
        for global in [
            Ipv4Addr::new(8, 8, 8, 8),
            Ipv4Addr::new(100, 128, 0, 1),
            Ipv4Addr::new(172, 32, 0, 1),
            Ipv4Addr::new(198, 20, 0, 1),
        ] {
            assert!(wkp.allows(global), "{global}");
        }
        let nsp = Nat64Prefix::new(v6("2001:db8:64::"), 96).unwrap();
        assert!(!nsp.is_well_known());
        assert!(nsp.allows(Ipv4Addr::new(192, 0, 2, 80)));
    }
}
