//! Teredo addresses (RFC 4380 §4, RFC 5991).
//!
//! ```text
//! | prefix 2001:0::/32 | server IPv4 | flags | ~port | ~client IPv4 |
//!   bits 0-31            32-63         64-79   80-95   96-127
//! ```
//!
//! The server address is in the clear; the client's NAT-mapped port and IPv4 address
//! are bit-inverted ("Each bit in the address and port number is reversed", RFC 4380
//! §4), both big-endian. The pre-RFC prefix 3ffe:831f::/32 (Windows XP/2003 before
//! MS06-064) decodes too, marked [`Prefix::Legacy`].

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// The Teredo service prefix, 2001:0::/32 (RFC 4380 §2.6), as the top 32 bits.
pub const PREFIX: u32 = 0x2001_0000;
/// The obsolete experimental prefix 3ffe:831f::/32, as the top 32 bits.
pub const LEGACY_PREFIX: u32 = 0x3ffe_831f;
/// The UDP port Teredo servers listen on (RFC 4380 §2.7).
pub const SERVER_PORT: u16 = 3544;

/// Which /32 a Teredo address sits under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// 2001:0::/32, the RFC 4380 service prefix.
    Global,
    /// 3ffe:831f::/32, the obsolete experimental prefix.
    Legacy,
}

impl Prefix {
    /// The prefix as the top 32 bits of an address.
    pub const fn bits(self) -> u32 {
        match self {
            Prefix::Global => PREFIX,
            Prefix::Legacy => LEGACY_PREFIX,
        }
    }
}

/// The 16 flag bits of a Teredo address.
///
/// RFC 4380 draws them `Czzz zzUG zzzz zzzz` and defines only 0x0000 and 0x8000
/// (cone). RFC 5991 redraws them `CRAAAAUG AAAAAAAA`: C should be 0, R is reserved,
/// U and G are 0, and the twelve A bits (mask 0x3CFF) are random, so that an address
/// is harder to guess.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// The cone bit (C).
    pub const CONE: u16 = 0x8000;
    /// The reserved bit (R), sent as 0.
    pub const RESERVED: u16 = 0x4000;
    /// The U bit (universal/local, as in Modified EUI-64), sent as 0.
    pub const UNIVERSAL: u16 = 0x0200;
    /// The G bit (individual/group, as in Modified EUI-64), sent as 0.
    pub const GROUP: u16 = 0x0100;
    /// The twelve random bits of RFC 5991: bits 2-5 of the first octet and the whole
    /// second octet.
    pub const RANDOM_MASK: u16 = 0x3CFF;

    /// Whether the cone bit is set (the client found itself behind a cone NAT).
    pub const fn cone(self) -> bool {
        self.0 & Self::CONE != 0
    }

    /// Whether the reserved bit is set (it should not be).
    pub const fn reserved(self) -> bool {
        self.0 & Self::RESERVED != 0
    }

    /// Whether the U bit is set (it should not be).
    pub const fn universal(self) -> bool {
        self.0 & Self::UNIVERSAL != 0
    }

    /// Whether the G bit is set (it should not be).
    pub const fn group(self) -> bool {
        self.0 & Self::GROUP != 0
    }

    /// The twelve random bits as one number, 0..=4095: the four bits under 0x3C00
    /// above the eight bits under 0x00FF.
    pub const fn random_bits(self) -> u16 {
        ((self.0 >> 10) & 0xF) << 8 | (self.0 & 0xFF)
    }

    /// Flags with the cone bit and twelve random bits (`random` taken modulo 4096).
    pub const fn new(cone: bool, random: u16) -> Flags {
        let random = random & 0xFFF;
        let spread = ((random >> 8) & 0xF) << 10 | (random & 0xFF);
        Flags(if cone { Self::CONE } else { 0 } | spread)
    }

    /// Whether the value is one RFC 4380 defines: 0x0000 or 0x8000.
    pub const fn is_rfc4380_only(self) -> bool {
        self.0 == 0 || self.0 == Self::CONE
    }

    /// Which rules the value follows.
    pub const fn style(self) -> FlagStyle {
        if self.is_rfc4380_only() {
            FlagStyle::Rfc4380
        } else if self.0 & !(Self::RANDOM_MASK | Self::CONE) == 0 {
            FlagStyle::Rfc5991
        } else {
            FlagStyle::Nonconforming
        }
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({:#06x})", self.0)
    }
}

/// Which specification a flags value conforms to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlagStyle {
    /// 0x0000 or 0x8000: RFC 4380's only values (no random bits).
    Rfc4380,
    /// Only random bits (and possibly the cone bit, which RFC 5991 says should be 0):
    /// RFC 5991 style.
    Rfc5991,
    /// The reserved, U or G bit is set.
    Nonconforming,
}

