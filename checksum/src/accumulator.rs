//! [`Accumulator`]: the sum of a packet that arrives in pieces.
//!
//! Scatter-gather I/O hands a packet over as a list of buffers of any lengths; a
//! piece that starts at an odd offset of the packet pairs its bytes the other way
//! round, so its sum is byte-swapped before it is added (RFC 1071 §2(B): byte order
//! independence; rotating by 8 bits is multiplication by 2^8 modulo 2^16 − 1). With
//! that, the sum of the pieces is *bit for bit* the one-shot [`crate::sum`] of the
//! concatenation, ±0 included: one's-complement addition is exactly associative, +0
//! is its exact identity, and only all-zero data sums to +0 either way.

use crate::Sum;

/// The running [`Sum`] of a packet fed in pieces of any lengths (odd ones
/// included), equal to [`crate::sum`] of all the pieces concatenated.
///
/// ```
/// use sixfold_checksum::{Accumulator, checksum, sum};
/// let packet = [0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00];
/// let mut acc = Accumulator::new();
/// acc.update(&packet[..3]).update(&packet[3..8]).update(&packet[8..]);
/// assert_eq!(acc.sum(), sum(&packet));
/// assert_eq!(acc.checksum(), checksum(&packet));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Accumulator {
    sum: Sum,
    /// Whether an odd number of bytes has been added: the next piece starts at an
    /// odd offset.
    odd: bool,
}

impl Accumulator {
    /// An accumulator at offset 0 with the sum +0 (nothing added yet).
    #[inline]
    pub const fn new() -> Accumulator {
        Accumulator {
            sum: Sum::ZERO,
            odd: false,
        }
    }

    /// An accumulator at offset 0 that starts from `initial`, e.g. a
    /// [`crate::pseudo`] header sum, which is not part of the bytes fed to it.
    #[inline]
    pub const fn with_sum(initial: Sum) -> Accumulator {
        Accumulator {
            sum: initial,
            odd: false,
        }
    }

    /// Adds the next piece of the packet, of any length (empty pieces change
    /// nothing). Returns `self` so that calls can be chained.
    #[inline]
    pub fn update(&mut self, piece: &[u8]) -> &mut Accumulator {
        self.sum += crate::sum(piece).at_offset(self.odd as usize);
        self.odd ^= piece.len() % 2 == 1;
        self
    }

    /// The sum of everything added so far (and the initial sum).
    #[inline]
    pub const fn sum(&self) -> Sum {
        self.sum
    }

    /// The checksum of everything added so far: the complement of [`Accumulator::sum`].
    /// For UDP, which sends a computed 0 as 0xFFFF, use [`crate::udp::finish`] on the sum.
    #[inline]
    pub const fn checksum(&self) -> u16 {
        self.sum.checksum()
    }
}

impl<'a> Extend<&'a [u8]> for Accumulator {
    fn extend<I: IntoIterator<Item = &'a [u8]>>(&mut self, pieces: I) {
        for piece in pieces {
            self.update(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sum;
    use quickcheck::{Arbitrary, Gen, QuickCheck};
    use std::vec::Vec;

    /// A packet and the places where it is cut into pieces (sorted, repeats allowed,
    /// so empty pieces occur), long enough to reach the vector kernels.
    #[derive(Clone, Debug)]
    struct Pieces {
        data: Vec<u8>,
        cuts: Vec<usize>,
    }

    impl Arbitrary for Pieces {
        fn arbitrary(g: &mut Gen) -> Pieces {
            let len = match u8::arbitrary(g) % 3 {
                0 => usize::arbitrary(g) % 64,
                1 => usize::arbitrary(g) % 2_000,
                _ => usize::arbitrary(g) % 20_000,
            };
            let ones = bool::arbitrary(g);
            let data = (0..len)
                .map(|_| if ones { 0xFF } else { u8::arbitrary(g) })
                .collect();
            let mut cuts: Vec<usize> = Vec::arbitrary(g)
                .into_iter()
                .map(|c: usize| c % (len + 1))
                .collect();
            cuts.sort_unstable();
            Pieces { data, cuts }
        }
    }

    impl Pieces {
        fn pieces(&self) -> impl Iterator<Item = &[u8]> {
            let ends = self.cuts.iter().copied().chain([self.data.len()]);
            let starts = [0].into_iter().chain(self.cuts.iter().copied());
            starts.zip(ends).map(|(a, b)| &self.data[a..b])
        }
    }

    #[test]
    fn pieces_sum_to_the_one_shot_sum() {
        fn law(p: Pieces) -> bool {
            let mut acc = Accumulator::new();
            acc.extend(p.pieces());
            acc.sum() == sum(&p.data) && acc.checksum() == crate::checksum(&p.data)
        }
        QuickCheck::new()
            .tests(1_000)
            .quickcheck(law as fn(Pieces) -> bool);
    }

    #[test]
    fn initial_sum_is_added_once() {
        fn law(initial: u16, p: Pieces) -> bool {
            let mut acc = Accumulator::with_sum(Sum::new(initial));
            acc.extend(p.pieces());
            acc.sum() == Sum::new(initial) + sum(&p.data)
        }
        QuickCheck::new()
            .tests(300)
            .quickcheck(law as fn(u16, Pieces) -> bool);
    }

    #[test]
    fn single_bytes_and_plus_zero() {
        let data: Vec<u8> = (0..3001u32).map(|i| (i * 31 + 7) as u8).collect();
        let mut acc = Accumulator::new();
        for b in &data {
            acc.update(core::slice::from_ref(b));
        }
        assert_eq!(acc.sum(), sum(&data));
        // All-zero pieces stay +0; all-0xFF pieces of odd lengths still reach −0.
        let mut zero = Accumulator::new();
        zero.extend([&[0u8; 3][..], &[], &[0; 5]]);
        assert_eq!(zero.sum(), Sum::ZERO);
        let mut ones = Accumulator::new();
        ones.extend([&[0xFFu8; 3][..], &[0xFF; 5]]);
        assert_eq!(ones.sum(), Sum::NEG_ZERO);
    }
}
