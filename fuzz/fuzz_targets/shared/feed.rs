//! Shared by the fuzz targets that drive a whole router: one packet in.

use sixfold_router::{Direction, PacketBuf, Router, Verdict};
use std::time::Instant;

/// `packet` (at most 64 KiB of it) through `router` at `now`, from the WAN
/// (`from == 0`) or subscriber `from - 1`, in `buf`.
pub(crate) fn feed(
    router: &mut Router,
    from: u8,
    packet: &[u8],
    buf: &mut PacketBuf,
    now: Instant,
) -> Verdict {
    let direction = match from {
        0 => Direction::Inbound,
        s => Direction::Outbound(u32::from(s - 1)),
    };
    feed_from(router, direction, packet, buf, now)
}

/// `packet` (at most 64 KiB of it) through `router` at `now` from `direction`.
pub(crate) fn feed_from(
    router: &mut Router,
    direction: Direction,
    packet: &[u8],
    buf: &mut PacketBuf,
    now: Instant,
) -> Verdict {
    let n = packet.len().min(65535);
    buf.storage_mut()[..n].copy_from_slice(&packet[..n]);
    buf.set_len(n);
    router.process(direction, buf, now)
}
