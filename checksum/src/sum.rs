//! [`Sum`]: the folded, *uncomplemented* one's-complement sum.
//!
//! One's-complement addition of 16-bit words is addition modulo 2^16 − 1 with two
//! encodings of zero: `0x0000` (+0) and `0xFFFF` (−0). Adding with the end-around
//! carry (RFC 1071 §1) is exactly associative and commutative, `+0` is its exact
//! identity, and adding non-zero inputs never yields +0 (RFC 1624 §3). So the only
//! way to get `Sum(0x0000)` from data is data that is all zero bytes; everything else
//! lands in `0x0001..=0xFFFF`. [`Sum`] keeps that distinction: equality is on the
//! bits, and [`Sum::congruent`] compares modulo 2^16 − 1 where ±0 are equal.
//!
//! A *checksum* is the complement of a sum, as stored in a header: see
//! [`Sum::checksum`]. The two are different types on purpose.

use core::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// The folded one's-complement sum of big-endian 16-bit words, not complemented.
///
/// The numeric value is in network order: for the bytes `[0x12, 0x34]` the sum is
/// `0x1234` on every CPU, and [`Sum::to_be_bytes`] gives the wire bytes.
///
/// ```
/// use sixfold_checksum::{sum, Sum};
/// let s = sum(&[0x12, 0x34, 0xF0, 0x00]);
/// assert_eq!(s, Sum::new(0x0235)); // 0x1234 + 0xF000 = 0x1_0234 → end-around carry
/// assert_eq!(s.checksum(), 0xFDCA);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Sum(u16);

impl Sum {
    /// +0: the sum of no data, or of data that is all zero bytes.
    pub const ZERO: Sum = Sum(0x0000);
    /// −0: the sum that a correct checksum makes its covered data add up to
    /// (RFC 1071 §1 (2): "If the result is all 1 bits (−0 …), the check succeeds").
    pub const NEG_ZERO: Sum = Sum(0xFFFF);

    /// A sum with this numeric value (network order).
    #[inline]
    pub const fn new(value: u16) -> Sum {
        Sum(value)
    }

    /// The numeric value (network order).
    #[inline]
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The sum read from two wire bytes.
    #[inline]
    pub const fn from_be_bytes(bytes: [u8; 2]) -> Sum {
        Sum(u16::from_be_bytes(bytes))
    }

    /// The wire bytes of this sum (as an offload *partial* checksum stores it).
    #[inline]
    pub const fn to_be_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// The checksum this sum gives: its complement, as stored in a header.
    ///
    /// `Sum::ZERO.checksum() == 0xFFFF` (empty or all-zero data) and
    /// `Sum::NEG_ZERO.checksum() == 0x0000`. UDP maps a computed 0 to 0xFFFF on
    /// transmit: use [`crate::udp::finish`] for that, not this.
    #[inline]
    pub const fn checksum(self) -> u16 {
        !self.0
    }

    /// The sum that a stored checksum field stands for: its complement (`~HC`,
    /// RFC 1624 §3).
    #[inline]
    pub const fn from_checksum(checksum: u16) -> Sum {
        Sum(!checksum)
    }

    /// One's-complement addition with end-around carry (RFC 1071 §1).
    #[inline]
    pub const fn add(self, other: Sum) -> Sum {
        let s = self.0 as u32 + other.0 as u32;
        Sum(((s & 0xFFFF) + (s >> 16)) as u16)
    }

    /// One's-complement subtraction: add the complement (RFC 1624 §2, `C + (−m)`).
    #[inline]
    pub const fn sub(self, other: Sum) -> Sum {
        self.add(Sum(!other.0))
    }

    /// The sum of the same words read at an odd byte offset, i.e. with every word's
    /// bytes swapped (RFC 1071 §2(B): byte order independence). Rotating by 8 bits is
    /// multiplication by 2^8 modulo 2^16 − 1, and 2^8 is its own inverse, so this is
    /// also how a sum computed over a piece that starts at an odd offset is placed
    /// into the sum of the whole.
    #[inline]
    pub const fn swap_bytes(self) -> Sum {
        Sum(self.0.swap_bytes())
    }

    /// [`Sum::swap_bytes`] when `offset` is odd, the sum itself when it is even.
    #[inline]
    pub const fn at_offset(self, offset: usize) -> Sum {
        if offset & 1 == 1 {
            self.swap_bytes()
        } else {
            self
        }
    }