impl FlagStyle {
    /// A short name: `rfc4380`, `rfc5991` or `nonconforming`.
    pub const fn name(self) -> &'static str {
        match self {
            FlagStyle::Rfc4380 => "rfc4380",
            FlagStyle::Rfc5991 => "rfc5991",
            FlagStyle::Nonconforming => "nonconforming",
        }
    }
}

/// A decoded Teredo address. `port` and `client` are the NAT-mapped public values,
/// already de-obfuscated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Teredo {
    /// The Teredo server's IPv4 address.
    pub server: Ipv4Addr,
    /// The flags.
    pub flags: Flags,
    /// The client's NAT-mapped UDP port.
    pub port: u16,
    /// The client's NAT-mapped (public) IPv4 address.
    pub client: Ipv4Addr,
    /// Which /32 the address was under.
    pub prefix: Prefix,
}

impl Teredo {
    /// Decodes an address under 2001:0::/32 or the legacy 3ffe:831f::/32; `None`
    /// for anything else.
    ///
    /// ```
    /// use sixfold_teredo::Teredo;
    /// use core::net::Ipv4Addr;
    /// // RFC 4380's worked example (also Wikipedia's and Microsoft's).
    /// let t = Teredo::decode("2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap()).unwrap();
    /// assert_eq!(t.server, Ipv4Addr::new(65, 54, 227, 120));
    /// assert!(t.flags.cone());
    /// assert_eq!(t.port, 40000);
    /// assert_eq!(t.client, Ipv4Addr::new(192, 0, 2, 45));
    /// ```
    pub const fn decode(addr: Ipv6Addr) -> Option<Teredo> {
        let bits = addr.to_bits();
        let prefix = match (bits >> 96) as u32 {
            PREFIX => Prefix::Global,
            LEGACY_PREFIX => Prefix::Legacy,
            _ => return None,
        };
        Some(Teredo {
            server: Ipv4Addr::from_bits((bits >> 64) as u32),
            flags: Flags((bits >> 48) as u16),
            port: !((bits >> 32) as u16),
            client: Ipv4Addr::from_bits(!(bits as u32)),
            prefix,
        })
    }

    /// Encodes the address (the inverse of [`Teredo::decode`]).
    pub const fn encode(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(
            (self.prefix.bits() as u128) << 96
                | (self.server.to_bits() as u128) << 64
                | (self.flags.0 as u128) << 48
                | (!self.port as u128) << 32
                | !self.client.to_bits() as u128,
        )
    }

    /// Whether the address is under the obsolete 3ffe:831f::/32.
    pub const fn is_legacy(&self) -> bool {
        matches!(self.prefix, Prefix::Legacy)
    }
}

/// Decodes the 8-byte origin indication that a Teredo server or relay puts before a
/// relayed packet (RFC 4380 §5.1.1): `00 00 | ~port | ~IPv4`. Returns the
/// de-obfuscated port and address, or `None` if `bytes` does not start with `00 00`.
///
/// ```
/// use sixfold_teredo::address::origin_indication;
/// use core::net::Ipv4Addr;
/// // RFC 4380 §5.1.1's example: port 337 from 1.2.3.4.
/// let bytes = [0x00, 0x00, 0xfe, 0xae, 0xfe, 0xfd, 0xfc, 0xfb];
/// assert_eq!(origin_indication(&bytes), Some((337, Ipv4Addr::new(1, 2, 3, 4))));
/// ```
pub const fn origin_indication(bytes: &[u8; 8]) -> Option<(u16, Ipv4Addr)> {
    if bytes[0] != 0 || bytes[1] != 0 {
        return None;
    }
    let port = !u16::from_be_bytes([bytes[2], bytes[3]]);
    let ip = !u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    Some((port, Ipv4Addr::from_bits(ip)))
}

