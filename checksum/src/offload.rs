//! Offload *partial* checksums (Linux `CHECKSUM_PARTIAL`, virtio `NEEDS_CSUM`).
//!
//! When checksumming is left to the device, the TCP/UDP checksum field holds the
//! folded, **uncomplemented** pseudo-header sum (Linux `udp_set_csum`:
//! `uh->check = ~udp_v4_check(len, saddr, daddr, 0)`; virtio 1.1 §5.1.6.2: "set to
//! the sum of the TCP pseudo header"). The device later sums from `csum_start` to the
//! end — the field included — and writes the complement at `csum_offset`.
//!
//! So a partial checksum is a [`Sum`], not a checksum, and has its own update rule:
//! - a change to a **pseudo-header** field (an address, the length) updates the stored
//!   sum as a sum: `S' = S + ~m + m'` — no complement, no 0 → 0xFFFF mapping;
//! - a change to the **L4 header or payload** (a port) must *not* touch it: the device
//!   will sum those bytes itself.

use crate::Sum;
use crate::incremental::Update;

/// The uncomplemented pseudo-header sum stored in an L4 checksum field awaiting
/// offload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartialChecksum(Sum);

impl PartialChecksum {
    /// From a pseudo-header sum (see [`crate::pseudo`]).
    pub const fn from_pseudo(pseudo: Sum) -> PartialChecksum {
        PartialChecksum(pseudo)
    }

    /// Reads the checksum field of a packet marked as needing checksum offload.
    pub const fn from_field(field: u16) -> PartialChecksum {
        PartialChecksum(Sum::new(field))
    }

    /// The value to store in the checksum field.
    pub const fn to_field(self) -> u16 {
        self.0.get()
    }

    /// The stored pseudo-header sum.
    pub const fn sum(self) -> Sum {
        self.0
    }

    /// Applies changes of **pseudo-header** fields (addresses, length). Never pass L4
    /// header changes (ports) here: the device sums those itself.
    pub const fn update_pseudo(self, update: &Update) -> PartialChecksum {
        PartialChecksum(update.apply_to_sum(self.0))
    }

    /// What the device writes: the checksum of the L4 bytes from `csum_start` to the
    /// end, whose checksum field holds this partial sum. `l4_sum` is the
    /// [`crate::sum`] of those bytes *with the field as stored*.
    pub const fn complete(l4_sum: Sum) -> u16 {
        l4_sum.checksum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pseudo, variants::reference};
    use core::net::Ipv4Addr;

    #[test]
    fn nat_on_a_partial_checksum_packet() {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(203, 0, 113, 9));
        let new_src = Ipv4Addr::new(198, 51, 100, 1);
        let mut tcp = [0u8; 24];
        tcp[..4].copy_from_slice(&[0x9c, 0x40, 0x00, 0x50]);
        tcp[12] = 0x60;
        tcp[20..].copy_from_slice(b"data");
        let partial = PartialChecksum::from_pseudo(pseudo::ipv4(src, dst, 6, 24));
        tcp[16..18].copy_from_slice(&partial.to_field().to_be_bytes());
        // NAT: the address changes (pseudo-header), and so does the port (L4 bytes).
        let rewritten =
            partial.update_pseudo(&Update::new().field32(src.to_bits(), new_src.to_bits()));
        tcp[..2].copy_from_slice(&1024u16.to_be_bytes());
        tcp[16..18].copy_from_slice(&rewritten.to_field().to_be_bytes());
        assert_eq!(rewritten.sum(), pseudo::ipv4(new_src, dst, 6, 24));
        // The device's result equals a from-scratch checksum of the rewritten segment.
        let device = PartialChecksum::complete(reference(&tcp));
        let mut zeroed = tcp;
        zeroed[16..18].fill(0);
        let scratch = (pseudo::ipv4(new_src, dst, 6, 24) + reference(&zeroed)).checksum();
        assert_eq!(device, scratch);
    }
}
