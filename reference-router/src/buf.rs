//! The buffer a packet travels through the router in.

/// The largest IP packet (without jumbograms).
pub(crate) const MAX_PACKET: usize = 65535;

/// A packet buffer with room to grow: the packet is `packet()`, and the router may
/// write a longer ICMP message into it.
#[derive(Clone)]
pub struct PacketBuf {
    storage: Box<[u8]>,
    len: usize,
}

impl Default for PacketBuf {
    fn default() -> PacketBuf {
        PacketBuf::new()
    }
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketBuf({} bytes)", self.len)
    }
}

impl PacketBuf {
    /// Room for any IP packet and an ICMP error built over it.
    pub const CAPACITY: usize = MAX_PACKET + crate::icmp::HEADROOM;

    /// An empty buffer.
    pub fn new() -> PacketBuf {
        PacketBuf {
            storage: vec![0; PacketBuf::CAPACITY].into_boxed_slice(),
            len: 0,
        }
    }

    /// A buffer holding `packet` (cut at 65535 bytes).
    pub fn from_packet(packet: &[u8]) -> PacketBuf {
        let mut b = PacketBuf::new();
        b.set_packet(packet);
        b
    }

    /// Replaces the contents by `packet` (cut at 65535 bytes).
    pub fn set_packet(&mut self, packet: &[u8]) {
        let n = packet.len().min(MAX_PACKET);
        self.storage[..n].copy_from_slice(&packet[..n]);
        self.len = n;
    }

    /// The packet.
    pub fn packet(&self) -> &[u8] {
        &self.storage[..self.len]
    }

    /// The packet, writable.
    pub fn packet_mut(&mut self) -> &mut [u8] {
        &mut self.storage[..self.len]
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
        &mut self.storage[..MAX_PACKET]
    }

    /// Sets the packet length after a read (capped at 65535).
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(MAX_PACKET);
    }

    /// All of the storage, headroom included, for building a message over the
    /// packet (then [`PacketBuf::set_built_len`]).
    pub(crate) fn whole_mut(&mut self) -> &mut [u8] {
        &mut self.storage
    }

    /// Sets the length of a message built with [`PacketBuf::whole_mut`].
    pub(crate) fn set_built_len(&mut self, len: usize) {
        self.len = len.min(PacketBuf::CAPACITY);
    }
}
