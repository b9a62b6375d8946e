//! Uses `sixfold-checksum` from a `#![no_std]` crate with no allocator.
#![no_std]

use sixfold_checksum::{Accumulator, Sum, checksum, incremental, pseudo, udp, verify};

/// The IPv4 header checksum, the way a no_std packet path would call it.
pub fn ipv4_header_checksum(header: &[u8; 20]) -> u16 {
    checksum(header)
}

/// The UDP checksum of a datagram given as scatter-gather pieces, with 0 sent as
/// 0xFFFF.
pub fn udp_checksum(pseudo_header: Sum, pieces: &[&[u8]]) -> u16 {
    let mut acc = Accumulator::with_sum(pseudo_header);
    for piece in pieces {
        acc.update(piece);
    }
    udp::finish(acc.sum())
}

/// A TTL decrement patched into a stored checksum (RFC 1624).
pub fn ttl_decremented(hc: u16, ttl_protocol: u16) -> u16 {
    incremental::update16(hc, ttl_protocol, ttl_protocol - 0x0100)
}

/// Whether data followed by its checksum verifies.
pub fn verifies(data: &[u8]) -> bool {
    verify(data)
}

/// IANA protocol number of UDP (RFC 768).
const UDP: u8 = 17;

/// The IPv4 pseudo-header sum for UDP.
pub fn udp_pseudo(src: [u8; 4], dst: [u8; 4], length: u16) -> Sum {
    pseudo::ipv4(src.into(), dst.into(), UDP, length)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
