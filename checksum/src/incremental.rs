//! Incremental update of a stored checksum when fields change: RFC 1624 eqn. 3 only.
//!
//! ```text
//! HC' = ~(~HC + ~m + m')        RFC 1624 §3, eqn. 3
//! ```
//!
//! `HC` is the stored checksum, `m` and `m'` a field's old and new 16-bit words.
//! One's-complement addition is commutative and associative, so several fields can be
//! folded in any order: [`Update`] collects `~m + m'` for each and applies once.
//!
//! **Why not RFC 1141.** RFC 1141 used `HC' = HC + m + ~m'` (eqn. 2), which assumes
//! complement distributes over addition. It does not at zero: with RFC 1624 §4's
//! example (other words sum to 0xCD7A, `m` 0x5555 → 0x3285, `HC` = 0xDD2F) eqn. 2
//! gives 0xFFFF, a −0 that no checksum computed from scratch over non-zero data can be,
//! while eqn. 3 gives the correct 0x0000.
//!
//! **Erratum 4782.** Eqn. 3 with `m == m'` turns a stored 0xFFFF into 0x0000. A
//! from-scratch checksum is never 0xFFFF unless all covered data is zero, but a packet
//! may carry 0xFFFF anyway (some stacks send −0; receivers accept it). Following the
//! erratum, every function here returns `HC` untouched when nothing changed.
//!
//! **When eqn. 3 equals a full recompute.** Always, exactly, unless every covered byte
//! of the *new* data is zero: then a recompute gives 0xFFFF and eqn. 3 gives 0x0000
//! (they are the two encodings of one value). Real headers never are all zero (IPv4
//! has its version nibble, pseudo-headers a protocol number).

use crate::Sum;

/// RFC 1624 eqn. 3 for one 16-bit field. Returns `hc` unchanged when `old == new`.
///
/// ```
/// use sixfold_checksum::incremental::update16;
/// // RFC 1624 §4: HC 0xDD2F, field 0x5555 → 0x3285 gives 0x0000 (not 0xFFFF).
/// assert_eq!(update16(0xDD2F, 0x5555, 0x3285), 0x0000);
/// ```
#[inline]
pub const fn update16(hc: u16, old: u16, new: u16) -> u16 {
    if old == new {
        return hc;
    }
    Sum::from_checksum(hc)
        .add(Sum::new(!old))
        .add(Sum::new(new))
        .checksum()
}

/// RFC 1624 eqn. 3 for a 32-bit field (an IPv4 address, `u32::from(addr)`).
#[inline]
pub const fn update32(hc: u16, old: u32, new: u32) -> u16 {
    if old == new {
        return hc;
    }
    Sum::from_checksum(hc)
        .sub(Sum::from_u32(old))
        .add(Sum::from_u32(new))
        .checksum()
}

/// RFC 1624 eqn. 3 for a 128-bit field (an IPv6 address, `u128::from(addr)`).
#[inline]
pub const fn update128(hc: u16, old: u128, new: u128) -> u16 {
    if old == new {
        return hc;
    }
    Sum::from_checksum(hc)
        .sub(Sum::from_u128(old))
        .add(Sum::from_u128(new))
        .checksum()
}

/// RFC 1624 eqn. 3 for a field of any length at byte `offset` from the start of the
/// checksummed data. At an odd offset the field's words straddle the data's words, so
/// its sum is rotated by 8 bits (RFC 1071 §2(B)).
///
/// `old` and `new` are the field's bytes before and after. If their lengths differ,
/// the update is still the exact one for "these bytes out, those bytes in" with
/// nothing else moving — which is only what a caller wants for in-place fields.
#[inline]
pub fn update_bytes(hc: u16, offset: usize, old: &[u8], new: &[u8]) -> u16 {
    Update::new().bytes(offset, old, new).apply(hc)
}

/// One field's old and new bytes, summed once: for a field that several
/// checksums cover (an IPv4 address lies in the header checksum and in the
/// transport's pseudo-header), each at its own offset ([`Update::change`]).
///
/// ```
/// use sixfold_checksum::incremental::{Change, Update};
/// let c = Change::of(&[192, 0, 2, 1], &[203, 0, 113, 7]);
/// assert!(c.is_changed());
/// assert_eq!(
///     Update::new().change(12, c),
///     Update::new().bytes(12, &[192, 0, 2, 1], &[203, 0, 113, 7])
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    old: Sum,
    new: Sum,
    changed: bool,
}

