//! What kind of IPv6 address this is, and the IPv4 address it embeds, if any.
//!
//! [`classify`] knows the fixed prefixes; [`classify_with`] also takes an operator's
//! 6rd domain and network-specific NAT64 prefixes, which cannot be told from the
//! address alone.

use crate::address::Teredo;
use core::net::{Ipv4Addr, Ipv6Addr};

/// The kind of an IPv6 address. Kinds that embed an IPv4 address carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressKind {
    /// `::`.
    Unspecified,
    /// `::1`.
    Loopback,
    /// `::ffff:0:0/96` (RFC 4291 §2.5.5.2): never on the wire.
    Ipv4Mapped(Ipv4Addr),
    /// `::/96` other than `::` and `::1`: IPv4-compatible, deprecated (RFC 4291
    /// §2.5.5.1).
    Ipv4Compatible(Ipv4Addr),
    /// Teredo (RFC 4380), 2001:0::/32 or the legacy 3ffe:831f::/32.
    Teredo(Teredo),
    /// 6to4 (RFC 3056), 2002::/16: the site's IPv4 in bits 16-47. If the interface
    /// id is also an ISATAP one, that address too.
    SixToFour {
        /// The 6to4 gateway's IPv4 address (bits 16-47).
        ipv4: Ipv4Addr,
        /// The ISATAP interface's IPv4 address, if the interface id is ISATAP-style.
        isatap: Option<Ipv4Addr>,
    },
    /// ISATAP (RFC 5214): interface id `0000:5efe:a.b.c.d` (private IPv4) or
    /// `0200:5efe:a.b.c.d` (global, u bit set), under any prefix.
    Isatap {
        /// The embedded IPv4 address.
        ipv4: Ipv4Addr,
        /// Whether the u bit (0x0200) says the IPv4 address is globally unique.
        universal: bool,
    },
    /// NAT64 (RFC 6052): the well-known prefix 64:ff9b::/96, local-use
    /// 64:ff9b:1::/48 (RFC 8215), or a configured network-specific prefix.
    Nat64 {
        /// The prefix the address matched.
        prefix: Nat64Prefix,
        /// The embedded IPv4 address.
        ipv4: Ipv4Addr,
    },
    /// Inside the configured 6rd domain (RFC 5969).
    SixRd {
        /// The customer's IPv4 address, rebuilt from the common bits and the suffix.
        ipv4: Ipv4Addr,
    },
    /// Multicast, ff00::/8.
    Multicast,
    /// Link-local unicast, fe80::/10.
    LinkLocal,
    /// Unique local, fc00::/7 (RFC 4193).
    UniqueLocal,
    /// Documentation: 2001:db8::/32 (RFC 3849) or 3fff::/20 (RFC 9637).
    Documentation,
    /// Global unicast, 2000::/3, not one of the above.
    GlobalUnicast,
    /// Anything else (reserved or unassigned space).
    Other,
}

impl AddressKind {
    /// A short, stable name for the kind (used as the CLI's JSON `kind`).
    pub const fn name(&self) -> &'static str {
        match self {
            AddressKind::Unspecified => "unspecified",
            AddressKind::Loopback => "loopback",
            AddressKind::Ipv4Mapped(_) => "ipv4-mapped",
            AddressKind::Ipv4Compatible(_) => "ipv4-compatible",
            AddressKind::Teredo(_) => "teredo",
            AddressKind::SixToFour { .. } => "6to4",
            AddressKind::Isatap { .. } => "isatap",
            AddressKind::Nat64 { .. } => "nat64",
            AddressKind::SixRd { .. } => "6rd",
            AddressKind::Multicast => "multicast",
            AddressKind::LinkLocal => "link-local",
            AddressKind::UniqueLocal => "unique-local",
            AddressKind::Documentation => "documentation",
            AddressKind::GlobalUnicast => "global-unicast",
            AddressKind::Other => "other",
        }
    }

    /// The IPv4 address this kind embeds, if any (for Teredo, the client's public
    /// address).
    pub const fn embedded_ipv4(&self) -> Option<Ipv4Addr> {
        match *self {
            AddressKind::Ipv4Mapped(a) | AddressKind::Ipv4Compatible(a) => Some(a),
            AddressKind::Teredo(t) => Some(t.client),
            AddressKind::SixToFour { ipv4, .. }
            | AddressKind::Isatap { ipv4, .. }
            | AddressKind::Nat64 { ipv4, .. }
            | AddressKind::SixRd { ipv4 } => Some(ipv4),
            _ => None,
        }
    }
}

