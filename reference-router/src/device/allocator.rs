//! How the C allocator (glibc's malloc) is told to hand the router's big
//! blocks back, set once when the loops start ([`tune`]).
//!
//! glibc serves a block of at least `M_MMAP_THRESHOLD` bytes by its own
//! `mmap` and gives it back to the kernel when freed; a smaller one comes from
//! an arena, whose freed memory stays resident. By default the threshold is
//! 128 KiB and *rises* to the size of every mmapped block freed (up to
//! 32 MiB), so after the first growth of a session slab or index the next,
//! larger ones land in the worker's arena, and each growth leaves the old
//! table resident behind it. And a packet buffer ([`crate::PacketBuf`],
//! 64 KiB and a header) taken from an arena is zeroed whole, all its pages
//! resident, though a 64-byte packet touches one.
//!
//! With the threshold fixed at 64 KiB (which also stops its rising) both go:
//! a table that grows gives the old one back, and a buffer's pages are
//! resident only where a packet was written. Measured with
//! `benches/scripts/cgn-load.sh` (1 M sessions, two workers): resident growth
//! 173 → 130 bytes per session, 29 MB of it the packet buffers of the
//! workers' hand-off pools, the rest tables left behind by growth.

/// Below this, a block comes from an arena; at or above it, from `mmap`.
/// A packet buffer (65,593 bytes) is above it.
pub(crate) const MMAP_THRESHOLD: usize = 64 * 1024;

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD`]. Another C library: nothing.
/// Returns whether the allocator took it.
pub(super) fn tune() -> bool {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: mallopt only sets malloc's tunables (under malloc's own
        // lock; any thread may call it at any time); its arguments are a
        // parameter number glibc defines and a value in its range (at most
        // HEAP_MAX_SIZE / 2 = 32 MiB on 64-bit). It touches no memory of ours.
        let done = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) };
        done == 1
    }
    #[cfg(not(target_env = "gnu"))]
    {
        false
    }
}

/// [`tune`], said in the log where the C library keeps its own thresholds:
/// grown tables and idle buffers then go back to the kernel.
pub(super) fn tune_or_say() {
    if !tune() {
        tracing::debug!("the C library keeps its own allocation thresholds");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_buffer_is_above_the_threshold() {
        // What keeps an idle buffer's untouched pages out of resident memory.
        // A buffer is a virtio-net header and a packet of up to 65,535 bytes, and more.
        assert!(crate::PacketBuf::new().io_mut().len() >= MMAP_THRESHOLD);
    }

    #[cfg(target_env = "gnu")]
    #[test]
    fn glibc_takes_the_threshold() {
        assert!(tune());
    }
}