impl Change {
    /// The change from bytes `old` to bytes `new` (the same length, for an
    /// in-place field; see [`update_bytes`]).
    #[inline]
    pub fn of(old: &[u8], new: &[u8]) -> Change {
        let (old, new, changed) = field_sums(old, new);
        Change { old, new, changed }
    }

    /// Whether the bytes differ.
    pub const fn is_changed(&self) -> bool {
        self.changed
    }
}

/// Several field changes, folded in any order and applied to a checksum at once.
///
/// ```
/// use sixfold_checksum::incremental::Update;
/// use core::net::Ipv4Addr;
/// let old = Ipv4Addr::new(10, 0, 0, 2);
/// let new = Ipv4Addr::new(198, 51, 100, 7);
/// let update = Update::new()
///     .field32(old.to_bits(), new.to_bits()) // source address
///     .field16(40_000, 1_024); // source port
/// let hc = 0x1c46;
/// let updated = update.apply(hc);
/// assert_ne!(updated, hc);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "an Update does nothing until applied"]
pub struct Update {
    /// `Σ(~m + m')` over the changed fields.
    delta: Sum,
    /// Whether any field's value changed (erratum 4782).
    changed: bool,
}

impl Update {
    /// No changes yet.
    pub const fn new() -> Update {
        Update {
            delta: Sum::ZERO,
            changed: false,
        }
    }

    /// A 16-bit field at an even offset changed from `old` to `new`.
    pub const fn field16(self, old: u16, new: u16) -> Update {
        self.with(Sum::new(old), Sum::new(new), old != new)
    }

    /// A 32-bit field at an even offset changed.
    pub const fn field32(self, old: u32, new: u32) -> Update {
        self.with(Sum::from_u32(old), Sum::from_u32(new), old != new)
    }

    /// A 128-bit field at an even offset changed.
    pub const fn field128(self, old: u128, new: u128) -> Update {
        self.with(Sum::from_u128(old), Sum::from_u128(new), old != new)
    }

    /// A field of any length at byte `offset` changed (see [`update_bytes`]).
    pub fn bytes(self, offset: usize, old: &[u8], new: &[u8]) -> Update {
        self.change(offset, Change::of(old, new))
    }

    /// Field change `c` at byte `offset` (see [`Change`]): the same as
    /// [`Update::bytes`] with the field's bytes, without summing them again.
    #[inline]
    pub const fn change(self, offset: usize, c: Change) -> Update {
        self.with(c.old.at_offset(offset), c.new.at_offset(offset), c.changed)
    }

    /// The change of a whole sum, e.g. of a quoted packet inside an ICMP error.
    pub const fn sum(self, old: Sum, new: Sum) -> Update {
        self.with(old, new, old.get() != new.get())
    }

    const fn with(self, old: Sum, new: Sum, changed: bool) -> Update {
        if !changed {
            return self;
        }
        Update {
            delta: self.delta.sub(old).add(new),
            changed: true,
        }
    }

    /// Both sets of changes: for data covered by two checksums' worth of fields, e.g.
    /// the pseudo-header changes and the L4 header changes of one TCP segment.
    pub const fn combine(self, other: Update) -> Update {
        Update {
            delta: self.delta.add(other.delta),
            changed: self.changed || other.changed,
        }
    }

    /// Whether any field actually changed.
    pub const fn is_changed(&self) -> bool {
        self.changed
    }

    /// `Σ(~m + m')`: what the sum of the covered data changed by (only meaningful
    /// modulo 2^16 − 1, i.e. with [`Sum::congruent`]).
    pub const fn delta(&self) -> Sum {
        self.delta
    }

    /// Applies eqn. 3 to a stored checksum: `~(~HC + Σ(~m + m'))`, or `hc` unchanged
    /// when nothing changed (erratum 4782).
    pub const fn apply(&self, hc: u16) -> u16 {
        if !self.changed {
            return hc;
        }
        Sum::from_checksum(hc).add(self.delta).checksum()
    }

    /// Applies the change to an uncomplemented sum (`S + Σ(~m + m')`), as for an
    /// offload partial checksum; `sum` unchanged when nothing changed.
    pub const fn apply_to_sum(&self, sum: Sum) -> Sum {
        if !self.changed {
            return sum;
        }
        sum.add(self.delta)
    }
}

