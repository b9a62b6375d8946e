//! Writing a routed packet to a TUN at once: whole with its virtio-net
//! header where the queue takes offload, cut into plain packets where it
//! does not; what the kernel refuses is counted as dropped.

use super::super::tun::{Devices, Queue};
use crate::iface::{Interface, Shard};
use crate::offload;
use crate::{DropReason, PacketBuf, Router};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes the packet in `buf` to `to`: with its virtio-net header on an offload
/// queue; otherwise cut into plain packets with complete checksums first if it
/// is a super-packet or its checksum partial. Packets the kernel refuses are
/// counted as dropped: a full queue drops, as a full link would.
pub(in crate::device) fn send(
    devices: &Devices,
    shard: Shard,
    to: Interface,
    buf: &mut PacketBuf,
    router: &mut Router,
) {
    let Some(q) = devices.queue(to, shard) else {
        // A subscriber a reload removed: what was queued for it goes nowhere.
        router.count_drop(DropReason::NoRoute);
        return;
    };
    // On failure: the error, and how many packets on the wire were lost.
    router.count_io_calls(1);
    let result = if let Some(segments) = one_write(q, buf, router) {
        q.dev
            .send(buf.wire(q.offload))
            .map(drop)
            .map_err(|e| (e, segments))
    } else {
        let offload = buf.offload();
        if offload.is_super() {
            router.count_super_packet(false);
        }
        let segments = offload::segment(buf.packet(), &offload).unwrap_or_default();
        let total = segments.len() as u64;
        router.count_io_calls(total.saturating_sub(1));
        segments
            .iter()
            .enumerate()
            .try_for_each(|(i, seg)| q.dev.send(seg).map(drop).map_err(|e| (e, total - i as u64)))
    };
    if let Err((e, lost)) = result {
        write_failed(router, to, e, lost);
    }
}

/// Whether the packet in `buf` leaves through `q` in one write, and as how
/// many packets on the wire: a super-packet with its virtio-net header on an
/// offload queue (counted as written whole), a plain packet anywhere. `None`:
/// it must be cut into plain packets first (a super-packet or a partial
/// checksum, to a TUN without offload).
pub(in crate::device) fn one_write(q: &Queue, buf: &PacketBuf, router: &mut Router) -> Option<u64> {
    let offload = buf.offload();
    if q.offload {
        if offload.is_super() {
            router.count_super_packet(true);
        }
        Some(offload::wire_size(buf.packet(), &offload).0)
    } else if offload.is_super() || offload.partial.is_some() {
        None
    } else {
        Some(1)
    }
}

/// A write to `to` the kernel refused, `lost` packets on the wire: counted as
/// dropped; a full queue drops, as a full link would.
pub(in crate::device) fn write_failed(router: &mut Router, to: Interface, e: io::Error, lost: u64) {
    if e.kind() == io::ErrorKind::WouldBlock {
        router.count_drops(DropReason::TunQueueFull, lost);
        return;
    }
    // Counted always; logged on the 1st, 2nd, 4th, 8th, ... failure,
    // not once per packet.
    static FAILED: AtomicU64 = AtomicU64::new(0);
    let failed = FAILED.fetch_add(1, Ordering::Relaxed) + 1;
    if failed.is_power_of_two() {
        tracing::warn!(?to, error = %e, failed, "TUN write failed");
    }
    router.count_drops(DropReason::TunWriteFailed, lost);
}