    /// Whether this is either zero (+0 or −0).
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0 || self.0 == 0xFFFF
    }

    /// Equality modulo 2^16 − 1: the same element of the one's-complement group,
    /// with +0 and −0 equal.
    #[inline]
    pub const fn congruent(self, other: Sum) -> bool {
        self.0 == other.0 || (self.is_zero() && other.is_zero())
    }

    /// The sum of the two 16-bit halves of a 32-bit field (an IPv4 address).
    #[inline]
    pub const fn from_u32(value: u32) -> Sum {
        Sum(fold32(value))
    }

    /// The sum of the eight 16-bit words of a 128-bit field (an IPv6 address).
    #[inline]
    pub const fn from_u128(value: u128) -> Sum {
        Sum(fold128(value))
    }
}

impl Add for Sum {
    type Output = Sum;
    #[inline]
    fn add(self, rhs: Sum) -> Sum {
        Sum::add(self, rhs)
    }
}

impl AddAssign for Sum {
    #[inline]
    fn add_assign(&mut self, rhs: Sum) {
        *self = Sum::add(*self, rhs);
    }
}

impl Sub for Sum {
    type Output = Sum;
    #[inline]
    fn sub(self, rhs: Sum) -> Sum {
        Sum::sub(self, rhs)
    }
}

impl SubAssign for Sum {
    #[inline]
    fn sub_assign(&mut self, rhs: Sum) {
        *self = Sum::sub(*self, rhs);
    }
}

/// The one's-complement negation: the bitwise complement.
impl Neg for Sum {
    type Output = Sum;
    #[inline]
    fn neg(self) -> Sum {
        Sum(!self.0)
    }
}

impl core::iter::Sum for Sum {
    fn sum<I: Iterator<Item = Sum>>(iter: I) -> Sum {
        iter.fold(Sum::ZERO, Sum::add)
    }
}

impl From<u16> for Sum {
    #[inline]
    fn from(value: u16) -> Sum {
        Sum(value)
    }
}

impl From<Sum> for u16 {
    #[inline]
    fn from(sum: Sum) -> u16 {
        sum.0
    }
}

/// Folds a 32-bit accumulator of 16-bit words to 16 bits with end-around carries.
/// Zero stays zero and nothing else becomes zero.
#[inline]
pub(crate) const fn fold32(x: u32) -> u16 {
    let x = (x & 0xFFFF) + (x >> 16); // ≤ 0x1_FFFE
    let x = (x & 0xFFFF) + (x >> 16); // ≤ 0xFFFF
    x as u16
}

/// Folds a 64-bit accumulator (of 16- or 32-bit words) to 16 bits.
#[inline]
pub(crate) const fn fold64(x: u64) -> u16 {
    let x = (x & 0xFFFF_FFFF) + (x >> 32); // ≤ 0x1_FFFF_FFFE
    let x = (x & 0xFFFF_FFFF) + (x >> 32); // ≤ 0xFFFF_FFFF
    fold32(x as u32)
}

/// Folds a 128-bit accumulator (of 16-, 32- or 64-bit words) to 16 bits.
#[inline]
pub(crate) const fn fold128(x: u128) -> u16 {
    let (s, carry) = (x as u64).overflowing_add((x >> 64) as u64);
    // With a carry the wrapped sum is at most 2^64 − 2, so adding it back cannot wrap.
    fold64(s + carry as u64)
}