/// A NAT64 prefix of one of the lengths RFC 6052 §2.2 allows: the one type
/// `sixfold_rewrite` translates with, re-exported under its old name here.
pub use sixfold_rewrite::addr::Nat64Prefix;

/// Why a [`SixRd`] domain was refused. (A [`Nat64Prefix`] is refused with
/// `sixfold_rewrite::addr::AddrError`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrefixError {
    /// The 6rd prefix length plus the IPv4 suffix length exceeds 64 bits (or a length
    /// is out of range).
    SixRdLengths {
        /// The 6rd prefix length.
        prefix_len: u8,
        /// The number of IPv4 bits common to the whole domain.
        ipv4_common_len: u8,
    },
}

impl core::fmt::Display for PrefixError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PrefixError::SixRdLengths {
                prefix_len,
                ipv4_common_len,
            } => write!(
                f,
                "6rd prefix /{prefix_len} with {ipv4_common_len} common IPv4 bits leaves more than 64 bits (RFC 5969 7.1.1)"
            ),
        }
    }
}

impl core::error::Error for PrefixError {}

/// An operator's 6rd domain (RFC 5969 §7.1.1): the 6rd prefix, and the IPv4 bits
/// common to every customer (`ipv4_common_len` high bits of `ipv4_common`), which are
/// left out of the delegated prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SixRd {
    prefix: Ipv6Addr,
    prefix_len: u8,
    ipv4_common: Ipv4Addr,
    ipv4_common_len: u8,
}

impl SixRd {
    /// A 6rd domain; `prefix_len + 32 - ipv4_common_len` must be at most 64.
    pub const fn new(
        prefix: Ipv6Addr,
        prefix_len: u8,
        ipv4_common: Ipv4Addr,
        ipv4_common_len: u8,
    ) -> Result<SixRd, PrefixError> {
        if prefix_len > 64
            || ipv4_common_len > 32
            || prefix_len as u32 + 32 - ipv4_common_len as u32 > 64
        {
            return Err(PrefixError::SixRdLengths {
                prefix_len,
                ipv4_common_len,
            });
        }
        let prefix = Ipv6Addr::from_bits(prefix.to_bits() & mask(prefix_len));
        let common = ipv4_common.to_bits() & mask32(ipv4_common_len);
        Ok(SixRd {
            prefix,
            prefix_len,
            ipv4_common: Ipv4Addr::from_bits(common),
            ipv4_common_len,
        })
    }

    /// The customer IPv4 address of `addr`, if `addr` is inside this domain.
    pub const fn extract(&self, addr: Ipv6Addr) -> Option<Ipv4Addr> {
        let bits = addr.to_bits();
        if bits & mask(self.prefix_len) != self.prefix.to_bits() {
            return None;
        }
        let suffix_len = 32 - self.ipv4_common_len as u32;
        if suffix_len == 0 {
            return Some(self.ipv4_common);
        }
        let suffix = (bits >> (128 - self.prefix_len as u32 - suffix_len)) as u32
            & (u32::MAX >> (32 - suffix_len));
        Some(Ipv4Addr::from_bits(self.ipv4_common.to_bits() | suffix))
    }
}

/// Extra knowledge for [`classify_with`]: an operator's 6rd domain and NAT64 prefixes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The 6rd domain, if the network has one.
    pub six_rd: Option<SixRd>,
    /// Network-specific NAT64 prefixes, tried before the fixed ones.
    pub nat64: &'a [Nat64Prefix],
}

/// Classifies an address by the fixed prefixes alone.
///
/// ```
/// use sixfold_teredo::{classify, AddressKind};
/// use core::net::Ipv4Addr;
/// let kind = classify("2002:c000:201::1".parse().unwrap());
/// assert_eq!(kind, AddressKind::SixToFour { ipv4: Ipv4Addr::new(192, 0, 2, 1), isatap: None });
/// ```
pub const fn classify(addr: Ipv6Addr) -> AddressKind {
    classify_with(
        addr,
        &Context {
            six_rd: None,
            nat64: &[],
        },
    )
}