/// The 8 bytes of an origin indication for `port` and `ip`.
pub const fn encode_origin_indication(port: u16, ip: Ipv4Addr) -> [u8; 8] {
    let p = (!port).to_be_bytes();
    let a = (!ip.to_bits()).to_be_bytes();
    [0, 0, p[0], p[1], a[0], a[1], a[2], a[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn rfc4380_example() {
        let t = Teredo::decode(addr("2001:0:4136:e378:8000:63bf:3fff:fdd2")).unwrap();
        assert_eq!(t.server, Ipv4Addr::new(65, 54, 227, 120));
        assert_eq!(t.flags, Flags(0x8000));
        assert!(t.flags.cone());
        assert_eq!(t.flags.style(), FlagStyle::Rfc4380);
        assert_eq!(t.port, 40000);
        assert_eq!(t.client, Ipv4Addr::new(192, 0, 2, 45));
        assert_eq!(t.prefix, Prefix::Global);
        assert_eq!(t.encode(), addr("2001:0:4136:e378:8000:63bf:3fff:fdd2"));
    }

    #[test]
    fn miredo_lab_addresses() {
        // ../shared/reference/transition.md §4.1: conntrack showed 10.0.0.2:44331 →
        // 203.0.113.1:44331; flags 0x1408 = random 0x508.
        let t = Teredo::decode(addr("2001:0:cb00:710a:1408:52d4:34ff:8efe")).unwrap();
        assert_eq!(t.server, Ipv4Addr::new(203, 0, 113, 10));
        assert_eq!(t.port, 44331);
        assert_eq!(t.client, Ipv4Addr::new(203, 0, 113, 1));
        assert!(!t.flags.cone());
        assert_eq!(t.flags.random_bits(), 0x508);
        assert_eq!(t.flags.style(), FlagStyle::Rfc5991);
        let p = Teredo::decode(addr("2001:0:cb00:710a:243f:45f7:34ff:8eeb")).unwrap();
        assert_eq!((p.client, p.port), (Ipv4Addr::new(203, 0, 113, 20), 47624));
        assert_eq!(p.flags, Flags(0x243f));
    }

    #[test]
    fn corner_addresses() {
        let t = Teredo::decode(addr("2001::")).unwrap();
        assert_eq!(
            (t.server, t.port, t.client),
            (Ipv4Addr::UNSPECIFIED, 65535, Ipv4Addr::BROADCAST)
        );
        let t = Teredo::decode(addr("2001:0:ffff:ffff:ffff:ffff:ffff:ffff")).unwrap();
        assert_eq!(
            (t.server, t.port, t.client),
            (Ipv4Addr::BROADCAST, 0, Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(t.flags.random_bits(), 0xFFF);
        assert_eq!(t.flags.style(), FlagStyle::Nonconforming);
        assert_eq!(Teredo::decode(addr("2001:1::1")), None);
        assert_eq!(Teredo::decode(addr("2002::1")), None);
    }

    #[test]
    fn legacy_prefix() {
        let t = Teredo::decode(addr("3ffe:831f:4136:e378:8000:63bf:3fff:fdd2")).unwrap();
        assert!(t.is_legacy());
        assert_eq!(t.client, Ipv4Addr::new(192, 0, 2, 45));
        assert_eq!(t.encode(), addr("3ffe:831f:4136:e378:8000:63bf:3fff:fdd2"));
    }

    #[test]
    fn flags_bits() {
        let f = Flags(0x4300);
        assert!(f.reserved() && f.universal() && f.group() && !f.cone());
        assert_eq!(Flags::new(true, 0xABC), Flags(0x8000 | 0x0A << 10 | 0xBC));
        assert_eq!(Flags::new(false, 0xFFF).0, 0x3CFF);
        assert_eq!(Flags(0).style(), FlagStyle::Rfc4380);
    }

    #[test]
    fn origin_indication_example() {
        let b = encode_origin_indication(337, Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(b, [0x00, 0x00, 0xfe, 0xae, 0xfe, 0xfd, 0xfc, 0xfb]);
        assert_eq!(origin_indication(&[0, 1, 0, 0, 0, 0, 0, 0]), None);
        // The lab RA's origin indication: port 44331, 203.0.113.1.
        let lab = [0x00, 0x00, 0x52, 0xd4, 0x34, 0xff, 0x8e, 0xfe];
        assert_eq!(
            origin_indication(&lab),
            Some((44331, Ipv4Addr::new(203, 0, 113, 1)))
        );
    }

    quickcheck! {
        fn decode_encode_roundtrip(server: u32, flags: u16, port: u16, client: u32, legacy: bool) -> bool {
            let t = Teredo {
                server: Ipv4Addr::from_bits(server),
                flags: Flags(flags),
                port,
                client: Ipv4Addr::from_bits(client),
                prefix: if legacy { Prefix::Legacy } else { Prefix::Global },
            };
            Teredo::decode(t.encode()) == Some(t)
        }
        fn encode_inverts_decode_on_the_prefix(low: u128) -> bool {
            let a = Ipv6Addr::from_bits((PREFIX as u128) << 96 | (low & ((1u128 << 96) - 1)));
            Teredo::decode(a).map(|t| t.encode()) == Some(a)
        }
        fn random_bits_roundtrip(cone: bool, r: u16) -> bool {
            let f = Flags::new(cone, r);
            f.random_bits() == r & 0xFFF && f.cone() == cone && f.0 & !(Flags::RANDOM_MASK | Flags::CONE) == 0
        }
    }
}
