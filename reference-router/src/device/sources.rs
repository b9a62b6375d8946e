//! What a worker reads: its sources (the uplink's queue, the TUNs of the
//! subscribers it owns, every range's queue), and which of them poll found
//! readable. The I/O loop (`io.rs`) polls and reads them.

use super::tun::{Devices, Queue};
use crate::iface::Shard;
use nix::poll::PollFd;

/// Where a worker reads packets.
#[derive(Clone, Copy)]
pub(super) enum Source {
    /// The uplink (the worker's queue).
    Wan,
    /// A subscriber's own TUN.
    Subscriber(crate::SubscriberId),
    /// Range `r`'s TUN (the worker's queue).
    Range(usize),
}

/// Where worker `shard` reads: the uplink (its queue), the TUNs of the
/// subscribers it owns, every range's TUN (its queue).
pub(super) fn sources(devices: &Devices, shard: Shard) -> Vec<Source> {
    let mut subscribers: Vec<crate::SubscriberId> = devices
        .subscribers
        .keys()
        .copied()
        .filter(|&s| shard.owns_subscriber(s))
        .collect();
    subscribers.sort_unstable();
    std::iter::once(Source::Wan)
        .chain(subscribers.into_iter().map(Source::Subscriber))
        .chain((0..devices.ranges.len()).map(Source::Range))
        .collect()
}

/// Whether poll found `fd` readable (or closed, or failed: the read says which).
pub(super) fn readable(fd: &PollFd<'_>) -> bool {
    fd.revents().is_some_and(|r| !r.is_empty())
}

/// The queue worker `shard` reads `from` through.
pub(super) fn source_queue(devices: &Devices, from: Source, shard: Shard) -> &Queue {
    match from {
        Source::Wan => &devices.wan[usize::from(shard.index) % devices.wan.len()],
        Source::Subscriber(s) => &devices.subscribers[&s],
        Source::Range(r) => devices.range_queue(r, shard),
    }
}