/// Classifies an address, also recognising the 6rd domain and NAT64 prefixes in
/// `context`. More specific kinds win: Teredo, 6to4 and NAT64 before ISATAP (a 6to4
/// address with an ISATAP interface id reports both), ISATAP before link-local, ULA,
/// documentation and global unicast.
pub const fn classify_with(addr: Ipv6Addr, context: &Context<'_>) -> AddressKind {
    let bits = addr.to_bits();
    let low32 = Ipv4Addr::from_bits(bits as u32);
    if bits == 0 {
        return AddressKind::Unspecified;
    }
    if bits == 1 {
        return AddressKind::Loopback;
    }
    if bits >> 32 == 0xFFFF {
        return AddressKind::Ipv4Mapped(low32);
    }
    if bits >> 32 == 0 {
        return AddressKind::Ipv4Compatible(low32);
    }
    let mut i = 0;
    while i < context.nat64.len() {
        if let Some(ipv4) = context.nat64[i].extract(addr) {
            return AddressKind::Nat64 {
                prefix: context.nat64[i],
                ipv4,
            };
        }
        i += 1;
    }
    if let Some(ipv4) = Nat64Prefix::WELL_KNOWN.extract(addr) {
        return AddressKind::Nat64 {
            prefix: Nat64Prefix::WELL_KNOWN,
            ipv4,
        };
    }
    if let Some(ipv4) = Nat64Prefix::LOCAL_USE.extract(addr) {
        return AddressKind::Nat64 {
            prefix: Nat64Prefix::LOCAL_USE,
            ipv4,
        };
    }
    if let Some(t) = Teredo::decode(addr) {
        return AddressKind::Teredo(t);
    }
    let isatap = isatap_ipv4(addr);
    if bits >> 112 == 0x2002 {
        let ipv4 = Ipv4Addr::from_bits((bits >> 80) as u32);
        return AddressKind::SixToFour {
            ipv4,
            isatap: match isatap {
                Some((a, _)) => Some(a),
                None => None,
            },
        };
    }
    if let Some(six_rd) = context.six_rd
        && let Some(ipv4) = six_rd.extract(addr)
    {
        return AddressKind::SixRd { ipv4 };
    }
    if bits >> 120 == 0xFF {
        return AddressKind::Multicast;
    }
    if let Some((ipv4, universal)) = isatap {
        return AddressKind::Isatap { ipv4, universal };
    }
    if bits >> 118 == 0xFE80 >> 6 {
        return AddressKind::LinkLocal;
    }
    if bits >> 121 == 0xFC >> 1 {
        return AddressKind::UniqueLocal;
    }
    if bits >> 96 == 0x2001_0DB8 || bits >> 108 == 0x3FFF0 {
        return AddressKind::Documentation;
    }
    if bits >> 125 == 1 {
        return AddressKind::GlobalUnicast;
    }
    AddressKind::Other
}

/// The IPv4 address in an ISATAP interface id (`0000:5efe` or `0200:5efe`), and
/// whether the u bit is set. Linux accepts both (`ipv6_addr_is_isatap`).
pub const fn isatap_ipv4(addr: Ipv6Addr) -> Option<(Ipv4Addr, bool)> {
    let bits = addr.to_bits();
    let id_high = (bits >> 32) as u32;
    if id_high | 0x0200_0000 != 0x0200_5EFE {
        return None;
    }
    Some((Ipv4Addr::from_bits(bits as u32), id_high & 0x0200_0000 != 0))
}

/// The 6to4 gateway address of a 2002::/16 address.
pub const fn six_to_four(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = addr.to_bits();
    if bits >> 112 == 0x2002 {
        Some(Ipv4Addr::from_bits((bits >> 80) as u32))
    } else {
        None
    }
}

/// A mask of the top `len` bits of 128.
const fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