/// The sums of `old` and `new`, and whether they differ. The fields header
/// rewrites change — ports (2 bytes), IPv4 addresses (4), IPv6 addresses (16) —
/// are read as integers: comparing them as slices is a call to `memcmp` (a
/// tenth of a NAT44 packet's time in the router's profile), and summing them
/// needs no loop.
#[inline]
fn field_sums(old: &[u8], new: &[u8]) -> (Sum, Sum, bool) {
    if let ([o], [n]) = (old, new) {
        // A byte (TTL, hop limit, ICMP type) is the high half of its word at
        // an even offset (RFC 1071 §2(B) pads with zero).
        let (o, n) = (u16::from_be_bytes([*o, 0]), u16::from_be_bytes([*n, 0]));
        return (Sum::new(o), Sum::new(n), o != n);
    }
    if let (Ok(o), Ok(n)) = (<[u8; 2]>::try_from(old), <[u8; 2]>::try_from(new)) {
        let (o, n) = (u16::from_be_bytes(o), u16::from_be_bytes(n));
        return (Sum::new(o), Sum::new(n), o != n);
    }
    if let (Ok(o), Ok(n)) = (<[u8; 4]>::try_from(old), <[u8; 4]>::try_from(new)) {
        let (o, n) = (u32::from_be_bytes(o), u32::from_be_bytes(n));
        return (Sum::from_u32(o), Sum::from_u32(n), o != n);
    }
    if let (Ok(o), Ok(n)) = (<[u8; 16]>::try_from(old), <[u8; 16]>::try_from(new)) {
        let (o, n) = (u128::from_be_bytes(o), u128::from_be_bytes(n));
        return (Sum::from_u128(o), Sum::from_u128(n), o != n);
    }
    (crate::sum(old), crate::sum(new), old != new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::reference;
    use quickcheck::{Arbitrary, Gen, TestResult, quickcheck};
    use std::vec::Vec;

    /// RFC 1141 eqn. 2, kept only to show it wrong.
    fn rfc1141(hc: u16, old: u16, new: u16) -> u16 {
        Sum::new(hc).add(Sum::new(old)).add(Sum::new(!new)).get()
    }

    #[test]
    fn rfc1624_section4_example() {
        let other = Sum::new(0xCD7A);
        let hc = (other + Sum::new(0x5555)).checksum();
        assert_eq!(hc, 0xDD2F);
        let scratch = (other + Sum::new(0x3285)).checksum();
        assert_eq!(scratch, 0x0000);
        assert_eq!(update16(hc, 0x5555, 0x3285), 0x0000);
        assert_eq!(rfc1141(hc, 0x5555, 0x3285), 0xFFFF, "eqn. 2 gives −0");
        assert_eq!(Update::new().field16(0x5555, 0x3285).apply(hc), 0x0000);
    }

    #[test]
    fn erratum_4782_unchanged_field_keeps_checksum() {
        assert_eq!(update16(0xFFFF, 0x1234, 0x1234), 0xFFFF);
        assert_eq!(update32(0xFFFF, 7, 7), 0xFFFF);
        assert_eq!(update128(0xFFFF, 7, 7), 0xFFFF);
        assert_eq!(update_bytes(0xFFFF, 3, &[1, 2, 3], &[1, 2, 3]), 0xFFFF);
        // Without the erratum's rule eqn. 3 would have produced 0x0000.
        assert_eq!(
            Sum::from_checksum(0xFFFF)
                .add(Sum::new(!0x1234))
                .add(Sum::new(0x1234))
                .checksum(),
            0x0000
        );
    }

    #[test]
    fn odd_offset_field() {
        let mut data = [0x45, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A];
        let hc = reference(&data).checksum();
        data[3..6].copy_from_slice(&[0xDE, 0xAD, 0xBE]);
        let expected = reference(&data).checksum();
        assert_eq!(
            update_bytes(hc, 3, &[0x34, 0x56, 0x78], &[0xDE, 0xAD, 0xBE]),
            expected
        );
    }

    /// A packet, a field in it, and new bytes for the field.
    #[derive(Clone, Debug)]
    struct Case {
        data: Vec<u8>,
        offset: usize,
        new: Vec<u8>,
    }

    impl Arbitrary for Case {
        fn arbitrary(g: &mut Gen) -> Case {
            let len = 1 + usize::arbitrary(g) % 1600;
            let mut data: Vec<u8> = (0..len).map(|_| u8::arbitrary(g)).collect();
            let offset = usize::arbitrary(g) % len;
            let field_len = 1 + usize::arbitrary(g) % (len - offset).min(16);
            let mut new: Vec<u8> = (0..field_len).map(|_| u8::arbitrary(g)).collect();
            if bool::arbitrary(g) {
                // Force the new data to sum to −0, so the new checksum is 0x0000:
                // choose the field's first two bytes (or one) to cancel the rest.
                force_negative_zero(&mut data, offset, &mut new);
            }
            Case { data, offset, new }
        }
    }

    /// Picks `new` so that the data with `new` written at `offset` sums to 0xFFFF.
    fn force_negative_zero(data: &mut [u8], offset: usize, new: &mut [u8]) {
        let mut probe = data.to_vec();
        probe[offset..offset + new.len()].copy_from_slice(new);
        // Make sure some byte outside the field is non-zero, so "all zero" (the one
        // case where eqn. 3 and a recompute differ by encoding) cannot arise.
        if let Some(b) = (0..probe.len()).find(|&i| i < offset || i >= offset + new.len()) {
            probe[b] |= 1;
            data[b] |= 1;
        }
        if new.len() < 2 {
            return;
        }
        // Solve for the first field word: it sits at `offset` with weight 2^8 when the
        // offset is odd, so work in that frame.
        probe[offset..offset + 2].copy_from_slice(&[0, 0]);
        let rest = reference(&probe);
        let need = rest.checksum(); // the word that brings the sum to 0xFFFF
        let word = Sum::new(need).at_offset(offset).get();
        new[..2].copy_from_slice(&word.to_be_bytes());
    }

    quickcheck! {
        /// Law: `Update::bytes` is the general definition — the sums of the
        /// bytes at the offset, changed when any byte differs — whatever the
        /// length (the 2-, 4- and 16-byte fields take integer paths).
        fn bytes_is_the_sum_of_the_bytes_and_their_difference(
            lens: (u8, bool), offset: u8, old: Vec<u8>, new: Vec<u8>
        ) -> bool {
            let len = [1usize, 2, 3, 4, 5, 15, 16, 17][usize::from(lens.0 % 8)];
            let old: Vec<u8> = old.into_iter().cycle().take(len).collect();
            let mut new: Vec<u8> = new.into_iter().cycle().take(len).collect();
            if old.len() < len || new.len() < len {
                return true;
            }
            if lens.1 {
                new.copy_from_slice(&old);
            }
            let offset = usize::from(offset);
            let want = Update::new().with(
                reference(&old).at_offset(offset),
                reference(&new).at_offset(offset),
                old != new,
            );
            Update::new().bytes(offset, &old, &new) == want
        }
    }

    quickcheck! {
        fn update_bytes_equals_recompute(c: Case) -> TestResult {
            let end = c.offset + c.new.len();
            let mut after = c.data.clone();
            after[c.offset..end].copy_from_slice(&c.new);
            if after.iter().all(|&b| b == 0) {
                return TestResult::discard();
            }
            let hc = reference(&c.data).checksum();
            let got = update_bytes(hc, c.offset, &c.data[c.offset..end], &c.new);
            let want = reference(&after).checksum();
            // When nothing changed the erratum rule keeps the old value, which is the
            // recompute unless the old stored value was the −0 encoding.
            TestResult::from_bool(got == want)
        }

        fn update16_equals_recompute(words: Vec<u16>, at: usize, new: u16) -> TestResult {
            if words.is_empty() {
                return TestResult::discard();
            }
            let at = at % words.len();
            let bytes = |w: &[u16]| w.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<u8>>();
            let mut after = words.clone();
            after[at] = new;
            if after.iter().all(|&w| w == 0) {
                return TestResult::discard();
            }
            let hc = reference(&bytes(&words)).checksum();
            TestResult::from_bool(update16(hc, words[at], new) == reference(&bytes(&after)).checksum())
        }

        fn builder_is_order_independent(a: (u16, u16), b: (u32, u32), c: (u128, u128), hc: u16) -> bool {
            let one = Update::new().field16(a.0, a.1).field32(b.0, b.1).field128(c.0, c.1);
            let two = Update::new().field128(c.0, c.1).field16(a.0, a.1).field32(b.0, b.1);
            one.apply(hc) == two.apply(hc)
        }

        fn combine_equals_one_builder(a: (u16, u16), b: (u32, u32), hc: u16) -> bool {
            let both = Update::new().field16(a.0, a.1).field32(b.0, b.1);
            let combined = Update::new().field16(a.0, a.1).combine(Update::new().field32(b.0, b.1));
            both.apply(hc) == combined.apply(hc) && both.is_changed() == combined.is_changed()
        }

        fn builder_matches_single_updates(old: u32, new: u32, hc: u16) -> bool {
            Update::new().field32(old, new).apply(hc) == update32(hc, old, new)
        }
    }
}