/// Turns a folded sum of *native-endian* words into the network-order [`Sum`].
/// On little-endian CPUs the native sum is the byte-swapped network sum (RFC 1071
/// §2(B)); on big-endian CPUs they are the same.
#[inline]
pub(crate) const fn from_native(folded: u16) -> Sum {
    Sum(u16::from_be(folded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn end_around_carry() {
        assert_eq!(Sum::new(0xFFFF) + Sum::new(0x0001), Sum::new(0x0001));
        assert_eq!(Sum::new(0x8000) + Sum::new(0x8000), Sum::new(0x0001));
        assert_eq!(Sum::new(0xFFFF) + Sum::new(0xFFFF), Sum::new(0xFFFF));
        assert_eq!(Sum::ZERO + Sum::ZERO, Sum::ZERO);
        assert_eq!(Sum::ZERO + Sum::NEG_ZERO, Sum::NEG_ZERO);
    }

    #[test]
    fn subtraction_of_self_is_negative_zero() {
        // x + ~x = 0xFFFF for every x, including +0: this is why −0, never +0, comes
        // out of arithmetic on non-zero data.
        assert_eq!(Sum::new(0x1234) - Sum::new(0x1234), Sum::NEG_ZERO);
        assert_eq!(Sum::ZERO - Sum::ZERO, Sum::NEG_ZERO);
    }

    #[test]
    fn checksum_is_complement() {
        assert_eq!(Sum::ZERO.checksum(), 0xFFFF);
        assert_eq!(Sum::NEG_ZERO.checksum(), 0x0000);
        assert_eq!(Sum::from_checksum(0xDD2F), Sum::new(0x22D0));
        assert_eq!(Sum::new(0x1234).to_be_bytes(), [0x12, 0x34]);
        assert_eq!(Sum::from_be_bytes([0xAB, 0xCD]).get(), 0xABCD);
    }

    #[test]
    fn folds_keep_zero_and_never_make_it() {
        assert_eq!(fold32(0), 0);
        assert_eq!(fold32(0xFFFF_FFFF), 0xFFFF);
        assert_eq!(fold32(0x0001_0000), 0x0001);
        assert_eq!(fold64(u64::MAX), 0xFFFF);
        assert_eq!(fold64(1 << 48), 1);
        assert_eq!(fold128(u128::MAX), 0xFFFF);
        assert_eq!(fold128(1 << 112), 1);
        assert_eq!(fold128(0), 0);
        // u64::MAX + u64::MAX as halves: the overflowing add path.
        assert_eq!(fold128((u64::MAX as u128) << 64 | u64::MAX as u128), 0xFFFF);
    }

    #[test]
    fn address_fields() {
        assert_eq!(Sum::from_u32(0xC000_0201), Sum::new(0xC201));
        assert_eq!(
            Sum::from_u128(0x2001_0db8_0000_0000_0000_0000_0000_0001),
            Sum::new(0x2DBA)
        );
    }

    /// Reduces a value to its class modulo 2^16 − 1, with ±0 both mapping to 0.
    fn class(s: Sum) -> u32 {
        s.get() as u32 % 0xFFFF
    }

    quickcheck! {
        // Laws of the one's-complement monoid (exact, on the bits) ...
        fn commutative(a: u16, b: u16) -> bool {
            Sum::new(a) + Sum::new(b) == Sum::new(b) + Sum::new(a)
        }
        fn associative(a: u16, b: u16, c: u16) -> bool {
            (Sum::new(a) + Sum::new(b)) + Sum::new(c) == Sum::new(a) + (Sum::new(b) + Sum::new(c))
        }
        fn plus_zero_is_exact_identity(a: u16) -> bool {
            Sum::new(a) + Sum::ZERO == Sum::new(a)
        }
        fn nonzero_never_sums_to_plus_zero(a: u16, b: u16) -> bool {
            (a == 0 && b == 0) || (Sum::new(a) + Sum::new(b)) != Sum::ZERO
        }
        // ... and of the group modulo 2^16 − 1, where ±0 are one element.
        fn addition_is_modular(a: u16, b: u16) -> bool {
            class(Sum::new(a) + Sum::new(b)) == (a as u32 + b as u32) % 0xFFFF
        }
        fn inverse(a: u16) -> bool {
            (Sum::new(a) + -Sum::new(a)).congruent(Sum::ZERO)
        }
        fn sub_undoes_add(a: u16, b: u16) -> bool {
            ((Sum::new(a) + Sum::new(b)) - Sum::new(b)).congruent(Sum::new(a))
        }
        fn swap_is_multiplication_by_256(a: u16) -> bool {
            class(Sum::new(a).swap_bytes()) == (a as u32 * 256) % 0xFFFF
        }
        fn swap_distributes(a: u16, b: u16) -> bool {
            (Sum::new(a) + Sum::new(b)).swap_bytes() == Sum::new(a).swap_bytes() + Sum::new(b).swap_bytes()
        }
        fn fold_is_modular(x: u64) -> bool {
            fold64(x) as u64 % 0xFFFF == x % 0xFFFF && ((fold64(x) == 0) == (x == 0))
        }
    }
}