/// A mask of the top `len` bits of 32.
const fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }
    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn the_oracle_vectors() {
        // The addresses in ../shared/data/teredo/teredo-oracle-vectors.pcap.
        assert!(matches!(
            classify(a("2001:0:cb00:710a:1408:52d4:34ff:8efe")),
            AddressKind::Teredo(_)
        ));
        assert!(
            matches!(classify(a("3ffe:831f:4136:e378:8000:63bf:3fff:fdd2")), AddressKind::Teredo(t) if t.is_legacy())
        );
        assert_eq!(
            classify(a("2002:c000:201::1")),
            AddressKind::SixToFour {
                ipv4: v4("192.0.2.1"),
                isatap: None
            }
        );
        assert_eq!(
            classify(a("2002:cb00:710a:1:0:5efe:c000:201")),
            AddressKind::SixToFour {
                ipv4: v4("203.0.113.10"),
                isatap: Some(v4("192.0.2.1"))
            }
        );
        assert_eq!(
            classify(a("fe80::8000:f227:34ff:8ef5")),
            AddressKind::LinkLocal
        );
        assert_eq!(
            classify(a("2001:db8::200:5efe:c000:201")),
            AddressKind::Isatap {
                ipv4: v4("192.0.2.1"),
                universal: true
            }
        );
        assert_eq!(
            classify(a("fe80::5efe:a4d:2")),
            AddressKind::Isatap {
                ipv4: v4("10.77.0.2"),
                universal: false
            }
        );
        assert_eq!(
            classify(a("64:ff9b::c000:221")),
            AddressKind::Nat64 {
                prefix: Nat64Prefix::WELL_KNOWN,
                ipv4: v4("192.0.2.33")
            }
        );
        assert_eq!(
            classify(a("::ffff:192.0.2.1")),
            AddressKind::Ipv4Mapped(v4("192.0.2.1"))
        );
        assert_eq!(
            classify(a("::192.0.2.1")),
            AddressKind::Ipv4Compatible(v4("192.0.2.1"))
        );
    }

    #[test]
    fn fixed_kinds() {
        assert_eq!(classify(a("::")), AddressKind::Unspecified);
        assert_eq!(classify(a("::1")), AddressKind::Loopback);
        assert_eq!(classify(a("ff02::1")), AddressKind::Multicast);
        assert_eq!(classify(a("fd00:1::5")), AddressKind::UniqueLocal);
        assert_eq!(classify(a("2001:db8::1")), AddressKind::Documentation);
        assert_eq!(classify(a("3fff:fff::1")), AddressKind::Documentation);
        assert_eq!(classify(a("2a00:1450::1")), AddressKind::GlobalUnicast);
        assert_eq!(classify(a("100::1")), AddressKind::Other);
        assert_eq!(
            classify(a("64:ff9b:1:c000:2:100::")),
            AddressKind::Nat64 {
                prefix: Nat64Prefix::LOCAL_USE,
                ipv4: v4("192.0.2.1")
            }
        );
    }

    /// RFC 6052 §2.4's table: 192.0.2.33 under 2001:db8::/32 … /96.
    #[test]
    fn rfc6052_table() {
        let ip = v4("192.0.2.33");
        let rows = [
            (32, "2001:db8:c000:221::"),
            (40, "2001:db8:1c0:2:21::"),
            (48, "2001:db8:122:c000:2:2100::"),
            (56, "2001:db8:122:3c0:0:221::"),
            (64, "2001:db8:122:344:c0:2:2100:0"),
            (96, "2001:db8:122:344::192.0.2.33"),
        ];
        for (len, text) in rows {
            let p = Nat64Prefix::new_truncating(a("2001:db8:122:344::"), len).unwrap();
            assert_eq!(p.embed(ip), a(text), "/{len}");
            assert_eq!(p.extract(a(text)), Some(ip), "/{len}");
            let kind = classify_with(
                a(text),
                &Context {
                    six_rd: None,
                    nat64: &[p],
                },
            );
            assert_eq!(
                kind,
                AddressKind::Nat64 {
                    prefix: p,
                    ipv4: ip
                }
            );
        }
        assert_eq!(
            Nat64Prefix::new(a("2001:db8::"), 44),
            Err(sixfold_rewrite::addr::AddrError::Rfc6052Length(44))
        );
    }

    #[test]
    fn six_rd_domain() {
        // RFC 5969 style: 6rd prefix 2001:db8::/32, common 10.0.0.0/8 → 24-bit suffix.
        let d = SixRd::new(a("2001:db8::"), 32, v4("10.0.0.0"), 8).unwrap();
        let addr = a("2001:db8:0102:0300::1"); // suffix 01.02.03
        assert_eq!(d.extract(addr), Some(v4("10.1.2.3")));
        let kind = classify_with(
            addr,
            &Context {
                six_rd: Some(d),
                nat64: &[],
            },
        );
        assert_eq!(
            kind,
            AddressKind::SixRd {
                ipv4: v4("10.1.2.3")
            }
        );
        assert!(SixRd::new(a("2001:db8::"), 40, v4("0.0.0.0"), 0).is_err());
    }

    quickcheck! {
        fn nat64_embed_extract(prefix: u128, ip: u32, pick: u8) -> bool {
            let len = [32u8, 40, 48, 56, 64, 96][pick as usize % 6];
            let prefix = prefix & !(0xFFu128 << 56);
            let Ok(p) = Nat64Prefix::new_truncating(Ipv6Addr::from_bits(prefix), len) else { return false };
            p.extract(p.embed(Ipv4Addr::from_bits(ip))) == Some(Ipv4Addr::from_bits(ip))
        }
        fn six_to_four_extracts_bits_16_to_47(low: u128) -> bool {
            let bits = 0x2002u128 << 112 | (low & ((1u128 << 112) - 1));
            six_to_four(Ipv6Addr::from_bits(bits)) == Some(Ipv4Addr::from_bits((bits >> 80) as u32))
        }
    }
}
