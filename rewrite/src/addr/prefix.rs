//! IPv4 and IPv6 prefixes with their host bits zero, as the mapping tables hold them.

use super::AddrError;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// The network mask of a `len`-bit prefix of a `width`-bit address, as the low
/// `width` bits of a `u128` (`len <= width <= 128`).
pub(crate) const fn mask(len: u8, width: u32) -> u128 {
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    // The bits below the prefix; none when it spans all 128.
    let host = match all.checked_shr(len as u32) {
        Some(h) => h,
        None => 0,
    };
    all & !host
}

/// An IPv4 prefix (`198.51.100.0/24`): the address's bits past `len` are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    bits: u32,
    len: u8,
}

impl Ipv4Prefix {
    /// The prefix `addr/len`. Refused when `len > 32` or when `addr` has bits set
    /// past the prefix (a typo such as `192.0.2.1/24` is more likely than intent).
    pub const fn new(addr: Ipv4Addr, len: u8) -> Result<Ipv4Prefix, AddrError> {
        if len > 32 {
            return Err(AddrError::PrefixLength { len, max: 32 });
        }
        let bits = addr.to_bits();
        if bits as u128 & !mask(len, 32) != 0 {
            return Err(AddrError::HostBitsSet);
        }
        Ok(Ipv4Prefix { bits, len })
    }

    /// The prefix's first address.
    pub const fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.bits)
    }

    /// The prefix length in bits.
    pub const fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The number of host (suffix) bits, `32 - len`.
    pub const fn host_bits(&self) -> u8 {
        32 - self.len
    }

    /// Whether `addr` is inside the prefix.
    pub const fn contains(&self, addr: Ipv4Addr) -> bool {
        addr.to_bits() as u128 & mask(self.len, 32) == self.bits as u128
    }

    pub(crate) const fn bits(&self) -> u32 {
        self.bits
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

/// An IPv6 prefix (`2001:db8::/96`): the address's bits past `len` are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Prefix {
    bits: u128,
    len: u8,
}

impl Ipv6Prefix {
    /// The prefix `addr/len`. Refused when `len > 128` or when `addr` has bits set
    /// past the prefix.
    pub const fn new(addr: Ipv6Addr, len: u8) -> Result<Ipv6Prefix, AddrError> {
        if len > 128 {
            return Err(AddrError::PrefixLength { len, max: 128 });
        }
        let bits = addr.to_bits();
        if bits & !mask(len, 128) != 0 {
            return Err(AddrError::HostBitsSet);
        }
        Ok(Ipv6Prefix { bits, len })
    }

    /// The prefix's first address.
    pub const fn addr(&self) -> Ipv6Addr {
        Ipv6Addr::from_bits(self.bits)
    }

    /// The prefix length in bits.
    pub const fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The number of host (suffix) bits, `128 - len`.
    pub const fn host_bits(&self) -> u8 {
        128 - self.len
    }

    /// Whether `addr` is inside the prefix.
    pub const fn contains(&self, addr: Ipv6Addr) -> bool {
        addr.to_bits() & mask(self.len, 128) == self.bits
    }

    pub(crate) const fn bits(&self) -> u128 {
        self.bits
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask(0, 32), 0);
        assert_eq!(mask(24, 32), 0xFFFF_FF00);
        assert_eq!(mask(32, 32), 0xFFFF_FFFF);
        assert_eq!(mask(1, 128), 1 << 127);
        assert_eq!(mask(128, 128), u128::MAX);
        assert_eq!(mask(96, 128), u128::MAX << 32);
    }

    #[test]
    fn ipv4_prefix() {
        let p = Ipv4Prefix::new(Ipv4Addr::new(198, 51, 100, 0), 24).unwrap();
        assert!(p.contains(Ipv4Addr::new(198, 51, 100, 255)));
        assert!(!p.contains(Ipv4Addr::new(198, 51, 101, 0)));
        assert_eq!((p.prefix_len(), p.host_bits()), (24, 8));
        assert_eq!(std::format!("{p}"), "198.51.100.0/24");
        let all = Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 0).unwrap();
        assert!(all.contains(Ipv4Addr::BROADCAST));
        assert_eq!(
            Ipv4Prefix::new(Ipv4Addr::new(192, 0, 2, 1), 24),
            Err(AddrError::HostBitsSet)
        );
        assert_eq!(
            Ipv4Prefix::new(Ipv4Addr::new(192, 0, 2, 1), 33),
            Err(AddrError::PrefixLength { len: 33, max: 32 })
        );
    }

    #[test]
    fn ipv6_prefix() {
        let p = Ipv6Prefix::new("2001:db8:1::".parse().unwrap(), 48).unwrap();
        assert!(p.contains("2001:db8:1:ffff::1".parse().unwrap()));
        assert!(!p.contains("2001:db8:2::".parse().unwrap()));
        assert_eq!(std::format!("{p}"), "2001:db8:1::/48");
        assert_eq!(
            Ipv6Prefix::new("2001:db8::1".parse().unwrap(), 64),
            Err(AddrError::HostBitsSet)
        );
        assert_eq!(
            Ipv6Prefix::new(Ipv6Addr::UNSPECIFIED, 129),
            Err(AddrError::PrefixLength { len: 129, max: 128 })
        );
        let host = Ipv6Prefix::new("2001:db8::1".parse().unwrap(), 128).unwrap();
        assert_eq!(host.host_bits(), 0);
    }
}
