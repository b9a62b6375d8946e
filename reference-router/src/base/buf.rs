//! The buffer a packet travels through the router in.
//!
//! In front of the packet the buffer keeps room for a virtio-net header, so a
//! device with offload reads header and packet in one `read` and writes them in
//! one `write`, with no copy ([`PacketBuf::io_mut`], [`PacketBuf::io_packet`]).

use crate::offload::{Offload, OffloadError, VNET_HDR_LEN};

/// The largest IP packet (without jumbograms).
pub(crate) const MAX_PACKET: usize = 65535;

/// A packet buffer with room to grow: the packet is `packet()`, and the router may
/// write a longer ICMP message into it. With offload, the packet may stand for
/// many on the wire ([`PacketBuf::offload`]).
#[derive(Clone)]
pub struct PacketBuf {
    /// `[virtio-net header | packet | headroom]`.
    storage: Box<[u8]>,
    len: usize,
    offload: Offload,
}

impl Default for PacketBuf {
    fn default() -> PacketBuf {
        PacketBuf::new()
    }
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketBuf({} bytes, {:?})", self.len, self.offload)
    }
}

/// Where the packet starts in the storage.
const AT: usize = VNET_HDR_LEN;

/// Room a buffer needs beyond the packet for any error built over it.
pub(crate) const HEADROOM: usize = 48;

impl PacketBuf {
    /// Room for any IP packet and an ICMP error built over it.
    pub const CAPACITY: usize = MAX_PACKET + HEADROOM;

    /// An empty buffer.
    pub fn new() -> PacketBuf {
        PacketBuf {
            storage: vec![0; AT + PacketBuf::CAPACITY].into_boxed_slice(),
            len: 0,
            offload: Offload::default(),
        }
    }

    /// A buffer holding `packet` (cut at 65535 bytes).
    pub fn from_packet(packet: &[u8]) -> PacketBuf {
        let mut b = PacketBuf::new();
        b.set_packet(packet);
        b
    }

    /// Replaces the contents by `packet` (cut at 65535 bytes), a plain packet.
    pub fn set_packet(&mut self, packet: &[u8]) {
        let n = packet.len().min(MAX_PACKET);
        self.storage[AT..AT + n].copy_from_slice(&packet[..n]);
        self.len = n;
        self.offload = Offload::default();
    }

    /// What the virtio-net header said about the packet (plain by default).
    pub fn offload(&self) -> Offload {
        self.offload
    }

    /// Sets what the packet stands for on the wire.
    pub fn set_offload(&mut self, offload: Offload) {
        self.offload = offload;
    }

    /// The packet.
    pub fn packet(&self) -> &[u8] {
        &self.storage[AT..AT + self.len]
    }

    /// The packet, writable.
    pub fn packet_mut(&mut self) -> &mut [u8] {
        &mut self.storage[AT..AT + self.len]
    }

    /// Length of the packet.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room for the largest packet, to read one into (then [`PacketBuf::set_len`]).
    pub fn storage_mut(&mut self) -> &mut [u8] {
        &mut self.storage[AT..AT + MAX_PACKET]
    }

    /// Sets the packet length after a read (capped at 65535); the packet is plain.
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(MAX_PACKET);
        self.offload = Offload::default();
    }

    /// Room for a virtio-net header and the largest packet, to read both in one
    /// go from a device with offload (then [`PacketBuf::set_io_len`]).
    pub fn io_mut(&mut self) -> &mut [u8] {
        &mut self.storage[..AT + MAX_PACKET]
    }

    /// After a read of `n` bytes into [`PacketBuf::io_mut`]: decodes the header.
    /// A header the router cannot act on leaves an empty buffer and says why.
    pub fn set_io_len(&mut self, n: usize) -> Result<(), OffloadError> {
        let mut header = [0u8; VNET_HDR_LEN];
        header.copy_from_slice(&self.storage[..AT]);
        self.len = n.saturating_sub(AT).min(MAX_PACKET);
        match Offload::decode(&header) {
            Ok(off) => {
                self.offload = off;
                Ok(())
            }
            Err(e) => {
                self.len = 0;
                self.offload = Offload::default();
                Err(e)
            }
        }
    }

    /// The virtio-net header (for the packet as it is now) and the packet, to
    /// write in one go to a device with offload.
    pub fn io_packet(&mut self) -> &[u8] {
        let header = self.offload.encode(&self.storage[AT..AT + self.len]);
        self.storage[..AT].copy_from_slice(&header);
        &self.storage[..AT + self.len]
    }

    /// What one write to a device carries: with the virtio-net header where
    /// `header` (an offload queue, [`PacketBuf::io_packet`]), else the packet.
    pub fn wire(&mut self, header: bool) -> &[u8] {
        if header {
            self.io_packet()
        } else {
            self.packet()
        }
    }

    /// Cuts the packet to `len` bytes (link padding after the IP length), keeping
    /// its offload.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// All of the packet's storage, headroom included, for building a message
    /// over the packet (then [`PacketBuf::set_built_len`]).
    pub(crate) fn whole_mut(&mut self) -> &mut [u8] {
        &mut self.storage[AT..]
    }

    /// Sets the length of a message built with [`PacketBuf::whole_mut`]: a plain
    /// packet.
    pub(crate) fn set_built_len(&mut self, len: usize) {
        self.len = len.min(PacketBuf::CAPACITY);
        self.offload = Offload::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::Gso;

    #[test]
    fn header_and_packet_in_one_buffer() {
        let mut b = PacketBuf::new();
        let io = b.io_mut();
        io[0] = 1; // NEEDS_CSUM
        io[1] = 5; // USO
        io[4..6].copy_from_slice(&1200u16.to_ne_bytes());
        io[6..8].copy_from_slice(&20u16.to_ne_bytes());
        io[8..10].copy_from_slice(&6u16.to_ne_bytes());
        io[10] = 0x45;
        b.set_io_len(10 + 3000).unwrap();
        assert_eq!(b.len(), 3000);
        assert_eq!(b.packet()[0], 0x45);
        assert_eq!(b.offload().gso, Gso::UdpL4);
        assert_eq!(b.offload().partial, Some((20, 6)));
        // Written back with the header the packet has now (hdr_len is computed
        // from the packet: 0 here, the bytes do not parse).
        let out = b.io_packet();
        assert_eq!(out.len(), 3010);
        assert_eq!(&out[..2], &[1, 5]);
        // A header it cannot take leaves nothing to forward.
        let io = b.io_mut();
        io[1] = 3;
        assert!(b.set_io_len(100).is_err());
        assert!(b.is_empty());
    }
}
